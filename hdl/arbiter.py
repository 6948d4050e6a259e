"""The arbitration of a shared resource: its requesters, their priority, and where they are
emitted.

A resource shared by several parts of the core (a state memory's read port, a state memory's
write bus, the select of the broadcast ``a`` word) has one ``Arbiter``. What the resource does
when nobody asks is its ``DEFAULT`` (emitted first); its requesters come in three tiers,
lowest priority first:

- ``FETCH``: the pass the sequencer is in, from inside its FSM state (the state is the
  condition). Emitted where the pass's fetch walk is built, before every other tier.
- ``WRITEBACK``: a pass's write-back, under its tag (an explicit condition), ordered by the
  pass's index in the program: a later pass wins.
- ``ELEMENT``: the element pipeline's registered writes.

Below every tier, a resource may have one ``SPARE`` requester (``spare``): it is granted the
cycles in which no other requester asks (the streamed sample's beats, hdl/intake.py, which
wait for them), so it never meets another. Where no FETCH request drives the resource (the
write buses with the fetch register) the SPARE requester may be ``steer``ed: its address and
data drive the resource in every cycle no other requester does, and only its enables wait
for the grant.

With the fetch register (hdl/stages.py ``fetch_registers``) the sequencer runs a cycle ahead
of everything it controls: a FETCH request's ``emit`` then drives the owner's staging signals
in the sequencer's cycle, and the owner's ``apply`` (``Arbiter(ahead=...)``) puts their
registered values on the resource a cycle later, in the tier's place (after the default,
before every later tier); the tier's activity is registered with them.

Requests of the two later tiers are collected and emitted by the arbiter in one place
(``emit``), in (tier, order) order; Amaranth's "the last assignment wins" then gives the
priority. Passes overlap (hdl/schedule.py), but the schedule places them so that no two
requesters ask in one cycle; ``conflict`` is high when two do, for simulation checks
(tests/test_memory_collisions.py), and the priority decides should a schedule be wrong. The
emission order also fixes the netlist Yosys and ABC see: a reordering is a logic change for
the characterization (tests/test_characterization.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Callable

from amaranth.hdl import Cat, Signal, Value

__all__ = ["Tier", "When", "Arbiter", "Request"]


class Tier(IntEnum):
    DEFAULT = -2          # what the resource does when nobody asks (not a requester)
    SPARE = -1            # the cycles nobody else asks for (``Arbiter.spare``)
    FETCH = 0
    WRITEBACK = 1
    ELEMENT = 2


@dataclass(frozen=True)
class When:
    """A deferred requester: its tier, its order in the tier, its name and its condition."""
    tier: Tier
    order: int            # the pass index (WRITEBACK), the requester's rank (ELEMENT)
    who: str
    cond: object

    def __post_init__(self):
        if self.tier <= Tier.FETCH:
            raise ValueError("FETCH requests are emitted in their FSM state, not deferred")


@dataclass(frozen=True)
class Request:
    tier: Tier
    order: int            # the pass index (WRITEBACK), the requester's rank (ELEMENT)
    who: str              # for the arbitration table (docs, tests)
    cond: object          # the Amaranth condition (None for FETCH: the FSM state)
    emit: Callable[[], None]


class Arbiter:
    """The requesters of resource ``name``, emitted into module ``m``."""

    def __init__(self, m, name: str, ahead: Callable[[], None] | None = None):
        """``ahead``: the fetch register's ``apply`` (see the module docstring), or None."""
        self.m, self.name = m, name
        self.requests: list[Request] = []
        self.emitted = False
        self.spared = None   # (wants, granted, emit, steer) of the SPARE requester
        self.ahead = ahead
        slug = name.replace(" ", "_")
        # for simulation checks (nothing reads them in the design: synthesis drops them):
        # the FETCH tier asks this cycle (the sequencer's cycle, with ``ahead``); two
        # requesters ask in one cycle
        self.fetch_active = Signal(name=f"{slug}_fetch_active")
        # with ``ahead``: ``fetch_uses``'s condition holds (a use in the pipeline's cycle)
        self.fetch_used = Signal(name=f"{slug}_fetch_used")
        self.conflict = Signal(name=f"{slug}_conflict")
        # no requester of a tier asks this cycle: the SPARE requester's cycles
        self.unclaimed = Signal(name=f"{slug}_unclaimed")

    def default(self, who: str, emit: Callable[[], None]):
        """What the resource does when nobody asks: ``emit`` runs now, before any request."""
        if self.requests:
            raise RuntimeError(f"{self.name}: the default goes before every request")
        self.requests.append(Request(Tier.DEFAULT, 0, who, None, emit))
        emit()

    def fetch(self, who: str, emit: Callable[[], None], active: bool = True):
        """A FETCH-tier request: ``emit`` runs now, inside the caller's FSM state (and marks
        the FETCH tier active, unless ``active`` is False: ``fetch_uses`` says when)."""
        self._check(Tier.FETCH)
        if self.spared is not None and self.spared[3] is not None:
            raise RuntimeError(f"{self.name}: a FETCH request with a steered SPARE requester "
                               "(its steering would override the request's assignments)")
        self.requests.append(Request(Tier.FETCH, 0, who, None, emit))
        emit()
        if active:
            self.m.d.comb += self.fetch_active.eq(1)

    def fetch_uses(self, cond):
        """The FETCH tier also uses the resource whenever ``cond`` holds (a use that is
        not an assignment: the default's value read by the fetch)."""
        with self.m.If(cond):
            self.m.d.comb += (self.fetch_used if self.ahead else self.fetch_active).eq(1)

    def spare(self, who: str, wants, emit: Callable[[], None],
              steer: Callable[[], None] | None = None) -> Signal:
        """The SPARE requester: it ``wants`` the resource and gets it when ``unclaimed``
        (no requester of a tier asks); ``emit`` runs under the returned grant. ``steer``
        (a resource no FETCH request drives: with ``ahead``) runs whatever the grant, before
        every deferred request: what the requester drives that acts only with what
        ``emit`` drives (a write's address and data, the enables in ``emit``), so those
        wait for no arbitration (the grant's decode into a write address that every bank
        takes across the device was a ULX3S build's critical path)."""
        self._check(Tier.SPARE)
        if self.spared is not None:
            raise RuntimeError(f"{self.name}: one SPARE requester only")
        if steer is not None and (self.ahead is None or any(
                r.tier == Tier.FETCH for r in self.requests)):
            raise RuntimeError(f"{self.name}: a steered SPARE requester under a FETCH "
                               "request's assignments would override them")
        granted = Signal(name=f"{self.name.replace(' ', '_')}_spare")
        self.spared = (wants, granted, emit, steer)
        self.requests.append(Request(Tier.SPARE, 0, who, granted, emit))
        return granted

    def request(self, when: When, emit: Callable[[], None]):
        """A request of a later tier: ``emit`` runs in ``self.emit``, under ``when.cond``."""
        self._check(when.tier)
        self.requests.append(Request(when.tier, when.order, when.who, when.cond, emit))

    def emit(self):
        """Emit the collected requests, lowest priority first (once, after the FSM)."""
        if self.emitted:
            raise RuntimeError(f"{self.name}: emitted twice")
        self.emitted = True
        deferred = [r for r in self.requests if r.tier > Tier.FETCH]
        fetching = self.fetch_active
        if self.ahead is not None:   # the sequencer's requests, a cycle later
            fetched = Signal(name=f"{self.name.replace(' ', '_')}_fetch_ahead")
            self.m.d.sync += fetched.eq(self.fetch_active)
            with self.m.If(fetched):
                self.ahead()
            fetching = fetched | self.fetch_used
        asking = [fetching] + [Value.cast(r.cond) != 0 for r in deferred]
        self.m.d.comb += self.unclaimed.eq(~Cat(*asking).any())
        if self.spared is not None:   # (granted only when nobody else asks: first is fine)
            wants, granted, emit, steer = self.spared
            self.m.d.comb += granted.eq(wants & self.unclaimed)
            if steer is not None:
                steer()
            with self.m.If(granted):
                emit()
        for request in sorted(deferred, key=lambda r: (r.tier, r.order)):   # (stable)
            with self.m.If(request.cond):
                request.emit()
        self.m.d.comb += self.conflict.eq(sum(asking) > 1)

    def table(self) -> list[tuple[str, int, str]]:
        """(tier, order, requester), lowest priority first: who wins when two ask at once."""
        ranked = sorted(self.requests, key=lambda r: (r.tier, r.order))
        return [(r.tier.name, r.order, r.who) for r in ranked]

    def _check(self, tier):
        if self.emitted:
            raise RuntimeError(f"{self.name}: a {tier.name} request after the arbiter emitted")
