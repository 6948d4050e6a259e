"""The claim of model.md section 4, measured: the ghost update approaches the backprop gradient.

For random networks with 1 to 4 hidden layers (tied ghosts, transposed feedback), each
schedule and each beta, compare per weight layer the local update (r_l - rho(a_l)) r_{l-1}^T /
beta with -dC/dW_l: the cosine between them and the relative error ||ghost - bp|| / ||bp||.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ghostfpga.config import Config

from ..backprop import backprop_gradients
from ..ghost import GhostModel
from ..network import init_params

__all__ = ["GradcheckRow", "gradcheck", "beta_slopes", "DEFAULT_NETWORKS", "DEFAULT_BETAS"]

DEFAULT_NETWORKS = ((4, 30, 3), (4, 30, 20, 3), (8, 24, 16, 12, 4), (6, 20, 16, 16, 12, 5))
DEFAULT_BETAS = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True)
class GradcheckRow:
    layers: tuple[int, ...]
    schedule: str
    beta: float
    layer: int          # 1-based weight layer l (W_l)
    cosine: float
    relative_error: float

    def to_dict(self) -> dict:
        return {"layers": list(self.layers), "schedule": self.schedule, "beta": self.beta,
                "layer": self.layer, "cosine": self.cosine,
                "relative_error": self.relative_error}


def _flat(dW: np.ndarray, db: np.ndarray) -> np.ndarray:
    return np.concatenate([dW.ravel(), db])


def compare_sample(model: GhostModel, x: np.ndarray, y: np.ndarray, beta: float):
    """Per layer: (ghost update, backprop gradient) flattened over W and b."""
    ghost, _ = model.weight_updates(x, y, beta)
    bp = backprop_gradients(model.params, x, y)
    return [(_flat(*g), _flat(*b)) for g, b in zip(ghost, bp)]


def gradcheck(networks=DEFAULT_NETWORKS, betas=DEFAULT_BETAS, schedules=("sweep", "dynamics"),
              samples: int = 8, seed: int = 0, alpha: float = 0.5,
              steps: int = 200) -> list[GradcheckRow]:
    """Cosine and relative error of the ghost update against backprop, per layer.

    Each network gets Glorot weights (seed ``seed``), ``samples`` random inputs in [0, 1] and
    random one-hot targets; vectors from all samples are concatenated before comparing, so
    a sample whose gradient vanishes (saturated units) does not dominate.
    """
    rows = []
    for layers in networks:
        rng = np.random.default_rng([seed, len(layers)])
        xs = rng.uniform(0.0, 1.0, size=(samples, layers[0]))
        ys = np.eye(layers[-1])[rng.integers(0, layers[-1], size=samples)]
        base = Config(layers=tuple(layers), variant="tied", feedback="transpose", alpha=alpha,
                      steps=steps, seed=seed)
        params = init_params(base)
        for schedule in schedules:
            model = GhostModel(base.replace(schedule=schedule), params)
            for beta in betas:
                per_layer = [compare_sample(model, x, y, beta) for x, y in zip(xs, ys)]
                for k in range(len(layers) - 1):
                    g = np.concatenate([s[k][0] for s in per_layer])
                    b = np.concatenate([s[k][1] for s in per_layer])
                    nb = np.linalg.norm(b)
                    cos = float(g @ b / (np.linalg.norm(g) * nb)) if nb > 0 else float("nan")
                    rel = float(np.linalg.norm(g - b) / nb) if nb > 0 else float("nan")
                    rows.append(GradcheckRow(tuple(layers), schedule, beta, k + 1, cos, rel))
    return rows


def beta_slopes(rows: list[GradcheckRow]) -> dict[tuple, float]:
    """Log-log slope of relative error against beta, per (layers, schedule, layer), fitted over
    all betas: 1.0 means the error shrinks linearly with beta."""
    groups: dict[tuple, list[tuple[float, float]]] = {}
    for r in rows:
        groups.setdefault((r.layers, r.schedule, r.layer), []).append((r.beta, r.relative_error))
    slopes = {}
    for key, pts in groups.items():
        if len(pts) >= 2:
            lb = np.log([p[0] for p in pts])
            le = np.log([max(p[1], 1e-300) for p in pts])
            slopes[key] = float(np.polyfit(lb, le, 1)[0])
    return slopes
