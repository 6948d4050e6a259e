"""Training throughput of the host link, streamed and from the on-board training set: the
real driver trains the simulated system top through its UART in Verilator.

Usage:  python benchmarks/link.py [--samples 1000] [--config FILE] [--json OUT]

The config defaults to examples/icebreaker_yinyang.toml. Reports, in simulated time at the
config's clock and baud rate: training samples per second streamed through the link (the
UART is the bottleneck) with the share of the UART's payload bandwidth (baud / 10 bytes per
second) the sample bytes use; the same samples uploaded once and trained on board, timed by
the device's own counter of the core's busy cycles and, from the host, from the first EPOCH
request to the last reply; and the core's own rate (clock / busy cycles per sample).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ghostfpga.config import Config
from ghostfpga.golden.datasets import yinyang
from ghostfpga.hardware import run_on_device
from ghostfpga.report import outputs_or_exit, table, write_json
from ghostfpga.stopping import run_stoppable

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent / "examples" / "icebreaker_yinyang.toml"


def measure(config: Config, samples: int, on_board: bool) -> dict:
    how = "uploaded and trained on board" if on_board else "through the simulated UART"
    print(f"  training {samples} samples {how} ...", file=sys.stderr)
    run = run_on_device(config, yinyang(), "sim", samples, 1, timeout=0.01, test_samples=1,
                        on_board=on_board)
    c = run.counters
    core_cycles = c["cycles"] / c["samples"]
    return {"training": "on board" if on_board else "streamed", "samples": run.samples,
            "mismatches": run.mismatches, "samples_per_second": run.samples_per_second,
            "host_samples_per_second": run.host_samples_per_second,
            "link_payload_fraction": run.link_payload_fraction,
            "device_cycles": run.device_cycles,
            "core_cycles_per_sample": core_cycles,
            "core_samples_per_second": config.link.clock_mhz * 1e6 / core_cycles,
            "wall_seconds": run.seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--config", metavar="FILE", default=str(DEFAULT))
    parser.add_argument("--json", default=str(HERE / "results" / "link.json"))
    args = parser.parse_args(argv)
    outputs_or_exit(parser, ("--json", args.json, (".json",)))
    config = Config.load(args.config)
    modes = [False] + ([True] if config.link.store_samples >= args.samples else [])
    rows = [measure(config, args.samples, on_board) for on_board in modes]
    r = {"config": Path(args.config).name, "layers": list(config.layers),
         "lanes": config.hardware.lanes, "clock_mhz": config.link.clock_mhz,
         "baud": config.link.baud, "frames_in_flight": config.link.frames, "runs": rows}
    print(table(["training", "layers", "lanes", "clock MHz", "baud", "samples", "mismatches",
                 "samples/s", "host-timed samples/s", "UART payload use", "core cycles/sample",
                 "core samples/s"],
                [[row["training"], "-".join(map(str, config.layers)), config.hardware.lanes,
                  f"{config.link.clock_mhz:g}", config.link.baud, row["samples"],
                  row["mismatches"], f"{row['samples_per_second']:.0f}",
                  f"{row['host_samples_per_second']:.0f}",
                  "-" if row["link_payload_fraction"] is None
                  else f"{100 * row['link_payload_fraction']:.1f} %",
                  f"{row['core_cycles_per_sample']:.1f}",
                  f"{row['core_samples_per_second']:.0f}"] for row in rows],
                title="training through the host link (simulated time)"))
    write_json(args.json, r)
    return 0 if all(row["mismatches"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(run_stoppable(main, "link.py"))
