"""Formal proofs of the core's arithmetic (hdl/arith.py), for all inputs: saturating narrowing
never wraps, round-half-up and stochastic rounding are what docs/numerics.md specifies, and the
hard sigmoid clamps. Each proof has a mutant that must fail (sim/formal.py)."""

import pytest
from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Elaboratable, Module, Mux, Signal, signed, unsigned

from ghostfpga.hdl.arith import clamp, rho, round_shift, saturate, stochastic_shift
from ghostfpga.sim.formal import prove


class _Property(Elaboratable):
    """``check(m, *inputs)`` adds assertions about the free ``inputs`` (AnyConst of
    ``shapes``)."""

    def __init__(self, check, *shapes):
        self.check, self.shapes = check, shapes

    def elaborate(self, platform):
        m = Module()
        self.check(m, *[AnyConst(shape) for shape in self.shapes])
        return m


def _saturates(width_in, bits, wrap=False):
    def check(m, x):
        y = Signal(signed(bits))
        m.d.comb += y.eq(x[:bits].as_signed() if wrap else saturate(m, x, bits))
        hi, lo = (1 << (bits - 1)) - 1, -(1 << (bits - 1))
        m.d.comb += Assert(y == Mux(x > hi, hi, Mux(x < lo, lo, x)))
    return check


@pytest.mark.parametrize("shape, bits", [(signed(12), 8), (signed(33), 16), (unsigned(10), 8),
                                         (signed(8), 8), (signed(17), 16)])
def test_saturate_never_wraps(shape, bits):
    assert prove(_Property(_saturates(shape.width, bits), shape))


def test_a_wrapping_narrowing_is_caught():
    assert not prove(_Property(_saturates(12, 8, wrap=True), signed(12)))


def _rounds_half_up(shift, floor=False):
    def check(m, x):
        y = Signal(signed(len(x) + 1))
        m.d.comb += y.eq((x >> shift) if floor else round_shift(x, shift))
        # y is x / 2^shift to the nearest, halves up: x - y 2^s in [-2^(s-1), 2^(s-1))
        residue = x - (y << shift)
        m.d.comb += Assert((residue >= -(1 << (shift - 1))) & (residue < (1 << (shift - 1))))
    return check


@pytest.mark.parametrize("shift", [1, 6, 14])
def test_round_shift_is_round_half_up(shift):
    assert prove(_Property(_rounds_half_up(shift), signed(24)))


def test_a_truncating_shift_is_caught():
    assert not prove(_Property(_rounds_half_up(6, floor=True), signed(24)))


def _rounds_stochastically(shift, ignore_random=False):
    def check(m, x, r):
        y = Signal(signed(len(x) + 1))
        m.d.comb += y.eq((x >> shift) if ignore_random else stochastic_shift(x, shift, r))
        # u: the 16 random bits at the top of the dropped bits (docs/numerics.md)
        u = (r << (shift - 16)) if shift >= 16 else (r >> (16 - shift))
        total = x + u
        m.d.comb += Assert(((y << shift) <= total) & (total < ((y + 1) << shift)))
    return check


@pytest.mark.parametrize("shift", [4, 16, 20])
def test_stochastic_shift_is_floor_of_value_plus_aligned_random(shift):
    assert prove(_Property(_rounds_stochastically(shift), signed(24), unsigned(16)))


def test_stochastic_rounding_without_the_random_bits_is_caught():
    assert not prove(_Property(_rounds_stochastically(8, ignore_random=True), signed(24),
                               unsigned(16)))


def test_clamp_and_rho_stay_in_their_bounds():
    def check(m, x):
        c = clamp(m, x, -300, 1000, 12)
        r = rho(m, x, 10)
        m.d.comb += [Assert(c == Mux(x > 1000, 1000, Mux(x < -300, -300, x))),
                     Assert(r == Mux(x > 1024, 1024, Mux(x < 0, 0, x)))]
    assert prove(_Property(check, signed(20)))


class _Streams(Elaboratable):
    """A small core with every input free on every cycle (samples, readiness, host port,
    rates), reset on the first cycle only. ``check`` "result": the result stream's rules,
    once valid without ready, the next cycle is valid with the same payload. "sample": with a
    producer that keeps those rules (assumed), the core writes a beat into its memories
    exactly when it takes one (valid and ready), and takes none while a whole sample waits
    to start (hdl/intake.py). ``vacuity``: asserts the event never happens (the result never
    valid, no beat ever taken), which must fail within the bound."""

    def __init__(self, check, vacuity=False):
        self.check, self.vacuity = check, vacuity

    def elaborate(self, platform):
        from amaranth.asserts import AnySeq
        from amaranth.hdl import Assume, ResetSignal, Value
        from amaranth.lib import wiring

        from ghostfpga.config import Config, Hardware
        from ghostfpga.hdl import GhostCore

        m = Module()
        m.submodules.core = core = GhostCore(Config(layers=(2, 3, 2), lr=(0.05, 0.05),
                                                    lr_decay=(0.95, 0.95),
                                                    hardware=Hardware(lanes=1)))
        for name, member in core.signature.members.items():
            port = getattr(core, name)
            if member.is_port and member.flow == wiring.In:
                m.d.comb += Value.cast(port).eq(AnySeq(len(Value.cast(port))))
            elif not member.is_port and member.flow == wiring.In:
                payload = Value.cast(port.payload)
                m.d.comb += [payload.eq(AnySeq(len(payload))), port.valid.eq(AnySeq(1))]
            elif not member.is_port:
                m.d.comb += port.ready.eq(AnySeq(1))
        first = Signal(init=1, reset_less=True)
        m.d.sync += first.eq(0)
        m.d.comb += Assume(ResetSignal() == first)
        stream = core.result if self.check == "result" else core.sample
        payload = Value.cast(stream.payload)
        waiting, held = Signal(), Signal.like(payload)
        m.d.sync += [waiting.eq(stream.valid & ~stream.ready), held.eq(payload)]
        rules = stream.valid & (payload == held)
        if self.check == "result":
            with m.If(~first & waiting):
                m.d.comb += Assert(rules)
            if self.vacuity:
                m.d.comb += Assert(~stream.valid)
        else:
            with m.If(~first & waiting):
                m.d.comb += Assume(rules)
            taken = stream.valid & stream.ready
            m.d.comb += [Assert(core.beat_written == taken),
                         Assert(~(core.sample_waits & stream.ready))]
            if self.vacuity:
                m.d.comb += Assert(~taken)
        return m


def test_the_result_stream_holds_valid_and_payload_until_ready():
    # bounded: 42 cycles from reset take in a sample and present its result (an inference of
    # this core is 29 busy cycles, Program.cycles), as the vacuity check shows
    assert prove(_Streams("result"), depth=42)
    assert not prove(_Streams("result", vacuity=True), depth=42)


def test_the_core_writes_exactly_the_beats_it_takes():
    # a sample is 2 beats here; within 12 cycles one is taken (the vacuity check)
    assert prove(_Streams("sample"), depth=12)
    assert not prove(_Streams("sample", vacuity=True), depth=12)


class _LaneUpdate(Elaboratable):
    """One lane learns one weight, every operand free: the host writes w, an ETA makes the
    scaled error from (err, eta), a LEARN adds it times ``pre`` (rounded with the free random
    word); six cycles later the weight read back must equal the golden update
    (docs/numerics.md, golden FixedModel.learn), written here from the spec: round half up,
    clamp by comparison. ``wrap``: a reference that wraps the weight (the mutant)."""

    def __init__(self, numerics, wrap=False):
        self.numerics, self.wrap = numerics, wrap

    def elaborate(self, platform):
        from amaranth.hdl import Assume, ResetSignal

        from ghostfpga.config import Config
        from ghostfpga.golden.numerics import SCALED_ERROR_FRAC, Formats
        from ghostfpga.hdl.lane import LaneOp, MacLane

        fmt = Formats.from_config(Config(numerics=self.numerics))
        m = Module()
        m.submodules.lane = lane = MacLane(fmt, 2, [0, 0])
        w, err = AnyConst(signed(fmt.weight_bits)), AnyConst(signed(16))
        # a rate, 0 .. 1.0: drawn rate_frac + 1 bits wide (the same inputs as a 16-bit
        # operand assumed in range, and a smaller problem for the solver)
        eta, pre = AnyConst(unsigned(fmt.eta_bits)), AnyConst(unsigned(fmt.rate_frac + 1))
        random = AnyConst(16)
        m.d.comb += Assume(pre <= fmt.rate_one)
        m.d.comb += Assume(~ResetSignal())
        cycle = Signal(4)
        m.d.sync += cycle.eq(Mux(cycle == 15, 15, cycle + 1))
        m.d.comb += [lane.eta.eq(eta), lane.random.eq(random), lane.host_wdata.eq(w),
                     lane.host_write.eq(cycle == 0)]
        with m.Switch(cycle):
            with m.Case(1):
                m.d.comb += [lane.op.eq(LaneOp.ETA), lane.operand.eq(err)]
            with m.Case(3):
                m.d.comb += [lane.op.eq(LaneOp.LEARN), lane.operand.eq(pre)]

        def clamp(v, bits):
            hi, lo = (1 << (bits - 1)) - 1, -(1 << (bits - 1))
            return Mux(v > hi, hi, Mux(v < lo, lo, v))

        eta_shift = fmt.eta_frac + fmt.error_frac - SCALED_ERROR_FRAC
        e = Signal(signed(16))
        m.d.comb += e.eq(clamp((eta * err + (1 << (eta_shift - 1))) >> eta_shift, 16))
        shift = SCALED_ERROR_FRAC + fmt.rate_frac - fmt.weight_frac
        if fmt.stochastic:   # the random word aligned to the top of the dropped bits
            u = random << (shift - 16) if shift >= 16 else random >> (16 - shift)
        else:
            u = 1 << (shift - 1)
        delta = Signal(signed(40))
        m.d.comb += delta.eq((e * pre + u) >> shift)
        want = Signal(signed(fmt.weight_bits))
        total = w + delta
        m.d.comb += want.eq(total[:fmt.weight_bits] if self.wrap else
                            clamp(total, fmt.weight_bits))
        with m.If(cycle == 9):   # written at cycle 7 (LEARN's stage 4), read at 8
            m.d.comb += Assert(lane.rdata == want)
        return m


# narrow formats keep the solver quick (the multipliers are bit-blasted); the operands stay
# 16 bits. The first has eta wider than the weights, where the lane's product once wrapped
# (product_bits in hdl/lane.py; with the old weight_bits + 16 bits this proof fails in a
# second, as a 6-bit-weight, 8-bit-eta version did in two minutes)
_LANE_FORMATS = {
    "4-bit weights, 6-bit eta, stochastic": dict(weight_bits=4, weight_frac=2, eta_bits=6,
                                                 eta_frac=4, rate_frac=3, error_frac=12,
                                                 potential_bits=14),
    "8-bit weights, nearest": dict(weight_bits=8, weight_frac=5, eta_bits=6, eta_frac=4,
                                   rate_frac=6, error_frac=12, potential_bits=14,
                                   rounding="nearest"),
}


@pytest.mark.parametrize("name", list(_LANE_FORMATS))
def test_the_lane_learning_update_equals_the_golden_update(name):
    from ghostfpga.config import Numerics

    assert prove(_LaneUpdate(Numerics(**_LANE_FORMATS[name])), depth=10)


def test_a_lane_update_that_wraps_is_caught():
    from ghostfpga.config import Numerics

    formats = _LANE_FORMATS["4-bit weights, 6-bit eta, stochastic"]
    assert not prove(_LaneUpdate(Numerics(**formats), wrap=True), depth=10)
