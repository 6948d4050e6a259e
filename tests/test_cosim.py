"""cocotb co-simulation of the generated Verilog against the fixed-point golden model: every
result and every weight must match bit for bit."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Fragment

from ghostfpga.config import Config, Hardware, Numerics
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.hdl import GhostCore, Plan
from ghostfpga.hdl.program import PassKind
from ghostfpga.sim.core.cocotb_sim import cosimulate
from ghostfpga.sim.cocotb_build import simulator_available
from ghostfpga.sim.configs import COSIMULATED, cosim_samples
from ghostfpga.sim.core.protocol import Sample, predicted_sample_cycles

CONFIGS = COSIMULATED
_REFERENCE = Path(__file__).parent / "data" / "characterization.json"


def _check(config, simulator, n):
    samples, etas = cosim_samples(config, n)
    model = FixedModel(config)
    before = [W.copy() for W in model.params.W]
    report = cosimulate(config, simulator, samples, etas, model=model)
    assert report.mismatches == 0, report.first_mismatch
    assert report.samples == n
    # the run did learn: weights moved, so the weight comparison above means something
    assert any((W != B).any() for W, B in zip(model.params.W, before))
    return report


needs_icarus = pytest.mark.skipif(not simulator_available("icarus"),
                                  reason="Icarus Verilog (iverilog) is not installed")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_verilator_matches_golden(name):
    config = CONFIGS[name]
    report = _check(config, "verilator", 120)
    # and takes the recorded busy cycles, sample for sample (sim/characterize.py), which the
    # cycle model predicts (hdl/program.py)
    assert report.sample_cycles == json.loads(_REFERENCE.read_text())["cosim_cycles"][name]
    assert report.sample_cycles == predicted_sample_cycles(config, *cosim_samples(config, 120))


@needs_icarus
@pytest.mark.parametrize("name", ["yinyang-P8", "3hidden-P3", "random-replay-3hidden-P2",
                                  "8bit-weights", "dynamics-replay-alpha1-P3",
                                  "learned-3hidden-P3"])
def test_icarus_matches_golden(name):
    _check(CONFIGS[name], "icarus", 30)


@pytest.mark.parametrize("simulator", ["amaranth", "verilator",
                                       pytest.param("icarus", marks=needs_icarus)])
def test_rates_changed_between_training_samples_apply_from_the_next_sample(simulator):
    """The host changes the rates right after a training sample's result, while the core still
    learns from that sample: zero rates (a warm-up), then the config's, then decayed ones. The
    new rates must apply from the next sample on, as in the golden model."""
    config = Config(layers=(4, 6, 3), hardware=Hardware(lanes=2))
    samples, _ = cosim_samples(config, 36)
    samples = [Sample(s.x, s.label, True) for s in samples]
    model = FixedModel(config)
    rates = [model.etas([0.0] * config.n_layers)] * 12 + [model.etas(config.lr_at(0))] * 12 \
        + [model.etas(config.lr_at(5))] * 12
    assert len({tuple(r) for r in rates}) == 3
    report = cosimulate(config, simulator, samples, rates, model=model)
    assert report.mismatches == 0, report.first_mismatch
    assert report.sample_cycles == predicted_sample_cycles(config, samples, rates)


@pytest.mark.parametrize("layers, lanes", [((4, 7, 2, 3), 3), ((4, 6, 3), 2)])
def test_split_rows_learn_with_scaled_errors_computed_ahead(layers, lanes):
    """Split rows whose last word leaves the ETA lane idle learn with their scaled errors
    computed ahead (hdl/passes/learn.py ``eta_ahead``): two such passes back to back, of
    two-word rows and of a two-row matrix (only the walk's first two ETAs), P = 3 and P = 2
    (the row two ahead in the next word), bit-exact and as the cycle model predicts."""
    config = Config(layers=layers, hardware=Hardware(lanes=lanes))
    program = Plan(config).program()
    ahead = [program.slot(op) for n, op in enumerate(program)
             if op.kind == PassKind.LEARN and program.eta_ahead(n)]
    assert ahead and all(slot.lane_map.by_columns for slot in ahead)
    report = _check(config, "amaranth", 16)
    assert report.sample_cycles == predicted_sample_cycles(config, *cosim_samples(config, 16))


@pytest.mark.parametrize("name", ["yinyang-P8", "replay-P5", "learned-P8", "dynamics-tied",
                                  "digits-P8"])
def test_ecp5_lanes_register_their_weight_reads_bit_exact(name):
    """On the ECP5 every lane registers its weight memory's read data and the core addresses
    it a cycle earlier (hdl/memory.py ``weight_read_registered``): the same results, weights
    and cycles as the iCE40's core (with the address a cycle late, or ``hold`` a cycle late,
    the default config mismatches from the first samples)."""
    config = CONFIGS[name]
    config = replace(config, hardware=replace(config.hardware, device="ecp5-85f"))
    assert all(lane.registered_read for lane in _elaborated(config).lanes)
    report = _check(config, "amaranth", 12)
    assert report.sample_cycles == predicted_sample_cycles(config, *cosim_samples(config, 12))


@pytest.mark.parametrize("name, changes", [
    ("yinyang-P8", {}),                              # split rows: the drive from the tree
    ("yinyang-P8-rows", {}),                         # rows: transposed feedback through it
    ("replay-P5", {"split_rows": False}),            # the held feedback read at the tree's stage
    ("dynamics-tied", {"split_rows": False}),        # Euler steps of one lane's unit
    ("learned-P8", {}),                              # the normalized fits' ETA formats
    ("digits-P8", {}),                               # a row's shared scaled error (take)
])
def test_ecp5_adder_tree_with_its_pipeline_register_bit_exact(name, changes):
    """With more than 8 lanes on the ECP5 the adder tree holds a pipeline register
    (hdl/stages.py ``tree_registers``): the split rows' drives, the transposed feedback and the
    host reads come one stage later, and the cycle model's drains follow; and the controls
    every lane reads are copied once per lane (``Plan.lane_copies``: the read address and
    ``hold`` from each lane's own registers). The same results, weights and predicted cycles.
    (With the register but the old stages, every config here mismatches.)"""
    config = CONFIGS[name]
    config = replace(config, hardware=replace(config.hardware, device="ecp5-85f", lanes=16,
                                              **changes))
    plan = Plan(config)
    assert (plan.stages.tree, plan.stages.issue, plan.stages.fetch) == (1, 1, 1)
    assert plan.stages.host_read_latency == 9
    assert plan.lane_copies
    report = _check(config, "amaranth", 10)
    assert report.sample_cycles == predicted_sample_cycles(config, *cosim_samples(config, 10))


@pytest.mark.parametrize("name", ["yinyang-P8", "learned-P8"])
def test_ecp5_rates_port_bit_exact(name):
    """``hardware.rates_port = true`` on the ECP5 (the default there only where W_0 takes the
    columns layout: ``Plan.rates_port``): the learning passes read their rates on a second
    read port of each bank's ``a`` memory (LUT RAM), x stays in ``a``; the same results,
    weights and predicted cycles."""
    from ghostfpga.hdl.state import RATES
    config = CONFIGS[name]
    config = replace(config, hardware=replace(config.hardware, device="ecp5-85f",
                                              rates_port=True))
    assert Plan(config).inputs == "a"
    core = _elaborated(config)
    assert all(bank.ports[RATES][0] is bank.ports["a"][0] for bank in core.banks)
    report = _check(config, "amaranth", 10)
    assert report.sample_cycles == predicted_sample_cycles(config, *cosim_samples(config, 10))


def test_inputs_in_a_without_the_rates_port_bit_exact():
    """``hardware.inputs = "a"`` (the iCEBreaker config's choice before it took ``s``): x in
    ``a`` and no rates port, so the first learning pass waits for the feedback pass's
    write-back (166 cycles, not 162); the same results, weights and predicted cycles."""
    config = Config(layers=(4, 30, 3), hardware=Hardware(lanes=6, split_rows=False,
                                                           inputs="a", forward_drives=True))
    plan = Plan(config)
    assert (plan.inputs, plan.rates_port, plan.program().cycles(True)) == ("a", False, 166)
    report = _check(config, "amaranth", 10)
    assert report.sample_cycles == predicted_sample_cycles(config, *cosim_samples(config, 10))


def _elaborated(config):
    core = GhostCore(config)
    Fragment.get(core, None)
    return core


def test_ghost_fit_errors_wider_than_the_operand_saturate():
    """With potentials wider than the lanes' 16-bit operand, a learned ghost's fit error (a
    difference of potentials) can exceed it: the operand saturates, in the RTL as in the golden
    model (it once wrapped; found by ghostfpga fuzz)."""
    from ghostfpga.fuzz import random_dataset
    from ghostfpga.hardware import simulate

    config = Config(layers=(4, 22, 16, 3), variant="learned", ghost_warmup=0, lr=0.01,
                    beta=2**-8, bias_init=0.24, settle_iterations=1, seed=1875577955,
                    numerics=Numerics(potential_bits=17), hardware=Hardware(lanes=4))
    # RTL semantics, the same on every simulator: Icarus builds this core in a second
    simulator = "icarus" if simulator_available("icarus") else "verilator"
    run = simulate(config, random_dataset(config, config.seed), simulator, 8, 4)
    assert run.mismatches == 0, run.first_mismatch


def test_full_yinyang_epoch_in_verilator():
    config = Config()
    data = yinyang()
    model = FixedModel(config)
    order = np.random.default_rng([config.seed, 1, 0]).permutation(len(data.y_train))
    samples = [Sample(model.quantize_input(data.x_train[i]), int(data.y_train[i]), True)
               for i in order]
    etas = [model.etas(config.lr_at(0))] * len(samples)
    report = cosimulate(config, "verilator", samples, etas, model=model)
    assert report.mismatches == 0, report.first_mismatch
    assert report.samples == 5000


@pytest.mark.parametrize("simulator, hardware", [
    ("verilator", Hardware()), ("amaranth", Hardware()),
    # lanes spread over the ECP5: each lane takes the host's writes from registers of its
    # own, a cycle later (hdl/hostport.py; lanes writing at the learning address instead
    # mismatch)
    ("amaranth", Hardware(device="ecp5-85f", lanes=16)),
], ids=["verilator", "amaranth", "amaranth-ecp5-P16"])
def test_weights_loaded_through_the_host_port_give_the_golden_predictions(simulator, hardware):
    """The core loaded with a trained model's weights infers what the trained model does
    (without the load, the same samples give other answers: the check can fail)."""
    config = Config(layers=(4, 8, 3), hardware=hardware)
    data = yinyang()
    model = FixedModel(config)
    etas = model.etas(config.lr_at(0))
    for x, y in zip(data.x_train[:300], data.y_train[:300]):
        model.step(model.quantize_input(x), int(y), True, etas)
    test = [Sample(model.quantize_input(x), 0, False) for x in data.x_test[:60]]
    trained = model.params.copy()
    loaded = cosimulate(config, simulator, test, [etas] * len(test), model=model, load=True)
    assert loaded.mismatches == 0, loaded.first_mismatch
    assert loaded.labels == model.predict(data.x_test[:60]).tolist()
    fresh = cosimulate(config, simulator, test, [etas] * len(test),
                       model=FixedModel(config, trained))
    assert fresh.mismatches > 0


def test_a_cached_verilator_build_keeps_no_precompiled_headers():
    """They serve only the compilation (146 of 149 MB a design): the cache stays small."""
    from ghostfpga.sim.core.cocotb_sim import build

    folder = build(COSIMULATED["yinyang-P8"], "verilator")
    assert (folder / "built").exists() and not list(folder.glob("*.gch"))
