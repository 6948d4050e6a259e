"""The sequencer: one FSM over the program of a sample (hdl/program.py), and its counters.

States: ``idle`` (host reads and writes of weights; it starts a sample once its beats are
in, hdl/intake.py), one state per pass (``op<n>``, its fetch walk; hdl/passes/), a drain
state after a pass the next pass must wait for (``drain<n>``, ``Program.drain(n)`` cycles:
hdl/schedule.py), and ``finish`` (then idle), or, when the next sample is already in at the
end of a training sample, ``chain`` and ``chain_take`` (then its first pass, without the
last learning pass's drain: ``Program.chain_gap``). Each pass's builder (hdl/passes/)
returns its fetch walk, emitted in its state, and its write-back, built after the FSM in
program order; the shared ports rank their requesters (hdl/arbiter.py).
"""

from __future__ import annotations

from amaranth.hdl import Signal, unsigned

from .lane import LaneOp
from .passes import EMITTERS
from .stages import Round, Src, bits, delay

__all__ = ["Counters", "Sequencer"]


class Counters:
    """The walks' counters: row group g, column / unit / step c, each also as (lane, word)
    (g = gw P + gl, c = cw P + cl); the running weight address ``waddr`` and the column base
    of transposed walks; the drain and Euler-step counters; the sample's label and train
    flag; the learning walk's phase; and the core's busy-cycle counter."""

    def __init__(self, b):
        self.m = m = b.m
        P, sizes, cfg = b.P, b.config.layers, b.config
        idx = b.program.index_bits
        max_cols = max(s.cols for s in b.plan.slots.values())
        self.P = P
        self.g = Signal(idx, name="g")
        longest = max(max_cols, max(sizes)) + 3
        self.c = Signal(bits(longest), name="c")
        self.cl, self.cw = Signal(bits(P), name="cl"), Signal(idx, name="cw")
        self.waddr = Signal.like(b.fetch.addr, name="waddr")
        self.col_base = Signal.like(b.fetch.addr, name="col_base")
        longest_drain = max(b.program.drain(n, train) for train in (True, False)
                            for n in b.program.runs(train))
        self.drain = Signal(range(max(longest_drain, 1) + 1), name="drain")
        self.step = Signal(range(max(cfg.steps, 2)), name="step")
        self.label = Signal(unsigned(bits(sizes[-1])), name="label")
        self.train = Signal(name="train")
        # the sequencer's busy (low only in its idle state). With the fetch register the
        # core's ``busy`` comes from registers and holds a cycle longer, for the pipeline's
        # last write (hdl/stages.py): ``out_of_idle``, set as the sequencer leaves idle and
        # cleared as it enters it (``idle_next``), so the state's decode does not reach the
        # host's write enable in every lane across the device (14.2 ns, a ULX3S digits
        # build's critical path at 75 MHz); ``cycles`` counts the sequencer's busy cycles
        self.busy, self.out_of_idle = b.core.busy, None
        if b.plan.stages.fetch:
            self.busy = Signal(name="seq_busy")
            self.out_of_idle = Signal(name="out_of_idle")
            m.d.comb += b.core.busy.eq(self.out_of_idle
                                       | delay(m, self.out_of_idle, 1, "out_of_idle"))
        with m.If(self.busy):
            m.d.sync += b.core.cycles.eq(b.core.cycles + 1)
        self.gl, self.gw = Signal(bits(P), name="gl"), Signal(idx, name="gw")
        self.phase = Signal(2, name="phase")  # learning: 0 ETA of the first row, 1 wait, 2 walk
        self.eta_next = Signal(name="eta_next")   # learning: the next row's ETA is issued

    def idle_next(self, idle: bool):
        """The sequencer enters (``idle``) or leaves its idle state at this edge: with the
        fetch register, ``out_of_idle`` follows it."""
        if self.out_of_idle is not None:
            self.m.d.sync += self.out_of_idle.eq(not idle)

    def _count(self, index, lane, word):
        """index += 1, keeping index = word * P + lane."""
        m = self.m
        m.d.sync += index.eq(index + 1)
        with m.If(lane == self.P - 1):
            m.d.sync += [lane.eq(0), word.eq(word + 1)]
        with m.Else():
            m.d.sync += lane.eq(lane + 1)

    def step_c(self):
        self._count(self.c, self.cl, self.cw)

    def step_g(self):
        self._count(self.g, self.gl, self.gw)

    def reset_c(self):
        self.m.d.sync += [self.c.eq(0), self.cl.eq(0), self.cw.eq(0)]

    def reset_g(self):
        self.m.d.sync += [self.g.eq(0), self.gl.eq(0), self.gw.eq(0)]

    def next_word(self, last_c, last_g, leave):
        """Step c; at the end of c's run step g; after g's last run ``leave()`` the pass."""
        m = self.m
        with m.If(last_c):
            self.reset_c()
            with m.If(last_g):
                self.reset_g()
                leave()
            with m.Else():
                self.step_g()
        with m.Else():
            self.step_c()


class Sequencer:
    """Emits the FSM of ``b.program``, then the write-backs in their order."""

    def __init__(self, b):
        self.b = b

    def state(self, n: int) -> str:
        return f"op{n}" if n < len(self.b.program) else "finish"

    def after(self, n: int, train: bool = True) -> str:
        """The state that follows pass ``n``'s walk in a training sample or an inference
        (``Program.runs``): its drain, or the next pass."""
        program = self.b.program
        if program.drain(n, train):
            return f"drain{n}" if train else f"drain{n}_infer"
        return self.state(program.following(n, train))

    def _skips_after(self, n: int) -> bool:
        """Whether an inference leaves pass ``n`` otherwise than a training sample: for
        another pass (it skips the training-only ones) or after another drain."""
        program = self.b.program
        return n in program.runs(False) and n < program.argmax_pass and (
            program.following(n, False) != n + 1 or program.drain(n, False) != program.drain(n))

    def _go_on(self, n: int, point_next: bool, train: bool = True):
        """To pass ``n``'s drain, or to the next pass when it has none (a matrix pass then
        points the weight address at the next matrix itself)."""
        program = self.b.program
        if point_next or (program.drain(n, train) == 0
                          and program.slot(program.passes[n]) is not None):
            self.start_next(n, train)
        self.b.m.next = self.after(n, train)

    def leave(self, n: int, point_next: bool = False):
        """Leave pass ``n``'s state for its drain, or for the next pass when it has none (a
        matrix pass then points the weight address at the next matrix itself); a learning
        pass always does (``point_next``). An inference ends with the argmax's pass, and
        skips the passes only learning needs. The last pass goes straight to ``chain``
        when the next sample is in and this one's result has been taken
        (``Program.chain_gap``)."""
        b, m, program = self.b, self.b.m, self.b.program
        if self._skips_after(n):
            with m.If(b.count.train):
                self._go_on(n, point_next)
            with m.Else():
                self._go_on(n, point_next, train=False)
            return
        if point_next or (program.drain(n) == 0 and program.slot(program.passes[n]) is not None):
            self.start_next(n)
        following = self.after(n)
        if n == len(program) - 1:
            program.chain_gap()   # (asserts that the chained start is safe)
            m.next = following
            with m.If(b.intake.loaded & ~b.element.result_busy):
                m.next = "chain"
        elif n == program.argmax_pass:
            with m.If(b.count.train):
                m.next = following
            with m.Else():
                m.next = "finish"
        else:
            m.next = following

    def start_next(self, n: int, train: bool = True):
        """Point the running weight address at the matrix of the first pass after ``n``."""
        slot = self.b.program.next_slot(n, train)
        if slot is not None:
            count = self.b.count
            self.b.m.d.sync += [count.waddr.eq(slot.base), count.col_base.eq(slot.base)]

    def emit(self):
        """The FSM (each pass's fetch walk in its state), then the write-backs in program
        order, then every shared port's deferred requesters (hdl/arbiter.py)."""
        b, m = self.b, self.b.m
        m.d.comb += b.count.busy.eq(1)   # low only in the idle state
        writebacks = []
        with m.FSM(init="idle"):
            with m.State("idle"):
                self._idle()
            for n, op in enumerate(b.program):
                built = EMITTERS[op.kind](b, n, op)
                b.state.fetcher = f"op{n} {op.name}"
                with m.State(self.state(n)):
                    built.fetch()
                if built.writeback is not None:
                    writebacks.append(built.writeback)
                if b.program.drain(n):
                    self._drain(n)
                if self._skips_after(n) and b.program.drain(n, False):
                    self._drain(n, train=False)
            with m.State("finish"):
                self._finish("idle")
            with m.State("chain"):             # (the gap Program.chain_gap asks for)
                m.next = "chain_take"
            with m.State("chain_take"):
                self._finish("op0")
                b.intake.take()
        for writeback in writebacks:
            writeback()
        b.element.connect()
        b.state.connect()
        b.issue.a_select.emit()

    def _finish(self, following: str):
        """Count the sample; point the counters and the weight address at the first pass;
        then ``idle``, or (``chain_take``) the next sample's first pass."""
        b = self.b
        b.m.d.sync += b.core.samples.eq(b.core.samples + 1)
        b.count.reset_c()
        b.count.reset_g()
        self.start_next(-1)
        b.m.next = following
        if following == "idle":
            b.count.idle_next(True)

    def _idle(self):
        """Host reads: every lane multiplies its word at host_addr by 1 (the addressed lane)
        or 0; the adder tree's sum is the word, host_read_latency cycles later
        (``Plan.stages``)."""
        b, m, f, core = self.b, self.b.m, self.b.fetch, self.b.core
        m.d.comb += [b.count.busy.eq(0), f.src.eq(Src.HOST), f.addr.eq(core.host_addr),
                     f.first.eq(1), f.round.eq(Round.NONE)]
        m.d.comb += [f.op[p].eq(LaneOp.MAC) for p in range(b.P)]
        with m.If(b.intake.loaded & ~b.element.result_busy):   # (results in order)
            b.intake.take()
            b.count.reset_c()
            b.count.reset_g()
            m.next = "op0"
            b.count.idle_next(False)

    def _drain(self, n: int, train: bool = True):
        """Wait ``Program.drain(n, train)`` cycles for pass n's last write, then start the
        next pass (of an inference: ``Program.runs``)."""
        b, m, count = self.b, self.b.m, self.b.count
        program = b.program
        with m.State(f"drain{n}" if train else f"drain{n}_infer"):
            with m.If(count.drain == program.drain(n, train) - 1):
                m.d.sync += count.drain.eq(0)
                self.start_next(n, train)
                m.next = self.state(program.following(n, train))
            with m.Else():
                m.d.sync += count.drain.eq(count.drain + 1)
