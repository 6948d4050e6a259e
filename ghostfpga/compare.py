"""``ghostfpga compare``: how well the learning hardware learns, and where accuracy is lost.

One table for one data set: float backprop, the float ghost model (the config's variant), the
fixed-point golden model (= the hardware's arithmetic) trained for the full epochs, and the
RTL: Verilator trains on a slice of the training set, checked bit for bit against the golden
model, then the RTL core, loaded with the fixed model's trained weights through its host port,
infers the whole test set (its predictions must equal the fixed model's). The fixed model is
probed at checkpoints of its training (golden/studies/diagnostics.py) for the per-layer report.
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from ghostfpga.config import Config
from ghostfpga.golden.datasets import Dataset
from ghostfpga.golden.studies.diagnostics import Checkpoint
from ghostfpga.golden.training import TrainResult

__all__ = ["compare", "checkpoint_epochs", "Comparison", "PROBE_SAMPLES"]


@dataclass
class FixedRun:
    """The fixed model's training (``TrainResult``), its trained weights, its test
    predictions and its probes at the checkpoints."""
    training: TrainResult
    params: list                         # per kind (W, B, V, Q): matrices as lists
    test_predictions: list[int]
    diagnostics: list[Checkpoint]


@dataclass
class RtlCheck:
    """The RTL's two checks (``_rtl``)."""
    rtl_samples: int                     # training samples of the slice
    rtl_train_mismatches: int
    rtl_test_mismatches: int
    rtl_mismatches: int
    rtl_first_mismatch: str | None
    rtl_train_accuracy: float | None
    rtl_test_accuracy: float
    rtl_predictions_equal_fixed: bool    # on the test set, from the fixed model's weights
    rtl_seconds: float
    rtl_cycles_per_sample: float | None


@dataclass(kw_only=True)
class Comparison(RtlCheck):
    """``ghostfpga compare``'s result (and ``demo``'s, with ``system``, ``bitstream`` and
    ``board``). ``to_dict`` is the JSON: the same keys, nested records as objects."""
    dataset: str
    layers: list[int]
    epochs: int
    variant: str
    simulator: str
    float_bp_train_accuracy: float
    float_bp_test_accuracy: float
    float_ghost_train_accuracy: float
    float_ghost_test_accuracy: float
    fixed_train_accuracy: float
    fixed_test_accuracy: float
    seconds: dict[str, float]            # per model, the RTL's and the total (demo: "demo")
    history: dict[str, list[dict]]       # per model: golden.training's epoch records
    confusion: list[list[int]]           # the fixed model's test set: [true][predicted]
    diagnostics: list[Checkpoint]
    config: dict
    system: object | None = None         # demo: the system run (hardware.RunReport)
    bitstream: object | None = None      # demo: the build (boards.build.BuildReport)
    board: str | None = None             # demo: the board built for

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["diagnostics"] = [c.to_dict() for c in self.diagnostics]
        if self.board is None:             # not a demo
            del out["system"], out["bitstream"], out["board"]
        else:
            for key in ("system", "bitstream"):
                out[key] = None if out[key] is None else out[key].to_dict()
        return out

PROBE_SAMPLES = 200   # training samples each diagnostics checkpoint runs


def checkpoint_epochs(epochs: int) -> list[int]:
    """The epochs after which the fixed model is probed: start, a quarter, half, the end."""
    return sorted({0, epochs // 4, epochs // 2, epochs})


def _progress_sender(queue, name: str):
    return None if queue is None else (lambda n: queue.put((name, n)))


def _train_float(config: Config, data: Dataset, model: str, queue) -> TrainResult:
    from ghostfpga.golden.backprop import BackpropModel
    from ghostfpga.golden.ghost import GhostModel
    from ghostfpga.golden.training import train

    net = GhostModel(config) if model == "ghost" else BackpropModel(config)
    return train(net, data, progress=_progress_sender(queue, model))


def _train_fixed(config: Config, data: Dataset, queue) -> FixedRun:
    """Train the fixed model for the config's epochs, probing it at the checkpoints."""
    from ghostfpga.golden.studies.diagnostics import probe_checkpoint
    from ghostfpga.golden.fixed import FixedModel
    from ghostfpga.golden.training import train

    model = FixedModel(config)
    rng = np.random.default_rng([config.seed, 3])
    pick = rng.choice(len(data.y_train), min(PROBE_SAMPLES, len(data.y_train)), replace=False)
    x, y = data.x_train[pick], data.y_train[pick]
    marks = checkpoint_epochs(config.epochs)
    checkpoints = []

    def probe(epoch: int) -> None:
        if epoch in marks:
            etas = model.etas(config.lr_at(min(epoch, config.epochs - 1)))
            checkpoints.append(probe_checkpoint(model, x, y, etas, epoch))

    probe(0)
    result = train(model, data, progress=_progress_sender(queue, "fixed"),
                   on_epoch=lambda record: probe(record["epoch"]))
    return FixedRun(result,
                    [[m.tolist() for m in ms] for ms in model.params.matrices().values()],
                    model.predict(data.x_test).tolist(), checkpoints)


def _train_models(config: Config, data: Dataset, workers: int, show_progress: bool) -> dict:
    """The three models, each in its own process, with one progress bar each:
    ``{"bp": TrainResult, "ghost": TrainResult, "fixed": FixedRun}``."""
    import multiprocessing

    from tqdm import tqdm

    total = config.epochs * len(data.y_train)
    names = ("bp", "ghost", "fixed")
    labels = {"bp": "float backprop", "ghost": f"float ghost ({config.variant})",
              "fixed": "fixed (= hardware)"}
    with multiprocessing.Manager() as manager:
        queue = manager.Queue()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {name: pool.submit(_train_fixed, config, data, queue) if name == "fixed"
                       else pool.submit(_train_float, config, data, name, queue)
                       for name in names}
            bars = {name: tqdm(total=total, desc=labels[name], unit="sample", position=i,
                               disable=None if show_progress else True, leave=False)
                    for i, name in enumerate(names)}
            while not all(f.done() for f in futures.values()) or not queue.empty():
                try:
                    name, n = queue.get(timeout=0.2)
                    bars[name].update(n)
                except Exception:   # queue.Empty: nothing new this time
                    pass
            for bar in bars.values():
                bar.close()
            return {name: f.result() for name, f in futures.items()}


def _rtl(config: Config, data: Dataset, fixed: FixedRun, samples: int, simulator: str,
         say) -> RtlCheck:
    """The RTL's two checks: a training slice from the initial weights, then the whole test
    set from the fixed model's trained weights."""
    from ghostfpga.golden.fixed import FixedModel, FixedParams
    from ghostfpga.golden.training import sample_order
    from ghostfpga.sim.core.cocotb_sim import cosimulate
    from ghostfpga.sim.core.protocol import Sample

    model = FixedModel(config)
    etas = model.etas(config.lr_at(0))
    order = sample_order(config, len(data.y_train), 0)[:samples]
    train = [Sample(model.quantize_input(data.x_train[i]), int(data.y_train[i]), True)
             for i in order]
    say(f"RTL training slice: {len(train)} samples in {simulator}, bit for bit ...")
    start = time.perf_counter()
    sliced = cosimulate(config, simulator, train, [etas] * len(train), model=model) \
        if train else None
    trained = FixedModel(config, FixedParams(*[[np.array(m, dtype=np.int64) for m in ms]
                                               for ms in fixed.params]))
    test = [Sample(trained.quantize_input(x), 0, False) for x in data.x_test]
    say(f"RTL inference of the {len(test)} test samples from the trained weights ...")
    inferred = cosimulate(config, simulator, test, [etas] * len(test), model=trained,
                          load=True)
    labels = np.array(inferred.labels)
    return RtlCheck(
        rtl_samples=len(train),
        rtl_train_mismatches=sliced.mismatches if sliced else 0,
        rtl_test_mismatches=inferred.mismatches,
        rtl_mismatches=(sliced.mismatches if sliced else 0) + inferred.mismatches,
        rtl_first_mismatch=(sliced.first_mismatch if sliced else None)
        or inferred.first_mismatch,
        rtl_train_accuracy=float(np.mean(np.array(sliced.labels) ==
                                         np.array([s.label for s in train])))
        if sliced else None,
        rtl_test_accuracy=float(np.mean(labels == data.y_test)),
        rtl_predictions_equal_fixed=bool((labels == np.array(fixed.test_predictions)).all()),
        rtl_seconds=time.perf_counter() - start,
        rtl_cycles_per_sample=sliced.mean_cycles(train, True) if sliced else None)


def compare(config: Config, data: Dataset, rtl_samples: int = 200,
            simulator: str = "verilator", workers: int | None = None,
            show_progress: bool = True, say=print) -> Comparison:
    """Train every model, run the RTL checks; the JSON-ready result (docs: README)."""
    from ghostfpga.fit import check_memory_fit

    check_memory_fit(config)
    workers = workers or max(1, min(3, os.cpu_count() or 1))
    start = time.perf_counter()
    say(f"training float backprop, float ghost and the fixed model for {config.epochs} "
        f"epochs on {data.name} ({len(data.y_train)} samples, {workers} processes) ...")
    models = _train_models(config, data, workers, show_progress)
    rtl = _rtl(config, data, models["fixed"], rtl_samples, simulator, say)
    fixed, bp, ghost = models["fixed"], models["bp"], models["ghost"]
    return Comparison(
        **dataclasses.asdict(rtl),
        dataset=data.name, layers=list(config.layers), epochs=config.epochs,
        variant=config.variant, simulator=simulator,
        float_bp_train_accuracy=bp.train_accuracy, float_bp_test_accuracy=bp.test_accuracy,
        float_ghost_train_accuracy=ghost.train_accuracy,
        float_ghost_test_accuracy=ghost.test_accuracy,
        fixed_train_accuracy=fixed.training.train_accuracy,
        fixed_test_accuracy=fixed.training.test_accuracy,
        seconds={"float_bp": bp.seconds, "float_ghost": ghost.seconds,
                 "fixed": fixed.training.seconds, "rtl": rtl.rtl_seconds,
                 "total": time.perf_counter() - start},
        history={"bp": bp.history, "ghost": ghost.history, "fixed": fixed.training.history},
        confusion=confusion(data.y_test, fixed.test_predictions, config.n_classes),
        diagnostics=fixed.diagnostics, config=config.to_dict())


def confusion(labels, predictions, n_classes: int) -> list[list[int]]:
    """Counts[true][predicted]."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (np.asarray(labels), np.asarray(predictions)), 1)
    return out.tolist()
