"""Cycles per sample of the generated core against the ideal (MACs / P), and simulator speed.

Usage:  python benchmarks/cycles.py [--samples 40] [--json OUT]

For each configuration it streams training samples, then inference samples, through the RTL on
Verilator (checked bit for bit against the golden model), and reports cycles per training and
per inference sample, what the exact cycle model predicts for the same stream (hdl/program.py;
the JSON's ``model_exact`` says whether it matched every sample), the ideal cycle counts
(multiply-accumulates per sample / P, docs/hardware.md) and their ratio. "rows" configurations keep one lane per row
(hardware.split_rows = false). Then it runs the default core on Verilator, Icarus (if installed) and
the Amaranth simulator and reports simulated cycles per second.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from pathlib import Path

from ghostfpga.config import Config, Hardware
from ghostfpga.golden.datasets import digits, yinyang
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.hdl import Plan
from ghostfpga.report import markdown_table, outputs_or_exit, table, write_json
from ghostfpga.sim.core.cocotb_sim import cosimulate
from ghostfpga.sim.cocotb_build import simulator_available
from ghostfpga.sim.core.protocol import Sample, predicted_sample_cycles
from ghostfpga.stopping import run_stoppable

HERE = Path(__file__).resolve().parent

CONFIGS = [
    ("yinyang 4-30-3", Config(layers=(4, 30, 3))),
    ("yinyang 4-120-3", Config(layers=(4, 120, 3))),
    ("digits 64-32-10", Config(layers=(64, 32, 10))),
    ("yinyang 4-30-3, rows", Config(layers=(4, 30, 3), hardware=Hardware(split_rows=False))),
    ("yinyang 4-120-3, rows", Config(layers=(4, 120, 3), hardware=Hardware(split_rows=False))),
    ("digits 64-32-10, rows", Config(layers=(64, 32, 10), hardware=Hardware(split_rows=False))),
    ("yinyang 4-30-3, P=4", Config(layers=(4, 30, 3), hardware=Hardware(lanes=4))),
    ("yinyang 4-30-3, P=1", Config(layers=(4, 30, 3), hardware=Hardware(lanes=1))),
    ("yinyang 4-30-3 replay", Config(layers=(4, 30, 3), variant="replay")),
    ("yinyang 4-30-3 random", Config(layers=(4, 30, 3), feedback="random")),
    ("yinyang 4-30-3 learned", Config(layers=(4, 30, 3), variant="learned")),
    ("yinyang 4-30-3 learned, constant rule", Config(layers=(4, 30, 3), variant="learned",
                                                     ghost_rule="constant")),
    ("yinyang 4-30-3 dynamics", Config(layers=(4, 30, 3), schedule="dynamics")),
    ("yinyang 4-30-3 dynamics 3x1", Config(layers=(4, 30, 3), schedule="dynamics", alpha=1.0,
                                           steps=3)),
    ("yinyang 4-30-3 replay, dynamics 3x1", Config(layers=(4, 30, 3), variant="replay",
                                                   schedule="dynamics", alpha=1.0, steps=3)),
    ("yinyang 4-30-3 learned, dynamics 3x1", Config(layers=(4, 30, 3), variant="learned",
                                                    schedule="dynamics", alpha=1.0, steps=3)),
    ("digits 64-32-10 dynamics", Config(layers=(64, 32, 10), schedule="dynamics")),
]


def _jobs(config: Config, n_train: int, n_infer: int):
    data = digits() if config.layers[0] == 64 else yinyang()
    model = FixedModel(config)
    samples = [Sample(model.quantize_input(data.x_train[i]), int(data.y_train[i]), True)
               for i in range(n_train)]
    samples += [Sample(model.quantize_input(data.x_test[i]), int(data.y_test[i]), False)
                for i in range(n_infer)]
    return samples, [model.etas(config.lr_at(0))] * len(samples)


def measure(name: str, config: Config, simulator: str, n_train: int, n_infer: int) -> dict:
    samples, etas = _jobs(config, n_train, n_infer)
    report = cosimulate(config, simulator, samples, etas)
    if report.mismatches:
        raise SystemExit(f"{name} on {simulator}: {report.first_mismatch}")
    ideal = Plan(config).ideal_cycles()
    train, infer = report.mean_cycles(samples, True), report.mean_cycles(samples, False)
    predicted = predicted_sample_cycles(config, samples, etas)   # the exact cycle model
    model_train, model_infer = (np.mean([c for s, c in zip(samples, predicted) if s.train == t])
                                for t in (True, False))
    return {"config": name, "layers": list(config.layers), "lanes": config.hardware.lanes,
            "variant": config.variant, "feedback": config.feedback,
            "schedule": config.schedule, "split_rows": config.hardware.split_rows,
            "simulator": simulator,
            "train_cycles": train, "model_train_cycles": float(model_train),
            "model_infer_cycles": float(model_infer),
            "model_exact": report.sample_cycles == predicted,
            "ideal_train_cycles": ideal["train"],
            "train_ratio": train / ideal["train"], "infer_cycles": infer,
            "ideal_infer_cycles": ideal["infer"], "infer_ratio": infer / ideal["infer"],
            "cycles": report.cycles, "seconds": report.seconds,
            "cycles_per_second": report.cycles / report.seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=40, help="training samples per config")
    parser.add_argument("--json", default=str(HERE / "results" / "cycles.json"))
    parser.add_argument("--md", default=str(HERE / "results" / "cycles.md"))
    args = parser.parse_args(argv)
    outputs_or_exit(parser, ("--json", args.json, (".json",)), ("--md", args.md, (".md",)))

    rows = []
    for name, config in CONFIGS:
        print(f"  {name} ...", file=sys.stderr)
        rows.append(measure(name, config, "verilator", args.samples, args.samples // 2))
    headers = ["config", "P", "train cycles", "model", "ideal", "ratio", "infer cycles",
               "model", "ideal", "ratio"]
    body = [[r["config"], r["lanes"], f"{r['train_cycles']:.1f}",
             f"{r['model_train_cycles']:.1f}", f"{r['ideal_train_cycles']:.1f}",
             f"{r['train_ratio']:.2f}", f"{r['infer_cycles']:.1f}",
             f"{r['model_infer_cycles']:.1f}", f"{r['ideal_infer_cycles']:.1f}",
             f"{r['infer_ratio']:.2f}"] for r in rows]
    print(table(headers, body, title="cycles per sample, RTL on Verilator"))

    speed = []
    for simulator in ("verilator", "icarus", "amaranth"):
        if not simulator_available(simulator):
            print(f"  {simulator}: not installed, skipped", file=sys.stderr)
            continue
        n = 300 if simulator == "verilator" else 30
        print(f"  speed on {simulator} ...", file=sys.stderr)
        r = measure("yinyang 4-30-3", Config(), simulator, n, n)
        speed.append({"simulator": simulator, "cycles": r["cycles"], "seconds": r["seconds"],
                      "cycles_per_second": r["cycles_per_second"]})
    speed_headers = ["simulator", "cycles", "seconds", "cycles / s"]
    speed_body = [[s["simulator"], s["cycles"], f"{s['seconds']:.2f}",
                   f"{s['cycles_per_second']:.0f}"] for s in speed]
    print(table(speed_headers, speed_body,
                title="simulation speed, default core (4-30-3, P=8), including testbench"))
    write_json(args.json, {"cycles": rows, "speed": speed})
    Path(args.md).write_text(markdown_table(headers, body) + "\n\n"
                             + markdown_table(speed_headers, speed_body) + "\n")
    print(f"wrote {args.json} and {args.md}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stoppable(main, "cycles.py"))
