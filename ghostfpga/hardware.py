"""The hardware commands: write the Verilog, and train and test in RTL simulation."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from ghostfpga.config import Config
from ghostfpga.fit import check_memory_fit
from ghostfpga.golden.datasets import Dataset
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.golden.training import sample_order

__all__ = ["write_verilog", "simulate", "run_on_device"]


def write_verilog(config: Config, out: str | Path) -> tuple[Path, Path]:
    """Write the core's Verilog to ``out`` and its config beside it (same name, .toml)."""
    from ghostfpga.hdl import to_verilog

    check_memory_fit(config)
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

    check_memory_fit(config)
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


def run_on_device(config: Config, data: Dataset, port: str, samples: int | None,
                  epochs: int, timeout: float = 1.0, simulator: str = "verilator",
                  test_samples: int | None = None, divisor: int | None = None) -> dict:
    """Train through the host driver on ``port`` (a serial URL, ``fake``, or ``sim`` for the
    system top in co-simulation), then check every prediction and every read-back weight
    against the fixed-point golden model trained on the same samples."""
    from ghostfpga.boards.session import drive

    n = len(data.y_train) if samples is None else min(samples, len(data.y_train))
    if test_samples is not None:
        data = dataclasses.replace(data, x_test=data.x_test[:test_samples],
                                   y_test=data.y_test[:test_samples])
    x_train, y_train, x_test = data.x_train[:n], data.y_train[:n], data.x_test
    start = time.perf_counter()
    if port == "sim":
        from ghostfpga.sim.board_sim import run_on_board

        check_memory_fit(config, link=True)
        run = run_on_board(config, "ghostfpga.boards.session:drive_job",
                           {"config": config.to_toml(), "x_train": x_train.tolist(),
                            "y_train": y_train.tolist(), "x_test": x_test.tolist(),
                            "epochs": epochs, "timeout": min(timeout, 0.05)},
                           simulator=simulator, divisor=divisor)
    else:
        from ghostfpga.boards.device import Device
        from ghostfpga.boards.fake import FakeDevice

        target = FakeDevice(config, timeout) if port == "fake" else port
        with Device(target, config, timeout=timeout) as device:
            run = drive(device, x_train, y_train, x_test, epochs)
    seconds = time.perf_counter() - start
    return _check_run(config, data, n, epochs, run) | {"port": port, "seconds": seconds}


def _check_run(config: Config, data: Dataset, n: int, epochs: int, run: dict) -> dict:
    from ghostfpga.hdl import Plan

    model = FixedModel(config)
    mismatches, first = 0, None
    x_q = model.quantize_input(data.x_train[:n])
    for epoch in range(epochs):
        etas = model.etas(config.lr_at(epoch))
        got = run["train_predictions"][epoch]
        for i in sample_order(config, n, epoch):
            want = model.step(x_q[i], int(data.y_train[i]), True, etas)[0]
            if got[i] != want:
                mismatches += 1
                first = first or f"epoch {epoch + 1}, sample {i}: device {got[i]}, golden {want}"
    golden_test = model.predict(data.x_test)
    test = np.array(run["test_predictions"])
    wrong = int(np.sum(test != golden_test))
    if wrong:
        mismatches += wrong
        first = first or f"{wrong} test predictions differ from the golden model's"
    images = Plan(config).lane_images(model.params)
    for lane, (got, want) in enumerate(zip(run["images"], images)):
        for word, (g, w) in enumerate(zip(got, want)):
            if g != w:
                mismatches += 1
                first = first or f"lane {lane} word {word}: device {g}, golden {w}"
    train_pred = np.array(run["train_predictions"][-1])
    link = config.link
    sample_bytes = 2 * config.layers[0] + 1
    return {
        "samples": n, "epochs": epochs, "mismatches": mismatches, "first_mismatch": first,
        "train_accuracy": float(np.mean(train_pred == data.y_train[:n])),
        "test_accuracy": float(np.mean(test == data.y_test)),
        "golden_test_accuracy": float(np.mean(golden_test == data.y_test)),
        "samples_per_second": n * epochs / run["train_seconds"],
        "link_payload_fraction": n * epochs * sample_bytes / run["train_seconds"]
        / (link.baud / 10),
        "rejected_frames": run["counters"]["rejected_frames"],
        "counters": run["counters"], "resent_frames": run["resent_frames"],
        "device_seconds": run["seconds"], "config": config.to_dict(),
    }
