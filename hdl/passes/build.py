"""What a pass builder returns (hdl/passes/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = ["PassBuild"]


@dataclass(frozen=True)
class PassBuild:
    """A pass's fetch walk (emitted inside its FSM state: one fetch a cycle, the FETCH-tier
    requests of the shared ports) and its write-back (built outside the FSM, under the
    pass's tag: WRITEBACK-tier requests, hdl/arbiter.py), or None when it writes nothing
    back through the post stages."""

    fetch: Callable[[], None]
    writeback: Callable[[], None] | None = None
