"""The one configuration type of ghostfpga.

A :class:`Config` describes the network (layer sizes), the learning model (ghost variant,
feedback mode, schedule, beta, alpha, steps) and training (learning rates, decay, epochs,
seed). It loads from and saves to TOML; every field is validated on construction and a bad
field raises :class:`ConfigError` naming the field and the bad value.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from .devices import DEVICES   # the supported FPGAs; lanes may not exceed their multipliers

__all__ = ["Config", "ConfigError", "Numerics", "Hardware", "Link", "VARIANTS", "FEEDBACKS", "SCHEDULES",
           "ROUNDINGS", "DEVICES", "GHOST_RULES"]

VARIANTS = ("tied", "learned", "replay")
FEEDBACKS = ("transpose", "random")
SCHEDULES = ("dynamics", "sweep")
GHOST_RULES = ("normalized", "constant")


class ConfigError(ValueError):
    """A configuration field has a bad value. ``field`` names it, ``value`` is what was given."""

    def __init__(self, field_name: str, value: Any, reason: str):
        value = list(value) if isinstance(value, tuple) else value
        self.field = field_name
        self.value = value
        self.reason = reason
        if field_name == "<file>":
            super().__init__(f"config file {value} {reason}")
        else:
            super().__init__(f"config field '{field_name}' {reason}, not {value!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


ROUNDINGS = ("stochastic", "nearest")



@dataclass(frozen=True)
class Numerics:
    """Fixed-point formats of the hardware and of the bit-exact golden model (docs/numerics.md).

    Rates and inputs are unsigned with ``rate_frac`` fraction bits (1.0 is representable);
    potentials and error signals are signed with ``error_frac`` fraction bits and
    ``potential_bits`` in all; weights and biases are signed ``weight_bits`` wide with
    ``weight_frac`` fraction bits. Every narrowing saturates.
    """

    rate_frac: int = 8
    """Fraction bits of inputs and rates (unsigned, values 0 .. 2^rate_frac)."""
    error_frac: int = 14
    """Fraction bits of potentials and error signals (errors are beta-sized: keep this high)."""
    potential_bits: int = 16
    """Total width of potentials (signed); integer range +-2^(potential_bits - error_frac - 1)."""
    weight_bits: int = 16
    """Total width of weights and biases (signed, at most 16: one DSP operand)."""
    weight_frac: int = 12
    """Fraction bits of weights and biases."""
    eta_bits: int = 12
    """Width of the per-layer learning-rate multiplier lr / beta (unsigned)."""
    eta_frac: int = 8
    """Fraction bits of the learning-rate multiplier."""
    accumulator_bits: int = 0
    """Width of the MAC accumulators; 0 picks the narrowest exact width."""
    rounding: str = "stochastic"
    """Rounding of weight updates: ``stochastic`` (LFSR) or ``nearest``."""
    lfsr_seed: int = 1
    """Seed of the stochastic-rounding LFSRs, 1 .. 65535."""

    def _validate(self) -> None:
        def positive(name, lo, hi):
            v = getattr(self, name)
            if not _is_int(v) or not lo <= v <= hi:
                raise ConfigError(f"numerics.{name}", v, f"must be an integer in [{lo}, {hi}]")

        positive("rate_frac", 1, 14)
        positive("error_frac", 1, 14)
        if self.rate_frac > self.error_frac:
            raise ConfigError("numerics.rate_frac", self.rate_frac,
                              f"must be at most numerics.error_frac ({self.error_frac}): "
                              "rates are rounded from potentials")
        positive("potential_bits", self.error_frac + 2, 32)
        positive("weight_bits", 2, 16)
        positive("weight_frac", 0, self.weight_bits - 1)
        positive("eta_bits", 1, 16)
        positive("eta_frac", 0, 16)
        if not _is_int(self.accumulator_bits) or not (self.accumulator_bits == 0
                                                      or 8 <= self.accumulator_bits <= 64):
            raise ConfigError("numerics.accumulator_bits", self.accumulator_bits,
                              "must be 0 (automatic) or an integer in [8, 64]")
        _choice("numerics.rounding", self.rounding, ROUNDINGS)
        positive("lfsr_seed", 1, 65535)


@dataclass(frozen=True)
class Hardware:
    """The generated core: device and parallel multiply-accumulate lanes."""

    device: str = "up5k"
    """Target device: ``up5k`` (iCE40 UP5K, 8 DSPs) or ``ecp5-85f`` (ECP5-85F, 156)."""
    lanes: int = 8
    """Parallel MAC lanes P, 1 .. the device's DSP count."""
    split_rows: bool = True
    """Lay a weight matrix out by columns (each row split over all lanes) when that takes fewer
    cycles, so layers narrower than P keep every lane busy (docs/hardware.md). ``false`` keeps
    one lane per row: slower on narrow layers, smaller (no per-lane feedback write-back)."""
    rates_port: bool | str = "auto"
    """A second read port of the ``a`` memory for the learning passes' rates, so the first
    starts right after the feedback pass (docs/hardware.md, "The rates port"): ``"auto"`` on
    the ECP5 where ``a`` holds at most 16 words a lane and W_0 takes the columns layout
    (elsewhere the inputs are in ``s``, which buys the same cycles: "The inputs in s");
    ``true`` anywhere (on the iCE40 a copy of ``a``, one more block RAM a lane; the inputs
    then stay in ``a``); ``false`` never."""

    forward_drives: bool | str = "auto"
    """The walk over the output units takes its first two drives from the lanes'
    accumulators where one row group holds the output layer (docs/hardware.md, "The output's
    drives from the accumulators"): 2 cycles a sample fewer (and an inference) for some 60
    logic cells on the UP5K. ``"auto"`` on the ECP5 only, where logic is plentiful; ``true``
    anywhere (the iCEBreaker example: 164 -> 162 cycles); ``false`` never."""

    inputs: str = "auto"
    """Where the inputs' two buffers are (docs/hardware.md, "The inputs in s"): ``"auto"``
    in the ``s`` memory where W_0 takes the rows layout and ``a`` has no rates port, so the
    first learning pass reads x beside the feedback pass's write-back on ``a`` (4 cycles a
    sample fewer on the iCEBreaker's core), else in ``a``; ``"a"`` keeps them in ``a`` (a
    few cells fewer: the iCEBreaker build's placement at 33 MHz); ``"s"`` asks for ``s``
    (an error where W_0 is split or with the rates port)."""

    def _validate(self) -> None:
        _choice("hardware.device", self.device, tuple(DEVICES))
        _choice("hardware.inputs", self.inputs, ("auto", "a", "s"))
        if not isinstance(self.split_rows, bool):
            raise ConfigError("hardware.split_rows", self.split_rows, "must be true or false")
        if not isinstance(self.rates_port, bool) and self.rates_port != "auto":
            raise ConfigError("hardware.rates_port", self.rates_port,
                              'must be true, false or "auto"')
        if not isinstance(self.forward_drives, bool) and self.forward_drives != "auto":
            raise ConfigError("hardware.forward_drives", self.forward_drives,
                              'must be true, false or "auto"')
        if not _is_int(self.lanes) or self.lanes < 1:
            raise ConfigError("hardware.lanes", self.lanes, "must be a positive integer")
        if self.lanes > DEVICES[self.device].dsps:
            raise ConfigError("hardware.lanes", self.lanes,
                              f"exceeds the {DEVICES[self.device].dsps} multipliers of the "
                              f"{self.device}")


@dataclass(frozen=True)
class Link:
    """The UART host link of the system top (docs/protocol.md)."""

    clock_mhz: float = 24.0
    """Clock of the system top; the UART divisor is clock / baud, fixed at elaboration."""
    baud: int = 3_000_000
    """UART bit rate (8N1). clock / baud must be within 1 % of an integer of at least 5."""
    frames: int = 4
    """Received frames the device buffers (and replies it keeps for retries): the host keeps
    at most this many frames in flight."""
    store_samples: int = 0
    """Training samples the on-board training set holds (0: none). Each takes ``n_0 + 1``
    words: in the UP5K's SPRAMs (at most 65536 words), in block RAM elsewhere."""

    def _validate(self) -> None:
        if not _is_real(self.clock_mhz) or not 1 <= self.clock_mhz <= 500:
            raise ConfigError("link.clock_mhz", self.clock_mhz, "must be a number in [1, 500]")
        if not _is_int(self.baud) or not 1200 <= self.baud <= 12_000_000:
            raise ConfigError("link.baud", self.baud, "must be an integer in [1200, 12000000]")
        if not _is_int(self.frames) or self.frames not in (1, 2, 4, 8, 16):
            raise ConfigError("link.frames", self.frames, "must be one of 1, 2, 4, 8, 16")
        if not _is_int(self.store_samples) or not 0 <= self.store_samples <= 65535:
            raise ConfigError("link.store_samples", self.store_samples,
                              "must be an integer in [0, 65535]")
        divisor = self.clock_mhz * 1e6 / self.baud
        nearest = max(round(divisor), 1)
        if nearest < 5:
            raise ConfigError("link.baud", self.baud,
                              f"needs at least 5 clocks per bit (clock {self.clock_mhz:g} MHz "
                              f"gives {divisor:.2f})")
        if abs(divisor - nearest) / nearest > 0.01:
            raise ConfigError("link.baud", self.baud,
                              f"is off by {100 * abs(divisor - nearest) / nearest:.2f} % from "
                              f"{self.clock_mhz:g} MHz / {nearest} (more than 1 %)")

    @property
    def divisor(self) -> int:
        """Clocks per UART bit."""
        return round(self.clock_mhz * 1e6 / self.baud)


_SECTIONS = {"numerics": Numerics, "hardware": Hardware, "link": Link}


@dataclass(frozen=True)
class Config:
    """Network, learning model and training settings.

    ``lr`` and ``lr_decay`` hold one value per weight layer (``len(layers) - 1``); a single
    number given to the constructor or in TOML is broadcast to every layer.
    """

    layers: tuple[int, ...] = (4, 30, 3)
    """Units per layer, input first: ``(n_0, n_1, ..., n_L)``, at least one hidden layer."""
    variant: str = "tied"
    """Ghost units: ``tied`` (copies of the layer above), ``learned`` (own weights V, Q),
    ``replay`` (sample-and-hold of the free feedback)."""
    feedback: str = "transpose"
    """Feedback weights B_l: ``transpose`` (W_{l+1}^T) or ``random`` (fixed, feedback alignment)."""
    schedule: str = "sweep"
    """Nudged phase: ``sweep`` (layer-ordered fixed-point solve) or ``dynamics`` (Euler steps)."""
    beta: float = 2.0**-6
    """Output nudging strength toward the target, > 0 and small (model.md section 5)."""
    alpha: float = 0.5
    """Euler step dt/tau of the ``dynamics`` schedule, in (0, 1]."""
    steps: int = 20
    """Euler steps of the nudged phase with the ``dynamics`` schedule."""
    free_steps: int = 0
    """Extra Euler steps of the free phase (beta = 0) after the feedforward initialization."""
    settle_iterations: int = 3
    """Fixed-point iterations of the output layer under the nudge with the ``sweep`` schedule."""
    lr: tuple[float, ...] = 0.05  # type: ignore[assignment]  # broadcast
    """Learning rate of each weight layer (W_1 .. W_L and biases); the weight change is
    ``lr / beta * error * presynaptic rate``."""
    lr_decay: tuple[float, ...] = 0.95  # type: ignore[assignment]  # broadcast
    """Per-epoch multiplicative decay of each layer's learning rate, in (0, 1]."""
    ghost_rule: str = "normalized"
    """How ``learned`` ghosts learn (docs/model.md): ``normalized`` fits V and Q to each sample
    in its free phase, before the nudge, with a step normalized by the presynaptic activity
    (the cancellation is exact for that sample); ``constant`` learns after the sample at the
    rate ``ghost_lr`` (lags W by more than the beta-sized error: measured at chance)."""
    ghost_warmup: int = 500
    """Samples of a self-predicting phase before the first epoch (``learned`` ghosts,
    ``normalized`` rule): the ghosts fit them with every learning rate 0, no target learning,
    so training starts with ghosts that already cancel (fixed point needs it: docs/model.md)."""
    ghost_lr: float = 0.05
    """Learning rate of the ghost weights V and Q (``learned`` ghosts, ``constant`` rule)."""
    target_margin: float = 0.1
    """Targets are ``margin`` (wrong classes) and ``1 - margin`` (right class): they keep
    hard-sigmoid outputs off the flat parts where no error flows (docs/model.md)."""
    bias_init: float = 0.1
    """Initial value of every bias."""
    epochs: int = 40
    """Passes over the training set."""
    seed: int = 0
    """Seed of weight initialization, random feedback and sample order."""
    numerics: Numerics = field(default_factory=Numerics)
    """Fixed-point formats (table ``[numerics]`` in TOML)."""
    hardware: Hardware = field(default_factory=Hardware)
    """Generated core (table ``[hardware]`` in TOML)."""
    link: Link = field(default_factory=Link)
    """UART host link of the system top (table ``[link]`` in TOML)."""

    def __post_init__(self) -> None:
        # Normalize list-like fields to tuples and broadcast scalars, then validate.
        layers = self.layers
        if isinstance(layers, (list, tuple)):
            object.__setattr__(self, "layers", tuple(layers))
        n_weight_layers = len(self.layers) - 1 if isinstance(self.layers, tuple) else 0
        for name in ("lr", "lr_decay"):
            value = getattr(self, name)
            if _is_real(value):
                value = (float(value),) * max(n_weight_layers, 1)
            elif isinstance(value, list):
                value = tuple(value)
            object.__setattr__(self, name, value)
        self._validate()

    # -- validation ---------------------------------------------------------------------
    def _validate(self) -> None:
        layers = self.layers
        if not isinstance(layers, tuple) or len(layers) < 3:
            raise ConfigError("layers", self.layers,
                              "must list at least 3 layer sizes (input, hidden..., output)")
        for n in layers:
            if not _is_int(n) or n < 1:
                raise ConfigError("layers", self.layers, "must hold positive integers")
        if layers[-1] < 2:
            raise ConfigError("layers", self.layers, "needs at least 2 output units (classes)")
        _choice("variant", self.variant, VARIANTS)
        _choice("feedback", self.feedback, FEEDBACKS)
        _choice("schedule", self.schedule, SCHEDULES)
        if not _is_real(self.beta) or not 0 < self.beta <= 1:
            raise ConfigError("beta", self.beta, "must be a number in (0, 1]")
        if not _is_real(self.alpha) or not 0 < self.alpha <= 1:
            raise ConfigError("alpha", self.alpha, "must be a number in (0, 1]")
        if not _is_int(self.steps) or self.steps < 1:
            raise ConfigError("steps", self.steps, "must be a positive integer")
        if not _is_int(self.free_steps) or self.free_steps < 0:
            raise ConfigError("free_steps", self.free_steps, "must be a non-negative integer")
        if not _is_int(self.settle_iterations) or self.settle_iterations < 1:
            raise ConfigError("settle_iterations", self.settle_iterations,
                              "must be a positive integer")
        n_w = len(layers) - 1
        for name, lo_open in (("lr", True), ("lr_decay", True)):
            value = getattr(self, name)
            if not isinstance(value, tuple) or len(value) != n_w:
                raise ConfigError(name, value,
                                  f"must be one number or a list of {n_w} (one per weight layer)")
            for v in value:
                if not _is_real(v) or v <= 0:
                    raise ConfigError(name, value, "must hold positive numbers")
            if name == "lr_decay" and any(v > 1 for v in value):
                raise ConfigError(name, value, "must hold numbers in (0, 1]")
        _choice("ghost_rule", self.ghost_rule, GHOST_RULES)
        self._validate_replay_dynamics()
        if not _is_int(self.ghost_warmup) or self.ghost_warmup < 0:
            raise ConfigError("ghost_warmup", self.ghost_warmup, "must be a non-negative integer")
        if not _is_real(self.ghost_lr) or self.ghost_lr < 0:
            raise ConfigError("ghost_lr", self.ghost_lr, "must be a non-negative number")
        if not _is_real(self.target_margin) or not 0 <= self.target_margin < 0.5:
            raise ConfigError("target_margin", self.target_margin, "must be a number in [0, 0.5)")
        if not _is_real(self.bias_init) or abs(self.bias_init) > 1:
            raise ConfigError("bias_init", self.bias_init, "must be a number in [-1, 1]")
        if not _is_int(self.epochs) or self.epochs < 1:
            raise ConfigError("epochs", self.epochs, "must be a positive integer")
        if not _is_int(self.seed) or self.seed < 0:
            raise ConfigError("seed", self.seed, "must be a non-negative integer")
        for name, cls in _SECTIONS.items():
            section = getattr(self, name)
            if not isinstance(section, cls):
                raise ConfigError(name, section, f"must be a {cls.__name__}")
            section._validate()

    def _validate_replay_dynamics(self) -> None:
        """Ghosts that cancel only the free feedback (``replay``, and ``learned`` ghosts by the
        ``normalized`` rule, fitted to the free state) learn under ``dynamics`` only when the
        nudged phase stops before a hidden layer's own change returns through W_{l+1}: they
        cannot cancel that loop, whose gain exceeds one from initialization on
        (docs/model.md, "Ghosts under dynamics"). With one hidden layer and alpha = 1 that is
        after exactly 3 steps."""
        if self.schedule != "dynamics" or not (self.variant == "replay" or self.fits_ghosts):
            return
        what = "replay" if self.variant == "replay" else "normalized learned"
        if len(self.layers) != 3:
            raise ConfigError("variant", self.variant,
                              f"({what} ghosts) under the dynamics schedule needs one hidden "
                              "layer: with more, each layer's own change returns through the "
                              "layer above before the error has reached the bottom "
                              "(docs/model.md); use the sweep schedule")
        if self.alpha != 1 or self.steps != 3:
            raise ConfigError("steps" if self.alpha == 1 else "alpha",
                              self.steps if self.alpha == 1 else self.alpha,
                              f"must be 3 (steps) and 1 (alpha) for {what} ghosts under "
                              "dynamics: later steps bring the hidden layer's own change back "
                              "through W_2, a loop of gain above one that ghosts fitted to the "
                              "free state cannot cancel (docs/model.md; set alpha = 1.0 and "
                              "steps = 3 in the config file)")

    # -- derived --------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        """Number of weight layers L (hidden layers + output layer)."""
        return len(self.layers) - 1

    @property
    def n_classes(self) -> int:
        return self.layers[-1]

    @property
    def fits_ghosts(self) -> bool:
        """Learned ghosts by the normalized rule: fitted to each sample in its free phase."""
        return self.variant == "learned" and self.ghost_rule == "normalized"

    @property
    def warmup_samples(self) -> int:
        """Samples of the ghosts' self-predicting phase: ``ghost_warmup`` for normalized
        learned ghosts, else 0."""
        return self.ghost_warmup if self.fits_ghosts else 0

    def lr_at(self, epoch: int) -> tuple[float, ...]:
        """Learning rates of each layer during ``epoch`` (0-based), after decay."""
        return tuple(lr * d**epoch for lr, d in zip(self.lr, self.lr_decay))

    def hardware_digest(self) -> int:
        """32-bit hash of every field that shapes the hardware or its initial weights (all but
        ``lr``, ``lr_decay`` and ``epochs``, which the host sets at run time). The device
        reports it in its identify reply."""
        import hashlib
        import json

        fixed = {k: v for k, v in self.to_dict().items() if k not in _RUN_TIME_FIELDS}
        text = json.dumps(fixed, sort_keys=True)
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")

    def replace(self, **changes: Any) -> "Config":
        """A copy with some fields changed (validated like any new config).

        Changing ``layers`` to a different depth re-broadcasts ``lr`` and ``lr_decay`` when
        they hold one value for every layer and are not changed explicitly.
        """
        if "layers" in changes and len(changes["layers"]) != len(self.layers):
            for name in ("lr", "lr_decay"):
                value = getattr(self, name)
                if name not in changes and len(set(value)) == 1:
                    changes[name] = value[0]
        return dataclasses.replace(self, **changes)

    # -- serialization --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in _SECTIONS:
                v = {g.name: getattr(v, g.name) for g in fields(v)}
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "Config":
        """Build a config from a mapping; unknown keys raise ConfigError naming the key."""
        if not isinstance(data, dict):
            raise ConfigError("<root>", data, f"in {source} must be a table of fields")
        data = dict(data)
        _check_keys(data, {f.name for f in fields(cls)}, "")
        for name, section_cls in _SECTIONS.items():
            if name in data:
                table = data[name]
                if not isinstance(table, dict):
                    raise ConfigError(name, table, "must be a table")
                _check_keys(table, {f.name for f in fields(section_cls)}, name + ".")
                data[name] = section_cls(**table)
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        """Read a TOML file. Missing files and TOML syntax errors raise ConfigError."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError("<file>", str(path), f"cannot be read ({exc.strerror})") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("<file>", str(path), f"is not valid TOML ({exc})") from None
        return cls.from_dict(data, source=str(path))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_toml(), encoding="utf-8")

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


_RUN_TIME_FIELDS = ("lr", "lr_decay", "epochs")


def _check_keys(data: dict, known: set[str], prefix: str) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(prefix + key, data[key],
                              f"is not a known field (known: {', '.join(sorted(known))})")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(name, value, f"must be one of {', '.join(choices)}")


# The default configuration every command starts from.
DEFAULT = Config()
