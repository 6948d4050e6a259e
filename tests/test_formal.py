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
