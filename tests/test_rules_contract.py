"""Properties every local learning rule shares: a batch update is the mean of its per-sample
updates, ``W`` and the inputs are never modified, state round-trips and resets, lookup by name,
and parameter and input validation. (Convergence to oracles is in test_rules.py.)"""

import numpy as np
import pytest

from sim.errors import ValidationError
from sim.learning.rules import (
    BCM,
    AntiHebbian,
    Backprop,
    Competitive,
    FeedbackAlignment,
    Hebb,
    Instar,
    Oja,
    Sanger,
    get,
    names,
)

# ---------------------------------------------------------------- batch combination, purity
MEAN_RULES = [Hebb(normalize=None), Hebb(), Oja(), Oja(mode="subspace"), Sanger(),
              BCM(theta0=0.3), AntiHebbian(), Instar()]


@pytest.mark.parametrize("rule", MEAN_RULES, ids=lambda r: repr(r))
def test_batch_direction_is_mean_of_sample_directions(rule):
    rng = np.random.default_rng(12)
    n = 5
    W = rng.standard_normal((n, n))
    pre = rng.standard_normal((7, n))
    post = pre @ W.T if not isinstance(rule, AntiHebbian) else pre
    rule.reset(n)
    s0 = rule.state()
    singles, states = [], []
    for i in range(7):
        rule.set_state(s0)
        singles.append(rule.delta(pre[i:i + 1], post[i:i + 1], W))
        states.append(rule.state())
    rule.set_state(s0)
    batch = rule.delta(pre, post, W)
    assert np.allclose(batch, np.mean(singles, axis=0))
    for key, value in rule.state().items():  # state moves by the mean of per-sample moves
        assert np.allclose(value, np.mean([s[key] for s in states], axis=0))


ALL_RULES = MEAN_RULES + [Competitive(p=3.0, k=2)]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: repr(r))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rules_never_modify_W_and_keep_dtype(rule, dtype):
    rng = np.random.default_rng(13)
    W = rng.standard_normal((4, 4)).astype(dtype)
    pre = rng.uniform(0, 1, (6, 4)).astype(dtype)
    post = pre @ W.T
    W_copy, pre_copy, post_copy = W.copy(), pre.copy(), post.copy()
    rule.reset(4)
    d = rule.delta(pre, post, W)
    assert d.shape == W.shape and d.dtype == dtype and np.all(np.isfinite(d))
    assert np.array_equal(W, W_copy) and np.array_equal(pre, pre_copy) and np.array_equal(post, post_copy)
    assert rule.local and not rule.needs_error


# ---------------------------------------------------------------- state, lookup, validation
@pytest.mark.parametrize("cls, key", [(BCM, "theta"), (AntiHebbian, "thresholds")])
def test_state_roundtrip_and_reset(cls, key):
    rng = np.random.default_rng(14)
    rule = cls()
    assert rule.state() == {}
    y = rng.uniform(0, 1, (5, 3))
    rule.delta(y, y, np.zeros((3, 3)))
    saved = rule.state()
    other = cls()
    other.set_state(saved)
    assert np.array_equal(other.state()[key], saved[key])
    saved[key][:] = 99  # state() returns copies
    assert not np.any(rule.state()[key] == 99)
    rule.reset(4)
    assert rule.state()[key].shape == (4,)
    with pytest.raises(ValidationError, match="^invalid W="):
        rule.delta(y, y, np.zeros((3, 3)))  # 3 units, state for 4


def test_get_and_names():
    assert names() == sorted(["hebb", "oja", "sanger", "bcm", "competitive", "antihebbian",
                              "instar", "foldiak", "none", "delta", "backprop", "feedback_alignment"])
    assert isinstance(get("OJA"), Oja)
    assert get("competitive", p=2.0, k=3, delta=0.1).delta_strength == 0.1
    assert isinstance(get("feedback_alignment", scale=0.5), FeedbackAlignment)
    assert type(get("backprop")) is Backprop
    with pytest.raises(ValidationError, match="^invalid name='nope'.*antihebbian.*sanger"):
        get("nope")
    with pytest.raises(ValidationError, match="^invalid params="):
        get("hebb", rate=1.0)


@pytest.mark.parametrize("make, param", [
    (lambda: Hebb(normalize="l1"), "normalize"),
    (lambda: Hebb(normalize=2), "normalize"),
    (lambda: Oja(mode="columns"), "mode"),
    (lambda: BCM(tau_theta=0.5), "tau_theta"),
    (lambda: BCM(tau_theta=np.nan), "tau_theta"),
    (lambda: BCM(theta0=-1.0), "theta0"),
    (lambda: Competitive(p=0.5), "p"),
    (lambda: Competitive(k=1), "k"),
    (lambda: Competitive(k=2.0), "k"),
    (lambda: Competitive(delta=-0.1), "delta"),
    (lambda: AntiHebbian(p=0.0), "p"),
    (lambda: AntiHebbian(p=1.5), "p"),
    (lambda: AntiHebbian(alpha=0.0), "alpha"),
    (lambda: AntiHebbian(gamma=-1.0), "gamma"),
    (lambda: Instar(beta=0.0), "beta"),
    (lambda: Instar(beta="fast"), "beta"),
    (lambda: BCM().reset(0), "n_post"),
    (lambda: AntiHebbian().reset(2.5), "n_post"),
    (lambda: BCM().set_state([1.0]), "state"),
    (lambda: BCM().set_state({"thresholds": np.zeros(2)}), "state"),
    (lambda: BCM().set_state({"theta": np.zeros((2, 2))}), r"state\['theta'\]"),
    (lambda: AntiHebbian.constrain(np.zeros((2, 3))), "L"),
])
def test_parameter_validation(make, param):
    with pytest.raises(ValidationError, match=f"^invalid {param}="):
        make()


W_OK = np.zeros((3, 4))
PRE_OK = np.ones((5, 4))
POST_OK = np.ones((5, 3))


@pytest.mark.parametrize("rule", [Hebb(normalize=None), Hebb(), Oja(), Sanger(), BCM(), Instar()], ids=repr)
@pytest.mark.parametrize("args, param", [
    ((PRE_OK, POST_OK, np.zeros(4)), "W"),
    ((np.ones((5, 3)), POST_OK, W_OK), "pre"),
    ((np.ones(4), POST_OK, W_OK), "pre"),
    ((np.r_[PRE_OK[:4], [[np.nan] * 4]], POST_OK, W_OK), "pre"),
    ((PRE_OK, np.ones((5, 4)), W_OK), "post"),
    ((PRE_OK, np.ones((4, 3)), W_OK), "post"),
    ((PRE_OK, None, W_OK), "post"),
])
def test_delta_input_validation(rule, args, param):
    with pytest.raises(ValidationError, match=f"^invalid {param}="):
        rule.delta(*args)


def test_competitive_and_antihebbian_shape_validation():
    with pytest.raises(ValidationError, match="^invalid k="):
        Competitive(k=4).delta(PRE_OK, None, W_OK)  # only 3 units
    with pytest.raises(ValidationError, match="^invalid W="):
        AntiHebbian().delta(PRE_OK, POST_OK, W_OK)  # lateral matrix must be square
    with pytest.raises(ValidationError, match="^invalid pre="):
        Competitive(k=2).delta(np.ones((5, 3)), None, W_OK)
