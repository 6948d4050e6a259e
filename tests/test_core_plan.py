"""The core's plan as named, tested parts: the stage table's latencies (their values are part of
the core's contract) and the state memory map (hdl/statemap.py)."""

import math

import pytest

from ghostfpga.hdl import stages
from ghostfpga.hdl.statemap import MEMORIES, StateMap
from ghostfpga.sim.characterize import CHARACTERIZED
from ghostfpga.sim.configs import COSIMULATED

CONFIGS = {**COSIMULATED, **CHARACTERIZED}


def test_the_latencies_come_from_the_stage_table_and_keep_their_values():
    plain = stages.Stages()   # no pipeline registers of its own
    assert (plain.post, plain.drain, plain.drain_lanes, plain.acc_write, plain.learn_write) \
        == (5, 5, 6, 4, 6)
    assert plain.post == stages.PIPELINE.index("P0") == stages.stage("P0")
    assert stages.DRAIN_ELEMENT == 3
    assert (plain.sum, plain.running, plain.feedback, plain.result, plain.host_read_latency) \
        == (6, 7, 8, 9, 6)
    assert plain.host_read_latency == stages.stage("P1")
    # the tree's pipeline register moves the tree's sum and the stages after it, not the lanes'
    cut = stages.Stages(tree=1)
    assert (cut.post, cut.drain_lanes, cut.learn_write) == (5, 6, 6)
    assert (cut.sum, cut.running, cut.feedback, cut.result, cut.host_read_latency) == \
        (7, 8, 9, 10, 7)
    # the issue's register B moves every stage from O on, the reads and selects at F and I not
    issued = stages.Stages(issue=1, tree=1)
    assert [issued.at(s) for s in stages.PIPELINE] == [0, 1, 3, 4, 5, 6, 7, 8, 9, 10]
    assert (issued.post, issued.drain, issued.drain_lanes, issued.acc_write,
            issued.learn_write) == (6, 6, 7, 5, 7)
    assert (issued.sum, issued.running, issued.feedback, issued.result,
            issued.host_read_latency) == (8, 9, 10, 11, 8)
    assert issued.at("E1") == stages.stage("E1")   # the element pipeline is its own
    # the fetch register: the sequencer an edge ahead of the whole table, so nothing in it
    # moves; only the host's reads, which enter at F, take the edge
    ahead = stages.Stages(issue=1, tree=1, fetch=1)
    assert [ahead.at(s) for s in (*stages.PIPELINE, "E1", "E3")] == \
        [issued.at(s) for s in (*stages.PIPELINE, "E1", "E3")]
    assert (ahead.drain, ahead.drain_lanes, ahead.learn_write, ahead.result) == \
        (issued.drain, issued.drain_lanes, issued.learn_write, issued.result)
    assert ahead.host_read_latency == issued.host_read_latency + 1 == 9
    # the drive register: a row's drive written an edge after P0, nothing else moves
    driven = stages.Stages(issue=1, tree=1, fetch=1, drive=1)
    assert (ahead.drive_write, driven.drive_write) == (ahead.post, ahead.post + 1) == (6, 7)
    assert (driven.post, driven.drain, driven.drain_lanes, driven.sum, driven.result,
            driven.host_read_latency) == (ahead.post, ahead.drain, ahead.drain_lanes,
                                          ahead.sum, ahead.result, ahead.host_read_latency)


@pytest.mark.parametrize("family, lanes, registers", [
    ("ice40", 8, 0), ("ice40", 16, 0), ("ecp5", 8, 0), ("ecp5", 9, 1), ("ecp5", 32, 1)])
def test_the_issue_register_is_where_the_lanes_spread_over_a_large_device(family, lanes,
                                                                           registers):
    assert stages.issue_registers(family, lanes) == registers


@pytest.mark.parametrize("family, lanes, registers", [
    ("ice40", 8, 0), ("ice40", 16, 0), ("ecp5", 8, 0), ("ecp5", 9, 1), ("ecp5", 32, 1)])
def test_the_fetch_register_is_where_the_lanes_spread_over_a_large_device(family, lanes,
                                                                           registers):
    assert stages.fetch_registers(family, lanes) == registers


@pytest.mark.parametrize("family, lanes, registers", [
    ("ice40", 8, 0), ("ice40", 16, 0), ("ecp5", 8, 0), ("ecp5", 9, 1), ("ecp5", 32, 1)])
def test_the_drive_register_is_where_the_lanes_spread_over_a_large_device(family, lanes,
                                                                           registers):
    assert stages.drive_registers(family, lanes) == registers


@pytest.mark.parametrize("family, terms, registers", [
    ("ice40", 8, 0), ("ecp5", 2, 0), ("ecp5", 8, 0), ("ecp5", 9, 1), ("ecp5", 32, 1),
    ("ecp5", 64, 1)])
def test_only_the_ecp5_trees_of_four_levels_or_more_hold_a_register(family, terms, registers):
    assert stages.tree_registers(family, terms) == registers


# which memories share a map (the same word for the same unit), as the module says
ALIASES = {"d": "s", "q": "h", "fa": "h", "gs": "g", "e": "g", "v": "g"}


@pytest.mark.parametrize("inputs", ["a", "s"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_region_fits_its_memory_without_overlap(name, inputs):
    """Both places of the inputs' buffers (``Plan.inputs``: a or s)."""
    config = CONFIGS[name]
    smap = StateMap(config, config.hardware.lanes, inputs)
    words = [math.ceil(n / config.hardware.lanes) for n in config.layers]
    # the layer each region of a memory holds (k: the layer of W_k's outputs; x: the input)
    layer_of = {"a": lambda k: 0 if k == "x" else k + 1, "s": lambda k: 0 if k == "x" else k + 1}
    h_layer = (lambda k: k + 2) if smap.tied_ghosts else (lambda k: k + 1)
    layer_of |= {"h": h_layer, "g": lambda k: k + 2}
    for memory in ("a", "s", "h", "g"):
        depth = smap.depths[memory]
        if depth == 0:
            continue
        spans = sorted((base, base + words[layer_of[memory](k)])
                       for k, base in getattr(smap, memory).items())
        assert ("x" in getattr(smap, memory)) == (memory == inputs)
        if memory == inputs:   # the input's second buffer, one address bit above the first
            assert smap.x_stride == 1 << smap.x_shift >= words[0] > smap.x_stride // 2
            assert spans[0] == (0, words[0])
            spans[0] = (0, smap.x_stride)   # (the first buffer's unused tail)
            spans.insert(1, (smap.x_stride, smap.x_stride + words[0]))
        assert spans[0][0] == 0 and spans[-1][1] == depth, (memory, spans, depth)
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), (memory, spans)
    for alias, owner in ALIASES.items():
        assert getattr(smap, alias) is getattr(smap, owner)
        assert smap.depths[alias] in (0, smap.depths[owner])
    assert set(smap.depths) == set(MEMORIES)


def test_the_plan_puts_the_inputs_in_s_where_a_has_no_rates_port_and_w0_is_in_rows():
    from ghostfpga.config import Config, Hardware
    from ghostfpga.hdl import Plan

    def inputs(layers, **hw):
        plan = Plan(Config(layers=layers, hardware=Hardware(**hw)))
        assert plan.smap.inputs == plan.inputs and "x" in getattr(plan.smap, plan.inputs)
        return plan.inputs
    assert inputs((4, 30, 3), lanes=6, split_rows=False) == "s"      # the iCEBreaker's core
    assert inputs((4, 30, 3), device="ecp5-85f") == "s"
    assert inputs((4, 30, 3), device="ecp5-85f", rates_port=True) == "a"   # the port's
    # W_0 in the columns layout: MNIST's (100 rows of 25 words beat 4 groups of 785), and 3
    # rows on 8 lanes
    assert inputs((784, 100, 10), lanes=32, device="ecp5-85f", rates_port=False) == "a"
    assert inputs((4, 3, 2), lanes=8) == "a"
    # hardware.inputs: "a" keeps them in a; "s" where W_0 is split or with the port: an error
    assert inputs((4, 30, 3), lanes=6, split_rows=False, inputs="a") == "a"
    assert inputs((4, 30, 3), inputs="s") == "s"
    from ghostfpga.config import ConfigError
    for bad in ({"layers": (4, 3, 2)}, {"layers": (4, 30, 3), "rates_port": True}):
        layers = bad.pop("layers")
        with pytest.raises(ConfigError, match="hardware.inputs"):
            Plan(Config(layers=layers, hardware=Hardware(inputs="s", **bad)))


def test_each_variant_builds_the_memories_it_uses():
    from ghostfpga.config import Config

    def config(v, s):   # replay under dynamics takes 3 steps of alpha = 1
        extra = {"alpha": 1.0, "steps": 3} if (v, s) == ("replay", "dynamics") else {}
        return Config(variant=v, schedule=s, ghost_rule="constant", **extra)

    built = {(v, s): set(StateMap(config(v, s), 8).built())
             for v in ("tied", "replay", "learned") for s in ("sweep", "dynamics")}
    assert built[("tied", "sweep")] == {"a", "s"}
    assert built[("tied", "dynamics")] == {"a", "s", "h", "d"}
    assert built[("replay", "sweep")] == {"a", "s", "h"}
    assert built[("learned", "sweep")] == {"a", "s", "h", "g", "q"}
    assert built[("learned", "dynamics")] == set(MEMORIES)
    normalized = StateMap(Config(variant="learned", schedule="dynamics", alpha=1.0, steps=3), 8)
    assert set(normalized.built()) == set(MEMORIES) - {"fa"}   # V learns in the free phase
