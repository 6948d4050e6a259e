"""What the builders of one core share while it elaborates (hdl/core.py creates it).

The core is built by a few builders, each owning one part of the machine (hdl/core.py lists
them); ``Build`` carries the module they emit into, the config's plan and the parts built so
far, and the golden model's element operations as Amaranth expressions."""

from __future__ import annotations

from dataclasses import dataclass, field

from amaranth.hdl import Module

from ghostfpga.config import Config
from ghostfpga.golden.numerics import Formats

from .arith import rate, rho, round_shift, saturate
from .plan import Plan
from .program import Program
from .statemap import StateMap

__all__ = ["Build"]


@dataclass
class Build:
    m: Module
    core: object            # the GhostCore: its ports
    plan: Plan
    program: Program
    smap: StateMap
    width: int              # state words: max(potential_bits, OPERAND_BITS)
    parts: dict = field(default_factory=dict)   # the builders, by name

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

    def __getattr__(self, name):   # the builders: b.state, b.fetch, b.count, ...
        parts = self.__dict__.get("parts", {})
        if name in parts:
            return parts[name]
        raise AttributeError(name)

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
