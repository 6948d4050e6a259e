"""Train one model on one data set and describe the run as a JSON-ready record.

Shared by ``ghostfpga train``, ``ghostfpga demo`` and ``benchmarks/accuracy.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ghostfpga.config import Config, ConfigError
from ghostfpga.golden.backprop import BackpropModel
from ghostfpga.golden.datasets import Dataset, DatasetError, load_dataset
from ghostfpga.golden.ghost import GhostModel
from ghostfpga.golden.training import train

from .report import progress_bar

__all__ = ["MODELS", "DEFAULT_HIDDEN", "TrainingRun", "fit_config", "prepare",
           "run_training"]

MODELS = ("ghost", "bp")

# Hidden layer used when neither --layers nor a config file gives the layer sizes.
DEFAULT_HIDDEN = {"yinyang": 30, "digits": 32}


@dataclass
class TrainingRun:
    """``ghostfpga train``'s result: one model trained on one data set."""
    dataset: str
    model: str                           # ghost or bp
    variant: str | None                  # the ghost model's (None for backprop)
    feedback: str | None
    schedule: str | None
    layers: list[int]
    epochs: int
    seed: int
    train_accuracy: float
    test_accuracy: float
    seconds: float
    history: list[dict]                  # golden.training's epoch records
    config: dict

    def to_dict(self) -> dict:
        return asdict(self)


def fit_config(config: Config, data: Dataset, layers_given: bool) -> Config:
    """Adapt the layer sizes to the data set, or check them when the user gave them."""
    if not layers_given:
        hidden = DEFAULT_HIDDEN.get(data.name, 30)
        return config.replace(layers=(data.n_inputs, hidden, data.n_classes))
    if config.layers[0] != data.n_inputs:
        raise ConfigError("layers", list(config.layers),
                          f"must start with the data set's {data.n_inputs} inputs")
    if config.layers[-1] < data.n_classes:
        raise ConfigError("layers", list(config.layers),
                          f"must end with at least the data set's {data.n_classes} classes")
    return config


def prepare(spec: str, config: Config, layers_given: bool,
            normalize: bool = False) -> tuple[Config, Dataset]:
    """Load the data set ``spec`` and fit the config to it."""
    if normalize and not Path(spec).suffix.lower() in (".npz", ".csv"):
        raise DatasetError(f"--normalize scales the features of a user file (.npz, .csv); "
                           f"{spec} needs none")
    n_classes = config.layers[-1] if layers_given else None
    data = load_dataset(spec, normalize=normalize, n_classes=n_classes)
    return fit_config(config, data, layers_given), data


def samples_used(asked: int | None, data: Dataset, say=None) -> int:
    """The training samples a run takes: ``asked`` (None: all); more than the set holds are
    cut to the set, and ``say`` is told so."""
    n = len(data.y_train)
    if asked is not None and asked > n and say is not None:
        say(f"--samples {asked}: the training set of {data.name} has {n}; using {n}")
    return n if asked is None else min(asked, n)


def run_training(config: Config, data: Dataset, model: str = "ghost",
                 show_progress: bool = True) -> TrainingRun:
    """Train ``model`` (``ghost`` or ``bp``) and return the run record."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
    net = GhostModel(config) if model == "ghost" else BackpropModel(config)
    total = config.epochs * len(data.y_train)
    label = f"{model} {data.name}" + (f" {config.variant}/{config.feedback}/{config.schedule}"
                                      if model == "ghost" else "")
    if show_progress:
        with progress_bar(total, label) as update:
            result = train(net, data, progress=update)
    else:
        result = train(net, data)
    ghost = model == "ghost"
    return TrainingRun(
        dataset=data.name, model=model, variant=config.variant if ghost else None,
        feedback=config.feedback if ghost else None,
        schedule=config.schedule if ghost else None, layers=list(config.layers),
        epochs=config.epochs, seed=config.seed, train_accuracy=result.train_accuracy,
        test_accuracy=result.test_accuracy, seconds=result.seconds, history=result.history,
        config=config.to_dict())


def run_parallel(fn, jobs: list[tuple], workers: int) -> list:
    """``fn(*job)`` for every job on ``workers`` processes, with a progress bar of finished
    runs (on stderr); results in the order they finish."""
    import sys
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(fn, *job) for job in jobs]
        return [f.result() for f in tqdm(as_completed(futures), total=len(futures),
                                         desc="training runs", unit="run", file=sys.stderr)]
