"""Accuracy of the bit-exact fixed-point model (= the hardware) against the float model.

Usage:  python benchmarks/fixed_accuracy.py [--seeds 3] [--epochs 40] [--only TEXT]
                                           [--json OUT] [--md OUT]

Two tables, same seeds for float and fixed point:

- numerics: Yin-Yang 4-30-3, tied ghosts, sweep; the float model and the fixed-point model
  with 16-bit and 8-bit weights (default numerics otherwise);
- variants: every ghost variant that learns (tied, replay and learned, with the sweep schedule
  and with 3 dynamics steps of alpha = 1) on Yin-Yang 4-30-3, 4-120-3 and digits 64-32-10,
  float and fixed point (16-bit weights), with the gap to tied in the same precision.

The fixed-point model computes exactly what the core computes (the co-simulation tests prove
it bit for bit), so its accuracy is the hardware's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from ghostfpga.config import Config, Numerics
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.golden.ghost import GhostModel
from ghostfpga.golden.training import train
from ghostfpga.report import markdown_table, outputs_or_exit, table, write_json
from ghostfpga.runs import prepare, run_parallel
from ghostfpga.stopping import run_stoppable

HERE = Path(__file__).resolve().parent

NUMERICS = {
    "float64": None,
    "fixed, 16-bit weights": Numerics(),
    "fixed, 8-bit weights (5 fraction bits)": Numerics(weight_bits=8, weight_frac=5),
    "fixed, 8-bit weights, nearest rounding": Numerics(weight_bits=8, weight_frac=5,
                                                       rounding="nearest"),
}
THREE_STEPS = {"schedule": "dynamics", "alpha": 1.0, "steps": 3}
VARIANTS = {
    "tied / sweep": {},
    "replay / sweep": {"variant": "replay"},
    "learned / sweep": {"variant": "learned"},
    "tied / dynamics 3x1": THREE_STEPS,
    "replay / dynamics 3x1": {"variant": "replay", **THREE_STEPS},
    "learned / dynamics 3x1": {"variant": "learned", **THREE_STEPS},
}
TASKS = [("yinyang", (4, 30, 3)), ("yinyang", (4, 120, 3)), ("digits", (64, 32, 10))]


def _run(table_name: str, dataset: str, layers: tuple, variant: str, numerics: str,
         seed: int, epochs: int) -> dict:
    fmt = NUMERICS[numerics]
    config = Config(layers=layers, seed=seed, epochs=epochs, numerics=fmt or Numerics(),
                    **VARIANTS[variant])
    config, data = prepare(dataset, config, layers_given=True)
    model = GhostModel(config) if fmt is None else FixedModel(config)
    result = train(model, data)
    return {"table": table_name, "dataset": dataset, "layers": list(layers),
            "variant": variant, "model": numerics, "seed": seed,
            "test_accuracy": result.test_accuracy, "seconds": result.seconds}


def _jobs(seeds: int, epochs: int, only: str | None) -> list[tuple]:
    jobs = [("numerics", "yinyang", (4, 30, 3), "tied / sweep", label, seed, epochs)
            for label in NUMERICS for seed in range(seeds)]
    jobs += [("variants", dataset, layers, variant, label, seed, epochs)
             for dataset, layers in TASKS for variant in VARIANTS
             for label in ("float64", "fixed, 16-bit weights") for seed in range(seeds)]
    if only:
        jobs = [j for j in jobs if only in j[3] or j[3].startswith("tied")]
    return jobs


def _mean(runs: list[dict]) -> float:
    return statistics.mean(100 * r["test_accuracy"] for r in runs)


def _numerics_rows(runs: list[dict]) -> list[list]:
    mine = [r for r in runs if r["table"] == "numerics"]
    base = _mean([r for r in mine if r["model"] == "float64"])
    rows = []
    for label in NUMERICS:
        rs = [r for r in mine if r["model"] == label]
        acc = [100 * r["test_accuracy"] for r in rs]
        rows.append([label, len(acc), f"{statistics.mean(acc):.2f}", f"{min(acc):.2f}",
                     f"{max(acc):.2f}", f"{statistics.mean(acc) - base:+.2f}",
                     f"{statistics.mean(r['seconds'] for r in rs):.1f}"])
    return rows


def _variant_rows(runs: list[dict]) -> list[list]:
    mine = [r for r in runs if r["table"] == "variants"]
    rows = []
    for dataset, layers in TASKS:
        for variant in VARIANTS:
            cells = [dataset, "-".join(map(str, layers)), variant]
            for label in ("float64", "fixed, 16-bit weights"):
                def pick(v):
                    return [r for r in mine if (r["dataset"], tuple(r["layers"]), r["variant"],
                                                r["model"]) == (dataset, layers, v, label)]
                rs = pick(variant)
                if not rs:
                    cells += ["-", "-"]
                    continue
                tied = pick("tied / " + variant.split(" / ")[1])
                gap = "" if variant.startswith("tied") or not tied \
                    else f"{_mean(rs) - _mean(tied):+.2f}"
                cells += [f"{_mean(rs):.2f}", gap]
            if cells[3:] != ["-"] * 4:
                rows.append(cells)
    return rows


NUMERICS_HEADERS = ["model (Yin-Yang 4-30-3, tied, sweep)", "seeds", "test % mean", "min",
                    "max", "vs float", "s / run"]
VARIANT_HEADERS = ["data set", "layers", "variant / schedule", "float %", "vs tied",
                   "fixed %", "vs tied"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--only", metavar="TEXT",
                        help="only the variants whose label contains TEXT (and tied)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", default=str(HERE / "results" / "fixed_accuracy.json"))
    parser.add_argument("--md", default=str(HERE / "results" / "fixed_accuracy.md"))
    args = parser.parse_args(argv)
    outputs_or_exit(parser, ("--json", args.json, (".json",)), ("--md", args.md, (".md",)))
    jobs = _jobs(args.seeds, args.epochs, args.only)
    runs = run_parallel(_run, jobs, args.jobs)
    numerics, variants = _numerics_rows(runs), _variant_rows(runs)
    print(table(NUMERICS_HEADERS, numerics,
                title=f"fixed point vs float, {args.epochs} epochs, {args.seeds} seeds"))
    print(table(VARIANT_HEADERS, variants,
                title=f"every variant, float and fixed point (16-bit weights), test % mean "
                      f"over {args.seeds} seeds, {args.epochs} epochs"))
    write_json(args.json, {"seeds": args.seeds, "epochs": args.epochs, "runs": runs,
                           "numerics": [dict(zip(NUMERICS_HEADERS, r)) for r in numerics],
                           "variants": [dict(zip(VARIANT_HEADERS, r)) for r in variants]})
    Path(args.md).write_text(markdown_table(NUMERICS_HEADERS, numerics) + "\n\n"
                             + markdown_table(VARIANT_HEADERS, variants) + "\n")
    print(f"wrote {args.json} and {args.md}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stoppable(main, "fixed_accuracy.py"))
