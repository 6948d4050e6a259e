"""The bit-exact fixed-point golden model: exactly the hardware's integer arithmetic.

Same phases and schedules as the float model (golden/ghost.py), computed with the operations of
docs/numerics.md on int64 arrays. Matrices hold their bias as a last column (its presynaptic
rate is 1.0). The learning passes run in a fixed order: learned ghosts by the ``normalized``
rule fit V_1, Q_1, V_2, ... in the free phase, then W_1 .. W_L learn (by the ``constant`` rule
V_1, Q_1, V_2, ... follow W);
the core's one LFSR steps once per cycle of a learning pass and lane p uses its state rotated by
p * LANE_ROTATION bits (golden/numerics.py), so the weight at word a of a pass gets the state
a + 1 steps after the pass starts (golden/lanes.py).
"""

from __future__ import annotations

import numpy as np

from ghostfpga.config import Config

from .lanes import LaneMap, may_split
from .network import Params, init_params, one_hot
from .numerics import (LFSR_PERIOD, Q_STEP_FRAC, V_STEP_FRAC, Formats, lane_random,
                       lfsr_position, lfsr_table, normalized_step, quantize, rho_fixed,
                       round_shift, saturate, scaled_error, weight_update)

__all__ = ["FixedModel", "FixedParams"]


class FixedParams:
    """Integer weights: ``W[k]`` is ``n_{k+1} x (n_k + 1)`` with the bias as last column;
    ``B[k]`` (random feedback), ``V[k]`` (with bias column) and ``Q[k]`` as in golden/network.py."""

    def __init__(self, W, B=(), V=(), Q=()):
        self.W, self.B, self.V, self.Q = list(W), list(B), list(V), list(Q)

    @classmethod
    def quantize(cls, params: Params, fmt: Formats) -> "FixedParams":
        def q(a):
            return quantize(a, fmt.weight_frac, fmt.weight_bits)

        return cls([q(np.hstack([W, b[:, None]])) for W, b in zip(params.W, params.b)],
                   [q(B) for B in params.B_random],
                   [q(np.hstack([V, v[:, None]])) for V, v in zip(params.V, params.v)],
                   [q(Q) for Q in params.Q])

    def matrices(self) -> dict[str, list[np.ndarray]]:
        return {"W": self.W, "B": self.B, "V": self.V, "Q": self.Q}

    def copy(self) -> "FixedParams":
        return FixedParams(*[[m.copy() for m in ms] for ms in self.matrices().values()])


class FixedModel:
    """Integer ghost-unit network; the training interface matches GhostModel's."""

    def __init__(self, config: Config, params: Params | FixedParams | None = None):
        self.config = config
        self.fmt = fmt = Formats.from_config(config)
        if params is None:
            params = init_params(config)
        self.params = params if isinstance(params, FixedParams) else \
            FixedParams.quantize(params, fmt)
        self.L = config.n_layers
        P = config.hardware.lanes
        self.maps = {name: [LaneMap.build(*m.shape, P, may_split(config, name)) for m in ms]
                     for name, ms in self.params.matrices().items()}
        self.lfsr_position = lfsr_position(fmt.lfsr_seed)   # of the core's one shared LFSR
        self._lfsr = lfsr_table()
        self._fwd_shift = fmt.forward_shift
        self._err_shift = fmt.feedback_shift  # operand with error_frac fraction bits
        self.probe = None   # golden/studies/diagnostics.py: sees drives and updates before narrowing

    # -- primitive operations (docs/numerics.md) ------------------------------------------
    def _narrow(self, acc):
        return saturate(acc, self.fmt.potential_bits)

    def wide_drive(self, M: np.ndarray, rates: np.ndarray) -> np.ndarray:
        """M [rates; 1] in the potential format, before narrowing (works on batches too)."""
        acc = rates @ M[:, :-1].T + M[:, -1] * self.fmt.rate_one
        return round_shift(acc, self._fwd_shift)

    def forward(self, M: np.ndarray, rates: np.ndarray) -> np.ndarray:
        """Drive of every row: M [rates; 1] narrowed to potentials (works on batches too)."""
        return self._narrow(self.wide_drive(M, rates))

    def feedback(self, k: int, vec: np.ndarray) -> np.ndarray:
        """B_k vec for an error-format vector of layer k+2: W_{k+1}^T (without the bias
        column) or the random matrix; narrowed to potentials."""
        if self.config.feedback == "random":
            acc = self.params.B[k] @ vec
        else:
            acc = self.params.W[k + 1][:, :-1].T @ vec
        return self._narrow(round_shift(acc, self._err_shift))

    def ghost_output(self, k: int, g: np.ndarray) -> np.ndarray:
        """Q_k rho(g) for learned ghosts, narrowed to potentials."""
        acc = self.params.Q[k] @ self.rho(g)
        return self._narrow(round_shift(acc, self._err_shift))

    def rho(self, u):
        """Hard sigmoid in the error format (1.0 = 2^error_frac)."""
        return rho_fixed(u, self.fmt.error_one)

    def rate(self, u):
        """Rate sent forward: rho(u) rounded to rate_frac fraction bits."""
        return round_shift(self.rho(u), self.fmt.error_frac - self.fmt.rate_frac)

    def euler(self, u, target):
        """u + alpha (target - u), alpha = 2^-alpha_shift, rounded to nearest, saturated."""
        return self._narrow(u + round_shift(target - u, self.fmt.alpha_shift))

    def nudge(self, y, u):
        """beta (y - rho(u)), beta = 2^-beta_shift, rounded to nearest."""
        return round_shift(y - self.rho(u), self.fmt.beta_shift)

    def learn(self, name: str, k: int, err: np.ndarray, pre: np.ndarray, eta: int,
              bias: bool, eta_frac: int | None = None) -> None:
        """M += round(eta * err * pre): the one learning datapath, for W, V and Q.

        e = sat16(round(eta * err >> (eta_frac + error_frac - 15))) once per row, then per weight
        round(e * pre >> (15 + rate_frac - weight_frac)), stochastic or nearest, saturated.
        ``eta_frac`` is the formats' (a host-set learning rate) or a ghost step's.
        """
        fmt = self.fmt
        M = self.params.matrices()[name][k]
        lane_map = self.maps[name][k]
        e, wide_e = scaled_error(fmt, eta, err, eta_frac)
        pre_aug = np.append(pre, fmt.rate_one) if bias else pre
        if self.probe is not None:
            exact = e[:, None] * pre_aug[None, :] / 2.0 ** fmt.learn_shift
            self.probe.learning(name, k, err=err, wide_e=wide_e, exact=exact)
        random = None
        if fmt.stochastic:
            # the LFSR steps once per cycle of the pass (= word address); each lane rotates it
            index = (self.lfsr_position + lane_map.address + 1) % LFSR_PERIOD
            random = lane_random(self._lfsr[index], lane_map.lane)
            self.lfsr_position = (self.lfsr_position + lane_map.words) % LFSR_PERIOD
        delta = weight_update(fmt, e[:, None], pre_aug[None, :], random)
        if self.probe is not None:
            self.probe.learned(name, k, delta=delta, wide_weights=M + delta)
        M[...] = saturate(M + delta, fmt.weight_bits)

    # -- quantization of the host's data -------------------------------------------------------
    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        return quantize(x, self.fmt.rate_frac, self.fmt.rate_frac + 1, signed=False)

    def quantize_target(self, y: np.ndarray) -> np.ndarray:
        return self.fmt.target(y)

    def etas(self, lrs) -> list[int]:
        """Per-layer multipliers lr_l / beta for the hardware."""
        return self.fmt.etas(lrs, self.config.beta)

    # -- phases -------------------------------------------------------------------------------
    def feedforward(self, x_q: np.ndarray):
        """Drives a_1..a_L and rates r_0..r_L (rate format) of the feedforward pass."""
        a, r = [], [x_q]
        for k, W in enumerate(self.params.W):
            wide = self.wide_drive(W, r[-1])
            if self.probe is not None:
                self.probe.drive(k, wide)
            a.append(self._narrow(wide))
            r.append(self.rate(a[-1]))
        return a, r

    def _feedback_minus_ghost(self, k, r_above_e, g, h):
        """B_k r_{k+2} - c_k in the error format (r_above_e = rho(u_{k+2}))."""
        variant = self.config.variant
        if variant == "tied":
            return self.feedback(k, r_above_e - self.rho(g))
        if variant == "learned":
            return self._narrow(self.feedback(k, r_above_e) - self.ghost_output(k, g))
        if h is None:
            return np.zeros(self.params.W[k].shape[0], dtype=np.int64)  # replay while tracking
        return self._narrow(self.feedback(k, r_above_e) - h)

    def _ghost_drive(self, k, a, r):
        if self.config.variant == "learned":
            return self.forward(self.params.V[k], r[k + 1])
        return a[k + 1]

    def train_sample(self, x: np.ndarray, y: np.ndarray, lrs) -> None:
        """One training sample from float input and target (quantized here, as the host does)."""
        self.train_sample_fixed(self.quantize_input(x), self.quantize_target(y), self.etas(lrs))

    def fit_ghosts(self, a, r) -> None:
        """The ``normalized`` rule in the free phase (a, r: the feedforward pass): per hidden
        layer, V learns the drive of the layer above, err = a_{k+2} - V [r; 1], at the step
        1 / (|r|^2 + 1); then, from the new ghost drive g, Q learns the feedback,
        err = B rho(a_{k+2}) - Q rho(g), at the step 1 / |rate(g)|^2 (golden/numerics.py)."""
        fmt = self.fmt
        for k in range(self.L - 1):
            pre = r[k + 1]
            err_v = self._narrow(a[k + 1] - self.forward(self.params.V[k], pre))
            self.learn("V", k, err_v, pre, normalized_step(fmt, pre, V_STEP_FRAC, bias=True),
                       bias=True, eta_frac=V_STEP_FRAC)
            g = self.forward(self.params.V[k], pre)
            rg = self.rate(g)
            err_q = self._narrow(self.feedback(k, self.rho(a[k + 1])) - self.ghost_output(k, g))
            self.learn("Q", k, err_q, rg, normalized_step(fmt, rg, Q_STEP_FRAC, bias=False),
                       bias=False, eta_frac=Q_STEP_FRAC)

    def train_sample_fixed(self, x_q, y_q, etas) -> None:
        L, variant = self.L, self.config.variant
        rule = self.config.ghost_rule if variant == "learned" else None
        a, r = self.feedforward(x_q)
        if rule == "normalized":
            self.fit_ghosts(a, r)
        u = [ai.copy() for ai in a]
        g = [self._ghost_drive(k, a, r).copy() for k in range(L - 1)]
        for _ in range(self.config.free_steps):
            u, g, _, _ = self._euler_step(u, g, [None] * (L - 1), x_q, None)
        if self.config.free_steps:
            a, r = self._drives(u, x_q)
        free_a, free_r, free_g = a, r, g
        h = [self.feedback(k, self.rho(u[k + 1])) for k in range(L - 1)] \
            if variant == "replay" else [None] * (L - 1)
        free_fb = [self.feedback(k, self.rho(u[k + 1])) for k in range(L - 1)] \
            if rule == "constant" else None
        if self.config.schedule == "dynamics":
            for _ in range(self.config.steps):
                u, g, _, _ = self._euler_step(u, g, h, x_q, y_q)
            a, r = self._drives(u, x_q)
            pre = r[:-1]
        else:
            uL = u[L - 1]
            for _ in range(self.config.settle_iterations):
                uL = self._narrow(a[L - 1] + self.nudge(y_q, uL))
            u[L - 1] = uL
            for k in range(L - 2, -1, -1):
                u[k] = self._narrow(a[k] + self._feedback_minus_ghost(k, self.rho(u[k + 1]),
                                                                       g[k], h[k]))
            pre = r[:-1]
        for k in range(L):
            err = self.rho(u[k]) - self.rho(a[k])
            self.learn("W", k, err, pre[k], etas[k], bias=True)
        if rule == "constant":
            eta_g = self.fmt.eta_mantissa(self.config.ghost_lr, "ghost_lr")
            for k in range(L - 1):
                rg = self.rho(free_g[k])
                c = self.ghost_output(k, free_g[k])
                self.learn("V", k, self.rho(free_a[k + 1]) - rg, free_r[k + 1], eta_g, bias=True)
                self.learn("Q", k, self._narrow(free_fb[k] - c), self.rate(free_g[k]), eta_g,
                           bias=False)

    def _drives(self, u, x_q):
        r = [x_q] + [self.rate(ui) for ui in u]
        return [self.forward(W, r[k]) for k, W in enumerate(self.params.W)], r

    def _euler_step(self, u, g, h, x_q, y_q):
        """One synchronous Euler step of every unit and ghost from the previous state."""
        L = self.L
        a, r = self._drives(u, x_q)
        new_u = []
        for k in range(L - 1):
            fb = self._feedback_minus_ghost(k, self.rho(u[k + 1]), g[k], h[k])
            new_u.append(self.euler(u[k], self._narrow(a[k] + fb)))
        nudge = self.nudge(y_q, u[L - 1]) if y_q is not None else 0
        new_u.append(self.euler(u[L - 1], self._narrow(a[L - 1] + nudge)))
        new_g = [self.euler(g[k], self._ghost_drive(k, a, r)) for k in range(L - 1)]
        return new_u, new_g, a, r

    def step(self, x_q: np.ndarray, label: int, train: bool, etas) -> tuple[int, list[int]]:
        """What the core answers for one sample: the argmax of the free output drive (lowest
        index wins a tie) and the output rates; a training sample then learns with ``etas``."""
        a, r = self.feedforward(x_q)
        answer = int(np.argmax(a[-1])), [int(v) for v in r[-1]]
        if train:
            y = one_hot(np.array([label]), self.config.n_classes, self.config.target_margin)[0]
            self.train_sample_fixed(x_q, self.quantize_target(y), etas)
        return answer

    # -- inference ------------------------------------------------------------------------------
    def output_drive(self, x: np.ndarray) -> np.ndarray:
        """a_L for a batch of float inputs."""
        r = self.quantize_input(x)
        for W in self.params.W:
            a = self.forward(W, r)
            r = self.rate(a)
        return a

    def predict(self, x: np.ndarray) -> np.ndarray:
        """argmax of a_L (the lowest index wins a tie, as in the hardware)."""
        return np.argmax(self.output_drive(x), axis=1)
