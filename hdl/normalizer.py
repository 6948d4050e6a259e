"""The step of a normalized ghost fit (golden/numerics.normalized_step): the sum of squares of
the presynaptic rates it is fed, then one restoring division.

``add`` adds ``value``^2 to the sum (one broadcast rate a cycle, rate format), through two
registers (the rate, then its square: the path from the state memory's read through the
operand select ends at the first), so the sum holds it three cycles after the cycle of ``add``,
and the start's decisions (an empty sum, a saturated step of either fit) are registered from
the sum a cycle later: ``ADD_LATENCY`` (the path from the state decode that starts a fit meets
no comparison of the sum).
With ``lanes`` (a V in the columns layout: its tapping pass reads one rate in every lane),
``lane_add[p]`` also adds ``lane_value[p]``^2 in the same cycle: the lanes' rates and the
broadcast rate are registered and squared alike, and their squares summed by an adder tree
whose sum is registered before it joins the total: one cycle more (``add_latency(lanes)``).
``start`` (one cycle, ``sel`` picks the fit: 0 = V's fraction bits, 1 = Q's; at least
``add_latency`` cycles after the last ``add``) takes the sum, clears it for the next fit and
divides: ``step`` = floor(2^(frac + 2 rate_frac) / sum), saturated to STEP_BITS bits,
0 for a sum of 0. Latency: ``step`` holds the result NORMALIZER_CYCLES cycles after the cycle
of ``start`` (sooner for a saturated or empty fit) until the next ``start``; ``busy`` while
the quotient's bits are found.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.golden.numerics import Q_STEP_FRAC, STEP_BITS, V_STEP_FRAC, Formats

from .stages import delay
from .writeback import AdderTree

__all__ = ["Normalizer", "NORMALIZER_CYCLES", "ADD_LATENCY", "add_latency"]

ADD_LATENCY = 4
"""Cycles from an ``add`` to the first ``start`` that counts it: the rate registered, its
square registered, the sum registered, the start's comparisons of the sum registered."""


def add_latency(lanes: int) -> int:
    """``ADD_LATENCY`` of a normalizer with ``lanes`` lane inputs (0: the broadcast rate
    alone); with lanes, the registered sum of the squares is one cycle more."""
    return ADD_LATENCY + (1 if lanes else 0)


NORMALIZER_CYCLES = STEP_BITS + 1
"""Cycles from ``start`` to the cycle ``step`` is valid in: the start, then one quotient bit a
cycle (the NORM pass starts it; the learning pass that uses the step starts this many cycles
after the start or later: hdl/schedule.py)."""


class Normalizer(wiring.Component):
    """Sum of squares and reciprocal for sums of at most ``terms`` rates, fed the broadcast
    rate and, with ``lanes``, that many lanes' own rates a cycle."""

    def __init__(self, fmt: Formats, terms: int, lanes: int = 0):
        self.fmt, self.lanes = fmt, lanes
        one = 1 << fmt.rate_frac
        self.sum_bits = (terms * one * one).bit_length()
        self.numerators = tuple(1 << (frac + 2 * fmt.rate_frac)
                                for frac in (V_STEP_FRAC, Q_STEP_FRAC))
        rate = unsigned(fmt.rate_frac + 1)
        ports = {
            "value": In(rate),
            "add": In(1),
            "start": In(1),
            "sel": In(1),
            "busy": Out(1),
            "step": Out(unsigned(STEP_BITS)),
        }
        if lanes:
            ports |= {"lane_value": In(data.ArrayLayout(rate, lanes)), "lane_add": In(lanes)}
        super().__init__(ports)

    @property
    def add_latency(self) -> int:
        return add_latency(self.lanes)

    def _squares(self, m):
        """(the registered square of the cycle's rates, or their sum, whether it counts)."""
        rate, adding = Signal.like(self.value), Signal()
        square, summing = Signal(2 * len(self.value)), Signal()
        m.d.sync += [rate.eq(self.value), adding.eq(self.add),
                     square.eq(rate * rate), summing.eq(adding)]
        if not self.lanes:
            return square, summing
        # every lane's rate (0 where it adds none) and the broadcast's, squared, then summed
        squares = [Mux(summing, square, 0)]
        for p in range(self.lanes):
            lane_rate, lane_square = Signal.like(self.value, name=f"lane_rate{p}"), \
                Signal.like(square, name=f"lane_square{p}")
            m.d.sync += [lane_rate.eq(Mux(self.lane_add[p], self.lane_value[p], 0)),
                         lane_square.eq(lane_rate * lane_rate)]
            squares.append(lane_square)
        m.submodules.squares = tree = AdderTree(len(squares), len(square) + 1)
        m.d.comb += [getattr(tree, f"term{i}").eq(v) for i, v in enumerate(squares)]
        lanes_sum = Signal(self.sum_bits)
        m.d.sync += lanes_sum.eq(tree.sum)
        # the rate, its square and the tree's sum registered: it counts three cycles on
        return lanes_sum, delay(m, self.add | self.lane_add.any(), 3, "lanes_summing")

    def elaborate(self, platform):
        m = Module()
        top = max(self.numerators).bit_length()
        total = Signal(self.sum_bits)
        divisor = Signal(self.sum_bits + STEP_BITS)   # the sum, shifted left by the bit tried
        rem = Signal(top)
        quotient = Signal(STEP_BITS)
        count = Signal(range(STEP_BITS + 1))
        square, summing = self._squares(m)
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
