"""``ghostfpga fuzz``: configs drawn at random over the space the generator accepts, each
co-simulated against the fixed-point golden model bit for bit.

A campaign is fixed by its seed: config ``k`` is drawn from ``numpy.random.default_rng([seed,
k])``, so any one of them can be drawn again alone. Each config trains on a data set of random
inputs made for it (the input width of its first layer, labels for its last), through
``ghostfpga.hardware.simulate``, exactly what ``ghostfpga sim`` runs: the learned ghosts'
warm-up at zero rates, two epochs at their decayed rates (so the rates change between samples),
inference of a test set, and every weight read back. A config that fails is written as a TOML
file with its data set (``.npz``) beside it and the ``ghostfpga sim`` command that reproduces
it.

Every config is a task: on this process (``workers = 1``), on a Dask ``LocalCluster`` of
``workers`` processes, or on the running scheduler ``scheduler`` (as ``ghostfpga sweep``).
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ghostfpga.config import Config, ConfigError, Hardware, Numerics
from ghostfpga.devices import DEVICES

__all__ = ["draw_config", "random_dataset", "fuzz_config", "run_fuzz", "reproduce_command",
           "FuzzResult", "MAX_LANES", "EPOCHS"]

MAX_LANES = 32
"""Lanes drawn at most (the ECP5's 156 build for minutes in Verilator); ``--max-lanes``."""
EPOCHS = 2
"""Epochs each config trains: the rates change between them (``lr_decay`` is drawn)."""
TRAIN, TEST = 60, 30
"""Training samples in each config's data set (one epoch) and test samples inferred."""


@dataclass
class FuzzResult:
    """One config of a campaign: what was drawn and how its co-simulation went."""
    index: int                       # config k of the campaign: drawn from [seed, k]
    config: dict
    mismatches: int                  # a crash of the generator or simulator counts as one
    first_mismatch: str | None
    samples: int                     # streamed: warm-up, training and inference
    refused_draws: int               # draws the config, generator or memory refused first
    seconds: float
    reproduce: str | None = None     # the command that reruns a failing config

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _log2_uniform(rng, lo: float, hi: float) -> float:
    return float(2.0 ** rng.uniform(np.log2(lo), np.log2(hi)))


def _numerics(rng) -> Numerics:
    weight_bits = int(rng.integers(4, 17))
    error_frac = int(rng.integers(6, 15))
    return Numerics(
        rate_frac=int(rng.integers(4, 13)),
        error_frac=error_frac,
        potential_bits=int(rng.integers(error_frac + 2, min(32, error_frac + 6) + 1)),
        weight_bits=weight_bits,
        weight_frac=int(rng.integers(max(0, weight_bits - 6), weight_bits)),
        eta_bits=int(rng.integers(6, 17)),
        eta_frac=int(rng.integers(2, 11)),
        accumulator_bits=0 if rng.random() < 0.8 else int(rng.integers(24, 49)),
        rounding=str(rng.choice(["stochastic", "nearest"], p=[0.7, 0.3])),
        lfsr_seed=int(rng.integers(1, 65536)))


def _draw(rng, max_lanes: int) -> Config:
    depth = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    layers = ([int(rng.integers(1, 13))] + [int(rng.integers(1, 25)) for _ in range(depth)]
              + [int(rng.integers(2, 7))])
    device = str(rng.choice(list(DEVICES), p=[0.7, 0.3]))
    top = min(DEVICES[device].dsps, max_lanes)
    lanes = int(rng.integers(1, min(8, top) + 1)) if rng.random() < 0.8 \
        else int(rng.integers(1, top + 1))
    variant = str(rng.choice(["tied", "learned", "replay"]))
    schedule = str(rng.choice(["sweep", "dynamics"], p=[0.65, 0.35]))
    if schedule == "dynamics" and (variant == "replay" or variant == "learned") \
            and rng.random() < 0.7:   # the one setting these learn in (docs/model.md)
        layers, alpha, steps = layers[:2] + layers[-1:], 1.0, 3
    else:
        alpha = float(rng.choice([1.0, 0.5, 0.25, 0.125]))
        steps = int(rng.integers(1, 7))
    n_w = len(layers) - 1
    return Config(
        layers=tuple(layers), variant=variant,
        feedback=str(rng.choice(["transpose", "random"])), schedule=schedule,
        beta=float(2.0 ** -int(rng.integers(3, 9))) if rng.random() < 0.7
        else _log2_uniform(rng, 2**-8, 2**-2),
        alpha=alpha, steps=steps,
        settle_iterations=int(rng.integers(1, 7)),
        lr=tuple(_log2_uniform(rng, 2**-7, 2**-2) for _ in range(n_w)),
        lr_decay=tuple(float(rng.uniform(0.5, 1.0)) for _ in range(n_w)),
        ghost_rule=str(rng.choice(["normalized", "constant"], p=[0.75, 0.25])),
        ghost_warmup=int(rng.integers(0, 41)),
        ghost_lr=_log2_uniform(rng, 2**-7, 2**-2),
        target_margin=float(rng.uniform(0.0, 0.3)),
        bias_init=float(rng.uniform(-0.5, 0.5)),
        seed=int(rng.integers(0, 2**31)),
        numerics=_numerics(rng),
        hardware=Hardware(device=device, lanes=lanes, split_rows=bool(rng.random() < 0.7)))


def draw_config(seed: int, k: int, max_lanes: int = MAX_LANES) -> tuple[Config, int]:
    """Config ``k`` of the campaign ``seed``, and how many draws the generator refused before
    it (the config's own checks, the generator's, the device's memory)."""
    from ghostfpga.fit import check_memory_fit
    from ghostfpga.hdl import Plan

    rng = np.random.default_rng([seed, k])
    for refused in range(1000):
        try:
            config = _draw(rng, max_lanes)
            Plan(config)
            check_memory_fit(config)
            return config, refused
        except ConfigError:
            continue
    raise RuntimeError(f"no valid config in 1000 draws (seed {seed}, config {k})")


def random_dataset(config: Config, seed: int):
    """Random inputs in [0, 1] for the config's first layer and labels for its last:
    ``TRAIN`` training and ``TEST`` test samples."""
    from ghostfpga.golden.datasets import Dataset

    rng = np.random.default_rng([seed, 1])
    n_in, n_out = config.layers[0], config.layers[-1]
    return Dataset("random", rng.random((TRAIN, n_in)), rng.integers(0, n_out, TRAIN),
                   rng.random((TEST, n_in)), rng.integers(0, n_out, TEST), n_out)


def fuzz_config(seed: int, k: int, simulator: str, samples: int,
                max_lanes: int = MAX_LANES) -> FuzzResult:
    """Draw config ``k`` of campaign ``seed`` and co-simulate it (a task of the campaign)."""
    from .hardware import simulate

    start = time.perf_counter()
    config, refused = draw_config(seed, k, max_lanes)
    data = random_dataset(config, config.seed)
    try:
        run = simulate(config, data, simulator, min(samples, TRAIN), TEST, epochs=EPOCHS)
        mismatches, first = run.mismatches, run.first_mismatch
        streamed = run.warmup_samples + run.samples + run.test_samples
    except Exception as exc:   # a crash of the generator or simulator is a finding too
        mismatches, first, streamed = 1, f"{type(exc).__name__}: {exc}", 0
    return FuzzResult(index=k, config=config.to_dict(), mismatches=mismatches,
                      first_mismatch=first, samples=streamed, refused_draws=refused,
                      seconds=time.perf_counter() - start)


def reproduce_command(toml: Path, npz: Path, simulator: str, samples: int) -> str:
    return shlex.join(["ghostfpga", "sim", "--simulator", simulator, "--config", str(toml),
                       "--dataset", str(npz), "--samples", str(min(samples, TRAIN)),
                       "--epochs", str(EPOCHS), "--test-samples", str(TEST)])


def keep_failure(result: FuzzResult, seed: int, simulator: str, samples: int, folder: Path) -> str:
    """Write a failing config and its data set into ``folder``; returns the command that
    reproduces the failure."""
    config = Config.from_dict(result.config)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"fuzz-{seed}-{result.index}"
    toml, npz = stem.with_suffix(".toml"), stem.with_suffix(".npz")
    config.save(toml)
    data = random_dataset(config, config.seed)
    np.savez(npz, X=data.x_train, y=data.y_train, X_test=data.x_test, y_test=data.y_test)
    return reproduce_command(toml, npz, simulator, samples)


def run_fuzz(seed: int, configs: int, simulator: str, samples: int = TRAIN,
             workers: int = 1, scheduler: str | None = None, max_lanes: int = MAX_LANES,
             progress: bool = True, on_result=None, first: int = 0) -> list[FuzzResult]:
    """Co-simulate configs ``first`` .. ``first + configs - 1`` of campaign ``seed`` (config k
    is drawn from ``[seed, k]`` alone, so a stopped campaign goes on from where it stopped);
    results in index order. ``on_result(result)`` is called as each finishes."""
    indices = range(first, first + configs)
    from tqdm import tqdm

    results = []
    with tqdm(total=configs, desc="fuzz", unit="config", disable=None if progress else True,
              leave=False) as bar:
        def finished(result):
            results.append(result)
            bar.update(1)
            failing = sum(r.mismatches > 0 for r in results)
            bar.set_postfix(mismatching=failing)
            if progress and bar.disable:   # no terminal (a log, CI): a line a config
                print(f"fuzz: {len(results)}/{configs} configs, {failing} mismatching "
                      f"(config {result.index}: {result.seconds:.0f} s)",
                      file=sys.stderr, flush=True)
            if on_result is not None:
                on_result(result)

        if workers == 1 and scheduler is None:
            for k in indices:
                finished(fuzz_config(seed, k, simulator, samples, max_lanes))
        else:
            from distributed import as_completed

            from .sweep import _client, close_cluster

            client, cluster = _client(scheduler, workers)
            try:
                futures = [client.submit(fuzz_config, seed, k, simulator, samples, max_lanes,
                                         key=f"fuzz-{seed}-{k}", pure=False, retries=1)
                           for k in indices]
                for future in as_completed(futures):
                    finished(future.result())
            finally:
                close_cluster(client, cluster)
    return sorted(results, key=lambda r: r.index)


def describe(config: Config) -> str:
    """One line: what a config is."""
    n = config.numerics
    ghost = config.variant + (f"/{config.ghost_rule}" if config.variant == "learned" else "")
    sched = config.schedule + (f" {config.steps}x{config.alpha:g}"
                               if config.schedule == "dynamics" else "")
    return (f"{'-'.join(map(str, config.layers))} {ghost} {config.feedback} {sched} "
            f"P{config.hardware.lanes}{'' if config.hardware.split_rows else ' rows'} "
            f"{config.hardware.device} w{n.weight_bits}.{n.weight_frac} "
            f"p{n.potential_bits}.{n.error_frac} r{n.rate_frac} {n.rounding}")

