"""Backprop baseline with the ghost model's architecture, activation, loss and initialization.

Cost C = 1/2 ||y - rho(a_L)||^2 with the hard sigmoid on every layer, per-sample SGD with the
same per-layer learning rates and decay, so a comparison with :class:`GhostModel` isolates the
learning rule.
"""

from __future__ import annotations

import numpy as np

from ghostfpga.config import Config

from .network import Params, feedforward_batch, init_params, rho, rho_prime

__all__ = ["BackpropModel", "backprop_gradients"]


def backprop_gradients(params: Params, x: np.ndarray, y: np.ndarray):
    """Per-layer (-dC/dW, -dC/db) for one sample, C = 1/2 ||y - rho(a_L)||^2."""
    r, a = [x], []
    for W, b in zip(params.W, params.b):
        a.append(W @ r[-1] + b)
        r.append(rho(a[-1]))
    L = len(params.W)
    delta = (y - r[L]) * rho_prime(a[L - 1])  # -dC/da_L
    grads = [None] * L
    for k in range(L - 1, -1, -1):
        grads[k] = (np.outer(delta, r[k]), delta)
        if k > 0:
            delta = (params.W[k].T @ delta) * rho_prime(a[k - 1])
    return grads


class BackpropModel:
    """Plain backprop MLP (same config type as the ghost model; ghost fields are ignored)."""

    def __init__(self, config: Config, params: Params | None = None):
        self.config = config
        self.params = params if params is not None else init_params(config)

    def train_sample(self, x: np.ndarray, y: np.ndarray, lrs) -> None:
        p = self.params
        for k, (gW, gb) in enumerate(backprop_gradients(p, x, y)):
            p.W[k] += lrs[k] * gW
            p.b[k] += lrs[k] * gb

    def predict(self, x: np.ndarray) -> np.ndarray:
        a, _ = feedforward_batch(self.params, x)
        return np.argmax(a[-1], axis=1)
