"""Run the core in Amaranth's own simulator: the same job as the cocotb testbench (samples in,
results, per-sample cycles and all weights out), for quick checks and speed comparisons."""

from __future__ import annotations

import time

from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from ghostfpga.config import Config
from ghostfpga.hdl import GhostCore, Plan
from ghostfpga.hdl.core import HOST_READ_LATENCY

from .protocol import Protocol, RtlRun, Sample

__all__ = ["run_amaranth"]


def run_amaranth(config: Config, samples: list[Sample], etas: list[list[int]],
                 cycle_limit: int = 1_000_000, tracer=None, load=None):
    """Stream ``samples`` through the core (after writing the lane images ``load`` through
    the host port); returns an RtlRun like sim.cosim.run_rtl. ``tracer``
    (sim/characterize.py) may watch every cycle of the elaborated design."""
    core = GhostCore(config)
    fragment = Fragment.get(core, None)
    plan, proto = Plan(config), Protocol(config)
    out = {"results": [], "stamps": [], "weights": []}

    async def wait(ctx, signal, what):
        for _ in range(cycle_limit):
            if ctx.get(signal):
                return
            await ctx.tick()
        raise AssertionError(f"timed out after {cycle_limit} cycles waiting for {what}")

    async def bench(ctx):
        ctx.set(core.result.ready, 1)
        for lane, words in enumerate(load or []):
            for addr, w in enumerate(words):
                ctx.set(core.host_lane, lane)
                ctx.set(core.host_addr, addr)
                ctx.set(core.host_wdata, int(w))
                ctx.set(core.host_write, 1)
                await ctx.tick()
        ctx.set(core.host_write, 0)
        for n, (s, eta) in enumerate(zip(samples, etas)):
            ctx.set(core.eta.as_value(), proto.pack_eta(eta))
            ctx.set(core.sample.payload.as_value(), proto.pack_sample(s))
            ctx.set(core.sample.valid, 1)
            await wait(ctx, core.sample.ready, f"sample {n} to be taken")
            out["stamps"].append(ctx.get(core.cycles))
            await ctx.tick()
            ctx.set(core.sample.valid, 0)
            await wait(ctx, core.result.valid, f"the result of sample {n}")
            out["results"].append(ctx.get(core.result.payload.as_value()))
            await ctx.tick()
        for _ in range(cycle_limit):
            if not ctx.get(core.busy):
                break
            await ctx.tick()
        out["cycles"], out["samples"] = ctx.get(core.cycles), ctx.get(core.samples)
        out["stamps"].append(out["cycles"])
        for lane in range(plan.lanes):
            words = []
            for addr in range(plan.depth):
                ctx.set(core.host_lane, lane)
                ctx.set(core.host_addr, addr)
                await ctx.tick().repeat(HOST_READ_LATENCY)
                words.append(ctx.get(core.host_rdata))
            out["weights"].append(words)

    sim = Simulator(fragment)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if tracer is not None:
        tracer.attach(sim, fragment, core)
    start = time.perf_counter()
    sim.run()
    seconds = time.perf_counter() - start
    stamps = out["stamps"]
    return RtlRun(out["results"], out["cycles"], out["samples"],
                  [b - a for a, b in zip(stamps, stamps[1:])], out["weights"], seconds)
