"""Drains cut to the lag the next pass really needs, from a cycle-exact model of what every pass
does to the shared state ports (pure Python, like hdl/program.py): the passes' events
(hdl/events.py ``events``: every use of a port, with its cycle and word) placed one by one.

``schedule(program)`` places the passes one after the other, each at the first cycle after the
previous pass's fetch walk where none of its events meets an earlier pass's: no two passes on
one port in one cycle (the port's ``Arbiter`` would let one win), and every word read or
written after the earlier passes' accesses to it, strictly (a read in the cycle of a write is
a collision: hdl/memory.py). The drain of pass n is the gap before pass n + 1.

What the model leaves out is kept out of the overlap by barriers, where a pass waits for every
earlier event and at least its old drain (the stage of its last write): the weights (a
learning pass writes them inside the lanes, and its lanes take their weight address two
stages late; but a multiply-accumulate pass over the matrix just learned, walking its words
in the same order, waits only ``AFTER_LEARN`` cycles: ``after_learn``), the normalizer (a
tapping pass feeds it; ``NORM`` starts its division), and the dynamics step's loop (it jumps
back). (The result has no pass: the argmax's registers offer it.) The division runs beside
the passes after ``NORM``: the learning pass that uses its step starts ``NORMALIZER_CYCLES``
after ``NORM`` or later (its first ETA then reads the step in the cycle the quotient is
complete). ``NORM`` itself waits only for its sum: ``add_latency`` cycles after the last rate
its tapping pass fed (the first row's, at stage I: ``Program.tap_fetches``), often at once.
``tests/test_memory_collisions.py`` and the arbiters' conflict flags (hdl/arbiter.py) check the
model on whole training runs; co-simulation checks every value.
"""

from __future__ import annotations

from collections import defaultdict

from .events import ALL, events, pass_context
from .normalizer import NORMALIZER_CYCLES, add_latency
from .program import ELEMENT_KINDS, LEARN_KINDS, PassKind
from .stages import LEARN_READ_LAG, stage

__all__ = ["events", "schedule", "pass_context", "after_learn", "WAITS_BEFORE", "WAITS_AFTER",
           "AFTER_LEARN"]

K = PassKind
# barriers (module docstring): these passes start after every earlier event; the pass after
# these too. (NORM touches no port: it waits for its sum alone, ``norm_start``, and only the
# learning pass that uses its step waits for it.)
WAITS_BEFORE = (K.LOOP,)
WAITS_AFTER = (K.LOOP,) + LEARN_KINDS
# a pass that walks its matrix's words in address order, one a cycle, multiplying
IN_ORDER = (K.FWD, K.DRIVE, K.GHOST_FWD, K.GHOST_DRIVE, K.GHOST_OUT)
AFTER_LEARN = LEARN_READ_LAG   # its drain after a learning pass over that matrix (``after_learn``)
AFTER_LEARN_WORDS = 8  # ... of at least this many words a lane


def after_learn(program, n, prev: int | None = None) -> bool:
    """Whether pass ``n`` may start ``AFTER_LEARN`` cycles after the learning pass before it,
    not after that pass's last weight write: a MAC pass over the same matrix, walking its
    ``AFTER_LEARN_WORDS`` or more words a lane in the same order, one a cycle. Its first
    weight read comes past the last LEARN's (which reads two cycles after its issue:
    hdl/lane.py, as ``Program.chain_gap``), each word it reads was written a whole walk
    before, and while the last weights are written it reads the first two words, a
    physical block-RAM row away (docs/hardware.md). ``prev``: the pass before it (n - 1)."""
    prev = n - 1 if prev is None else prev
    if prev < 0:
        return False
    prev, op = program.passes[prev], program.passes[n]
    if prev.kind not in LEARN_KINDS or op.kind not in IN_ORDER:
        return False
    slot = program.slot(op)
    return slot is program.slot(prev) and slot.lane_map.words >= AFTER_LEARN_WORDS


def norm_start(program, tap: int, tap_start: int) -> int:
    """The first cycle ``NORM`` may start in after tapping pass ``tap`` started at
    ``tap_start``: its last rate (fed at stage I) in the normalizer's sum (``add_latency``),
    and not before the tapping pass's fetch walk ends."""
    last_rate = tap_start + program.tap_fetches(tap) - 1 + stage("I")
    return max(tap_start + program.fetch_cycles(tap),
               last_rate + add_latency(program.plan.normalizer_lanes))


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


def schedule(program, old_drain, order: list[int] | None = None,
             one_bank_of: set[int] | None = None) -> tuple[list[int], set[int]]:
    """The drain after every pass (``old_drain(n)``: the stage of its last write, what a
    pass waits at a barrier), and the element walks that read one bank: outside dynamics
    (whose walks always do) only those for which it starts the walk earlier, since every
    per-bank read enable costs logic on the read port. ``order``: the passes run, in order
    (every pass by default; an inference skips some: ``Program.runs``), the drains then one
    per pass of it; ``one_bank_of``: the element walks that read one bank, as decided for
    every pass (the RTL builds each walk once)."""
    passes = pass_context(program)
    ops = program.passes
    order = list(range(len(ops))) if order is None else order
    timeline, drains, end, one_bank = _Timeline(), [], 0, set()
    divided = 0   # the cycle the latest NORM's quotient is complete in

    def first_fit(evs, i):
        if i == 0:
            return end
        n, before = order[i], order[i - 1]
        prev, op = ops[before], ops[n]
        if op.kind == K.NORM:   # no port: its sum alone
            return norm_start(program, before, end - program.fetch_cycles(before))
        barrier = prev.kind in WAITS_AFTER or op.kind in WAITS_BEFORE
        lag = AFTER_LEARN if after_learn(program, n, before) else old_drain(before)
        start = max(end + lag, timeline.last + 1) if barrier else end
        if passes.normalized and op.kind in (K.LEARN_V, K.LEARN_Q):   # the fit's step
            start = max(start, divided)
        while not timeline.fits(evs, start):
            start += 1
        return start

    for i, n in enumerate(order):
        op = ops[n]
        evs = events(program, n, passes, one_bank=False)
        start = first_fit(evs, i)
        if op.kind in ELEMENT_KINDS or op.kind in (K.ARGMAX, K.SETTLE):
            narrow = events(program, n, passes, one_bank=True)
            narrow_start = first_fit(narrow, i)
            if (narrow_start < start or passes.dynamics if one_bank_of is None
                    else n in one_bank_of):
                evs, start = narrow, narrow_start
                one_bank.add(n)
        if i:
            drains.append(start - end)
        if op.kind == K.NORM:
            divided = start + NORMALIZER_CYCLES
        timeline.place(evs, start)
        end = start + program.fetch_cycles(n)
    drains.append(old_drain(order[-1]))   # the last pass: its writes before busy falls
    return drains, one_bank
