"""The float64 ghost-unit model (docs/model.md): free phase, nudged phase, local learning rule.

One training sample:

1. free phase: the feedforward pass u_l = a_l (plus ``free_steps`` Euler steps at beta = 0);
2. nudged phase from the free state, by the ``dynamics`` or ``sweep`` schedule;
3. learning: W_l += (lr_l / beta) (r_l - rho(a_l)) r_{l-1}^T, b_l likewise.

Learned ghosts learn with the same rule form: by the ``normalized`` rule they fit V, v and Q
to the sample in its free phase, before the nudge; by the ``constant`` rule after the sample.

Prediction is the argmax of a_L after the feedforward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ghostfpga.config import Config

from .network import Params, feedforward_batch, init_params, rho

__all__ = ["GhostModel", "FreeState", "NudgedState"]


@dataclass
class FreeState:
    """State at the end of the free phase."""

    u: list[np.ndarray]   # potentials of layers 1..L
    a: list[np.ndarray]   # bottom-up drives of layers 1..L
    r: list[np.ndarray]   # rates of layers 0..L (r[0] = x)
    g: list[np.ndarray]   # ghost potentials of hidden layers (tied, learned)
    h: list[np.ndarray]   # replayed feedback of hidden layers (replay)


@dataclass
class NudgedState:
    """State at the end of the nudged phase, with what the learning rule reads."""

    u: list[np.ndarray]   # potentials of layers 1..L
    a: list[np.ndarray]   # the bottom-up drives the rule compares against
    pre: list[np.ndarray]  # presynaptic rates of each weight layer (layers 0..L-1)

    def errors(self) -> list[np.ndarray]:
        """Per-layer local error r_l - rho(a_l)."""
        return [rho(u) - rho(a) for u, a in zip(self.u, self.a)]


class GhostModel:
    """Ghost-unit network trained by the local rule. ``params`` default to ``init_params``."""

    def __init__(self, config: Config, params: Params | None = None):
        self.config = config
        self.params = params if params is not None else init_params(config)
        self.L = config.n_layers

    # -- the cancellation term ------------------------------------------------------------
    def _feedback_minus_ghost(self, k: int, r_above: np.ndarray, g: np.ndarray,
                              h: np.ndarray | None) -> np.ndarray:
        """B_k r_{k+2} - c_k: the feedback a hidden layer keeps after its ghosts cancel."""
        p, variant = self.params, self.config.variant
        B = p.feedback(k)
        if variant == "tied":
            return B @ (r_above - rho(g))
        if variant == "learned":
            return B @ r_above - p.Q[k] @ rho(g)
        if h is None:  # replay while tracking (free phase): c = B r exactly
            return np.zeros(B.shape[0])
        return B @ r_above - h

    def _ghost_drive(self, k: int, a: list[np.ndarray], r: list[np.ndarray]) -> np.ndarray:
        """Bottom-up input of the ghosts of hidden layer k + 1."""
        if self.config.variant == "learned":
            return self.params.V[k] @ r[k + 1] + self.params.v[k]
        return a[k + 1]

    # -- phases ---------------------------------------------------------------------------
    def feedforward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        a, r = [], [x]
        for W, b in zip(self.params.W, self.params.b):
            a.append(W @ r[-1] + b)
            r.append(rho(a[-1]))
        return a, r

    def free_phase(self, x: np.ndarray) -> FreeState:
        """Feedforward initialization, then ``free_steps`` Euler steps at beta = 0."""
        a, r = self.feedforward(x)
        u = [ai.copy() for ai in a]
        g = [self._ghost_drive(k, a, r) for k in range(self.L - 1)]
        if self.config.variant != "learned":
            g = [gi.copy() for gi in g]
        for _ in range(self.config.free_steps):
            u, g = self._euler_step(u, g, [None] * (self.L - 1), x, None, 0.0)
        a, r = self._drives(u, x)
        h = [self.params.feedback(k) @ r[k + 2] for k in range(self.L - 1)]
        return FreeState(u, a, r, g, h)

    def _drives(self, u: list[np.ndarray], x: np.ndarray):
        r = [x] + [rho(ui) for ui in u]
        a = [W @ r[k] + b for k, (W, b) in enumerate(zip(self.params.W, self.params.b))]
        return a, r

    def _euler_step(self, u, g, h, x, y, beta):
        """One synchronous Euler step of every unit and ghost from the previous state."""
        alpha, L = self.config.alpha, self.L
        a, r = self._drives(u, x)
        new_u = []
        for k in range(L - 1):
            fb = self._feedback_minus_ghost(k, r[k + 2], g[k], h[k])
            new_u.append(u[k] + alpha * (a[k] + fb - u[k]))
        nudge = beta * (y - r[L]) if y is not None else 0.0
        new_u.append(u[L - 1] + alpha * (a[L - 1] + nudge - u[L - 1]))
        new_g = [g[k] + alpha * (self._ghost_drive(k, a, r) - g[k]) for k in range(L - 1)]
        return new_u, new_g

    def nudged_phase(self, free: FreeState, y: np.ndarray, beta: float | None = None) -> NudgedState:
        """Nudge the output toward one-hot ``y`` and settle by the configured schedule."""
        beta = self.config.beta if beta is None else beta
        if self.config.schedule == "dynamics":
            return self._nudge_dynamics(free, y, beta)
        return self._nudge_sweep(free, y, beta)

    def _nudge_dynamics(self, free: FreeState, y, beta) -> NudgedState:
        u, g = free.u, free.g
        for _ in range(self.config.steps):
            u, g = self._euler_step(u, g, free.h, free.r[0], y, beta)
        a, r = self._drives(u, free.r[0])
        return NudgedState(u, a, r[:-1])

    def _nudge_sweep(self, free: FreeState, y, beta) -> NudgedState:
        """Output settles under the nudge, then one top-down pass against the free state."""
        L, a = self.L, free.a
        u = [None] * L
        uL = free.u[L - 1]
        for _ in range(self.config.settle_iterations):
            uL = a[L - 1] + beta * (y - rho(uL))
        u[L - 1] = uL
        for k in range(L - 2, -1, -1):
            u[k] = a[k] + self._feedback_minus_ghost(k, rho(u[k + 1]), free.g[k], free.h[k])
        return NudgedState(u, a, free.r[:-1])

    # -- learning -------------------------------------------------------------------------
    def weight_updates(self, x: np.ndarray, y: np.ndarray, beta: float | None = None):
        """Per-layer (dW, db) divided by the learning rate: (r_l - rho(a_l)) r_{l-1}^T / beta."""
        beta = self.config.beta if beta is None else beta
        free = self.free_phase(x)
        nudged = self.nudged_phase(free, y, beta)
        return [(np.outer(d, pre) / beta, d / beta)
                for d, pre in zip(nudged.errors(), nudged.pre)], free

    def train_sample(self, x: np.ndarray, y: np.ndarray, lrs) -> None:
        """One per-sample update with per-layer learning rates ``lrs``."""
        p, beta = self.params, self.config.beta
        rule = self.config.ghost_rule if self.config.variant == "learned" else None
        if rule == "normalized":
            self.fit_ghosts(x)
        updates, free = self.weight_updates(x, y, beta)
        if rule == "constant":
            self._learn_ghosts(free)
        for k, (dW, db) in enumerate(updates):
            p.W[k] += lrs[k] * dW
            p.b[k] += lrs[k] * db

    def fit_ghosts(self, x: np.ndarray) -> None:
        """The ``normalized`` rule, in the free phase of ``x``: each hidden layer's ghosts
        predict the drive of the layer above, V += (a_{l+1} - g) [r_l; 1]^T / (|r_l|^2 + 1),
        then their outputs predict the feedback, Q += (B_l r_{l+1} - Q rho(g)) rho(g)^T /
        |rho(g)|^2, with g the new ghost drive. Both are one normalized least-mean-squares
        step of size 1: after it the ghosts cancel this sample's feedback exactly."""
        p = self.params
        a, r = self.feedforward(x)
        for k in range(self.L - 1):
            pre = r[k + 1]
            err_v = a[k + 1] - (p.V[k] @ pre + p.v[k])
            step = 1.0 / (pre @ pre + 1.0)
            p.V[k] += step * np.outer(err_v, pre)
            p.v[k] += step * err_v
            rg = rho(p.V[k] @ pre + p.v[k])
            norm = rg @ rg
            if norm > 0:
                err_q = p.feedback(k) @ r[k + 2] - p.Q[k] @ rg
                p.Q[k] += np.outer(err_q, rg) / norm

    def _learn_ghosts(self, free: FreeState) -> None:
        """The ``constant`` rule, after the sample: V predicts the unit above, Q predicts the
        feedback, both from the free state at the rate ``ghost_lr``."""
        p, eta = self.params, self.config.ghost_lr
        for k in range(self.L - 1):
            rg = rho(free.g[k])
            err_v = free.r[k + 2] - rg
            err_q = p.feedback(k) @ free.r[k + 2] - p.Q[k] @ rg
            p.V[k] += eta * np.outer(err_v, free.r[k + 1])
            p.v[k] += eta * err_v
            p.Q[k] += eta * np.outer(err_q, rg)

    # -- inference ------------------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class of each row of ``x``: argmax of the output drive after the feedforward pass."""
        a, _ = feedforward_batch(self.params, x)
        return np.argmax(a[-1], axis=1)
