"""Why ghosts fitted to the free state learn under ``dynamics`` only with 3 steps of alpha = 1
(docs/model.md, "Ghosts under dynamics"): the measured analysis behind the config's refusal.

Replay ghosts hold the free feedback, and normalized learned ghosts are fitted to the free
state: neither follows the change of the layer above that the hidden layer's own nudge
causes. Linearized at the free state of a one-hidden-layer net, that loop maps the hidden
error e to ``W_2^T D_2 W_2 D_1 e`` (D: the units on the slope of the hard sigmoid). Its gain
``sigma`` (the largest singular value of ``D_2 W_2 D_1``) sets the loop's eigenvalues
``1 - alpha + alpha (+-sigma)`` per Euler step: with ``sigma > 1`` one of them exceeds 1 for
every alpha, so the nudged dynamics run away from the free state instead of settling.

This module measures sigma on Yin-Yang inputs before and after training, and the cosine of
each variant's update with backprop on a grid of alpha and steps (the settings the config
refuses included, to show why it refuses them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ghostfpga.config import Config

from ..backprop import backprop_gradients
from ..datasets import Dataset
from ..ghost import GhostModel
from ..network import Params, rho_prime
from ..training import train, warm_up

__all__ = ["LoopRow", "loop_gains", "update_cosines", "loop_analysis", "ALPHAS", "STEPS"]

ALPHAS = (0.25, 0.5, 1.0)
STEPS = (2, 3, 4, 6, 10, 20)


@dataclass(frozen=True)
class LoopRow:
    epoch: int          # training epochs of the (tied) network measured
    gain_median: float  # sigma over the probe inputs
    gain_max: float
    variant: str
    alpha: float
    steps: int
    cosine: float       # the smaller of the two layers' pooled cosines with backprop

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "gain_median": self.gain_median,
                "gain_max": self.gain_max, "variant": self.variant, "alpha": self.alpha,
                "steps": self.steps, "cosine": self.cosine}


def loop_gains(params: Params, xs: np.ndarray) -> np.ndarray:
    """sigma = ||D_2 W_2 D_1||_2 at the feedforward state of each input (one hidden layer)."""
    gains = []
    for x in xs:
        a1 = params.W[0] @ x + params.b[0]
        a2 = params.W[1] @ np.clip(a1, 0, 1) + params.b[1]
        S = rho_prime(a2)[:, None] * params.W[1] * rho_prime(a1)[None, :]
        gains.append(np.linalg.norm(S, 2) if S.any() else 0.0)
    return np.array(gains)


def _unchecked(config: Config, **changes) -> Config:
    """``config`` with fields set past validation: the settings the config refuses, run here
    to measure why."""
    out = copy.copy(config)
    for name, value in changes.items():
        object.__setattr__(out, name, value)
    return out


def update_cosines(params: Params, config: Config, xs: np.ndarray, ys: np.ndarray,
                   beta: float = 1e-3) -> float:
    """The smaller per-layer pooled cosine between the variant's update and -dC/dW over the
    samples (learned ghosts fit each sample first, on a copy of the weights)."""
    per_layer = [([], []) for _ in range(config.n_layers)]
    for x, y in zip(xs, ys):
        model = GhostModel(config, params.copy() if config.variant == "learned" else params)
        if config.variant == "learned":
            model.fit_ghosts(x)
        updates, _ = model.weight_updates(x, y, beta)
        grads = backprop_gradients(model.params, x, y)
        for k, ((gw, gb), (bw, bb)) in enumerate(zip(updates, grads)):
            per_layer[k][0].append(np.concatenate([gw.ravel(), gb]))
            per_layer[k][1].append(np.concatenate([bw.ravel(), bb]))
    cosines = []
    for ghost, bp in per_layer:
        g, b = np.concatenate(ghost), np.concatenate(bp)
        norm = np.linalg.norm(g) * np.linalg.norm(b)
        cosines.append(float(g @ b / norm) if norm > 0 else float("nan"))
    return min(cosines)


def loop_analysis(data: Dataset, epochs: int, samples: int = 40,
                  alphas=ALPHAS, steps=STEPS) -> list[LoopRow]:
    """Train a 4-30-3 network with normalized learned ghosts (sweep) on ``data``; after the
    ghosts' warm-up (epoch 0) and after ``epochs``, the loop gain on the first ``samples``
    test inputs and, for replay (the same W) and the learned ghosts as trained (each sample
    fitted first), the update's cosine with backprop for every alpha and number of steps."""
    config = Config(layers=(4, 30, 3), variant="learned", seed=0)
    model = GhostModel(config)
    rng = np.random.default_rng(1)
    xs = data.x_test[:samples]
    ys = np.eye(3)[rng.integers(0, 3, size=samples)]
    rows = []
    warm_up(model, data)
    for epoch in (0, epochs):
        if epoch:
            train(model, data, epochs, warmup=False)
        gains = loop_gains(model.params, xs)
        for variant in ("replay", "learned"):
            base = Config(layers=(4, 30, 3), variant=variant, schedule="dynamics", alpha=1.0,
                          steps=3)
            for alpha in alphas:
                for n in steps:
                    cos = update_cosines(model.params, _unchecked(base, alpha=alpha, steps=n),
                                         xs, ys)
                    rows.append(LoopRow(epoch, float(np.median(gains)), float(gains.max()),
                                        variant, alpha, n, cos))
    return rows
