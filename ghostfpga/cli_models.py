"""The model commands: ``train`` and ``gradcheck``."""

from __future__ import annotations

import argparse

from ghostfpga.config import FEEDBACKS, SCHEDULES, VARIANTS, Config, ConfigError

from .cli_args import config_of, config_option, data_options, json_option, positive_int
from .cli_args import UsageError
from .report import percent, plot_history, table, write_json
from .runs import MODELS, prepare, run_training

def add_commands(sub) -> None:
    p = sub.add_parser("train", help="train the float ghost model or the backprop baseline",
                       parents=[config_option("built-in; every field a default"),
                                data_options(required=True), json_option()])
    p.add_argument("--model", choices=MODELS, default="ghost", help="learning rule (default ghost)")
    _add_model_options(p)
    p.add_argument("--plot", metavar="OUT.png", help="plot test accuracy per epoch")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("gradcheck",
                       help="compare the ghost update with the backprop gradient (the claim)",
                       parents=[json_option()])
    p.add_argument("--fixed-point", action="store_true",
                   help="instead: the distance between the feedforward state and the free "
                        "dynamics' fixed point, per variant and layer, over training "
                        "(feedforward initialization, Yin-Yang 4-30-3)")
    p.add_argument("--cancellation", action="store_true",
                   help="instead: how well learned ghosts cancel the feedback, per rule and "
                        "hidden layer, over training (residual / beta-sized error signal, "
                        "Yin-Yang 4-30-3)")
    p.add_argument("--loop", action="store_true",
                   help="instead: the loop gain of ghosts fitted to the free state under "
                        "dynamics, and their update's cosine with backprop per alpha and "
                        "number of steps (why the config allows 3 steps of alpha = 1 only)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="with --fixed-point, --cancellation or --loop: epochs of training "
                        "(default 5)")
    p.add_argument("--layers", type=_layers, metavar="4,N,...,3", default=None,
                   help="with --fixed-point or --cancellation: the Yin-Yang network "
                        "(default 4,30,3)")
    p.add_argument("--plot", metavar="OUT.png",
                   help="with --fixed-point, --cancellation or --loop: plot the measurement")
    p.set_defaults(func=cmd_gradcheck)


def _layers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.replace("-", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"layer sizes must look like 4,30,3, not {text!r}")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layers", type=_layers, metavar="N,N,...",
                   help="layer sizes, input first (default: input, 30 or 32 hidden, classes)")
    p.add_argument("--variant", choices=VARIANTS, help="ghost units (default tied)")
    p.add_argument("--feedback", choices=FEEDBACKS, help="feedback weights (default transpose)")
    p.add_argument("--schedule", choices=SCHEDULES, help="nudged phase (default sweep)")
    p.add_argument("--beta", type=float, help="nudging strength (default 2^-6)")
    p.add_argument("--lr", type=float, help="learning rate of every layer (default 0.05)")
    p.add_argument("--epochs", type=positive_int, help="passes over the training set (default 40)")
    p.add_argument("--seed", type=int, help="seed of initialization and sample order")


def _config_from(args: argparse.Namespace) -> tuple[Config, bool]:
    """The config from --config and the command-line overrides; and whether layers were given."""
    config = config_of(args)
    layers_given = bool(args.config)
    changes = {}
    for name in ("variant", "feedback", "schedule", "beta", "lr", "epochs", "seed"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "layers", None) is not None:
        changes["layers"] = args.layers
        layers_given = True
    return (config.replace(**changes) if changes else config), layers_given


_RUN_HEADERS = ["model", "variant", "feedback", "schedule", "layers", "epochs", "train acc",
                "test acc", "seconds"]


def _run_row(run) -> list:
    return [run.model, run.variant or "-", run.feedback or "-", run.schedule or "-",
            "-".join(map(str, run.layers)), run.epochs, percent(run.train_accuracy),
            percent(run.test_accuracy), f"{run.seconds:.1f}"]


def cmd_train(args: argparse.Namespace) -> int:
    config, layers_given = _config_from(args)
    config, data = prepare(args.dataset, config, layers_given, normalize=args.normalize)
    run = run_training(config, data, args.model)
    print(table(_RUN_HEADERS, [_run_row(run)], title=f"dataset {data.name}: "
                f"{len(data.y_train)} train / {len(data.y_test)} test samples"))
    if args.json:
        write_json(args.json, run.to_dict())
    if args.plot:
        plot_history({args.model: run.history}, args.plot, f"{data.name}")
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from ghostfpga.golden.studies.gradcheck import beta_slopes, gradcheck

    sections = [name for name in ("fixed_point", "cancellation", "loop") if getattr(args, name)]
    if len(sections) > 1:
        raise ConfigError("gradcheck", " ".join("--" + n.replace("_", "-") for n in sections),
                          "takes at most one of --fixed-point, --cancellation and --loop")
    idle = [f"--{name}" for name in ("epochs", "layers", "plot")
            if getattr(args, name) is not None]
    if not sections and idle:
        raise UsageError(f"{', '.join(idle)} {'takes' if len(idle) == 1 else 'take'} "
                         "effect only with --fixed-point, "
                         "--cancellation or --loop")
    if args.layers is not None and args.loop:
        raise UsageError("--layers takes effect only with --fixed-point or --cancellation")
    args.epochs = 5 if args.epochs is None else args.epochs
    args.layers = (4, 30, 3) if args.layers is None else args.layers
    if sections and (args.layers[0], args.layers[-1]) != (4, 3):
        raise ConfigError("layers", args.layers, "must have 4 inputs and 3 outputs (Yin-Yang)")
    if args.fixed_point:
        return _fixed_point(args)
    if args.cancellation:
        return _cancellation(args)
    if args.loop:
        return _loop(args)

    rows = gradcheck()
    slopes = beta_slopes(rows)
    print(table(["layers", "schedule", "beta", "layer", "cosine", "rel. error", "slope"],
                [["-".join(map(str, r.layers)), r.schedule, f"{r.beta:g}", f"W{r.layer}",
                  f"{r.cosine:.6f}", f"{r.relative_error:.3g}",
                  f"{slopes[(r.layers, r.schedule, r.layer)]:.2f}"] for r in rows],
                title="ghost update vs backprop gradient (tied ghosts, transposed feedback; "
                      "slope = d log(rel. error) / d log(beta), 1 = linear)"))
    if args.json:
        write_json(args.json, {"rows": [r.to_dict() for r in rows],
                               "slopes": [{"layers": list(k[0]), "schedule": k[1],
                                           "layer": k[2], "slope": v}
                                          for k, v in slopes.items()]})
    return 0


def _name(layers) -> str:
    return "-".join(map(str, layers))


def _report_section(args: argparse.Namespace, rows, headers, cells, title: str, plot) -> int:
    """Print a gradcheck section's table; write its rows as JSON and its plot if asked."""
    print(table(headers, [cells(r) for r in rows], title=title))
    if args.json:
        write_json(args.json, {"rows": [r.to_dict() for r in rows]})
    if args.plot:
        plot(rows, args.plot)
    return 0


def _fixed_point(args: argparse.Namespace) -> int:
    from ghostfpga.golden.datasets import yinyang
    from ghostfpga.golden.studies.ffinit import fixed_point_over_training

    from .report import plot_fixed_point

    data, rows = yinyang(), []
    for variant in VARIANTS:
        rows += fixed_point_over_training(Config(layers=args.layers, variant=variant), data,
                                          args.epochs)
    return _report_section(
        args, rows, ["variant", "epoch", "layer", "distance", "before the fit", "test acc"],
        lambda r: [r.variant, r.epoch, f"{r.layer}", f"{r.distance:.3g}",
                   "-" if r.before_fit is None else f"{r.before_fit:.3g}",
                   percent(r.test_accuracy)],
        f"feedforward state vs the free dynamics' fixed point (Yin-Yang {_name(args.layers)}, "
        "sweep; ||u - a|| / ||a|| after 100 Euler steps at beta = 0)", plot_fixed_point)


def _cancellation(args: argparse.Namespace) -> int:
    from ghostfpga.config import GHOST_RULES
    from ghostfpga.golden.studies.cancellation import cancellation_over_training
    from ghostfpga.golden.datasets import yinyang

    from .report import plot_cancellation

    data, rows = yinyang(), []
    for rule in GHOST_RULES:
        rows += cancellation_over_training(Config(layers=args.layers, ghost_rule=rule), data,
                                           args.epochs)

    def ratio(v):
        return "no signal" if v != v else f"{v:.3g}"

    return _report_section(
        args, rows, ["rule", "epoch", "layer", "before the fit", "after the fit", "signal",
                     "test acc"],
        lambda r: [r.rule, f"{r.epoch:g}", f"{r.layer}", ratio(r.before), ratio(r.after),
                   f"{r.signal:.3g}", percent(r.test_accuracy)],
        "learned ghosts: ||feedback - ghost output|| / ||beta-sized error signal|| at the "
        f"free state (Yin-Yang {_name(args.layers)}, sweep, 100 training samples; learning "
        "needs it well below 1)", plot_cancellation)


def _loop(args: argparse.Namespace) -> int:
    from ghostfpga.golden.datasets import yinyang
    from ghostfpga.golden.studies.loopgain import loop_analysis

    from .report import plot_loop

    return _report_section(
        args, loop_analysis(yinyang(), args.epochs),
        ["epoch", "loop gain (median)", "max", "variant", "alpha", "steps", "cosine"],
        lambda r: [r.epoch, f"{r.gain_median:.2f}", f"{r.gain_max:.2f}", r.variant,
                   f"{r.alpha:g}", r.steps, f"{r.cosine:.3f}"],
        "ghosts fitted to the free state under dynamics (Yin-Yang 4-30-3, learned ghosts "
        "trained by the normalized rule; epoch 0: after their warm-up): the loop gain sigma = "
        "||D W_2 D|| (above 1: the loop runs away for every alpha) and the smaller layer "
        "cosine of the update with backprop (beta = 1e-3, 40 test inputs)", plot_loop)
