"""How well learned ghosts cancel, measured over training (docs/model.md, "Learned ghosts").

At the free state of a sample, hidden layer l keeps the feedback residual
``B_l r_{l+1} - Q_l rho(g_l)`` that its ghosts fail to cancel; the nudged phase adds to it the
error signal, the beta-sized change ``B_l (r_{l+1}^nudged - r_{l+1})`` of the feedback (taken
here from the tied sweep, the exact cancellation). Learning works only while the residual is
well below the signal. Per layer this module reports the pooled ratio
``sqrt(sum ||residual||^2) / sqrt(sum ||signal||^2)`` over probe samples of the training set:

- ``before``: with the ghosts as the sample finds them (what the ``constant`` rule's nudge
  sees, and how well the ghosts predict a sample they have not fitted);
- ``after``: after the ``normalized`` rule's free-phase fit of that sample (what its nudge
  sees). For the ``constant`` rule, ``after`` equals ``before``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ghostfpga.config import Config

from ..datasets import Dataset
from ..ghost import GhostModel
from ..network import one_hot, rho
from ..training import accuracy, train

__all__ = ["CancellationRow", "cancellation_ratios", "cancellation_over_training"]


@dataclass(frozen=True)
class CancellationRow:
    rule: str
    epoch: float        # training samples seen / training-set size (0: before training)
    layer: int          # 1-based hidden layer l
    before: float       # residual / signal with the ghosts as the sample finds them
    after: float        # the same after the free-phase fit (normalized rule)
    signal: float       # RMS norm of the error signal (0: saturated, nothing to learn from)
    test_accuracy: float

    def to_dict(self) -> dict:
        """As JSON values: a ratio without a signal (nan) becomes null."""
        def finite(v):
            return v if np.isfinite(v) else None

        return {"rule": self.rule, "epoch": self.epoch, "layer": self.layer,
                "before": finite(self.before), "after": finite(self.after),
                "signal": self.signal, "test_accuracy": self.test_accuracy}


def _residuals(model: GhostModel, x: np.ndarray) -> list[np.ndarray]:
    """B_l r_{l+1} - Q_l rho(g_l) at the free state of ``x``, per hidden layer."""
    free = model.free_phase(x)
    p = model.params
    return [p.feedback(k) @ free.r[k + 2] - p.Q[k] @ rho(free.g[k])
            for k in range(model.L - 1)]


def _signals(model: GhostModel, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """The beta-sized error signal B_l (r_{l+1}^nudged - r_{l+1}) of the exact cancellation."""
    tied = GhostModel(model.config.replace(variant="tied", schedule="sweep"), model.params)
    free = tied.free_phase(x)
    nudged = tied.nudged_phase(free, y)
    return [model.params.feedback(k) @ (rho(nudged.u[k + 1]) - free.r[k + 2])
            for k in range(model.L - 1)]


def cancellation_ratios(model: GhostModel, xs: np.ndarray, ys: np.ndarray) -> list[tuple]:
    """Per hidden layer, (before, after, signal): pooled residual / signal over the samples
    ``xs`` with targets ``ys`` (nan without any signal) and the signal's RMS norm. The model's
    weights are left as they were."""
    hidden = model.L - 1
    res_before, res_after, sig = np.zeros(hidden), np.zeros(hidden), np.zeros(hidden)
    fits = model.config.fits_ghosts
    for x, y in zip(xs, ys):
        sig += [s @ s for s in _signals(model, x, y)]
        before = _residuals(model, x)
        res_before += [r @ r for r in before]
        if fits:
            saved = model.params
            model.params = saved.copy()
            model.fit_ghosts(x)
            after = _residuals(model, x)
            model.params = saved
        else:
            after = before
        res_after += [r @ r for r in after]
    denom = np.where(sig > 0, np.sqrt(sig), np.nan)
    return list(zip((np.sqrt(res_before) / denom).tolist(), (np.sqrt(res_after) / denom).tolist(),
                    np.sqrt(sig / len(xs)).tolist()))


def cancellation_over_training(config: Config, data: Dataset, epochs: int,
                               samples: int = 100, per_epoch: int = 5) -> list[CancellationRow]:
    """The ratios per hidden layer before training and ``per_epoch`` times an epoch (every
    whole 250 samples closest to it), for learned ghosts with ``config``'s rule, on the first
    ``samples`` training samples."""
    config = config.replace(variant="learned")
    model = GhostModel(config)
    xs = data.x_train[:samples]
    ys = one_hot(data.y_train[:samples], config.n_classes, config.target_margin)
    rows = []

    def measure(epoch):
        acc = accuracy(model, data.x_test, data.y_test)
        rows.extend(CancellationRow(config.ghost_rule, epoch, k + 1, *ratios, acc)
                    for k, ratios in enumerate(cancellation_ratios(model, xs, ys)))

    n = len(data.y_train)
    every = max(250, round(n / per_epoch / 250) * 250)
    seen = [0]

    def progress(count):
        seen[0] += count
        if seen[0] % every == 0 or seen[0] % n == 0:
            measure(seen[0] / n)

    measure(0)
    train(model, data, epochs, progress=progress)
    return rows
