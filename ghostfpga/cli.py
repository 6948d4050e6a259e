"""The ``ghostfpga`` command line: the parser and the entry point. The commands live in
cli_models.py (train, gradcheck), cli_hardware.py (verilog, sim, run, sim-board, build,
program) and cli_study.py (compare, sweep, demo)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ghostfpga.config import ConfigError
from ghostfpga.golden.datasets import DatasetError

from . import __version__, cli_hardware, cli_models, cli_study
from .cli_args import CommandError
from .report import output_problem
from .stopping import Stopped, stop_on_signals

__all__ = ["main", "build_parser"]

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ghostfpga",
        description="On-chip learning hardware with ghost units: golden models, generator, "
                    "verification.")
    parser.add_argument("--version", action="version", version=f"ghostfpga {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (cli_models, cli_hardware, cli_study):
        module.add_commands(sub)
    return parser


# every output option: its flag and the suffixes it takes (none: any)
_OUTPUTS = {"json": ("--json", (".json",)), "plot": ("--plot", (".png", ".pdf", ".svg")),
            "report": ("--report", (".md",)), "output": ("-o", (".v",))}
_INPUTS = ("config", "dataset", "sweep", "bitstream")


def _outputs(args) -> list[tuple[str, str, tuple[str, ...]]]:
    """(path, option, suffixes) of everything the command will write that the user named,
    with what it writes beside them (verilog: the config beside the Verilog)."""
    out = [(getattr(args, dest), option, suffixes) for dest, (option, suffixes)
           in _OUTPUTS.items() if getattr(args, dest, None)]
    if args.command == "verilog":
        out.append((str(Path(args.output).with_suffix(".toml")), "-o (its config beside it)",
                    ()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # a refused argument (2) or --help / --version (0)
        return int(exc.code or 0)
    inputs = [getattr(args, name, None) for name in _INPUTS]
    for path, option, suffixes in _outputs(args):   # before any work: no result is lost
        problem = output_problem(path, option, inputs, suffixes)
        if problem:
            print(f"ghostfpga {args.command}: error: {problem}", file=sys.stderr)
            return 2
    try:
        with stop_on_signals():
            return args.func(args) or 0
    except (ConfigError, DatasetError, CommandError) as exc:   # the one error path
        print(f"ghostfpga {args.command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "code", 2)
    except KeyboardInterrupt as exc:   # Ctrl-C, SIGTERM, SIGHUP (ghostfpga/stopping.py)
        stop = exc if isinstance(exc, Stopped) else Stopped(signal.SIGINT)
        print(f"\nghostfpga {args.command}: stopped ({stop.name})", file=sys.stderr)
        return stop.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
