"""The shared-resource events of every pass: what each pass does to the state memories' ports,
cycle by cycle (pure Python, like hdl/program.py), for the schedule (hdl/schedule.py).

A pass issues one fetch a cycle (offset t from the first cycle of its FSM state); its
write-back runs under the fetch's tag at fixed stages after it (hdl/stages.py). ``events``
lists, for one pass, every use of a shared resource with its cycle offset:

- ``("read", m)``: the read port of state memory m (one address for all banks), with the word
  it reads and the banks whose data it uses (data hazards; a broadcast operand or one unit's
  word is read from its bank alone, ``StateMemories.read``);
- ``("write", m)``: m's write bus, with the word written;
- ``("select",)``: the select of the broadcast ``a`` word (``Issue.select_a``), used by a fetch
  whose broadcast operand comes from ``a``, by the element walks and by the transposed passes'
  write-back;
- ``("acc",)`` and ``("forward",)``: where the walk over the output's drives takes them from
  the lanes' accumulators (``forwards_drives``), the pass before it writes them (memory
  ``ACC``, every bank) at its last fetch's L2, and the walk reads lane j's at unit j's E1.
"""

from __future__ import annotations

import math

from .operands import broadcasts_from_a
from .program import ELEMENT_KINDS, LEARN_KINDS, PassKind
from .stages import settle_write_lag, stage

__all__ = ["events", "pass_context", "forwards_drives", "forwarded_units", "ALL", "ACC"]

K = PassKind
ALL = None                            # every bank
E_WRITE = stage("E2")                 # the element pipeline's write enable (visible at E3)
ACC = "acc"                           # the lanes' accumulators, as a memory of the model
# the output units a forwarding walk takes from the accumulators: the first two, fetched
# before the cycle after P0 (when a read of ``a`` first sees the drives); the others are read
FORWARDED_UNITS = stage("E1") + 1


def forwarded_units(program) -> int:
    """The output units whose drives a walk of ``program`` takes from the accumulators:
    ``FORWARDED_UNITS`` (or every unit, if fewer) where a walk forwards, else 0."""
    if not any(forwards_drives(program, n) for n in range(len(program.passes))):
        return 0
    return min(FORWARDED_UNITS, program.plan.config.layers[-1])


def forwards_drives(program, n) -> bool:
    """Whether element walk ``n`` (the argmax, or the settling that computes it too) takes
    its first output units' drives from their lanes' accumulators (hdl/element.py
    ``_unit_a``) instead of reading them back from ``a``: where the plan asks for it
    (``Plan.forward_drives``), outside dynamics, where the pass run before it
    (in training and in an inference) is the output layer's forward pass in the rows layout
    with one row group. Each output unit's accumulator then holds its drive, as written to
    ``a`` at P0, from P0 of that pass's last fetch until the lane's next operation, which no
    pass issues before the walk ends: the walk starts at E1 = P0, two cycles before it could
    read the written word (the schedule places it by the accumulators' events, ``ACC``)."""
    op = program.passes[n]
    if op.kind not in (K.ARGMAX, K.SETTLE) or program.plan.config.schedule == "dynamics" \
            or not program.plan.forward_drives:   # (hardware.forward_drives)
        return False
    for train in (True, False):
        order = program.runs(train)
        if n not in order:
            continue
        i = order.index(n)
        if i == 0:
            return False
        before = program.passes[order[i - 1]]
        if before.kind != K.FWD or before.layer != program.plan.L - 1:
            return False
        slot = program.slot(before)
        if slot.lane_map.by_columns or slot.groups != 1:
            return False
    return True


def _ev(t, port, memory=None, addr=None, banks=ALL, write=False):
    return (t, port, memory, addr, banks, write)


class _Passes:
    """The events of the passes of one program (``events(program, n)``)."""

    def __init__(self, program):
        self.program, self.plan = program, program.plan
        self.config, self.P, self.fmt = program.plan.config, program.plan.lanes, program.plan.fmt
        self.smap = program.plan.smap
        v = self.config.variant
        self.held = v in ("replay", "learned")
        self.learned = v == "learned"
        self.dynamics = self.config.schedule == "dynamics"
        self.normalized = self.config.fits_ghosts
        self.tied_ghosts = self.smap.tied_ghosts
        self.stages = program.plan.stages   # the core's stage table (its registers)

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
        out = [_ev(t + self.stages.post, ("read", m), m, self.smap.base(m, k) + index)
               for m in self._unit_reads(role)]
        memory = self._result_memory(role)
        out.append(_ev(t + self.stages.drain_lanes, ("write", memory), memory,
                       self.smap.base(memory, k) + index,
                       self.rows_enabled(index, units), True))
        return out

    def write_tree(self, t, last, unit, k, role):
        stages = self.stages
        out = [_ev(t + stages.sum, ("select",))]
        if not last:
            return out
        word, lane = divmod(unit, self.P)
        one = frozenset([lane]) if self.dynamics else ALL
        out += [_ev(t + stages.sum, ("read", m), m, self.smap.base(m, k) + word, one)
                for m in self._unit_reads(role)]
        memory = self._result_memory(role)
        out.append(_ev(t + stages.result, ("write", memory), memory,
                       self.smap.base(memory, k) + word, frozenset([lane]), True))
        return out

    # -- the walks (hdl/passes/) -----------------------------------------------------------
    def forward(self, op):
        from .passes.forward import forward_targets
        from .passes.walks import presynaptic
        slot, src, targets = forward_targets(self, op)   # (self has what it reads)
        memory, _ = presynaptic(self, src)
        src_base = self.smap.base(memory, src)   # (x: the current buffer's words, as buffer 0)
        out, t = [], 0
        if slot.lane_map.by_columns:
            chunks = slot.lane_map.chunks
            for g in range(slot.rows):
                for c in range(chunks):
                    out.append(_ev(t, ("read", memory), memory, src_base + c))
                    if c == chunks - 1:
                        word, lane = divmod(g, self.P)
                        out += [_ev(t + self.stages.sum, ("write", m), m, base + word,
                                    frozenset([lane]), True) for m, base in targets]
                    t += 1
            return out
        for g in range(slot.groups):
            for c in range(slot.cols):
                if c != slot.cols - 1:
                    out.append(_ev(t, ("read", memory), memory, src_base + c // self.P))
                if memory == "a":   # (the a-word select; s's broadcast word has no select)
                    out.append(_ev(t, ("select",)))
                if c == slot.cols - 1:
                    out += [_ev(t + self.stages.drive_write, ("write", m), m, base + g,
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

    def learn(self, n):
        from .passes.learn import eta_ahead, eta_handed_in, eta_handed_on, learn_walk_of, \
            pre_port
        walk = learn_walk_of(self, self.program.passes[n])   # (self: what a Build has)
        handing = eta_handed_on(self, n)   # the next pass's first ETA, in the last row
        received = eta_handed_in(self, n)
        lm = walk.slot.lane_map
        length = lm.chunks if lm.by_columns else walk.slot.cols
        rows = walk.slot.rows if lm.by_columns else walk.slot.groups
        ahead = eta_ahead(self, walk)
        out, t = [], 0

        def eta(t, index, walk=walk):
            lm = walk.slot.lane_map
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
            base, port = self.smap.base(memory, region), ("read", pre_port(self, memory))
            if lm.by_columns:
                return [_ev(t, port, memory, base + c)]
            events = [_ev(t, port, memory, base + c // self.P)]
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
        if not received:
            out += eta(0, 0)
        # the first row's ETA, then a wait; the next row's just before a row's last (the
        # last row's: the next pass's first, where this pass hands it on)
        t = 0 if received else 2
        for g in range(rows):
            for c in range(length):
                if c == length - 1 and g != rows - 1:
                    out += eta(t, g + 1)
                    t += 1
                elif c == length - 1 and handing is not None:
                    out += eta(t, 0, handing)
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

    def element(self, op, one_bank=True, forwarded=0):
        """An element walk: unit c of its layer fetched at t = c (E0), written at E2 (SETTLE:
        after its K iterations, ``settle_write_lag(K)``); its words read from the unit's bank
        alone, or (``one_bank`` False, outside dynamics) from every bank. ``forwarded``: the
        units whose drives are taken from their lanes' accumulators at E1, not read from
        ``a`` (``forwarded_units`` where the walk ``forwards_drives``)."""
        smap, k = self.smap, op.layer
        layer = self.plan.L - 1 if op.kind in (K.ARGMAX, K.SETTLE) \
            else k + ELEMENT_KINDS[op.kind]
        from .passes.units import element_reads
        reads = element_reads(self, op)   # (self has what it reads of a Build)
        if self.dynamics:
            reads = {"d": smap.base("d", layer)} | reads
        when = settle_write_lag(self.config.settle_iterations) if op.kind == K.SETTLE \
            else E_WRITE
        out = []
        for c in range(self.config.layers[layer + 1]):
            word, lane = divmod(c, self.P)
            one = frozenset([lane]) if one_bank or self.dynamics else ALL
            out.append(_ev(c, ("select",)))   # (held by a forwarded unit too)
            if c < forwarded:
                out.append(_ev(c + stage("E1"), ("forward",), ACC, 0, frozenset([lane])))
            else:
                out.append(_ev(c, ("read", "a"), "a", smap.base("a", layer) + word, one))
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
    if op.kind in ELEMENT_KINDS or op.kind in (K.ARGMAX, K.SETTLE):
        forwarded = forwarded_units(program) if forwards_drives(program, n) else 0
        return passes.element(op, one_bank, forwarded)
    if op.kind in (K.FWD, K.DRIVE, K.GHOST_FWD, K.GHOST_DRIVE):
        out = passes.forward(op)
    elif op.kind == K.GHOST_OUT:
        out = passes.ghost_out(op)
    elif op.kind in (K.FB, K.HOLD, K.FREE):
        out = passes.feedback(op)
    elif op.kind in LEARN_KINDS:
        out = passes.learn(n)
    else:
        return []   # LOOP, NORM: no state port
    if _feeds_forwarded(program, n):   # its drives in the accumulators: the last write
        last = program.fetch_cycles(n) - 1
        out.append(_ev(last + program.plan.stages.acc_write, ("acc",), ACC, 0, ALL, True))
    return out


def _feeds_forwarded(program, n) -> bool:
    """Whether the pass run after pass ``n`` takes its drives from the accumulators. (Only
    that walk reads them, at most ``fetch_cycles`` after it starts; the pass after the walk
    starts when the walk's fetches end, and its lanes' first sums come ``acc_write`` later.)"""
    return any(forwards_drives(program, program.following(n, train))
               for train in (True, False)
               if n in program.runs(train) and program.following(n, train) < len(program.passes))
