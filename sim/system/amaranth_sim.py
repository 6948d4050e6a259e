"""The system top in Amaranth's simulator at the pin level: bytes in on ``rx``, bytes out of
``tx``. Small and slow (a few thousand cycles a second): for block tests of the link's
behaviour against the fake device; the co-simulation with the real driver runs in Verilator
(sim/system/cocotb_sim.py)."""

from __future__ import annotations

from amaranth.sim import Simulator

from ghostfpga.boards.gateware.system import SystemTop
from ghostfpga.config import Config

__all__ = ["exchange_bytes", "STATUS"]


STATUS = ("busy", "learning", "link_error")   # the system top's LED outputs


def exchange_bytes(config: Config, chunks: list[bytes], divisor: int = 4,
                   idle_bits: int = 400, cycle_limit: int = 2_000_000,
                   seen: list | None = None, on_tick=None) -> list[bytes]:
    """Send each chunk on ``rx`` (8N1), then listen until ``tx`` stays idle and the core not
    busy for ``idle_bits`` bit times; returns the bytes received after each chunk. With ``seen``, a
    list, appends per chunk the set of status outputs (``STATUS``) that were ever high.
    ``on_tick(ctx, top)``, if given, runs before every clock edge (a per-cycle check)."""
    top = SystemTop(config, divisor=divisor)
    D = divisor
    replies: list[bytes] = []

    async def bench(ctx):
        cycles = 0

        async def tick():
            nonlocal cycles
            cycles += 1
            if seen is not None:
                high.update(name for name in STATUS if ctx.get(getattr(top, name)))
            if cycles > cycle_limit:
                raise AssertionError(f"system simulation exceeded {cycle_limit} cycles")
            if on_tick is not None:
                on_tick(ctx, top)
            await ctx.tick()

        for chunk in chunks:
            got = bytearray()
            high: set[str] = set()
            state = {"bit": None, "timer": 0, "shift": 0, "n": 0}

            def sample_tx():
                # a receiver of the tx line, sampling each bit at its middle
                v = ctx.get(top.tx)
                s = state
                if s["bit"] is None:
                    if v == 0:
                        s["bit"], s["timer"], s["shift"] = 0, D + D // 2, 0
                    return
                s["timer"] -= 1
                if s["timer"] == 0:
                    if s["bit"] < 8:
                        s["shift"] |= v << s["bit"]
                        s["bit"] += 1
                        s["timer"] = D
                    else:
                        got.append(s["shift"])
                        s["bit"] = None

            for b in chunk:
                for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
                    ctx.set(top.rx, bit)
                    for _ in range(D):
                        sample_tx()
                        await tick()
            quiet = 0
            while quiet < idle_bits * D:
                sample_tx()
                active = state["bit"] is not None or ctx.get(top.tx) == 0 or ctx.get(top.busy)
                quiet = 0 if active else quiet + 1
                await tick()
            replies.append(bytes(got))
            if seen is not None:
                seen.append(high)

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return replies
