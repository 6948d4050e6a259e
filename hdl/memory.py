"""How the core builds its memories: ``amaranth.lib.memory`` with one synchronous read port
and one write port, which Yosys maps to block RAM.

The core never uses a word it reads in the cycle that word is written: passes read one region
and write another, learning writes a weight two cycles after reading the next, and the state
memories enable only the reads the core uses (hdl/state.py). So read-during-write collisions
are declared don't-care (``no_rw_check``); without it Yosys wraps every block RAM in bypass
logic emulating the simulators' old-data semantics: about 37 flip-flops and 20 LUTs per
memory. A collision would pass co-simulation (simulators return the old word) and fail on the
board, so ``tests/test_memory_collisions.py`` checks every memory on whole training runs.
"""

from __future__ import annotations

from amaranth.hdl import ShapeLike
from amaranth.lib.memory import Memory

__all__ = ["block_ram"]


def block_ram(shape: ShapeLike, depth: int, init=()) -> Memory:
    """A memory of ``depth`` words (at least 2) with read-during-write collisions don't-care."""
    return Memory(shape=shape, depth=max(depth, 2), init=list(init),
                  attrs={"no_rw_check": 1})
