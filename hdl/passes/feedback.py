"""Feedback passes: the top-down input of layer k from layer k + 1, through B_k (random
feedback) or the transpose of W_{k+1}.

``FB`` feeds back the nudged sources s_{k+1} and leaves layer k's error (sweep) or steps its
state (dynamics); ``HOLD`` (replay) and ``FREE`` (learned) feed back the free rates
rho(a_{k+1}) and leave the held feedback in h, or Q's error in q (WriteBack.feedback_result).
Three walks: over B_k like a forward pass (each lane ends with one unit, written at P1); over a
split W_{k+1} (each lane accumulates its own column over the rows, written at P1); over a
row-layout W_{k+1} (one product per lane, summed by the adder tree and over the row groups,
written at P4)."""

from __future__ import annotations

import math

from ..lane import LaneOp
from ..program import PassKind
from ..stages import Round, Src
from .build import PassBuild
from .walks import row_walk, tag_fetch

ROLES = {PassKind.FB: "nudged", PassKind.HOLD: "hold", PassKind.FREE: "free"}


def emit_feedback(b, n, op) -> PassBuild:
    k, role = op.layer, ROLES[op.kind]
    nudged = role == "nudged"
    units = b.config.layers[k + 1]
    source = Src.S if nudged else Src.RHO_A
    memory = "s" if nudged else "a"
    base = b.smap.base(memory, k + 1)   # the feedback operand of unit `word` of layer k + 1
    slot = b.program.slot(op)
    wb = b.writeback

    def fetch():
        if slot.name == "B":   # random feedback: a forward-style pass over B_k
            row_walk(b, n, slot, source)
            b.state.read(memory, base + b.count.cw, b.count.cl)
        elif slot.lane_map.by_columns:
            _split_transpose_walk(b, n, slot, source, memory, base, units)
        else:
            _transpose_walk(b, n, slot, source, memory, base, units)
    if slot.name == "B" or slot.lane_map.by_columns:
        return PassBuild(fetch, lambda: wb.write_lanes(n, k, units, role))
    assert slot.rows <= b.plan.running_sum_terms, "the running sum is too narrow for this pass"
    return PassBuild(fetch, lambda: wb.write_tree(n, k, role))


def _next_column(b, n, last_column, step_column):
    """After a column's last row (group): the next column's first weight, or pass n's end."""
    m, count = b.m, b.count
    count.reset_g()
    m.d.sync += [count.waddr.eq(count.col_base + 1), count.col_base.eq(count.col_base + 1)]
    with m.If(last_column):
        count.reset_c()
        b.sequencer.leave(n)
    with m.Else():
        step_column()


def _split_transpose_walk(b, n, slot, source, memory, base, units):
    """Unit c of layer k = column c of W_{k+1}, in lane c mod P: each lane accumulates its
    column over the rows g (the errors broadcast, each read from its own bank: the pass may
    start while the settling or the feedback before it still writes the others)."""
    m, f, count = b.m, b.fetch, b.count
    m.d.comb += [f.src.eq(source), f.bcast.eq(1), f.bsel.eq(count.gl),
                 f.first.eq(count.g == 0), f.round.eq(Round.FEEDBACK), f.addr.eq(count.waddr)]
    b.state.read(memory, base + count.gw, count.gl)
    m.d.comb += [f.op[p].eq(LaneOp.MAC) for p in range(b.P)]
    last_row = count.g == slot.rows - 1
    tag_fetch(b, n, index=count.c, last=last_row)
    def step_column():   # (c counts columns of lanes here: its (lane, word) is not used)
        m.d.sync += count.c.eq(count.c + 1)
    with m.If(last_row):
        _next_column(b, n, count.c == math.ceil(units / b.P) - 1, step_column)
    with m.Else():
        count.step_g()
        m.d.sync += count.waddr.eq(count.waddr + slot.lane_map.chunks)


def _transpose_walk(b, n, slot, source, memory, base, units):
    """Unit c of layer k = column c of W_{k+1}, over all row groups g; each lane's product
    goes to the adder tree."""
    m, f, count = b.m, b.fetch, b.count
    m.d.comb += [f.src.eq(source), f.addr.eq(count.waddr), f.first.eq(1),
                 f.round.eq(Round.NONE)]
    b.state.read(memory, base + count.g)
    m.d.comb += [f.op[p].eq(LaneOp.MAC) for p in range(b.P)]
    last_group = count.g == slot.groups - 1
    tag_fetch(b, n, index=count.c, first=count.g == 0, last=last_group, lane=count.cl,
              word=count.cw)
    with m.If(last_group):
        _next_column(b, n, count.c == units - 1, count.step_c)
    with m.Else():
        count.step_g()
        m.d.sync += count.waddr.eq(count.waddr + slot.cols)
