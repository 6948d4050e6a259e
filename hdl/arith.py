"""Amaranth expressions for the operations of docs/numerics.md.

Each function mirrors the NumPy function of the same name in golden/numerics.py; the unit tests
check them against each other exhaustively on small widths. All are combinational.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value

from ghostfpga.golden.numerics import LFSR_BITS, LFSR_TAPS

__all__ = ["half", "round_shift", "floor_shift", "stochastic_shift", "saturate", "clamp", "rho", "rate",
           "lfsr_next", "materialize", "pick", "aligned_random"]


def half(shift: int) -> int:
    """The round-half-up constant of a right shift by ``shift`` (0 for no shift)."""
    return 1 << (shift - 1) if shift > 0 else 0


def round_shift(value: Value, shift: int) -> Value:
    """value / 2^shift, round half up; ``shift <= 0`` multiplies exactly."""
    value = Value.cast(value)
    if shift <= 0:
        return value << -shift
    return (value + half(shift)) >> shift


def round_shift_from(hit: Value, hi: int, lo: int, value: Value, shift: int) -> Value:
    """``round_shift(Mux(hit, hi, lo) - value, shift)`` for the constants ``hi`` and ``lo``
    (the targets of a nudge), with the rounding constant folded into them: one carry chain
    (the subtraction), not two (timing: the settle iteration's path on the UP5K)."""
    return floor_shift(Mux(hit, hi + half(shift), lo + half(shift)) - value, shift) \
        if shift > 0 else round_shift(Mux(hit, hi, lo) - value, shift)


def floor_shift(value: Value, shift: int) -> Value:
    """value / 2^shift rounded down (for sums that already hold the rounding constant, as the
    lane accumulators do); ``shift <= 0`` multiplies exactly."""
    value = Value.cast(value)
    return value >> shift if shift >= 0 else value << -shift


def aligned_random(random16: Value, shift: int) -> Value:
    """The random addend u of a stochastic shift by ``shift``: the LFSR_BITS random bits
    aligned to the top of the dropped bits (golden numerics.stochastic_shift)."""
    random16 = Value.cast(random16).as_unsigned()
    if shift >= LFSR_BITS:
        return random16 << (shift - LFSR_BITS)
    return random16 >> (LFSR_BITS - shift)


def stochastic_shift(value: Value, shift: int, random16: Value) -> Value:
    """floor((value + u) / 2^shift) with the random bits aligned to the top of the dropped
    bits (``aligned_random``)."""
    value = Value.cast(value)
    if shift <= 0:
        return round_shift(value, shift)
    return (value + aligned_random(random16, shift)) >> shift


def materialize(m: Module, value: Value, name: str) -> Value:
    """``value`` as a signal, so that an expression used several times is built once (the
    Verilog backend would otherwise copy it at every use)."""
    value = Value.cast(value)
    if isinstance(value, Signal):
        return value
    sig = Signal(value.shape(), name=name)
    m.d.comb += sig.eq(value)
    return sig


def pick(m: Module, values, index: Value, name: str) -> Signal:
    """``values[index]`` as a signal (an expression on an Array proxy would be replicated once
    per element)."""
    values = list(values)
    sig = Signal.like(values[0], name=name)
    m.d.comb += sig.eq(Array(values)[index])
    return sig


def saturate(m: Module, value: Value, bits: int) -> Value:
    """Clamp to a signed ``bits``-wide integer; the result has shape signed(bits).

    A value fits when its bits from ``bits - 1`` up are all equal; otherwise its sign picks
    the limit. (No comparators: a few LUTs for the test, one per bit for the select.)
    """
    value = materialize(m, value, "sat_in")
    if not value.shape().signed:
        value = Cat(value, Const(0, 1)).as_signed()
    if len(value) <= bits:
        return value.as_signed()
    top = value[bits - 1:]
    fits = (top == 0) | (top == (1 << len(top)) - 1)
    negative = value[-1]
    limit = Mux(negative, Const(1 << (bits - 1), bits), Const((1 << (bits - 1)) - 1, bits))
    return Mux(fits, value[:bits], limit).as_signed()


def clamp(m: Module, value: Value, lo: int, hi: int, bits: int) -> Value:
    """Clamp to [lo, hi]; the result has shape signed(bits) (wide enough for both bounds).

    For the hard sigmoid (lo = 0, hi = 2^k) only the sign and the bits from k up are tested.
    """
    value = materialize(m, value, "clamp_in")
    k = hi.bit_length() - 1
    if lo == 0 and hi == 1 << k and value.shape().signed and len(value) > k + 1:
        negative = value[-1]
        high = value[k:-1]
        result = Value.cast(Mux(negative, 0, Mux(high != 0, hi, value[:k])))
        return Cat(result, Const(0, max(0, bits - len(result))))[:bits].as_signed()
    return Mux(value > hi, hi, Mux(value < lo, lo, value))[:bits].as_signed()


def rho(m: Module, value: Value, error_frac: int) -> Value:
    """Hard sigmoid in the error format: clamp to [0, 2^error_frac] (golden rho_fixed)."""
    return clamp(m, value, 0, 1 << error_frac, error_frac + 2)


def rate(m: Module, value: Value, error_frac: int, rate_frac: int) -> Value:
    """The rate sent forward: rho(value) rounded to ``rate_frac`` fraction bits, unsigned.

    Rounds the raw bits while the clamp conditions are tested (one short carry chain in
    parallel with the tests, not after the clamp): for 0 <= v < 1.0 the rate is the top bits
    plus the highest dropped bit."""
    shift = error_frac - rate_frac
    value = materialize(m, value, "rate_in")
    if shift <= 0 or not value.shape().signed or len(value) <= error_frac + 1:
        return round_shift(rho(m, value, error_frac), shift)[:rate_frac + 1]
    rounded = value[shift:error_frac] + value[shift - 1]
    saturated = value[error_frac:-1] != 0
    return Mux(value[-1], 0, Mux(saturated, 1 << rate_frac, rounded))[:rate_frac + 1]


def lfsr_next(state: Value) -> Value:
    """One Galois step of the LFSR (golden/numerics.lfsr_step)."""
    state = Value.cast(state)
    shifted = state >> 1
    return Mux(state[0], shifted ^ LFSR_TAPS, shifted)[:LFSR_BITS]
