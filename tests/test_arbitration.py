"""The shared ports of the core rank their requesters explicitly (hdl/arbiter.py): the table
each elaborated core reports, and the arbiter's priority and checks on a small module."""

import pytest
from amaranth.hdl import Fragment, Module, Signal
from amaranth.sim import Simulator

from ghostfpga.hdl.arbiter import Arbiter, Tier, When
from ghostfpga.hdl.core import GhostCore
from ghostfpga.hdl.program import Program
from ghostfpga.sim.configs import COSIMULATED


def _table(name):
    core = GhostCore(COSIMULATED[name])
    Fragment.get(core, None)
    return core, core.arbitration()


def test_the_sweep_core_lists_every_requester_of_its_ports():
    core, table = _table("yinyang-P8-rows")
    names = [op.name for op in Program(core.plan)]
    fb0 = names.index("fb0")
    assert [who for tier, _, who in table["s write"] if tier == "WRITEBACK"] == [
        f"op{names.index('settle')} settle settled source", f"op{fb0} fb0 result at P4"]
    assert table["a select"][0] == ("DEFAULT", 0, "the fetch's broadcast lane")
    assert table["a select"][-1] == ("WRITEBACK", fb0, f"op{fb0} fb0 a word at P1")
    # the beats write the inputs' buffers, here in s (Plan.inputs)
    assert core.plan.inputs == "s"
    assert table["s write"][0] == ("SPARE", 0, "the sample's beats")
    assert all(tier != "SPARE" for tier, _, _ in table["a write"])


@pytest.mark.parametrize("name", ["learned-3hidden-P3", "dynamics-replay-alpha1-P3",
                                  "random-replay-3hidden-P2"])
def test_priority_is_tier_then_program_order(name):
    _, table = _table(name)
    for resource, rows in table.items():
        ranks = [(Tier[tier], order) for tier, order, _ in rows]
        assert ranks == sorted(ranks), resource


def test_the_later_tier_and_pass_win_whatever_the_registration_order():
    m = Module()
    out, a, b, c = Signal(4), Signal(), Signal(), Signal()
    arb = Arbiter(m, "out")

    def drive(value):
        def emit():
            m.d.comb += out.eq(value)
        return emit
    arb.request(When(Tier.ELEMENT, 0, "element", c), drive(3))
    arb.request(When(Tier.WRITEBACK, 7, "pass 7", b), drive(2))
    arb.request(When(Tier.WRITEBACK, 2, "pass 2", a), drive(1))
    arb.emit()
    assert [who for _, _, who in arb.table()] == ["pass 2", "pass 7", "element"]
    seen = []

    async def bench(ctx):
        for bits in range(8):
            ctx.set(a, bits & 1)
            ctx.set(b, bits >> 1 & 1)
            ctx.set(c, bits >> 2)
            seen.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [0, 1, 2, 2, 3, 3, 3, 3]


def test_a_request_after_emission_or_a_deferred_fetch_is_refused():
    m = Module()
    arb = Arbiter(m, "port")
    arb.emit()
    with pytest.raises(RuntimeError, match="after the arbiter emitted"):
        arb.request(When(Tier.WRITEBACK, 0, "late", 1), lambda: None)
    with pytest.raises(RuntimeError, match="emitted twice"):
        arb.emit()
    with pytest.raises(ValueError, match="FETCH"):
        When(Tier.FETCH, 0, "fetch", 1)
    Fragment.get(m, None)   # (used)


def test_a_steered_spare_drives_the_address_whenever_no_request_does_and_writes_when_granted():
    """(hdl/state.py ``spare_lanes`` with the fetch register: the beats' address on the bus
    in every cycle no other requester writes; only their enable waits for the grant.)"""
    m = Module()
    addr, we, wants, other = Signal(4), Signal(), Signal(), Signal()
    arb = Arbiter(m, "bus", ahead=lambda: None)

    def steer():
        m.d.comb += addr.eq(5)

    def enable():
        m.d.comb += we.eq(1)

    def request():
        m.d.comb += [addr.eq(9), we.eq(1)]
    granted = arb.spare("beats", wants, enable, steer)
    arb.request(When(Tier.WRITEBACK, 0, "pass 0", other), request)
    with pytest.raises(RuntimeError, match="steered SPARE"):
        arb.fetch("a pass's fetch", lambda: None)
    arb.emit()
    seen = []

    async def bench(ctx):
        for bits in range(4):
            ctx.set(wants, bits & 1)
            ctx.set(other, bits >> 1)
            seen.append((ctx.get(addr), ctx.get(we), ctx.get(granted)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(5, 0, 0), (5, 1, 1), (9, 1, 0), (9, 1, 0)]
    # refused without the fetch register (FETCH requests assign in the FSM, before it)
    plain = Module()
    with pytest.raises(RuntimeError, match="steered SPARE"):
        Arbiter(plain, "plain").spare("beats", wants, enable, steer)
    Fragment.get(plain, None)   # (used)
