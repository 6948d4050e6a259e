"""Readable tables, JSON results, progress bars and plots for every command."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["table", "write_json", "progress_bar", "plot_history", "percent", "output_problem"]


def percent(x: float) -> str:
    return f"{100.0 * x:.2f} %"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> str:
    """A plain-text table with right-aligned numeric columns."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths))

    out = [] if title is None else [title]
    out += [line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]]
    return "\n".join(out)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _fmt(c: Any) -> str:
    if isinstance(c, float):
        return f"{c:.4g}" if abs(c) < 1e-3 and c != 0 else f"{c:.4f}".rstrip("0").rstrip(".")
    return str(c)


def _numeric(s: str) -> bool:
    try:
        float(s.replace("%", "").strip())
        return True
    except ValueError:
        return False


def outputs_or_exit(parser, *outputs) -> None:
    """Exit 2 through ``parser`` (its usage line and the problem) unless every output
    ``(option, path, suffixes)`` can be written: the benchmark scripts check theirs before
    the work, as the CLI does (``output_problem``)."""
    for option, path, suffixes in outputs:
        problem = output_problem(path, option, suffixes=suffixes)
        if problem:
            parser.error(problem)


def output_problem(path: str | Path | None, option: str, inputs=(),
                   suffixes: tuple[str, ...] = ()) -> str | None:
    """Why ``path`` cannot be written by ``option`` (checked before the work starts), or
    None: a folder, a parent that is a file, a place it cannot be created in (tried by
    opening it: ``os.access`` says yes to root on a read-only file system), one of the
    command's ``inputs`` (never overwritten), or a suffix not in ``suffixes``."""
    import os

    if path is None:
        return None
    path = Path(path)
    for given in inputs:
        if given is not None and Path(given).exists() and path.exists() \
                and path.resolve() == Path(given).resolve():
            return f"{option} {path}: is an input of this command; it is not overwritten"
    if path.is_dir():
        return f"{option} {path}: is a folder, not a file"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{option} {path}: {parent} is a file, not a folder"
    if suffixes and path.suffix.lower() not in suffixes:
        return f"{option} {path}: must end in {' or '.join(suffixes)}"
    existed = path.exists()
    try:
        if path.parent.exists():
            with open(path, "a"):   # appends nothing; an existing file stays as it was
                pass
        else:
            probe = parent / f".ghostfpga-probe-{os.getpid()}"
            probe.touch()
            probe.unlink()
    except OSError as exc:
        return f"{option} {path}: cannot be written ({exc.strerror})"
    finally:
        if not existed and path.exists():
            path.unlink()
    return None


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` as indented JSON, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")


def _json_default(o: Any):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


@contextmanager
def progress_bar(total: int, desc: str, unit: str = "sample"):
    """A tqdm bar on stderr (hidden when stderr is not a terminal); yields ``update(n)``."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None,
               dynamic_ncols=True, leave=False)
    try:
        yield bar.update
    finally:
        bar.close()


def _epoch_plot(path: str | Path, title: str, ylabel: str, draw) -> None:
    """A figure of values per epoch: ``draw(ax)`` draws the lines; saved as an image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    draw(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_history(runs: dict[str, list[dict]], path: str | Path, title: str) -> None:
    """Test accuracy per epoch for each named run, saved as an image."""
    def draw(ax):
        for name, history in runs.items():
            ax.plot([h["epoch"] for h in history],
                    [100 * h["test_accuracy"] for h in history], label=name)

    _epoch_plot(path, title, "test accuracy (%)", draw)


def plot_fixed_point(rows, path: str | Path) -> None:
    """The feedforward state's distance to the free fixed point per epoch, one line per
    variant and layer (golden/studies/ffinit.py), saved as an image."""
    def draw(ax):
        for variant, layer in sorted({(r.variant, r.layer) for r in rows}):
            line = [r for r in rows if (r.variant, r.layer) == (variant, layer)]
            ax.plot([r.epoch for r in line], [r.distance for r in line], marker="o",
                    label=f"{variant}, layer {layer}")
        ax.set_yscale("symlog", linthresh=1e-6)

    _epoch_plot(path, "feedforward state vs the free fixed point", "||u - a|| / ||a||", draw)


def plot_cancellation(rows, path: str | Path) -> None:
    """The learned ghosts' cancellation residual relative to the error signal per epoch, one
    line per rule, layer and moment (before / after the free-phase fit), saved as an image;
    epochs without a signal are left out."""
    def draw(ax):
        for rule, layer in sorted({(r.rule, r.layer) for r in rows}):
            line = [r for r in rows if (r.rule, r.layer) == (rule, layer)]
            moments = ("before", "after") if rule == "normalized" else ("before",)
            for moment in moments:
                points = [(r.epoch, getattr(r, moment)) for r in line
                          if getattr(r, moment) == getattr(r, moment)]
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                        label=f"{rule}, layer {layer}, {moment} the fit"
                        if rule == "normalized" else f"{rule}, layer {layer}")
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_yscale("log")

    _epoch_plot(path, "learned ghosts: cancellation residual", "residual / error signal", draw)


def plot_loop(rows, path: str | Path) -> None:
    """The update's cosine with backprop against the number of dynamics steps, one line per
    alpha, one panel per variant and epoch (golden/studies/loopgain.py), saved as an image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(r.variant, r.epoch) for r in rows})
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), sharey=True)
    for ax, (variant, epoch) in zip(np.atleast_1d(axes), panels):
        mine = [r for r in rows if (r.variant, r.epoch) == (variant, epoch)]
        for alpha in sorted({r.alpha for r in mine}):
            line = sorted((r.steps, r.cosine) for r in mine if r.alpha == alpha)
            ax.plot([p[0] for p in line], [p[1] for p in line], marker="o",
                    label=f"alpha = {alpha:g}")
        ax.set_title(f"{variant}, epoch {epoch} (gain {mine[0].gain_median:.2f})")
        ax.set_xscale("log")
        ticks = sorted({r.steps for r in mine})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("steps")
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("cosine with backprop")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
