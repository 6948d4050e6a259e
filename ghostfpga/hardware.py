"""The hardware commands: write the Verilog, and train and test in RTL simulation."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ghostfpga.config import Config, ConfigError
from ghostfpga.fit import check_memory_fit
from ghostfpga.golden.datasets import Dataset
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.golden.training import sample_order, stored_epochs, strided_order, warmup_order

__all__ = ["write_verilog", "simulate", "run_on_device", "verify_build", "check_on_board",
           "SimReport", "RunReport"]


class _Record:
    """A result record: typed fields, and the JSON object of the same keys (``to_dict``)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class SimReport(_Record):
    """``ghostfpga sim``'s result: the core in co-simulation against the golden model."""
    simulator: str
    netlist: bool                        # the synthesized core, with the device's cell models
    dataset: str
    layers: list[int]
    lanes: int
    samples: int                         # training samples (every epoch's)
    epochs: int
    warmup_samples: int
    test_samples: int
    mismatches: int                      # outputs, predictions and weights that differ
    first_mismatch: str | None
    cycles: int
    cycles_per_sample: float             # per training sample, measured
    cycles_per_inference: float
    ideal_cycles_per_sample: int         # MACs / lanes
    ideal_cycles_per_inference: int
    mac_utilization: float
    train_accuracy: float
    test_accuracy: float
    golden_test_accuracy: float
    seconds: float
    config: dict


@dataclass
class RunReport(_Record):
    """``ghostfpga run``'s result: a session on a device (``boards.session.Session``)
    checked against the golden model trained on the same samples in the same order."""
    port: str
    samples: int
    epochs: int
    on_board: bool
    resumed: bool
    warmup_samples: int
    mismatches: int
    first_mismatch: str | None
    train_accuracy: float
    epoch_train_accuracy: list[float]
    test_accuracy: float
    golden_test_accuracy: float
    samples_per_second: float | None     # on board: by the core's cycle counter
    host_samples_per_second: float | None
    device_cycles: int | None
    upload_seconds: float | None
    link_payload_fraction: float | None  # streamed: sample bytes / the link's byte rate
    rejected_frames: int
    counters: dict[str, int]
    resent_frames: int
    device_seconds: float
    seconds: float
    config: dict
    board: str | None = None             # run with --board: its name and clock
    clock_mhz: float | None = None


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
             test_samples: int | None = None, epochs: int = 1,
             netlist: bool = False) -> SimReport:
    """Train the RTL for ``epochs`` epochs on the first ``samples`` training samples of each
    epoch's order, at that epoch's decayed rates (normalized learned ghosts: after their
    warm-up at zero rates), then infer the test set, all checked against the fixed-point golden
    model bit for bit. With ``netlist`` the core is the one Yosys synthesizes for the config's
    device, with its cell models (sim/netlist.py)."""
    from ghostfpga.hdl import Plan
    from ghostfpga.sim.core.cocotb_sim import cosimulate
    from ghostfpga.sim.netlist import core_netlist
    from ghostfpga.sim.core.protocol import Sample

    check_memory_fit(config)
    design = core_netlist(config, simulator) if netlist else None
    model = FixedModel(config)

    def stream(x, y, train):
        return [Sample(model.quantize_input(x[i]), int(y[i]), train) for i in range(len(y))]

    warm_idx = warmup_order(config, len(data.y_train))
    warm = stream(data.x_train[warm_idx], data.y_train[warm_idx], True)
    train, etas = [], [model.etas((0.0,) * config.n_layers)] * len(warm)
    for epoch in range(epochs):
        order = sample_order(config, len(data.y_train), epoch)[:samples]
        train += stream(data.x_train[order], data.y_train[order], True)
        etas += [model.etas(config.lr_at(epoch))] * len(order)
    n_test = len(data.y_test) if test_samples is None else min(test_samples, len(data.y_test))
    test = stream(data.x_test, data.y_test, False)[:n_test]
    etas += [etas[-1]] * n_test    # inference reads no rate: keep the last ones
    start = time.perf_counter()
    report = cosimulate(config, simulator, warm + train + test, etas, model=model,
                        verilog=design)
    seconds = time.perf_counter() - start
    labels = np.array(report.labels[len(warm):])
    train_labels = np.array([s.label for s in train])
    test_labels = np.array([s.label for s in test])
    golden_test = model.predict(data.x_test[:n_test])
    plan = Plan(config)
    ideal = plan.ideal_cycles()
    train_cycles = report.mean_cycles(warm + train + test, True)
    infer_cycles = report.mean_cycles(warm + train + test, False)
    return SimReport(
        simulator=simulator, netlist=netlist, dataset=data.name, layers=list(config.layers),
        lanes=config.hardware.lanes, samples=len(train), epochs=epochs,
        warmup_samples=len(warm), test_samples=n_test, mismatches=report.mismatches,
        first_mismatch=report.first_mismatch, cycles=report.cycles,
        cycles_per_sample=train_cycles, cycles_per_inference=infer_cycles,
        ideal_cycles_per_sample=ideal["train"], ideal_cycles_per_inference=ideal["infer"],
        mac_utilization=ideal["train"] / train_cycles,
        train_accuracy=float(np.mean(labels[:len(train)] == train_labels)),
        test_accuracy=float(np.mean(labels[len(train):] == test_labels)),
        golden_test_accuracy=float(np.mean(golden_test == test_labels)),
        seconds=seconds, config=config.to_dict())


def run_on_device(config: Config, data: Dataset, port: str, samples: int | None,
                  epochs: int, timeout: float = 1.0, simulator: str = "verilator",
                  test_samples: int | None = None, divisor: int | None = None,
                  on_board: bool = False, resume: bool = False, netlist: bool = False,
                  design: tuple[str, int] | None = None) -> RunReport:
    """Train through the host driver on ``port`` (a serial URL, ``fake``, or ``sim`` for the
    system top in co-simulation), streamed over the link or (``on_board``) from the on-board
    training set, then check every prediction and every read-back weight against the
    fixed-point golden model trained on the same samples in the same order. ``netlist`` (with
    ``sim``): the system top as Yosys synthesizes it, with the device's cell models; a read of
    a block-RAM row in the cycle it is written counts as a mismatch. ``design`` (with
    ``sim``): (Verilog, cycles to wait after reset) of another design with the system top's
    ports, a board build's netlist (``verify_build``)."""
    from ghostfpga.boards.host.session import Session, drive

    n = len(data.y_train) if samples is None else min(samples, len(data.y_train))
    if test_samples is not None:
        data = dataclasses.replace(data, x_test=data.x_test[:test_samples],
                                   y_test=data.y_test[:test_samples])
    check_on_board(config, n, on_board)
    x_train, y_train, x_test = data.x_train[:n], data.y_train[:n], data.x_test
    if netlist and port != "sim":
        raise ValueError(f"netlist: only the simulated board (port 'sim') has one, not {port!r}")
    start = time.perf_counter()
    if port == "sim":
        from ghostfpga.sim.system.cocotb_sim import run_on_board

        check_memory_fit(config, link=True)
        run = Session.from_dict(run_on_board(config, "ghostfpga.boards.host.session:drive_job",
                           {"config": config.to_toml(), "x_train": x_train.tolist(),
                            "y_train": y_train.tolist(), "x_test": x_test.tolist(),
                            "epochs": epochs, "timeout": min(timeout, 0.05),
                            "on_board": on_board, "resume": resume},
                           simulator=simulator, divisor=divisor, netlist=netlist,
                           **({"design": design[0], "start_cycles": design[1]}
                              if design else {})))
    else:
        from ghostfpga.boards.host.device import Device
        from ghostfpga.boards.host.fake import FakeDevice

        target = FakeDevice(config, timeout) if port == "fake" else port
        with Device(target, config, timeout=timeout) as device:
            run = drive(device, x_train, y_train, x_test, epochs, on_board=on_board,
                        resume=resume)
    seconds = time.perf_counter() - start
    return _check_run(config, data, n, epochs, run, port, seconds)


def check_on_board(config: Config, samples: int, on_board: bool) -> None:
    """Refuse an on-board training its set cannot hold (ConfigError, naming the field)."""
    if on_board and samples > config.link.store_samples:
        raise ConfigError("link.store_samples", config.link.store_samples,
                          f"must hold the {samples} training samples of --on-board (lower "
                          "--samples, or raise it and build for it)")


def _golden_training(config: Config, model: FixedModel, x_q, y, epochs: int, on_board: bool,
                     warmup: int):
    """Train the golden model as the device did: ``warmup`` samples of the ghosts' warm-up
    (none when the session resumed), then per epoch, the
    orders of the streamed (``sample_order``) or the on-board (``stored_epochs``) training,
    each epoch's rates; yields each epoch's order and its predictions (made before each
    update), in that order."""
    n = len(y)
    zero = model.etas((0.0,) * config.n_layers)
    for i in warmup_order(config, n)[:warmup]:
        model.step(x_q[i], int(y[i]), True, zero)
    stored = stored_epochs(config, n, epochs) if on_board else None
    for epoch in range(epochs):
        etas = model.etas(config.lr_at(epoch))
        order = strided_order(n, *stored[epoch]) if on_board else sample_order(config, n, epoch)
        yield order, np.array([model.step(x_q[i], int(y[i]), True, etas)[0] for i in order])


def _check_run(config: Config, data: Dataset, n: int, epochs: int, run, port: str,
               seconds: float) -> RunReport:
    from ghostfpga.boards.host.fake import params_from_images
    from ghostfpga.boards.protocol import LinkLayout
    from ghostfpga.hdl import Plan

    plan = Plan(config)
    # where the device started: the config's initial weights, or (resumed) what it held
    model = FixedModel(config, params_from_images(plan, run.start_images)
                       if run.resumed else None)
    on_board = run.on_board
    mismatches, first = 0, None
    y = data.y_train[:n]
    x_q = model.quantize_input(data.x_train[:n])
    epoch_correct = []
    for epoch, (order, want) in enumerate(_golden_training(config, model, x_q, y, epochs,
                                                           on_board, run.warmup_samples)):
        epoch_correct.append(int(np.sum(want == y[order])))
        if on_board:   # the device reports each epoch's count of correct predictions
            got = run.epoch_correct[epoch]
            if got != epoch_correct[-1]:
                mismatches += 1
                first = first or (f"epoch {epoch + 1}: device {got} correct, golden "
                                  f"{epoch_correct[-1]}")
            continue
        got = np.array(run.train_predictions[epoch])[order]
        for i, g, w in zip(order, got, want):
            if g != w:
                mismatches += 1
                first = first or f"epoch {epoch + 1}, sample {i}: device {g}, golden {w}"
    for line in run.collisions:   # the strict block-RAM model (sim/netlist.py)
        mismatches += 1
        first = first or f"block-RAM read-during-write collision: {line}"
    golden_test = model.predict(data.x_test)
    test = np.array(run.test_predictions)
    wrong = int(np.sum(test != golden_test))
    if wrong:
        mismatches += wrong
        first = first or f"{wrong} test predictions differ from the golden model's"
    images = plan.lane_images(model.params)
    for lane, (got, want) in enumerate(zip(run.images, images)):
        for word, (g, w) in enumerate(zip(got, want)):
            if g != w:
                mismatches += 1
                first = first or f"lane {lane} word {word}: device {g}, golden {w}"
    trained = n * epochs
    host_rate = trained / run.train_seconds if run.train_seconds > 0 else None
    if on_board:   # the core's busy cycles (None: the fake device has no clock)
        cycles = run.device_cycles
        rate = trained * run.clock_hz / cycles if cycles else None
    else:
        rate = host_rate
    sample_bytes = LinkLayout(config).sample_bytes
    return RunReport(
        port=port, samples=n, epochs=epochs, on_board=on_board, resumed=run.resumed,
        warmup_samples=run.warmup_samples, mismatches=mismatches, first_mismatch=first,
        train_accuracy=(run.epoch_correct[-1] if on_board else
                        int(np.sum(np.array(run.train_predictions[-1]) == y))) / n,
        epoch_train_accuracy=[c / n for c in epoch_correct],
        test_accuracy=float(np.mean(test == data.y_test)),
        golden_test_accuracy=float(np.mean(golden_test == data.y_test)),
        samples_per_second=rate, host_samples_per_second=host_rate,
        device_cycles=run.device_cycles, upload_seconds=run.upload_seconds,
        link_payload_fraction=None if on_board else
        trained * sample_bytes / run.train_seconds / (config.link.baud / 10),
        rejected_frames=run.counters["rejected_frames"], counters=run.counters,
        resent_frames=run.resent_frames, device_seconds=run.seconds, seconds=seconds,
        config=config.to_dict())


def verify_build(config: Config, board, build_dir, samples: int = 16,
                 simulator: str | None = None) -> RunReport:
    """``ghostfpga build --verify``: the netlist of the build in ``build_dir`` (its own
    ``top.json``, with a stand-in for the PLL: sim/system/board_netlist.py) trains ``samples``
    seeded random samples under the real host driver, from its on-board set when it has one
    (else streamed), and infers them; every prediction and weight read back is checked
    against the golden model (``run_on_device``'s report, ``mismatches``), on ``simulator``
    (default: the family's, ``board_netlist.verify_simulator``)."""
    from ghostfpga.golden.datasets import Dataset
    from ghostfpga.sim.system.board_netlist import board_design, reset_cycles, verify_simulator

    simulator = simulator or verify_simulator(board.fpga.family)

    rng = np.random.default_rng(0)
    n0, classes = config.layers[0], config.layers[-1]
    x = rng.uniform(0.0, 1.0, (samples, n0))
    y = rng.integers(0, classes, samples)
    data = Dataset("random (build --verify)", x, y, x, y, classes)
    design = board_design(config, board, build_dir, simulator)
    return run_on_device(config, data, "sim", samples, 1, timeout=0.01, simulator=simulator,
                         on_board=config.link.store_samples >= samples,
                         design=(design, reset_cycles(config)))
