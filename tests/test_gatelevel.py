"""Gate-level co-simulation: the core as Yosys synthesizes it for the iCE40 (``synth_ice40
-dsp``: SB_LUT4, SB_CARRY, flip-flops, SB_RAM40_4K, SB_MAC16), with Yosys's cell models, driven
by the RTL's testbench and driver and equal to the golden model in every result and weight."""

import dataclasses

import pytest

from ghostfpga.cli import main
from ghostfpga.config import Config, Hardware, Numerics
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.sim.configs import cosim_samples
from ghostfpga.sim.cosim import cosimulate, simulator_available
from ghostfpga.sim.netlist import NetlistError, core_netlist

pytestmark = pytest.mark.gatelevel
needs_icarus = pytest.mark.skipif(not simulator_available("icarus"),
                                  reason="Icarus Verilog (iverilog) is not installed")
TIED = Config(layers=(4, 6, 3), hardware=Hardware(lanes=2))
LEARNED = Config(layers=(4, 6, 3), variant="learned", ghost_warmup=0,
                 hardware=Hardware(lanes=2))


@pytest.mark.parametrize("simulator, config, n", [
    pytest.param("icarus", TIED, 30, marks=needs_icarus),
    pytest.param("icarus", LEARNED, 20, marks=needs_icarus),
    pytest.param("verilator", TIED, 60, marks=pytest.mark.slow)])
def test_the_synthesized_core_equals_the_golden_model(simulator, config, n):
    samples, etas = cosim_samples(config, n)
    model = FixedModel(config)
    report = cosimulate(config, simulator, samples, etas, model=model,
                        verilog=core_netlist(config, simulator))
    assert report.mismatches == 0, report.first_mismatch
    assert report.samples == n


@needs_icarus
def test_the_netlist_is_what_runs_and_a_difference_is_caught():
    """The netlist of another LFSR seed (the same ports) must disagree with this config's
    golden model: the check compares the netlist, and can fail."""
    other = dataclasses.replace(TIED, numerics=Numerics(lfsr_seed=77))
    samples, etas = cosim_samples(TIED, 20)
    report = cosimulate(TIED, "icarus", samples, etas, verilog=core_netlist(other, "icarus"))
    assert report.mismatches > 0


@needs_icarus
def test_sim_netlist_reports_like_sim(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(TIED.to_toml())
    out = tmp_path / "sim.json"
    assert main(["sim", "--netlist", "--simulator", "icarus", "--config", str(config),
                 "--samples", "12", "--test-samples", "12", "--json", str(out)]) == 0
    assert "netlist vs golden" in capsys.readouterr().out
    assert '"netlist": true' in out.read_text()


def test_an_ecp5_config_is_refused_with_the_reason(tmp_path, capsys):
    ecp5 = dataclasses.replace(TIED, hardware=Hardware(device="ecp5-85f", lanes=2))
    with pytest.raises(NetlistError, match="MULT18X18D and DP16KD"):
        core_netlist(ecp5, "icarus")
    config = tmp_path / "ecp5.toml"
    config.write_text(ecp5.to_toml())
    assert main(["sim", "--netlist", "--config", str(config), "--samples", "4"]) == 2
    assert "not written yet" in capsys.readouterr().err
