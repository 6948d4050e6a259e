"""The core's characterization (sim/characterize.py) equals the recorded one: every output on
every cycle, every memory write, every sample's busy cycles and Yosys's structural count. A
change meant to be logic-neutral (a restructuring of hdl/) must keep this test passing; a change
meant to change the logic records a new reference and says why in its commit."""

import json
from pathlib import Path

import pytest

from ghostfpga.sim.characterize import CHARACTERIZED, SYNTHESIZED, characterize, structure

REFERENCE = json.loads((Path(__file__).parent / "data" / "characterization.json").read_text())


@pytest.mark.parametrize("name", list(CHARACTERIZED))
def test_trace_equals_the_recorded_one(name):
    got, want = characterize(CHARACTERIZED[name]), REFERENCE["traces"][name]
    assert got["cycles"] == want["cycles"], "busy cycles per sample differ"
    assert got["memories"] == want["memories"], "memory writes differ"
    assert got["outputs"] == want["outputs"], "outputs differ on some cycle"


@pytest.mark.parametrize("name", list(SYNTHESIZED))
def test_structure_equals_the_recorded_one(name):
    got, want = structure(SYNTHESIZED[name]), REFERENCE["structure"][name]
    changed = {k: (want.get(k, 0), got.get(k, 0)) for k in set(got) | set(want)
               if got.get(k) != want.get(k)}
    assert not changed, f"cells (recorded, now) differ: {changed}"


def test_the_trace_sees_a_changed_memory_write():
    """The harness can fail: a different learning rate changes the weight writes only."""
    from dataclasses import replace

    config = CHARACTERIZED["P1"]
    got = characterize(replace(config, lr=(0.07, 0.07)))
    want = REFERENCE["traces"]["P1"]
    assert got["cycles"] == want["cycles"] and got["memories"] != want["memories"]
