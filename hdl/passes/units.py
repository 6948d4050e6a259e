"""Passes that walk units, one a cycle, through the element pipeline (hdl/element.py): the
argmax (whose registers offer the result), the output's settling (sweep), the element
updates of dynamics, and the dynamics step's loop; and the normalizer's division (``NORM``)."""

from __future__ import annotations

from ..program import ELEMENT_KINDS, PassKind
from .build import PassBuild


def emit_argmax(b, n, op) -> PassBuild:
    el = b.element
    return PassBuild(lambda: el.walk(n, b.plan.L - 1), lambda: el.argmax_pipeline(n))


def emit_settle(b, n, op) -> PassBuild:
    """The output's settling (``sweep``, right after the forward passes); its walk computes
    the argmax too (``op.argmax``, hdl/program.py)."""
    el = b.element
    assert op.argmax

    def writeback():
        el.settle_pipeline(n)
        el.argmax_pipeline(n)
    return PassBuild(lambda: el.walk(n, b.plan.L - 1), writeback)


def emit_loop(b, n, op) -> PassBuild:
    """Repeat the dynamics step ``steps`` times from pass ``op.repeat_from``."""
    m, count = b.m, b.count

    def fetch():
        with m.If(count.step == b.config.steps - 1):
            m.d.sync += count.step.eq(0)
            b.sequencer.leave(n)
        with m.Else():
            m.d.sync += count.step.eq(count.step + 1)
            m.next = f"op{op.repeat_from}"
    return PassBuild(fetch)


def emit_element(b, n, op) -> PassBuild:
    """GHOST k updates the ghosts of layer k + 1 and writes its feedback source; OUTPUT steps
    the output units under the nudge; ERROR k writes rho(u_k) - rho(d_k); learned ghosts:
    SAVE k keeps V's error and the ghost state of the free phase, SAVE_A k the free drives of
    layer k, GHOST_STEP k steps the ghost state toward its drive."""
    layer = op.layer + ELEMENT_KINDS[op.kind]
    reads = element_reads(b, op)
    return PassBuild(lambda: b.element.walk(n, layer, reads),
                     lambda: _element_update(b, n, op))


def element_reads(b, op) -> dict:
    """The memories an element pass reads besides a (and d under dynamics): {name: region
    base}, at the unit's word."""
    K, k, smap = PassKind, op.layer, b.smap
    if op.kind == K.GHOST and b.tied_ghosts:
        return {"h": smap.base("h", k)}
    if op.kind == K.SAVE:
        return {"g": smap.base("g", k)}
    if op.kind == K.GHOST_STEP:
        return {"gs": smap.base("g", k), "e": smap.base("g", k)}
    return {}


def _element_update(b, n, op):
    K, k, smap, el = PassKind, op.layer, b.smap, b.element
    word, update = el.word, el.update
    with b.m.If(el.valid & (el.op == n)):
        if op.kind == K.OUTPUT:
            el.write("a", smap.base("a", b.plan.L - 1) + word, update["output"])
        elif op.kind == K.ERROR:
            el.write("s", smap.base("s", k) + word, update["error"])
        elif op.kind == K.SAVE:
            el.write("v", smap.base("v", k) + word, update["verror"])
            el.write("gs", smap.base("gs", k) + word, update["gcopy"])
        elif op.kind == K.SAVE_A:
            el.write("fa", smap.base("fa", k) + word, el.a)
        elif op.kind == K.GHOST_STEP:
            el.write("gs", smap.base("gs", k) + word, update["gstep"])
        else:
            el.write("s", smap.base("s", k + 1) + word, update["source"])
            if b.tied_ghosts:
                el.write("h", smap.base("h", k) + word, update["ghost"])


def emit_norm(b, n, op) -> PassBuild:
    """The step of V_k's or Q_k's fit: start the normalizer on the rates the pass before fed
    it, in one cycle. The quotient is found in the shadow of the passes after it: the
    learning pass that uses it starts NORMALIZER_CYCLES after the start or later
    (hdl/schedule.py ``schedule``), and nothing between reads the step."""
    m, issue = b.m, b.issue

    def fetch():
        m.d.comb += [issue.norm_start.eq(1), issue.norm_sel.eq(int(op.memory == "Q"))]
        b.sequencer.leave(n)
    return PassBuild(fetch)
