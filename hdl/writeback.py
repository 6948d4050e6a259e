"""The post stages: the tags that travel with every fetch, the adder tree, and the write-back of
every MAC pass's results into the state memories (stages P0 to P4 of hdl/stages.py).

Each fetch of a pass that produces results carries a tag (the pass, whether it is the first or
last fetch of its unit, the unit's index and (lane, word)) down a register chain; the tag at
P0 sees the lanes' accumulators, at P1 a lane's feedback or the adder tree's sum, at P2 the
running sum of a transposed pass, at P3 its narrowed feedback, at P4 its registered result,
each at its index in the core's stage table (``Plan.stages``: with the issue's register B every
post stage comes one edge later; where the tree holds a pipeline register, its sum and the
stages after it come one edge later again: the tags ``t1``, ``t2``, ``t4``). Every write-back runs under its pass's tag and
requests the state memories' ports as a WRITEBACK-tier requester ranked by its pass index
(hdl/arbiter.py); the sequencer builds the write-backs after its FSM, in program order.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .arbiter import Tier, When
from .arith import floor_shift, pick, round_shift
from .stages import bits

__all__ = ["AdderTree", "WriteBack"]


class AdderTree(wiring.Component):
    """The sum of ``n`` signed terms as a balanced tree of two-input adders, each level in
    signals of its own (one carry chain per adder; Yosys would otherwise fold the sum into one
    multi-operand adder built from LUTs). Combinational, or with ``registers`` = 1 a pipeline
    register after the first half of the levels (``levels // 2``): ``sum`` one edge after its
    terms (hdl/stages.py ``tree_registers``)."""

    def __init__(self, n: int, term_bits: int, registers: int = 0):
        assert registers in (0, 1)
        self.n, self.registers = n, registers
        width = term_bits + (n - 1).bit_length()
        super().__init__({**{f"term{i}": In(signed(term_bits)) for i in range(n)},
                          "sum": Out(signed(width))})

    def elaborate(self, platform):
        m = Module()
        values, level = [getattr(self, f"term{i}") for i in range(self.n)], 0
        cut = (self.n - 1).bit_length() // 2 if self.registers else None
        while len(values) > 1:
            if level == cut:   # the pipeline register: every value of this level
                registered = [Signal.like(v, name=f"cut{i}") for i, v in enumerate(values)]
                m.d.sync += [r.eq(v) for r, v in zip(registered, values)]
                values = registered
            pairs = [values[i:i + 2] for i in range(0, len(values), 2)]
            values = []
            for i, pair in enumerate(pairs):
                if len(pair) == 1:
                    values.append(pair[0])
                    continue
                total = Signal(signed(max(len(v) for v in pair) + 1), name=f"tree{level}_{i}",
                               attrs={"keep": 1})
                m.d.comb += total.eq(pair[0] + pair[1])
                values.append(total)
            level += 1
        m.d.comb += self.sum.eq(values[0])
        return m


class WriteBack:
    """Tags, the adder tree and the write-backs of the MAC passes."""

    def __init__(self, b, lanes):
        self.b, self.lanes = b, lanes
        m, fmt, P = b.m, b.fmt, b.P
        tag_bits, self.idx_bits = b.program.pass_bits, b.program.index_bits
        self.stages = stages = b.plan.stages
        self.tag = [dict(op=Signal(tag_bits, name=f"tag{d}_op"),
                         valid=Signal(name=f"tag{d}_valid"), last=Signal(name=f"tag{d}_last"),
                         first=Signal(name=f"tag{d}_first"),
                         index=Signal(self.idx_bits, name=f"tag{d}_index"),
                         lane=Signal(bits(P), name=f"tag{d}_lane"),
                         word=Signal(self.idx_bits, name=f"tag{d}_word"))
                    for d in range(stages.result + 1)]   # tags from F (tag 0) to the last
        for d in range(1, len(self.tag)):
            m.d.sync += [self.tag[d][key].eq(self.tag[d - 1][key]) for key in self.tag[d]]
        # the tag as the sequencer sets it (hdl/passes/walks.py ``tag_fetch``): tag 0, or
        # registered into it (the fetch register, ``Build.ahead``)
        self.fetch_tag = {key: b.ahead(value) for key, value in self.tag[0].items()}
        self.p0, self.p1 = self.tag[stages.post], self.tag[stages.post + 1]
        # the tags of the passes through the tree: its sum, the running sum, the result (the
        # feedback, narrowed at tree.feedback, is registered by the edge before it)
        self.t1, self.t2, self.t4 = (self.tag[s] for s in (stages.sum, stages.running,
                                                          stages.result))
        self.fwd_shift = fmt.forward_shift
        self.drives = []     # each lane's accumulator as a drive (a narrowed potential)
        for p, lane in enumerate(lanes):
            drive = Signal(signed(fmt.potential_bits), name=f"drive{p}")
            m.d.comb += drive.eq(b.narrow(floor_shift(lane.acc, self.fwd_shift)))
            self.drives.append(drive)
        self.lane_results = {}   # per-lane feedback write-back values, built once per kind
        self._drive_registers = None   # the drives registered (``_written_drives``)

    def connect_tree(self):
        """The adder tree over the lanes' accumulators, registered at tag t1 (``tree``; P1, or
        later with the tree's own registers): a row's partial sums (columns layout), one
        product per lane (transposed passes, then the running sum ``fb_acc`` over row groups at
        t2), or a host read. A lane without a row in the group reads a state word that is never
        written (zero): its product is zero."""
        b, m, fmt = self.b, self.b.m, self.b.fmt
        m.submodules.adder_tree = adder = AdderTree(b.P, self.lanes[0].acc_bits,
                                                    self.stages.tree)
        m.d.comb += [getattr(adder, f"term{p}").eq(lane.acc)
                     for p, lane in enumerate(self.lanes)]
        self.tree = Signal(signed(fmt.accumulator_bits))
        m.d.sync += self.tree.eq(adder.sum)
        m.d.comb += b.core.host_rdata.eq(self.tree)
        # a split row's drive: the sum holds its rounding (Round.ROW). A rows-only core reads
        # none; it keeps the rounded sum it had before, unused, which Yosys drops: its
        # netlist then stays the very one its board build was placed from (a change of
        # ABC's mapping moved the iCEBreaker build's Fmax by 1.5 MHz at one seed)
        self.tree_drive = Signal(signed(fmt.potential_bits))
        m.d.comb += self.tree_drive.eq(b.narrow(
            floor_shift(self.tree, self.fwd_shift) if b.plan.splits_rows
            else round_shift(self.tree, self.fwd_shift)))
        self.fb_acc = Signal(signed(b.plan.running_sum_bits))
        with m.If(self.t1["valid"]):
            m.d.sync += self.fb_acc.eq(Mux(self.t1["first"], self.tree,
                                           self.fb_acc + self.tree))

    def at(self, tag, n, last=True):
        """The tag ``tag`` carries a fetch of pass ``n`` (its unit's last, when ``last``)."""
        cond = tag["valid"] & (tag["op"] == n)
        return cond & tag["last"] if last else cond

    def when(self, n, what, cond) -> When:
        """Pass ``n``'s write-back as a requester of a shared port, under ``cond``."""
        return When(Tier.WRITEBACK, n, f"op{n} {self.b.program.passes[n].name} {what}", cond)

    def rows_enabled(self, index, rows):
        """Lanes that hold a row of a ``rows``-row matrix in row group ``index``."""
        return {p: index < len(range(p, rows, self.b.P)) for p in range(self.b.P)}

    def write_drives(self, n, rows, targets):
        """Rows layout: at P0 every lane's accumulator is its row's drive; write it to the
        ``targets`` ((memory, region base)) of row group ``index``: at P0, or with the
        ``drive`` register (hdl/stages.py ``drive_registers``) the drives registered and
        written an edge later, under that stage's tag (``Stages.drive_write``)."""
        tag = self.tag[self.stages.drive_write]
        stage = "P0" if not self.stages.drive else f"P0 + {self.stages.drive}"
        when = self.when(n, f"drives at {stage}", self.at(tag, n))
        drives = self._written_drives()
        for memory, base in targets:
            self.b.state.writes[memory].per_lane(base + tag["index"], dict(enumerate(drives)),
                                                 self.rows_enabled(tag["index"], rows), when)

    def _written_drives(self) -> list:
        """The drives as the write-back writes them: ``drives``, or registered (one
        register per lane, built once for every forward pass)."""
        if not self.stages.drive:
            return self.drives
        if self._drive_registers is None:
            m = self.b.m
            self._drive_registers = [Signal.like(d, name=f"drive_reg{p}", reset_less=True)
                                     for p, d in enumerate(self.drives)]
            m.d.sync += [r.eq(d) for r, d in zip(self._drive_registers, self.drives)]
        return self._drive_registers

    def write_tree_drive(self, n, targets):
        """Columns layout: at t1 the tree holds the row's sum; round, narrow, write it."""
        t1 = self.t1
        when = self.when(n, "tree drive at P1", self.at(t1, n))
        for memory, base in targets:
            self.b.state.writes[memory].shared(base + t1["word"], self.tree_drive, t1["lane"],
                                               when)

    def region(self, memory, k):
        return self.b.smap.base(memory, k)

    def feedback_result(self, feedback, a_val, h_val, role, d_val=None):
        """What the feedback of a hidden unit leaves, and in which memory.

        ``role`` "hold": the feedback itself, in ``h`` (replay: the held feedback of the free
        phase; learned: the ghost output c = Q rho(g)). "free" (learned): Q's error, the free
        feedback minus c, in ``q``. "nudged", ``sweep``: the error rho(u) - rho(a) with
        u = a + feedback (tied, in ``s``) or the nudged rate rho(u) with u = a + (feedback - h)
        (replay, learned, in ``s``); ``dynamics``: one Euler step of the state u (``a_val``,
        in ``a``) toward d + feedback (tied) or d + (feedback - h) (replay), d the drive."""
        b = self.b
        if role == "hold":
            return "h", feedback
        if role == "free":
            return "q", b.narrow(feedback - h_val)
        if b.held:
            feedback = b.narrow(feedback - h_val)
        if b.dynamics:
            return "a", b.euler(a_val, b.narrow(d_val + feedback))
        u = b.narrow(a_val + feedback)
        if b.config.variant == "tied":
            return "s", b.rho(u) - b.rho(a_val)
        return "s", b.rho(u)

    def _lane_values(self, role):
        """Each lane's feedback of a per-lane pass, and the result it leaves (built once per
        role): the narrowed feedback registered at P0, the result at P1."""
        if role not in self.lane_results:
            b, m, fmt = self.b, self.b.m, self.b.fmt
            feedback = [Signal(signed(fmt.potential_bits), name=f"lane_feedback{p}")
                        for p in range(b.P)]
            m.d.sync += [f.eq(b.narrow(floor_shift(lane.acc, fmt.feedback_shift)))
                         for f, lane in zip(feedback, self.lanes)]
            values = {}
            for p, bank in enumerate(b.state.banks):
                h_val = bank.h_rdata if b.held else 0
                d_val = bank.d_rdata if b.dynamics else None
                memory, value = self.feedback_result(feedback[p], bank.a_rdata, h_val, role,
                                                     d_val)
                values[p] = Signal(value.shape(), name=f"lane_result{p}_{role}")
                m.d.comb += values[p].eq(value)
            self.lane_results[role] = memory, values
        return self.lane_results[role]

    def write_lanes(self, n, k, units, role):
        """Write-back of a pass whose lanes each end with one unit's feedback (random
        feedback, transposed passes over split rows, ghost outputs): at P0 every lane's
        narrowed feedback is registered and its unit's a (and h, d) fetched; at P1 the result
        is written to unit ``index * P + lane`` of layer k."""
        b, p0, p1 = self.b, self.p0, self.p1
        memory, values = self._lane_values(role)
        # (the free feedback reads only h: its fetches still read a for their operands)
        if role != "hold":
            fetch = self.when(n, "unit words at P0", self.at(p0, n))
            if role == "nudged":
                b.state.read("a", self.region("a", k) + p0["index"], when=fetch)
                if b.dynamics:
                    b.state.read("d", self.region("d", k) + p0["index"], when=fetch)
            if b.held:
                b.state.read("h", self.region("h", k) + p0["index"], when=fetch)
        b.state.writes[memory].per_lane(self.region(memory, k) + p1["index"], values,
                                        self.rows_enabled(p1["index"], units),
                                        self.when(n, "feedback at P1", self.at(p1, n)))

    def write_tree(self, n, k, role):
        """Write-back of a transposed pass through the adder tree: t1 (P1) tree; t2 (P2)
        running sum (fb_acc, ``Plan.running_sum_bits`` wide), fetch a (and h, d) of the unit; t3 (P3) narrowed feedback, a and
        h registered, the result computed; t4 (P4) the result registered, write s (or h, q,
        a)."""
        b, m, fmt = self.b, self.b.m, self.b.fmt
        t1, t2, t4 = self.t1, self.t2, self.t4
        feedback = Signal(signed(fmt.potential_bits), name=f"feedback{n}")
        m.d.sync += feedback.eq(b.narrow(round_shift(self.fb_acc, fmt.feedback_shift)))
        if role != "hold":
            one = t1["lane"] if b.dynamics else None   # (only dynamics writes what it reads)
            fetch = self.when(n, "unit words at P1", self.at(t1, n))
            if role == "nudged":
                b.state.read("a", self.region("a", k) + t1["word"], one, when=fetch)
                if b.dynamics:
                    b.state.read("d", self.region("d", k) + t1["word"], one, when=fetch)
            if b.held:
                b.state.read("h", self.region("h", k) + t1["word"], one, when=fetch)
        b.issue.select_a(t1["lane"], self.when(n, "a word at P1", self.at(t1, n, last=False)))
        # the element pipeline's word at E1 (``picked_a``, but in the units of a walk that
        # takes the output's drives from the accumulators, which hold the select): registered
        # as the element pipeline's is, so synthesis keeps one register for both
        a_val = Signal.like(b.issue.picked_a, name=f"post_a{n}")
        m.d.sync += a_val.eq(b.element.a)
        h_val = self._registered("h", t2["lane"], n) if b.held else 0
        d_val = self._registered("d", t2["lane"], n) if b.dynamics else None
        memory, value = self.feedback_result(feedback, a_val, h_val, role, d_val)
        result = Signal(value.shape(), name=f"post_value{n}")   # registered at P4
        m.d.sync += result.eq(value)
        b.state.writes[memory].shared(self.region(memory, k) + t4["word"], result, t4["lane"],
                                      self.when(n, "result at P4", self.at(t4, n)))

    def _registered(self, memory, lane, n):
        """The word of ``memory`` read in bank ``lane``, registered."""
        b = self.b
        value = Signal(signed(b.width), name=f"post_{memory}{n}")
        b.m.d.sync += value.eq(pick(b.m, b.state.rdata(memory), lane, f"picked_{memory}{n}"))
        return value
