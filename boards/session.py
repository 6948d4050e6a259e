"""One training session through the host driver, the same for a real board, the fake device
and the simulated board (run inside the co-simulation by sim/board_sim.py)."""

from __future__ import annotations

import time

import numpy as np

from ghostfpga.config import Config

from .device import Device

__all__ = ["drive", "drive_job"]


def drive(device: Device, x_train, y_train, x_test, epochs: int, progress: bool = True,
          clock=time.perf_counter) -> dict:
    """Train ``epochs`` over (x_train, y_train), predict x_test, read back every weight and
    the counters. ``clock()`` gives seconds of the device's time (simulated time on the
    simulated board)."""
    start = clock()
    history = device.train(np.asarray(x_train), np.asarray(y_train), epochs, progress=progress)
    train_seconds = clock() - start
    test = device.predict(np.asarray(x_test))
    images = device.read_images()
    counters = device.counters()
    return {"train_predictions": [h.tolist() for h in history],
            "test_predictions": test.tolist(), "images": images, "counters": counters,
            "train_seconds": train_seconds, "seconds": clock() - start,
            "resent_frames": device.resent}


def drive_job(port, config: str, x_train, y_train, x_test, epochs: int,
              timeout: float) -> dict:
    """``drive`` on a simulated board's port (sim/tb_system.py): config as TOML text, times
    in simulated seconds."""
    import tomllib

    cfg = Config.from_dict(tomllib.loads(config))
    clock_hz = cfg.link.clock_mhz * 1e6
    device = Device(port, cfg, timeout=timeout)
    return drive(device, x_train, y_train, x_test, epochs, progress=False,
                 clock=lambda: port.cycles / clock_hz)
