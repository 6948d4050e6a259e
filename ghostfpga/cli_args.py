"""Argument types shared by the commands: each refuses a value that cannot work at the door,
in argparse's own style (``ghostfpga run: error: argument --timeout: must be a number of
seconds above 0, not 'nan'``, exit 2)."""

from __future__ import annotations

import argparse
import math

__all__ = ["positive_int", "non_negative_int", "positive_seconds", "int_list"]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer of 0 or more, not {text!r}") \
            from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer of 0 or more, not {value}")
    return value


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
