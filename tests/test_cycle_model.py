"""The exact cycle model (hdl/program.py) predicts the busy cycles of every sample: of every
co-simulated config on its test stream (recorded from Verilator; tests/test_cosim.py checks the
RTL against both), and of every characterized config in Amaranth's simulator."""

import json
from pathlib import Path

import pytest

from ghostfpga.config import Config, Hardware
from ghostfpga.hdl import Plan
from ghostfpga.sim.core.amaranth_sim import run_amaranth
from ghostfpga.sim.characterize import CHARACTERIZED, _samples
from ghostfpga.sim.configs import COSIMULATED, cosim_samples
from ghostfpga.sim.core.protocol import predicted_sample_cycles

REFERENCE = json.loads((Path(__file__).parent / "data" / "characterization.json").read_text())


@pytest.mark.parametrize("name", list(COSIMULATED))
def test_the_model_predicts_every_cosimulated_sample(name):
    config = COSIMULATED[name]
    samples, etas = cosim_samples(config, 120)
    assert predicted_sample_cycles(config, samples, etas) == REFERENCE["cosim_cycles"][name]


@pytest.mark.parametrize("name", list(CHARACTERIZED))
def test_the_model_predicts_every_characterized_sample(name):
    config = CHARACTERIZED[name]
    samples, etas = _samples(config)
    assert predicted_sample_cycles(config, samples, etas) == REFERENCE["traces"][name]["cycles"]


def test_a_config_outside_the_recorded_ones_runs_as_predicted():
    """A config no reference holds (odd sizes, P = 7, learned ghosts fitted in the free phase,
    random feedback, dynamics), run in Amaranth's simulator now."""
    config = Config(layers=(5, 11, 4), variant="learned", feedback="random",
                    schedule="dynamics", steps=3, alpha=1.0, hardware=Hardware(lanes=7))
    samples, etas = _samples(config)
    run = run_amaranth(config, samples, etas)
    assert run.sample_cycles == predicted_sample_cycles(config, samples, etas)


def test_the_model_counts_every_pass():
    """Each pass costs its fetch cycles and its drain; one cycle more of the walk would change
    every prediction (the model can fail)."""
    program = Plan(Config()).program()
    total = 1 + sum(program.fetch_cycles(n) + program.drain(n) for n in range(len(program)))
    assert program.cycles(train=True, chained=False) == total
    # a sample that finds the next one in goes on without the last pass's drain, through
    # chain and chain_take
    last = program.drain(len(program) - 1)
    assert last > 1 and program.cycles(train=True) == total - last + program.CHAIN_WAIT
    assert program.cycles(train=False) < total - last
