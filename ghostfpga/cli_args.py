"""Argument types shared by the commands: each refuses a value that cannot work at the door,
in argparse's own style (``ghostfpga run: error: argument --timeout: must be a number of
seconds above 0, not 'nan'``, exit 2)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

__all__ = ["positive_int", "non_negative_int", "positive_seconds", "int_list", "config_of",
           "config_option", "data_options", "json_option", "folder_or_refuse",
           "scheduler_or_refuse", "CommandError", "UsageError"]


class CommandError(Exception):
    """A command that cannot go on: the CLI's one error path (cli.py) prints
    ``ghostfpga COMMAND: error: MESSAGE`` and exits with ``code`` (2: what the user gave
    cannot work; 1: the work itself failed)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


class UsageError(CommandError, ValueError):
    """A command-line argument that cannot work (exit 2 with its message)."""


def _int_at_least(lowest: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be {what}, not {value}")
        return value
    return parse


positive_int = _int_at_least(1, "a positive integer")
non_negative_int = _int_at_least(0, "an integer of 0 or more")


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text!r}")
    return value


def int_list(text: str) -> list[int]:
    """Comma-separated integers, each at most once."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers, not {text!r}") \
            from None
    if not values:
        raise argparse.ArgumentTypeError("must list at least one integer")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(
            f"lists {', '.join(map(str, repeated))} more than once ({text!r})")
    return values


def config_of(args, board=None, saved=None):
    """The config a command runs: ``--config``; else ``saved`` (the config written beside a
    bitstream) when that file exists; else ``board``'s default config; else the built-in
    default. The one place every command loads it (errors: ghostfpga.config.ConfigError,
    reported by the CLI's one error path)."""
    from ghostfpga.config import Config

    if getattr(args, "config", None):
        return Config.load(args.config)
    if saved is not None and saved.is_file():
        return Config.load(saved)
    return board.config() if board is not None else Config()


# -- options shared by several commands: declared once, as argparse parent parsers ------------
def folder_or_refuse(path, option: str) -> Path:
    """``path`` as a folder a command may create and write into, or UsageError: not a file,
    and under no file (checked before the work)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is a file, not a folder")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is a file, not a folder")
    return path


def scheduler_or_refuse(address: str | None) -> None:
    """Reach the Dask scheduler ``address`` (tcp://HOST:PORT) before any work, or refuse."""
    import socket
    from urllib.parse import urlsplit

    if address is None:
        return
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or not port:
        raise UsageError(f"--scheduler must be tcp://HOST:PORT, not {address!r}")
    try:
        with socket.create_connection((parts.hostname, port), timeout=5):
            pass
    except OSError as exc:
        raise UsageError(f"--scheduler {address}: nothing answers there "
                         f"({exc.strerror or exc}); start it with dask-scheduler, or leave "
                         "--scheduler out for local workers") from None


def config_option(default: str) -> argparse.ArgumentParser:
    """``--config FILE``; ``default`` says what runs without it (``config_of``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="FILE", help=f"TOML config (default: {default})")
    return parent


def data_options(required: bool = False) -> argparse.ArgumentParser:
    """``--dataset`` (Yin-Yang unless ``required``) and ``--normalize``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--dataset", required=required, default=None if required else "yinyang",
                        help="yinyang, digits, mnist:DIR (IDX files), or a .npz / .csv file"
                             + ("" if required else " (default yinyang)"))
    parent.add_argument("--normalize", action="store_true",
                        help="scale each input feature of a user file to [0, 1]")
    return parent


def json_option(what: str = "the results") -> argparse.ArgumentParser:
    """``--json OUT``: ``what`` as JSON (its path checked before any work, cli.py)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", metavar="OUT", help=f"write {what} as JSON")
    return parent
