"""Overlapped passes (hdl/schedule.py): each pass starts at the first cycle where it meets no
earlier pass on a shared port or a word. Whether the model is right is checked on the RTL
(tests/test_memory_collisions.py: collisions and port conflicts; co-simulation: every value);
these tests pin what it decides."""

import pytest

from ghostfpga.config import Config, Hardware
from ghostfpga.hdl import Plan
from ghostfpga.hdl.schedule import AFTER_LEARN, WAITS_AFTER, after_learn, events
from ghostfpga.hdl.stages import stage
from ghostfpga.sim.characterize import CHARACTERIZED
from ghostfpga.sim.configs import COSIMULATED

CONFIGS = {**COSIMULATED, **CHARACTERIZED,
           "icebreaker": Config(layers=(4, 30, 3), hardware=Hardware(lanes=6, split_rows=False)),
           "mnist-P32": Config(layers=(784, 100, 10),
                               hardware=Hardware(lanes=32, device="ecp5-85f"))}


def _unoverlapped(program, train=True):
    return program.cycles(train, overlap=False)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_overlap_never_costs_a_cycle(name):
    program = Plan(CONFIGS[name]).program()
    train, infer = program.cycles(True), program.cycles(False)
    assert train <= _unoverlapped(program, True) and infer <= _unoverlapped(program, False)


def test_the_drains_of_the_sweep_core():
    """One lane per row, 4-30-3 on P = 8: fwd1 reads layer 1's words in column order, long
    after fwd0 wrote them (no drain); the settling (with the argmax) reads output 0 first,
    which fwd1 writes at P0 of its last fetch (the full 5 cycles); the learning passes follow
    each other at once, and the last waits for its weights before busy falls (unless the next
    sample is chained)."""
    program = Plan(COSIMULATED["yinyang-P8-rows"]).program()
    drains = {op.name: program.drain(n) for n, op in enumerate(program)}
    assert drains["fwd0"] == 0
    assert drains["fwd1"] == stage("P0")
    assert drains["learn0"] == 0 and drains["learn1"] == program.write_stage(len(program) - 1)
    assert program.cycles(True) < _unoverlapped(program)


@pytest.mark.parametrize("name", ["learned-3hidden-P3", "dynamics-replay-alpha1-P3",
                                  "constant-learned-dynamics-3hidden-P3"])
def test_after_a_barrier_every_earlier_access_is_done(name):
    program = Plan(CONFIGS[name]).program()
    start, last = 0, -1
    for n, op in enumerate(program):
        if n and program.passes[n - 1].kind in WAITS_AFTER:
            assert start > last, f"{op.name} starts before an earlier access"
        last = max([last] + [start + ev[0] for ev in events(program, n)])
        start += program.fetch_cycles(n) + program.drain(n)


def test_element_walks_read_one_bank_only_where_it_buys_cycles():
    """Split rows: the tree writes the outputs one by one, and the settling reads each from
    its bank as soon as it is written; one lane per row writes them all at once (every bank
    costs nothing then, and saves the per-bank read enables); dynamics always reads one bank
    (its walks write the region they read)."""
    def settle(config):
        program = Plan(config).program()
        n = next(n for n, op in enumerate(program) if op.name == "settle")
        return program.reads_one_bank(n)
    assert settle(Config())
    assert not settle(Config(hardware=Hardware(split_rows=False)))
    dynamics = Plan(COSIMULATED["dynamics-tied"]).program()
    walks = [n for n, op in enumerate(dynamics) if op.kind.name in ("ARGMAX", "GHOST", "OUTPUT",
                                                                     "ERROR")]
    assert walks and all(dynamics.reads_one_bank(n) for n in walks)


@pytest.mark.parametrize("name", [n for n, c in CONFIGS.items()
                                  if c.variant == "learned" and c.ghost_rule == "normalized"])
def test_a_fit_starts_after_its_last_rate_reached_the_normalizers_sum(name):
    """The normalizer sums its rates through registers (hdl/normalizer.py ``add_latency``, one
    more with lane inputs for a split V): every NORM pass starts at least that long after the
    tapping pass's last rate (fed at stage I of the last fetch of its first row group or split
    row), and not before the tapping pass's walk ends."""
    from ghostfpga.hdl.normalizer import add_latency
    from ghostfpga.hdl.program import PassKind

    plan = Plan(CONFIGS[name])
    program = plan.program()
    norms = [n for n, op in enumerate(program) if op.kind == PassKind.NORM]
    assert norms
    for n in norms:
        tap = n - 1
        assert program.passes[tap].tap
        after_last_rate = (program.fetch_cycles(tap) - program.tap_fetches(tap)
                           + program.drain(tap) + 1 - stage("I"))
        assert after_last_rate >= add_latency(plan.normalizer_lanes)


def test_split_rows_learn_without_eta_cycles_where_the_eta_lane_is_idle():
    """MNIST's 100 rows of 25 words (the last word holds 17 of 32 columns) learn one LEARN a
    cycle after the first row's ETA and wait; the events issue an ETA read two rows ahead in
    every row's last word but the last two rows'. A full last word (no idle ETA lane) and a
    held variant (its ETA shares the rates' port) keep one ETA a row."""
    from ghostfpga.hdl.program import PassKind

    def learns(config):
        program = Plan(config).program()
        return program, [n for n, op in enumerate(program) if op.kind == PassKind.LEARN]

    program, (learn0, _) = learns(CONFIGS["mnist-P32"])
    slot = program.slot(program.passes[learn0])
    assert program.eta_ahead(learn0) and (slot.rows, slot.lane_map.chunks) == (100, 25)
    assert program.fetch_cycles(learn0) == 2 + 100 * 25
    reads = sorted(t for t, port, *_ in events(program, learn0) if port == ("read", "s"))
    assert reads == [0, 1] + [2 + 25 * g + 24 for g in range(98)]
    full = Config(layers=(4, 31, 3), hardware=Hardware(lanes=8))   # W1: 32 columns, 4 words
    held = Config(layers=(4, 30, 3), variant="replay")
    for config in (full, held):
        program, (_, learn1) = learns(config)
        slot = program.slot(program.passes[learn1])
        assert slot.lane_map.by_columns and not program.eta_ahead(learn1)


def test_a_pass_over_the_matrix_just_learned_waits_only_for_the_weight_read_port():
    """Learned ghosts (4-8-4, P = 8): V_0 (4 x 9, split rows of 2 words: 8 words a lane) is
    walked again right after it learned, in the same order: the forward pass waits
    ``AFTER_LEARN`` cycles (its first weight read past the last LEARN's), not for the last
    weight's write; Q_0 (8 x 4, one row group: 4 words a lane) is too short for that and keeps
    the full wait. The weight read port's lag is checked on the RTL
    (tests/test_memory_collisions.py: one cycle less meets the last LEARN's read)."""
    program = Plan(Config(layers=(4, 8, 4), variant="learned",
                          hardware=Hardware(lanes=8))).program()
    assert program.plan.slots[("V", 0)].lane_map.by_columns
    names = [op.name for op in program]
    drains = [program.drain(n) for n in range(len(program))]
    v, q = names.index("learn_V0"), names.index("learn_Q0")
    assert names[v + 1] == "ghost_fwd0" and after_learn(program, v + 1)
    assert drains[v] == AFTER_LEARN
    assert names[q + 1] == "ghost_out0" and not after_learn(program, q + 1)
    assert drains[q] == program.write_stage(q)


@pytest.mark.parametrize("name", ["learned-P8", "learned-3hidden-P3", "learned-dynamics-P3"])
def test_the_first_fit_divides_beside_the_free_phase_and_an_inference_skips_it(name):
    """Normalized learned ghosts: V_0's ghost drives (tapping the normalizer) and the start of
    its division run right after FWD 0, so ``LEARN_V`` 0 follows the argmax's walk at once,
    or as soon as the division is done where the passes between are shorter than it. An
    inference skips both: it runs the passes of the same core with tied ghosts, in as many
    cycles (the RTL's counts: tests/test_cycle_model.py)."""
    import dataclasses

    from ghostfpga.hdl.normalizer import NORMALIZER_CYCLES

    config = CONFIGS[name]
    program = Plan(config).program()
    names = [op.name for op in program]
    assert names[:4] == ["fwd0", "ghost_fwd0", "norm0", "fwd1"]
    assert program.passes[1].tap and all(op.train_only for op in program.passes[1:3])
    learn_v = names.index("learn_V0")
    start = [0]
    for n in range(learn_v):
        start.append(start[-1] + program.fetch_cycles(n) + program.drain(n))
    assert program.passes[learn_v - 1].argmax
    argmax_done = start[learn_v - 1] + program.fetch_cycles(learn_v - 1)
    assert start[learn_v] == max(argmax_done, start[2] + NORMALIZER_CYCLES)
    assert [names[n] for n in program.runs(False)][:2] == ["fwd0", "fwd1"]
    assert not any(program.passes[n].train_only for n in program.runs(False))
    tied = Plan(dataclasses.replace(config, variant="tied")).program()
    assert program.cycles(False) == tied.cycles(False)
    assert [names[n] for n in program.runs(False)] == [op.name for op in tied][:tied.argmax_pass + 1]


def test_learning_reads_its_rates_on_the_second_port_where_the_plan_has_one():
    """On the ECP5 (``Plan.rates_port``) the learning passes read their presynaptic rates on
    ``a``'s second read port, so the first starts right after the feedback pass, whose
    write-back still reads units' drives on ``a``'s own port (and its select): 4-30-3 on
    P = 8 in 97 cycles, where the UP5K's core, without the port, waits 3 (100). No other
    pass uses the port; every drain but that one is the iCE40's."""
    from ghostfpga.hdl.passes.learn import pre_port
    from ghostfpga.hdl.program import LEARN_KINDS
    from ghostfpga.hdl.state import RATES

    ice40 = Plan(Config(layers=(4, 30, 3))).program()
    ecp5 = Plan(Config(layers=(4, 30, 3), hardware=Hardware(device="ecp5-85f"))).program()
    assert not ice40.plan.rates_port and ecp5.plan.rates_port
    assert pre_port(ecp5, "a") == RATES and pre_port(ice40, "a") == "a"
    assert pre_port(ecp5, "g") == "g"
    fb = next(n for n, op in enumerate(ecp5) if op.name == "fb0")
    assert ecp5.passes[fb + 1].kind in LEARN_KINDS
    assert ice40.drain(fb) == 3 and ecp5.drain(fb) == 0
    assert [ice40.drain(n) for n in range(len(ice40)) if n != fb] == \
        [ecp5.drain(n) for n in range(len(ecp5)) if n != fb]
    assert (ice40.cycles(True), ecp5.cycles(True)) == (100, 97)
    for n, op in enumerate(ecp5):
        uses = {ev[1] for ev in events(ecp5, n)}
        assert (("read", RATES) in uses) == (op.kind in LEARN_KINDS), op.name


@pytest.mark.parametrize("layers, lanes, port", [
    ((4, 30, 3), 8, True),         # a: 7 words a lane
    ((64, 128, 10), 32, True),     # the ULX3S digits core: 9
    ((64, 32, 10), 8, False),      # 22
    ((784, 100, 10), 32, False),   # the ULX3S MNIST core: 62
])
def test_the_rates_port_only_where_a_is_one_lut_ram_cell_deep(layers, lanes, port):
    from ghostfpga.hdl.plan import RATES_PORT_WORDS
    from ghostfpga.hdl.statemap import StateMap
    config = Config(layers=layers, hardware=Hardware(lanes=lanes, device="ecp5-85f"))
    assert Plan(config).rates_port == port
    assert (StateMap(config, lanes).depths["a"] <= RATES_PORT_WORDS) == port


@pytest.mark.parametrize("device", ["up5k", "ecp5-85f"])
@pytest.mark.parametrize("setting", [True, False])
def test_hardware_rates_port_overrides_the_automatic_choice(device, setting):
    """``hardware.rates_port`` true or false wins over "auto" on either device; on the iCE40
    the port reads a copy of ``a``, a block RAM of its own in each bank."""
    from amaranth.hdl import Fragment

    from ghostfpga.hdl import GhostCore
    from ghostfpga.hdl.state import RATES

    config = Config(layers=(4, 30, 3), hardware=Hardware(lanes=6, split_rows=False,
                                                           device=device, rates_port=setting))
    plan = Plan(config)
    assert plan.rates_port == setting
    assert plan.program().cycles(True) == (165 if setting else 169)
    core = GhostCore(config)
    Fragment.get(core, None)
    for bank in core.banks:
        assert (RATES in bank.ports) == setting
        if setting:
            memory = bank.ports[RATES][0]
            assert (memory is bank.ports["a"][0]) == (device == "ecp5-85f")
