"""Accuracy of the bit-exact fixed-point model (= the hardware) against the float model.

Usage:  python benchmarks/fixed_accuracy.py [--seeds 3] [--epochs 40] [--json OUT]

Trains the float ghost model and the fixed-point golden model (16-bit and 8-bit weights,
default numerics otherwise) on Yin-Yang 4-30-3 with the same seeds, and prints the test
accuracy of each. The fixed-point model computes exactly what the core computes (the
co-simulation tests prove it bit for bit), so its accuracy is the hardware's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ghostfpga.config import Config, Numerics
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.golden.ghost import GhostModel
from ghostfpga.golden.training import train
from ghostfpga.report import markdown_table, table, write_json

HERE = Path(__file__).resolve().parent

MODELS = {
    "float64": None,
    "fixed, 16-bit weights": Numerics(),
    "fixed, 8-bit weights (5 fraction bits)": Numerics(weight_bits=8, weight_frac=5),
    "fixed, 8-bit weights, nearest rounding": Numerics(weight_bits=8, weight_frac=5,
                                                       rounding="nearest"),
}


def _run(label: str, seed: int, epochs: int) -> dict:
    numerics = MODELS[label]
    config = Config(seed=seed, epochs=epochs, numerics=numerics or Numerics())
    model = GhostModel(config) if numerics is None else FixedModel(config)
    result = train(model, yinyang())
    return {"model": label, "seed": seed, "test_accuracy": result.test_accuracy,
            "seconds": result.seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--json", default=str(HERE / "results" / "fixed_accuracy.json"))
    parser.add_argument("--md", default=str(HERE / "results" / "fixed_accuracy.md"))
    args = parser.parse_args(argv)
    jobs = [(label, seed, args.epochs) for label in MODELS for seed in range(args.seeds)]
    with ProcessPoolExecutor() as pool:
        runs = list(pool.map(_run, *zip(*jobs)))
    rows = []
    base = statistics.mean(r["test_accuracy"] for r in runs if r["model"] == "float64")
    for label in MODELS:
        acc = [100 * r["test_accuracy"] for r in runs if r["model"] == label]
        secs = statistics.mean(r["seconds"] for r in runs if r["model"] == label)
        rows.append([label, len(acc), f"{statistics.mean(acc):.2f}", f"{min(acc):.2f}",
                     f"{max(acc):.2f}", f"{statistics.mean(acc) - 100 * base:+.2f}",
                     f"{secs:.1f}"])
    headers = ["model (Yin-Yang 4-30-3, tied, sweep)", "seeds", "test % mean", "min", "max",
               "vs float", "s / run"]
    print(table(headers, rows, title=f"fixed point vs float, {args.epochs} epochs"))
    write_json(args.json, {"runs": runs, "table": [dict(zip(headers, r)) for r in rows]})
    Path(args.md).write_text(markdown_table(headers, rows) + "\n")
    print(f"wrote {args.json} and {args.md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
