"""Amaranth expressions for the operations of docs/numerics.md.

Each function mirrors the NumPy function of the same name in golden/numerics.py; the unit tests
check them against each other exhaustively on small widths. All are combinational.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value, signed, unsigned

from ghostfpga.golden.numerics import LFSR_TAPS

__all__ = ["round_shift", "stochastic_shift", "saturate", "clamp", "lfsr_next"]


def round_shift(value: Value, shift: int) -> Value:
    """value / 2^shift, round half up; ``shift <= 0`` multiplies exactly."""
    value = Value.cast(value)
    if shift <= 0:
        return value << -shift
    return (value + (1 << (shift - 1))) >> shift


def stochastic_shift(value: Value, shift: int, random16: Value) -> Value:
    """floor((value + u) / 2^shift) with 16 random bits aligned to the top of the dropped bits."""
    value = Value.cast(value)
    if shift <= 0:
        return round_shift(value, shift)
    random16 = Value.cast(random16).as_unsigned()
    u = random16 << (shift - 16) if shift >= 16 else random16 >> (16 - shift)
    return (value + u) >> shift


def saturate(value: Value, bits: int) -> Value:
    """Clamp to a signed ``bits``-wide integer; the result has shape signed(bits)."""
    value = Value.cast(value)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    clamped = Mux(value > hi, hi, Mux(value < lo, lo, value))
    return clamped.as_signed()[:bits].as_signed()


def clamp(value: Value, lo: int, hi: int, bits: int) -> Value:
    """Clamp to [lo, hi]; the result has shape signed(bits) (wide enough for both bounds)."""
    value = Value.cast(value)
    return Mux(value > hi, hi, Mux(value < lo, lo, value))[:bits].as_signed()


def lfsr_next(state: Value) -> Value:
    """One Galois step of the 16-bit LFSR (golden/numerics.lfsr_step)."""
    state = Value.cast(state)
    shifted = state >> 1
    return Mux(state[0], shifted ^ LFSR_TAPS, shifted)[:16]
