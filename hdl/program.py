"""The program of one sample: typed pass records, and the exact cycle model of the core.

``build_program(plan)`` lists the passes of one training sample in order; an inference runs
them up to the pass that computes the argmax (``Pass.argmax``), whose registers offer the
result. The sequencer (hdl/sequencer.py) gives each pass one FSM state, and a drain
state after it when the next pass reads its results. ``Program.cycles(train)`` predicts the
busy cycles of one sample from the same records: ``tests/test_cycle_model.py`` checks it on
every co-simulated config against the RTL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from amaranth.lib import enum

from .normalizer import NORMALIZER_CYCLES
from .stages import DRAIN_ELEMENT, LEARN_READ_LAG, bits, settle_write_lag

__all__ = ["PassKind", "Pass", "Program", "build_program"]


class PassKind(enum.Enum):
    """What a pass computes (docs/hardware.md, "The program")."""
    FWD = "fwd"                  # a_k = W_k r_{k-1} (free phase; tied dynamics: also g_{k-1};
                                 # dynamics: FWD 0 also d_0, the same in every step)
    ARGMAX = "argmax"            # the label of the output drive, the output rates: the result
    GHOST_FWD = "ghost_fwd"      # learned: ghost drives g_k = V_k r_k
    GHOST_OUT = "ghost_out"      # learned: ghost outputs c_k = Q_k rho(g_k), into h
    FREE = "free"                # learned: the free feedback minus c: Q's error q_k
    HOLD = "hold"                # replay: the feedback of the free phase, held in h
    SETTLE = "settle"            # sweep: the output's fixed-point iterations under the nudge
                                 # (and the argmax in the same walk, ``Pass.argmax``)
    FB = "fb"                    # feedback of layer k + 1 into layer k (error or Euler step)
    SAVE = "save"                # learned dynamics: V's error and the free ghost state
    SAVE_A = "save_a"            # learned dynamics: the free drives of layer k
    DRIVE = "drive"              # dynamics: the drives d_k of the current state (k >= 1)
    GHOST_DRIVE = "ghost_drive"  # learned dynamics: the ghost drives e_k of the current state
    GHOST = "ghost"              # dynamics: ghost update and feedback source of layer k + 1
    OUTPUT = "output"            # dynamics: the output units' Euler step under the nudge
    GHOST_STEP = "ghost_step"    # learned dynamics: the ghost state's Euler step
    LOOP = "loop"                # dynamics: back to the first pass of the step
    ERROR = "error"              # dynamics: the errors rho(u_k) - rho(d_k)
    LEARN = "learn"              # W_k += eta_k e_k r_{k-1}
    LEARN_V = "learn_V"          # learned: V_k
    LEARN_Q = "learn_Q"          # learned: Q_k
    NORM = "norm"                # normalized learned: start the step of V_k's or Q_k's fit


# the element passes (one unit a cycle through the element pipeline) and the layer they walk:
# the pass's own layer k, or the layer above it
ELEMENT_KINDS = {PassKind.GHOST: 1, PassKind.OUTPUT: 0, PassKind.ERROR: 0, PassKind.SAVE: 1,
                 PassKind.SAVE_A: 0, PassKind.GHOST_STEP: 1}
LEARN_KINDS = (PassKind.LEARN, PassKind.LEARN_V, PassKind.LEARN_Q)


@dataclass(frozen=True)
class Pass:
    """One pass: its kind, its layer k, the ghost memory it reads (``GHOST_OUT``: "g" or
    "gs"; ``NORM``: the fit, "V" or "Q"), for ``LOOP`` the index of the step's first pass,
    whether its broadcast rates feed the normalizer (``tap``: the fit's presynaptic rates,
    for the ``NORM`` after it), and whether its walk over the output units also computes the
    argmax (``argmax``: ``ARGMAX``, or a ``SETTLE`` right after the forward passes; the
    result is offered once it has compared the last output, and an inference ends with it),
    and whether an inference skips it (``train_only``: a pass of the learning placed before
    the argmax, ``build_program``)."""

    kind: PassKind
    layer: int | None = None
    memory: str = "g"
    repeat_from: int | None = None
    tap: bool = False
    argmax: bool = False
    train_only: bool = False

    @property
    def name(self) -> str:
        return self.kind.value if self.layer is None else f"{self.kind.value}{self.layer}"


def build_program(plan) -> list[Pass]:
    """The passes of one training sample, in order.

    ``sweep``: forward passes, the output's fixed-point iterations (settle), whose walk
    computes the argmax too, [learned: the ghosts' forward passes over V and Q and the free
    feedback; replay: hold passes], feedback passes (top hidden layer down), learning. (The
    settling reads the output's drives and the target alone, which no free-phase pass
    writes, and writes the output's errors, which only the feedback passes read: so it
    comes first for every variant, and an inference ends with it.) ``dynamics``: the same free
    phase, then ``steps`` Euler steps, each: the drives of the current state, per hidden layer
    k from the bottom up the ghost update and feedback source of layer k + 1 and the feedback
    pass that steps u_k, then the output's step; LOOP repeats the step. Then the final drives,
    the errors of every layer and learning. Learned ghosts learn V_k and Q_k after W (the
    constant rule), or fit them in the free phase (the normalized rule, ``_fits``). The
    normalized rule's first fit, V_0's, starts right after FWD 0: its ghost drives (whose rates
    r_0 feed the normalizer) and the start of V_0's division come before FWD 1, so the division
    runs beside the rest of the free phase instead of in front of ``LEARN_V`` 0 (a wait of
    ``NORMALIZER_CYCLES``). Nothing between them reads what they write or writes what they
    read, no other fit starts the normalizer before ``LEARN_V`` 0 takes its step, and no
    learning pass moves, so every value stays the golden model's; an inference skips them
    (``train_only``)."""
    K, L, variant = PassKind, plan.L, plan.config.variant
    each = lambda kind, layers: [Pass(kind, k) for k in layers]   # noqa: E731
    hidden = range(L - 1)
    normalized = plan.config.fits_ghosts
    sweep = plan.config.schedule == "sweep"
    ops = each(K.FWD, range(L))
    if normalized:
        ops[1:1] = _first_fit_start()
    ops += [Pass(K.SETTLE, argmax=True)] if sweep else [Pass(K.ARGMAX, argmax=True)]
    if normalized:
        ops += _fits(plan)
    elif variant == "learned":
        ops += each(K.GHOST_FWD, hidden) + each(K.GHOST_OUT, hidden) + each(K.FREE, hidden)
    if variant == "replay":
        ops += each(K.HOLD, hidden)
    if sweep:
        ops += each(K.FB, range(L - 2, -1, -1))
    else:
        if variant == "learned":
            ops += each(K.SAVE, hidden) + ([] if normalized else each(K.SAVE_A, hidden))
        start = len(ops)
        ops += each(K.DRIVE, range(1, L))   # (layer 0's drive W_0 x: FWD 0 wrote it to d)
        if variant == "learned":
            ops += each(K.GHOST_DRIVE, hidden)
        for k in hidden:
            ops += [Pass(K.GHOST, k)]
            if variant == "learned":
                ops += [Pass(K.GHOST_OUT, k, memory="gs")]
            ops += [Pass(K.FB, k)]
        ops += [Pass(K.OUTPUT, L - 1)]
        if variant == "learned":
            ops += each(K.GHOST_STEP, hidden)
        ops += [Pass(K.LOOP, repeat_from=start)]
        ops += each(K.DRIVE, range(1, L)) + each(K.ERROR, range(L))
    ops += each(K.LEARN, range(L))
    if variant == "learned" and not normalized:
        for k in hidden:
            ops += [Pass(K.LEARN_V, k), Pass(K.LEARN_Q, k)]
    return ops


def _first_fit_start() -> list[Pass]:
    """V_0's ghost drives (their rates feed the normalizer) and the start of its division:
    the first two passes of layer 0's fit, run right after FWD 0 (``build_program``)."""
    K = PassKind
    return [Pass(K.GHOST_FWD, 0, tap=True, train_only=True),
            Pass(K.NORM, 0, memory="V", train_only=True)]


def _fits(plan) -> list[Pass]:
    """The normalized rule's free phase (golden FixedModel.fit_ghosts), per hidden layer k:
    the ghost drives (their rates feed the normalizer), V's step, V learns a_{k+1} - g_k; the
    new ghost drives, their outputs c_k (the ghost rates feed the normalizer), Q's step, the
    free feedback minus c_k, Q learns it; under sweep the outputs of the new Q. (Layer 0's
    first two passes run after FWD 0: ``_first_fit_start``.)"""
    K, sweep = PassKind, plan.config.schedule == "sweep"
    ops = []
    for k in range(plan.L - 1):
        if k > 0:
            ops += [Pass(K.GHOST_FWD, k, tap=True), Pass(K.NORM, k, memory="V")]
        ops += [Pass(K.LEARN_V, k), Pass(K.GHOST_FWD, k), Pass(K.GHOST_OUT, k, tap=True),
                Pass(K.NORM, k, memory="Q"), Pass(K.FREE, k), Pass(K.LEARN_Q, k)]
        if sweep:
            ops += [Pass(K.GHOST_OUT, k)]
    return ops


class Program:
    """The program of ``plan`` with what each pass uses and costs."""

    def __init__(self, plan):
        self.plan = plan
        self.passes = build_program(plan)
        self._drains = None
        from .events import pass_context
        self._walks = pass_context(self)   # what the pass walks read of a build

    def __len__(self):
        return len(self.passes)

    @property
    def pass_bits(self) -> int:
        """Width of a pass index (the tags' and the element pipeline's ``op``)."""
        return bits(len(self.passes) + 1)

    @property
    def index_bits(self) -> int:
        """Width of a unit or row-group index (the walks' counters and the tags)."""
        sizes = self.plan.config.layers
        return bits(max(max(sizes), max(s.groups for s in self.plan.slots.values())) + 1)

    def __iter__(self):
        return iter(self.passes)

    def slot(self, op: Pass):
        """The matrix a pass walks (None for the passes that walk units)."""
        K, slots = PassKind, self.plan.slots
        if op.kind in (K.FWD, K.DRIVE, K.LEARN):
            return slots[("W", op.layer)]
        if op.kind in (K.GHOST_FWD, K.GHOST_DRIVE, K.LEARN_V):
            return slots[("V", op.layer)]
        if op.kind in (K.GHOST_OUT, K.LEARN_Q):
            return slots[("Q", op.layer)]
        if op.kind in (K.FB, K.HOLD, K.FREE):
            if self.plan.config.feedback == "transpose":
                return slots[("W", op.layer + 1)]
            return slots[("B", op.layer)]
        return None

    def next_slot(self, n: int, train: bool = True):
        """The first matrix walked after pass ``n`` (-1: from the start) by a training sample
        or an inference (``runs``), wrapping around."""
        order = self.runs(train)
        for m in [p for p in order if p > n] + order:
            slot = self.slot(self.passes[m])
            if slot is not None:
                return slot
        return None

    def runs(self, train: bool) -> list[int]:
        """The passes a sample runs, in order (the dynamics step's LOOP repeats some): a
        training sample every one, an inference those up to the argmax's but the ones only
        learning needs (``Pass.train_only``)."""
        if train:
            return list(range(len(self.passes)))
        return [n for n in range(self.argmax_pass + 1) if not self.passes[n].train_only]

    def following(self, n: int, train: bool = True) -> int:
        """The pass run after pass ``n`` (``len(self)``: none, the sample ends)."""
        later = [p for p in self.runs(train) if p > n]
        return later[0] if later else len(self.passes)

    @property
    def argmax_pass(self) -> int:
        """The index of the pass whose walk computes the argmax (an inference's last)."""
        return next(n for n, op in enumerate(self.passes) if op.argmax)

    def drain(self, n: int, train: bool = True) -> int:
        """Cycles waited after pass ``n``'s fetch walk before the next pass starts (0: at
        once): the lag the next pass really needs (hdl/schedule.py); after the last pass,
        until its last write, before busy falls. An inference ends with the argmax's pass
        at once: its settling writes nothing (hdl/element.py), and the core takes no sample
        while the argmax still compares or its result waits."""
        self._schedule()
        if not train and n == self.argmax_pass:
            return 0
        if not train and n not in self.runs(False):
            raise ValueError(f"pass {n} ({self.passes[n].name}) is not run by an inference")
        return self._drains[n] if train else self._infer_drains[n]

    def reads_one_bank(self, n: int) -> bool:
        """Whether element walk ``n`` reads its units' words from their own bank alone
        (hdl/schedule.py: where that lets it start earlier, and under dynamics)."""
        self._schedule()
        return n in self._one_bank

    def _schedule(self):
        """The drains of a training sample, and of an inference where it skips passes (its
        element walks read as a training sample's do: the RTL builds each walk once)."""
        if self._drains is None:
            from .schedule import schedule
            self._drains, self._one_bank = schedule(self, self.write_stage)
            order = self.runs(False)
            if order == list(range(len(order))):   # a prefix: the same drains
                self._infer_drains = self._drains
            else:
                drains, _ = schedule(self, self.write_stage, order, self._one_bank)
                self._infer_drains = dict(zip(order, drains))

    def write_stage(self, n: int) -> int:
        """Cycles from pass ``n``'s last fetch to its last state write (what a pass waits at
        a barrier of hdl/schedule.py)."""
        op, K, stages = self.passes[n], PassKind, self.plan.stages
        if op.kind == K.NORM:   # its quotient (the learning pass that uses it waits for it)
            return NORMALIZER_CYCLES - 1
        if op.kind in (K.ARGMAX, K.LOOP):
            return 0
        if op.kind in LEARN_KINDS:   # learning passes follow each other without a drain
            following = self.passes[n + 1] if n + 1 < len(self.passes) else None
            if following is not None and following.kind in LEARN_KINDS:
                return 0
            return stages.learn_write - 1   # (written in the finishing cycle, still busy)
        if op.kind in ELEMENT_KINDS:
            return DRAIN_ELEMENT
        if op.kind == K.SETTLE:   # one fixed-point iteration per stage, then the write
            return max(stages.drain, settle_write_lag(self.plan.config.settle_iterations) + 1)
        slot = self.slot(op)
        if op.kind in (K.FB, K.HOLD, K.FREE) and slot.name == "W" \
                and not slot.lane_map.by_columns:
            return stages.feedback            # transposed: through the tree
        if op.kind in (K.FWD, K.DRIVE, K.GHOST_FWD, K.GHOST_DRIVE):
            # (split: the tree's sum; rows: each lane's drive)
            return stages.sum if slot.lane_map.by_columns else stages.drive_write
        return stages.drain_lanes             # per-lane feedback

    def fetch_cycles(self, n: int) -> int:
        """Cycles pass ``n`` spends in its own state (without the drain)."""
        op, K, plan = self.passes[n], PassKind, self.plan
        sizes, P = plan.config.layers, plan.lanes
        if op.kind in (K.ARGMAX, K.SETTLE):   # one unit a cycle
            return sizes[-1]
        if op.kind in ELEMENT_KINDS:
            return sizes[op.layer + ELEMENT_KINDS[op.kind] + 1]
        if op.kind == K.LOOP:
            return 1
        if op.kind == K.NORM:   # the start; the division runs beside the passes after it
            return 1
        slot = self.slot(op)
        lm = slot.lane_map
        if op.kind in LEARN_KINDS:
            walk, rows = (lm.chunks, slot.rows) if lm.by_columns else (slot.cols, slot.groups)
            if self.eta_ahead(n):   # the ETA lane computes the rows' scaled errors
                return 2 + rows * walk
            # the next row's ETA overlaps; the next pass's first ETA in the last row's slot,
            # and none of its own (and no wait) where the pass before issued it
            from .passes.learn import eta_handed_in
            return (0 if eta_handed_in(self._walks, n) else 2) + rows * walk + (rows - 1) \
                + self.hands_eta_on(n)
        if op.kind in (K.FB, K.HOLD, K.FREE) and slot.name == "W":   # transposed
            units = sizes[op.layer + 1]
            if lm.by_columns:
                return slot.rows * math.ceil(units / P)
            return slot.groups * units
        if lm.by_columns:
            return slot.rows * lm.chunks
        return slot.groups * slot.cols

    def tap_fetches(self, n: int) -> int:
        """Fetches of tapping pass ``n`` up to the last that feeds the normalizer a rate: its
        first row group's (one broadcast rate a cycle) or first split row's (every lane's)."""
        assert self.passes[n].tap, self.passes[n].name
        lm = self.slot(self.passes[n]).lane_map
        return lm.chunks if lm.by_columns else lm.cols

    def eta_ahead(self, n: int) -> bool:
        """Whether learning pass ``n`` computes its rows' scaled errors ahead in the ETA lane
        (hdl/passes/learn.py ``eta_ahead``)."""
        from .passes.learn import eta_ahead, learn_walk_of
        return eta_ahead(self._walks, learn_walk_of(self._walks, self.passes[n]))

    def hands_eta_on(self, n: int) -> bool:
        """Whether learning pass ``n`` issues the first ETA of the learning pass after it
        (hdl/passes/learn.py ``eta_handed_on``)."""
        from .passes.learn import eta_handed_on
        return eta_handed_on(self._walks, n) is not None

    def beats(self) -> int:
        """Beats of a sample on the streamed sample port (hdl/intake.py): P inputs each."""
        return math.ceil(self.plan.config.layers[0] / self.plan.lanes)

    def cycles(self, train: bool, overlap: bool = True, chained: bool = True) -> int:
        """Busy cycles of one sample streamed back to back: the passes (an inference ends
        with the argmax's pass; the dynamics step repeats ``steps`` times) and the
        finishing cycle. The sample's beats arrive while the previous sample is busy, or
        while the core is idle, so no cycle loads them. ``chained``: the next sample is in
        when a training sample's last pass ends, which then skips its drain for the two
        cycles of ``chain_gap``. ``overlap`` False: what the same core would take with
        every pass waiting for the previous pass's last write (``write_stage``), for
        comparison."""
        last = len(self.passes) - 1

        def drain(n):
            if n == last and chained:
                return 0
            if overlap or (not train and n == self.argmax_pass):
                return self.drain(n, train)
            return self.write_stage(n)
        total = 1   # finish (or chain_take)
        n = self.runs(train)[0]
        repeats = 0
        while n < len(self.passes):
            op = self.passes[n]
            total += self.fetch_cycles(n) + drain(n)
            if n == last and chained:
                total += self.CHAIN_WAIT
            if n == self.argmax_pass and not train:
                break
            if op.kind == PassKind.LOOP and repeats < self.plan.config.steps - 1:
                repeats += 1
                n = op.repeat_from
                continue
            n = self.following(n, train)
        return total

    CHAIN_WAIT = 1   # the ``chain`` state's cycle before ``chain_take``

    def chain_gap(self) -> int:
        """Cycles from a training sample's last fetch (a LEARN, the last cycle of its walk)
        to the next sample's first fetch when that sample is in: ``chain``, ``chain_take``
        (the finishing cycle), then the first pass. A LEARN reads its weight two cycles
        after a MAC would (hdl/lane.py), so the first MAC must come more than two cycles
        later (``chain`` waits the one cycle ``chain_take`` alone would miss); the weights
        it still writes are another matrix's (every program ends by learning W_L or a ghost
        matrix, and starts by reading W_0)."""
        gap = self.CHAIN_WAIT + 1 + 1
        assert gap > LEARN_READ_LAG and self.passes[-1].kind in LEARN_KINDS
        assert self.slot(self.passes[-1]) is not self.plan.slots[("W", 0)]
        return gap
