"""The report of ``ghostfpga compare``: a Markdown file with its PNG plots beside it.

Plots: learning curves of every model, the fixed model's confusion matrix, per-layer
histograms of weights, drives, errors and updates against each format's limits, and the
gradient alignment of the hardware's update per layer over training.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .report import markdown_table, percent

if TYPE_CHECKING:
    from ghostfpga.golden.studies.diagnostics import Checkpoint

    from .compare import Comparison
    from .sweep import SweepResult

__all__ = ["write_report", "plot_files"]

MODEL_NAMES = {"bp": "float backprop", "ghost": "float ghost", "fixed": "fixed (= hardware)"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_files(report: Path, sweep: bool = False) -> dict[str, Path]:
    stem = report.with_suffix("")
    kinds = ("curves", "confusion", "histograms", "alignment") + (("formats",) if sweep else ())
    return {kind: Path(f"{stem}_{kind}.png") for kind in kinds}


def _curves(result: Comparison, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, history in result.history.items():
        ax.plot([h["epoch"] for h in history], [100 * h["test_accuracy"] for h in history],
                label=MODEL_NAMES[name])
    ax.plot([result.epochs], [100 * result.rtl_test_accuracy], "k*", markersize=10,
            label="RTL, trained weights")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{result.dataset} {'-'.join(map(str, result.layers))}")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def _confusion(result: Comparison, path: Path) -> None:
    plt = _pyplot()
    counts = result.confusion
    n = len(counts)
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * n, 1.0 + 0.45 * n))
    ax.imshow(counts, cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, counts[i][j], ha="center", va="center", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_title("fixed model, test set")
    _save(fig, path)


def _histograms(result: Comparison, path: Path) -> None:
    plt = _pyplot()
    last = result.diagnostics[-1]
    layers = last.layers
    kinds = list(layers[0].histograms)
    fig, axes = plt.subplots(len(layers), len(kinds), figsize=(3.0 * len(kinds),
                                                              2.2 * len(layers)),
                             squeeze=False)
    for row, stats in zip(axes, layers):
        for ax, kind in zip(row, kinds):
            h = stats.histograms[kind]
            ax.stairs(h["counts"], h["edges"], fill=True, alpha=0.7)
            ax.axvline(0, color="orange", linewidth=1)           # one LSB
            ax.axvline(h["top_bits"], color="red", linewidth=1)  # the format's top
            ax.set_title(f"W{stats.layer} {kind} (zero: {100 * h['zero']:.0f} %)",
                         fontsize=9)
            ax.set_xlabel("log2 |value / LSB|", fontsize=7)
            ax.tick_params(labelsize=7)
    fig.suptitle(f"after epoch {last.epoch}: magnitudes in LSBs of each format; orange: "
                 "one LSB, red: the format's limit", fontsize=10)
    _save(fig, path)


def _alignment(result: Comparison, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    marks = result.diagnostics
    for k in range(len(marks[0].layers)):
        line, = ax.plot([c.epoch for c in marks],
                        [c.layers[k].alignment for c in marks], "o-",
                        label=f"W{k + 1}, mean of samples")
        ax.plot([c.epoch for c in marks], [c.layers[k].alignment_pooled
                                              for c in marks], "s--", color=line.get_color(),
                label=f"W{k + 1}, pooled")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cosine with backprop gradient")
    ax.set_title("the hardware's update (before rounding) vs backprop")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)


def _layer_rows(checkpoint: Checkpoint) -> list[list]:
    rows = []
    for s in checkpoint.layers:
        rows.append([f"W{s.layer}",
                     f"{s.weight_range[0]:.3g} .. {s.weight_range[1]:.3g} "
                     f"(±{s.weight_limit:g})", percent(s.weight_clipped),
                     f"{s.drive_range[0]:.3g} .. {s.drive_range[1]:.3g} "
                     f"(±{s.drive_limit:g})", percent(s.drive_saturated),
                     percent(s.error_zero), percent(s.error_below_lsb),
                     percent(s.scaled_error_saturated), percent(s.update_below_lsb),
                     percent(s.update_rounded_to_zero),
                     f"{s.alignment:.4f} / {s.alignment_pooled:.4f}"])
    return rows


def _findings(result: Comparison) -> list[str]:
    """Plain statements of where the gap comes from, from the measured values."""
    gap = 100 * (result.fixed_test_accuracy - result.float_ghost_test_accuracy)
    rule = 100 * (result.float_ghost_test_accuracy - result.float_bp_test_accuracy)
    last = result.diagnostics[-1].layers
    worst = max(last, key=lambda s: s.update_rounded_to_zero)
    low = min(last, key=lambda s: s.alignment)
    out = [f"Test accuracy, the learning rule (float ghost minus float backprop): {rule:+.2f} "
           f"points; the hardware's arithmetic (fixed minus float ghost): {gap:+.2f} points.",
           f"Most updates lost to rounding: W{worst.layer}, where "
           f"{percent(worst.update_below_lsb)} of the updates are below one weight LSB and "
           f"{percent(worst.update_rounded_to_zero)} round to zero.",
           f"Lowest alignment with the backprop gradient: W{low.layer}, cosine "
           f"{low.alignment:.4f}."]
    sat = [s for s in last if s.drive_saturated > 0.001 or s.weight_clipped > 0.001]
    if sat:
        out.append("Saturated values: " + ", ".join(
            f"W{s.layer} drives {percent(s.drive_saturated)} and weights "
            f"{percent(s.weight_clipped)}" for s in sat) + " (a drive saturates where the "
            "hard sigmoid is flat, so its rate and error do not change; saturated output "
            "drives can tie the prediction, which takes the lowest index).")
    else:
        out.append("No format saturates in more than 0.1 % of its values.")
    return out


def _system_lines(result: Comparison) -> list[str]:
    """The demo's full-system and bitstream sections (absent for ``compare``)."""
    lines = []
    sys_run = result.system
    if sys_run:
        how = ("uploaded through the simulated UART into the on-board training set and "
               "trained there" if sys_run.on_board else "streamed through the simulated UART")
        rate = sys_run.samples_per_second
        lines += ["## The full system in co-simulation", "",
                  f"The system top (UART, host link, core) in Verilator, driven by the host "
                  f"driver: {sys_run.samples} Yin-Yang samples {how}, then as many test "
                  f"samples inferred; {sys_run.mismatches} mismatches against the golden "
                  f"model in every result and weight"
                  + (f"; {rate:,.0f} training samples per second at the board's clock."
                     if rate else "."), ""]
    bit = result.bitstream
    if bit:
        verdict = "fits and meets its clock" if not bit.problem else bit.problem
        fmax = "-" if bit.fmax_mhz is None else f"{bit.fmax_mhz:.1f}"
        lines += [f"## The bitstream ({result.board})", "",
                  markdown_table(["logic cells", "FFs", "DSPs", "block RAMs", "SPRAMs",
                                  "clock MHz", "Fmax MHz", "placement seed", "seconds"],
                                 [[f"{bit.luts} / {bit.luts_available}", bit.ffs,
                                   f"{bit.dsps} / {bit.dsps_available}",
                                   f"{bit.brams} / {bit.brams_available}", bit.sprams,
                                   f"{bit.clock_mhz:g}", fmax, bit.seed,
                                   f"{bit.seconds:.0f}"]]),
                  "", f"The design {verdict}"
                  + (f": `{bit.bitstream}`." if bit.bitstream else "."), ""]
    return lines


def _sweep_lines(sweep: SweepResult, plot: Path) -> list[str]:
    """A sweep's result (``ghostfpga sweep --json``) as a section of the report."""
    best = sweep.narrowest
    rows = [[p.weight_bits, p.weight_frac, p.error_frac, p.lanes,
             percent(p.test_accuracy)] + ([p.luts] if p.luts is not None else [])
            for p in sweep.points]
    headers = ["weight bits", "weight frac", "error frac", "lanes", "test accuracy"]
    headers += ["logic cells"] if sweep.points and sweep.points[0].luts is not None else []
    return ["## Accuracy against the formats (`ghostfpga sweep`)", "",
            f"Float ghost model: {percent(sweep.float_ghost_test_accuracy)}; the narrowest "
            "formats within 0.5 points of it: " + (
                f"{best.weight_bits}-bit weights, error_frac {best.error_frac}."
                if best else "none."), "",
            markdown_table(headers, rows), "", f"![formats]({plot.name})", ""]


def write_report(result: Comparison, path: str | Path,
                 sweep: SweepResult | None = None) -> list[Path]:
    """Write the Markdown report and its plots (with a sweep's result, ``ghostfpga sweep
    --json``, its section and plot too); returns every file written."""
    from .sweep import plot_sweep

    path = Path(path)
    plots = plot_files(path, sweep is not None)
    if sweep is not None:
        plot_sweep(sweep, plots["formats"])
    _curves(result, plots["curves"])
    _confusion(result, plots["confusion"])
    _histograms(result, plots["histograms"])
    _alignment(result, plots["alignment"])
    secs = result.seconds
    lines = [
        f"# Hardware vs float: {result.dataset} {'-'.join(map(str, result.layers))}, "
        f"{result.variant} ghosts, {result.epochs} epochs", "",
        markdown_table(["model", "train accuracy", "test accuracy", "seconds"], [
            ["float backprop", percent(result.float_bp_train_accuracy),
             percent(result.float_bp_test_accuracy), f"{secs['float_bp']:.1f}"],
            ["float ghost", percent(result.float_ghost_train_accuracy),
             percent(result.float_ghost_test_accuracy), f"{secs['float_ghost']:.1f}"],
            ["fixed (= hardware)", percent(result.fixed_train_accuracy),
             percent(result.fixed_test_accuracy), f"{secs['fixed']:.1f}"],
            [f"RTL ({result.simulator}), trained weights", "-",
             percent(result.rtl_test_accuracy), f"{secs['rtl']:.1f}"]]),
        "",
        f"RTL: {result.rtl_samples} training samples bit for bit against the golden model "
        f"({result.rtl_train_mismatches} mismatches), and the whole test set from the fixed "
        f"model's trained weights loaded through the host port ({result.rtl_test_mismatches}"
        f" mismatches; predictions equal the fixed model's: "
        f"{'yes' if result.rtl_predictions_equal_fixed else 'NO'}).", ""] + \
        _system_lines(result) + ["## Where accuracy is lost", ""] + \
        [f"- {f}" for f in _findings(result)] + [
        "", f"![learning curves]({plots['curves'].name})", "",
        f"## Per layer, after epoch {result.diagnostics[-1].epoch}", "",
        "Ranges against the format's limits; shares of values. Errors below one LSB: of the "
        "float model's nonzero errors at the same weights, the share the error format cannot "
        "hold. Updates: before rounding, in weight LSBs.", "",
        markdown_table(["layer", "weights", "clipped", "drives", "saturated", "errors zero",
                        "errors < 1 LSB", "scaled errors saturated", "updates < 1 LSB",
                        "rounded to 0", "alignment (mean / pooled)"],
                       _layer_rows(result.diagnostics[-1])),
        "", f"![histograms]({plots['histograms'].name})", "",
        "## Gradient alignment over training", "",
        "Per layer, the cosine between the hardware's update before rounding (dequantized) and "
        "the float backprop gradient at the same weights over the probed samples: the mean of "
        "each sample's cosine / the cosine of all samples' vectors joined (samples with small "
        "gradients, where rounding dominates, weigh less).", "",
        markdown_table(["epoch"] + [f"W{s.layer}" for s in
                                    result.diagnostics[0].layers],
                       [[c.epoch] + [f"{s.alignment:.4f} / {s.alignment_pooled:.4f}"
                                        for s in c.layers]
                        for c in result.diagnostics]),
        "", f"![alignment]({plots['alignment'].name})", "",
        "## Confusion matrix of the fixed model", "",
        f"![confusion]({plots['confusion'].name})", ""]
    if sweep is not None:
        lines += _sweep_lines(sweep, plots["formats"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return [path, *plots.values()]
