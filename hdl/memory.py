"""How the core builds its memories: ``amaranth.lib.memory`` with one synchronous read port
and one write port, which Yosys maps to block RAM.

The core never reads a word in the cycle it writes it (a pass reads one region and writes
another; learning writes a weight two cycles after reading the next), so read-during-write
collisions are declared don't-care (``no_rw_check``). Without it Yosys wraps every block RAM
in bypass logic emulating the simulation's old-data semantics: about 37 flip-flops and 20 LUTs
per memory. ``tests/test_hdl_blocks.py`` checks the no-collision rule on whole training runs.
"""

from __future__ import annotations

from amaranth.hdl import ShapeLike
from amaranth.lib.memory import Memory

__all__ = ["block_ram"]


def block_ram(shape: ShapeLike, depth: int, init=()) -> Memory:
    """A memory of ``depth`` words (at least 2) with read-during-write collisions don't-care."""
    return Memory(shape=shape, depth=max(depth, 2), init=list(init),
                  attrs={"no_rw_check": 1})
