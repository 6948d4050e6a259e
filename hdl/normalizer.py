"""The step of a normalized ghost fit (golden/numerics.normalized_step): the sum of squares of
the presynaptic rates it is fed, then one restoring division.

``add`` adds ``value``^2 to the sum (one rate a cycle, rate format), through two registers
(the rate, then its square: the path from the state memory's read through the operand select
ends at the first), so the sum holds it three cycles after the cycle of ``add``, and the
start's decisions (an empty sum, a saturated step of either fit) are registered from the sum
a cycle later: ``ADD_LATENCY`` (the path from the state decode that starts a fit meets no
comparison of the sum).
``start`` (one cycle, ``sel`` picks the fit: 0 = V's fraction bits, 1 = Q's; at least
``ADD_LATENCY`` cycles after the last ``add``) takes the sum, clears it for the next fit and
divides: ``step`` = floor(2^(frac + 2 rate_frac) / sum), saturated to STEP_BITS bits,
0 for a sum of 0. Latency: ``step`` holds the result NORMALIZER_CYCLES cycles after the cycle
of ``start`` (sooner for a saturated or empty fit) until the next ``start``; ``busy`` while
the quotient's bits are found.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.golden.numerics import Q_STEP_FRAC, STEP_BITS, V_STEP_FRAC, Formats

__all__ = ["Normalizer", "NORMALIZER_CYCLES", "ADD_LATENCY"]

ADD_LATENCY = 4
"""Cycles from an ``add`` to the first ``start`` that counts it: the rate registered, its
square registered, the sum registered, the start's comparisons of the sum registered."""

NORMALIZER_CYCLES = STEP_BITS + 1
"""Cycles from ``start`` to the cycle ``step`` is valid in: the start, then one quotient bit a
cycle (the NORM pass starts it; the learning pass that uses the step starts this many cycles
after the start or later: hdl/schedule.py)."""


class Normalizer(wiring.Component):
    """Sum of squares and reciprocal for sums of at most ``terms`` rates."""

    def __init__(self, fmt: Formats, terms: int):
        self.fmt = fmt
        one = 1 << fmt.rate_frac
        self.sum_bits = (terms * one * one).bit_length()
        self.numerators = tuple(1 << (frac + 2 * fmt.rate_frac)
                                for frac in (V_STEP_FRAC, Q_STEP_FRAC))
        super().__init__({
            "value": In(unsigned(fmt.rate_frac + 1)),
            "add": In(1),
            "start": In(1),
            "sel": In(1),
            "busy": Out(1),
            "step": Out(unsigned(STEP_BITS)),
        })

    def elaborate(self, platform):
        m = Module()
        top = max(self.numerators).bit_length()
        total = Signal(self.sum_bits)
        divisor = Signal(self.sum_bits + STEP_BITS)   # the sum, shifted left by the bit tried
        rem = Signal(top)
        quotient = Signal(STEP_BITS)
        count = Signal(range(STEP_BITS + 1))
        rate, adding = Signal.like(self.value), Signal()
        square, summing = Signal(2 * len(self.value)), Signal()
        m.d.sync += [rate.eq(self.value), adding.eq(self.add),
                     square.eq(rate * rate), summing.eq(adding)]
        with m.If(summing):
            m.d.sync += total.eq(total + square)
        numerator = Mux(self.sel, self.numerators[1], self.numerators[0])
        m.d.comb += [self.busy.eq(count != 0), self.step.eq(quotient)]
        # the start's comparisons of the sum, registered (ADD_LATENCY): the sum is empty; the
        # quotient of each fit's numerator needs more bits than the step has
        empty = Signal()
        saturates = [Signal(name=f"saturates_{fit}") for fit in "VQ"]
        m.d.sync += [empty.eq(total == 0)]
        m.d.sync += [flag.eq(total <= (value >> STEP_BITS))   # value >= total << STEP_BITS
                     for flag, value in zip(saturates, self.numerators)]
        with m.If(self.start):
            saturated = Mux(self.sel, saturates[1], saturates[0])
            m.d.sync += [total.eq(0), rem.eq(numerator),
                         divisor.eq(total << (STEP_BITS - 1)),
                         quotient.eq(Mux(empty, 0, Mux(saturated, (1 << STEP_BITS) - 1, 0))),
                         count.eq(Mux(empty | saturated, 0, STEP_BITS))]
        with m.Elif(count != 0):
            fits = rem >= divisor
            m.d.sync += [rem.eq(Mux(fits, rem - divisor, rem)),
                         quotient.eq((quotient << 1) | fits),
                         divisor.eq(divisor >> 1), count.eq(count - 1)]
        return m
