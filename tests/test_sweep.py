"""ghostfpga sweep on Dask: points on a two-worker local cluster, a disk cache that a re-run
reads instead of computing, a worker killed mid-sweep, the narrowest format and the Pareto
front."""

import json

import numpy as np
import pytest

from ghostfpga.cli import main
from ghostfpga.config import Config, Hardware
from ghostfpga.golden.datasets import yinyang
from ghostfpga.sweep import SweepRow, narrowest, pareto, run_sweep, sweep_points

BASE = Config(layers=(4, 8, 3), epochs=1)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 400-sample Yin-Yang file: each point trains in a fraction of a second."""
    data = yinyang()
    path = tmp_path_factory.mktemp("data") / "yinyang400.npz"
    np.savez(path, X=data.x_train[:400], y=data.y_train[:400], X_test=data.x_test[:200],
             y_test=data.y_test[:200])
    return str(path)


def test_a_sweep_on_two_workers_then_from_the_cache(small, tmp_path, capsys):
    out, plot = tmp_path / "sweep.json", tmp_path / "sweep.png"
    argv = ["sweep", "--dataset", small, "--epochs", "1", "--weight-bits", "4,8,16",
            "--workers", "2", "--cache", str(tmp_path / "cache"), "--json", str(out),
            "--plot", str(plot)]
    assert main(argv + ["--config", _config(tmp_path)]) == 0
    first = json.loads(out.read_text())
    assert first["scheduler"].startswith("tcp://")
    assert [p["weight_bits"] for p in first["points"]] == [4, 8, 16]
    assert all(0 < p["test_accuracy"] <= 1 for p in first["points"])
    assert {"narrowest", "pareto", "float_ghost_test_accuracy"} <= set(first)
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert "narrowest within 0.5 points" in capsys.readouterr().out
    # the same sweep again: every point from the cache, no cluster
    assert main(argv + ["--config", _config(tmp_path)]) == 0
    again = json.loads(out.read_text())
    assert again["scheduler"] == "none: every point was cached"
    assert again["points"] == first["points"]


def _config(tmp_path):
    path = tmp_path / "base.toml"
    BASE.save(path)
    return str(path)


def test_a_worker_killed_mid_sweep_loses_no_point(small, tmp_path, monkeypatch):
    marker = tmp_path / "kill-once"
    marker.write_text("")
    monkeypatch.setenv("GHOSTFPGA_SWEEP_KILL", str(marker))
    result = run_sweep(BASE, small, sweep_points([6, 8, 12], [14], [8]), workers=2,
                       cache=tmp_path / "cache", progress=False, say=lambda _: None)
    assert not marker.exists()            # a worker took the marker and was killed
    assert [p.weight_bits for p in result.points] == [6, 8, 12]
    assert all(0 < p.test_accuracy <= 1 for p in result.points)


def test_narrowest_and_pareto():
    rows = [SweepRow(weight_bits=b, weight_frac=b - 3, error_frac=14, lanes=8, test_accuracy=a)
            for b, a in ((6, 0.70), (8, 0.968), (10, 0.975), (12, 0.972), (16, 0.976))]
    assert narrowest(rows, 0.972).weight_bits == 8        # 96.8 >= 97.2 - 0.5
    assert narrowest(rows, 0.99) is None
    # 12 bits is beaten by 10 (fewer bits, better accuracy); the others trade off
    assert [r.weight_bits for r in pareto(rows, synth=False)] == [6, 8, 10, 16]


def test_a_synthesis_sweep_reports_area_and_fmax(small, tmp_path):
    base = Config(layers=(4, 4, 3), epochs=1, hardware=Hardware(lanes=1, split_rows=False))
    result = run_sweep(base, small, sweep_points([6, 12], [14], [1]), synth=True, workers=2,
                       cache=tmp_path / "cache", progress=False, say=lambda _: None)
    narrow, wide = result.points
    assert narrow.fits and wide.fits
    # the narrower weights take fewer logic cells (the same core, 6 bits fewer per weight)
    assert 0 < narrow.luts < wide.luts < 5280
    assert narrow.fmax_mhz > 10 and wide.fmax_mhz > 10
