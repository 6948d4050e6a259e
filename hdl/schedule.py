"""Drains cut to the lag the next pass really needs, from a cycle-exact model of what every pass
does to the shared state ports (pure Python, like hdl/program.py).

A pass issues one fetch a cycle (offset t from the first cycle of its FSM state); its
write-back runs under the fetch's tag at fixed stages after it (hdl/stages.py). ``events``
lists, for one pass, every use of a shared resource with its cycle offset:

- ``("read", m)``: the read port of state memory m (one address for all banks), with the word
  it reads and the banks whose data it uses (data hazards; a broadcast operand or one unit's
  word is read from its bank alone, ``StateMemories.read``);
- ``("write", m)``: m's write bus, with the word written;
- ``("select",)``: the select of the broadcast ``a`` word (``Issue.select_a``), used by a fetch
  whose broadcast operand comes from ``a``, by the element walks and by the transposed passes'
  write-back.

``schedule(program)`` places the passes one after the other, each at the first cycle after the
previous pass's fetch walk where none of its events meets an earlier pass's: no two passes on
one port in one cycle (the port's ``Arbiter`` would let one win), and every word read or
written after the earlier passes' accesses to it, strictly (a read in the cycle of a write is
a collision: hdl/memory.py). The drain of pass n is the gap before pass n + 1.

What the model leaves out is kept out of the overlap by barriers, where a pass waits for every
earlier event and at least its old drain (the stage of its last write): the weights (a
learning pass writes them inside the lanes, and its lanes take their weight address two
stages late), the normalizer (a tapping pass feeds it; ``NORM`` starts its division), and
the dynamics step's loop (it jumps back). (The result has no pass: the argmax's registers
offer it.) The division runs beside the passes after ``NORM``: the learning pass that uses
its step starts ``NORMALIZER_CYCLES`` after ``NORM`` or later (its first ETA then reads the
step in the cycle the quotient is complete).
``tests/test_memory_collisions.py`` and the arbiters' conflict flags (hdl/arbiter.py) check the
model on whole training runs; co-simulation checks every value.
"""

from __future__ import annotations

import math
from collections import defaultdict

from .normalizer import NORMALIZER_CYCLES
from .operands import broadcasts_from_a
from .program import ELEMENT_KINDS, LEARN_KINDS, PassKind
from .stages import settle_write_lag, stage
from .statemap import StateMap

__all__ = ["events", "schedule", "pass_context", "WAITS_BEFORE", "WAITS_AFTER"]

K = PassKind
ALL = None                            # every bank
P0, P1 = stage("P0"), stage("P1")
E_WRITE = stage("E2")                 # the element pipeline's write enable (visible at E3)
# barriers (module docstring): these passes start after every earlier event; the pass after
# these (or after a pass that taps the normalizer) too. (After NORM no barrier: it started
# after every earlier event, and only the learning pass that uses its step waits for it.)
WAITS_BEFORE = (K.LOOP, K.NORM)
WAITS_AFTER = (K.LOOP,) + LEARN_KINDS


def _ev(t, port, memory=None, addr=None, banks=ALL, write=False):
    return (t, port, memory, addr, banks, write)


class _Passes:
    """The events of the passes of one program (``events(program, n)``)."""

    def __init__(self, program):
        self.program, self.plan = program, program.plan
        self.config, self.P, self.fmt = program.plan.config, program.plan.lanes, program.plan.fmt
        self.smap = StateMap(self.config, self.P)
        v = self.config.variant
        self.held = v in ("replay", "learned")
        self.learned = v == "learned"
        self.dynamics = self.config.schedule == "dynamics"
        self.normalized = self.config.fits_ghosts
        self.tied_ghosts = self.smap.tied_ghosts
        self.tree = program.plan.tree_stages   # the stages of the passes through the tree

    def _bcast_uses_a(self, src) -> bool:
        return src in broadcasts_from_a(self)

    def rows_enabled(self, index, rows):
        return frozenset(p for p in range(self.P) if index < len(range(p, rows, self.P)))

    # -- write-backs (hdl/writeback.py) ---------------------------------------------------
    def _result_memory(self, role):
        if role == "hold":
            return "h"
        if role == "free":
            return "q"
        return "a" if self.dynamics else "s"

    def _unit_reads(self, role):
        """The words a feedback write-back reads of its unit (WriteBack.write_lanes/tree)."""
        if role == "hold":
            return []
        names = []
        if role == "nudged":
            names.append("a")
            if self.dynamics:
                names.append("d")
        if self.held:
            names.append("h")
        return names

    def write_lanes(self, t, index, k, units, role):
        out = [_ev(t + P0, ("read", m), m, self.smap.base(m, k) + index)
               for m in self._unit_reads(role)]
        memory = self._result_memory(role)
        out.append(_ev(t + P1, ("write", memory), memory, self.smap.base(memory, k) + index,
                       self.rows_enabled(index, units), True))
        return out

    def write_tree(self, t, last, unit, k, role):
        tree = self.tree
        out = [_ev(t + tree.sum, ("select",))]
        if not last:
            return out
        word, lane = divmod(unit, self.P)
        one = frozenset([lane]) if self.dynamics else ALL
        out += [_ev(t + tree.sum, ("read", m), m, self.smap.base(m, k) + word, one)
                for m in self._unit_reads(role)]
        memory = self._result_memory(role)
        out.append(_ev(t + tree.feedback, ("write", memory), memory,
                       self.smap.base(memory, k) + word, frozenset([lane]), True))
        return out

    # -- the walks (hdl/passes/) -----------------------------------------------------------
    def forward(self, op):
        from .passes.forward import forward_targets
        slot, src, targets = forward_targets(self, op)   # (self has what it reads)
        src_base = self.smap.base("a", src)   # (x: the current buffer's words, as buffer 0)
        out, t = [], 0
        if slot.lane_map.by_columns:
            chunks = slot.lane_map.chunks
            for g in range(slot.rows):
                for c in range(chunks):
                    out.append(_ev(t, ("read", "a"), "a", src_base + c))
                    if c == chunks - 1:
                        word, lane = divmod(g, self.P)
                        out += [_ev(t + self.tree.sum, ("write", m), m, base + word,
                                    frozenset([lane]), True) for m, base in targets]
                    t += 1
            return out
        for g in range(slot.groups):
            for c in range(slot.cols):
                if c != slot.cols - 1:
                    out.append(_ev(t, ("read", "a"), "a", src_base + c // self.P))
                out.append(_ev(t, ("select",)))
                if c == slot.cols - 1:
                    out += [_ev(t + P0, ("write", m), m, base + g,
                                self.rows_enabled(g, slot.rows), True) for m, base in targets]
                t += 1
        return out

    def ghost_out(self, op):
        k, slot = op.layer, self.program.slot(op)
        base = self.smap.base("g", k)
        out, t = [], 0
        for g in range(slot.groups):
            for c in range(slot.cols):
                out.append(_ev(t, ("read", op.memory), op.memory, base + c // self.P))
                if c == slot.cols - 1:
                    out += self.write_lanes(t, g, k, self.config.layers[k + 1], "hold")
                t += 1
        return out

    def feedback(self, op):
        k = op.layer
        role = {K.FB: "nudged", K.HOLD: "hold", K.FREE: "free"}[op.kind]
        units = self.config.layers[k + 1]
        memory = "s" if role == "nudged" else "a"
        base = self.smap.base(memory, k + 1)
        slot = self.program.slot(op)
        bcast_a = memory == "a"   # (the source RHO_A; S is broadcast from the s words)
        out, t = [], 0
        if slot.name == "B" or slot.lane_map.by_columns:
            # each lane ends with one unit: over B_k row groups x columns, or over a split
            # W_{k+1} columns of lanes x rows; the operand of the inner index is broadcast
            outer, inner = (slot.groups, slot.cols) if slot.name == "B" \
                else (math.ceil(units / self.P), slot.rows)
            for index in range(outer):
                for i in range(inner):
                    out.append(_ev(t, ("read", memory), memory, base + i // self.P,
                                   frozenset([i % self.P])))   # (one bank, hdl/passes/feedback.py)
                    if bcast_a:
                        out.append(_ev(t, ("select",)))
                    if i == inner - 1:
                        out += self.write_lanes(t, index, k, units, role)
                    t += 1
        else:
            for c in range(units):
                for g in range(slot.groups):
                    out.append(_ev(t, ("read", memory), memory, base + g))
                    out += self.write_tree(t, g == slot.groups - 1, c, k, role)
                    t += 1
        return out

    def learn(self, op):
        from .passes.learn import eta_ahead, learn_walk_of
        walk = learn_walk_of(self, op)   # (self has what the walk reads of a Build)
        lm = walk.slot.lane_map
        length = lm.chunks if lm.by_columns else walk.slot.cols
        rows = walk.slot.rows if lm.by_columns else walk.slot.groups
        ahead = eta_ahead(self, walk)
        out, t = [], 0

        def eta(t, index):
            events = []
            if lm.by_columns:
                word, lane = divmod(index, self.P)
                events += [_ev(t, ("read", m), m, base + word, frozenset([lane]))
                           for m, base in walk.err_reads.items()]
                if self._bcast_uses_a(walk.err):
                    events.append(_ev(t, ("select",)))
            else:
                events += [_ev(t, ("read", m), m, base + index)
                           for m, base in walk.err_reads.items()]
            return events

        def learn(t, c):
            memory, region = walk.pre_reads
            base = self.smap.base(memory, region)
            if lm.by_columns:
                return [_ev(t, ("read", memory), memory, base + c)]
            events = [_ev(t, ("read", memory), memory, base + c // self.P)]
            if self._bcast_uses_a(walk.pre):
                events.append(_ev(t, ("select",)))
            return events

        if ahead:   # the first row's ETA; the second row's in the ETA lane; then in the
            # last word of row g the ETA lane's of row g + 2
            out += eta(0, 0) + eta(1, 1)
            t = 2
            for g in range(rows):
                for c in range(length):
                    if c == length - 1 and g + 2 < rows:
                        out += eta(t, g + 2)
                    out += learn(t, c)
                    t += 1
            return out
        out += eta(0, 0)
        t = 2   # the first row's ETA, then a wait; the next row's just before a row's last
        for g in range(rows):
            for c in range(length):
                if c == length - 1 and g != rows - 1:
                    out += eta(t, g + 1)
                    t += 1
                out += learn(t, c)
                t += 1
        return out

    def _element_writes(self, op):
        """The words an element pass writes (hdl/passes/units.py ``_element_update``)."""
        smap, k, L = self.smap, op.layer, self.plan.L
        if op.kind == K.SETTLE:
            return [("s", smap.base("s", L - 1))]
        if op.kind == K.OUTPUT:
            return [("a", smap.base("a", L - 1))]
        if op.kind == K.ERROR:
            return [("s", smap.base("s", k))]
        if op.kind == K.SAVE:
            return [("v", smap.base("v", k)), ("gs", smap.base("gs", k))]
        if op.kind == K.SAVE_A:
            return [("fa", smap.base("fa", k))]
        if op.kind == K.GHOST_STEP:
            return [("gs", smap.base("gs", k))]
        if op.kind == K.GHOST:
            return [("s", smap.base("s", k + 1))] + \
                ([("h", smap.base("h", k))] if self.tied_ghosts else [])
        return []   # ARGMAX

    def element(self, op, one_bank=True):
        """An element walk: unit c of its layer fetched at t = c (E0), written at E2 (SETTLE:
        after its K iterations, ``settle_write_lag(K)``); its words read from the unit's bank
        alone, or (``one_bank`` False, outside dynamics) from every bank."""
        smap, k = self.smap, op.layer
        layer = self.plan.L - 1 if op.kind in (K.ARGMAX, K.SETTLE) \
            else k + ELEMENT_KINDS[op.kind]
        from .passes.units import element_reads
        reads = element_reads(self, op)   # (self has what it reads of a Build)
        if self.dynamics:
            reads = {"d": smap.base("d", layer)} | reads
        reads = {"a": smap.base("a", layer)} | reads
        when = settle_write_lag(self.config.settle_iterations) if op.kind == K.SETTLE \
            else E_WRITE
        out = []
        for c in range(self.config.layers[layer + 1]):
            word, lane = divmod(c, self.P)
            one = frozenset([lane]) if one_bank or self.dynamics else ALL
            out.append(_ev(c, ("select",)))
            out += [_ev(c, ("read", m), m, base + word, one) for m, base in reads.items()]
            out += [_ev(c + when, ("write", m), m, base + word, frozenset([lane]), True)
                    for m, base in self._element_writes(op)]
        return out


def pass_context(program) -> _Passes:
    """What the pass walks read of a core's build (``Build``), without one: the program's
    plan, state map and variant (hdl/passes/learn.py ``learn_walk_of``, ``eta_ahead``)."""
    return _Passes(program)


def events(program, n, passes: _Passes | None = None, one_bank=True) -> list[tuple]:
    """The shared-resource events of pass ``n`` of ``program``: (offset, port, memory,
    address, banks (None: all), is a write); ``one_bank``: an element walk's reads."""
    passes = passes or _Passes(program)
    op = program.passes[n]
    if op.kind in (K.FWD, K.DRIVE, K.GHOST_FWD, K.GHOST_DRIVE):
        return passes.forward(op)
    if op.kind == K.GHOST_OUT:
        return passes.ghost_out(op)
    if op.kind in (K.FB, K.HOLD, K.FREE):
        return passes.feedback(op)
    if op.kind in LEARN_KINDS:
        return passes.learn(op)
    if op.kind in ELEMENT_KINDS or op.kind in (K.ARGMAX, K.SETTLE):
        return passes.element(op, one_bank)
    return []   # LOOP, NORM: no state port


def _overlaps(a, b) -> bool:
    return a is ALL or b is ALL or bool(a & b)


class _Timeline:
    """The absolute events of the passes placed so far."""

    def __init__(self):
        self.ports = defaultdict(set)           # port -> cycles in use
        self.words = defaultdict(list)          # (memory, addr) -> [(cycle, banks, write)]
        self.last = -1                          # the latest event's cycle

    def fits(self, evs, start) -> bool:
        for t, port, memory, addr, banks, write in evs:
            at = start + t
            if at in self.ports[port]:
                return False
            if memory is None:
                continue
            for when, other_banks, other_write in self.words[(memory, addr)]:
                if (write or other_write) and when >= at and _overlaps(banks, other_banks):
                    return False
        return True

    def place(self, evs, start):
        for t, port, memory, addr, banks, write in evs:
            at = start + t
            self.ports[port].add(at)
            if memory is not None:
                self.words[(memory, addr)].append((at, banks, write))
            self.last = max(self.last, at)


def schedule(program, old_drain) -> tuple[list[int], set[int]]:
    """The drain after every pass (``old_drain(n)``: the stage of its last write, what a
    pass waits at a barrier), and the element walks that read one bank: outside dynamics
    (whose walks always do) only those for which it starts the walk earlier, since every
    per-bank read enable costs logic on the read port."""
    passes = _Passes(program)
    ops = program.passes
    timeline, drains, end, one_bank = _Timeline(), [], 0, set()
    divided = 0   # the cycle the latest NORM's quotient is complete in

    def first_fit(evs, n):
        if n == 0:
            return end
        prev, op = ops[n - 1], ops[n]
        barrier = prev.kind in WAITS_AFTER or op.kind in WAITS_BEFORE or prev.tap
        start = max(end + old_drain(n - 1), timeline.last + 1) if barrier else end
        if passes.normalized and op.kind in (K.LEARN_V, K.LEARN_Q):   # the fit's step
            start = max(start, divided)
        while not timeline.fits(evs, start):
            start += 1
        return start

    for n, op in enumerate(ops):
        evs = events(program, n, passes, one_bank=False)
        start = first_fit(evs, n)
        if op.kind in ELEMENT_KINDS or op.kind in (K.ARGMAX, K.SETTLE):
            narrow = events(program, n, passes, one_bank=True)
            narrow_start = first_fit(narrow, n)
            if narrow_start < start or passes.dynamics:
                evs, start = narrow, narrow_start
                one_bank.add(n)
        if n:
            drains.append(start - end)
        if op.kind == K.NORM:
            divided = start + NORMALIZER_CYCLES
        timeline.place(evs, start)
        end = start + program.fetch_cycles(n)
    drains.append(old_drain(len(ops) - 1))   # the last pass: its writes before busy falls
    return drains, one_bank
