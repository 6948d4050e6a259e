"""Learning passes: the local rule, every weight w += eta x error x presynaptic rate (the lane
arithmetic is in hdl/lane.py: an ETA makes the scaled error e = eta x error, each LEARN adds
e x rate to one weight, rounded and saturated).

``LEARN`` k updates W_k from layer k's error and the rates of layer k - 1 (or x); learned
ghosts: ``LEARN_V`` k updates V_k from V's error rho(a_{k+1}) - rho(g_k) and the rates of layer
k (under dynamics the values saved in the free phase), ``LEARN_Q`` k updates Q_k from Q's error
q_k and the ghosts' rates. By the normalized rule both run in the free phase, V's error is
a_{k+1} - g_k, and their rate is the normalizer's step (hdl/normalizer.py)."""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Const, Mux

from ghostfpga.golden.numerics import Q_STEP_FRAC, V_STEP_FRAC

from ..lane import LaneOp
from ..operands import eta_formats
from ..program import LEARN_KINDS, PassKind
from ..stages import Src
from ..state import RATES
from .build import PassBuild
from .walks import presynaptic, real_columns, row_lanes


@dataclass(frozen=True)
class LearnWalk:
    """A learning pass: the matrix, the learning-rate index (layer k, or L for the ghosts),
    the error source and the memories it is read from ({name: region base}, at the row's
    word), the presynaptic source and its (memory, region) (at the column's word: region a
    layer, or the input "x"; ``Build.addr``), and
    whether the last column's presynaptic rate is the bias 1.0."""

    slot: object
    eta: int
    err: Src
    err_reads: dict
    pre: Src
    pre_reads: tuple
    bias: bool = True
    eta_sel: int = 0   # the learning rate's format (operands.eta_formats)


def learn_walk_of(b, op) -> LearnWalk:
    K, k, smap, L = PassKind, op.layer, b.smap, b.plan.L
    slot = b.program.slot(op)
    # the rates of a: their source follows the port they are read on (``pre_port``)
    rate = Src.PRE_RATE if pre_port(b, "a") == RATES else Src.RATE
    if op.kind == K.LEARN:   # W_k: error of layer k, rates of layer k - 1
        errors = {"s": smap.base("s", k)}   # replay, learned (sweep): and a
        if b.held and not b.dynamics:
            errors["a"] = smap.base("a", k)
        if k == 0:   # the inputs' rates, where they are (``presynaptic``)
            memory, source = presynaptic(b, "x")
            return LearnWalk(slot, k, Src.ERR, errors, rate if memory == "a" else source,
                             (memory, "x"))
        return LearnWalk(slot, k, Src.ERR, errors, rate, ("a", k - 1))
    formats = eta_formats(b)
    sel_v, sel_q = ((formats.index(b.fmt.step_shift(V_STEP_FRAC)),
                     formats.index(b.fmt.step_shift(Q_STEP_FRAC))) if b.normalized else (0, 0))
    if op.kind == K.LEARN_V and b.dynamics and not b.normalized:   # the saved free values
        return LearnWalk(slot, L, Src.ERR_V, {"v": smap.base("v", k)}, Src.RATE_FA,
                         ("fa", k))
    if op.kind == K.LEARN_V:   # V_k: rho(a_{k+1}) - rho(g_k) (normalized: a_{k+1} - g_k),
        return LearnWalk(slot, L, Src.ERR_V, {"a": smap.base("a", k + 1),   # rates of k
                                              "g": smap.base("g", k)},
                         rate, ("a", k), eta_sel=sel_v)
    return LearnWalk(slot, L, Src.ERR_Q, {"q": smap.base("q", k)}, Src.RATE_G,   # Q_k
                     ("g", k), bias=False, eta_sel=sel_q)


def pre_port(b, memory: str) -> str:
    """The read port of a learning walk's presynaptic rates in ``memory``: ``a``'s rates port
    where the core has one (``Plan.rates_port``; the write-back of the pass before may still
    read units' drives on ``a``'s own), else the memory's."""
    return RATES if memory == "a" and b.plan.rates_port else memory


def eta_ahead(b, walk: LearnWalk) -> bool:
    """Whether the walk computes its rows' scaled errors in the ETA lane (lane P - 1), two
    rows ahead, in the last word of a row, where that lane holds no column: a split row
    (columns layout) of at least two words whose last word leaves lane P - 1 idle, an error
    read from ``s`` alone (held variants read it with their rates' port), two rows or more.
    Every lane takes the row's scaled error from the ETA lane as the row starts, so no cycle
    of the walk is an ETA but the first row's."""
    slot, lm = walk.slot, walk.slot.lane_map
    if not lm.by_columns or b.held or set(walk.err_reads) != {"s"}:
        return False
    tail = slot.cols - (lm.chunks - 1) * b.P   # lanes with a column in the last word
    return lm.chunks >= 2 and tail < b.P and slot.rows >= 2


def eta_handed_on(b, n: int) -> LearnWalk | None:
    """The walk of the learning pass that follows learning pass ``n``, where pass ``n``
    issues that walk's first ETA in its own last row (the slot before its last LEARN, as it
    does for each of its other rows), so the pass after it starts with its first LEARN: two
    cycles of its own (its first ETA and the wait) become one of pass ``n``'s. Neither walk
    computes its scaled errors ahead (their ETA lane has no such slot), and the next walk's
    rate is not the normalizer's step (its learning pass waits for the division,
    hdl/schedule.py). None where pass ``n`` hands nothing on."""
    program = b.program
    if n + 1 >= len(program.passes):
        return None
    op, following = program.passes[n], program.passes[n + 1]
    if op.kind not in LEARN_KINDS or following.kind not in LEARN_KINDS:
        return None
    if b.normalized and following.kind in (PassKind.LEARN_V, PassKind.LEARN_Q):
        return None
    walk, after = learn_walk_of(b, op), learn_walk_of(b, following)
    if eta_ahead(b, walk) or eta_ahead(b, after):
        return None
    return after


def eta_handed_in(b, n: int) -> bool:
    """Whether learning pass ``n``'s first ETA was issued by the pass before it
    (``eta_handed_on``): its walk starts with its first LEARN."""
    return n > 0 and eta_handed_on(b, n - 1) is not None


def uses_eta_ahead(b) -> bool:
    """Whether any learning pass of the program computes its scaled errors ahead
    (``eta_ahead``): then the lanes take a shared scaled error, and lane P - 1 is the ETA
    lane."""
    return any(eta_ahead(b, learn_walk_of(b, op)) for op in b.program
               if op.kind in LEARN_KINDS)


def emit_learn(b, n, op) -> PassBuild:
    """A learning pass writes its weights in the lanes (no post-stage write-back)."""
    walk = learn_walk_of(b, op)
    return PassBuild(lambda: _learn(b, n, walk))


def _set_rate(b, walk):
    """The fetch's learning rate (its index, and its format where there are several) for an
    ETA or LEARN of ``walk``."""
    m = b.m
    m.d.comb += b.fetch.eta.eq(walk.eta)
    if b.normalized:
        m.d.comb += b.fetch.eta_sel.eq(walk.eta_sel)


def _learn(b, n, walk: LearnWalk):
    """Per row group (rows layout) or row (columns layout) one ETA and one LEARN per word.
    An ETA must issue two cycles before the first LEARN that uses it, so the next row's ETA
    goes just before the last LEARN of the current row: one extra cycle per row (replay and
    learned ghosts too: their ETA reads the row's ``a`` words in its own cycle, and the
    LEARNs read the rates' in theirs). That ETA carries the last LEARN's address: the lanes
    read its weight in the ETA's read cycle and hold it through the next, where the word
    before it is written (hdl/lane.py). A walk
    that computes its scaled errors ahead (``eta_ahead``) has no such slot: after the first
    row's ETA and the wait (where the ETA lane computes the second row's), one LEARN a
    cycle. A pass that follows one handing its first ETA on (``eta_handed_on``) starts
    with its first LEARN; the pass that hands it on issues it in its last row's slot."""
    m, count = b.m, b.count
    lm = walk.slot.lane_map
    length = lm.chunks if lm.by_columns else walk.slot.cols
    ahead = eta_ahead(b, walk)
    handing = eta_handed_on(b, n)
    received = eta_handed_in(b, n)
    m.d.comb += b.fetch.learn.eq(1)
    _set_rate(b, walk)
    next_gl = Mux(count.gl == b.P - 1, 0, count.gl + 1)
    next_gw = Mux(count.gl == b.P - 1, count.gw + 1, count.gw)
    rows = walk.slot.rows if lm.by_columns else walk.slot.groups

    def words():
        """The walk's LEARNs, with the ETA slots between its rows."""
        if ahead:   # every lane takes the row's scaled error as it starts; in a row's last
            # word the ETA lane computes the scaled error of the row after the next
            _issue_learn(b, walk, length)
            m.d.comb += b.fetch.take.eq((count.c == 0) & (count.g != 0))
            lane2 = Mux(count.gl >= b.P - 2, count.gl + 2 - b.P, count.gl + 2)
            word2 = Mux(count.gl >= b.P - 2, count.gw + 1, count.gw)
            with m.If((count.c == length - 1) & (count.g < rows - 2)):
                _issue_eta_ahead(b, walk, lane2, word2)
            _advance(b, n, length, rows)
            return
        slot = (count.c == length - 1) & ~count.eta_next
        with m.If(slot if handing else slot & (count.g != rows - 1)):
            if handing:   # the last row's slot: the next pass's first ETA
                with m.If(count.g == rows - 1):
                    zero = Const(0, len(count.g))
                    _issue_eta(b, handing, zero, zero[:len(count.gl)], zero)
                    _set_rate(b, handing)
                with m.Else():
                    _issue_eta(b, walk, count.g + 1, next_gl, next_gw)
            else:
                _issue_eta(b, walk, count.g + 1, next_gl, next_gw)
            m.d.comb += b.fetch.addr.eq(count.waddr)   # (the last LEARN's, read ahead)
            m.d.sync += count.eta_next.eq(1)
        with m.Else():
            _issue_learn(b, walk, length)
            _advance(b, n, length, rows, 2 if handing else 0)

    if received:   # (its first ETA issued by the pass before: phase 2 from the start)
        words()
        return
    with m.If(count.phase == 0):
        _issue_eta(b, walk, count.g, count.gl, count.gw)
        m.d.sync += count.phase.eq(1)
    with m.Elif(count.phase == 1):
        if ahead:   # the second row's scaled error, in the ETA lane
            _issue_eta_ahead(b, walk, 1 % b.P, 1 // b.P)
        m.d.sync += count.phase.eq(2)
    with m.Else():
        words()


def _issue_eta(b, walk, index, lane, word):
    """An ETA for row group ``index`` (rows layout) or row (lane, word) (columns layout)."""
    m, f = b.m, b.fetch
    m.d.comb += f.src.eq(walk.err)
    if walk.slot.lane_map.by_columns:   # the row's error, broadcast to every lane
        m.d.comb += [f.bcast.eq(1), f.bsel.eq(lane)]
        for name, base in walk.err_reads.items():
            b.state.read(name, base + word, lane)
        m.d.comb += [f.op[p].eq(LaneOp.ETA) for p in range(b.P)]
    else:                               # each lane's own row of the group
        for name, base in walk.err_reads.items():
            b.state.read(name, base + index)
        for p in range(b.P):
            with m.If(index < len(range(p, walk.slot.rows, b.P))):
                m.d.comb += f.op[p].eq(LaneOp.ETA)


def _issue_eta_ahead(b, walk, lane, word):
    """An ETA in the ETA lane (P - 1) alone, into its ``eta_out``: the scaled error of the
    row whose error is word ``word`` of bank ``lane``, that lane's operand."""
    m, f = b.m, b.fetch
    m.d.comb += [f.eta_ahead.eq(1), f.bsel.eq(lane), f.op[b.P - 1].eq(LaneOp.ETA)]
    for name, base in walk.err_reads.items():
        b.state.read(name, base + word, lane)


def _issue_learn(b, walk, length):
    """A LEARN of the current word: lane p updates its weight with its presynaptic rate."""
    m, f, count, slot = b.m, b.fetch, b.count, walk.slot
    memory, region = walk.pre_reads
    m.d.comb += [f.addr.eq(count.waddr), f.update.eq(1), f.src.eq(walk.pre)]
    m.d.sync += count.waddr.eq(count.waddr + 1)
    if slot.lane_map.by_columns:   # lane p updates column c * P + p with its own rate
        m.d.comb += [f.bias_lane.eq((slot.cols - 1) % b.P),
                     f.own_bias.eq(count.c == (slot.cols - 1) // b.P)]
        b.state.read(pre_port(b, memory), b.addr(memory, region, count.c),
                     enable=real_columns(b, slot) if walk.bias else None)
        tail = slot.cols - (length - 1) * b.P   # lanes with a column in the last chunk
        for p in range(b.P):
            with m.If((count.c != length - 1) | (p < tail)):
                m.d.comb += f.op[p].eq(LaneOp.LEARN)
    else:                          # every lane its own row, the rate of column c broadcast
        m.d.comb += [f.bcast.eq(1), f.bsel.eq(count.cl)]
        if walk.bias:
            m.d.comb += f.bias.eq(count.c == slot.cols - 1)
        b.state.read(pre_port(b, memory), b.addr(memory, region, count.cw))
        for p, ok in row_lanes(b, slot):
            with m.If(ok):
                m.d.comb += f.op[p].eq(LaneOp.LEARN)


def _advance(b, n, length, rows, phase=0):
    """The next word; after a row's last, the next row; after the last row, the next pass
    (whose walk starts in ``phase``: 2, its first LEARN, where this pass issued its first
    ETA)."""
    m, count = b.m, b.count
    with m.If(count.c == length - 1):
        count.reset_c()
        m.d.sync += count.eta_next.eq(0)
        with m.If(count.g == rows - 1):
            count.reset_g()
            m.d.sync += count.phase.eq(phase)
            b.sequencer.leave(n, point_next=True)
        with m.Else():
            count.step_g()
    with m.Else():
        count.step_c()
