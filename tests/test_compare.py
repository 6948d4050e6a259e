"""ghostfpga compare: every model, the RTL checks, the per-layer diagnostics and the report."""

import json

import numpy as np
import pytest

from ghostfpga.cli import main
from ghostfpga.config import Config, Numerics
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.studies.diagnostics import probe_checkpoint
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.golden.training import train

COMPARE_KEYS = {"float_bp_test_accuracy", "float_ghost_test_accuracy", "fixed_test_accuracy",
                "rtl_test_accuracy", "rtl_mismatches", "rtl_samples", "layers", "config",
                "diagnostics", "history", "confusion", "seconds"}


def test_compare_writes_the_table_the_json_and_the_report(tmp_path, capsys):
    out, report = tmp_path / "compare.json", tmp_path / "report" / "compare.md"
    sweep = tmp_path / "sweep.json"
    sweep.write_text(json.dumps({
        "dataset": "yinyang", "float_ghost_test_accuracy": 0.8, "narrowest": None,
        "points": [{"weight_bits": b, "weight_frac": b - 3, "error_frac": 14, "lanes": 8,
                    "test_accuracy": a} for b, a in ((8, 0.7), (16, 0.79))]}))
    assert main(["compare", "--epochs", "1", "--rtl-samples", "30", "--json", str(out),
                 "--report", str(report), "--sweep", str(sweep)]) == 0
    result = json.loads(out.read_text())
    assert COMPARE_KEYS <= set(result)
    assert result["rtl_mismatches"] == 0 and result["rtl_samples"] == 30
    # the RTL loaded with the trained weights predicts exactly what the fixed model does
    assert result["rtl_predictions_equal_fixed"]
    assert result["rtl_test_accuracy"] == result["fixed_test_accuracy"]
    assert [c["epoch"] for c in result["diagnostics"]] == [0, 1]
    assert sum(map(sum, result["confusion"])) == 1000
    text = report.read_text()
    for name in ("curves", "confusion", "histograms", "alignment", "formats"):
        png = tmp_path / "report" / f"compare_{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png.name})" in text
    assert "## Where accuracy is lost" in text and "## Accuracy against the formats" in text
    assert "RTL, trained weights" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["compare", "--json", "."], "--json .: is a folder, not a file"),
    (["compare", "--report", "{file}/report.md"], "is a file, not a folder"),
    (["compare", "--epochs", "0"], "--epochs: must be a positive integer"),
    (["compare", "--sweep", "{file}"], "not the JSON of ghostfpga sweep"),
])
def test_compare_checks_its_arguments_before_the_work(capsys, tmp_path, argv, message):
    (tmp_path / "file").write_text("[]")
    argv = [a.replace("{file}", str(tmp_path / "file")) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def _probe(config, epochs=1):
    data = yinyang()
    model = FixedModel(config)
    if epochs:
        train(model, data, epochs=epochs)
    before = [m.copy() for m in model.params.W], model.lfsr_position
    checkpoint = probe_checkpoint(model, data.x_train[:150], data.y_train[:150],
                                  model.etas(config.lr_at(0)), epochs)
    assert all((a == b).all() for a, b in zip(before[0], model.params.W))
    assert model.lfsr_position == before[1]   # the probe leaves the model as it was
    return checkpoint


def test_the_probe_finds_where_narrow_weights_lose_the_updates():
    wide = _probe(Config())
    narrow = _probe(Config(numerics=Numerics(weight_bits=8, weight_frac=5)))
    for w, n in zip(wide.layers, narrow.layers):
        # 16-bit weights: the update (before rounding) is the backprop gradient's direction
        assert w.alignment > 0.98
        # 8-bit weights: far more of the updates are below one LSB and round to zero
        assert n.update_below_lsb > 2 * w.update_below_lsb
        assert n.update_rounded_to_zero > 2 * w.update_rounded_to_zero
        assert 0 <= w.error_zero <= 1 and w.weight_limit == 8.0
        assert sum(w.histograms["weights"]["counts"]) == np.prod(
            FixedModel(Config()).params.W[w.layer - 1].shape)
