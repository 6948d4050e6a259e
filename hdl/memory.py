"""How the core builds its memories: ``amaranth.lib.memory`` with one synchronous read port
and one write port, which Yosys maps to block RAM.

The core never uses a word it reads in the cycle that word is written: passes read one region
and write another, learning writes a weight two cycles after reading the next, and the state
memories enable only the reads the core uses (hdl/state.py). So read-during-write collisions
are declared don't-care (``no_rw_check``); without it Yosys wraps every block RAM in bypass
logic emulating the simulators' old-data semantics: about 37 flip-flops and 20 LUTs per
memory. A collision would pass co-simulation (simulators return the old word) and fail on the
board, so ``tests/test_memory_collisions.py`` checks every memory on whole training runs.

On the iCE40 a "row" is physical: an SB_RAM40_4K has 256 rows of 16 bits, and in its narrow
modes (512 x 8, 1024 x 4, 2048 x 2) Yosys puts a memory's low address bits on the sub-word
select, so 2, 4 or 8 consecutive words share one row. The learning pass reads the weight two
words ahead of the one it writes, in the same row half of the time or more, and the silicon's
read of a row being written is undefined (the gate-level model is strict: sim/netlist.py).
So a lane's weight memory is never narrower than 9 bits there (``weight_ram_bits``): Yosys
maps it 256 x 16, one word a row. It costs block RAMs only for weights of 8 bits or fewer.
"""

from __future__ import annotations

from amaranth.hdl import ShapeLike
from amaranth.lib.memory import Memory

__all__ = ["block_ram", "weight_ram_bits", "ICE40_MIN_RAM_BITS"]


def block_ram(shape: ShapeLike, depth: int, init=()) -> Memory:
    """A memory of ``depth`` words (at least 2) with read-during-write collisions don't-care."""
    return Memory(shape=shape, depth=max(depth, 2), init=list(init),
                  attrs={"no_rw_check": 1})


ICE40_MIN_RAM_BITS = 9
"""The narrowest word of a lane's weight memory on the iCE40: wider than 8, so that Yosys maps
it 256 x 16, one word per physical row (see above)."""


def weight_ram_bits(family: str, weight_bits: int) -> int:
    """The word width of a lane's weight memory on a device ``family``: the weight's, but at
    least ``ICE40_MIN_RAM_BITS`` on the iCE40 (weights held sign-extended)."""
    return max(weight_bits, ICE40_MIN_RAM_BITS) if family == "ice40" else weight_bits
