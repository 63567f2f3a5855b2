"""Optimizers and schedules against textbook formulas written out in the test."""

import numpy as np
import pytest

from sim import ValidationError
from sim.learning.optimizers import SGD, Adam, LinearDecay, Momentum, StepDecay, get_optimizer, get_schedule


def _run(opt, steps=25, lr=0.05):
    rng = np.random.default_rng(0)
    p = rng.normal(size=7)
    opt.reset(p)
    ds = rng.normal(size=(steps, 7))
    for d in ds:
        opt.step(p, d, lr)
    return p, ds, rng


def test_sgd_is_p_plus_lr_d():
    p0 = np.random.default_rng(0).normal(size=7)
    p, ds, _ = _run(SGD())
    np.testing.assert_allclose(p, p0 + 0.05 * ds.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_textbook(nesterov):
    p, ds, _ = _run(Momentum(beta=0.8, nesterov=nesterov))
    q = np.random.default_rng(0).normal(size=7)
    v = np.zeros(7)
    for d in ds:
        v = 0.8 * v + d
        q = q + 0.05 * ((d + 0.8 * v) if nesterov else v)
    np.testing.assert_allclose(p, q, rtol=1e-12)


def test_adam_matches_kingma_ba_algorithm_1():
    p, ds, _ = _run(Adam(beta1=0.9, beta2=0.99, eps=1e-3), steps=40)
    q = np.random.default_rng(0).normal(size=7)
    m = np.zeros(7)
    s = np.zeros(7)
    for t, d in enumerate(ds, start=1):
        g = -d
        m = 0.9 * m + 0.1 * g
        s = 0.99 * s + 0.01 * g * g
        m_hat, s_hat = m / (1 - 0.9**t), s / (1 - 0.99**t)
        q = q - 0.05 * m_hat / (np.sqrt(s_hat) + 1e-3)
    np.testing.assert_allclose(p, q, rtol=1e-12)


def test_adam_state_round_trip_continues_identically():
    a = Adam()
    p, ds, rng = _run(a)
    b = Adam()
    b.set_state({k: np.array(v, copy=True) for k, v in a.state().items()})
    p2 = p.copy()
    d = rng.normal(size=7)
    a.step(p, d, 0.01)
    b.step(p2, d, 0.01)
    np.testing.assert_allclose(p, p2, rtol=1e-14)


def test_schedules():
    assert [StepDecay(every=2, gamma=0.5).factor(e, 10) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert [LinearDecay().factor(e, 4) for e in range(5)] == [1, 0.75, 0.5, 0.25, 0.0]
    assert get_schedule("constant").factor(99, 100) == 1


def test_lookup_and_validation():
    assert isinstance(get_optimizer("nesterov"), Momentum) and get_optimizer("nesterov").nesterov
    with pytest.raises(ValidationError, match="optimizer='rmsprop'.*valid: adam"):
        get_optimizer("rmsprop")
    with pytest.raises(ValidationError, match="schedule='cosine'"):
        get_schedule("cosine")
    with pytest.raises(ValidationError, match="beta=1"):
        Momentum(beta=1)
    with pytest.raises(ValidationError, match="beta2=1.5"):
        Adam(beta2=1.5)
    with pytest.raises(ValidationError, match="eps=0"):
        Adam(eps=0)
    with pytest.raises(ValidationError, match="every=0"):
        StepDecay(every=0)
    with pytest.raises(ValidationError, match="gamma=0"):
        StepDecay(gamma=0)


def test_a_pickled_adam_continues_exactly_as_the_original():
    import pickle
    rng = np.random.default_rng(0)
    p = rng.standard_normal(50).astype(np.float32)
    opt = Adam()
    opt.reset(p)
    for _ in range(3):
        opt.step(p, rng.standard_normal(50).astype(np.float32), 1e-2)
    copy, q = pickle.loads(pickle.dumps(opt)), p.copy()
    d = rng.standard_normal(50).astype(np.float32)
    opt.step(p, d, 1e-2)
    copy.step(q, d, 1e-2)
    np.testing.assert_array_equal(p, q)
