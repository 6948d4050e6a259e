"""Run the core in Amaranth's own simulator: the same job through the same driver as the cocotb
testbench (sim/core/driver.py: samples in, results, per-sample cycles and all weights out), for
quick checks, the characterization and speed comparisons."""

from __future__ import annotations

import time

from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from ghostfpga.config import Config
from ghostfpga.hdl import GhostCore

from .driver import AmaranthPorts, CoreDriver, make_job
from .protocol import RtlRun, Sample

__all__ = ["run_amaranth"]


def run_amaranth(config: Config, samples: list[Sample], etas: list[list[int]],
                 cycle_limit: int = 1_000_000, tracer=None, load=None):
    """Stream ``samples`` through the core (after writing the lane images ``load`` through
    the host port); returns an RtlRun like sim.core.cocotb_sim.run_rtl. ``tracer``
    (sim/characterize.py) may watch every cycle of the elaborated design."""
    core = GhostCore(config)
    fragment = Fragment.get(core, None)
    job = make_job(config, samples, etas, load)
    out = {}

    async def bench(ctx):
        out.update(await CoreDriver(AmaranthPorts(ctx, core), cycle_limit).run(job))

    sim = Simulator(fragment)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if tracer is not None:
        tracer.attach(sim, fragment, core)
    start = time.perf_counter()
    sim.run()
    seconds = time.perf_counter() - start
    return RtlRun(out["results"], out["cycles"], out["samples"], out["sample_cycles"],
                  out["weights"], seconds)
