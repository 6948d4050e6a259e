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
           "icebreaker": Config(layers=(4, 30, 3), hardware=Hardware(lanes=6, split_rows=False,
                                                                     forward_drives=True)),
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
    after fwd0 wrote them (no drain); the settling (with the argmax) takes the output's
    drives from the lanes' accumulators, which hold them from P0 of fwd1's last fetch (its
    E1 there: 3 cycles, not the 5 a read of ``a`` would wait); the learning passes follow
    each other at once, and the last waits for its weights before busy falls (unless the next
    sample is chained)."""
    program = Plan(COSIMULATED["yinyang-P8-rows"]).program()
    drains = {op.name: program.drain(n) for n, op in enumerate(program)}
    assert drains["fwd0"] == 0
    assert drains["fwd1"] == stage("P0") - stage("E1") - 1 == 3
    assert drains["learn0"] == 0 and drains["learn1"] == program.write_stage(len(program) - 1)
    assert program.cycles(True) < _unoverlapped(program)


def test_the_settling_takes_the_drives_from_the_accumulators_where_one_group_holds_them():
    """The walk over the output's drives (the settling, or the argmax) takes the first two
    units' drives from lanes 0 and 1's accumulators (hdl/events.py ``forwards_drives``) where
    the output layer's forward pass in the rows layout leaves every output unit in a lane of
    one row group: it reads their ``a`` words no more, and starts two cycles earlier, in
    training and in an inference (the iCEBreaker core: 164 -> 162 and 65 -> 63 cycles). Not
    where the output's rows are split (the tree writes them one by one), where the outputs
    span two row groups (the first group's accumulators are overwritten), under dynamics
    (its walks step the output units they read) or where the plan does not ask for it
    (``hardware.forward_drives``). One cycle earlier (the accumulators' last
    write at L2 - 1) co-simulates with 339 mismatches in 120 samples (rates-port-rows-P6,
    Verilator): the lag is exact (tests/test_cosim.py co-simulates the forwarding configs)."""
    from ghostfpga.hdl.events import ACC, forwards_drives

    def walk(config):
        program = Plan(config).program()
        return program, next(n for n, op in enumerate(program) if op.argmax)

    program, n = walk(CONFIGS["icebreaker"])
    assert forwards_drives(program, n)
    assert (program.cycles(True), program.cycles(False)) == (162, 63)
    evs = events(program, n)   # units 0 and 1 from lanes 0 and 1 at E1; unit 2 read at E0
    assert sorted((t, banks) for t, _, memory, _, banks, _ in evs if memory == ACC) \
        == [(1, frozenset([0])), (2, frozenset([1]))]
    assert [t for t, port, *_ in evs if port == ("read", "a")] == [2]
    fwd1 = n - 1
    assert program.drain(fwd1) == program.drain(fwd1, train=False) == 3
    # hardware.forward_drives "auto": on the ECP5 only (its some 60 cells are asked for on
    # the UP5K: the iCEBreaker example); false: never
    rows6 = dict(layers=(4, 30, 3))
    assert forwards_drives(*walk(Config(**rows6, hardware=Hardware(
        lanes=6, split_rows=False, device="ecp5-85f"))))
    for config in (Config(),                                          # W_1 split
                   Config(layers=(4, 30, 10), hardware=Hardware(lanes=6, split_rows=False,
                                                                forward_drives=True)),
                   COSIMULATED["dynamics-3hidden-rows-P3"],
                   Config(**rows6, hardware=Hardware(lanes=6, split_rows=False)),   # auto
                   Config(**rows6, hardware=Hardware(lanes=6, split_rows=False,
                                                     device="ecp5-85f", forward_drives=False))):
        program, n = walk(config)
        assert not forwards_drives(program, n)
        assert not any(ev[2] == ACC for k in range(len(program)) for ev in events(program, k))


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


def test_the_first_learning_pass_reads_x_beside_the_feedback_write_back():
    """The feedback pass's write-back reads its units' drives on ``a``'s read port (and its
    select) until 5 cycles after its last fetch. The first learning pass reads x: in ``s``
    (``Plan.inputs``, the default on both devices where W_0 takes the rows layout) or, with
    ``hardware.rates_port = true``, on ``a``'s second read port. Either way it starts right
    after the feedback pass: 4-30-3 on P = 8 in 97 cycles; with x in ``a`` and no port it
    waited 3 (100). Only the first forward and learning passes read x; only learning
    passes use the rates port; every drain is the same with either."""
    from ghostfpga.hdl.passes.learn import pre_port
    from ghostfpga.hdl.program import LEARN_KINDS
    from ghostfpga.hdl.state import RATES

    in_s = Plan(Config(layers=(4, 30, 3))).program()
    ecp5 = Plan(Config(layers=(4, 30, 3), hardware=Hardware(device="ecp5-85f"))).program()
    port = Plan(Config(layers=(4, 30, 3), hardware=Hardware(device="ecp5-85f",
                                                            rates_port=True))).program()
    assert not in_s.plan.rates_port and not ecp5.plan.rates_port and port.plan.rates_port
    assert (in_s.plan.inputs, ecp5.plan.inputs, port.plan.inputs) == ("s", "s", "a")
    assert pre_port(port, "a") == RATES and pre_port(in_s, "a") == "a"
    assert pre_port(port, "g") == "g"
    fb = next(n for n, op in enumerate(port) if op.name == "fb0")
    assert port.passes[fb + 1].kind in LEARN_KINDS
    drains = [program.drain(n) for program in (in_s, ecp5, port) for n in range(len(port))]
    assert drains[:len(port)] == drains[len(port):2 * len(port)] == drains[2 * len(port):]
    assert in_s.drain(fb) == 0
    assert (in_s.cycles(True), ecp5.cycles(True), port.cycles(True)) == (97, 97, 97)
    for n, op in enumerate(port):
        uses = {ev[1] for ev in events(port, n)}
        assert (("read", RATES) in uses) == (op.kind in LEARN_KINDS), op.name
    for n, op in enumerate(in_s):   # x read on s: by the first forward and learning passes
        reads_x = [ev for ev in events(in_s, n) if ev[1] == ("read", "s")
                   and ev[3] < in_s.plan.smap.base("s", 0)]
        assert bool(reads_x) == (op.name in ("fwd0", "learn0")), op.name
    # x in a with no port (hardware.inputs = "a"): the learning pass waits for the
    # feedback's write-back on a's port
    in_a = Plan(Config(layers=(4, 30, 3), hardware=Hardware(inputs="a"))).program()
    assert in_a.plan.inputs == "a" and in_a.drain(fb) == 3 and in_a.cycles(True) == 100


@pytest.mark.parametrize("layers, lanes, port", [
    ((4, 30, 3), 8, False),        # W_0 in rows: x in s instead
    ((64, 128, 10), 32, False),    # the ULX3S digits core: the same
    ((784, 100, 10), 32, False),   # the ULX3S MNIST core: W_0 split, a 62 words deep
    ((4, 3, 2), 8, True),          # W_0 split, a 4 words deep
])
def test_the_rates_port_only_where_w0_is_split_and_a_is_one_lut_ram_cell_deep(layers, lanes,
                                                                               port):
    from ghostfpga.hdl.plan import RATES_PORT_WORDS
    from ghostfpga.hdl.statemap import StateMap
    config = Config(layers=layers, hardware=Hardware(lanes=lanes, device="ecp5-85f"))
    plan = Plan(config)
    assert plan.rates_port == port
    split = plan.slots[("W", 0)].lane_map.by_columns
    assert port == (split and StateMap(config, lanes).depths["a"] <= RATES_PORT_WORDS)
    assert plan.inputs == ("a" if split else "s")


@pytest.mark.parametrize("device", ["up5k", "ecp5-85f"])
@pytest.mark.parametrize("setting", [True, False])
def test_hardware_rates_port_overrides_the_automatic_choice(device, setting):
    """``hardware.rates_port`` true or false wins over "auto" on either device; on the iCE40
    the port reads a copy of ``a``, a block RAM of its own in each bank."""
    from amaranth.hdl import Fragment

    from ghostfpga.hdl import GhostCore
    from ghostfpga.hdl.state import RATES

    config = Config(layers=(4, 30, 3), hardware=Hardware(lanes=6, split_rows=False,
                                                           device=device, rates_port=setting,
                                                           forward_drives=True))
    plan = Plan(config)
    assert plan.rates_port == setting
    # without the port the inputs are in s (Plan.inputs): the first learning pass starts as
    # early as with it (it waited 4 cycles with x in a: 166)
    assert plan.inputs == ("a" if setting else "s")
    assert plan.program().cycles(True) == 162
    core = GhostCore(config)
    Fragment.get(core, None)
    for bank in core.banks:
        assert (RATES in bank.ports) == setting
        if setting:
            memory = bank.ports[RATES][0]
            assert (memory is bank.ports["a"][0]) == (device == "ecp5-85f")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_no_pass_uses_a_port_twice_in_one_cycle(name):
    """The schedule keeps passes apart, not a pass from itself: every pass's own events use
    each port at most once a cycle (two reads of one memory in a cycle would leave one of
    them the other's word: a learning walk that read its inputs on ``s`` while its ETA lane
    reads an error there, which ``Plan.inputs`` rules out)."""
    program = Plan(CONFIGS[name]).program()
    for n, op in enumerate(program):
        uses = [(t, port) for t, port, *_ in events(program, n, one_bank=False)]
        doubled = {u for u in uses if uses.count(u) > 1}
        assert not doubled, (op.name, sorted(doubled)[:4])


def test_a_learning_pass_issues_the_next_ones_first_eta_in_its_last_row():
    """The iCEBreaker core (4-30-3, one lane per row, P = 6): learn0 (W_0: 5 row groups of 5
    words) issues learn1's first ETA (W_1's errors, layer 1's ``s`` words) in its last row's
    slot, before its last LEARN, as it does the next group's in every other row; learn1 then
    starts with its first LEARN: 2 + 25 + 4 = 31 cycles and 33 become 32 and 31. Not where
    the next pass's rate is the normalizer's step (it waits for the division) or where a walk
    computes its scaled errors ahead (split rows: no slot in its rows)."""
    from dataclasses import replace

    from ghostfpga.hdl.program import PassKind

    program = Plan(CONFIGS["icebreaker"]).program()
    learn0, learn1 = [n for n, op in enumerate(program) if op.kind == PassKind.LEARN]
    assert learn1 == learn0 + 1 and program.hands_eta_on(learn0)
    assert not program.hands_eta_on(learn1)   # the sample's last pass
    assert (program.fetch_cycles(learn0), program.fetch_cycles(learn1)) == (32, 31)
    smap = program.plan.smap
    errors = {t: addr for t, port, memory, addr, *_ in events(program, learn0)
              if port == ("read", "s") and memory == "s"
              and addr >= smap.base("s", 1)}
    assert errors == {30: smap.base("s", 1)}   # the slot before learn0's last LEARN
    first = min(t for t, *_ in events(program, learn1))
    assert first == 0 and not any(port == ("read", "s") for t, port, *_ in
                                  events(program, learn1) if t == 0)
    config = CONFIGS["icebreaker"]
    assert program.cycles(True) == 162
    assert Plan(replace(config, hardware=replace(config.hardware, inputs="a"))) \
        .program().cycles(True) == 166
    # the normalized rule's V and Q learn at the fit's step: their passes take no ETA early
    learned = Plan(CONFIGS["learned-P8"]).program()
    for n, op in enumerate(learned):
        if op.kind in (PassKind.LEARN_V, PassKind.LEARN_Q) and n:
            assert not learned.hands_eta_on(n - 1)
    # split rows whose ETA lane computes their scaled errors ahead have no slot to lend
    split = Plan(CONFIGS["yinyang-P8"]).program()
    assert not any(split.hands_eta_on(n) for n in range(len(split)))
