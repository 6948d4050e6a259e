"""Network parameters shared by the float ghost model and the backprop baseline.

Indexing: weight layer ``k`` (0-based, ``k = l - 1``) maps layer ``k`` to layer ``k + 1``:
``W[k]`` is W_{k+1} (``n_{k+1} x n_k``), ``b[k]`` its bias. Hidden layer ``k + 1``
(``k = 0 .. L-2``) receives feedback through ``B_k`` (``n_{k+1} x n_{k+2}``) and has ghost
weights ``V[k]`` (``n_{k+2} x n_{k+1}``), ``v[k]``, ``Q[k]`` (``n_{k+1} x n_{k+2}``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ghostfpga.config import Config

__all__ = ["Params", "init_params", "rho", "rho_prime", "one_hot", "glorot_uniform"]


def rho(u: np.ndarray) -> np.ndarray:
    """Hard sigmoid: clip(u, 0, 1)."""
    return np.minimum(np.maximum(u, 0.0), 1.0)


def rho_prime(u: np.ndarray) -> np.ndarray:
    """Derivative of the hard sigmoid: 1 on (0, 1), 0 elsewhere."""
    return ((u > 0.0) & (u < 1.0)).astype(np.float64)


def one_hot(labels: np.ndarray, n_classes: int, margin: float = 0.0) -> np.ndarray:
    """Target rows: ``1 - margin`` at the label, ``margin`` elsewhere."""
    out = np.full((len(labels), n_classes), float(margin))
    out[np.arange(len(labels)), labels] = 1.0 - margin
    return out


def glorot_uniform(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_out, n_in))


@dataclass
class Params:
    """All plastic and fixed weights of one network."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    B_random: list[np.ndarray] = field(default_factory=list)
    """Fixed random feedback matrices (``random`` feedback only)."""
    V: list[np.ndarray] = field(default_factory=list)
    v: list[np.ndarray] = field(default_factory=list)
    Q: list[np.ndarray] = field(default_factory=list)
    """Ghost weights (``learned`` variant only)."""

    def feedback(self, k: int) -> np.ndarray:
        """B_k, the feedback into hidden layer k + 1: W[k+1]^T or the fixed random matrix."""
        return self.B_random[k] if self.B_random else self.W[k + 1].T

    def copy(self) -> "Params":
        return copy.deepcopy(self)


def init_params(config: Config) -> Params:
    """Glorot-uniform weights, biases ``bias_init``; random feedback and ghost weights drawn
    from the same generator (seeded by ``config.seed``) in a fixed order."""
    rng = np.random.default_rng(config.seed)
    sizes = config.layers
    L = config.n_layers
    W = [glorot_uniform(rng, sizes[k + 1], sizes[k]) for k in range(L)]
    b = [np.full(sizes[k + 1], float(config.bias_init)) for k in range(L)]
    params = Params(W, b)
    if config.feedback == "random":
        params.B_random = [glorot_uniform(rng, sizes[k + 2], sizes[k + 1]).T.copy()
                           for k in range(L - 1)]
    if config.variant == "learned":
        params.V = [glorot_uniform(rng, sizes[k + 2], sizes[k + 1]) for k in range(L - 1)]
        params.v = [np.full(sizes[k + 2], float(config.bias_init)) for k in range(L - 1)]
        params.Q = [glorot_uniform(rng, sizes[k + 2], sizes[k + 1]).T.copy()
                    for k in range(L - 1)]
    return params


def feedforward_batch(params: Params, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Drives ``a`` (layers 1..L) and rates ``r`` (layers 0..L) for a batch of inputs."""
    r = [x]
    a = []
    for W, b in zip(params.W, params.b):
        a.append(r[-1] @ W.T + b)
        r.append(rho(a[-1]))
    return a, r
