"""The core in co-simulation: its generated Verilog under cocotb (Verilator or Icarus; testbench
``cocotb_tb``), or Amaranth's simulator, every result and every weight checked against the
fixed-point golden model. Builds: sim/cocotb_build.py.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ghostfpga.config import Config
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.hdl import Plan, to_verilog
from ghostfpga.hdl.verilog import TOP_NAME

from ..cocotb_build import DEFAULT_BUILD_ROOT, build_verilog
from ..lifetime import owner_env
from ..netlist import COLLISION
from .driver import make_job
from .protocol import Protocol, RtlRun, Sample

__all__ = ["CosimReport", "cosimulate", "run_rtl", "build"]


def build(config: Config, simulator: str, build_root: Path = DEFAULT_BUILD_ROOT) -> Path:
    """Write the core's Verilog and compile it for ``simulator`` (cached); returns the build
    folder."""
    return build_verilog(to_verilog(config), TOP_NAME, config, simulator, build_root)


def run_rtl(config: Config, simulator: str, samples: list[Sample], etas: list[list[int]],
            build_root: Path = DEFAULT_BUILD_ROOT, cycle_limit: int = 1_000_000,
            waves: bool = False, load: list[list[int]] | None = None,
            verilog: str | None = None) -> RtlRun:
    """Stream ``samples`` through the RTL (``etas[n]`` applied with sample n), after writing
    the lane images ``load`` through the host port; read back all weights. ``verilog``: the
    design to simulate instead of the config's generated core (a netlist with the core's
    ports, or an instrumented copy)."""
    from cocotb_tools.runner import get_runner

    build_dir = (build(config, simulator, build_root) if verilog is None
                 else build_verilog(verilog, TOP_NAME, config, simulator, build_root))
    run_dir = build_dir / f"run-{os.getpid()}-{time.monotonic_ns()}"
    run_dir.mkdir()
    job = make_job(config, samples, etas, load, cycle_limit)
    (run_dir / "job.json").write_text(json.dumps(job))
    out = run_dir / "out.json"
    start = time.perf_counter()
    runner = get_runner(simulator)
    xml = runner.test(test_module="ghostfpga.sim.core.cocotb_tb", hdl_toplevel=TOP_NAME,
                      hdl_toplevel_lang="verilog",
                      build_dir=build_dir, test_dir=run_dir, waves=waves,
                      extra_env={"GHOSTFPGA_JOB": str(run_dir / "job.json"),
                                 "GHOSTFPGA_OUT": str(out)} | owner_env(),
                      log_file=run_dir / "sim.log")
    seconds = time.perf_counter() - start
    log = (run_dir / "sim.log").read_text(errors="replace")
    collisions = [line.strip() for line in log.splitlines() if COLLISION in line]
    if not out.exists():
        if collisions:   # the undefined word read in a collision stopped the testbench
            raise RuntimeError(
                f"{simulator}: the design read a block-RAM row in the cycle it was written "
                f"({len(collisions)} times; first: {collisions[0].split(COLLISION)[-1].strip()})"
                "; the word read is undefined on the device, and it stopped the simulation "
                f"(results in {xml})")
        raise RuntimeError(f"{simulator} run failed (results in {xml}); log tail:\n"
                           f"{log[-3000:]}")
    data = json.loads(out.read_text())
    if not waves:
        shutil.rmtree(run_dir, ignore_errors=True)
    return RtlRun(data["results"], data["cycles"], data["samples"], data["sample_cycles"],
                  data["weights"], seconds, collisions)


@dataclass
class CosimReport:
    simulator: str
    samples: int
    mismatches: int
    first_mismatch: str | None
    cycles: int
    seconds: float
    labels: list[int] = field(default_factory=list)
    sample_cycles: list[int] = field(default_factory=list)

    @property
    def cycles_per_sample(self) -> float:
        return self.cycles / max(self.samples, 1)

    def mean_cycles(self, samples: list[Sample], train: bool) -> float:
        picked = [c for s, c in zip(samples, self.sample_cycles) if s.train == train]
        return float(np.mean(picked)) if picked else float("nan")


def cosimulate(config: Config, simulator: str, samples: list[Sample], etas: list[list[int]],
               model: FixedModel | None = None, load: bool = False,
               **kwargs) -> CosimReport:
    """Run ``samples`` on the RTL and on the golden model; count every differing result and
    weight. ``model`` (default: a fresh FixedModel) is advanced in place; with ``load`` the
    RTL starts from its weights (written through the host port), not the config's."""
    model = model if model is not None else FixedModel(config)
    proto, plan = Protocol(config), Plan(config)
    images = plan.lane_images(model.params) if load else None
    if simulator == "amaranth":
        from .amaranth_sim import run_amaranth
        rtl = run_amaranth(config, samples, etas, load=images)
    else:
        rtl = run_rtl(config, simulator, samples, etas, load=images, **kwargs)
    mismatches, first = 0, None
    labels = []
    for n, (s, e, word) in enumerate(zip(samples, etas, rtl.results)):
        expected = model.step(s.x, s.label, s.train, e)   # the golden step
        got = proto.unpack_result(word)
        labels.append(got[0])
        if got != expected:
            mismatches += 1
            first = first or (f"sample {n}: RTL class {got[0]} outputs {got[1]}, golden class "
                              f"{expected[0]} outputs {expected[1]}")
    for line in rtl.collisions:   # the strict block-RAM model of a netlist (sim/netlist.py)
        mismatches += 1
        first = first or f"block RAM read in the cycle it is written: {line}"
    if len(rtl.results) != len(samples):
        mismatches += 1
        first = first or f"RTL returned {len(rtl.results)} results for {len(samples)} samples"
    images = plan.lane_images(model.params)
    for (name, k), slot in plan.slots.items():
        for j in range(slot.rows):
            for i in range(slot.cols):
                lane, word = plan.locate(name, k, j, i)
                got, want = rtl.weights[lane][word], images[lane][word]
                if got != want:
                    mismatches += 1
                    first = first or (f"weight {name}{k + 1}[{j}, {i}] (lane {lane}, word {word})"
                                      f": RTL {got}, golden {want}")
    return CosimReport(simulator, len(samples), mismatches, first, rtl.cycles, rtl.seconds,
                       labels, rtl.sample_cycles)
