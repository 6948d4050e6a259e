"""Streaming throughput of the host link: the real driver trains the simulated system top
through its UART in Verilator; the link, not the core, is the bottleneck.

Usage:  python benchmarks/link.py [--samples 1000] [--config FILE] [--json OUT]

Reports, in simulated time at the config's clock and baud rate: training samples per second
through the link, the share of the UART's payload bandwidth (baud / 10 bytes per second) that
the sample bytes use, and the core's own rate (clock / busy cycles per sample, from the
device's cycle counter) for comparison.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ghostfpga.config import Config
from ghostfpga.golden.datasets import yinyang
from ghostfpga.hardware import run_on_device
from ghostfpga.report import table, write_json

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--config", metavar="FILE")
    parser.add_argument("--json", default=str(HERE / "results" / "link.json"))
    args = parser.parse_args(argv)
    config = Config.load(args.config) if args.config else Config()
    print(f"  training {args.samples} samples through the simulated UART ...", file=sys.stderr)
    run = run_on_device(config, yinyang(), "sim", args.samples, 1, timeout=0.01,
                        test_samples=1)
    c = run["counters"]
    core_cycles = c["cycles"] / c["samples"]
    clock = config.link.clock_mhz * 1e6
    r = {"layers": list(config.layers), "lanes": config.hardware.lanes,
         "clock_mhz": config.link.clock_mhz, "baud": config.link.baud,
         "frames_in_flight": config.link.frames, "samples": run["samples"],
         "mismatches": run["mismatches"],
         "link_samples_per_second": run["samples_per_second"],
         "link_payload_fraction": run["link_payload_fraction"],
         "core_cycles_per_sample": core_cycles,
         "core_samples_per_second": clock / core_cycles, "wall_seconds": run["seconds"]}
    print(table(["layers", "clock MHz", "baud", "frames in flight", "samples", "mismatches",
                 "link samples/s", "UART payload use", "core cycles/sample",
                 "core samples/s"],
                [["-".join(map(str, config.layers)), f"{config.link.clock_mhz:g}",
                  config.link.baud, config.link.frames, r["samples"], r["mismatches"],
                  f"{r['link_samples_per_second']:.0f}",
                  f"{100 * r['link_payload_fraction']:.1f} %", f"{core_cycles:.1f}",
                  f"{r['core_samples_per_second']:.0f}"]],
                title="streamed training through the host link (simulated time)"))
    write_json(args.json, r)
    return 0 if r["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
