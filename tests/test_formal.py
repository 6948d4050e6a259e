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


class _ResultStream(Elaboratable):
    """A small core with every input free on every cycle (samples, readiness, host port,
    rates), reset on the first cycle only; asserts the result stream's rules: once valid
    without ready, the next cycle is valid with the same payload. ``never_valid`` adds the
    vacuity check: a result does arrive within the bound."""

    def __init__(self, never_valid=False):
        self.never_valid = never_valid

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
        result = core.result
        payload = Value.cast(result.payload)
        waiting, held = Signal(), Signal.like(payload)
        m.d.sync += [waiting.eq(result.valid & ~result.ready), held.eq(payload)]
        with m.If(~first & waiting):
            m.d.comb += Assert(result.valid & (payload == held))
        if self.never_valid:
            m.d.comb += Assert(~result.valid)
        return m


def test_the_result_stream_holds_valid_and_payload_until_ready():
    # bounded: 42 cycles from reset take in a sample and present its result (34 cycles for an
    # inference of this core), as the vacuity check shows
    assert prove(_ResultStream(), depth=42)
    assert not prove(_ResultStream(never_valid=True), depth=42)
