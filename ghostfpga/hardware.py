"""The hardware commands: write the Verilog, and train and test in RTL simulation."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ghostfpga.config import Config
from ghostfpga.golden.datasets import Dataset
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.golden.training import sample_order

__all__ = ["write_verilog", "simulate"]


def write_verilog(config: Config, out: str | Path) -> tuple[Path, Path]:
    """Write the core's Verilog to ``out`` and its config beside it (same name, .toml)."""
    from ghostfpga.hdl import to_verilog

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = to_verilog(config)
    out.write_text(text)
    toml = out.with_suffix(".toml")
    config.save(toml)
    return out, toml


def simulate(config: Config, data: Dataset, simulator: str, samples: int,
             test_samples: int | None = None) -> dict:
    """Train the RTL on ``samples`` training samples (the first epoch's order), then infer the
    test set, all checked against the fixed-point golden model bit for bit."""
    from ghostfpga.hdl import Plan
    from ghostfpga.sim.cosim import cosimulate
    from ghostfpga.sim.protocol import Sample

    model = FixedModel(config)
    order = sample_order(config, len(data.y_train), 0)[:samples]
    train = [Sample(model.quantize_input(data.x_train[i]), int(data.y_train[i]), True)
             for i in order]
    n_test = len(data.y_test) if test_samples is None else min(test_samples, len(data.y_test))
    test = [Sample(model.quantize_input(data.x_test[i]), int(data.y_test[i]), False)
            for i in range(n_test)]
    eta = model.etas(config.lr_at(0))
    start = time.perf_counter()
    report = cosimulate(config, simulator, train + test, [eta] * (len(train) + len(test)),
                        model=model)
    seconds = time.perf_counter() - start
    labels = np.array(report.labels)
    train_labels = np.array([s.label for s in train])
    test_labels = np.array([s.label for s in test])
    golden_test = model.predict(data.x_test[:n_test])
    plan = Plan(config)
    ideal = plan.ideal_cycles()
    train_cycles = report.mean_cycles(train + test, True)
    infer_cycles = report.mean_cycles(train + test, False)
    return {
        "simulator": simulator,
        "dataset": data.name,
        "layers": list(config.layers),
        "lanes": config.hardware.lanes,
        "samples": len(train),
        "test_samples": n_test,
        "mismatches": report.mismatches,
        "first_mismatch": report.first_mismatch,
        "cycles": report.cycles,
        "cycles_per_sample": train_cycles,
        "cycles_per_inference": infer_cycles,
        "ideal_cycles_per_sample": ideal["train"],
        "ideal_cycles_per_inference": ideal["infer"],
        "mac_utilization": ideal["train"] / train_cycles,
        "train_accuracy": float(np.mean(labels[:len(train)] == train_labels)),
        "test_accuracy": float(np.mean(labels[len(train):] == test_labels)),
        "golden_test_accuracy": float(np.mean(golden_test == test_labels)),
        "seconds": seconds,
        "config": config.to_dict(),
    }
