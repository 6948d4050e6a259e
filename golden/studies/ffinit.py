"""The second claim (docs/model.md), measured: with feedforward initialization the free phase is
a single pass because the feedforward state is a fixed point of the free dynamics when the
ghosts cancel the top-down input.

From the feedforward state of a sample, ``steps`` Euler steps at beta = 0 (no target) run the
free dynamics of the model's variant; the distance per layer is ||u_l - a_l|| / ||a_l|| between
where they end and the feedforward drive a_l, averaged over samples. Tied ghosts follow a_{l+1}
exactly, so it is 0; replay ghosts track the feedback exactly while no target is applied, so it
is 0; learned ghosts by the ``normalized`` rule fit each sample in its free phase, after
which they cancel it exactly, so it is 0 up to float rounding; before that fit (``before_fit``)
they cancel only as well as V and Q predict a sample they have not seen, and the residual moves
the state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ghostfpga.config import Config

from ..datasets import Dataset
from ..ghost import GhostModel
from ..training import accuracy, train

__all__ = ["FixedPointRow", "fixed_point_distance", "fixed_point_over_training"]


@dataclass(frozen=True)
class FixedPointRow:
    variant: str
    epoch: int          # 0: before training
    layer: int          # 1-based layer l
    distance: float     # mean over samples of ||u_l - a_l|| / ||a_l||
    test_accuracy: float   # of the model at that epoch (a collapsed network sits still too)
    before_fit: float | None = None   # normalized learned ghosts: the distance before the fit

    def to_dict(self) -> dict:
        return {"variant": self.variant, "epoch": self.epoch, "layer": self.layer,
                "distance": self.distance, "before_fit": self.before_fit,
                "test_accuracy": self.test_accuracy}


def _fits(model: GhostModel) -> bool:
    return model.config.fits_ghosts


def fixed_point_distance(model: GhostModel, xs: np.ndarray, steps: int = 100,
                         fit: bool = True) -> list[float]:
    """Per layer, the mean relative distance between the feedforward state and the state the
    free dynamics reach from it in ``steps`` Euler steps (step size the config's alpha).
    Normalized learned ghosts first fit each sample, as their free phase does (``fit``; on a
    copy of the weights, which are left as they were)."""
    L = model.L
    total = np.zeros(L)
    saved = model.params
    for x in xs:
        if fit and _fits(model):
            model.params = saved.copy()
            model.fit_ghosts(x)
        free = model.free_phase(x)
        u, g = free.u, free.g
        for _ in range(steps):
            u, g = model._euler_step(u, g, [None] * (L - 1), x, None, 0.0)
        total += [np.linalg.norm(ul - al) / max(np.linalg.norm(al), 1e-12)
                  for ul, al in zip(u, free.a)]
    model.params = saved
    return (total / len(xs)).tolist()


def fixed_point_over_training(config: Config, data: Dataset, epochs: int, samples: int = 50,
                              steps: int = 100) -> list[FixedPointRow]:
    """The distance per layer before training and after every epoch (float model, the
    config's variant), on the first ``samples`` test inputs."""
    model = GhostModel(config)
    xs = data.x_test[:samples]
    rows = []

    def measure(epoch):
        acc = accuracy(model, data.x_test, data.y_test)
        before = fixed_point_distance(model, xs, steps, fit=False) if _fits(model) \
            else [None] * model.L
        rows.extend(FixedPointRow(config.variant, epoch, l + 1, d, acc, b)
                    for l, (d, b) in enumerate(zip(fixed_point_distance(model, xs, steps),
                                                   before)))

    measure(0)
    train(model, data, epochs, on_epoch=lambda record: measure(record["epoch"]))
    return rows
