"""Be the hardest user: bad or odd input to every command, each case one line of a table. Every
case must end with its exit code and a message that names the problem (no traceback), before
any work starts (the work functions are replaced by a tripwire), within a bounded time (no
hang), and leave every file the user gave as it was. The Python API's own refusals are in
tests/test_device.py and tests/test_config.py; the link's (garbage, floods, resets) in
tests/test_noisy_link.py; Ctrl-C and SIGTERM in tests/test_stopping.py."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

from ghostfpga.cli import main

WORK = [   # (module, name): what a command runs once its inputs are checked
    ("ghostfpga.cli_models", "run_training"), ("ghostfpga.runs", "run_training"),
    ("ghostfpga.hardware", "simulate"), ("ghostfpga.hardware", "run_on_device"),
    ("ghostfpga.hardware", "write_verilog"), ("ghostfpga.hardware", "verify_build"),
    ("ghostfpga.compare", "compare"), ("ghostfpga.sweep", "run_sweep"),
    ("ghostfpga.demo", "run_demo"), ("ghostfpga.fuzz", "run_fuzz"),
    ("ghostfpga.boards.bitstream.build", "build"),
    ("ghostfpga.boards.bitstream.program", "program"),
    ("ghostfpga.sim.system.cocotb_sim", "serve_board"),
    ("ghostfpga.golden.studies.gradcheck", "gradcheck"),
    ("ghostfpga.golden.studies.ffinit", "fixed_point_over_training"),
    ("ghostfpga.golden.studies.cancellation", "cancellation_over_training"),
    ("ghostfpga.golden.studies.loopgain", "loop_analysis"),
]

# commands that take --config, with the arguments that make the rest of the line valid
CONFIG_COMMANDS = {
    "train": ["--dataset", "yinyang"],
    "verilog": ["-o", "{tmp}/core.v"],
    "sim": ["--samples", "4"],
    "run": ["--port", "fake", "--samples", "4"],
    "sim-board": ["--listen", "4000"],
    "build": ["--board", "icebreaker"],
    "compare": ["--epochs", "1"],
    "sweep": ["--weight-bits", "8"],
    "demo": ["--no-bitstream"],
}
BAD_CONFIGS = [   # (file name, contents, what the message names)
    ("absent.toml", None, "cannot be read"),
    ("broken.toml", "layers = [4, 30\n", "broken.toml"),
    ("unknown.toml", "layerz = [4, 30, 3]\n", "layerz"),
    ("beta.toml", "beta = 0\n", "'beta'"),
    ("lanes.toml", "[hardware]\nlanes = 0\n", "lanes"),
    ("weights.toml", "[numerics]\nweight_bits = 40\n", "weight_bits"),
    ("type.toml", "epochs = 'many'\n", "epochs"),
    ("config.json", "{}", "config.json"),
]

# commands that take --dataset
DATA_COMMANDS = {"train": [], "sim": ["--samples", "4"], "run": ["--port", "fake"],
                 "compare": ["--epochs", "1"], "sweep": ["--weight-bits", "8"]}
BAD_DATA = [   # (file name, writer, what the message names)
    ("absent.npz", None, "no such data file"),
    ("noX.npz", lambda p: np.savez(p, y=np.zeros(4)), "noX.npz"),
    ("nan.npz", lambda p: np.savez(p, X=np.full((6, 4), np.nan), y=np.zeros(6, int)), "nan.npz"),
    ("short.csv", lambda p: Path(p).write_text("1,2\n3\n"), "short.csv"),
    ("data.txt", lambda p: Path(p).write_text("1,2,3\n"), "data.txt"),
    ("mnist", None, "mnist"),
]

# commands that write --json
JSON_COMMANDS = {"train": ["--dataset", "yinyang"], "gradcheck": ["--fixed-point"],
                 "sim": ["--samples", "4"], "fuzz": ["--configs", "1"],
                 "run": ["--port", "fake", "--samples", "4"], "build": ["--board", "icebreaker"],
                 "compare": ["--epochs", "1"], "sweep": ["--weight-bits", "8"],
                 "demo": ["--no-bitstream"]}
BAD_OUTPUTS = [   # (path, what the message names)
    ("{tmp}/out.txt", "out.txt"),                       # not .json
    ("{tmp}/given.toml/out.json", "is a file"),         # under a file
    ("/proc/out.json", "/proc/out.json"),               # a place nothing can be written
    ("{tmp}", "{tmp}"),                                 # a folder
    ("{tmp}/given.toml", "given.toml"),                 # the user's own config
]

OTHER = [   # (argv, exit code, what the message names): one value a case
    (["train", "--dataset", "yinyang", "--epochs", "0"], 2, "--epochs"),
    (["train", "--dataset", "yinyang", "--epochs", "-3"], 2, "--epochs"),
    (["train", "--dataset", "yinyang", "--epochs", "x"], 2, "--epochs"),
    (["train", "--dataset", "yinyang", "--layers", "4,0,3"], 2, "layers"),
    (["train", "--dataset", "yinyang", "--layers", "4,,3"], 2, "--layers"),
    (["train", "--dataset", "yinyang", "--beta", "nan"], 2, "beta"),
    (["train", "--dataset", "yinyang", "--lr", "-1"], 2, "lr"),
    (["train", "--dataset", "yinyang", "--plot", "{tmp}/p.txt"], 2, "p.txt"),
    (["train", "--dataset", "yinyang", "--normalize"], 2, "--normalize"),
    (["train", "--dataset", "yinyang", "--model", "svm"], 2, "--model"),
    (["train", "--dataset", "yinyang", "--variant", "ghostly"], 2, "--variant"),
    (["train", "--dataset", "yinyang", "--seed", "1.5"], 2, "--seed"),
    (["gradcheck", "--epochs", "2"], 2, "--epochs"),
    (["gradcheck", "--plot", "{tmp}/g.png"], 2, "--plot"),
    (["gradcheck", "--fixed-point", "--loop"], 2, "at most one"),
    (["gradcheck", "--loop", "--layers", "4,8,3"], 2, "--layers"),
    (["gradcheck", "--fixed-point", "--layers", "2,8,3"], 2, "layers"),
    (["gradcheck", "--fixed-point", "--epochs", "0"], 2, "--epochs"),
    (["verilog", "-o", "{tmp}/core.txt"], 2, "core.txt"),
    (["verilog", "-o", "{tmp}/given.toml"], 2, "given.toml"),
    (["verilog", "--config", "{tmp}/given.toml", "-o", "{tmp}/given.v"], 2, "given.toml"),
    (["verilog", "-o", "/proc/core.v"], 2, "/proc/core.v"),
    (["sim", "--samples", "0"], 2, "--samples"),
    (["sim", "--samples", "-3"], 2, "--samples"),
    (["sim", "--test-samples", "-1"], 2, "--test-samples"),
    (["sim", "--epochs", "0"], 2, "--epochs"),
    (["sim", "--simulator", "modelsim"], 2, "--simulator"),
    (["sim", "--netlist", "--simulator", "amaranth"], 2, "amaranth"),
    (["fuzz", "--configs", "0"], 2, "--configs"),
    (["fuzz", "--samples", "61"], 2, "--samples"),
    (["fuzz", "--workers", "0"], 2, "--workers"),
    (["fuzz", "--workers", "-2"], 2, "--workers"),
    (["fuzz", "--max-lanes", "0"], 2, "--max-lanes"),
    (["fuzz", "--seed", "-1"], 2, "--seed"),
    (["fuzz", "--first", "-1"], 2, "--first"),
    (["fuzz", "--keep", "{tmp}/given.toml"], 2, "--keep"),
    (["fuzz", "--scheduler", "tcp://"], 2, "--scheduler"),
    (["run", "--port", "fake", "--timeout", "0"], 2, "--timeout"),
    (["run", "--port", "fake", "--timeout", "-1"], 2, "--timeout"),
    (["run", "--port", "fake", "--timeout", "nan"], 2, "--timeout"),
    (["run", "--port", "fake", "--timeout", "inf"], 2, "--timeout"),
    (["run", "--port", "fake", "--samples", "0"], 2, "--samples"),
    (["run", "--port", "fake", "--epochs", "0"], 2, "--epochs"),
    (["run", "--port", "fake", "--test-samples", "-2"], 2, "--test-samples"),
    (["run", "--port", "fake", "--netlist"], 2, "--netlist"),
    (["run", "--port", "fake", "--board", "de10"], 2, "--board"),
    (["run", "--port", "auto"], 2, "--board"),
    (["run", "--port", "fake", "--on-board", "--samples", "40"], 2, "store_samples"),
    (["run", "--port", "fake", "--on-board", "--resume", "--board", "ulx3s", "--samples",
      "8"], 2, "ulx3s"),
    (["sim-board", "--listen", "0"], 2, "--listen"),
    (["sim-board", "--listen", "70000"], 2, "--listen"),
    (["sim-board", "--listen", "port"], 2, "--listen"),
    (["build", "--board", "de10"], 2, "--board"),
    (["build", "--board", "icebreaker", "--verify-samples", "8"], 2, "--verify"),
    (["build", "--board", "icebreaker", "--verify", "--verify-samples", "0"], 2,
     "--verify-samples"),
    (["build", "--board", "ulx3s", "--verify"], 2, "--verify"),
    (["build", "--board", "icebreaker", "--build-dir", "{tmp}/given.toml"], 2, "given.toml"),
    (["build", "--board", "icebreaker", "--config", "{examples}/ulx3s_digits.toml"], 2,
     "hardware.device"),
    (["program", "--board", "icebreaker", "--bitstream", "{tmp}/absent.bin"], 2, "absent.bin"),
    (["program", "--board", "icebreaker", "--bitstream", "{tmp}/given.toml"], 2, "given.toml"),
    (["program", "--board", "de10"], 2, "--board"),
    (["program", "--board", "icebreaker", "--timeout", "-1"], 2, "--timeout"),
    (["compare", "--epochs", "0"], 2, "--epochs"),
    (["compare", "--rtl-samples", "-1"], 2, "--rtl-samples"),
    (["compare", "--workers", "0"], 2, "--workers"),
    (["compare", "--simulator", "ghdl"], 2, "--simulator"),
    (["compare", "--report", "{tmp}/report.txt"], 2, "report.txt"),
    (["compare", "--report", "{tmp}/given.toml"], 2, "given.toml"),
    (["compare", "--sweep", "{tmp}/absent.json"], 2, "absent.json"),
    (["compare", "--sweep", "{tmp}/given.toml"], 2, "given.toml"),
    (["compare", "--sweep", "{tmp}/list.json"], 2, "list.json"),
    (["compare", "--sweep", "{tmp}/points.json"], 2, "points"),
    (["compare", "--board", "de10"], 2, "--board"),
    (["sweep", "--weight-bits", "8,x"], 2, "--weight-bits"),
    (["sweep", "--weight-bits", "8,8"], 2, "--weight-bits"),
    (["sweep", "--weight-bits", "1"], 2, "--weight-bits"),
    (["sweep", "--weight-bits", "6", "--weight-int-bits", "6"], 2, "--weight-int-bits"),
    (["sweep", "--error-frac", "-1"], 2, "error_frac"),
    (["sweep", "--lanes", "0"], 2, "lanes"),
    (["sweep", "--workers", "0"], 2, "--workers"),
    (["sweep", "--workers", "-2"], 2, "--workers"),
    (["sweep", "--epochs", "0"], 2, "--epochs"),
    (["sweep", "--cache", "{tmp}/given.toml"], 2, "--cache"),
    (["sweep", "--scheduler", "tcp://127.0.0.1:1"], 2, "127.0.0.1:1"),
    (["sweep", "--scheduler", "nonsense"], 2, "--scheduler"),
    (["sweep", "--plot", "{tmp}/plot.txt"], 2, "plot.txt"),
    (["demo", "--epochs", "0"], 2, "--epochs"),
    (["demo", "--rtl-samples", "-1"], 2, "--rtl-samples"),
    (["demo", "--system-samples", "-1"], 2, "--system-samples"),
    (["demo", "--config", "{examples}/ulx3s_digits.toml"], 2, "hardware.device"),
    (["demo", "--report", "{tmp}/report.txt"], 2, "report.txt"),
    (["demo", "--build-dir", "{tmp}/given.toml"], 2, "given.toml"),
    (["nonsense"], 2, "nonsense"),
    ([], 2, "COMMAND"),
    (["train", "--dataset"], 2, "--dataset"),
    (["train", "--dataset", "yinyang", "--unknown"], 2, "--unknown"),
]


def _cases():
    cases = []
    for cmd, rest in CONFIG_COMMANDS.items():
        for name, text, names in BAD_CONFIGS:
            cases.append(pytest.param([cmd, "--config", f"{{tmp}}/{name}", *rest], 2, names,
                                      {name: text}, id=f"{cmd}-config-{name}"))
    for cmd, rest in DATA_COMMANDS.items():
        for name, writer, names in BAD_DATA:
            cases.append(pytest.param([cmd, "--dataset", f"{{tmp}}/{name}" if writer or
                                       name.endswith((".npz",)) else name, *rest], 2, names,
                                      {name: writer}, id=f"{cmd}-dataset-{name}"))
    for cmd, rest in JSON_COMMANDS.items():
        for path, names in BAD_OUTPUTS:
            cases.append(pytest.param([cmd, *rest, "--json", path], 2, names, {},
                                      id=f"{cmd}-json-{path.replace('{tmp}', 'tmp')}"))
    for argv, code, names in OTHER:
        cases.append(pytest.param(argv, code, names, {}, id=" ".join(argv) or "nothing"))
    return cases


CASES = _cases()


def test_the_table_covers_enough_cases_across_every_command():
    from ghostfpga.cli import build_parser

    assert len(CASES) >= 150
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    covered = {c.values[0][0] for c in CASES if c.values[0]}
    assert set(sub.choices) <= covered, set(sub.choices) - covered


@pytest.fixture
def tripwire(monkeypatch):
    """Every work function raises: a case that reaches one failed late."""
    import importlib

    def tripped(*args, **kwargs):
        raise AssertionError("the work started: the input was not checked at the door")

    for module, name in WORK:
        monkeypatch.setattr(importlib.import_module(module), name, tripped)


class _Hang(Exception):
    pass


@pytest.mark.parametrize("argv,code,names,files", CASES)
def test_bad_input_names_the_problem_before_any_work(argv, code, names, files, tmp_path,
                                                     capsys, tripwire):
    examples = Path(__file__).resolve().parent.parent / "examples"
    given = tmp_path / "given.toml"
    given.write_text("# the user's config\nepochs = 2\n")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "points.json").write_text('{"points": 3, "narrowest": null, '
                                          '"float_ghost_test_accuracy": 0.5}')
    for name, content in files.items():
        if callable(content):
            content(str(tmp_path / name))
        elif content is not None:
            (tmp_path / name).write_text(content)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{examples}", str(examples))
            for a in argv]
    names = names.replace("{tmp}", str(tmp_path))

    def hang(*_):
        raise _Hang()

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)   # a bound on every case: a hang fails it rather than the suite
    try:
        got = main(argv)
    except SystemExit as exc:   # argparse's own usage errors
        got = exc.code
    except _Hang:
        pytest.fail(f"hung: ghostfpga {' '.join(argv)}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out = capsys.readouterr()
    assert got == code, out.err
    assert "Traceback" not in out.err + out.out
    assert names in out.err, out.err
    assert len(out.err.strip().splitlines()) <= 3 or "usage:" in out.err, out.err
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == {p: before[p] for p in after if p in before} and \
        set(before) <= set(after), "a file the user gave was changed or removed"
