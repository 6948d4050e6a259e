"""``ghostfpga fuzz``: configs drawn at random over the generator's space, each co-simulated
against the golden model; a failing config is kept with the command that reproduces it."""

import json
import shlex
from collections import Counter

import pytest

from ghostfpga.cli import main
from ghostfpga.config import Config
from ghostfpga.fuzz import FuzzResult, draw_config, keep_failure
from ghostfpga.sim.cocotb_build import simulator_available

FUZZ_KEYS = {"config", "mismatches", "first_mismatch", "samples", "seconds"}


def test_draws_are_valid_repeatable_and_cover_the_space():
    drawn = [draw_config(7, k)[0] for k in range(200)]
    assert draw_config(7, 3)[0] == drawn[3]
    seen = Counter()
    for c in drawn:
        seen.update({("variant", c.variant), ("feedback", c.feedback),
                     ("schedule", c.schedule), ("rounding", c.numerics.rounding),
                     ("device", c.hardware.device), ("split_rows", c.hardware.split_rows),
                     ("hidden", len(c.layers) - 2), ("rule", c.ghost_rule),
                     ("lanes>8", c.hardware.lanes > 8), ("odd input", c.layers[0] % 2 == 1),
                     ("warmup", c.ghost_warmup > 0), ("wide potentials",
                                                      c.numerics.potential_bits > 16)})
    for key in [("variant", v) for v in ("tied", "learned", "replay")] + \
            [("feedback", "transpose"), ("feedback", "random"), ("schedule", "sweep"),
             ("schedule", "dynamics"), ("rounding", "nearest"), ("rounding", "stochastic"),
             ("device", "up5k"), ("device", "ecp5-85f"), ("split_rows", False),
             ("hidden", 1), ("hidden", 2), ("hidden", 3), ("rule", "constant"),
             ("lanes>8", True), ("odd input", True), ("warmup", True),
             ("wide potentials", True)]:
        assert seen[key] > 0, key
    assert all(c == Config.from_dict(c.to_dict()) for c in drawn[:20])


@pytest.mark.parametrize("simulator, configs, seed", [
    ("verilator", 1, 1),
    pytest.param("icarus", 2, 2, marks=pytest.mark.skipif(
        not simulator_available("icarus"), reason="Icarus Verilog is not installed"))])
def test_a_campaign_co_simulates_every_config_bit_exact(tmp_path, capsys, simulator,
                                                         configs, seed):
    out = tmp_path / "fuzz.json"
    assert main(["fuzz", "--configs", str(configs), "--seed", str(seed), "--simulator",
                 simulator, "--samples", "12", "--keep", str(tmp_path / "keep"),
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["seed"] == seed and len(result["configs"]) == configs
    for entry in result["configs"]:
        assert FUZZ_KEYS <= set(entry)
        assert entry["mismatches"] == 0, entry["first_mismatch"]
        assert entry["samples"] >= 2 * 12 + 30
        assert Config.from_dict(entry["config"]) == draw_config(seed, entry["index"])[0]
    assert not (tmp_path / "keep").exists()


def test_a_failing_config_is_kept_with_a_command_that_reruns_it(tmp_path, capsys,
                                                                monkeypatch):
    import ghostfpga.fuzz as fuzz

    def fake(seed, k, simulator, samples, max_lanes):   # config 1 "fails"
        config = draw_config(seed, k)[0]
        return fuzz.FuzzResult(index=k, config=config.to_dict(), mismatches=int(k == 1),
                               first_mismatch="sample 0: injected" if k == 1 else None,
                               samples=1, refused_draws=0, seconds=0.0)

    monkeypatch.setattr(fuzz, "fuzz_config", fake)
    out = tmp_path / "fuzz.json"
    assert main(["fuzz", "--configs", "3", "--seed", "5", "--keep", str(tmp_path / "keep"),
                 "--json", str(out)]) == 1
    result = json.loads(out.read_text())
    assert result["failed"] == 1
    command = result["configs"][1]["reproduce"]
    assert "config 1 MISMATCH: sample 0: injected" in capsys.readouterr().err
    argv = shlex.split(command)
    assert argv[:2] == ["ghostfpga", "sim"]
    toml = argv[argv.index("--config") + 1]
    assert Config.load(toml) == draw_config(5, 1)[0]
    # the kept files run as they are (here on a short stream of the same data)
    argv[argv.index("--samples") + 1] = "3"
    argv[argv.index("--test-samples") + 1] = "3"
    assert main(argv[1:]) == 0


def test_a_stopped_campaign_goes_on_from_a_given_config(tmp_path, capsys, monkeypatch):
    """--first K runs configs K, K + 1, ...: each the config its index draws, as in a
    campaign from 0."""
    import ghostfpga.fuzz as fuzz

    def fake(seed, k, simulator, samples, max_lanes):
        return fuzz.FuzzResult(index=k, config=draw_config(seed, k)[0].to_dict(),
                               mismatches=0, first_mismatch=None, samples=1, refused_draws=0,
                               seconds=0.0)

    monkeypatch.setattr(fuzz, "fuzz_config", fake)
    out = tmp_path / "fuzz.json"
    assert main(["fuzz", "--configs", "3", "--first", "71", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["first"] == 71 and [c["index"] for c in result["configs"]] == [71, 72, 73]
    assert "configs 71 to 73 of seed 0" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--configs", "0"], "--configs must be an integer of at least 1"),
    (["--samples", "61"], "--samples must be an integer in [1, 60]"),
    (["--workers", "0"], "--workers must be an integer of at least 1"),
    (["--max-lanes", "0"], "--max-lanes must be"),
    (["--seed", "-1"], "--seed must be"),
    (["--first", "-1"], "--first must be an integer of at least 0"),
])
def test_bad_arguments_are_refused_before_any_work(capsys, argv, message):
    assert main(["fuzz", *argv]) == 2
    assert message in capsys.readouterr().err


def test_keep_refuses_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["fuzz", "--keep", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_keep_failure_writes_config_and_data(tmp_path):
    config = draw_config(3, 0)[0]
    result = FuzzResult(index=0, config=config.to_dict(), mismatches=1, first_mismatch="x",
                        samples=1, refused_draws=0, seconds=0.0)
    command = keep_failure(result, 3, "icarus", 60, tmp_path)
    assert (tmp_path / "fuzz-3-0.toml").exists() and (tmp_path / "fuzz-3-0.npz").exists()
    assert "--simulator icarus" in command
