"""The ghostfpga command: train, gradcheck, demo; JSON keys; clear errors with exit code 2."""

import json

import numpy as np
import pytest

from ghostfpga.cli import main

TRAIN_KEYS = {"dataset", "model", "variant", "feedback", "epochs", "train_accuracy",
              "test_accuracy", "seconds", "history", "config"}


@pytest.mark.parametrize("model", ["ghost", "bp"])
def test_train_writes_json_with_the_documented_keys(tmp_path, capsys, model):
    out = tmp_path / "run.json"
    plot = tmp_path / "run.png"
    assert main(["train", "--dataset", "digits", "--model", model, "--epochs", "2",
                 "--json", str(out), "--plot", str(plot)]) == 0
    run = json.loads(out.read_text())
    assert TRAIN_KEYS <= set(run)
    assert run["dataset"] == "digits" and run["model"] == model and run["epochs"] == 2
    assert len(run["history"]) == 2 and run["config"]["layers"] == [64, 32, 10]
    assert 0.5 < run["test_accuracy"] <= 1.0
    assert plot.stat().st_size > 1000
    assert "test acc" in capsys.readouterr().out


def test_train_on_a_user_file_with_config(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(120, 2))
    y = (X[:, 0] > X[:, 1]).astype(int)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    (tmp_path / "c.toml").write_text("layers = [2, 8, 2]\nepochs = 3\nvariant = 'replay'\n")
    assert main(["train", "--dataset", str(tmp_path / "d.npz"), "--config",
                 str(tmp_path / "c.toml"), "--json", str(tmp_path / "o.json")]) == 0
    run = json.loads((tmp_path / "o.json").read_text())
    assert run["variant"] == "replay" and run["layers"] == [2, 8, 2] and run["epochs"] == 3


@pytest.mark.parametrize("argv,message", [
    (["train", "--dataset", "digits", "--beta", "0"], "config field 'beta'"),
    (["train", "--dataset", "digits", "--layers", "4,30,10"], "config field 'layers'"),
    (["train", "--dataset", "absent.npz"], "no such data file"),
    (["train", "--dataset", "digits", "--config", "absent.toml"], "cannot be read"),
])
def test_bad_input_is_reported_with_exit_code_2(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_gradcheck_fixed_point_table_json_and_plot(tmp_path, capsys):
    out, plot = tmp_path / "fp.json", tmp_path / "fp.png"
    assert main(["gradcheck", "--fixed-point", "--epochs", "1", "--json", str(out),
                 "--plot", str(plot)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 3 * 2 * 2   # variants x (before, after epoch 1) x layers
    assert all(r["distance"] == 0 for r in rows if r["variant"] in ("tied", "replay"))
    learned = [r for r in rows if r["variant"] == "learned"]
    assert all(r["distance"] < 1e-6 < r["before_fit"] for r in learned)   # the fit cancels
    assert plot.stat().st_size > 0
    assert "free dynamics' fixed point" in capsys.readouterr().out
    assert main(["gradcheck", "--fixed-point", "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err


def test_gradcheck_cancellation_and_loop_sections(tmp_path, capsys):
    out, plot = tmp_path / "c.json", tmp_path / "c.png"
    assert main(["gradcheck", "--cancellation", "--epochs", "1", "--layers", "4,12,8,3",
                 "--json", str(out), "--plot", str(plot)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {r["rule"] for r in rows} == {"normalized", "constant"}
    assert {r["layer"] for r in rows} == {1, 2}   # per hidden layer
    assert all(r["after"] < 1e-9 for r in rows if r["rule"] == "normalized")
    assert plot.stat().st_size > 0 and "cancellation" not in capsys.readouterr().err
    out = tmp_path / "l.json"
    assert main(["gradcheck", "--loop", "--epochs", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    three = [r for r in rows if (r["alpha"], r["steps"]) == (1.0, 3)]
    assert len(three) == 4 and all(r["cosine"] > 0.999 for r in three)
    assert all(r["gain_median"] > 1 for r in rows)   # the loop runs away unless cut short
    assert main(["gradcheck", "--loop", "--cancellation"]) == 2
    assert "at most one of" in capsys.readouterr().err
    assert main(["gradcheck", "--cancellation", "--layers", "5,8,3"]) == 2
    assert "Yin-Yang" in capsys.readouterr().err


def test_gradcheck_table_and_json(tmp_path, capsys):
    assert main(["gradcheck", "--json", str(tmp_path / "g.json")]) == 0
    data = json.loads((tmp_path / "g.json").read_text())
    small = [r for r in data["rows"] if r["beta"] == 1e-4]
    assert small and all(r["cosine"] > 0.999 for r in small)
    assert {r["schedule"] for r in data["rows"]} == {"sweep", "dynamics"}
    assert "cosine" in capsys.readouterr().out


def test_demo_runs_the_whole_flow_in_a_reduced_form(tmp_path, capsys):
    """The demo on a small board config: every model, the RTL, the full system from its
    on-board set, the iCEBreaker bitstream and the report."""
    config = tmp_path / "small.toml"
    config.write_text("layers = [4, 6, 3]\n[hardware]\nlanes = 2\nsplit_rows = false\n"
                      "[link]\nstore_samples = 40\nframes = 2\n")
    out, report = tmp_path / "demo.json", tmp_path / "demo" / "report.md"
    assert main(["demo", "--config", str(config), "--epochs", "1", "--rtl-samples", "20",
                 "--system-samples", "40", "--build-dir", str(tmp_path / "bit"),
                 "--report", str(report), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["rtl_mismatches"] == 0 and result["rtl_predictions_equal_fixed"]
    assert result["system"]["on_board"] and result["system"]["mismatches"] == 0
    assert result["bitstream"]["problem"] is None
    assert (tmp_path / "bit" / "top.bin").stat().st_size > 100_000
    text = report.read_text()
    assert "## The full system in co-simulation" in text and "## The bitstream" in text
    assert "report:" in capsys.readouterr().out


def test_verilog_writes_the_core_and_its_config(tmp_path, capsys):
    out = tmp_path / "core.v"
    assert main(["verilog", "-o", str(out)]) == 0
    text = out.read_text()
    assert "module ghost_core" in text and "sample__payload" in text
    from ghostfpga.config import Config
    assert Config.load(tmp_path / "core.toml") == Config()


def test_verilog_rejects_what_the_generator_lacks(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('free_steps = 2\n')
    assert main(["verilog", "--config", str(tmp_path / "c.toml"), "-o",
                 str(tmp_path / "x.v")]) == 2
    assert "config field 'free_steps'" in capsys.readouterr().err
    assert not (tmp_path / "x.v").exists()


SIM_KEYS = {"simulator", "samples", "mismatches", "cycles", "cycles_per_sample",
            "ideal_cycles_per_sample", "mac_utilization", "train_accuracy", "test_accuracy",
            "golden_test_accuracy"}


def test_sim_trains_in_rtl_and_matches_golden(tmp_path, capsys):
    """The default config with learned ghosts: its 500-sample warm-up runs at zero rates, then
    training starts at the config's rates (the change of rates once broke bit-exactness)."""
    out, config = tmp_path / "sim.json", tmp_path / "learned.toml"
    config.write_text('variant = "learned"\n')
    assert main(["sim", "--simulator", "verilator", "--dataset", "yinyang", "--samples", "60",
                 "--test-samples", "40", "--config", str(config), "--json", str(out)]) == 0
    run = json.loads(out.read_text())
    assert SIM_KEYS <= set(run)
    assert run["config"]["variant"] == "learned" and run["config"]["ghost_warmup"] == 500
    assert run["mismatches"] == 0 and run["samples"] == 60
    assert run["test_accuracy"] == run["golden_test_accuracy"]
    assert 0 < run["mac_utilization"] <= 1
    assert "mismatches" in capsys.readouterr().out


def test_sim_rejects_bad_sample_counts(capsys):
    assert main(["sim", "--samples", "0"]) == 2
    assert "--samples" in capsys.readouterr().err


RUN_KEYS = {"port", "samples", "epochs", "mismatches", "train_accuracy", "test_accuracy",
            "golden_test_accuracy", "samples_per_second", "rejected_frames", "seconds",
            "config"}


def test_run_on_the_fake_device_writes_the_documented_keys(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert main(["run", "--port", "fake", "--samples", "200", "--epochs", "2",
                 "--json", str(out)]) == 0
    run = json.loads(out.read_text())
    assert RUN_KEYS <= set(run)
    assert run["mismatches"] == 0 and run["samples"] == 200 and run["epochs"] == 2
    assert run["test_accuracy"] == run["golden_test_accuracy"]
    assert "golden test acc" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["train", "--dataset", "yinyang"], ["gradcheck"], ["demo"],
                                     ["run", "--port", "fake"], ["sim"]])
def test_an_output_path_that_cannot_be_written_stops_before_the_work(tmp_path, capsys,
                                                                    command):
    assert main(command + ["--json", str(tmp_path)]) == 2
    assert f"--json {tmp_path}: is a folder, not a file" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["verilog", "-o", str(tmp_path / "file" / "core.v")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_run_on_board_trains_from_the_stored_set(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert main(["run", "--board", "icebreaker", "--port", "fake", "--on-board",
                 "--samples", "300", "--epochs", "2", "--test-samples", "100",
                 "--json", str(out)]) == 0
    run = json.loads(out.read_text())
    assert RUN_KEYS - {"samples_per_second"} <= set(run)
    assert {"board", "clock_mhz", "on_board", "epoch_train_accuracy"} <= set(run)
    assert run["on_board"] and run["board"] == "icebreaker" and run["mismatches"] == 0
    assert run["samples_per_second"] is None   # the fake device has no clock
    assert "on board" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["run", "--port", "fake", "--samples", "0"], "--samples: must be a positive integer"),
    (["run", "--port", "fake", "--on-board", "--samples", "10"],
     "'link.store_samples' must hold the 10 training samples of --on-board"),
    (["run", "--port", "/dev/ttyGHOSTFPGA9"], "cannot open /dev/ttyGHOSTFPGA9"),
    (["run", "--port", "loop://", "--timeout", "0.02"], "loop://: no reply to IDENTIFY"),
    (["sim-board", "--listen", "70000"], "--listen must be a TCP port"),
    (["run", "--port", "fake", "--netlist"], "--netlist needs --port sim"),
    (["build", "--board", "icebreaker", "--verify-samples", "4"],
     "--verify-samples takes effect only with --verify"),
])
def test_run_errors_name_the_problem(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["verilog", "--config", "{tmp}/X.toml", "-o", "{tmp}/X.v"], "X.toml: is an input"),
    (["train", "--dataset", "{tmp}/d.csv", "--json", "{tmp}/d.csv"], "d.csv: is an input"),
    (["train", "--dataset", "yinyang", "--plot", "{tmp}/p.txt"], "must end in .png"),
    (["verilog", "-o", "{tmp}/core.txt"], "must end in .v"),
    (["train", "--dataset", "yinyang", "--json", "/proc/ghostfpga.json"], "cannot be written"),
])
def test_inputs_are_never_overwritten_and_outputs_are_proven_writable(tmp_path, capsys, argv,
                                                                      message):
    (tmp_path / "X.toml").write_text("layers = [4, 6, 3]  # the user's comment\n")
    (tmp_path / "d.csv").write_text("0.1,0.2,0.3,0.4,0\n0.5,0.2,0.3,0.4,1\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_version(capsys):
    from ghostfpga import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ghostfpga {__version__}"


ECP5_CONFIG = 'layers = [4, 6, 3]\n[hardware]\ndevice = "ecp5-85f"\n'


@pytest.mark.parametrize("argv, message", [
    (["sweep", "--workers", "0"], "argument --workers: must be a positive integer, not 0"),
    (["sweep", "--workers", "-2"], "must be a positive integer, not -2"),
    (["sweep", "--weight-int-bits", "9", "--weight-bits", "8,10"], "leaves no fraction bits"),
    (["sweep", "--weight-bits", "8,8,10"], "lists 8 more than once"),
    (["sweep", "--lanes", "2,2"], "lists 2 more than once"),
    (["sweep", "--scheduler", "tcp://127.0.0.1:1"], "nothing answers there"),
    (["sweep", "--scheduler", "nowhere"], "--scheduler must be tcp://HOST:PORT"),
    (["run", "--port", "fake", "--timeout", "0"], "must be a number of seconds above 0"),
    (["run", "--port", "fake", "--timeout", "-1"], "must be a number of seconds above 0"),
    (["run", "--port", "fake", "--timeout", "nan"], "must be a number of seconds above 0"),
    (["run", "--port", "fake", "--epochs", "0"], "argument --epochs"),
    (["sim", "--samples", "x"], "must be a positive integer, not 'x'"),
    (["sim", "--epochs", "0"], "argument --epochs"),
    (["gradcheck", "--epochs", "3"], "--epochs takes effect only with"),
    (["gradcheck", "--plot", "x.png"], "--plot takes effect only with"),
    (["gradcheck", "--loop", "--layers", "4,10,3"], "--layers takes effect only with"),
    (["train", "--dataset", "yinyang", "--normalize"], "--normalize scales the features"),
    (["demo", "--config", "{tmp}/ecp5.toml"], "must be 'up5k' for the icebreaker board"),
    (["compare", "--rtl-samples", "-1"], "argument --rtl-samples"),
])
def test_arguments_that_cannot_work_fail_at_the_door(tmp_path, capsys, argv, message):
    import time

    (tmp_path / "ecp5.toml").write_text(ECP5_CONFIG)
    start = time.monotonic()
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert time.monotonic() - start < 10   # before any work


def test_more_samples_than_the_set_holds_are_said(capsys):
    from ghostfpga.golden.datasets import yinyang
    from ghostfpga.runs import samples_used

    said = []
    assert samples_used(9000, yinyang(), said.append) == 5000
    assert said == ["--samples 9000: the training set of yinyang has 5000; using 5000"]
    assert samples_used(None, yinyang(), said.append) == 5000 and len(said) == 1


@pytest.mark.parametrize("board, simulator", [("icebreaker", "Icarus Verilog"),
                                              ("ulx3s-85f", "Verilator")])
def test_build_verify_without_its_simulator_is_refused_before_the_build(
        monkeypatch, capsys, board, simulator):
    """``build --verify`` simulates a board's netlist on its family's simulator (Icarus on the
    iCE40, Verilator on the ECP5): without it, the build does not start."""
    import ghostfpga.sim.cocotb_build as cocotb_build

    monkeypatch.setattr(cocotb_build, "simulator_available", lambda name: False)
    monkeypatch.setattr("ghostfpga.boards.bitstream.build.build",
                        lambda *a, **k: pytest.fail("the build started"))
    assert main(["build", "--board", board, "--verify"]) == 2
    assert f"with {simulator}" in capsys.readouterr().err


def test_a_simulation_that_stops_is_one_error_line_with_exit_1(monkeypatch, capsys):
    """A co-simulation that stops (here: the strict block RAM's collision report) ends
    ``ghostfpga sim`` with its message and exit 1, not a traceback."""
    def stopped(*args, **kwargs):
        raise RuntimeError("icarus: the design read a block-RAM row in the cycle it was "
                           "written (12 times; first: ghost_core.lane0.mem.0.0 row 4)")

    monkeypatch.setattr("ghostfpga.hardware.simulate", stopped)
    assert main(["sim", "--simulator", "icarus", "--samples", "4"]) == 1
    err = capsys.readouterr().err
    assert "error: the simulation failed: icarus: the design read a block-RAM row" in err
    assert "Traceback" not in err
