"""Each pass family's fetch walk beside its write-back. ``EMITTERS`` maps a pass kind to the
function that builds it: ``emit(b, n, op)`` for pass ``op`` at index ``n`` of the program,
``b`` the core's Build, returns a ``PassBuild``: the fetch walk, which the sequencer emits in
the pass's FSM state, and the write-back, which it builds after the FSM in program order."""

from ..program import ELEMENT_KINDS, LEARN_KINDS, PassKind
from .build import PassBuild
from .feedback import emit_feedback
from .forward import emit_forward, emit_ghost_out
from .learn import emit_learn
from .units import emit_argmax, emit_element, emit_loop, emit_norm, emit_settle

__all__ = ["EMITTERS", "PassBuild"]

K = PassKind
EMITTERS = {
    K.FWD: emit_forward, K.DRIVE: emit_forward, K.GHOST_FWD: emit_forward,
    K.GHOST_DRIVE: emit_forward, K.GHOST_OUT: emit_ghost_out,
    K.ARGMAX: emit_argmax, K.SETTLE: emit_settle, K.LOOP: emit_loop,
    K.FB: emit_feedback, K.HOLD: emit_feedback, K.FREE: emit_feedback, K.NORM: emit_norm,
    **{kind: emit_element for kind in ELEMENT_KINDS},
    **{kind: emit_learn for kind in LEARN_KINDS},
}
assert set(EMITTERS) == set(PassKind), "every pass kind has a builder"
