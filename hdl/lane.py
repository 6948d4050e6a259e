"""One multiply-accumulate lane: its weight memory, a 16 x 16 multiplier, an accumulator, the
learning update with stochastic rounding, and its LFSR.

Pipeline (one operation issued per cycle, throughput 1/cycle):

- stage 0 (issue): ``op``, ``addr``, ``operand`` arrive; the weight memory is read at ``addr``.
- stage 1: product = A x operand, A = the weight (``MAC``), the scaled error register
  (``LEARN``) or the learning-rate multiplier ``eta`` (``ETA``); registered.
- stage 2: ``MAC`` accumulates (``first`` restarts); ``ETA`` loads the scaled error
  e = sat16(round(eta x d)); ``LEARN`` writes w + round(e x pre) back, saturated, stepping the
  LFSR for stochastic rounding.

``acc`` is valid the cycle after a ``MAC`` leaves stage 2; ``product`` (stage 2) feeds the
core's adder tree for transposed passes. Latency: issue to ``acc`` 3 cycles.
"""

from __future__ import annotations

import enum

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ghostfpga.golden.numerics import (OPERAND_BITS, SCALED_ERROR_BITS, SCALED_ERROR_FRAC,
                                       Formats)

from .arith import lfsr_next, round_shift, saturate, stochastic_shift

__all__ = ["LaneOp", "MacLane"]


class LaneOp(enum.IntEnum):
    NONE = 0
    MAC = 1
    ETA = 2
    LEARN = 3


class MacLane(wiring.Component):
    """A lane with ``depth`` weight words initialized to ``init``; ``lfsr_init`` seeds its LFSR."""

    def __init__(self, fmt: Formats, depth: int, init: list[int], lfsr_init: int,
                 acc_bits: int | None = None):
        self.fmt = fmt
        self.acc_bits = acc_bits or fmt.accumulator_bits
        self.depth = max(depth, 2)
        self.init = list(init) + [0] * (self.depth - len(init))
        self.lfsr_init = lfsr_init
        addr_bits = max(1, (self.depth - 1).bit_length())
        self.product_bits = fmt.weight_bits + OPERAND_BITS
        super().__init__({
            "op": In(2),
            "first": In(1),
            "addr": In(addr_bits),
            "operand": In(signed(OPERAND_BITS)),
            "eta": In(unsigned(fmt.eta_bits)),
            # host access while the core is idle: write now, read data one cycle later
            "host_addr": In(addr_bits),
            "host_write": In(1),
            "host_wdata": In(signed(fmt.weight_bits)),
            "host_rdata": Out(signed(fmt.weight_bits)),
            "product": Out(signed(self.product_bits)),
            "acc": Out(signed(self.acc_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        m.submodules.mem = mem = Memory(shape=signed(fmt.weight_bits), depth=self.depth,
                                        init=self.init)
        rd = mem.read_port()
        wr = mem.write_port()

        # stage 0 -> 1
        s1_op = Signal(2)
        s1_first = Signal()
        # data registers carry no reset, so Yosys can pack them into the DSP and RAM blocks
        s1_addr = Signal.like(self.addr, reset_less=True)
        s1_operand = Signal.like(self.operand, reset_less=True)
        s1_eta = Signal.like(self.eta, reset_less=True)
        busy = self.op != LaneOp.NONE
        m.d.comb += rd.addr.eq(Mux(busy, self.addr, self.host_addr))
        m.d.sync += [s1_op.eq(self.op), s1_first.eq(self.first), s1_addr.eq(self.addr),
                     s1_operand.eq(self.operand), s1_eta.eq(self.eta)]
        m.d.comb += self.host_rdata.eq(rd.data)

        # stage 1 -> 2: one 16 x 16 signed multiply
        scaled_error = Signal(signed(SCALED_ERROR_BITS), reset_less=True)
        a = Signal(signed(OPERAND_BITS))
        with m.Switch(s1_op):
            with m.Case(LaneOp.ETA):
                m.d.comb += a.eq(s1_eta)
            with m.Case(LaneOp.LEARN):
                m.d.comb += a.eq(scaled_error)
            with m.Default():
                m.d.comb += a.eq(rd.data)
        s2_op = Signal(2)
        s2_first = Signal()
        s2_addr = Signal.like(self.addr, reset_less=True)
        s2_weight = Signal(signed(fmt.weight_bits), reset_less=True)
        product = Signal(signed(self.product_bits), reset_less=True)
        acc = Signal(signed(self.acc_bits), reset_less=True)
        m.d.sync += [s2_op.eq(s1_op), s2_first.eq(s1_first), s2_addr.eq(s1_addr),
                     s2_weight.eq(rd.data), product.eq(a * s1_operand)]
        m.d.comb += [self.product.eq(product), self.acc.eq(acc)]

        # stage 2: accumulate, load the scaled error, or update the weight
        lfsr = Signal(16, init=self.lfsr_init)
        with m.Switch(s2_op):
            with m.Case(LaneOp.MAC):
                m.d.sync += acc.eq(product + Mux(s2_first, 0, acc))
            with m.Case(LaneOp.ETA):
                shift = fmt.eta_frac + fmt.error_frac - SCALED_ERROR_FRAC
                m.d.sync += scaled_error.eq(saturate(m, round_shift(self.product, shift),
                                                     SCALED_ERROR_BITS))
            with m.Case(LaneOp.LEARN):
                shift = SCALED_ERROR_FRAC + fmt.rate_frac - fmt.weight_frac
                if fmt.stochastic:
                    random = lfsr_next(lfsr)
                    m.d.sync += lfsr.eq(random)
                    delta = stochastic_shift(self.product, shift, random)
                else:
                    delta = round_shift(self.product, shift)
                m.d.comb += [wr.addr.eq(s2_addr), wr.en.eq(1),
                             wr.data.eq(saturate(m, s2_weight + delta, fmt.weight_bits))]
        with m.If((s2_op != LaneOp.LEARN) & self.host_write & ~busy):
            m.d.comb += [wr.addr.eq(self.host_addr), wr.data.eq(self.host_wdata), wr.en.eq(1)]
        return m
