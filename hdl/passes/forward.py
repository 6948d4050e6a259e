"""Forward passes: a layer's drives from the rates below (``FWD``, ``DRIVE``), the learned
ghosts' drives (``GHOST_FWD``, ``GHOST_DRIVE``) and outputs (``GHOST_OUT``).

``FWD`` writes the drives a_k = W_k r_{k-1} (the free state) to a, and with tied ghosts under
dynamics the ghosts' initial state g_{k-1} = a_k to h; ``DRIVE`` writes the drives of the
current state to d; ``GHOST_FWD`` writes g_k = V_k r_k to g (``GHOST_DRIVE``: of the current
state, to e). ``GHOST_OUT`` computes c_k = Q_k rho(g_k) (of the ghost state gs under dynamics)
into h. A pass with ``tap`` feeds its broadcast rates to the normalizer (columns layout: the
rates of every lane in the first row's walk). Rows layout: written at P0; columns layout: the
tree's row sum, written at P1."""

from __future__ import annotations

from ..program import PassKind
from ..stages import Src
from .build import PassBuild
from .walks import presynaptic, row_walk, split_row_walk


def forward_targets(b, op):
    """The matrix, the region of its presynaptic rates (a layer, or "x": hdl/passes/walks.py
    ``presynaptic``), and the (memory, base) written.
    Under dynamics ``FWD`` 0 also writes layer 0's drive W_0 x to d: it is the same in
    every step (x is fixed), so no ``DRIVE`` pass recomputes it."""
    K, smap, k = PassKind, b.smap, op.layer
    if op.kind in (K.GHOST_FWD, K.GHOST_DRIVE):
        memory = "g" if op.kind == K.GHOST_FWD else "e"
        return b.plan.slots[("V", k)], k, [(memory, smap.base("g", k))]
    src = "x" if k == 0 else k - 1
    targets = [("d", smap.base("d", k))] if op.kind == K.DRIVE else [("a", smap.base("a", k))]
    if op.kind == K.FWD and b.tied_ghosts and k >= 1:
        targets.append(("h", smap.base("h", k - 1)))
    if op.kind == K.FWD and b.dynamics and k == 0:
        targets.append(("d", smap.base("d", 0)))
    return b.plan.slots[("W", k)], src, targets


def emit_forward(b, n, op) -> PassBuild:
    m, count, wb = b.m, b.count, b.writeback
    slot, src, targets = forward_targets(b, op)
    if slot.lane_map.by_columns:
        def split_fetch():
            split_row_walk(b, n, slot, src)
            if op.tap:   # V's first row: every lane's rate (and the bias) feeds the normalizer
                for p in range(b.P):
                    m.d.comb += b.fetch.norm_own[p].eq(
                        (count.g == 0) & (count.c * b.P + p < slot.cols))
        return PassBuild(split_fetch, lambda: wb.write_tree_drive(n, targets))

    memory, source = presynaptic(b, src)

    def fetch():
        row_walk(b, n, slot, source)
        m.d.comb += b.fetch.bias.eq(count.c == slot.cols - 1)
        if op.tap:   # V's rates (and the bias) feed the normalizer, once
            m.d.comb += b.fetch.norm.eq(count.g == 0)
        with m.If(count.c != slot.cols - 1):   # (the bias needs no read)
            b.state.read(memory, b.addr(memory, src, count.cw))
    return PassBuild(fetch, lambda: wb.write_drives(n, slot.rows, targets))


def emit_ghost_out(b, n, op) -> PassBuild:
    """A forward-style pass over Q_k with the ghosts' rates broadcast; each lane writes its
    unit's c to h."""
    k, memory, wb = op.layer, op.memory, b.writeback
    slot = b.plan.slots[("Q", k)]

    def fetch():
        row_walk(b, n, slot, Src.RHO_GS if memory == "gs" else Src.RHO_G)
        b.state.read(memory, b.smap.base("g", k) + b.count.cw)
        if op.tap:   # the ghosts' rates feed the normalizer, once
            b.m.d.comb += b.fetch.norm.eq(b.count.g == 0)
    return PassBuild(fetch, lambda: wb.write_lanes(n, k, b.config.layers[k + 1], "hold"))
