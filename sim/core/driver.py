"""The host side of the core's ports, written once for every simulator.

``CoreDriver`` runs a job (weights loaded through the host port, a stream of samples with the
learning rates applied before each, the weights read back) through a ``ports`` adapter with
three operations: ``set(name, value)``, ``get(name)`` (``signed`` for signed ports) and
``await tick()`` (one clock edge, after which ``get`` sees the settled values). Port names are
the core's flattened Verilog names (``sample__valid``, ``host_addr``, ...).

The adapters: ``AmaranthPorts`` (Amaranth's simulator, sim/core/amaranth_sim.py) and
``CocotbPorts`` (Verilator and Icarus, sim/core/cocotb_tb.py). Every wait is bounded by ``limit``
cycles and raises ``Timeout`` naming what it waited for.

Timing (the same on every simulator, which the characterization's trace hashes pin): a
sample's beats go in one per cycle as soon as the core is ready for them, right after the
previous sample's result; a sample's stamp is the busy-cycle count after the edge that
counts it (``samples``); a weight read sets the address and reads ``host_rdata``
``host_read_latency`` edges later (the job's: the core's ``Plan.stages``).
"""

from __future__ import annotations

from amaranth.hdl import Value
from amaranth.lib import wiring

__all__ = ["CoreDriver", "AmaranthPorts", "Timeout", "make_job"]


def make_job(config, samples, etas, load=None, cycle_limit: int = 1_000_000) -> dict:
    """The job of ``CoreDriver.run``: ``samples`` (sim.protocol.Sample, as their beats) with
    ``etas[n]`` applied before sample n, after writing the lane images ``load``."""
    from ghostfpga.hdl import Plan

    from .protocol import Protocol

    proto, plan = Protocol(config), Plan(config)
    return {"samples": [proto.pack_sample(s) for s in samples],
            "etas": [proto.pack_eta(e) for e in etas],
            "lane_words": [plan.depth] * plan.lanes, "load": load,
            "host_read_latency": plan.stages.host_read_latency,
            "cycle_limit": cycle_limit}


class Timeout(AssertionError):
    """A wait of the driver ran out of cycles."""


class CoreDriver:
    """Drives the core's ports through ``ports``; ``on_tick`` (if given) runs after every
    edge (a per-cycle check of the test that drives)."""

    def __init__(self, ports, limit: int = 1_000_000, on_tick=None):
        self.ports, self.limit, self.on_tick = ports, limit, on_tick
        self.eta = None     # the rates on the core's port (None: not set yet)
        self.counted = 0    # samples counted so far, and their stamps (busy cycles)
        self.stamps: list[int] = []

    async def tick(self):
        await self.ports.tick()
        counted = self.ports.get("samples")
        if counted != self.counted:
            self.counted = counted
            self.stamps.append(self.ports.get("cycles"))
        if self.on_tick is not None:
            self.on_tick()

    async def wait(self, name: str, what: str, value: int = 1):
        """Until port ``name`` reads ``value``, at most ``limit`` cycles."""
        for _ in range(self.limit):
            if self.ports.get(name) == value:
                return
            await self.tick()
        raise Timeout(f"timed out after {self.limit} cycles waiting for {what}")

    def idle_inputs(self):
        """Results accepted at once; no sample offered; the host port at rest."""
        set_ = self.ports.set
        for name, value in (("result__ready", 1), ("sample__valid", 0), ("host_write", 0),
                            ("host_lane", 0), ("host_addr", 0)):
            set_(name, value)

    async def load(self, images):
        """Write the lane images through the host port, one word a cycle."""
        set_ = self.ports.set
        for lane, words in enumerate(images or []):
            for addr, w in enumerate(words):
                set_("host_lane", lane)
                set_("host_addr", addr)
                set_("host_wdata", int(w))
                set_("host_write", 1)
                await self.tick()
        set_("host_write", 0)

    async def set_rates(self, eta: int):
        """Apply the learning rates ``eta`` (packed). The core reads its ``eta`` port while it
        learns, after the sample's result has left, so new rates wait until it is idle (the
        system top's executor keeps the same rule); unchanged rates are not waited for."""
        if eta != self.eta:
            await self.finish()
            self.ports.set("eta", eta)
            self.eta = eta

    async def put(self, beats: list[int], eta: int, n: int):
        """Stream sample ``n`` (its packed beats) with the learning rates ``eta`` (packed)."""
        set_ = self.ports.set
        await self.set_rates(eta)
        for beat in beats:
            set_("sample__payload", beat)
            set_("sample__valid", 1)
            await self.wait("sample__ready", f"sample {n} to be taken")
            await self.tick()
        set_("sample__valid", 0)

    async def result(self, n: int) -> int:
        """The packed result of sample ``n``."""
        await self.wait("result__valid", f"the result of sample {n}")
        word = self.ports.get("result__payload")
        await self.tick()
        return word

    async def finish(self):
        await self.wait("busy", "the core to finish", value=0)

    async def read_weights(self, lane_words: list[int], latency: int) -> list[list[int]]:
        """Every word of every lane, through the host port (each ``latency`` edges after its
        address)."""
        weights = []
        for lane, depth in enumerate(lane_words):
            words = []
            for addr in range(depth):
                self.ports.set("host_lane", lane)
                self.ports.set("host_addr", addr)
                for _ in range(latency):
                    await self.tick()
                words.append(self.ports.get("host_rdata", signed=True))
            weights.append(words)
        return weights

    async def run(self, job: dict) -> dict:
        """A job (``make_job``): ``load``, ``samples`` and ``etas`` (packed), ``lane_words`` and
        ``host_read_latency``; returns results, counters, per-sample cycles and the weights."""
        self.idle_inputs()
        await self.load(job.get("load"))
        self.counted, self.stamps = self.ports.get("samples"), [self.ports.get("cycles")]
        results = []
        for n, (beats, eta) in enumerate(zip(job["samples"], job["etas"])):
            await self.put(beats, eta, n)
            results.append(await self.result(n))
        await self.finish()
        cycles, samples = self.ports.get("cycles"), self.ports.get("samples")
        stamps = self.stamps
        weights = await self.read_weights(job["lane_words"], job["host_read_latency"])
        return {"results": results, "cycles": cycles, "samples": samples,
                "sample_cycles": [b - a for a, b in zip(stamps, stamps[1:])],
                "weights": weights}


class AmaranthPorts:
    """The core's ports in an Amaranth testbench ``ctx``."""

    def __init__(self, ctx, core):
        self.ctx = ctx
        self.values = {"__".join(map(str, path)): Value.cast(value)
                       for path, member, value in core.signature.flatten(core)
                       if isinstance(member, wiring.Member)}

    def set(self, name, value):
        self.ctx.set(self.values[name], value)

    def get(self, name, signed=False):
        return self.ctx.get(self.values[name])

    async def tick(self):
        await self.ctx.tick()
