"""How the core builds its memories: ``amaranth.lib.memory`` with a synchronous read port
(the ``a`` state memory on some ECP5 cores two: hdl/state.py ``RATES``) and one write port,
which Yosys maps to block RAM (or LUT RAM).

The core never uses a word it reads in the cycle that word is written: passes read one region
and write another, learning writes a weight two cycles after reading the next, and the state
memories enable only the reads the core uses (hdl/state.py). So read-during-write collisions
are declared don't-care (``no_rw_check``); without it Yosys wraps every block RAM in bypass
logic emulating the simulators' old-data semantics: about 37 flip-flops and 20 LUTs per
memory. A collision would pass co-simulation (simulators return the old word) and fail on the
board, so ``tests/test_memory_collisions.py`` checks every memory on whole training runs.

On the iCE40 a "row" is physical: an SB_RAM40_4K has 256 rows of 16 bits, and in its narrow
modes (512 x 8, 1024 x 4, 2048 x 2) Yosys puts a memory's low address bits on the sub-word
select, so 2, 4 or 8 consecutive words share one row, and the silicon's read of a row being
written is undefined (the gate-level model is strict: sim/netlist.py). Yosys picks the mode
that needs the fewest block RAMs and, among equals, no read multiplexer: a lane of 257 to 512
words of 9 to 16 bits becomes two 512 x 8 halves (two words a row), one of 769 to 1024 words
four 1024 x 4 quarters (four words a row). Two rules keep every read off the row being
written:

- the learning walk never reads within one word of the word it writes (it reads two words
  ahead, and a LEARN after an ETA slot reads early: hdl/lane.py), so two words a row are safe
  (on the ECP5, whose block RAM collides by the word, not the row, the lanes read a cycle
  earlier, ``weight_read_registered``: a row's first LEARN after a held variant's ETA and
  wait then reads the word after the one being written, never that word);
- on the iCE40 a lane's weights are held in banks of at most 512 words
  (``weight_ram_banks``) of at least 9 bits (``weight_ram_bits``), which Yosys maps 256 x 16
  or 512 x 8: never more than two words a row. A deeper lane pays a read multiplexer (about
  one logic cell a bit per extra bank), where Yosys would have mapped it four words a row.

``tests/test_memory_collisions.py`` checks the first rule at two words a row on whole
training runs, ``tests/test_gatelevel.py`` the mapping.
"""

from __future__ import annotations

from amaranth.hdl import ShapeLike
from amaranth.lib.memory import Memory

__all__ = ["block_ram", "bank_depths", "weight_ram_bits", "weight_ram_banks",
           "weight_read_registered", "ICE40_MIN_RAM_BITS", "ICE40_BANK_WORDS"]


def block_ram(shape: ShapeLike, depth: int, init=()) -> Memory:
    """A memory of ``depth`` words (at least 2) with read-during-write collisions don't-care."""
    return Memory(shape=shape, depth=max(depth, 2), init=list(init),
                  attrs={"no_rw_check": 1})


ICE40_MIN_RAM_BITS = 9
"""The narrowest word of a lane's weight memory on the iCE40: wider than 8, so that Yosys maps
a bank of it 256 x 16 or 512 x 8, at most two words a physical row (see above)."""

ICE40_BANK_WORDS = 512
"""The deepest bank of a lane's weight memory on the iCE40 (see above)."""


def weight_ram_bits(family: str, weight_bits: int) -> int:
    """The word width of a lane's weight memory on a device ``family``: the weight's, but at
    least ``ICE40_MIN_RAM_BITS`` on the iCE40 (weights held sign-extended)."""
    return max(weight_bits, ICE40_MIN_RAM_BITS) if family == "ice40" else weight_bits


def bank_depths(depth: int, bank_words: int) -> list[int]:
    """The depths of the memories that hold ``depth`` words in banks of ``bank_words`` (the
    last the rest)."""
    return [min(bank_words, depth - base) for base in range(0, max(depth, 1), bank_words)]


def weight_ram_banks(family: str, depth: int) -> list[int]:
    """The depths of the memories that hold a lane's ``depth`` weight words on a device
    ``family``: one memory, or on the iCE40 banks of ``ICE40_BANK_WORDS``."""
    return bank_depths(depth, ICE40_BANK_WORDS if family == "ice40" else max(depth, 1))


def weight_read_registered(family: str) -> bool:
    """Whether a lane registers its weight memory's read data on a device ``family`` (and the
    core addresses it a cycle earlier, so every word arrives when it did unregistered): on
    the ECP5, where the DP16KD's clock-to-out (5.8 ns; Yosys does not use its output register)
    straight into the MULT18X18D limits the clock (docs/hardware.md). The iCE40's SB_RAM40_4K
    into the SB_MAC16 is not its critical path, and a register there costs 16 cells a lane."""
    return family == "ecp5"
