"""Per-sample SGD training loop shared by every model (float ghost, backprop, and later fixed)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ghostfpga.config import Config

from .datasets import Dataset
from .network import one_hot

__all__ = ["Trainable", "TrainResult", "train", "accuracy", "sample_order", "strided_order",
           "stored_epochs", "warmup_order", "warm_up"]


class Trainable(Protocol):
    config: Config

    def train_sample(self, x: np.ndarray, y: np.ndarray, lrs) -> None: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...


@dataclass
class TrainResult:
    train_accuracy: float
    test_accuracy: float
    seconds: float
    history: list[dict] = field(default_factory=list)


def accuracy(model: Trainable, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x) == y))


def sample_order(config: Config, n: int, epoch: int) -> np.ndarray:
    """The training-set permutation of ``epoch``: fixed by ``config.seed``."""
    return np.random.default_rng([config.seed, 1, epoch]).permutation(n)


def strided_order(n: int, start: int, step: int) -> np.ndarray:
    """The sample order of one epoch of on-board training: step ``i`` visits sample
    ``(start + i * step) mod n`` of the stored set (a permutation when step is coprime to n)."""
    return (start + step * np.arange(n, dtype=np.int64)) % n


def stored_epochs(config: Config, n: int, epochs: int) -> list[tuple[int, int]]:
    """``(start, step)`` of each epoch of on-board training over ``n`` stored samples, fixed by
    ``config.seed``: start uniform in [0, n), step uniform among the numbers in [0, n) coprime
    to n, so every epoch visits each sample once."""
    out = []
    for epoch in range(epochs):
        rng = np.random.default_rng([config.seed, 2, epoch])
        start = int(rng.integers(n))
        step = int(rng.integers(n))
        while math.gcd(step, n) != 1:
            step = int(rng.integers(n))
        out.append((start, step))
    return out


def warmup_order(config: Config, n: int) -> np.ndarray:
    """The samples of the ghosts' self-predicting phase: the first ``warmup_samples`` of the
    first epoch's order (repeated when they outnumber the training set)."""
    order = sample_order(config, n, 0)
    return np.resize(order, config.warmup_samples) if config.warmup_samples else order[:0]


def warm_up(model: Trainable, data: Dataset) -> None:
    """The self-predicting phase of normalized learned ghosts: training samples with every
    learning rate 0, so only the ghosts learn (nothing for other models)."""
    config = model.config
    targets = one_hot(data.y_train, config.n_classes, config.target_margin)
    zero = (0.0,) * config.n_layers
    for idx in warmup_order(config, len(data.y_train)):
        model.train_sample(data.x_train[idx], targets[idx], zero)


def train(model: Trainable, data: Dataset, epochs: int | None = None,
          progress: Callable[[int], None] | None = None,
          on_epoch: Callable[[dict], None] | None = None, warmup: bool = True) -> TrainResult:
    """Train ``model`` for ``epochs`` (default: its config's) and record per-epoch accuracies,
    after the ghosts' self-predicting phase (``warm_up``; ``warmup=False``: none, the model
    goes on training).

    ``progress(n)`` is called after every ``n`` samples; ``on_epoch(record)`` after each epoch.
    """
    config = model.config
    if warmup:
        warm_up(model, data)
    epochs = config.epochs if epochs is None else epochs
    targets = one_hot(data.y_train, config.n_classes, config.target_margin)
    history = []
    start = time.perf_counter()
    chunk = 250
    for epoch in range(epochs):
        lrs = config.lr_at(epoch)
        order = sample_order(config, len(data.y_train), epoch)
        for i, idx in enumerate(order):
            model.train_sample(data.x_train[idx], targets[idx], lrs)
            if progress is not None and (i + 1) % chunk == 0:
                progress(chunk)
        if progress is not None and len(order) % chunk:
            progress(len(order) % chunk)
        record = {"epoch": epoch + 1,
                  "train_accuracy": accuracy(model, data.x_train, data.y_train),
                  "test_accuracy": accuracy(model, data.x_test, data.y_test)}
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    seconds = time.perf_counter() - start
    last = history[-1]
    return TrainResult(last["train_accuracy"], last["test_accuracy"], seconds, history)
