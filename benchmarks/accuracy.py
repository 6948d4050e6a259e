"""Accuracy of the float ghost model (each variant, both feedback modes) against backprop.

Usage:  python benchmarks/accuracy.py [--seeds 3] [--epochs 40] [--quick] [--only TEXT]
                                     [--json OUT] [--md OUT]

Trains every configuration on Yin-Yang (4-30-3 and 4-120-3) and digits (64-32-10) with
several seeds, on all cores, and prints a table of test accuracy (mean, min, max over seeds),
the gap to backprop and to tied ghosts with the same feedback and schedule, and wall time per
run. Writes every run as JSON and the table as Markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from ghostfpga.config import Config
from ghostfpga.report import markdown_table, outputs_or_exit, table, write_json
from ghostfpga.runs import prepare, run_parallel, run_training
from ghostfpga.stopping import run_stoppable

HERE = Path(__file__).resolve().parent

# (label, model, config changes). Under the sweep schedule replay equals tied exactly, so
# replay is also measured with the dynamics schedule, where the two differ. Replay and learned
# ghosts learn under dynamics with 3 steps of alpha = 1 only (docs/model.md): tied is measured
# with the same steps too.
THREE_STEPS = {"schedule": "dynamics", "alpha": 1.0, "steps": 3}
VARIANTS = [
    ("backprop", "bp", {}),
    ("tied / transpose / sweep", "ghost", {}),
    ("tied / transpose / dynamics", "ghost", {"schedule": "dynamics"}),
    ("tied / transpose / dynamics 3x1", "ghost", THREE_STEPS),
    ("replay / transpose / sweep", "ghost", {"variant": "replay"}),
    ("replay / transpose / dynamics 3x1", "ghost", {"variant": "replay", **THREE_STEPS}),
    ("learned / transpose / sweep", "ghost", {"variant": "learned"}),
    ("learned / transpose / dynamics 3x1", "ghost", {"variant": "learned", **THREE_STEPS}),
    ("learned (constant rule) / transpose / sweep", "ghost",
     {"variant": "learned", "ghost_rule": "constant"}),
    ("tied / random / sweep", "ghost", {"feedback": "random"}),
    ("replay / random / sweep", "ghost", {"variant": "replay", "feedback": "random"}),
    ("learned / random / sweep", "ghost", {"variant": "learned", "feedback": "random"}),
]


def tied_label(label: str) -> str:
    """The tied row a ghost variant's row compares with: same feedback and schedule."""
    _, feedback, schedule = label.split(" / ")
    return f"tied / {feedback} / {schedule}"
TASKS = [("yinyang", (4, 30, 3)), ("yinyang", (4, 120, 3)), ("digits", (64, 32, 10))]


def _job(dataset: str, layers: tuple, label: str, model: str, changes: dict, seed: int,
         epochs: int) -> dict:
    config = Config(layers=layers, seed=seed, epochs=epochs, **changes)
    config, data = prepare(dataset, config, layers_given=True)
    run = run_training(config, data, model, show_progress=False)
    return run.to_dict() | {"label": label}   # (summarized from the JSON too)


def summarize(runs: list[dict]) -> list[list]:
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["dataset"], tuple(r["layers"]), r["label"]), []).append(r)
    order = {(d, tuple(l)): i for i, (d, l) in enumerate(TASKS)}
    labels = [v[0] for v in VARIANTS]
    rows = []
    for (dataset, layers, label), rs in sorted(
            groups.items(), key=lambda kv: (order.get(kv[0][:2], 99), labels.index(kv[0][2]))):
        acc = [100 * r["test_accuracy"] for r in rs]
        bp = groups.get((dataset, layers, "backprop"))
        tied = groups.get((dataset, layers, tied_label(label))) \
            if label != "backprop" else None
        gap, tied_gap = ((statistics.mean(acc) - statistics.mean(100 * r["test_accuracy"]
                                                                 for r in ref)
                          if ref and label != "backprop" else None) for ref in (bp, tied))
        rows.append([dataset, "-".join(map(str, layers)), label, len(rs),
                     f"{statistics.mean(acc):.2f}", f"{min(acc):.2f}", f"{max(acc):.2f}",
                     "" if gap is None else f"{gap:+.2f}",
                     "" if tied_gap is None or label.startswith("tied") else f"{tied_gap:+.2f}",
                     f"{statistics.mean(r['seconds'] for r in rs):.1f}"])
    return rows


HEADERS = ["data set", "layers", "model (variant / feedback / schedule)", "seeds",
           "test % mean", "min", "max", "vs bp", "vs tied", "s / run"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--quick", action="store_true",
                        help="4-30-3 Yin-Yang and digits only, tied/transpose and backprop")
    parser.add_argument("--only", metavar="TEXT",
                        help="only the models whose label contains TEXT (and their references)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", default=str(HERE / "results" / "accuracy.json"))
    parser.add_argument("--md", default=str(HERE / "results" / "accuracy.md"))
    args = parser.parse_args(argv)
    outputs_or_exit(parser, ("--json", args.json, (".json",)), ("--md", args.md, (".md",)))

    tasks = TASKS[::2] if args.quick else TASKS
    variants = VARIANTS[:3] if args.quick else VARIANTS
    if args.only:
        chosen = [v for v in variants if args.only in v[0]]
        if not chosen:
            parser.error(f"--only {args.only!r} matches no model: "
                         + ", ".join(v[0] for v in variants))
        refs = {"backprop"} | {tied_label(v[0]) for v in chosen}
        variants = [v for v in variants if v in chosen or v[0] in refs]
    jobs = [(d, l, label, model, changes, seed, args.epochs)
            for d, l in tasks for label, model, changes in variants for seed in range(args.seeds)]
    runs = run_parallel(_job, jobs, args.jobs)
    rows = summarize(runs)
    print(table(HEADERS, rows, title=f"test accuracy over {args.seeds} seeds, "
                                     f"{args.epochs} epochs, float64"))
    write_json(args.json, {"seeds": args.seeds, "epochs": args.epochs, "runs": runs,
                           "table": [dict(zip(HEADERS, r)) for r in rows]})
    Path(args.md).write_text(markdown_table(HEADERS, rows) + "\n", encoding="utf-8")
    print(f"wrote {args.json} and {args.md}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stoppable(main, "accuracy.py"))
