"""One training session through the host driver, the same for a real board, the fake device
and the simulated board (run inside the co-simulation by sim/system/cocotb_sim.py)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ghostfpga.config import Config
from ghostfpga.golden.fixed import FixedModel

from .device import Device

__all__ = ["Session", "drive", "drive_job"]


@dataclass
class Session:
    """What a device did in one session (``drive``), as it reported it; the golden model's
    check of it is ``ghostfpga.hardware.RunReport``. Times are the device's seconds."""
    on_board: bool                       # trained from the on-board set (else streamed)
    resumed: bool                        # started from the weights the device held
    warmup_samples: int                  # of the ghosts' warm-up (streamed, at zero rates)
    test_predictions: list[int]
    images: list[list[int]]              # every lane's words, read back at the end
    counters: dict[str, int]             # Device.counters()
    train_seconds: float
    seconds: float
    resent_frames: int
    clock_hz: int
    start_images: list[list[int]] | None = None        # resumed: the weights it held
    train_predictions: list[list[int]] | None = None   # streamed: each epoch's
    epoch_correct: list[int] | None = None             # on board: each epoch's
    upload_seconds: float | None = None                # on board
    device_cycles: int | None = None                   # on board: the core's busy cycles
    collisions: list[str] = field(default_factory=list)   # the simulated netlist's
    sim_seconds: float | None = None                   # the simulated board's wall time

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Session":
        return cls(**d)


def drive(device: Device, x_train, y_train, x_test, epochs: int, progress: bool = True,
          clock=time.perf_counter, on_board: bool = False, resume: bool = False) -> Session:
    """Train ``epochs`` over (x_train, y_train), streamed over the link or (``on_board``)
    uploaded once and trained from the on-board set; predict x_test, read back every weight
    and the counters. ``clock()`` gives seconds of the device's time (simulated time on the
    simulated board).

    The session starts from a known state: the device is reset (its LFSR restarts from the
    seed) and loaded with the config's initial weights, then the ghosts warm up (streamed).
    With ``resume`` it keeps the weights it holds, which are read back first
    (``start_images``, where the golden model starts), and skips the warm-up."""
    x, y = np.asarray(x_train), np.asarray(y_train)
    device.reset()
    run = {}
    if resume:
        run["start_images"] = device.read_images()
    else:
        device.load(FixedModel(device.config).params)
    start = clock()   # the session's setup (reset, load or read-back) is not timed
    warmup = 0 if resume else device.warm_up(x, y, progress)
    if on_board:   # timed from the upload's end, and by the core's busy-cycle counter
        n = device.upload(x, y, progress)
        run["upload_seconds"] = clock() - start
        before = device.counters()["cycles"]
        run["epoch_correct"] = device.train_on_board(n, epochs, progress)
        run["device_cycles"] = (device.counters()["cycles"] - before) % (1 << 32)
        train_seconds = clock() - start - run["upload_seconds"]
    else:
        history = device.train(x, y, epochs, progress=progress)
        run["train_predictions"] = [h.tolist() for h in history]
        train_seconds = clock() - start
    test = device.predict(np.asarray(x_test))
    return Session(on_board=on_board, resumed=resume, warmup_samples=warmup,
                   test_predictions=test.tolist(), images=device.read_images(),
                   counters=device.counters(), train_seconds=train_seconds,
                   seconds=clock() - start, resent_frames=device.resent,
                   clock_hz=device.identity.clock_hz, **run)


def drive_job(port, config: str, x_train, y_train, x_test, epochs: int,
              timeout: float, on_board: bool = False, resume: bool = False) -> dict:
    """``drive`` on a simulated board's port (sim/system/cocotb_tb.py): config as TOML text, times
    in simulated seconds."""
    import tomllib

    cfg = Config.from_dict(tomllib.loads(config))
    clock_hz = cfg.link.clock_mhz * 1e6
    device = Device(port, cfg, timeout=timeout)
    return drive(device, x_train, y_train, x_test, epochs, progress=False,
                 clock=lambda: port.cycles / clock_hz, on_board=on_board,
                 resume=resume).to_dict()
