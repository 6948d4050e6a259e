"""The streamed sample port (hdl/intake.py): a sample's beats go into the spare input buffer
while the current sample reads the other, beats that arrive while a forward pass writes the
a memories wait for the bus, and every result stays the golden model's."""

import pytest
from amaranth.sim import Simulator

from ghostfpga.config import Config, Hardware
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.hdl import GhostCore
from ghostfpga.sim.core.driver import AmaranthPorts, CoreDriver
from ghostfpga.sim.core.protocol import Protocol, Sample

CONFIGS = {   # 5 inputs: two beats of 3 (the last one partial), three beats of 2
    "rows-P3": Config(layers=(5, 7, 3), hardware=Hardware(lanes=3, split_rows=False)),
    "split-P2": Config(layers=(5, 6, 3), hardware=Hardware(lanes=2)),
}


def _eager(config, n=5):
    """Stream each sample as soon as the core takes beats, before the previous result is
    out: (RTL results, golden results, cycles a beat waited, collisions, port conflicts)."""
    core, proto, model, data = GhostCore(config), Protocol(config), FixedModel(config), yinyang()
    x = data.x_train[:, :2]
    samples = [Sample(model.quantize_input([*x[i], *x[i + 1], 0.5]), int(data.y_train[i]), True)
               for i in range(n)]
    etas = model.etas(config.lr_at(0))
    eta = proto.pack_eta(etas)
    results, waited, collisions, conflicts = [], [0], [], []

    async def bench(ctx):
        ports = [(f"state{p}.{name}", port) for p, bank in enumerate(core.banks)
                 for name, port in bank.ports.items()]

        def check():
            if ctx.get(core.sample.valid) and not ctx.get(core.sample.ready):
                waited[0] += 1
            for label, (_, rd, wr) in ports:
                if ctx.get(wr.en) and ctx.get(rd.en) and ctx.get(rd.addr) == ctx.get(wr.addr):
                    collisions.append(label)
            conflicts.extend(a.name for a in core.arbiters if ctx.get(a.conflict))

        driver = CoreDriver(AmaranthPorts(ctx, core), limit=20_000, on_tick=check)
        driver.idle_inputs()
        await driver.put(proto.pack_sample(samples[0]), eta, 0)
        for i in range(1, n):   # sample i's beats while sample i - 1 computes its drives
            await driver.put(proto.pack_sample(samples[i]), eta, i)
            results.append(proto.unpack_result(await driver.result(i - 1)))
        results.append(proto.unpack_result(await driver.result(n - 1)))
        await driver.finish()

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    golden = [model.step(s.x, s.label, s.train, etas) for s in samples]
    return results, golden, waited[0], collisions, conflicts


@pytest.mark.parametrize("name", list(CONFIGS))
def test_beats_streamed_during_the_forward_passes_wait_and_stay_exact(name):
    results, golden, waited, collisions, conflicts = _eager(CONFIGS[name])
    assert [(label, list(out)) for label, out in golden] == results
    assert waited > 0           # some beat met a forward pass's write-back and waited
    assert not collisions and not conflicts


def test_the_beats_are_the_lanes_words():
    config = CONFIGS["rows-P3"]
    proto = Protocol(config)
    beats = proto.pack_sample(Sample([1, 2, 3, 4, 5], 2, True))
    layout = proto.sample
    bits = layout["x"].shape.elem_shape.width
    assert len(beats) == 2 and layout["x"].shape.length == 3
    lanes = [[(b >> (layout["x"].offset + p * bits)) & ((1 << bits) - 1) for p in range(3)]
             for b in beats]
    assert lanes == [[1, 2, 3], [4, 5, 0]]
    assert all((b >> layout["label"].offset) & 3 == 2 for b in beats)
    with pytest.raises(ValueError, match="input 4"):
        proto.pack_sample(Sample([1, 2, 3, 4, 1 << bits], 0, True))
