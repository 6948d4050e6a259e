"""The command executor of the host link: takes checked frames from the framer's ring, runs
them on the core and writes one reply each into the sender's slots (docs/protocol.md).

The rules are boards/host/fake.py's ``ReferenceExecutor``, one for one: IDENTIFY starts a session;
a sequence number found in the reply cache resends the cached reply (same CRC) or is refused
as DUPLICATE; any other number but the next is refused as SEQUENCE; a command's checks
(size, range, value, commit state) all pass before it touches the core, and writes, reads,
rates and resets wait until the core is idle. Reply slot ``w`` is the cache entry of its
request; replies go out in execution order.

The frame is read through a cursor: ``cur`` is always the frame byte at ``ptr`` (the slot's
read address is the cursor's next position), ``take`` steps past it and shifts it into
``sh``, so after taking a word's low byte the word is ``Cat(sh[8:], cur)`` with no wait
state. Commands whose checks need the whole frame (WRITE, RATES, TRAIN, INFER) run their
states twice: a first pass that only checks, then a second that applies.
"""

from contextlib import contextmanager, nullcontext

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.config import Config
from ghostfpga.hdl.core import _bits, result_layout, sample_layout
from ghostfpga.hdl.plan import Plan

from .commands import P0, CommandStates, size
from .stored import StoredStates
from ..protocol import HEADER_BYTES, N_COUNTERS, REPLY_BIT, Command, LinkLayout, Reject, Status

__all__ = ["Executor"]


class Executor(wiring.Component):
    """Executes frames for ``config``'s core; see the module docstring. ``identity_base`` is
    the counter bank's first identity word, ``identity_words`` their count."""

    def __init__(self, config: Config, identity_base: int, identity_words: int):
        self.config = config
        self.plan = plan = Plan(config)
        self.layout = lay = LinkLayout(config)
        self.identity_base, self.identity_words = identity_base, identity_words
        N, S = lay.frames, lay.slot_bytes
        fmt = plan.fmt
        super().__init__({
            # framer
            "available": In(1), "tail": In(range(N)), "length": In(range(S + 1)),
            "raddr": Out(range(S)), "rdata": In(8), "release": Out(1),
            # sender
            "waddr": Out(range(N * S)), "wdata": Out(8), "we": Out(1), "push": Out(1),
            "push_slot": Out(range(N)), "queued": In(N),
            # counter bank
            "events": Out(N_COUNTERS), "bank_idle": In(1), "bank_clear": Out(1),
            "bank_raddr": Out(7), "bank_rdata": In(16),
            # core
            "sample": Out(stream.Signature(sample_layout(config))),
            "result": In(stream.Signature(result_layout(config))),
            "host_lane": Out(_bits(plan.lanes)), "host_addr": Out(_bits(plan.depth)),
            "host_write": Out(1), "host_wdata": Out(fmt.weight_bits),
            "host_rdata": In(fmt.weight_bits),
            "eta": Out(data.ArrayLayout(unsigned(fmt.eta_bits), config.n_layers)),
            "busy": In(1), "cycles": In(32), "samples": In(32),
            "core_reset": Out(1),
        } | ({
            # the on-board training set
            "store_addr": Out(range(max(lay.store_words, 2))),
            "store_wdata": Out(lay.store_width), "store_we": Out(1),
            "store_rdata": In(lay.store_width),
        } if lay.store_samples else {}))

    def elaborate(self, platform):
        m = Module()
        b = _Build(self, m)
        # (a state machine that holds still while its frame byte is on its way: _cursor)
        with m.If(~b.stall) if b.registered_read else nullcontext(), m.FSM():
            b.header()
            b.dispatch()
            b.bank_words()
            b.write()
            b.read()
            b.commit()
            b.rates()
            b.samples()
            b.counters()
            b.reset()
            if self.layout.store_samples:
                b.store()
                b.epochs()
            b.finish()
        return m


class _Build(StoredStates, CommandStates):
    """The executor's registers, its frame cursor and reply writer, and its states: the
    frame-level ones here, one method per command in boards/gateware/commands.py (called inside the
    FSM)."""

    def __init__(self, ex: Executor, m: Module):
        self.ex, self.m = ex, m
        self.registered_read = ex.plan.family == "ecp5"   # the slot RAM's byte (_cursor)
        # WRITE's and READ's range checks from registers, in a state of their own (W_SPAN,
        # R_SPAN), on the ECP5: the frame word's sum and compare into the check, placed
        # across the device, was the ULX3S digits build's critical path (12.7 ns). On the
        # iCE40 the two states cost more in the state machine's decode than the sum does
        # (the iCEBreaker build missed 33 MHz at seeds 1 to 3 with them: docs/boards.md)
        self.span_state = ex.plan.family == "ecp5"
        cfg, plan, lay = ex.config, ex.plan, ex.layout
        fmt = plan.fmt
        self.N, self.S, self.L = lay.frames, lay.slot_bytes, cfg.n_layers
        self.slot_bits = (self.S - 1).bit_length()
        self.ebits, self.xbits = fmt.eta_bits, fmt.rate_frac + 1
        # the frame: header fields, and the payload length from the framer
        self.cmd, self.seq, self.req_crc = Signal(8), Signal(8), Signal(16)
        # the frame's length from a flip-flop: the framer's length is its slots' lengths
        # selected by its tail, and the compares on it sat behind that select in front of the
        # next state (an iCEBreaker build's critical path). The tail slot holds still from
        # the IDLE that sees it to the release, so the copy is right from H_CMD on
        self.length = Signal.like(ex.length)
        m.d.sync += self.length.eq(ex.length)
        self.status = Signal(range(max(Status) + 1))
        self.cached = Signal()                # this frame's reply enters the cache
        most = max(lay.max_write, 255)
        self.index = Signal(range(most + 1))  # the word, sample or bank word being handled
        self.count = Signal(range(most + 1))  # words or samples of this frame
        self.field = Signal(range(max(lay.n_inputs, lay.n_outputs) + 1))
        self._field_flags()
        self.validate = Signal()              # first pass: checks only
        self.value_bad = Signal()             # a value of this first pass is out of range
        self.held = Signal(8)                 # a byte kept for the next cycle
        self.storing = Signal()               # a STORE frame (its samples go to the store)
        self.samples_bytes = Signal(range(255 * lay.sample_bytes + 1))   # count x sample
        self.bad_index = Signal()             # STORE: index + count beyond the store, or the
        #                                       index neither 0 nor the set's end
        self._cursor()
        self._reply_writer()
        self._session()
        self._core_ports()
        if lay.store_samples:
            self._store_ports()

    # -- shared machinery ------------------------------------------------------------------
    def _cursor(self):
        """The frame cursor. Every state steps it (``take``) or moves it (``seek``) whatever
        its conditions, so the slot RAM's read address is a function of the state alone:
        a seek that depends on a check or a count sat behind them and the state decode, 9
        LUT levels into the read address (the iCEBreaker build's critical path); where a
        pass ends and the next rereads the frame, the seek is in the state it waits in
        (W_IDLE, E_IDLE) or a state of its own (S_REWIND)."""
        m, ex = self.m, self.ex
        self.ptr = Signal(range(self.S))
        self.ptr_next = Signal(range(self.S))
        self.sh = Signal(16)                  # the last two bytes taken, the later on top
        # the states only raise flags (``take``, ``seek``): each flag is a function of the
        # state's bits alone, and the next position one select after them, so the state
        # decode meets ``ptr + 1`` (computed beside it) in a few LUT levels instead of a
        # select of every state's choice in the state machine's priority order (9 LUT
        # levels into the slot RAM's read address: the iCEBreaker build's critical path)
        self.taking, self.seeking = Signal(), Signal()
        self.seek_to = Signal(range(self.S))
        m.d.comb += [self.ptr_next.eq(Mux(self.seeking, self.seek_to,
                                          Mux(self.taking, self.ptr + 1, self.ptr))),
                     ex.raddr.eq(self.ptr_next)]
        m.d.sync += self.ptr.eq(self.ptr_next)
        self.cur = ex.rdata                   # the byte at ptr
        # on the ECP5 the slot RAM's byte reaches the checks through a flip-flop: the
        # DP16KD's 5.8 ns clock-to-out and the route from wherever the placer puts it, then
        # a check's carry chain into its flag, were the ULX3S MNIST build's critical path
        # (16.4 ns). The byte at the new position is then in ``cur`` a cycle after the
        # cursor moves, and the state machine holds still for that cycle (``stall``)
        if self.registered_read:
            self.cur, self.stall = Signal(8, name="cur"), Signal(name="stall")
            m.d.sync += [self.cur.eq(ex.rdata), self.stall.eq(self.taking | self.seeking)]
        with m.If(self.taking):
            m.d.sync += self.sh.eq(Cat(self.sh[8:], self.cur))
        self.word = Cat(self.sh[8:], self.cur)   # the word whose low byte was just taken

    def _field_flags(self):
        """``field``'s comparisons the state machine branches on, as registers loaded with
        ``field`` (from ``field_next``), so no comparison of the widely fanned-out counter
        sits in front of the next state (timing)."""
        m, lay = self.m, self.ex.layout
        self.field_next = Signal.like(self.field)
        self.field_last_input = Signal(init=int(lay.n_inputs == 1))   # field = n_0 - 1
        self.field_outputs_done = Signal(init=int(lay.n_outputs == 0))   # field = n_outputs
        m.d.comb += self.field_next.eq(self.field)
        m.d.sync += [self.field.eq(self.field_next),
                     self.field_last_input.eq(self.field_next == lay.n_inputs - 1),
                     self.field_outputs_done.eq(self.field_next == lay.n_outputs)]

    def set_field(self, value):
        """``field`` becomes ``value`` at the next clock edge (with its flags)."""
        self.m.d.comb += self.field_next.eq(value)

    def take(self):
        """Step past ``cur`` (its byte shifts into ``sh``)."""
        self.m.d.comb += self.taking.eq(1)

    def seek(self, addr):
        """Move the cursor to ``addr`` (no state both takes and seeks)."""
        self.m.d.comb += [self.seeking.eq(1), self.seek_to.eq(addr)]

    def _reply_writer(self):
        self.w = Signal(range(self.N))        # the reply slot of this frame
        self.out_pos = Signal(range(self.S + 1))
        self.emit_byte = Signal(8)
        self.emitting = Signal()
        ex = self.ex
        with self.m.If(self.emitting):
            self.m.d.comb += [ex.we.eq(1), ex.wdata.eq(self.emit_byte),
                              ex.waddr.eq(self._slot_addr(self.out_pos[:self.slot_bits]))]
            self.m.d.sync += self.out_pos.eq(self.out_pos + 1)

    def _slot_addr(self, offset):
        return Cat(offset, self.w) if self.N > 1 else offset

    def emit(self, value):
        """Append the byte ``value`` to the reply."""
        self.m.d.comb += [self.emitting.eq(1), self.emit_byte.eq(value)]

    def emit_lo(self, value):
        """Append the low byte of the 16-bit ``value``, keeping its high byte in ``held``."""
        self.emit(value[:8])
        self.m.d.sync += self.held.eq(value[8:16])

    def fail(self, code):
        """End the command with status ``code``: through a state of its own, so that only
        state decoding (not the checks) drives the status register (timing)."""
        self.m.next = f"FAIL_{Status(code).name}"

    @contextmanager
    def checked(self, *tests):
        """``(bad, status)`` pairs in order: fail with the first bad one; the body runs when
        all passed."""
        m = self.m
        for k, (bad, code) in enumerate(tests):
            with (m.If if k == 0 else m.Elif)(bad):
                self.fail(code)
        with m.Else():
            yield

    def start_validating(self):
        """The command's first pass starts: it only checks."""
        self.m.d.sync += [self.validate.eq(1), self.value_bad.eq(0)]

    def note_value(self, bad):
        """A value check of the first pass: remembered in ``value_bad``, and the pass fails
        with VALUE where it ends, from that register, rather than at the value (whose byte
        comes straight from the frame's RAM: timing). The reply is the same: a pass that only
        checks changes nothing, and VALUE is the last check of every command that has one."""
        self.m.d.sync += self.value_bad.eq(self.value_bad | bad)

    def values_checked(self):
        """Where a checking pass ends: fail with VALUE if ``note_value`` saw a bad value; the
        body runs otherwise."""
        return self.checked((self.value_bad, Status.VALUE))

    def payload_is(self, n: int):
        """The frame's payload has ``n`` bytes (compared on the framer's length, so no
        subtraction sits in the path)."""
        return self.length == HEADER_BYTES + n

    def when_idle(self, state):
        with self.m.If(~self.ex.busy):
            self.m.next = state

    def _session(self):
        m, N = self.m, self.N
        self.synced = Signal()
        self.expected = Signal(8)
        self.cache_valid = Signal(N)
        self.cache_seq = [Signal(8, name=f"cache_seq{k}") for k in range(N)]
        self.cache_crc = [Signal(16, name=f"cache_crc{k}") for k in range(N)]
        # The session's tests of the frame's sequence number, from flip-flops: ``seq`` is set
        # in H_SEQ, two states before DISPATCH reads them, and the cache and ``expected``
        # change only where a command ends, so each is registered as it is computed (the
        # cache's compare and select into DISPATCH's branch were 8 LUT levels into the state
        # machine: an iCEBreaker build's critical path); a duplicate's CRC is compared in a
        # state of its own (DUPLICATE).
        self.hit, self.hit_slot, self.hit_crc = Signal(), Signal(range(N)), Signal(16)
        self.unexpected = Signal()            # seq is not the one expected
        hit, hit_slot, hit_crc = Signal(), Signal(range(N)), Signal(16)
        for k in reversed(range(N)):
            with m.If(self.cache_valid[k] & (self.cache_seq[k] == self.seq)):
                m.d.comb += [hit.eq(1), hit_slot.eq(k), hit_crc.eq(self.cache_crc[k])]
        m.d.sync += [self.hit.eq(hit), self.hit_slot.eq(hit_slot), self.hit_crc.eq(hit_crc),
                     self.unexpected.eq(self.seq != self.expected)]
        # the cached reply's request CRC against this frame's, registered too: req_crc is set
        # in H_CRC_LO and hit_crc a state after seq, so the flag is right in DUPLICATE (its
        # 16-bit compare in front of the next state was an iCEBreaker build's critical path)
        self.crc_differs = Signal()
        m.d.sync += self.crc_differs.eq(self.hit_crc != self.req_crc)

    def _core_ports(self):
        m, ex, cfg, plan = self.m, self.ex, self.ex.config, self.ex.plan
        fmt, lay = plan.fmt, self.ex.layout
        self.committed = Signal(init=1)
        self.default_eta = sum(eta << (k * self.ebits)
                               for k, eta in enumerate(fmt.etas(cfg.lr_at(0), cfg.beta)))
        self.eta_reg = Signal(self.ebits * self.L, init=self.default_eta)
        # the sample goes to the core as beats of one input per lane (hdl/intake.py): the
        # beat being gathered, and its next lane
        x_layout = sample_layout(cfg)["x"].shape
        self.per_beat = x_layout.length
        self.x_beat = Signal(x_layout)
        self.beat_lane = Signal(range(self.per_beat))
        self.beat_full = self.beat_lane == self.per_beat - 1
        # a sample of more than one beat: the beats before its last go to the core in their
        # own state (S_BEAT, T_BEAT), which waits for the port's ``ready``
        self.beats = plan.smap.words[0]       # (the intake's count: hdl/intake.py)
        # the sample's last beat is posted: offered from this flip-flop until the core takes
        # it, while the state machine goes on to wait for the sample's result (which the
        # core gives only after taking the sample, so no state rewrites the beat meanwhile).
        # The port's ``ready`` (the write bus of the inputs' memory unclaimed, hdl/intake.py)
        # reaches only this flip-flop, not the state machine's next state (timing)
        self.beat_posted = Signal()
        self.in_beat_state = Signal()         # S_BEAT / T_BEAT: a beat offered from the FSM
        self.label = Signal(_bits(lay.n_outputs))
        self.train = Signal()
        self.lane = Signal(_bits(plan.lanes))
        self.lane_bad = Signal()              # the requested lane is not below P
        self.range_bad = Signal()             # WRITE / READ: lane, words or count out of
        #                                       range (registered a state ahead: timing)
        self.addr = Signal(_bits(plan.depth))
        # the address's word has bits above ``addr``'s (on the ECP5: take_addr)
        self.far = Signal(name="far") if self.span_state else Const(0)
        self.host_write = Signal()            # write the word on ``word`` at ``addr``
        # on the iCE40 the host port's lane, address, write and word leave through
        # flip-flops (the write strobe's decode reached the lanes' RAMs across the device:
        # the iCEBreaker build's critical path), so a read's word comes one edge later than
        # the core's latency; on the ECP5 those registers beside the executor, each driving
        # every lane, left the ULX3S digits build's router far from converging (docs/boards.md)
        registered = plan.family == "ice40"
        self.host_latency = plan.stages.host_read_latency + registered
        self.wait = Signal(range(self.host_latency + 1))   # clock edges since addr changed
        self.rdata16 = Signal(16)             # the host read word, sign-extended
        m.d.comb += [
            ex.eta.as_value().eq(self.eta_reg),
            ex.sample.payload.x.eq(self.x_beat),
            ex.sample.valid.eq(self.beat_posted | self.in_beat_state),
            ex.sample.payload.label.eq(self.label), ex.sample.payload.train.eq(self.train),
            self.rdata16.eq(ex.host_rdata.as_signed()),
        ]
        with m.If(ex.sample.ready):
            m.d.sync += self.beat_posted.eq(0)
        port = m.d.sync if registered else m.d.comb
        port += [ex.host_lane.eq(self.lane), ex.host_addr.eq(self.addr),
                 ex.host_write.eq(self.host_write), ex.host_wdata.eq(self.word[:fmt.weight_bits])]

    def post_beat(self):
        """Offer the sample's last beat (``beat_posted``) until the core takes it."""
        self.m.d.sync += self.beat_posted.eq(1)

    def offer_beat(self):
        """In S_BEAT / T_BEAT: offer a beat before the sample's last; the state waits for
        ``ex.sample.ready``."""
        self.m.d.comb += self.in_beat_state.eq(1)

    def put_x(self, value, last):
        """``value`` (an input) into the beat's next lane; ``last``: it is the sample's
        last input, and the next beat starts at lane 0."""
        m = self.m
        for p in range(self.per_beat):
            with m.If(self.beat_lane == p):
                m.d.sync += self.x_beat[p].eq(value)
        m.d.sync += self.beat_lane.eq(Mux(self.beat_full | last, 0, self.beat_lane + 1))

    def take_addr(self, word):
        """Latch a command's first word address (``addr``) and, on the ECP5, whether
        ``word`` has bits above ``addr``'s, which a lane's address drops (``far``). The
        iCE40 checks the word itself instead (``past_depth``'s ``start``: WRITE's frame
        word, READ's start word in ``sh`` a state later), with no flip-flop (``far`` cost
        the 98 %-full iCEBreaker build its 33 MHz at every seed tried: docs/boards.md)."""
        self.m.d.sync += self.addr.eq(word)
        if self.span_state:
            self.m.d.sync += self.far.eq(word[len(self.addr):] != 0)

    def past_depth(self, n, start=None):
        """The words from the first one's address on, n of them, run past a lane's memory:
        from ``addr`` and ``far`` (``take_addr``'s registers, a state after it), or ``start``
        (the frame's word, in the state that latches it)."""
        depth = self.ex.plan.depth
        if start is None:
            return self.far | (self.addr + n > depth)
        abits = max(1, depth.bit_length())
        return (start[abits:] != 0) | (start[:abits] + n > depth)

    def take_lane(self):
        """Latch the lane number on ``cur`` and step past it."""
        self.m.d.sync += [self.lane.eq(self.cur),
                          self.lane_bad.eq(self.cur >= self.ex.plan.lanes)]
        self.take()

    def wait_read(self):
        """True in the cycle ``host_rdata`` holds the word at ``addr`` (counts ``wait``)."""
        self.m.d.sync += self.wait.eq(self.wait + 1)
        return self.wait == self.host_latency

    # -- states ----------------------------------------------------------------------------
    def header(self):
        """Wait for a frame and a free reply slot; read command, sequence and CRC."""
        m, ex = self.m, self.ex
        with m.State("IDLE"):
            self.seek(0)
            m.d.sync += [self.out_pos.eq(HEADER_BYTES + 1), self.status.eq(Status.OK),
                         self.cached.eq(0)]
            with m.If(ex.available & ~((ex.queued >> self.w) & 1)):
                m.next = "H_CMD"
        with m.State("H_CMD"):
            m.d.sync += self.cmd.eq(self.cur)
            self.take()
            m.next = "H_SEQ"
        with m.State("H_SEQ"):
            m.d.sync += self.seq.eq(self.cur)
            self.seek(self.length)            # the CRC follows the payload
            m.next = "H_CRC"
        with m.State("H_CRC"):
            self.take()
            m.next = "H_CRC_LO"
        with m.State("H_CRC_LO"):
            m.d.sync += self.req_crc.eq(Cat(self.cur, self.sh[8:]))
            self.seek(P0)
            m.next = "DISPATCH"

    def dispatch(self):
        """The session rules, then the command's first state (``cur`` = payload byte 0)."""
        m, ex = self.m, self.ex
        states = {Command.WRITE: "WRITE", Command.READ: "READ", Command.COMMIT: "COMMIT",
                  Command.RATES: "RATES", Command.TRAIN: "SAMPLES", Command.INFER: "SAMPLES",
                  Command.COUNTERS: "COUNTERS", Command.RESET: "RESET"}
        if ex.layout.store_samples:
            states |= {Command.STORE: "STORE", Command.EPOCH: "EPOCH"}
        with m.State("DISPATCH"):
            with m.If(self.cmd == Command.IDENTIFY):
                m.d.sync += [self.cache_valid.eq(0), self.expected.eq(self.seq + 1),
                             self.synced.eq(1), self.index.eq(ex.identity_base)]
                with self.checked((~self.payload_is(size(Command.IDENTIFY)), Status.SIZE)):
                    m.next = "B_WAIT"
            with m.Elif(self.synced & self.hit):
                m.next = "DUPLICATE"
            with m.Elif(self.synced & self.unexpected):
                self.fail(Status.SEQUENCE)
            with m.Else():
                m.d.sync += [self.cached.eq(1),
                             self.train.eq((self.cmd == Command.TRAIN)
                                           | (self.cmd == Command.EPOCH)),
                             self.storing.eq(self.cmd == Command.STORE)]
                if ex.layout.store_samples:
                    m.d.sync += self.epoch.eq(self.cmd == Command.EPOCH)
                with m.Switch(self.cmd):
                    for command, state in states.items():
                        with m.Case(command):
                            m.next = state
                    with m.Default():
                        self.fail(Status.UNKNOWN_COMMAND)
        with m.State("DUPLICATE"):            # the request of a cached reply, again?
            with self.checked((self.crc_differs, Status.DUPLICATE)):
                m.next = "RETRY"
        with m.State("RETRY"):                # resend the cached reply once
            with m.If(~((ex.queued >> self.hit_slot) & 1)):
                m.d.comb += [ex.push.eq(1), ex.push_slot.eq(self.hit_slot)]
            m.d.comb += [ex.release.eq(1), ex.events.eq(1 << Reject.RETRIED)]
            m.next = "IDLE"

    def bank_words(self):
        """IDENTIFY and COUNTERS: counter-bank words ``index`` up to the command's last."""
        m, ex = self.m, self.ex
        last = Mux(self.cmd == Command.IDENTIFY, ex.identity_base + ex.identity_words - 1,
                   N_COUNTERS - 1)
        with m.State("B_WAIT"):
            m.d.comb += ex.bank_raddr.eq(self.index)
            with m.If(ex.bank_idle):
                m.next = "B_WORD"
        with m.State("B_WORD"):               # the word read in B_WAIT
            self.emit_lo(ex.bank_rdata)
            m.next = "B_HI"
        with m.State("B_HI"):
            self.emit(self.held)
            m.d.sync += self.index.eq(self.index + 1)
            m.next = "B_WAIT"
            with m.If(self.index == last):
                m.next = "FINISH"

    def finish(self):
        """The reply's header and status, its cache entry, the next frame."""
        m, ex, N = self.m, self.ex, self.N
        for code in Status:
            if code != Status.OK:
                with m.State(f"FAIL_{code.name}"):
                    m.d.sync += self.status.eq(code)
                    m.next = "FINISH"
        length = self.out_pos - HEADER_BYTES
        fields = [self.cmd | REPLY_BIT, self.seq, length[:8], length[8:16], self.status]
        names = ["FINISH", "F_SEQ", "F_LEN", "F_LEN_HI", "F_STATUS", "F_PUSH"]
        for offset, value in enumerate(fields):
            with m.State(names[offset]):
                m.d.comb += [ex.we.eq(1), ex.wdata.eq(value),
                             ex.waddr.eq(self._slot_addr(Const(offset, self.slot_bits)))]
                m.next = names[offset + 1]
        with m.State("F_PUSH"):
            m.d.comb += [ex.push.eq(1), ex.push_slot.eq(self.w), ex.release.eq(1)]
            with m.Switch(self.status):
                for s in Status:
                    if s != Status.OK:
                        with m.Case(s):
                            m.d.comb += ex.events.eq(1 << Reject[s.name])
            for k in range(N):
                with m.If(self.w == k):
                    m.d.sync += [self.cache_seq[k].eq(self.seq), self.cache_crc[k].eq(self.req_crc)]
            m.d.sync += [self.cache_valid.eq(Mux(self.cached, self.cache_valid | (1 << self.w),
                                                 self.cache_valid & ~(1 << self.w))),
                         self.w.eq(Mux(self.w == N - 1, 0, self.w + 1))]
            with m.If(self.cached):
                m.d.sync += [self.expected.eq(self.seq + 1), self.synced.eq(1)]
            m.next = "IDLE"

