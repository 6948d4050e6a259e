"""The executor's states for the on-board training set (docs/protocol.md): STORE's header
(its samples are parsed by the TRAIN / INFER states, boards/gateware/commands.py, and written into the
SampleStore instead of the core) and EPOCH, which trains one epoch from the store.

EPOCH checks n, start and step, then runs its rates through the RATES states (checked, then
loaded once the core is idle), then visits sample ``(start + i * step) mod n`` for
i = 0 .. n-1: the sample's n_0 + 1 words stream out of the store (one per cycle, or one every
k cycles from a store of read latency k: boards/gateware/store.py ``read_latency``), gathered
into beats of one input per lane for the core's sample port (hdl/intake.py), while the core
still learns from the previous sample, so the core waits for no fetch. Each result's class is compared with the label; the reply is the epoch's
count of correct predictions. The host keeps several EPOCH frames in flight, so the core goes
from one epoch to the next without waiting for the link.
"""

from amaranth.hdl import Mux, Signal

from .commands import _times, at, size
from .store import read_latency
from ..protocol import Command, Status

__all__ = ["StoredStates"]

EPOCH_RATES = at(Command.EPOCH, "eta")   # the frame byte of EPOCH's first rate


class StoredStates:
    """STORE and EPOCH (a mixin of the executor's builder, ahead of CommandStates: its
    ``rates_at`` and ``rates_done`` extend the RATES states for EPOCH)."""

    def _store_ports(self):
        m, ex, lay = self.m, self.ex, self.ex.layout
        # sample indices and counts are held in the bits of the store's size (the requests'
        # u16 fields are checked whole: a field with bits above these is out of range)
        self.index_bits = B = lay.store_samples.bit_length()
        self.sidx = Signal(B)                 # STORE: the first sample; EPOCH: the sample
        self.sidx_high = Signal()             # STORE: the index has bits above B
        self.store_addr = Signal(range(max(lay.store_words, 2)))
        self.filled = Signal(B)               # the set: samples 0 .. filled - 1
        self.epoch = Signal()                 # an EPOCH frame (in the RATES states)
        self.n = Signal(B)                    # EPOCH: samples of the epoch
        self.step = Signal(B)
        self.left = Signal(B)                 # samples left in the epoch
        self.correct = Signal(B)
        self.bad_record = Signal()            # n 0 or above the set; start or step >= n
        m.d.comb += ex.store_addr.eq(self.store_addr)

    def _high(self, word):
        """``word`` (a u16 field) has bits above the store's sample indices."""
        return word[self.index_bits:16].any()

    def store_base(self):
        """The store address of sample ``sidx``'s first word."""
        return _times(self.sidx, self.ex.layout.store_stride)

    def rates_at(self):
        rates = at(Command.RATES, "eta")
        return Mux(self.epoch, EPOCH_RATES, rates) if self.ex.layout.store_samples else rates

    def rates_done(self):
        m = self.m
        m.next = "FINISH"
        if self.ex.layout.store_samples:
            with m.If(self.epoch):
                m.d.sync += [self.left.eq(self.n), self.correct.eq(0)]
                m.next = "T_BASE"

    def store(self):
        """STORE index u16, count u8, samples: the index, then the TRAIN / INFER parser
        (which checks that the index is 0, starting a new set, or the end of the set)."""
        m = self.m
        with m.State("STORE"):
            self.take()
            m.next = "ST_INDEX"
        with m.State("ST_INDEX"):             # word = the index
            m.d.sync += [self.sidx.eq(self.word), self.sidx_high.eq(self._high(self.word))]
            self.take()
            m.next = "SAMPLES"

    def epochs(self):
        """EPOCH n u16, start u16, step u16, eta u16 x L -> correct u16."""
        m, B = self.m, self.index_bits
        past = self._high(self.word) | (self.word[:B] >= self.n)   # start or step >= n
        with m.State("EPOCH"):
            self.take()
            with self.checked((~self.payload_is(size(Command.EPOCH, self.ex.layout)),
                               Status.SIZE)):
                m.next = "EP_N"
        with m.State("EP_N"):                 # word = n
            m.d.sync += [self.n.eq(self.word), self.bad_record.eq(self._high(self.word))]
            self.take()
            m.next = "EP_START"
        with m.State("EP_START"):
            self.take()
            m.next = "EP_START_HI"
        with m.State("EP_START_HI"):          # word = start (n's checks here, off the FSM)
            n_bad = (self.n == 0) | (self.n > self.filled)
            m.d.sync += [self.sidx.eq(self.word), self.bad_record.eq(self.bad_record | n_bad
                                                                     | past)]
            self.take()
            m.next = "EP_STEP"
        with m.State("EP_STEP"):
            self.take()
            m.next = "EP_STEP_HI"
        with m.State("EP_STEP_HI"):           # word = step
            m.d.sync += [self.step.eq(self.word), self.bad_record.eq(self.bad_record | past)]
            self.take()
            m.next = "EP_CHECKS"
        with m.State("EP_CHECKS"):            # (checked from a register: timing)
            self.start_validating()
            m.d.sync += self.index.eq(0)
            with self.checked((self.bad_record, Status.RANGE),
                              (~self.committed, Status.UNCOMMITTED)):
                m.next = "E_LO"               # the rates, as RATES runs them
        self._epoch_samples()

    def _epoch_samples(self):
        """The samples of the epoch, fetched from the store and trained; then the count.

        A store of read latency 1 gives the word of the address the previous cycle set: the
        address steps with every input taken (and holds while a whole beat waits). One of
        latency k > 1 is read one word every k cycles, its address a word ahead: it steps k - 1
        cycles before an input is taken (``T_NEXT``, then ``T_WAIT`` states), so every word is
        read at its address for the k cycles before it is taken; the label's word is taken
        k cycles after the last input (``T_LAST`` states)."""
        m, ex = self.m, self.ex
        xbits, rdata = self.xbits, ex.store_rdata
        latency = read_latency(self.ex.plan.family)
        spaced = latency > 1
        step = self.store_addr.eq(self.store_addr + 1)
        with m.State("T_BASE"):
            self.set_field(0)
            m.d.sync += [self.store_addr.eq(self.store_base()),
                         self.beat_lane.eq(0)]
            m.next = "T_FETCH"
        with m.State("T_FETCH"):              # the store reads the first word
            if spaced:
                m.next = "T_NEXT"
            else:
                m.d.sync += step
                m.next = "T_X"
        if spaced:
            waits = [f"T_WAIT{k}" for k in range(1, latency - 1)] + ["T_X"]
            with m.State("T_NEXT"):           # the next word's address
                m.d.sync += step
                m.next = waits[0]
            for state, following in zip(waits, waits[1:]):   # (the word on its way)
                with m.State(state):
                    m.next = following
            lasts = [f"T_LAST{k}" for k in range(1, latency)] + ["T_LABEL"]
            for state, following in zip(lasts, lasts[1:]):   # the label's read after the last input
                with m.State(state):
                    m.next = following
        with m.State("T_X"):                  # rdata = an input
            last = self.field_last_input
            self.put_x(rdata[:xbits], last)
            self.set_field(self.field + 1)
            with m.If(last):
                if spaced:                    # (the address is the label's already)
                    m.next = lasts[0]
                else:
                    m.d.sync += step
                    m.next = "T_LABEL"
            if self.beats > 1:
                with m.Elif(self.beat_full):  # the next input's read is held until it goes
                    m.next = "T_BEAT"
            with m.Else():
                if spaced:
                    m.next = "T_NEXT"
                else:
                    m.d.sync += step
        if self.beats > 1:
            with m.State("T_BEAT"):           # a whole beat (not the last) to the core
                self.offer_beat()
                with m.If(ex.sample.ready):
                    if spaced:
                        m.next = "T_NEXT"
                    else:
                        m.d.sync += step
                        m.next = "T_X"
        with m.State("T_LABEL"):              # rdata = the label
            B = self.index_bits
            nxt = self.sidx + self.step       # the next sample of the epoch, mod n
            wrapped = (nxt - self.n)[:B + 1]  # negative (top bit set) when nxt < n (< 2^B)
            m.d.sync += [self.label.eq(rdata), self.sidx.eq(Mux(wrapped[B], nxt, wrapped))]
            m.next = "T_SUBMIT"
        self.submit("T_SUBMIT", "T_RESULT")
        with m.State("T_RESULT"):
            m.d.comb += ex.result.ready.eq(1)
            with m.If(ex.result.valid):
                hit = ex.result.payload.label == self.label
                m.d.sync += [self.correct.eq(self.correct + hit), self.left.eq(self.left - 1)]
                m.next = "T_BASE"
                with m.If(self.left == 1):
                    m.next = "T_COUNT"
        with m.State("T_COUNT"):
            self.emit_lo(self.correct)
            m.next = "T_COUNT_HI"
        with m.State("T_COUNT_HI"):
            self.emit(self.held)
            m.next = "FINISH"
