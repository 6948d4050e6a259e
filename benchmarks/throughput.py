"""Training and inference throughput of every board config, against the DSP limit and the CPU.

Usage:  python benchmarks/throughput.py [--only icebreaker_yinyang ...] [--update]
                                        [--samples 8] [--json OUT] [--md OUT]

For each board config in examples/ (its board's clock, link.clock_mhz): the RTL's cycles per
training and per inference sample (Verilator, random samples, checked bit for bit against the
golden model), the samples per second they give at the clock, the DSP limit (lanes x clock
multiply-accumulates per second) and the share of it a training sample uses; the link's bound
for streamed training (baud / 10 bytes per second over the sample's bytes) and, where
benchmarks/results/link.json measured it, the streamed and on-board rates; and whether the
board build met the clock (benchmarks/results/boards.json). Then this machine's CPU, one
sample at a time, for the same layer sizes: the float ghost model, the fixed golden model, a
NumPy backprop MLP and, when installed, PyTorch. ``--update`` keeps the other configs' rows
of an earlier run (to re-measure one config).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ghostfpga.boards.bitstream.catalog import BOARDS
from ghostfpga.boards.protocol import LinkLayout
from ghostfpga.config import Config
from ghostfpga.golden.backprop import BackpropModel
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.golden.ghost import GhostModel
from ghostfpga.golden.network import one_hot
from ghostfpga.hdl import Plan
from ghostfpga.report import markdown_table, outputs_or_exit, table, write_json
from ghostfpga.sim.core.cocotb_sim import cosimulate
from ghostfpga.sim.core.protocol import Sample
from ghostfpga.stopping import run_stoppable

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
CONFIGS = ["icebreaker_yinyang", "icebreaker_digits", "ulx3s_digits", "ulx3s_mnist"]


def _samples(config: Config, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n, config.layers[0]))
    y = rng.integers(0, config.n_classes, size=n)
    return x, y


def rtl_cycles(config: Config, n: int) -> dict:
    """Per-sample cycles of n training then n inference samples, in Verilator."""
    model = FixedModel(config)
    x, y = _samples(config, n)
    samples = [Sample(model.quantize_input(xi), int(yi), True) for xi, yi in zip(x, y)]
    samples += [Sample(model.quantize_input(xi), 0, False) for xi in x]
    etas = model.etas(config.lr_at(0))
    report = cosimulate(config, "verilator", samples, [etas] * len(samples), model=model)
    return {"mismatches": report.mismatches, "train": report.mean_cycles(samples, True),
            "infer": report.mean_cycles(samples, False)}


def _rate(step, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        step(i)
    return n / (time.perf_counter() - start)


def cpu_rates(config: Config, n: int) -> dict:
    """Training samples per second of each model on this CPU, one sample at a time."""
    x, y = _samples(config, n, seed=1)
    targets = one_hot(y, config.n_classes, config.target_margin)
    lrs = config.lr_at(0)
    ghost, bp, fixed = GhostModel(config), BackpropModel(config), FixedModel(config)
    x_q = fixed.quantize_input(x)
    etas = fixed.etas(lrs)
    out = {"float_ghost": _rate(lambda i: ghost.train_sample(x[i], targets[i], lrs), n),
           "fixed_golden": _rate(lambda i: fixed.step(x_q[i], int(y[i]), True, etas), n),
           "numpy_backprop": _rate(lambda i: bp.train_sample(x[i], targets[i], lrs), n)}
    try:
        import torch
    except ImportError:
        out["torch_backprop"] = None
        return out
    torch.set_num_threads(1)
    layers = []
    for a, b in zip(config.layers, config.layers[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.Hardtanh(0.0, 1.0)]
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=lrs[0])
    tx, tt = torch.tensor(x, dtype=torch.float32), torch.tensor(targets, dtype=torch.float32)

    def step(i):
        opt.zero_grad()
        loss = 0.5 * ((net(tx[i]) - tt[i]) ** 2).sum()
        loss.backward()
        opt.step()

    out["torch_backprop"] = _rate(step, n)
    return out


def _board_of(name: str) -> str:
    return next(b for b in BOARDS if name.startswith(b.split("-")[0]))


def measure(name: str, samples: int, boards: dict, link: dict) -> dict:
    config = Config.load(EXAMPLES / f"{name}.toml")
    print(f"  {name}: RTL cycles ({samples} + {samples} samples) ...", file=sys.stderr)
    cycles = rtl_cycles(config, samples)
    plan = Plan(config)
    ideal = plan.ideal_cycles()
    clock = config.link.clock_mhz * 1e6
    lanes = config.hardware.lanes
    lay = LinkLayout(config)
    built = boards.get(name, {})
    if built and built["clock_mhz"] != config.link.clock_mhz:
        built = {"verdict": f"not built at {config.link.clock_mhz:g} MHz"}
    measured = {}
    # (a link measurement at another clock, or of another link, is not this config's)
    if (link.get("config") == f"{name}.toml"
            and link.get("clock_mhz") == config.link.clock_mhz
            and link.get("baud") == config.link.baud):
        measured = {r["training"]: r["samples_per_second"] for r in link["runs"]}
    print(f"  {name}: CPU rates ...", file=sys.stderr)
    cpu = cpu_rates(config, max(20, min(400, 40000 // sum(config.layers))))
    train_rate = clock / cycles["train"]
    return {
        "config": name, "board": _board_of(name), "layers": list(config.layers),
        "lanes": lanes, "clock_mhz": config.link.clock_mhz,
        "build": built.get("verdict", "not built"), "fmax_mhz": built.get("fmax_mhz"),
        "mismatches": cycles["mismatches"],
        "train_cycles": cycles["train"], "infer_cycles": cycles["infer"],
        "train_samples_per_second": train_rate,
        "infer_samples_per_second": clock / cycles["infer"],
        "dsp_limit_macs_per_second": lanes * clock,
        "macs_per_train_sample": ideal["train"] * lanes,
        "dsp_share": ideal["train"] / cycles["train"],
        "link_bound_samples_per_second": config.link.baud / 10 / lay.sample_bytes,
        "streamed_samples_per_second": measured.get("streamed"),
        "on_board_samples_per_second": measured.get("on board"),
        "on_board_set": config.link.store_samples,
        "cpu_samples_per_second": cpu,
    }


def _fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def rows_of(results: list[dict]) -> tuple[list[str], list[list]]:
    headers = ["config", "lanes", "clock MHz", "build", "train cycles", "train / s",
               "infer / s", "DSP limit MMAC/s", "DSP use", "link bound / s", "streamed / s",
               "on board / s", "CPU ghost / s", "CPU fixed / s", "CPU NumPy BP / s",
               "CPU PyTorch BP / s"]
    rows = []
    for r in results:
        c = r["cpu_samples_per_second"]
        rows.append([r["config"], r["lanes"], f"{r['clock_mhz']:g}", r["build"],
                     f"{r['train_cycles']:.0f}", _fmt(r["train_samples_per_second"]),
                     _fmt(r["infer_samples_per_second"]),
                     _fmt(r["dsp_limit_macs_per_second"] / 1e6),
                     f"{100 * r['dsp_share']:.0f} %", _fmt(r["link_bound_samples_per_second"]),
                     _fmt(r["streamed_samples_per_second"]),
                     _fmt(r["on_board_samples_per_second"]), _fmt(c["float_ghost"]),
                     _fmt(c["fixed_golden"]), _fmt(c["numpy_backprop"]),
                     _fmt(c["torch_backprop"])])
    return headers, rows


def _verdicts(path: Path) -> dict:
    """Per config: its board build's outcome at its clock (benchmarks/boards.py)."""
    if not path.exists():
        return {}
    out = {}
    for r in json.loads(path.read_text())["builds"]:
        if not r.get("fits"):
            verdict = "does not fit"
        elif r.get("meets_timing"):
            verdict = "met"
        else:
            verdict = f"missed at {r['clock_mhz']:g} MHz"
        out[r["name"]] = {"verdict": verdict, "fmax_mhz": r.get("fmax_mhz"),
                          "clock_mhz": r["clock_mhz"]}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=CONFIGS, default=CONFIGS)
    parser.add_argument("--update", action="store_true",
                        help="keep the rows of configs not measured now from the existing JSON")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--json", default=str(HERE / "results" / "throughput.json"))
    parser.add_argument("--md", default=str(HERE / "results" / "throughput.md"))
    args = parser.parse_args(argv)
    outputs_or_exit(parser, ("--json", args.json, (".json",)), ("--md", args.md, (".md",)))
    boards = _verdicts(HERE / "results" / "boards.json")
    link_path = HERE / "results" / "link.json"
    link = json.loads(link_path.read_text()) if link_path.exists() else {}
    earlier = {}
    if args.update and Path(args.json).is_file():
        earlier = {r["config"]: r for r in json.loads(Path(args.json).read_text())["results"]}
    results = [measure(name, args.samples, boards, link) if name in args.only else earlier[name]
               for name in CONFIGS if name in args.only or name in earlier]
    headers, rows = rows_of(results)
    print(table(headers, rows, title="throughput: training samples per second"))
    write_json(args.json, {"results": results})
    Path(args.md).write_text(markdown_table(headers, rows) + "\n")
    print(f"wrote {args.json} and {args.md}")
    return 0 if all(r["mismatches"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(run_stoppable(main, "throughput.py"))
