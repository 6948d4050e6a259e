"""``ghostfpga demo`` (what ``make demo`` runs): the whole flow on the iCEBreaker's Yin-Yang
config. ``ghostfpga compare`` (float backprop and ghost, the fixed model for the full epochs,
the RTL bit for bit on a training slice and on the test set from the trained weights), then
the full system (UART, host link, core, on-board training set) in co-simulation through the
host driver, then the iCEBreaker bitstream, and the report with every result.
"""

from __future__ import annotations

import time
from pathlib import Path

from ghostfpga.config import Config
from ghostfpga.golden.datasets import Dataset

__all__ = ["run_demo"]


def _system(config: Config, data: Dataset, samples: int, say):
    """A short training of the simulated board through the real driver, from its on-board
    set when the config has one, checked against the golden model."""
    from ghostfpga.hardware import run_on_device

    on_board = config.link.store_samples >= samples
    say(f"full system in co-simulation: {samples} samples through the UART "
        f"{'into the on-board set, trained there' if on_board else 'streamed'}, "
        "checked against the golden model ...")
    return run_on_device(config, data, "sim", samples, 1, timeout=0.01, test_samples=samples,
                         on_board=on_board)


def _bitstream(config: Config, board_name: str, build_dir: Path, say):
    from ghostfpga.boards.bitstream.build import build
    from ghostfpga.boards.bitstream.catalog import BOARDS

    board = BOARDS[board_name]
    say(f"the {board.title} bitstream (Yosys, nextpnr; a few minutes) ...")
    report = build(config, board, build_dir, seed=1, progress=lambda step: say(f"  {step} ..."))
    return report


def run_demo(config: Config, data: Dataset, board: str, rtl_samples: int,
             system_samples: int, bitstream: bool, build_dir: Path, say=print):
    """Every step: ``compare``'s ``Comparison`` with ``system`` (the system run's
    ``RunReport``), ``bitstream`` (the build's ``BuildReport``) and ``board``."""
    from .compare import compare

    start = time.perf_counter()
    result = compare(config, data, rtl_samples, say=say)
    result.system = _system(config, data, system_samples, say) if system_samples else None
    result.bitstream = _bitstream(config, board, build_dir, say) if bitstream else None
    result.board = board
    result.seconds["demo"] = time.perf_counter() - start
    return result
