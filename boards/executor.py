"""The command executor of the host link: takes checked frames from the framer's ring, runs
them on the core and writes one reply each into the sender's slots (docs/protocol.md).

The rules are boards/fake.py's ``ReferenceExecutor``, one for one: IDENTIFY starts a session;
a sequence number found in the reply cache resends the cached reply (same CRC) or is refused
as DUPLICATE; any other number but the next is refused as SEQUENCE; a command's checks
(size, range, value, commit state) all pass before it touches the core, and writes, reads,
rates and resets wait until the core is idle. Reply slot ``w`` is the cache entry of its
request; replies go out in execution order.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.crc import catalog
from amaranth.lib.wiring import In, Out

from ghostfpga.config import Config
from ghostfpga.hdl.core import HOST_READ_LATENCY, _bits, result_layout, sample_layout
from ghostfpga.hdl.plan import Plan

from .protocol import HEADER_BYTES, N_COUNTERS, REPLY_BIT, Command, LinkLayout, Reject, Status

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
        })

    def elaborate(self, platform):
        m = Module()
        cfg, plan, lay = self.config, self.plan, self.layout
        fmt = plan.fmt
        N, S, L = lay.frames, lay.slot_bytes, cfg.n_layers
        n0, nL = lay.n_inputs, lay.n_outputs
        slot_bits = (S - 1).bit_length()
        wbits, ebits, xbits = fmt.weight_bits, fmt.eta_bits, fmt.rate_frac + 1

        # -- the frame being executed ----------------------------------------------------------
        cmd, seq = Signal(8), Signal(8)
        plen = Signal(range(S))               # payload bytes (the framer checked the length)
        req_crc = Signal(16)
        ptr = Signal(range(S + 1))           # frame byte being read
        lo = Signal(8)                        # low byte of a word being read
        word = Signal(16)                     # the last word read from the frame
        m.d.comb += self.raddr.eq(ptr)

        # -- session and reply cache --------------------------------------------------------
        synced = Signal()
        expected = Signal(8)
        w = Signal(range(N))                  # the reply slot of this frame
        cache_valid = Signal(N)
        cache_seq = [Signal(8, name=f"cache_seq{k}") for k in range(N)]
        cache_crc = [Signal(16, name=f"cache_crc{k}") for k in range(N)]
        hit = Signal()
        hit_slot = Signal(range(N))
        hit_crc = Signal(16)
        for k in reversed(range(N)):
            with m.If(cache_valid[k] & (cache_seq[k] == seq)):
                m.d.comb += [hit.eq(1), hit_slot.eq(k), hit_crc.eq(cache_crc[k])]
        cached = Signal()                     # this frame's reply enters the cache
        status = Signal(range(max(Status) + 1))

        # -- reply writing -------------------------------------------------------------------
        out_pos = Signal(range(S + 1))
        emit_byte = Signal(8)
        emit = Signal()
        with m.If(emit):
            m.d.comb += [self.we.eq(1), self.wdata.eq(emit_byte),
                         self.waddr.eq(Cat(out_pos[:slot_bits], w) if N > 1 else out_pos)]
            m.d.sync += out_pos.eq(out_pos + 1)

        # -- model, rates, samples -----------------------------------------------------------
        committed = Signal(init=1)
        default_eta = sum(fmt.eta_mantissa(lr / cfg.beta, "lr") << (k * ebits)
                          for k, lr in enumerate(cfg.lr_at(0)))
        eta_reg = Signal(ebits * L, init=default_eta)
        m.d.comb += self.eta.as_value().eq(eta_reg)
        x_reg = Signal(xbits * n0)
        label = Signal(_bits(nL))
        train = Signal()
        m.d.comb += [self.sample.payload.x.as_value().eq(x_reg),
                     self.sample.payload.label.eq(label), self.sample.payload.train.eq(train)]
        res_label = Signal(_bits(nL))
        res_out = Signal(xbits * nL)
        most = max(lay.max_write, lay.max_read, lay.max_samples, self.identity_words,
                   N_COUNTERS, L, 4)
        count = Signal(range(most + 1))       # words, samples
        most = max(most, self.identity_base + self.identity_words)
        index = Signal(range(most + 2))       # the word or sample being handled
        bank_end = Signal(range(most + 2))    # IDENTIFY, COUNTERS: the last bank word + 1
        field = Signal(range(n0 + 1))         # within a sample: inputs, then the label
        validate = Signal()                   # first pass: checks only
        lane = Signal(_bits(plan.lanes))
        lane_bad = Signal()                   # the requested lane is not below P
        addr = Signal(_bits(plan.depth))
        wait = Signal(range(HOST_READ_LATENCY + 1))   # clock edges since ``addr`` changed
        m.d.comb += [self.host_lane.eq(lane), self.host_addr.eq(addr),
                     self.host_wdata.eq(word[:wbits])]
        m.submodules.commit_crc = commit_crc = catalog.CRC16_IBM_3740(data_width=8).create()
        rdata16 = Signal(16)                  # the host read word, sign-extended
        m.d.comb += rdata16.eq(self.host_rdata.as_signed())
        samples_len = Signal(range(S + lay.sample_bytes + 1))   # 1 + count x sample_bytes
        abits = max(1, plan.depth.bit_length())

        def past_depth(start, n):
            """The words start .. start + n - 1 run past a lane's memory."""
            return (start[abits:] != 0) | (start[:abits] + n > plan.depth)

        def read_word(state, then, at=None):
            """States ``state``, ``state_HI``: read the little-endian word at ``ptr`` into
            ``word`` (valid in ``then``), leaving ``ptr`` past it."""
            with m.State(state):
                m.d.sync += ptr.eq(ptr + 1)
                m.next = state + "_HI"
            with m.State(state + "_HI"):
                m.d.sync += [lo.eq(self.rdata), ptr.eq(ptr + 1)]
                m.next = state + "_W"
            with m.State(state + "_W"):
                m.d.sync += word.eq(Cat(lo, self.rdata))
                m.next = then

        def emit_states(state, value, then):
            """States writing the 16-bit ``value`` into the reply, low byte first."""
            with m.State(state):
                m.d.comb += [emit.eq(1), emit_byte.eq(value[:8])]
                m.next = state + "_HI"
            with m.State(state + "_HI"):
                m.d.comb += [emit.eq(1), emit_byte.eq(value[8:16])]
                m.next = then

        def fail(code):
            m.d.sync += status.eq(code)
            m.next = "FINISH"

        def size_then(bad, state, *actions):
            """SIZE when ``bad``, else ``actions`` and on to ``state``."""
            with m.If(bad):
                fail(Status.SIZE)
            with m.Else():
                m.d.sync += list(actions)
                m.next = state

        def idle_core_then(state):
            with m.If(~self.busy):
                m.next = state

        sign_ok = Signal()   # word fits the weight format: bits above it copy its sign
        if wbits < 16:
            top = word[wbits - 1:16]
            m.d.comb += sign_ok.eq((top == 0) | (top == (1 << (17 - wbits)) - 1))
        else:
            m.d.comb += sign_ok.eq(1)

        with m.FSM():
            with m.State("IDLE"):
                m.d.sync += [ptr.eq(0), out_pos.eq(HEADER_BYTES + 1), status.eq(Status.OK),
                             cached.eq(0)]
                with m.If(self.available & ~((self.queued >> w) & 1)):
                    m.next = "H_CMD"
            with m.State("H_CMD"):        # read command, sequence, length and the CRC
                m.d.sync += ptr.eq(1)
                m.next = "H_SEQ"
            with m.State("H_SEQ"):
                m.d.sync += [cmd.eq(self.rdata), ptr.eq(2)]
                m.next = "H_LEN"
            with m.State("H_LEN"):
                m.d.sync += [seq.eq(self.rdata), ptr.eq(3)]
                m.next = "H_LEN_HI"
            with m.State("H_LEN_HI"):
                m.d.sync += [lo.eq(self.rdata), ptr.eq(self.length)]
                m.next = "H_CRC"
            with m.State("H_CRC"):
                m.d.sync += [plen.eq(Cat(lo, self.rdata)), ptr.eq(self.length + 1)]
                m.next = "H_CRC_LO"
            with m.State("H_CRC_LO"):
                m.d.sync += [req_crc[8:].eq(self.rdata)]
                m.next = "H_DONE"
            with m.State("H_DONE"):
                m.d.sync += [req_crc[:8].eq(self.rdata), ptr.eq(HEADER_BYTES)]
                m.next = "DISPATCH"
            with m.State("DISPATCH"):
                with m.If(cmd == Command.IDENTIFY):
                    m.d.sync += [cache_valid.eq(0), expected.eq(seq + 1), synced.eq(1),
                                 index.eq(self.identity_base),
                                 bank_end.eq(self.identity_base + self.identity_words)]
                    size_then(plen != 0, "B_WAIT")
                with m.Elif(synced & hit):
                    with m.If(hit_crc == req_crc):
                        m.next = "RETRY"
                    with m.Else():
                        fail(Status.DUPLICATE)
                with m.Elif(synced & (seq != expected)):
                    fail(Status.SEQUENCE)
                with m.Else():
                    m.d.sync += cached.eq(1)
                    with m.Switch(cmd):
                        with m.Case(Command.WRITE):
                            m.next = "WRITE"
                        with m.Case(Command.READ):
                            m.next = "READ"
                        with m.Case(Command.COMMIT):
                            m.next = "COMMIT"
                        with m.Case(Command.RATES):
                            m.next = "RATES"
                        with m.Case(Command.TRAIN, Command.INFER):
                            m.d.sync += train.eq(cmd == Command.TRAIN)
                            m.next = "SAMPLES"
                        with m.Case(Command.COUNTERS):
                            m.next = "COUNTERS"
                        with m.Case(Command.RESET):
                            m.next = "RESET"
                        with m.Default():
                            fail(Status.UNKNOWN_COMMAND)
            with m.State("RETRY"):        # resend the cached reply once
                with m.If(~((self.queued >> hit_slot) & 1)):
                    m.d.comb += [self.push.eq(1), self.push_slot.eq(hit_slot)]
                m.d.comb += [self.release.eq(1), self.events.eq(1 << Reject.RETRIED)]
                m.next = "IDLE"

            # -- IDENTIFY and COUNTERS: words index .. bank_end - 1 of the counter bank ------
            with m.State("B_WAIT"):
                m.d.comb += self.bank_raddr.eq(index)
                with m.If(self.bank_idle):
                    m.next = "B_WORD"
            with m.State("B_WORD"):
                m.d.sync += [word.eq(self.bank_rdata), index.eq(index + 1)]
                m.next = "B_EMIT"
            emit_states("B_EMIT", word, "B_NEXT")
            with m.State("B_NEXT"):
                with m.If(index == bank_end):
                    m.next = "FINISH"
                with m.Else():
                    m.next = "B_WAIT"

            # -- WRITE: lane, word, values; all checked before the first is written ----------
            with m.State("WRITE"):
                m.d.sync += [count.eq((plen - 3) >> 1), validate.eq(1), index.eq(0)]
                size_then((plen < 5) | ~plen[0], "W_HEAD", ptr.eq(HEADER_BYTES + 1))
            with m.State("W_HEAD"):       # lane arrives now; the word address after it
                m.d.sync += [lane.eq(self.rdata), lane_bad.eq(self.rdata >= plan.lanes)]
                m.next = "W_ADDR"
            read_word("W_ADDR", "W_RANGE")
            with m.State("W_RANGE"):
                m.d.sync += addr.eq(word)
                with m.If(lane_bad | past_depth(word, count)):
                    fail(Status.RANGE)
                with m.Else():
                    m.next = "W_VALUE"
            read_word("W_VALUE", "W_CHECK")
            with m.State("W_CHECK"):
                with m.If(validate & ~sign_ok):
                    fail(Status.VALUE)
                with m.Elif(~validate):
                    m.d.comb += [self.host_write.eq(1)]
                    m.d.sync += [addr.eq(addr + 1), index.eq(index + 1)]
                    m.next = "W_STEP"
                with m.Else():
                    m.d.sync += index.eq(index + 1)
                    m.next = "W_STEP"
            with m.State("W_STEP"):
                with m.If(index == count):
                    with m.If(validate):   # second pass: write the values
                        m.d.sync += [validate.eq(0), index.eq(0), ptr.eq(HEADER_BYTES + 3)]
                        m.next = "W_IDLE"
                    with m.Else():
                        m.d.sync += committed.eq(0)
                        m.next = "FINISH"
                with m.Else():
                    m.next = "W_VALUE"
            with m.State("W_IDLE"):
                idle_core_then("W_VALUE")

            # -- READ: lane, word, count -> words ---------------------------------------------
            with m.State("READ"):
                size_then(plen != 4, "R_LANE", ptr.eq(HEADER_BYTES + 1))
            with m.State("R_LANE"):
                m.d.sync += [lane.eq(self.rdata), lane_bad.eq(self.rdata >= plan.lanes)]
                m.next = "R_ADDR"
            read_word("R_ADDR", "R_COUNT")
            with m.State("R_COUNT"):       # ptr is at the count byte: its data is next cycle
                m.next = "R_RANGE"
            with m.State("R_RANGE"):
                m.d.sync += [addr.eq(word), count.eq(self.rdata), index.eq(0), wait.eq(0)]
                with m.If((self.rdata == 0) | (self.rdata > lay.max_read) |
                          lane_bad | past_depth(word, self.rdata)):
                    fail(Status.RANGE)
                with m.Else():
                    m.next = "R_IDLE"
            with m.State("R_IDLE"):
                idle_core_then("R_WAIT")
            with m.State("R_WAIT"):
                m.d.sync += wait.eq(wait + 1)
                with m.If(wait == HOST_READ_LATENCY):
                    m.d.sync += [word.eq(rdata16), index.eq(index + 1)]
                    m.next = "R_EMIT"
            emit_states("R_EMIT", word, "R_NEXT")
            with m.State("R_NEXT"):
                m.d.sync += [addr.eq(addr + 1), wait.eq(0)]
                with m.If(index == count):
                    m.next = "FINISH"
                with m.Else():
                    m.next = "R_WAIT"

            # -- COMMIT: CRC of every word of every lane against the host's -------------------
            with m.State("COMMIT"):
                size_then(plen != 2, "C_CRC", lane.eq(0), addr.eq(0), wait.eq(0))
            read_word("C_CRC", "C_IDLE")
            with m.State("C_IDLE"):
                m.d.comb += commit_crc.start.eq(1)
                idle_core_then("C_WAIT")
            with m.State("C_WAIT"):       # the word's high byte into the CRC, then its low
                m.d.sync += wait.eq(wait + 1)
                with m.If(wait == HOST_READ_LATENCY):
                    m.d.comb += [commit_crc.valid.eq(1), commit_crc.data.eq(rdata16[8:])]
                    m.d.sync += [wait.eq(0), lo.eq(rdata16[:8])]
                    m.next = "C_LO"
                    with m.If(addr == plan.depth - 1):
                        m.d.sync += [addr.eq(0), lane.eq(lane + 1)]
                        with m.If(lane == plan.lanes - 1):
                            m.next = "C_LO_LAST"
                    with m.Else():
                        m.d.sync += addr.eq(addr + 1)
            for state, then in (("C_LO", "C_WAIT"), ("C_LO_LAST", "C_DONE")):
                with m.State(state):
                    m.d.comb += [commit_crc.valid.eq(1), commit_crc.data.eq(lo)]
                    m.next = then
            with m.State("C_DONE"):
                with m.If(commit_crc.crc != word):
                    m.d.sync += status.eq(Status.CHECKSUM)
                with m.Else():
                    m.d.sync += committed.eq(1)
                m.next = "C_EMIT"
            emit_states("C_EMIT", commit_crc.crc, "FINISH")

            # -- RATES: one multiplier per layer ---------------------------------------------
            with m.State("RATES"):
                m.d.sync += [index.eq(0), validate.eq(1)]
                size_then(plen != 2 * L, "E_WORD")
            read_word("E_WORD", "E_CHECK")
            with m.State("E_CHECK"):
                m.d.sync += index.eq(index + 1)
                with m.If(validate & (word >> ebits != 0)):
                    fail(Status.VALUE)
                with m.Else():
                    with m.If(~validate):
                        m.d.sync += eta_reg.eq(Cat(eta_reg[ebits:], word[:ebits]))
                    with m.If(index == L - 1):
                        with m.If(validate):
                            m.d.sync += [validate.eq(0), index.eq(0), ptr.eq(HEADER_BYTES)]
                            m.next = "E_IDLE"
                        with m.Else():
                            m.next = "FINISH"
                    with m.Else():
                        m.next = "E_WORD"
            with m.State("E_IDLE"):
                idle_core_then("E_WORD")

            # -- TRAIN / INFER: count, samples -> results ------------------------------------
            with m.State("SAMPLES"):
                m.d.sync += [ptr.eq(HEADER_BYTES + 1), validate.eq(1), index.eq(0),
                             field.eq(0)]
                size_then(plen == 0, "S_COUNT")
            with m.State("S_COUNT"):
                m.d.sync += [count.eq(self.rdata), samples_len.eq(1)]
                with m.If((self.rdata == 0) | (self.rdata > lay.max_samples)):
                    fail(Status.RANGE)
                with m.Else():
                    m.next = "S_LEN"
            with m.State("S_LEN"):         # samples_len = 1 + count x sample_bytes, by adding
                m.d.sync += [samples_len.eq(samples_len + lay.sample_bytes),
                             index.eq(index + 1)]
                with m.If(index == count):
                    m.d.sync += [samples_len.eq(samples_len), index.eq(0)]
                    m.next = "S_CHECKS"
            with m.State("S_CHECKS"):
                with m.If(plen != samples_len):
                    fail(Status.SIZE)
                with m.Elif(~committed):
                    fail(Status.UNCOMMITTED)
                with m.Else():
                    m.next = "S_FIELD"
            with m.State("S_FIELD"):
                with m.If(field == n0):
                    m.d.sync += ptr.eq(ptr + 1)
                    m.next = "S_LABEL"
                with m.Else():
                    m.next = "S_X"
            read_word("S_X", "S_X_CHECK")
            with m.State("S_X_CHECK"):
                m.d.sync += [field.eq(field + 1), x_reg.eq(Cat(x_reg[xbits:], word[:xbits]))]
                with m.If(validate & (word > lay.input_max)):
                    fail(Status.VALUE)
                with m.Else():
                    m.next = "S_FIELD"
            with m.State("S_LABEL"):
                m.d.sync += field.eq(0)
                with m.If(validate & (self.rdata >= nL)):
                    fail(Status.VALUE)
                with m.Elif(validate):
                    m.d.sync += index.eq(index + 1)
                    m.next = "S_STEP"
                with m.Else():
                    m.d.sync += label.eq(self.rdata)
                    m.next = "S_SUBMIT"
            with m.State("S_SUBMIT"):
                m.d.comb += self.sample.valid.eq(1)
                with m.If(self.sample.ready):
                    m.next = "S_RESULT"
            with m.State("S_RESULT"):
                m.d.comb += self.result.ready.eq(1)
                with m.If(self.result.valid):
                    m.d.sync += [res_label.eq(self.result.payload.label),
                                 res_out.eq(self.result.payload.outputs.as_value()),
                                 index.eq(index + 1), field.eq(0)]
                    m.next = "S_EMIT_LABEL"
            with m.State("S_EMIT_LABEL"):
                m.d.comb += [emit.eq(1), emit_byte.eq(res_label)]
                m.next = "S_EMIT"
            emit_states("S_EMIT", res_out[:xbits], "S_EMIT_NEXT")
            with m.State("S_EMIT_NEXT"):
                m.d.sync += [res_out.eq(res_out >> xbits), field.eq(field + 1)]
                with m.If(field == nL - 1):
                    m.d.sync += field.eq(0)
                    m.next = "S_STEP"
                with m.Else():
                    m.next = "S_EMIT"
            with m.State("S_STEP"):
                with m.If(index == count):
                    with m.If(validate):   # second pass: run the samples
                        m.d.sync += [validate.eq(0), index.eq(0), ptr.eq(HEADER_BYTES + 1)]
                        m.next = "S_FIELD"
                    with m.Else():
                        m.next = "FINISH"
                with m.Else():
                    m.next = "S_FIELD"

            # -- COUNTERS: cycles, samples, then every counter --------------------------------
            with m.State("COUNTERS"):
                m.d.sync += index.eq(0)
                size_then(plen != 0, "K_IDLE")
            with m.State("K_IDLE"):        # the core's counters hold still while it is idle
                idle_core_then("K_BIG")
            big = Array([self.cycles[:16], self.cycles[16:], self.samples[:16],
                         self.samples[16:]])[index[:2]]
            emit_states("K_BIG", big, "K_BIG_NEXT")
            with m.State("K_BIG_NEXT"):
                m.d.sync += index.eq(index + 1)
                with m.If(index == 3):
                    m.d.sync += [index.eq(0), bank_end.eq(N_COUNTERS)]
                    m.next = "B_WAIT"
                with m.Else():
                    m.next = "K_BIG"

            # -- RESET: the core's registers, the rates, the counters -------------------------
            with m.State("RESET"):
                size_then(plen != 0, "X_IDLE")
            with m.State("X_IDLE"):
                with m.If(~self.busy & self.bank_idle):
                    m.d.comb += [self.core_reset.eq(1), self.bank_clear.eq(1)]
                    m.d.sync += eta_reg.eq(default_eta)
                    m.next = "FINISH"

            # -- the reply's header and status, its cache entry, the next frame ---------------
            with m.State("FINISH"):
                m.d.comb += [self.we.eq(1), self.wdata.eq(cmd | REPLY_BIT),
                             self.waddr.eq(Cat(Const(0, slot_bits), w) if N > 1 else 0)]
                m.next = "F_SEQ"
            for offset, (state, value, nxt) in enumerate([
                    ("F_SEQ", seq, "F_LEN"), ("F_LEN", (out_pos - HEADER_BYTES)[:8], "F_LEN_HI"),
                    ("F_LEN_HI", (out_pos - HEADER_BYTES)[8:16], "F_STATUS"),
                    ("F_STATUS", status, "F_PUSH")], start=1):
                with m.State(state):
                    m.d.comb += [self.we.eq(1), self.wdata.eq(value),
                                 self.waddr.eq(Cat(Const(offset, slot_bits), w) if N > 1
                                               else offset)]
                    m.next = nxt
            with m.State("F_PUSH"):
                m.d.comb += [self.push.eq(1), self.push_slot.eq(w), self.release.eq(1)]
                with m.Switch(status):
                    for s in Status:
                        if s != Status.OK:
                            with m.Case(s):
                                m.d.comb += self.events.eq(1 << Reject[s.name])
                for k in range(N):
                    with m.If(w == k):
                        m.d.sync += [cache_seq[k].eq(seq), cache_crc[k].eq(req_crc)]
                m.d.sync += [cache_valid.eq(Mux(cached, cache_valid | (1 << w),
                                                cache_valid & ~(1 << w))),
                             w.eq(Mux(w == N - 1, 0, w + 1))]
                with m.If(cached):
                    m.d.sync += [expected.eq(seq + 1), synced.eq(1)]
                m.next = "IDLE"
        return m
