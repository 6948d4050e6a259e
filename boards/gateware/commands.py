"""The command states of the host link's executor (boards/gateware/executor.py), one method per
command. They run inside the executor's FSM on its shared machinery: the frame cursor
(``cur``, ``word``, ``take``, ``seek``), the reply writer (``emit``, ``emit_lo``), ``checked``
and ``fail``. Each command starts with ``cur`` on its first payload byte and ends in FINISH.

A state loads its registers (counters, ``validate``, lane, address) whether or not its checks
pass: a failed check ends the command, FINISH reads none of them, and every command loads its
own before reading them. So only the state machine branches on the checks, and no check sits
in a register's clock enable (timing, docs/hardware.md). Side effects (core writes, rates,
the store, ``committed``) stay behind the checks.
"""

from amaranth.hdl import Array, Cat, Const, Mux, Signal
from amaranth.lib.crc import catalog

from ..protocol import HEADER_BYTES, REQUESTS, Command, Status

__all__ = ["CommandStates", "P0", "at", "size"]

P0 = HEADER_BYTES   # the first payload byte of a frame


def at(command: Command, field: str) -> int:
    """The frame byte where a request's field starts (``REQUESTS``: the one table)."""
    return P0 + REQUESTS[command].offset(field)


def size(command: Command, layout=None) -> int:
    """A fixed-size request's payload bytes (``REQUESTS``)."""
    return REQUESTS[command].size(layout)


_WRITE_HEAD = REQUESTS[Command.WRITE].offset("values")      # lane, word
assert REQUESTS[Command.WRITE].item_bytes("values") == 2 and (P0 + _WRITE_HEAD) % 2 == 1, \
    "WRITE's checks count values by halving and tell a whole value by the length's parity"


class CommandStates:
    """WRITE, READ, COMMIT, RATES, TRAIN / INFER, COUNTERS and RESET (a mixin of the
    executor's builder). EPOCH (boards/gateware/stored.py) reuses the RATES states for its rates."""

    def write(self):
        """WRITE lane u8, word u16, values i16 x n: checks, then (core idle) the writes."""
        m, plan = self.m, self.ex.plan
        wbits = plan.fmt.weight_bits
        top = self.word[wbits - 1:16]         # a fitting value's bits above copy its sign
        sign_ok = (top == 0) | (top == (1 << (17 - wbits)) - 1) if wbits < 16 else Const(1)
        with m.State("WRITE"):
            length = self.length              # whole values: an odd length (see _WRITE_HEAD)
            head = P0 + _WRITE_HEAD
            self.start_validating()
            m.d.sync += self.count.eq((length - head) >> 1)
            with self.checked(((length < head + 2) | ~length[0], Status.SIZE)):
                m.next = "W_LANE"
        with m.State("W_LANE"):
            self.take_lane()
            m.next = "W_ADDR"
        with m.State("W_ADDR"):
            self.take()
            m.next = "W_RANGE"
        with m.State("W_RANGE"):              # word = the first word's address
            self.take_addr(self.word)
            m.d.sync += self.index.eq(self.count)
            self.take()
            if self.span_state:
                m.next = "W_SPAN"
            else:
                m.d.sync += self.range_bad.eq(self.lane_bad
                                              | self.past_depth(self.count, self.word))
                m.next = "W_CHECK"
        if self.span_state:
            with m.State("W_SPAN"):
                m.d.sync += self.range_bad.eq(self.lane_bad | self.past_depth(self.count))
                m.next = "W_CHECK"
        with m.State("W_CHECK"):              # (checked from a register: timing)
            with self.checked((self.range_bad, Status.RANGE)):
                m.next = "W_VALUE"
        with m.State("W_VALUE"):
            self.take()
            m.next = "W_VALUE_HI"
        with m.State("W_VALUE_HI"):           # word = the value
            self.take()
            m.d.sync += self.index.eq(self.index - 1)   # values left, counting down
            last = self.index == 1
            with m.If(self.validate):
                self.note_value(~sign_ok)
                m.next = "W_VALUE"
                with m.If(last):
                    m.d.sync += self.validate.eq(0)
                    m.next = "W_IDLE"
            with m.Else():
                m.d.comb += self.host_write.eq(1)
                m.d.sync += self.addr.eq(self.addr + 1)
                m.next = "W_VALUE"
                with m.If(last):
                    m.d.sync += self.committed.eq(0)
                    m.next = "FINISH"
        with m.State("W_IDLE"):               # (the cursor back to the lane: see _cursor)
            self.seek(P0)
            with self.values_checked():
                self.when_idle("W_LANE")

    def read(self):
        """READ lane u8, word u16, count u8 -> values i16 x count."""
        m, lay = self.m, self.ex.layout
        with m.State("READ"):
            self.take_lane()
            with self.checked((~self.payload_is(size(Command.READ)), Status.SIZE)):
                m.next = "R_ADDR"
        with m.State("R_ADDR"):
            self.take()
            m.next = "R_ADDR_HI"
        with m.State("R_ADDR_HI"):
            self.take_addr(self.word)
            self.take()
            m.next = "R_RANGE"
        def check_read(n):   # (the iCE40: from the start word in ``sh``, a state after it)
            past = self.past_depth(n) if self.span_state else self.past_depth(n, self.sh)
            m.d.sync += self.range_bad.eq((n == 0) | (n > lay.max_read) | self.lane_bad | past)
        with m.State("R_RANGE"):              # cur = the count
            m.d.sync += [self.count.eq(self.cur), self.wait.eq(0)]
            if self.span_state:
                m.next = "R_SPAN"
            else:
                check_read(self.cur)
                m.next = "R_CHECK"
        if self.span_state:
            with m.State("R_SPAN"):
                check_read(self.count)
                m.next = "R_CHECK"
        with m.State("R_CHECK"):              # (checked from a register: timing)
            m.d.sync += self.index.eq(self.count)   # words left, counting down
            with self.checked((self.range_bad, Status.RANGE)):
                m.next = "R_IDLE"
        with m.State("R_IDLE"):
            self.when_idle("R_WAIT")
        with m.State("R_WAIT"):
            with m.If(self.wait_read()):
                self.emit_lo(self.rdata16)
                m.next = "R_HI"
        with m.State("R_HI"):
            self.emit(self.held)
            m.d.sync += [self.addr.eq(self.addr + 1), self.wait.eq(0),
                         self.index.eq(self.index - 1)]
            m.next = "R_WAIT"
            with m.If(self.index == 1):
                m.next = "FINISH"

    def commit(self):
        """COMMIT crc u16: the CRC of every word of every lane against the host's."""
        m, plan = self.m, self.ex.plan
        m.submodules.commit_crc = crc = catalog.CRC16_IBM_3740(data_width=8).create()
        with m.State("COMMIT"):
            m.d.sync += [self.lane.eq(0), self.addr.eq(0), self.wait.eq(0)]
            self.take()
            with self.checked((~self.payload_is(size(Command.COMMIT)), Status.SIZE)):
                m.next = "C_IDLE"
        with m.State("C_IDLE"):               # word = the host's CRC (the cursor stays)
            m.d.comb += crc.start.eq(1)
            self.when_idle("C_WAIT")
        with m.State("C_WAIT"):               # the word's high byte into the CRC, then its low
            with m.If(self.wait_read()):
                m.d.comb += [crc.valid.eq(1), crc.data.eq(self.rdata16[8:])]
                m.d.sync += [self.wait.eq(0), self.held.eq(self.rdata16[:8]),
                             self.addr.eq(self.addr + 1)]
                m.next = "C_LO"
                with m.If(self.addr == plan.depth - 1):
                    m.d.sync += [self.addr.eq(0), self.lane.eq(self.lane + 1)]
                    with m.If(self.lane == plan.lanes - 1):
                        m.next = "C_LO_LAST"
        for state, then in (("C_LO", "C_WAIT"), ("C_LO_LAST", "C_DONE")):
            with m.State(state):
                m.d.comb += [crc.valid.eq(1), crc.data.eq(self.held)]
                m.next = then
        with m.State("C_DONE"):
            with m.If(crc.crc != self.word):
                m.d.sync += self.status.eq(Status.CHECKSUM)
            with m.Else():
                m.d.sync += self.committed.eq(1)
            m.next = "C_EMIT"
        with m.State("C_EMIT"):
            self.emit_lo(crc.crc)
            m.next = "C_EMIT_HI"
        with m.State("C_EMIT_HI"):
            self.emit(self.held)
            m.next = "FINISH"

    def rates(self):
        """RATES eta u16 per layer: checks, then (core idle) the new multipliers."""
        m, L, ebits = self.m, self.L, self.ebits
        with m.State("RATES"):
            self.start_validating()
            m.d.sync += self.index.eq(0)
            with self.checked((~self.payload_is(size(Command.RATES, self.ex.layout)),
                               Status.SIZE)):
                m.next = "E_LO"
        with m.State("E_LO"):
            self.take()
            m.next = "E_HI"
        with m.State("E_HI"):
            self.take()
            m.d.sync += self.index.eq(self.index + 1)
            last = self.index == L - 1
            with m.If(self.validate):
                self.note_value((self.word >> ebits) != 0)
                m.next = "E_LO"
                with m.If(last):
                    m.d.sync += [self.validate.eq(0), self.index.eq(0)]
                    m.next = "E_IDLE"
            with m.Else():
                m.d.sync += self.eta_reg.eq(Cat(self.eta_reg[ebits:], self.word[:ebits]))
                m.next = "E_LO"
                with m.If(last):
                    self.rates_done()
        with m.State("E_IDLE"):               # (the cursor back to the rates)
            self.seek(self.rates_at())
            with self.values_checked():
                self.when_idle("E_LO")

    def submit(self, state, then):
        """State ``state``: the sample's last beat (with its label) is posted to the core
        (``post_beat``); then ``then``, which waits for the sample's result."""
        m = self.m
        with m.State(state):
            self.post_beat()
            m.next = then

    def rates_at(self):
        """Where the rates start in the frame: RATES' first byte (EPOCH overrides)."""
        return at(Command.RATES, "eta")

    def rates_done(self):
        """The new rates are in place (EPOCH overrides): the reply."""
        self.m.next = "FINISH"

    def samples(self):
        """TRAIN / INFER count u8, samples -> results: checks, then each sample into the core
        and its result into the reply."""
        m, ex, lay = self.m, self.ex, self.ex.layout
        with m.State("SAMPLES"):              # cur = the count
            self.set_field(0)
            self.start_validating()
            m.d.sync += [self.count.eq(self.cur), self.index.eq(0), self.beat_lane.eq(0),
                         # the checks' sums, a cycle ahead (timing: S_CHECKS decides from
                         # registers)
                         self.samples_bytes.eq(_times(self.cur, lay.sample_bytes))]
            if lay.store_samples:   # STORE: past the store, or neither a new set nor its end
                m.d.sync += self.bad_index.eq(self.sidx_high
                                              | (self.sidx + self.cur > lay.store_samples)
                                              | ((self.sidx != 0)
                                                 & (self.sidx != self.filled)))
            self.take()
            m.next = "S_CHECKS"
        # the checks (from registers) registered in S_CHECKS and branched on in S_CHECKED:
        # their compares and priority in front of the next state were 11 LUT levels and
        # carry chains (an iCEBreaker build's critical path); one cycle a sample frame
        checks = self._sample_checks()
        failed = [Signal(name=f"sample_check{k}") for k in range(len(checks))]
        with m.State("S_CHECKS"):
            m.d.sync += [flag.eq(bad) for flag, (bad, _) in zip(failed, checks)]
            m.next = "S_CHECKED"
        with m.State("S_CHECKED"):            # the first that failed, from flip-flops
            with self.checked(*((flag, code) for flag, (_, code) in zip(failed, checks))):
                m.next = "S_X"
        with m.State("S_X"):
            self.take()
            m.next = "S_X_HI"
        with m.State("S_X_HI"):               # word = an input
            self.take()
            last = self.field_last_input
            self.set_field(self.field + 1)
            self.put_x(self.word[:self.xbits], last)
            self.to_store(self.word)
            whole = self.word >> self.ex.plan.fmt.rate_frac   # input_max is 1.0 = 1 << rate_frac
            above = (whole > 1) | ((whole == 1) & (self.word[:self.ex.plan.fmt.rate_frac] != 0))
            self.note_value(self.validate & above)
            m.next = "S_X"
            with m.If(last):
                m.next = "S_LABEL"
            if self.beats > 1:
                with m.Elif(self.beat_full & ~self.validate & ~self.storing):
                    m.next = "S_BEAT"
        if self.beats > 1:
            with m.State("S_BEAT"):           # a whole beat (not the last) to the core
                self.offer_beat()
                with m.If(ex.sample.ready):
                    m.next = "S_X"
        with m.State("S_LABEL"):              # cur = the label
            self.take()
            self.set_field(0)
            m.d.sync += self.label.eq(self.cur)
            with m.If(self.validate | self.storing):   # a sample checked or stored
                m.d.sync += self.index.eq(self.index + 1)
            with m.If(self.validate):
                self.note_value(self.cur >= lay.n_outputs)
                m.next = "S_STEP"
            with m.Elif(self.storing):
                self.to_store(self.cur)
                m.next = "S_STEP"
            with m.Else():
                m.next = "S_SUBMIT"
        self.submit("S_SUBMIT", "S_RESULT")
        with m.State("S_RESULT"):             # the result is read where the core holds it
            with m.If(ex.result.valid):
                self.emit(ex.result.payload.label)
                m.next = "S_OUT"
        self._emit_outputs()
        with m.State("S_STEP"):
            with m.If(self.index == self.count):
                m.next = "FINISH"
                self.stored_up_to()
                with m.If(self.validate):     # second pass: run (or store) the samples
                    m.d.sync += [self.validate.eq(0), self.index.eq(0)]
                    with self.values_checked():
                        m.next = "S_REWIND"
            with m.Else():
                m.next = "S_X"
        with m.State("S_REWIND"):             # the cursor back to the first sample
            first = at(Command.TRAIN, "samples")
            if lay.store_samples:
                first = Mux(self.storing, at(Command.STORE, "samples"), first)
                # the store's address loaded here, where only the state decides (in S_STEP
                # its enable sat behind the count's compare and the pass's branch: 6 LUT
                # levels, an iCEBreaker build's critical path with the inputs in s)
                m.d.sync += self.store_addr.eq(self.store_base())
            self.seek(first)
            m.next = "S_X"

    def _sample_checks(self):
        """TRAIN / INFER's checks in order, and STORE's (its index before the count)."""
        lay, n = self.ex.layout, self.count
        length = self.length
        sample_bytes = self.samples_bytes   # n x the bytes of a sample (SAMPLES)
        train, store = at(Command.TRAIN, "samples"), at(Command.STORE, "samples")
        # (the first check: no count byte, an empty payload. Written as ``length < train`` it
        # built another netlist, which routed at 25.9 MHz on the iCEBreaker against 29.0)
        if not lay.store_samples:
            return ((self.payload_is(0), Status.SIZE),
                    ((n == 0) | (n > lay.max_samples), Status.RANGE),
                    (length != train + sample_bytes, Status.SIZE),
                    (~self.committed, Status.UNCOMMITTED))
        st = self.storing
        return ((Mux(st, length < store, self.payload_is(0)), Status.SIZE),
                ((n == 0) | Mux(st, (n > lay.max_store) | self.bad_index,
                                n > lay.max_samples), Status.RANGE),
                (length != Mux(st, store, train) + sample_bytes, Status.SIZE),
                (~self.committed & ~st, Status.UNCOMMITTED))

    def stored_up_to(self):
        """STORE's second pass is done: the set ends after its last sample."""
        if self.ex.layout.store_samples:
            with self.m.If(self.storing & ~self.validate):
                self.m.d.sync += self.filled.eq(self.sidx + self.count)

    def to_store(self, value):
        """STORE's second pass: ``value`` into the store's next word."""
        if not self.ex.layout.store_samples:
            return
        m, ex = self.m, self.ex
        with m.If(self.storing & ~self.validate):
            m.d.comb += [ex.store_we.eq(1), ex.store_wdata.eq(value)]
            m.d.sync += self.store_addr.eq(self.store_addr + 1)

    def _emit_outputs(self):
        """States appending the offered result's outputs (u16 each, after its class), read
        from the core's result registers by ``field``: the result is taken after the last,
        so the core holds it meanwhile (a stream's payload is stable until taken) and the
        executor keeps no copy (90 flip-flops and their shift on the digits core)."""
        m, ex = self.m, self.ex
        outputs = ex.result.payload.outputs
        n_out = self.ex.layout.n_outputs
        with m.State("S_OUT"):
            self.emit_lo(outputs[self.field[:max(1, (n_out - 1).bit_length())]])
            self.set_field(self.field + 1)
            m.next = "S_OUT_HI"
        with m.State("S_OUT_HI"):
            self.emit(self.held)
            m.next = "S_OUT"
            with m.If(self.field_outputs_done):
                m.d.comb += ex.result.ready.eq(1)
                self.set_field(0)
                m.d.sync += self.index.eq(self.index + 1)
                m.next = "S_STEP"

    def counters(self):
        """COUNTERS: the core's cycles and samples (u32 each), then the counter bank."""
        m, ex = self.m, self.ex
        with m.State("COUNTERS"):
            m.d.sync += self.index.eq(0)
            with self.checked((~self.payload_is(size(Command.COUNTERS)), Status.SIZE)):
                m.next = "K_IDLE"
        with m.State("K_IDLE"):               # the core's counters hold still while it is idle
            self.when_idle("K_BIG")
        big = Array([ex.cycles[:16], ex.cycles[16:], ex.samples[:16],
                     ex.samples[16:]])[self.index[:2]]
        with m.State("K_BIG"):
            self.emit_lo(big)
            m.next = "K_BIG_HI"
        with m.State("K_BIG_HI"):
            self.emit(self.held)
            m.d.sync += self.index.eq(self.index + 1)
            m.next = "K_BIG"
            with m.If(self.index == 3):
                m.d.sync += self.index.eq(0)
                m.next = "B_WAIT"

    def reset(self):
        """RESET: the core's registers, the rates and the counters."""
        m, ex = self.m, self.ex
        with m.State("RESET"):
            with self.checked((~self.payload_is(size(Command.RESET)), Status.SIZE)):
                m.next = "X_IDLE"
        with m.State("X_IDLE"):
            with m.If(~ex.busy & ex.bank_idle):
                m.d.comb += [ex.core_reset.eq(1), ex.bank_clear.eq(1)]
                m.d.sync += self.eta_reg.eq(self.default_eta)
                m.next = "FINISH"


def _times(value, constant: int):
    """``value * constant`` as shifts and adds (no multiplier block for a constant)."""
    terms = [value << k for k in range(constant.bit_length()) if constant >> k & 1]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
