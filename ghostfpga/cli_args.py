"""Argument types shared by the commands: each refuses a value that cannot work at the door,
in argparse's own style (``ghostfpga run: error: argument --timeout: must be a number of
seconds above 0, not 'nan'``, exit 2)."""

from __future__ import annotations

import argparse
import math

__all__ = ["positive_int", "non_negative_int", "positive_seconds", "int_list"]


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
