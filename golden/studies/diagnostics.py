"""Where the hardware's arithmetic loses precision, per weight layer: the fixed-point model
(= the core) probed at checkpoints of its training.

At a checkpoint, ``probe_checkpoint`` runs S training samples through the model with a probe
attached and undoes each sample's update, so training goes on unchanged. Per weight layer W_l
it reports, against each format's limits:

- weights: range and the share clipped by the update's saturation;
- drives (free-phase potentials before narrowing): range and share saturated;
- error signals rho(u) - rho(a) (error format): range, share zero, and the share of the float
  model's errors at the same weights that lie below one LSB of the error format (lost);
- scaled errors eta * err: share saturated (16 bits);
- weight updates before rounding: the share below one weight LSB (they act only through
  stochastic rounding) and the share the rounding sets to zero;
- alignment: the cosine between the hardware's update before rounding (dequantized) and the
  float backprop gradient -dC/dW at the same weights, averaged over the samples; and pooled,
  the cosine of all samples' vectors joined (as golden/studies/gradcheck.py measures the float
  model), in which samples with small gradients weigh less.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np

from ..backprop import backprop_gradients
from ..fixed import FixedModel, FixedParams
from ..ghost import GhostModel
from ..network import Params, one_hot
from ..numerics import SCALED_ERROR_BITS

__all__ = ["LayerStats", "Checkpoint", "probe_checkpoint", "dequantize"]


@dataclass
class LayerStats:
    layer: int                       # 1-based: W_l
    weight_range: tuple[float, float]
    weight_limit: float
    weight_clipped: float
    drive_range: tuple[float, float]
    drive_limit: float
    drive_saturated: float
    error_range: tuple[float, float]
    error_limit: float
    error_zero: float
    error_below_lsb: float           # of the float model's nonzero errors at these weights
    scaled_error_saturated: float
    update_below_lsb: float          # of the nonzero updates before rounding
    update_rounded_to_zero: float
    alignment: float                 # mean over samples of the cosine with the backprop
                                     # gradient (nan: no sample with both nonzero)
    alignment_pooled: float          # the cosine of all samples' vectors joined
    histograms: dict                 # quantity -> log2 |value / LSB| histogram (_histogram)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Checkpoint:
    epoch: int                       # epochs trained before the probe
    layers: list[LayerStats]

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "layers": [s.to_dict() for s in self.layers]}


def dequantize(params: FixedParams, fmt) -> Params:
    """The float parameters the integer ones stand for (the bias as its own vector)."""
    s = 2.0 ** -fmt.weight_frac
    return Params([M[:, :-1] * s for M in params.W], [M[:, -1] * s for M in params.W],
                  [B * s for B in params.B], [V[:, :-1] * s for V in params.V],
                  [V[:, -1] * s for V in params.V], [Q * s for Q in params.Q])


class _Probe:
    """Collects what FixedModel reports for the weight layers W (the ghost weights V, Q of
    learned ghosts are not diagnosed)."""

    def __init__(self):
        self.values = defaultdict(list)      # (quantity, layer) -> arrays
        self.pending = {}

    def drive(self, k, wide):
        self.values["drive", k].append(np.ravel(wide))

    def learning(self, name, k, err, wide_e, exact):
        if name == "W":
            self.values["error", k].append(np.ravel(err))
            self.values["scaled", k].append(np.ravel(wide_e))
            self.values["exact", k].append(np.ravel(exact))
            self.pending[k] = exact

    def learned(self, name, k, delta, wide_weights):
        if name == "W":
            self.values["delta", k].append(np.ravel(delta))
            self.values["wide_weights", k].append(np.ravel(wide_weights))

    def all(self, quantity, k) -> np.ndarray:
        parts = self.values.get((quantity, k))
        return np.concatenate(parts) if parts else np.zeros(0)


def _share(mask: np.ndarray) -> float:
    return float(np.mean(mask)) if mask.size else 0.0


def _range(v: np.ndarray, scale: float) -> tuple[float, float]:
    return (float(v.min() * scale), float(v.max() * scale)) if v.size else (0.0, 0.0)


def _histogram(v: np.ndarray, top_bits: int) -> dict:
    """Counts of log2 |v| (v in LSBs of its format) in octaves from 2^-8 LSB to the format's
    top, 2^top_bits LSBs (values beyond land in the last bin), and the share of zeros."""
    v = np.abs(np.asarray(v, dtype=np.float64))
    nonzero = v[v > 0]
    edges = np.arange(-8, top_bits + 1)
    counts, _ = np.histogram(np.clip(np.log2(nonzero), -8, top_bits - 1e-9), bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist(), "zero": _share(v == 0),
            "top_bits": top_bits}


def _cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else None


def probe_checkpoint(model: FixedModel, x: np.ndarray, y: np.ndarray, etas,
                     epoch: int) -> Checkpoint:
    """Probe ``model`` on the float samples (x, y) with rates ``etas``; the model is left as
    it was (weights and LFSR)."""
    cfg, fmt = model.config, model.fmt
    L, wf = cfg.n_layers, fmt.weight_frac
    saved, position = model.params.copy(), model.lfsr_position
    probe = _Probe()
    cosines = defaultdict(list)
    pooled = defaultdict(lambda: ([], []))       # layer -> (hardware updates, gradients)
    float_errors = defaultdict(list)
    targets = one_hot(np.asarray(y), cfg.n_classes, cfg.target_margin)
    try:
        for xi, yi, ti in zip(x, y, targets):
            x_q = model.quantize_input(xi)
            x_f = x_q * 2.0 ** -fmt.rate_frac
            float_params = dequantize(model.params, fmt)
            grads = backprop_gradients(float_params, x_f, ti)
            updates, _ = GhostModel(cfg, float_params).weight_updates(x_f, ti)
            model.probe = probe
            model.step(x_q, int(yi), True, etas)
            model.probe = None
            for k in range(L):
                exact = probe.pending.pop(k) * 2.0 ** -wf
                hw = np.concatenate([exact[:, :-1].ravel(), exact[:, -1]])
                bp = np.concatenate([grads[k][0].ravel(), grads[k][1]])
                got = _cosine(hw, bp)
                if got is not None:
                    cosines[k].append(got)
                pooled[k][0].append(hw)
                pooled[k][1].append(bp)
                float_errors[k].append(updates[k][1] * cfg.beta)   # db = error / beta
            model.params, model.lfsr_position = saved.copy(), position
    finally:
        model.probe = None
        model.params, model.lfsr_position = saved, position
    joined = {k: _cosine(np.concatenate(hw), np.concatenate(bp))
              for k, (hw, bp) in pooled.items()}
    return Checkpoint(epoch, [_layer_stats(model, probe, k, cosines[k], joined.get(k),
                                           np.concatenate(float_errors[k]))
                              for k in range(L)])


def _layer_stats(model, probe, k, cosines, pooled, float_errors) -> LayerStats:
    fmt = model.fmt
    w_lim, p_lim = 2 ** (fmt.weight_bits - 1), 2 ** (fmt.potential_bits - 1)
    e_one, s_lim = fmt.error_one, 2 ** (SCALED_ERROR_BITS - 1)
    wide_w, drive = probe.all("wide_weights", k), probe.all("drive", k)
    err, scaled = probe.all("error", k), probe.all("scaled", k)
    exact, delta = probe.all("exact", k), probe.all("delta", k)
    weights = model.params.W[k].ravel()
    nonzero = float_errors[float_errors != 0]
    moving = exact != 0
    ws = 2.0 ** -fmt.weight_frac
    ps = es = 2.0 ** -fmt.error_frac            # drives and errors: error_frac fraction bits
    return LayerStats(
        layer=k + 1,
        weight_range=_range(weights, ws), weight_limit=w_lim * ws,
        weight_clipped=_share((wide_w >= w_lim) | (wide_w < -w_lim)),
        drive_range=_range(drive, ps), drive_limit=p_lim * ps,
        drive_saturated=_share((drive >= p_lim) | (drive < -p_lim)),
        error_range=_range(err, es), error_limit=1.0,
        error_zero=_share(err == 0),
        error_below_lsb=_share(np.abs(nonzero) < 1.0 / e_one),
        scaled_error_saturated=_share((scaled >= s_lim) | (scaled < -s_lim)),
        update_below_lsb=_share(np.abs(exact[moving]) < 1),
        update_rounded_to_zero=_share(delta[moving] == 0),
        alignment=float(np.mean(cosines)) if cosines else float("nan"),
        alignment_pooled=float("nan") if pooled is None else pooled,
        histograms={"weights": _histogram(weights, fmt.weight_bits - 1),
                    "drives": _histogram(drive, fmt.potential_bits - 1),
                    "errors": _histogram(err, fmt.error_frac),
                    "updates": _histogram(exact, fmt.weight_bits - 1)})
