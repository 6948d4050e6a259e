"""The fixed-point golden model: integer arithmetic that tracks the float model."""

import numpy as np
import pytest

from ghostfpga.config import Config, Numerics
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.golden.ghost import GhostModel
from ghostfpga.golden.network import init_params
from ghostfpga.golden.training import train


def _x(n, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=n)


@pytest.mark.parametrize("variant", ["tied", "replay"])
def test_free_steps_keep_the_feedforward_state_exactly(variant):
    cfg = Config(layers=(4, 12, 10, 3), variant=variant, free_steps=8)
    m = FixedModel(cfg)
    x = m.quantize_input(_x(4))
    a, r = m.feedforward(x)
    u = [ai.copy() for ai in a]
    g = [a[k + 1].copy() for k in range(2)]
    for _ in range(8):
        u, g, _, _ = m._euler_step(u, g, [None, None], x, None)
    for k in range(3):
        np.testing.assert_array_equal(u[k], a[k])


@pytest.mark.parametrize("schedule", ["sweep", "dynamics"])
def test_fixed_update_follows_the_float_update(schedule):
    cfg = Config(layers=(4, 20, 12, 3), schedule=schedule, seed=7,  # active outputs
                 numerics=Numerics(rounding="nearest"))
    params = init_params(cfg)
    fixed, ghost = FixedModel(cfg, params), GhostModel(cfg, params.copy())
    before = [W.copy() for W in fixed.params.W]
    x, y = _x(4, 1), np.array([0.9, 0.1, 0.1])
    fixed.train_sample(x, y, cfg.lr)
    ghost.train_sample(x, y, cfg.lr)
    scale = 2.0 ** -cfg.numerics.weight_frac
    for k in range(3):
        d_fixed = (fixed.params.W[k] - before[k]) * scale
        d_float = np.hstack([ghost.params.W[k] - params.W[k], (ghost.params.b[k] - params.b[k])[:, None]])
        cos = (d_fixed * d_float).sum() / np.linalg.norm(d_fixed) / np.linalg.norm(d_float)
        assert cos > 0.99, (k, cos)
        assert np.linalg.norm(d_fixed - d_float) < 0.1 * np.linalg.norm(d_float)


def test_batch_prediction_equals_the_per_sample_pass():
    m = FixedModel(Config(layers=(4, 16, 3)))
    xs = np.random.default_rng(2).uniform(0, 1, size=(20, 4))
    per_sample = [int(np.argmax(m.feedforward(m.quantize_input(x))[0][-1])) for x in xs]
    assert m.predict(xs).tolist() == per_sample


def test_stochastic_rounding_steps_the_lfsr_once_per_learning_cycle():
    cfg = Config(layers=(4, 10, 3))
    m = FixedModel(cfg)
    start = m.lfsr_position
    m.train_sample(_x(4), np.array([0.9, 0.1, 0.1]), cfg.lr)
    steps = sum(mp.words for mp in (m.maps["W"][0], m.maps["W"][1]))
    assert m.lfsr_position == (start + steps) % 65535


@pytest.fixture(scope="module")
def small_yinyang():
    return yinyang().subset(n_train=1000, n_test=500)


@pytest.mark.parametrize("kw", [
    dict(), dict(schedule="dynamics", steps=8), dict(variant="replay"),
    dict(variant="learned", steps=3, alpha=1.0, schedule="dynamics"), dict(variant="learned"),
    dict(variant="learned", ghost_rule="constant", steps=4, schedule="dynamics"),
    dict(feedback="random"),
    dict(numerics=Numerics(weight_bits=8, weight_frac=5)),
    dict(numerics=Numerics(rounding="nearest")),
])
def test_every_variant_trains_deterministically(small_yinyang, kw):
    cfg = Config(epochs=2, seed=1, **kw)
    a = train(FixedModel(cfg), small_yinyang.subset(300, 200))
    b = train(FixedModel(cfg), small_yinyang.subset(300, 200))
    assert a.history == b.history


def test_fixed_training_learns_yinyang(small_yinyang):
    result = train(FixedModel(Config(epochs=5, seed=1)), small_yinyang)
    assert result.test_accuracy >= 0.75


def test_the_warm_up_moves_only_the_ghosts():
    """The self-predicting phase (golden/training.warm_up): every rate 0, so W stays bit for
    bit while V and Q learn; other variants have none."""
    from ghostfpga.golden.training import warm_up, warmup_order

    data = yinyang().subset(n_train=200, n_test=10)
    config = Config(layers=(4, 10, 3), variant="learned", ghost_warmup=50)
    model = FixedModel(config)
    before = model.params.copy()
    warm_up(model, data)
    assert all((a == b).all() for a, b in zip(model.params.W, before.W))
    assert any((a != b).any() for a, b in zip(model.params.V + model.params.Q,
                                               before.V + before.Q))
    assert len(warmup_order(config, 200)) == 50
    assert len(warmup_order(config.replace(variant="tied"), 200)) == 0
    assert len(warmup_order(config.replace(ghost_warmup=450), 200)) == 450   # repeats
