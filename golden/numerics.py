"""The numerics contract, defined once (docs/numerics.md): formats, rounding, saturation, LFSR.

Everything here works on integer NumPy arrays (int64) or Python ints. The fixed-point golden
model uses these functions, and the hardware generator takes its widths and constants from
:class:`Formats` and its LFSR from :data:`LFSR_TAPS`, so both sides share one definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ghostfpga.config import Config, ConfigError

__all__ = ["Formats", "round_shift", "saturate", "stochastic_shift", "rho_fixed", "quantize",
           "LFSR_TAPS", "LFSR_PERIOD", "lfsr_step", "lfsr_table", "lfsr_position", "LANE_ROTATION",
           "lane_random", "power_of_two_exponent", "LFSR_BITS", "scaled_error", "weight_update",
           "learn_update", "normalized_step", "STEP_BITS", "V_STEP_FRAC", "Q_STEP_FRAC"]

SCALED_ERROR_BITS = 16
"""Width of the scaled error e = eta x d that multiplies the presynaptic rate (signed)."""
SCALED_ERROR_FRAC = 15
"""Fraction bits of the scaled error (range [-1, 1))."""
OPERAND_BITS = 16
"""Width of the second multiplier operand (signed): one 16 x 16 DSP multiply per lane."""


def round_shift(x, shift: int):
    """x / 2^shift rounded to nearest, ties toward +infinity: (x + 2^(shift-1)) >> shift.

    ``shift <= 0`` multiplies by 2^-shift exactly. Arithmetic shift on signed integers.
    """
    if shift <= 0:
        return x << -shift if not isinstance(x, np.ndarray) else np.left_shift(x, -shift)
    half = 1 << (shift - 1)
    return (x + half) >> shift


def stochastic_shift(x, shift: int, random16):
    """x / 2^shift rounded stochastically: floor((x + u) / 2^shift) with u from 16 random bits.

    ``random16`` (0 .. 65535) is aligned to the top of the dropped bits: u = random16 <<
    (shift - 16) when shift >= 16, else random16 >> (16 - shift). The result equals x / 2^shift
    in expectation (to 2^-16 of an LSB).
    """
    if shift <= 0:
        return round_shift(x, shift)
    u = random16 << (shift - 16) if shift >= 16 else random16 >> (16 - shift)
    return (x + u) >> shift


def saturate(x, bits: int, signed: bool = True):
    """Clamp to the range of a ``bits``-wide integer (two's complement if signed)."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if isinstance(x, np.ndarray):
        return np.clip(x, lo, hi)
    return min(max(x, lo), hi)


def rho_fixed(u, one: int):
    """Hard sigmoid on integers: clamp to [0, one] where ``one`` represents 1.0."""
    if isinstance(u, np.ndarray):
        return np.clip(u, 0, one)
    return min(max(u, 0), one)


def quantize(x: np.ndarray, frac: int, bits: int, signed: bool = True) -> np.ndarray:
    """Float to fixed point: round to nearest (ties away from zero, as np.round does not:
    we use floor(x * 2^frac + 0.5)), then saturate."""
    q = np.floor(np.asarray(x, dtype=np.float64) * (1 << frac) + 0.5).astype(np.int64)
    return saturate(q, bits, signed)


def power_of_two_exponent(value: float, field: str) -> int:
    """k such that value == 2^-k; ConfigError naming ``field`` otherwise."""
    k = -math.log2(value)
    if k != round(k) or k < 0:
        raise ConfigError(field, value, "must be a power of two 2^-k for the fixed-point model")
    return int(round(k))


# -- LFSR -----------------------------------------------------------------------------------------
LFSR_BITS = 16
"""Width of the LFSR state and of every random word (stochastic rounding)."""
LFSR_TAPS = 0xB400
"""Galois LFSR, 16 bits, polynomial x^16 + x^14 + x^13 + x^11 + 1 (maximal, period 65535)."""
LFSR_PERIOD = 65535


def lfsr_step(state: int) -> int:
    """One step: shift right; if the bit shifted out was 1, XOR the taps."""
    out = state & 1
    state >>= 1
    return state ^ LFSR_TAPS if out else state


@lru_cache(maxsize=1)
def lfsr_table() -> np.ndarray:
    """All 65535 states in sequence order, starting from state 1 (index i = i steps from 1)."""
    table = np.empty(LFSR_PERIOD, dtype=np.int64)
    s = 1
    for i in range(LFSR_PERIOD):
        table[i] = s
        s = lfsr_step(s)
    assert s == 1
    return table


@lru_cache(maxsize=1)
def _lfsr_index() -> dict[int, int]:
    return {int(v): i for i, v in enumerate(lfsr_table())}


def lfsr_position(seed: int) -> int:
    """Position of the state ``seed`` in the sequence (index into ``lfsr_table``)."""
    return _lfsr_index()[seed]


LANE_ROTATION = 7
"""Lane p reads the shared LFSR state rotated left by (p * LANE_ROTATION) mod 16 bits (7 is odd,
so the first 16 lanes all see different bit orders)."""


def lane_random(state, lane):
    """The random word of lane ``lane`` from the shared LFSR state (works on arrays)."""
    r = (np.asarray(lane) * LANE_ROTATION) % 16
    state = np.asarray(state, dtype=np.int64)
    return ((state << r) | (state >> ((16 - r) % 16))) & 0xFFFF


# -- formats --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Formats:
    """Every width and shift of the datapath, derived from a config (docs/numerics.md)."""

    rate_frac: int        # R: inputs and rates, unsigned, 1.0 = 2^R
    error_frac: int       # E: potentials, drives and errors, signed
    potential_bits: int   # width of potentials / drives (signed)
    weight_bits: int
    weight_frac: int      # Wf
    eta_bits: int
    eta_frac: int
    accumulator_bits: int
    beta_shift: int       # beta = 2^-beta_shift
    alpha_shift: int      # alpha = 2^-alpha_shift
    stochastic: bool
    lfsr_seed: int
    max_row: int          # longest dot product (terms) of any pass

    @classmethod
    def from_config(cls, config: Config) -> "Formats":
        n = config.numerics
        beta_shift = power_of_two_exponent(config.beta, "beta")
        alpha_shift = power_of_two_exponent(config.alpha, "alpha")
        if beta_shift > n.error_frac:
            raise ConfigError("beta", config.beta,
                              f"is below one LSB of the error format (2^-{n.error_frac})")
        sizes = config.layers
        max_row = max(max(sizes[k] + 1 for k in range(len(sizes) - 1)), max(sizes[1:]))
        need = cls.required_accumulator_bits(n.weight_bits, max_row)
        acc = n.accumulator_bits or need
        if acc < need:
            raise ConfigError("numerics.accumulator_bits", n.accumulator_bits,
                              f"is too narrow: dot products of {max_row} terms of "
                              f"{n.weight_bits}-bit x {OPERAND_BITS}-bit need {need} bits")
        fmt = cls(n.rate_frac, n.error_frac, n.potential_bits, n.weight_bits, n.weight_frac,
                  n.eta_bits, n.eta_frac, acc, beta_shift, alpha_shift,
                  n.rounding == "stochastic", n.lfsr_seed, max_row)
        fmt._check_rates(config)
        return fmt

    def _check_rates(self, config: Config) -> None:
        """Refuse formats whose scaled error has no bits left to round (the weight update
        always has: weight_frac < 16 <= 15 + rate_frac), and rates the
        learning-rate multiplier cannot hold (so they fail here, not in the middle of a run)."""
        n = config.numerics
        if self.eta_shift <= 0:
            raise ConfigError("numerics.eta_frac", n.eta_frac,
                              f"plus numerics.error_frac ({n.error_frac}) must exceed "
                              f"{SCALED_ERROR_FRAC}, the scaled error's fraction bits")
        if config.fits_ghosts and self.step_shift(Q_STEP_FRAC) <= 0:
            raise ConfigError("numerics.error_frac", n.error_frac,
                              f"must be above {SCALED_ERROR_FRAC - Q_STEP_FRAC} for learned "
                              f"ghosts with the normalized rule (Q's step has {Q_STEP_FRAC} "
                              "fraction bits)")
        for k, lr in enumerate(config.lr_at(0)):
            if math.floor(lr / config.beta * (1 << self.eta_frac) + 0.5) >= 1 << self.eta_bits:
                raise ConfigError("lr", config.lr,
                                  f"of layer {k + 1} over beta ({lr / config.beta:g}) does not "
                                  f"fit the {self.eta_bits}-bit learning-rate multiplier with "
                                  f"{self.eta_frac} fraction bits (raise numerics.eta_bits, "
                                  "lower lr or raise beta)")
        if config.variant == "learned" and not config.fits_ghosts:
            self.eta_mantissa(config.ghost_lr, "ghost_lr")

    @staticmethod
    def required_accumulator_bits(weight_bits: int, terms: int) -> int:
        """Exact width for a sum of ``terms`` products of a weight and a 16-bit operand."""
        product = weight_bits + OPERAND_BITS - 1  # |w * v| <= 2^(wb-1) * 2^(ob-1)
        return product + 1 + math.ceil(math.log2(terms))

    @property
    def rate_one(self) -> int:
        return 1 << self.rate_frac

    # -- the shifts of the datapath, each derived once ----------------------------------------
    @property
    def forward_shift(self) -> int:
        """A drive: weight x rate (weight_frac + rate_frac bits) to the error format."""
        return self.weight_frac + self.rate_frac - self.error_frac

    @property
    def feedback_shift(self) -> int:
        """A feedback: weight x error (weight_frac + error_frac bits) to the error format."""
        return self.weight_frac

    @property
    def input_shift(self) -> int:
        """An input rate into the potential format (a left shift)."""
        return self.error_frac - self.rate_frac

    @property
    def eta_shift(self) -> int:
        """The scaled error: eta x error (eta_frac + error_frac bits) to SCALED_ERROR_FRAC."""
        return self.step_shift(self.eta_frac)

    def step_shift(self, eta_frac: int) -> int:
        """The scaled error of a multiplier with ``eta_frac`` fraction bits."""
        return eta_frac + self.error_frac - SCALED_ERROR_FRAC

    @property
    def learn_shift(self) -> int:
        """A weight update: scaled error x rate to the weight format."""
        return SCALED_ERROR_FRAC + self.rate_frac - self.weight_frac

    def target(self, value):
        """Target rates (0 .. 1; a float or an array) in the error format, as the core holds
        them."""
        return quantize(value, self.error_frac, self.error_frac + 1, signed=False)

    @property
    def error_one(self) -> int:
        return 1 << self.error_frac

    def eta_mantissa(self, rate: float, field: str) -> int:
        """A learning-rate factor as the hardware's unsigned multiplier (round to nearest)."""
        m = int(math.floor(rate * (1 << self.eta_frac) + 0.5))
        if m >= 1 << self.eta_bits:
            raise ConfigError(field, rate, f"does not fit the {self.eta_bits}-bit learning-rate "
                              f"multiplier with {self.eta_frac} fraction bits "
                              "(raise numerics.eta_bits)")
        return m

    def etas(self, lrs, beta: float) -> list[int]:
        """Per-layer multipliers lr_l / beta, as the hardware holds them."""
        return [self.eta_mantissa(lr / beta, "lr") for lr in lrs]


# -- the normalized steps of learned ghosts (docs/numerics.md) -----------------------------------
STEP_BITS = 15
"""Width of a normalized step, the unsigned learning-rate multiplier of a ghost fit (it fits
a signed 16-bit multiplier operand)."""
V_STEP_FRAC = 15
"""Fraction bits of V's step 1 / (|r|^2 + 1), in (0, 1)."""
Q_STEP_FRAC = 8
"""Fraction bits of Q's step 1 / |rate(g)|^2: it exceeds 1 when the ghost rates are small
(up to 128, for |rate(g)|^2 down to 1/128)."""


def normalized_step(fmt: Formats, pre, frac: int, bias: bool) -> int:
    """The step of one normalized least-mean-squares fit over the presynaptic rates ``pre``
    (rate format; ``bias``: and a bias input of 1.0): floor(2^frac / |pre|^2), exact integer
    division, saturated to STEP_BITS bits; 0 when |pre|^2 is 0 (nothing to fit)."""
    norm = int(np.sum(np.asarray(pre, dtype=np.int64) ** 2)) + (fmt.rate_one ** 2 if bias else 0)
    if norm == 0:
        return 0
    return min((1 << (frac + 2 * fmt.rate_frac)) // norm, (1 << STEP_BITS) - 1)


# -- the learning update (docs/numerics.md), the one definition the model and the tests use ----
def scaled_error(fmt: Formats, eta, err, eta_frac: int | None = None):
    """(e, wide): the scaled error e = sat16(round(eta x sat16(err) / 2^shift)) and its value
    before the last saturation; shift = eta_frac + error_frac - 15 (eta_frac: the formats' by
    default, a ghost step's for normalized fits). The error is the lane's 16-bit operand: with
    potentials wider than 16 bits a ghost fit's error (a difference of potentials) saturates
    there; every other error fits it."""
    shift = fmt.eta_shift if eta_frac is None else fmt.step_shift(eta_frac)
    wide = round_shift(eta * saturate(err, OPERAND_BITS), shift)
    return saturate(wide, SCALED_ERROR_BITS), wide


def weight_update(fmt: Formats, e, pre, random16=None):
    """The weight change round(e x pre / 2^learn_shift), not yet saturated: stochastic with
    the 16-bit random words ``random16`` when the formats round stochastically, else nearest."""
    if fmt.stochastic:
        return stochastic_shift(e * pre, fmt.learn_shift, random16)
    return round_shift(e * pre, fmt.learn_shift)


def learn_update(fmt: Formats, w, eta, err, pre, random16=None):
    """The new weight: sat(w + round(sat16(round(eta x err)) x pre)) (see the parts above)."""
    e, _ = scaled_error(fmt, eta, err)
    return saturate(w + weight_update(fmt, e, pre, random16), fmt.weight_bits)
