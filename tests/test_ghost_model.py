"""The float ghost model: exact feedforward free phase, variants, feedback modes, training."""

import numpy as np
import pytest

from ghostfpga.config import Config
from ghostfpga.golden.backprop import BackpropModel, backprop_gradients
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.ghost import GhostModel
from ghostfpga.golden.network import init_params, rho
from ghostfpga.golden.training import train


def _inputs(n, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=(5, n))


@pytest.mark.parametrize("variant", ["tied", "replay"])
@pytest.mark.parametrize("feedback", ["transpose", "random"])
def test_free_phase_is_exactly_the_feedforward_pass(variant, feedback):
    cfg = Config(layers=(4, 20, 16, 3), variant=variant, feedback=feedback, free_steps=50,
                 alpha=0.5, seed=1)
    model = GhostModel(cfg)
    for x in _inputs(4):
        a, r = model.feedforward(x)
        free = model.free_phase(x)
        for k in range(cfg.n_layers):
            np.testing.assert_array_equal(free.u[k], a[k])
            np.testing.assert_array_equal(free.r[k + 1], r[k + 1])


def test_learned_ghosts_do_not_cancel_before_learning():
    cfg = Config(layers=(4, 20, 3), variant="learned", free_steps=20, seed=1)
    model = GhostModel(cfg)
    x = _inputs(4)[0]
    a, _ = model.feedforward(x)
    assert np.abs(model.free_phase(x).u[0] - a[0]).max() > 1e-3


@pytest.mark.parametrize("layers", [(4, 20, 3), (4, 12, 9, 3)])
@pytest.mark.parametrize("feedback", ["transpose", "random"])
def test_the_normalized_fit_cancels_the_sample_exactly(layers, feedback):
    """After the free-phase fit the ghosts predict the drive above and the feedback of the
    sample exactly: the nudged phase then starts from a tied-like cancellation."""
    cfg = Config(layers=layers, variant="learned", feedback=feedback, seed=2)
    model = GhostModel(cfg)
    p = model.params
    for x in _inputs(4):
        model.fit_ghosts(x)
        a, r = model.feedforward(x)
        for k in range(cfg.n_layers - 1):
            g = p.V[k] @ r[k + 1] + p.v[k]
            np.testing.assert_allclose(g, a[k + 1], atol=1e-12)
            np.testing.assert_allclose(p.Q[k] @ rho(g), p.feedback(k) @ r[k + 2], atol=1e-12)


def test_learned_ghosts_learn_to_cancel_the_feedback():
    cfg = Config(layers=(4, 20, 3), variant="learned", ghost_rule="constant", ghost_lr=0.2,
                 seed=3)
    model = GhostModel(cfg)
    xs = np.random.default_rng(4).uniform(0, 1, size=(3000, 4))

    def residual():
        res = []
        for x in xs[:200]:
            free = model.free_phase(x)
            res.append(model._feedback_minus_ghost(0, free.r[2], free.g[0], None))
        return np.abs(res).mean()

    before = residual()
    for x in xs:
        model._learn_ghosts(model.free_phase(x))
    after = residual()
    assert after < 0.1 * before, (before, after)


def test_random_feedback_uses_a_fixed_matrix_not_the_transpose():
    cfg = Config(layers=(4, 10, 3), feedback="random", seed=0)
    p = init_params(cfg)
    assert p.feedback(0).shape == (10, 3)
    assert not np.allclose(p.feedback(0), p.W[1].T)
    model = GhostModel(cfg)
    w_before = [B.copy() for B in p.B_random]
    model.train_sample(_inputs(4)[0], np.array([0.9, 0.1, 0.1]), cfg.lr)
    np.testing.assert_array_equal(p.B_random[0], w_before[0])


def test_sweep_tied_and_replay_give_the_same_update():
    base = Config(layers=(4, 12, 8, 3), schedule="sweep", seed=5)
    params = init_params(base)
    x, y = _inputs(4)[1], np.array([0.1, 0.1, 0.9])
    tied, _ = GhostModel(base, params).weight_updates(x, y)
    replay, _ = GhostModel(base.replace(variant="replay"), params).weight_updates(x, y)
    for (tw, tb), (rw, rb) in zip(tied, replay):
        np.testing.assert_allclose(tw, rw, atol=1e-12)


def test_backprop_gradient_matches_finite_differences():
    cfg = Config(layers=(3, 7, 5, 2), seed=7)
    p = init_params(cfg)
    x, y = np.array([0.2, 0.6, 0.9]), np.array([0.9, 0.1])

    def cost(params):
        r = x
        for W, b in zip(params.W, params.b):
            r = rho(W @ r + b)
        return 0.5 * np.sum((y - r) ** 2)

    grads = backprop_gradients(p, x, y)
    eps = 1e-6
    for k in range(3):
        for (i, j) in [(0, 0), (1, 2), (p.W[k].shape[0] - 1, p.W[k].shape[1] - 1)]:
            q = p.copy()
            q.W[k][i, j] += eps
            up = cost(q)
            q.W[k][i, j] -= 2 * eps
            numeric = -(up - cost(q)) / (2 * eps)
            assert grads[k][0][i, j] == pytest.approx(numeric, abs=1e-7)


@pytest.fixture(scope="module")
def small_yinyang():
    return yinyang().subset(n_train=1000, n_test=500)


@pytest.mark.parametrize("model_cls,kw,floor", [
    (GhostModel, dict(schedule="sweep"), 0.75),
    (GhostModel, dict(schedule="dynamics", steps=10), 0.75),
    (GhostModel, dict(feedback="random"), 0.70),
    (GhostModel, dict(variant="learned"), 0.75),
    (GhostModel, dict(variant="learned", schedule="dynamics", steps=3, alpha=1.0), 0.75),
    (GhostModel, dict(variant="replay", schedule="dynamics", steps=3, alpha=1.0), 0.75),
    (BackpropModel, dict(), 0.75),
])
def test_short_training_learns_yinyang(small_yinyang, model_cls, kw, floor):
    cfg = Config(epochs=5, seed=1, **kw)
    result = train(model_cls(cfg), small_yinyang)
    assert result.test_accuracy >= floor
    assert len(result.history) == 5
    assert result.history[-1]["test_accuracy"] == result.test_accuracy


def test_training_is_deterministic(small_yinyang):
    cfg = Config(epochs=1, seed=3)
    a = train(GhostModel(cfg), small_yinyang.subset(300, 100))
    b = train(GhostModel(cfg), small_yinyang.subset(300, 100))
    assert a.history == b.history
