"""The study commands: ``compare``, ``sweep`` and ``demo``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ghostfpga.config import Config, ConfigError

from .cli_args import (UsageError, config_of, config_option, data_options, folder_or_refuse,
                       json_option, non_negative_int, positive_int, scheduler_or_refuse)
from .cli_hardware import _board, _board_names
from .report import percent, table, write_json
from .runs import prepare

def add_commands(sub) -> None:
    p = sub.add_parser("compare", help="float backprop, float ghost, the fixed model (= the "
                                       "hardware) and the RTL on one data set, with a report "
                                       "that explains the gap per layer",
                       parents=[config_option("the --board's, else built-in"), data_options(),
                                json_option()])
    p.add_argument("--board", choices=_board_names(),
                   help="use the board's default config (unless --config)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the config's)")
    p.add_argument("--rtl-samples", type=non_negative_int, default=200,
                   help="training samples the RTL trains on, checked bit for bit (default 200)")
    p.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"])
    p.add_argument("--workers", type=positive_int, default=None,
                   help="processes for the three trainings (default: up to 3)")
    p.add_argument("--report", metavar="OUT.md", default="build/compare/report.md",
                   help="the Markdown report, its plots beside it (default "
                        "build/compare/report.md)")
    p.add_argument("--sweep", metavar="SWEEP.json",
                   help="add a sweep's result (ghostfpga sweep --json) to the report")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("sweep", help="accuracy (and with --synth area and Fmax) over "
                                     "fixed-point formats and lanes, as tasks on Dask",
                       parents=[config_option("built-in; the base of every point"),
                                data_options(), json_option()])
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the config's)")
    p.add_argument("--weight-bits", default="6,8,10,12,16", metavar="N,N,...",
                   help="weight widths (default 6,8,10,12,16)")
    p.add_argument("--weight-int-bits", type=positive_int, default=3,
                   help="integer bits of the weights, sign included (default 3: [-4, 4))")
    p.add_argument("--error-frac", default=None, metavar="N,N,...",
                   help="fraction bits of errors and potentials (default: the config's)")
    p.add_argument("--lanes", default=None, metavar="N,N,...",
                   help="MAC lanes (default: the config's)")
    p.add_argument("--synth", action="store_true",
                   help="also synthesize each point's core (logic cells, Fmax)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler (tcp://HOST:8786); default: a local cluster")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="local cluster processes (default: the CPU count)")
    p.add_argument("--cache", metavar="DIR", default=str(Path("build") / "sweep" / "cache"),
                   help="finished points, by hash (default build/sweep/cache)")
    p.add_argument("--plot", metavar="OUT.png", help="test accuracy against weight bits")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("demo", help="the whole flow on the iCEBreaker's Yin-Yang config: every "
                                    "model, the RTL, the full system, the bitstream, a report",
                       parents=[config_option("examples/icebreaker_yinyang.toml"),
                                json_option()])
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: the config's)")
    p.add_argument("--rtl-samples", type=non_negative_int, default=200,
                   help="training samples the RTL trains on, bit for bit (default 200)")
    p.add_argument("--system-samples", type=non_negative_int, default=200,
                   help="samples through the simulated board's UART (default 200; 0 skips)")
    p.add_argument("--no-bitstream", action="store_true", help="skip the bitstream build")
    p.add_argument("--build-dir", metavar="DIR", default="build/demo",
                   help="the bitstream's folder (default build/demo)")
    p.add_argument("--report", metavar="OUT.md", default="build/demo/report.md",
                   help="the report, its plots beside it (default build/demo/report.md)")
    p.add_argument("--sweep", metavar="SWEEP.json",
                   help="add a sweep's result (ghostfpga sweep --json) to the report")
    p.set_defaults(func=cmd_demo)


def _int_list(text: str | None, option: str) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(option, text, "must be comma-separated integers") from None
    if not values:
        raise ConfigError(option, text, "must list at least one integer")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ConfigError(option, text, f"lists {', '.join(map(str, repeated))} more than once")
    return values


def _at_least(args: argparse.Namespace, lowest: int, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value < lowest:
            what = "a positive integer" if lowest == 1 else f"{lowest} or more"
            raise UsageError(f"--{name.replace('_', '-')} must be {what}, not {value}")


def _read_sweep(path: str | None):
    """A sweep's JSON (checked before any work)."""
    import json

    if path is None:
        return None
    from .sweep import SweepResult

    try:
        sweep = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--sweep {path}: cannot read it as JSON ({exc})") from None
    try:
        return SweepResult.from_dict(sweep)
    except ValueError as exc:
        raise UsageError(f"--sweep {path}: {exc}") from None


def _print_comparison(result, config: Config, data) -> None:
    s = result.seconds
    print(table(["model", "train acc", "test acc", "seconds"],
                [["float backprop", percent(result.float_bp_train_accuracy),
                  percent(result.float_bp_test_accuracy), f"{s['float_bp']:.1f}"],
                 ["float ghost", percent(result.float_ghost_train_accuracy),
                  percent(result.float_ghost_test_accuracy), f"{s['float_ghost']:.1f}"],
                 ["fixed (= hardware)", percent(result.fixed_train_accuracy),
                  percent(result.fixed_test_accuracy), f"{s['fixed']:.1f}"],
                 ["RTL, trained weights", "-", percent(result.rtl_test_accuracy),
                  f"{s['rtl']:.1f}"]],
                title=f"{data.name} {'-'.join(map(str, config.layers))}, {config.epochs} "
                      f"epochs; RTL: {result.rtl_samples} training samples and the test "
                      f"set, {result.rtl_mismatches} mismatches"))


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare
    from .compare_report import write_report

    _at_least(args, 1, "epochs", "workers")
    _at_least(args, 0, "rtl_samples")
    sweep = _read_sweep(args.sweep)
    board = _board(args.board)
    config = config_of(args, board)
    if args.epochs:
        config = config.replace(epochs=args.epochs)
    config, data = prepare(args.dataset, config, layers_given=bool(args.config or board),
                           normalize=args.normalize)
    result = compare(config, data, args.rtl_samples, args.simulator, args.workers, say=_say)
    _print_comparison(result, config, data)
    files = write_report(result, args.report, sweep)
    print(f"report: {files[0]} (plots: {', '.join(str(f) for f in files[1:])})")
    if args.json:
        write_json(args.json, result.to_dict())
    return 1 if result.rtl_mismatches or not result.rtl_predictions_equal_fixed else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import plot_sweep, run_sweep, sweep_points

    scheduler_or_refuse(args.scheduler)
    folder_or_refuse(args.cache, "--cache")
    config = config_of(args)
    if args.epochs is not None:
        config = config.replace(epochs=args.epochs)
    config, data = prepare(args.dataset, config, layers_given=bool(args.config),
                           normalize=args.normalize)
    points = sweep_points(_int_list(args.weight_bits, "--weight-bits"),
                          _int_list(args.error_frac, "--error-frac")
                          or [config.numerics.error_frac],
                          _int_list(args.lanes, "--lanes") or [config.hardware.lanes])
    from .sweep import point_config

    narrowest = min(p.weight_bits for p in points)
    if args.weight_int_bits >= narrowest:
        raise UsageError(f"--weight-int-bits {args.weight_int_bits} leaves no fraction bits "
                         f"for {narrowest}-bit weights (--weight-bits)")
    for point in points:   # every point's config is checked before the cluster starts
        point_config(config, point, args.weight_int_bits)
    workers = args.workers or os.cpu_count() or 1
    say = lambda text: print(text, file=sys.stderr)   # noqa: E731
    # a user file is given to the tasks by its absolute path
    spec = str(Path(args.dataset).resolve()) if Path(args.dataset).exists() else args.dataset
    result = run_sweep(config, spec, points, args.synth, args.scheduler, workers,
                       Path(args.cache), args.normalize, args.weight_int_bits, say=say)
    headers = ["weight bits", "weight frac", "error frac", "lanes", "train acc", "test acc"]
    headers += ["logic cells", "Fmax MHz"] if args.synth else []
    rows = [[r.weight_bits, r.weight_frac, r.error_frac, r.lanes,
             percent(r.train_accuracy), percent(r.test_accuracy)]
            + ([r.luts, "-" if r.fmax_mhz is None else f"{r.fmax_mhz:.1f}"]
               if args.synth else []) for r in result.points]
    print(table(headers, rows, title=f"sweep on {data.name} ({len(points)} points, "
                f"{config.epochs} epochs; float ghost: "
                f"{percent(result.float_ghost_test_accuracy)}; scheduler "
                f"{result.scheduler})"))
    best = result.narrowest
    print("narrowest within 0.5 points of the float ghost model: " + (
        f"{best.weight_bits}-bit weights, error_frac {best.error_frac} "
        f"({percent(best.test_accuracy)})" if best else "none"))
    print("Pareto (accuracy vs bits" + (" vs logic cells" if args.synth else "") + "): "
          + ", ".join(f"{r.weight_bits}b/{r.error_frac}e/{r.lanes}P "
                      f"{percent(r.test_accuracy)}" for r in result.pareto))
    if args.json:
        write_json(args.json, result.to_dict())
    if args.plot:
        plot_sweep(result, args.plot)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ghostfpga.boards.bitstream.catalog import BOARDS

    from .compare_report import write_report
    from .demo import run_demo

    _at_least(args, 1, "epochs")
    _at_least(args, 0, "rtl_samples", "system_samples")
    sweep = _read_sweep(args.sweep)
    if not args.no_bitstream:
        folder_or_refuse(args.build_dir, "--build-dir")
    board = BOARDS["icebreaker"]
    config = config_of(args, board)
    if args.epochs:
        config = config.replace(epochs=args.epochs)
    if not args.no_bitstream:   # the bitstream comes last: refuse a config for another
        board.check(config)      # device now, not minutes later
    config, data = prepare("yinyang", config, layers_given=True)
    source = f"{args.config}" if args.config else f"the {board.title} config"
    _say(f"ghostfpga demo: Yin-Yang {'-'.join(map(str, config.layers))} from {source}, "
         f"{config.epochs} epochs")
    result = run_demo(config, data, board.name, args.rtl_samples, args.system_samples,
                      not args.no_bitstream, Path(args.build_dir), say=_say)
    _print_comparison(result, config, data)
    system, bit = result.system, result.bitstream
    if system:
        rate = system.samples_per_second
        how = "on-board set" if system.on_board else "streamed"
        print(f"full system (co-simulated UART and driver, {how}): "
              f"{system.samples} samples, {system.mismatches} mismatches"
              + (f", {rate:,.0f} training samples/s at {config.link.clock_mhz:g} MHz"
                 if rate else ""))
    if bit:
        fmax = "-" if bit.fmax_mhz is None else f"{bit.fmax_mhz:.1f}"
        print(f"bitstream: {bit.luts} / {bit.luts_available} logic cells, {bit.dsps} "
              f"DSPs, Fmax {fmax} MHz at {bit.clock_mhz:g} MHz (placement seed {bit.seed}): "
              + (bit.problem or f"ok, {bit.bitstream}"))
    files = write_report(result, args.report, sweep)
    if args.json:
        write_json(args.json, result.to_dict())
    print(f"report: {files[0]} (plots beside it); {result.seconds['demo']:.0f} s in all")
    failed = result.rtl_mismatches or (system and system.mismatches)
    return 1 if failed else 2 if bit and bit.problem else 0
