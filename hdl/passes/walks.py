"""The fetch walks over a matrix that several pass families share: a row-major walk (every lane
its own row, the column's operand broadcast) and a split-row walk (columns layout: every lane
its own column, the row summed by the adder tree)."""

from __future__ import annotations

from ..lane import LaneOp
from ..stages import Round, Src

__all__ = ["presynaptic", "row_lanes", "real_columns", "row_walk", "split_row_walk",
           "tag_fetch"]


def presynaptic(b, region):
    """The memory that holds the rates of ``region`` (a layer, or "x") and their operand
    source: a layer's rates in ``a`` (``Src.RATE``), the inputs in ``smap.inputs``
    (``Src.INPUT`` where that is ``s``)."""
    if region == "x" and b.smap.inputs == "s":
        return "s", Src.INPUT
    return "a", Src.RATE


def row_lanes(b, slot):
    """(lane, it holds a row of ``slot`` in row group g) for every lane."""
    for p in range(b.P):
        yield p, b.count.g < len(range(p, slot.rows, b.P))


def real_columns(b, slot):
    """In the columns layout, the banks whose lane holds a real input column (not the bias,
    not padding) in chunk c."""
    return lambda p: b.count.c < -(-(slot.cols - 1 - p) // b.P)


def tag_fetch(b, n, **fields):
    """Tag this cycle's fetch as pass ``n``'s, with ``fields`` (index, lane, word, first,
    last) for its write-back."""
    tag0 = b.writeback.fetch_tag
    b.m.d.comb += [tag0["op"].eq(n), tag0["valid"].eq(1)]
    b.m.d.comb += [tag0[key].eq(value) for key, value in fields.items()]


def row_walk(b, n, slot, src):
    """Issue ``slot`` row-major, columns c inside row groups g, every lane on its own row with
    the broadcast operand of column c (the caller reads it)."""
    m, f, count = b.m, b.fetch, b.count
    m.d.comb += [f.src.eq(src), f.bcast.eq(1), f.bsel.eq(count.cl), f.first.eq(count.c == 0),
                 f.addr.eq(count.waddr),
                 f.round.eq(Round.FEEDBACK if slot.name in ("B", "Q") else Round.FWD)]
    for p, ok in row_lanes(b, slot):
        with m.If(ok):
            m.d.comb += f.op[p].eq(LaneOp.MAC)
    tag_fetch(b, n, index=count.g, last=count.c == slot.cols - 1)
    m.d.sync += count.waddr.eq(count.waddr + 1)
    count.next_word(count.c == slot.cols - 1, count.g == slot.groups - 1,
                    lambda: b.sequencer.leave(n))


def split_row_walk(b, n, slot, region):
    """Issue ``slot`` in the columns layout: chunks c inside rows g, every lane on its own
    column with its own rate read at word c of ``region`` (a layer, or "x": ``presynaptic``;
    lane ``(cols - 1) mod P`` gives the bias 1.0 in the last chunk). The
    adder tree sums the row at its last chunk."""
    m, f, count = b.m, b.fetch, b.count
    chunks = slot.lane_map.chunks
    memory, source = presynaptic(b, region)
    m.d.comb += [f.src.eq(source), f.first.eq(count.c == 0), f.addr.eq(count.waddr),
                 f.round.eq(Round.ROW), f.bias_lane.eq((slot.cols - 1) % b.P),
                 f.own_bias.eq(count.c == (slot.cols - 1) // b.P)]
    m.d.comb += [f.op[p].eq(LaneOp.MAC) for p in range(b.P)]
    b.state.read(memory, b.addr(memory, region, count.c), enable=real_columns(b, slot))
    tag_fetch(b, n, lane=count.gl, word=count.gw, last=count.c == chunks - 1)
    m.d.sync += count.waddr.eq(count.waddr + 1)
    count.next_word(count.c == chunks - 1, count.g == slot.rows - 1,
                    lambda: b.sequencer.leave(n))
