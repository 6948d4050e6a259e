"""The benchmark scripts refuse an output they cannot write before any work (as the CLI does):
argparse's exit 2 with the option and the problem, in well under a second."""

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*.py"))


@pytest.fixture
def script(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return lambda name: importlib.import_module(name)


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_bad_json_path_is_refused_before_the_work(name, script, tmp_path, capsys):
    module = script(name)
    folder = tmp_path / "a-folder.json"
    folder.mkdir()
    for path, problem in ((tmp_path / "out.txt", "must end in .json"),
                          (folder, "is a folder")):
        with pytest.raises(SystemExit) as stop:
            module.main(["--json", str(path)])
        assert stop.value.code == 2
        assert f"--json {path}: {problem}" in capsys.readouterr().err
    assert not (tmp_path / "out.txt").exists()


def test_every_benchmark_is_checked():
    assert {"accuracy", "boards", "cycles", "fixed_accuracy", "link", "overlap", "synth",
            "throughput"} <= set(SCRIPTS)
