"""Markers of the suite, by what a test needs (``make test-fast`` leaves out all of them):
``verilator`` / ``icarus`` (a cocotb co-simulation on that simulator), ``formal`` (SymbiYosys
proofs), ``system`` (the system top: UART, host link, the simulated board), ``gatelevel``
(a synthesized netlist), ``slow`` (tens of seconds or more of Amaranth simulation, synthesis
or training). They are given here, by module and by the simulator a test is parametrized
with, so a new test in a module is marked as its neighbours are."""

import pytest

MODULE_MARKS = {
    "test_formal": ("formal", "slow"),
    "test_cosim": ("verilator",),
    "test_fuzz": ("verilator",),
    "test_characterization": ("slow",),
    "test_memory_collisions": ("slow",),
    "test_cycle_model": ("slow",),
    "test_packaging": ("slow",),
    "test_sweep": ("slow",),
    "test_compare": ("verilator", "slow"),
    "test_board_cosim": ("system", "verilator"),
    "test_sim_board": ("system", "verilator"),
    "test_board_state": ("system", "verilator"),
    "test_stopping": ("system",),
    "test_system": ("system",),
    "test_store": ("system",),
}
TEST_MARKS = {   # single tests of otherwise quick modules
    "test_demo_runs_the_whole_flow_in_a_reduced_form": ("verilator", "slow"),
    "test_sim_trains_in_rtl_and_matches_golden": ("verilator",),
    "test_run_on_board_trains_from_the_stored_set": ("slow",),
    "test_board_top_elaborates_on_its_platform": ("slow",),
}


FIRST = ("formal", "gatelevel", "slow")
"""Marks of the long tests, which start first: run on several workers (make test), the
suite's length is then the longest test's or the average load, not their sum at the end."""


def pytest_collection_modifyitems(config, items):
    for item in items:
        marks = set(MODULE_MARKS.get(item.module.__name__.rsplit(".", 1)[-1], ()))
        marks |= set(TEST_MARKS.get(item.originalname, ()))
        if "icarus" in item.nodeid:
            marks.add("icarus")
        for mark in sorted(marks):
            item.add_marker(getattr(pytest.mark, mark))
    items.sort(key=lambda item: next((i for i, m in enumerate(FIRST)
                                      if item.get_closest_marker(m)), len(FIRST)))
