"""One multiply-accumulate lane: its weight memory, a 16 x 16 multiplier, and one adder shared by
accumulation and both roundings of the learning update.

Pipeline (one operation issued per cycle, throughput 1/cycle):

- stage 0 (issue): ``op`` and ``operand`` arrive; a ``MAC`` reads its weight at ``addr``.
- stage 1: product = A x operand, A = the weight (``MAC``), the scaled error register
  (``LEARN``) or the learning-rate multiplier ``eta`` (``ETA``; with several multiplier
  formats, ``eta_sel`` beside it picks the shift of its scaled error); registered.
- stage 2: sum = product + addend, the one adder of the lane, registered as ``acc``. ``MAC``
  accumulates: the addend is the accumulator, or on ``first`` the rounding constant of the
  pass (``round_sel`` picks one of ``mac_shifts``), so ``acc >> shift`` is the rounded dot
  product; ``ETA`` loads the scaled error e = sat16(round(eta x d)); ``LEARN`` adds the
  rounding bits (stochastic: ``random``, this lane's word of the core's LFSR) and reads its
  weight at ``addr``.
- stage 3 (``LEARN``): w + (acc >> shift), saturated, registered (a cut of the path from
  the weight read through the update into the RAM's write data);
- stage 4 (``LEARN``): the updated weight written at ``waddr``.

A LEARN that follows an ETA slotted between two LEARNs has its weight read one cycle early,
in the ETA's read cycle (the ETA carries the LEARN's address), and ``hold`` keeps that word on
the read port through the LEARN's own read cycle: there, the word before it is being written,
which may share its physical row (hdl/memory.py). So a read is never within one word of the
word written in its cycle.

Split rows (columns layout) learn with one scaled error for all lanes. Where a row's last
word leaves lane P - 1 idle, that lane is the ETA lane (``eta_ahead``): an ETA issued with
``ahead`` loads its ``eta_out`` instead of its scaled error, and every lane (``takes_error``)
loads ``error_in`` (the ETA lane's ``eta_out``) into its scaled error when ``take`` comes
with a row's first LEARN (hdl/passes/learn.py ``eta_ahead``): no cycle of the walk is spent
on the rows' ETAs.

On the ECP5 the lane registers its weight memory's read data (``registered_read``,
hdl/memory.py ``weight_read_registered``) and the core gives every read address and ``hold``
a cycle earlier than below, so each word arrives in the same cycle: the block RAM's
clock-to-out no longer meets the multiplier in one cycle.

The core supplies the addresses: the weight of a ``MAC`` at its issue, the weight of a
``LEARN`` two cycles after its issue (so the read data meets the sum at stage 3 without a
holding register), and its write address four cycles after its issue. Controls that are the same for every lane (``eta`` at stage 1; ``first``
and ``round_sel`` at stage 2) are pipelined once by the core. ``acc`` is valid the cycle after
a ``MAC`` leaves stage 2; ``product`` (stage 2) feeds the core's adder tree for transposed
passes. Latency: issue to ``acc`` 3 cycles; issue to weight written 4 cycles (the write
enable in the 5th cycle after the issue).
"""

from __future__ import annotations

import enum

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.golden.numerics import LFSR_BITS, OPERAND_BITS, SCALED_ERROR_BITS, Formats

from .arith import aligned_random, half, saturate
from .memory import bank_depths, block_ram

__all__ = ["LaneOp", "MacLane"]


class LaneOp(enum.IntEnum):
    NONE = 0
    MAC = 1
    ETA = 2
    LEARN = 3


class _Port:
    """A memory port's signals over a lane's banks: ``addr``, ``en`` and a word ``data``."""

    def __init__(self, addr_shape, ram_bits: int):
        self.addr, self.en = Signal(addr_shape), Signal()
        self.data = Signal(signed(ram_bits))


class MacLane(wiring.Component):
    """A lane with ``depth`` weight words initialized to ``init``; ``mac_shifts`` are the right
    shifts the core applies to ``acc`` (one per kind of pass)."""

    def __init__(self, fmt: Formats, depth: int, init: list[int],
                 acc_bits: int | None = None, mac_shifts: tuple[int, ...] = (0,),
                 eta_bits: int | None = None, eta_shifts: tuple[int, ...] | None = None,
                 ram_bits: int | None = None, bank_words: int | None = None,
                 takes_error: bool = False, eta_ahead: bool = False,
                 registered_read: bool = False):
        """``eta_bits`` and ``eta_shifts``: the learning-rate multiplier's width and the right
        shifts of its ETA (one per multiplier format, ``eta_sel`` picks one); the formats'
        by default. ``ram_bits``: the weight memory's word, the weight sign-extended
        (hdl/memory.py: ``weight_ram_bits``; default the weight's width). ``bank_words``:
        the weights held in memories of at most that many words (``weight_ram_banks``).
        ``takes_error``: the ports ``take`` and ``error_in`` (a row's scaled error shared
        by the ETA lane); ``eta_ahead``: this lane is the ETA lane (``ahead``, ``eta_out``).
        ``registered_read``: the weight read data registered (``memory.weight_read_registered``):
        the core then gives every read address and ``hold`` a cycle earlier."""
        self.registered_read = registered_read
        self.fmt = fmt
        self.ram_bits = max(ram_bits or 0, fmt.weight_bits)
        self.eta_bits = eta_bits or fmt.eta_bits
        self.eta_shifts = tuple(eta_shifts or (fmt.eta_shift,))
        # the accumulator also carries the learning sum e x pre + rounding bits to stage 3
        self.acc_bits = max(acc_bits or fmt.accumulator_bits,
                            SCALED_ERROR_BITS + fmt.rate_frac + 3)
        self.depth = max(depth, 2)
        self.init = list(init) + [0] * (self.depth - len(init))
        self.bank_words = bank_words or self.depth
        self.mac_shifts = tuple(mac_shifts)
        addr_bits = max(1, (self.depth - 1).bit_length())
        # exact for the three products: weight x operand (MAC), eta x error (ETA, eta
        # unsigned) and scaled error x rate (LEARN, 0 <= rate <= 1.0); narrow weights with a
        # wide eta need more than weight_bits + 16 (tests/test_formal.py found the wrap)
        self.product_bits = OPERAND_BITS + max(fmt.weight_bits, self.eta_bits + 1,
                                               fmt.rate_frac + 2)
        eta_sel = {"eta_sel": In(max(1, (len(self.eta_shifts) - 1).bit_length()))} \
            if len(self.eta_shifts) > 1 else {}
        self.takes_error, self.eta_ahead = takes_error, eta_ahead
        shared = {"take": In(1), "error_in": In(signed(SCALED_ERROR_BITS))} \
            if takes_error else {}
        ahead = {"ahead": In(1), "eta_out": Out(signed(SCALED_ERROR_BITS))} \
            if eta_ahead else {}
        super().__init__({
            "op": In(2),
            "addr": In(addr_bits),
            "hold": In(1),   # no read: the read port keeps its word (a LEARN read early)
            "operand": In(signed(OPERAND_BITS)),
            "eta": In(unsigned(self.eta_bits)),
            **eta_sel,   # stage 1, with eta
            "first": In(1),
            "round_sel": In(max(1, (len(self.mac_shifts) - 1).bit_length())),
            "random": In(LFSR_BITS),   # stage 2: this lane's word of the core's LFSR
            "waddr": In(addr_bits),
            # host writes (at ``waddr``) while the lane is idle; reads see ``rdata``
            "host_write": In(1),
            "host_wdata": In(signed(fmt.weight_bits)),
            "rdata": Out(signed(fmt.weight_bits)),
            "product": Out(signed(self.product_bits)),
            "acc": Out(signed(self.acc_bits)),
            **shared, **ahead,
        })

    def _each_eta_shift(self, m, sel, emit):
        """``emit(shift)`` for the lane's one ETA shift, or for each under a switch on
        ``sel`` (stage 2)."""
        if sel is None:
            emit(self.eta_shifts[0])
            return
        with m.Switch(sel):
            for i, shift in enumerate(self.eta_shifts):
                with m.Case(i):
                    emit(shift)

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        rd, wr = self._weight_memory(m)
        # stage 0 -> 1 (data registers carry no reset, so Yosys can pack them into the DSP)
        s1_op = Signal(2)
        s1_operand = Signal.like(self.operand, reset_less=True)
        m.d.sync += [s1_op.eq(self.op), s1_operand.eq(self.operand)]

        # stage 1 -> 2: one 16 x 16 signed multiply
        scaled_error = Signal(signed(SCALED_ERROR_BITS), reset_less=True)
        a = Signal(signed(max(OPERAND_BITS, self.eta_bits + 1)))   # (eta is unsigned)
        with m.Switch(s1_op):
            with m.Case(LaneOp.ETA):
                m.d.comb += a.eq(self.eta)
            with m.Case(LaneOp.LEARN):
                m.d.comb += a.eq(scaled_error)
            with m.Default():
                m.d.comb += a.eq(rd.data)
        s2_op = Signal(2)
        product = Signal(signed(self.product_bits), reset_less=True)
        acc = Signal(signed(self.acc_bits), reset_less=True)
        m.d.sync += [s2_op.eq(s1_op), product.eq(a * s1_operand)]
        m.d.comb += [self.product.eq(product), self.acc.eq(acc)]

        # stage 2: the shared adder
        learn_shift = fmt.learn_shift
        assert min(self.eta_shifts) > 0 and learn_shift > 0, "formats leave no bits to round"
        s2_eta_sel = None
        if len(self.eta_shifts) > 1:
            s2_eta_sel = Signal.like(self.eta_sel)
            m.d.sync += s2_eta_sel.eq(self.eta_sel)
        random = self.random
        width = max(self.acc_bits, self.product_bits) + 1
        addend = Signal(signed(width))
        with m.Switch(s2_op):
            with m.Case(LaneOp.MAC):
                with m.If(~self.first):
                    m.d.comb += addend.eq(acc)
                with m.Else():
                    with m.Switch(self.round_sel):
                        for i, shift in enumerate(self.mac_shifts):
                            with m.Case(i):
                                m.d.comb += addend.eq(half(shift))
            with m.Case(LaneOp.ETA):
                def eta_rounding(shift):
                    m.d.comb += addend.eq(half(shift))
                self._each_eta_shift(m, s2_eta_sel, eta_rounding)
            with m.Case(LaneOp.LEARN):
                if fmt.stochastic:  # golden stochastic_shift: u aligned to the dropped bits
                    m.d.comb += addend.eq(aligned_random(random, learn_shift))
                else:
                    m.d.comb += addend.eq(half(learn_shift))
        total = Signal(signed(width))
        m.d.comb += total.eq(product + addend)
        # acc holds the sum of every operation (LEARN reads it at stage 3); ETA also saturates
        # it into the scaled error
        with m.If(s2_op != LaneOp.NONE):
            m.d.sync += acc.eq(total)
        self._load_scaled_error(m, scaled_error, total, s2_op, s2_eta_sel)
        learning = Signal()
        m.d.sync += learning.eq(s2_op == LaneOp.LEARN)

        self._write_back(m, rd, wr, acc, learning)
        return m

    def _load_scaled_error(self, m, scaled_error, total, s2_op, s2_eta_sel):
        """Stage 2 of an ETA: the scaled error, sat16(sum >> its shift), into
        ``scaled_error``, or (the ETA lane, ``ahead``) into ``eta_out``; with ``take``, the
        shared scaled error ``error_in`` into ``scaled_error`` (a row's first LEARN)."""
        if self.eta_ahead:
            s1_ahead, s2_ahead = Signal(), Signal()
            eta_out = Signal(signed(SCALED_ERROR_BITS), reset_less=True)
            m.d.sync += [s1_ahead.eq(self.ahead), s2_ahead.eq(s1_ahead)]
            m.d.comb += self.eta_out.eq(eta_out)

        def load(shift):
            value = saturate(m, total >> shift, SCALED_ERROR_BITS)
            if self.eta_ahead:
                with m.If(s2_ahead):
                    m.d.sync += eta_out.eq(value)
                with m.Else():
                    m.d.sync += scaled_error.eq(value)
            else:
                m.d.sync += scaled_error.eq(value)
        with m.If(s2_op == LaneOp.ETA):
            self._each_eta_shift(m, s2_eta_sel, load)
        if self.takes_error:   # (never in the cycle an ETA loads scaled_error)
            with m.If(self.take):
                m.d.sync += scaled_error.eq(self.error_in)

    def _weight_memory(self, m):
        """The weights, in banks of ``bank_words`` (one memory each; the write and the read
        enabled in the addressed bank only, the read data picked by the bank of the last
        read): a read port (``addr``, ``en``, ``data``) and a write port (``addr``, ``en``,
        ``data``) over all of them. Reads see the word ``addr`` held the cycle before (two
        cycles before with ``registered_read``)."""
        banks = bank_depths(self.depth, self.bank_words)
        low = max(1, (self.bank_words - 1).bit_length()) if len(banks) > 1 else len(self.addr)
        rd = _Port(self.addr.shape(), self.ram_bits)
        wr = _Port(self.addr.shape(), self.ram_bits)
        data = rd.data   # the memories' read data (registered into rd.data: registered_read)
        if self.registered_read:   # (no reset: a data register, its reset net spared)
            data, rd.data = rd.data, Signal(signed(self.ram_bits), name="rd_data",
                                            reset_less=True)
            m.d.sync += rd.data.eq(data)
        # no read in a host write's cycle: the row read may be the one written (the host's
        # consecutive words; a read, then a write of one word), whose data the iCE40
        # leaves undefined; nothing uses a read then (the host reads after its writes)
        m.d.comb += [rd.addr.eq(self.addr), rd.en.eq(~self.host_write & ~self.hold),
                     self.rdata.eq(rd.data)]
        read_bank = Signal(range(len(banks)))   # the bank the read port's word came from
        self.ports = {}                          # each bank's ports, for simulation checks
        for i, words in enumerate(banks):
            mem = block_ram(signed(self.ram_bits), words,
                            self.init[i * self.bank_words:i * self.bank_words + words])
            m.submodules[f"mem{i}" if len(banks) > 1 else "mem"] = mem
            brd, bwr = mem.read_port(), mem.write_port()
            self.ports[f"w{i}"] = (mem, brd, bwr)
            m.d.comb += [brd.addr.eq(rd.addr[:low]), bwr.addr.eq(wr.addr[:low]),
                         bwr.data.eq(wr.data)]
            if len(banks) == 1:
                m.d.comb += [brd.en.eq(rd.en), bwr.en.eq(wr.en), data.eq(brd.data)]
                continue
            m.d.comb += [brd.en.eq(rd.en & (rd.addr[low:] == i)),
                         bwr.en.eq(wr.en & (wr.addr[low:] == i))]
            with m.If(read_bank == i):
                m.d.comb += data.eq(brd.data)
        if len(banks) > 1:
            with m.If(rd.en):
                m.d.sync += read_bank.eq(rd.addr[low:])
        return rd, wr

    def _write_back(self, m, rd, wr, acc, learning):
        """Stage 3: a LEARN's sum meets its weight (read two cycles after its issue), the
        update registered; stage 4: written at ``waddr``, or the host's word while idle."""
        fmt = self.fmt
        writing = Signal()
        updated = Signal(signed(fmt.weight_bits), reset_less=True)
        m.d.sync += [writing.eq(learning),
                     updated.eq(saturate(m, rd.data + (acc >> fmt.learn_shift),
                                         fmt.weight_bits))]
        m.d.comb += [wr.addr.eq(self.waddr), wr.en.eq(writing | self.host_write),
                     wr.data.eq(self.host_wdata)]
        with m.If(writing):
            m.d.comb += wr.data.eq(updated)
