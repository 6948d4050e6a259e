"""What the builders of one core share while it elaborates (hdl/core.py creates it).

The core is built by a few builders, each owning one part of the machine (hdl/core.py lists
them); ``Build`` carries the module they emit into, the config's plan, the parts built so far
(typed fields, set by hdl/core.py in build order) and the golden model's element operations
as Amaranth expressions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from amaranth.hdl import Cat, Module, Signal

from ghostfpga.config import Config
from ghostfpga.golden.numerics import Formats

from .arith import rate, rho, round_shift, saturate
from .plan import Plan
from .program import Program
from .statemap import StateMap

if TYPE_CHECKING:   # (the parts import Build: names only)
    from .element import Elements
    from .hostport import HostWrites
    from .intake import SampleIntake
    from .operands import Issue
    from .sequencer import Counters, Sequencer
    from .stages import Fetch
    from .state import StateMemories
    from .writeback import WriteBack

__all__ = ["Build"]


@dataclass
class Build:
    m: Module
    core: object            # the GhostCore: its ports
    plan: Plan
    program: Program
    smap: StateMap
    width: int              # state words: max(potential_bits, OPERAND_BITS)
    # the parts, in the order the core builds them (each may use the ones before it)
    host: HostWrites | None = None          # the host's weight writes, per lane
    state: StateMemories | None = None      # the state memories' ports (hdl/state.py)
    fetch: Fetch | None = None              # the controls the sequencer sets (hdl/stages.py)
    fetched: Fetch | None = None            # stage F's controls: ``fetch``, or registered
    issue: Issue | None = None              # stages I and O, the a-word select
    writeback: WriteBack | None = None      # tags, adder tree, post stages
    count: Counters | None = None           # the walks' counters (hdl/sequencer.py)
    intake: SampleIntake | None = None      # the streamed sample port (hdl/intake.py)
    element: Elements | None = None         # the element pipeline
    sequencer: Sequencer | None = None      # the FSM over the program

    def ahead(self, target, name: str | None = None):
        """The signal the sequencer drives in its own cycle for ``target``, which the
        pipeline reads: ``target`` itself, or, with the fetch register (hdl/stages.py
        ``fetch_registers``), a signal registered into ``target`` (the sequencer then runs a
        cycle ahead of everything it controls). The sequencer may drive it combinationally
        or as a register."""
        if not self.plan.stages.fetch:
            return target
        early = Signal.like(target, name=name or f"{target.name}_seq")
        self.m.d.sync += target.eq(early)
        return early

    @property
    def config(self) -> Config:
        return self.plan.config

    @property
    def fmt(self) -> Formats:
        return self.plan.fmt

    @property
    def P(self) -> int:
        return self.plan.lanes

    @property
    def held(self) -> bool:
        """Replay and learned ghosts leave a feedback to subtract, in h (the held feedback,
        or the ghost output c = Q rho(g)), and s holds nudged rates rho(u)."""
        return self.config.variant in ("replay", "learned")

    @property
    def learned(self) -> bool:
        return self.config.variant == "learned"

    @property
    def normalized(self) -> bool:
        """Learned ghosts fit each sample in the free phase (the normalized rule)."""
        return self.config.fits_ghosts

    @property
    def dynamics(self) -> bool:
        return self.config.schedule == "dynamics"

    @property
    def tied_ghosts(self) -> bool:
        return self.smap.tied_ghosts

    @cached_property
    def eta_ahead(self) -> bool:
        """Whether a learning pass computes split rows' scaled errors ahead
        (hdl/passes/learn.py ``uses_eta_ahead``): lane P - 1 is then the ETA lane, and every
        lane takes a shared scaled error."""
        from .passes.learn import uses_eta_ahead
        return uses_eta_ahead(self)

    def addr(self, memory: str, region, word):
        """The address of ``word`` of ``region`` (a layer, or "x") of state memory
        ``memory``. The input x is in the current sample's buffer of memory
        ``smap.inputs``, whose one address bit is ``intake.x_cur`` (hdl/statemap.py); a
        word past the buffer (a bias column's unused read) wraps inside it, so it never
        meets the next sample's beats."""
        if region == "x":
            assert memory == self.smap.inputs, f"the inputs are in {self.smap.inputs}"
            return Cat(word[:self.smap.x_shift], self.intake.x_cur)
        return self.smap.base(memory, region) + word

    # -- the golden FixedModel's element operations (docs/numerics.md) ---------------------
    def rho(self, v):
        return rho(self.m, v, self.fmt.error_frac)

    def rate(self, v):
        return rate(self.m, v, self.fmt.error_frac, self.fmt.rate_frac)

    def narrow(self, v):
        return saturate(self.m, v, self.fmt.potential_bits)

    def euler(self, u, target):
        """u + alpha (target - u), alpha = 2^-alpha_shift, rounded, narrowed (golden euler)."""
        return self.narrow(u + round_shift(target - u, self.fmt.alpha_shift))
