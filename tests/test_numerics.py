"""The numerics contract: rounding, saturation, LFSR, formats, lane mapping."""

import math

import numpy as np
import pytest

from ghostfpga.config import Config, ConfigError, Numerics
from ghostfpga.golden.lanes import LaneMap
from ghostfpga.golden.numerics import (LFSR_PERIOD, Formats, lane_random, lfsr_position, lfsr_step,
                                       lfsr_table, quantize, round_shift, saturate,
                                       stochastic_shift)


def test_round_shift_is_round_half_up_for_every_small_value():
    x = np.arange(-4096, 4096, dtype=np.int64)
    for s in range(0, 9):
        expected = np.floor(x / 2**s + 0.5).astype(np.int64)
        np.testing.assert_array_equal(round_shift(x, s), expected)
        assert [round_shift(int(v), s) for v in x[::97]] == list(expected[::97])
    np.testing.assert_array_equal(round_shift(x, -3), x * 8)


def test_stochastic_shift_is_unbiased_over_the_lfsr_values():
    u = np.arange(65536, dtype=np.int64)
    for shift in (4, 11, 16, 20):
        for x in (-1000003, -5, -1, 0, 1, 7, 12345, 2**21 + 3):
            mean = stochastic_shift(np.int64(x), shift, u).mean()
            assert abs(mean - x / 2**shift) <= 2**-16 + 1e-12, (shift, x, mean)
            vals = set(stochastic_shift(np.int64(x), shift, u).tolist())
            assert vals <= {math.floor(x / 2**shift), math.floor(x / 2**shift) + 1}


def test_saturate_clamps_never_wraps():
    x = np.array([-10**6, -129, -128, 0, 127, 128, 10**6])
    np.testing.assert_array_equal(saturate(x, 8), [-128, -128, -128, 0, 127, 127, 127])
    np.testing.assert_array_equal(saturate(x, 8, signed=False), [0, 0, 0, 0, 127, 128, 255])
    assert saturate(300, 8) == 127 and saturate(-300, 8) == -128


def test_quantize_rounds_half_up_and_saturates():
    np.testing.assert_array_equal(quantize(np.array([0.5, -0.5, 1.49, 100.0, -100.0]) / 4, 2, 4),
                                  [1, 0, 1, 7, -8])


def test_lfsr_is_maximal_and_the_table_follows_the_step():
    t = lfsr_table()
    assert len(t) == LFSR_PERIOD and len(set(t.tolist())) == LFSR_PERIOD
    assert t.min() == 1 and t.max() == 65535
    for i in (0, 1, 100, 65533):
        assert lfsr_step(int(t[i])) == t[(i + 1) % LFSR_PERIOD]


def test_lanes_see_distinct_rotations_of_the_shared_lfsr():
    state = 0x8001
    words = [int(lane_random(state, p)) for p in range(16)]
    assert words[0] == state and len(set(words)) == 16
    assert int(lane_random(state, 1)) == 0x00C0  # rotated left by 7
    assert int(lane_random(state, 16)) == state
    assert lfsr_position(1) == 0


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("rows,cols,lanes", [
    (30, 5, 8), (3, 31, 8), (120, 5, 8), (3, 121, 8), (32, 65, 8), (10, 33, 8), (7, 3, 1),
    (5, 2, 8), (1, 1, 4), (9, 4, 3)])
def test_lane_map_places_every_weight_once(rows, cols, lanes, split):
    m = LaneMap.build(rows, cols, lanes, split)
    assert m.lane.min() >= 0 and m.lane.max() < lanes
    pairs = set(zip(m.lane.ravel().tolist(), m.address.ravel().tolist()))
    assert len(pairs) == rows * cols  # no two weights share a lane word
    assert m.address.max() < m.words
    assert m.words == min(math.ceil(rows / lanes) * cols,
                          rows * math.ceil(cols / lanes) if split else rows * cols)
    if m.by_columns:   # column i in lane i mod P, each row a run of chunks
        np.testing.assert_array_equal(m.lane, np.arange(cols)[None, :].repeat(rows, 0) % lanes)
    else:              # row j in lane j mod P, each lane's words contiguous from 0
        for p in range(lanes):
            addr = np.sort(m.address[m.lane == p])
            np.testing.assert_array_equal(addr, np.arange(len(addr)))


def test_narrow_layers_split_rows_over_lanes():
    m = LaneMap.build(3, 31, 8)  # the Yin-Yang output layer: 3 x 4 chunks, not 31 cycles
    assert m.by_columns and m.words == 12
    assert len(set(m.lane.ravel().tolist())) == 8
    assert not LaneMap.build(3, 31, 8, split=False).by_columns
    assert not LaneMap.build(30, 5, 8).by_columns  # wide layers keep a row per lane


def test_which_matrices_may_split_their_rows():
    """W, and V under sweep (its error comes broadcast; the normalized rule's fit taps every
    lane's rate); never B or Q, nor V under dynamics; nothing with ``split_rows`` off. The golden model and ``Plan`` both ask ``may_split``, so
    each weight's update rounds with the LFSR word of its lane and cycle in the core."""
    from ghostfpga.config import Hardware
    from ghostfpga.golden.fixed import FixedModel
    from ghostfpga.golden.lanes import may_split
    from ghostfpga.hdl import Plan

    constant = Config(variant="learned", ghost_rule="constant")
    assert may_split(constant, "W") and may_split(constant, "V")
    assert not may_split(constant, "Q") and not may_split(Config(feedback="random"), "B")
    assert may_split(Config(variant="learned"), "V")
    assert not may_split(Config(variant="learned", schedule="dynamics", alpha=1.0, steps=3),
                         "V")
    assert not may_split(Config(variant="learned", ghost_rule="constant", schedule="dynamics"),
                         "V")
    assert not may_split(Config(variant="learned", ghost_rule="constant",
                                hardware=Hardware(split_rows=False)), "V")
    plan, model = Plan(constant), FixedModel(constant)   # 4-30-3: V_0 is 3 x 31, on 8 lanes
    assert plan.slots[("V", 0)].lane_map.by_columns and model.maps["V"][0].by_columns
    assert plan.slots[("V", 0)].lane_map.words == model.maps["V"][0].words == 12


def test_formats_from_default_config():
    f = Formats.from_config(Config())
    assert (f.beta_shift, f.alpha_shift) == (6, 1)
    assert f.accumulator_bits == Formats.required_accumulator_bits(16, 31)
    assert f.eta_mantissa(0.05 * 64, "lr") == round(3.2 * 256)


@pytest.mark.parametrize("changes,field", [
    (dict(beta=0.01), "beta"), (dict(alpha=0.3), "alpha"), (dict(beta=2.0**-15), "beta"),
    (dict(numerics=Numerics(accumulator_bits=20)), "numerics.accumulator_bits"),
    # found by ghostfpga fuzz: each failed only inside the generator or mid-run
    (dict(numerics=Numerics(eta_frac=1)), "numerics.eta_frac"),
    (dict(variant="learned",
          numerics=Numerics(error_frac=7, rate_frac=6, potential_bits=12, eta_frac=10)),
     "numerics.error_frac"),
    (dict(lr=0.5), "lr"),
    (dict(numerics=Numerics(rate_frac=10, error_frac=9, potential_bits=12)),
     "numerics.rate_frac"),
    (dict(variant="learned", ghost_rule="constant", ghost_lr=20.0), "ghost_lr"),
])
def test_fixed_point_config_errors_name_the_field(changes, field):
    with pytest.raises(ConfigError) as info:
        Formats.from_config(Config(**changes))
    assert info.value.field == field


def test_learning_rate_beyond_the_multiplier_is_rejected():
    f = Formats.from_config(Config())
    with pytest.raises(ConfigError, match="does not fit the 12-bit"):
        f.eta_mantissa(20.0, "lr")
