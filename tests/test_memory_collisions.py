"""The core never uses a block-RAM word in the cycle it writes it, and no two passes ask for
one shared port in one cycle.

The memories are declared collision-free to Yosys (hdl/memory.py): on the iCE40 a read of the
row being written returns undefined data, and simulators return the old word, so a collision
would pass co-simulation and fail on the board. This test runs whole training samples in
Amaranth's simulator and checks, every cycle, every state memory (whose reads are enabled only
where the core uses them) and every bank of every lane's weight memory, there on the iCE40 at
two words a physical row (Yosys's 512 x 8 mode: hdl/memory.py), on the ECP5 by the word.
It also checks that no lane writes a weight of its own while ``busy`` is low, when the host's
writes own the port (on the cores with the fetch register, hdl/stages.py, ``busy`` holds a
cycle after the sequencer's for the pipeline's last write: without it the 16-lane configs
fail here), and that ``busy`` is high whenever the sequencer works (there it comes from
registers that follow the sequencer's state). And the converse: the host's writes offered
while ``busy`` is high change nothing.
"""

import pytest
from amaranth.sim import Simulator

from ghostfpga.config import Config, Hardware
from ghostfpga.devices import DEVICES
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.hdl import GhostCore
from ghostfpga.hdl.lane import LaneOp
from ghostfpga.sim.core.driver import AmaranthPorts, CoreDriver
from ghostfpga.sim.core.protocol import Protocol, Sample

CONFIGS = {
    "default": Config(),
    "rows": Config(hardware=Hardware(split_rows=False)),
    # the rates port on the iCE40: a copy of a, written with it, read by the learning passes
    "rates-port-rows-P6": Config(hardware=Hardware(lanes=6, split_rows=False, rates_port=True)),
    "replay-random-3hidden-P2": Config(layers=(4, 6, 5, 4, 3), variant="replay",
                                       feedback="random", hardware=Hardware(lanes=2)),
    "learned-3hidden-P3": Config(layers=(4, 8, 7, 6, 3), variant="learned",
                                 hardware=Hardware(lanes=3)),
    # V split over 8 lanes (12 words a lane: walked again 2 cycles after it learned), both
    # NORM passes at once after their tapping passes, while those still write
    "learned-P8": Config(variant="learned"),
    "learned-dynamics-P2": Config(layers=(4, 10, 3), variant="learned", schedule="dynamics",
                                  steps=3, alpha=1.0, hardware=Hardware(lanes=2)),
    "replay-dynamics-P2": Config(layers=(4, 10, 3), variant="replay", schedule="dynamics",
                                 steps=3, alpha=1.0, hardware=Hardware(lanes=2)),
    "tied-dynamics-P1": Config(layers=(4, 5, 3), schedule="dynamics", steps=2,
                               hardware=Hardware(lanes=1)),
    # the ECP5's lanes register their weight reads, addressed a cycle earlier
    "default-ecp5": Config(hardware=Hardware(device="ecp5-85f")),
    "rates-port-ecp5": Config(hardware=Hardware(device="ecp5-85f", rates_port=True)),
    "replay-ecp5-P3": Config(layers=(4, 10, 3), variant="replay",
                             hardware=Hardware(lanes=3, device="ecp5-85f")),
    # 16 lanes on the ECP5: the adder tree's pipeline register moves the transposed passes'
    # write-backs (and a split row's drive) one stage on (hdl/stages.py Stages)
    "rows-ecp5-P16": Config(hardware=Hardware(lanes=16, split_rows=False, device="ecp5-85f")),
    "replay-dynamics-ecp5-P16": Config(layers=(4, 20, 3), variant="replay",
                                       schedule="dynamics", steps=3, alpha=1.0,
                                       hardware=Hardware(lanes=16, split_rows=False,
                                                         device="ecp5-85f")),
    # 803 words a lane: two banks on the iCE40 (512 + 291), each at most two words a row
    "deep-banked-P1": Config(layers=(4, 100, 3), hardware=Hardware(lanes=1)),
}

WEIGHT_ROW_WORDS = {"ice40": 2, "ecp5": 1}
"""Consecutive weight words that may share a physical row (hdl/memory.py): on the ECP5 a
block RAM collides by the word, not by the row."""


def _run(config):
    """The initial weights written through the host port, three training samples and an
    inference: (collisions, port conflicts, cycles, the busy-cycle count after each sample
    was counted)."""
    core, proto, model, data = GhostCore(config), Protocol(config), FixedModel(config), yinyang()
    collisions, conflicts, cycles, stamps = [], [], [0], [0]
    eta = proto.pack_eta(model.etas(config.lr_at(0)))

    async def bench(ctx):
        row_words = WEIGHT_ROW_WORDS[DEVICES[config.hardware.device].family]
        ports = [(f"lane{p}.{bank}", port, row_words)
                 for p, lane in enumerate(core.lanes) for bank, port in lane.ports.items()]
        ports += [(f"state{p}.{name}", port, 1) for p, bank in enumerate(core.banks)
                  for name, port in bank.ports.items()]

        issued = []   # each cycle: every lane's operation at issue (hdl/lane.py)

        def check():
            cycles[0] += 1
            issued.append([ctx.get(lane.op) for lane in core.lanes])
            if len(issued) > 2:   # the weight read port: a MAC reads at issue, a LEARN two
                # cycles after its issue (both a cycle earlier on the ECP5)
                for p, (now, before) in enumerate(zip(issued[-1], issued[-3])):
                    if now == LaneOp.MAC and before == LaneOp.LEARN:
                        conflicts.append((f"lane{p} weight read", cycles[0]))
                del issued[0]
            for label, (_, rd, wr), row in ports:
                if (ctx.get(wr.en) and ctx.get(rd.en)
                        and ctx.get(rd.addr) // row == ctx.get(wr.addr) // row):
                    collisions.append((label, cycles[0], ctx.get(rd.addr), ctx.get(wr.addr)))
            if ctx.get(core.sequencer_busy) and not ctx.get(core.busy):
                conflicts.append(("busy low while the sequencer works", cycles[0]))
            if not ctx.get(core.busy):   # the host's port: no lane writes a weight of its own
                for p, lane in enumerate(core.lanes):
                    if any(ctx.get(wr.en) for _, _, wr in lane.ports.values()) \
                            and not ctx.get(lane.host_write):
                        conflicts.append((f"lane{p} learning write while idle", cycles[0]))
            for arbiter in core.arbiters:   # two passes on one shared port in one cycle
                if ctx.get(arbiter.conflict):
                    conflicts.append((arbiter.name, cycles[0]))

        driver = CoreDriver(AmaranthPorts(ctx, core), limit=20_000, on_tick=check)
        driver.idle_inputs()
        await driver.load(core.plan.lane_images(model.params))   # host writes (and reads)
        for i in range(4):   # three training samples and an inference, each streamed as
            # soon as the result before it is out (its beats written while the previous
            # sample learns; chained), the second after the core went idle
            sample = Sample(model.quantize_input(data.x_train[i]), int(data.y_train[i]), i < 3)
            await driver.put(proto.pack_sample(sample), eta, i)
            await driver.result(i)
            if i == 0:
                await driver.finish()
        await driver.finish()
        stamps.extend(driver.stamps)

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return collisions, conflicts, cycles[0], stamps


@pytest.mark.parametrize("name", list(CONFIGS))
def test_no_word_is_read_while_written(name):
    collisions, conflicts, cycles, stamps = _run(CONFIGS[name])
    # sample 1 found sample 2 in and skipped its last drain; sample 0 did not
    assert len(stamps) == 5 and stamps[2] - stamps[1] < stamps[1] - stamps[0]
    assert cycles > 100
    assert not collisions, f"{len(collisions)} collisions, first: {collisions[:3]}"
    assert not conflicts, f"{len(conflicts)} port conflicts, first: {conflicts[:3]}"


def test_the_checks_see_passes_started_too_early(monkeypatch):
    """With every drain cut to 0 (hdl/schedule.py bypassed) passes meet on the ports."""
    from ghostfpga.hdl.program import Program
    monkeypatch.setattr(Program, "drain", lambda self, n, train=True: 0)
    collisions, conflicts, _, _ = _run(CONFIGS["rows"])
    assert conflicts and collisions


def _train_with_host_writes_while_busy(config, rogue: bool):
    """The initial weights loaded, two training samples (the second chained to the first)
    and an inference; ``rogue``: the host port writes a word (a lane, an address and a
    value that change every cycle) in every cycle that ``busy`` is high, and none while it
    is low. (results, every lane's weights read back at the end, the writes offered)."""
    core, proto, model, data = GhostCore(config), Protocol(config), FixedModel(config), yinyang()
    eta = proto.pack_eta(model.etas(config.lr_at(0)))
    plan, out = core.plan, {}

    async def bench(ctx):
        ports = AmaranthPorts(ctx, core)
        cycle, offered = [0], [0]

        def write_while_busy():
            cycle[0] += 1
            busy = rogue and ports.get("busy")
            ports.set("host_write", busy)
            if busy:
                offered[0] += 1
                ports.set("host_lane", cycle[0] % plan.lanes)
                ports.set("host_addr", (cycle[0] * 7) % plan.depth)
                ports.set("host_wdata", 0x5A5A ^ cycle[0])

        driver = CoreDriver(ports, limit=20_000)
        driver.idle_inputs()
        await driver.load(plan.lane_images(model.params))
        driver.on_tick = write_while_busy
        results = []
        for i in range(3):
            sample = Sample(model.quantize_input(data.x_train[i]), int(data.y_train[i]), i < 2)
            await driver.put(proto.pack_sample(sample), eta, i)
            results.append(await driver.result(i))
        await driver.finish()
        driver.on_tick = None
        ports.set("host_write", 0)
        out["results"] = results
        out["weights"] = await driver.read_weights([plan.depth] * plan.lanes,
                                                   plan.stages.host_read_latency)
        out["offered"] = offered[0]

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("name", ["default", "rows-ecp5-P16"])
def test_the_host_writes_nothing_while_the_core_is_busy(name):
    """``busy`` gates the host's write strobe: writes offered while the core works change no
    weight and no result (on the 16-lane ECP5 core each lane gates its own registered strobe
    with a copy of ``busy``, hdl/hostport.py). A strobe left ungated fails this."""
    quiet = _train_with_host_writes_while_busy(CONFIGS[name], rogue=False)
    noisy = _train_with_host_writes_while_busy(CONFIGS[name], rogue=True)
    assert noisy["offered"] > 100
    assert noisy["results"] == quiet["results"]
    assert noisy["weights"] == quiet["weights"]


def _system_memories(top):
    """(label, read port, write port) of every memory of the system top: the link's slot
    RAMs, the counter bank, the on-board set, the core's weight and state memories."""
    found = [(f"{name}.{mem}", rd, wr) for name, part in top.parts.items()
             for mem, (_, rd, wr) in part.ports.items()]
    found += [(f"core.lane{p}.weights", rd, wr) for p, lane in enumerate(top.core.lanes)
              for _, rd, wr in lane.ports.values()]
    found += [(f"core.state{p}.{name}", rd, wr) for p, bank in enumerate(top.core.banks)
              for name, (_, rd, wr) in bank.ports.items()]
    return found


def test_no_memory_of_the_system_top_reads_a_word_while_writing_it():
    """Every command through the UART (the on-board set stored and trained, samples streamed
    and inferred, weights written and read, counters, a reset), every memory checked every
    cycle."""
    import numpy as np

    from ghostfpga.boards.protocol import REQUESTS, Command, LinkLayout, encode_frame
    from ghostfpga.config import Link
    from ghostfpga.sim.system.amaranth_sim import exchange_bytes

    config = Config(layers=(4, 6, 3), hardware=Hardware(lanes=3),
                    link=Link(store_samples=8))
    layout, rng = LinkLayout(config), np.random.default_rng(5)

    def frame(command, seq, **fields):
        return encode_frame(command, seq, REQUESTS[command].pack(layout, **fields))

    def samples(n):
        return dict(count=n, samples=[(rng.integers(0, 257, 4), int(rng.integers(0, 3)))
                                      for _ in range(n)])
    frames = [frame(Command.IDENTIFY, 0),
              frame(Command.STORE, 1, index=0, **samples(6)),
              frame(Command.EPOCH, 2, n=6, start=1, step=5, eta=(300, 200)),
              frame(Command.TRAIN, 3, **samples(3)),
              frame(Command.INFER, 4, **samples(2)),
              frame(Command.WRITE, 5, lane=1, word=2, values=(-5, -5, 7, 100)),
              frame(Command.READ, 6, lane=1, word=0, count=8),
              frame(Command.COUNTERS, 7),
              frame(Command.RESET, 8),
              frame(Command.TRAIN, 9, **samples(2))]
    collisions, seen = [], set()
    memories = []

    def check(ctx, top):
        if not memories:
            memories.extend(_system_memories(top))
        for label, rd, wr in memories:
            if ctx.get(wr.en):
                seen.add(label)
                if ctx.get(rd.en) and ctx.get(rd.addr) == ctx.get(wr.addr):
                    collisions.append(label)

    replies = exchange_bytes(config, frames, on_tick=check)
    assert all(replies), "every frame was answered"
    labels = {label for label, _, _ in memories}
    assert {"framer.mem", "sender.mem", "counters.mem", "store.words"} <= labels
    assert {"framer.mem", "sender.mem", "counters.mem", "store.words",
            "core.lane0.weights", "core.state0.a"} <= seen   # each was written
    assert not collisions, f"{len(collisions)} collisions, in {sorted(set(collisions))}"
