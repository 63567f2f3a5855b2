"""Local learning rules against independent oracles: eigenvectors (numpy.linalg.eigh),
least squares (lstsq), logistic regression (scikit-learn), hand-worked numbers, closed-form
fixed points. Every rule is driven by ``W += lr * rule.delta(...)`` on seeded data. The properties
all rules share (batch combination, purity, state, lookup, validation) are in test_rules_contract.py."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sim.errors import ValidationError
from sim.learning.rules import BCM, AntiHebbian, Competitive, Delta, Hebb, Instar, Oja, Sanger

EIGENVALUES = np.array([10.0, 7.0, 5.0, 3.5, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3])


def gaussian_source(seed):
    """Zero-mean 10-D Gaussian with covariance Q diag(EIGENVALUES) Q^T, Q a random rotation."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    A = Q * np.sqrt(EIGENVALUES)
    return rng, Q, lambda n: rng.standard_normal((n, 10)) @ A.T


def abs_cos(a, b):
    return abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))


# ---------------------------------------------------------------- Oja and Sanger
@pytest.mark.parametrize("seed", [0, 1])
def test_oja_finds_principal_eigenvector(seed):
    rng, Q, draw = gaussian_source(seed)
    C = Q @ np.diag(EIGENVALUES) @ Q.T
    e1 = np.linalg.eigh(C)[1][:, -1]  # oracle: numpy eigendecomposition
    W = 0.1 * rng.standard_normal((1, 10))
    rule = Oja()
    for t in range(3000):
        x = draw(32)
        W += 0.02 / (1 + t / 300) * rule.delta(x, x @ W.T, W)
    assert abs_cos(W[0], e1) >= 0.99
    assert abs(np.linalg.norm(W[0]) - 1) <= 0.02


def test_oja_subspace_mode_spans_principal_subspace():
    rng, Q, draw = gaussian_source(2)
    W = 0.1 * rng.standard_normal((3, 10))
    rule = Oja(mode="subspace")
    for t in range(4000):
        x = draw(32)
        W += 0.01 / (1 + t / 800) * rule.delta(x, x @ W.T, W)
    P = Q[:, :3] @ Q[:, :3].T  # projector on the top-3 eigenvectors
    assert np.allclose(W @ W.T, np.eye(3), atol=0.03)
    assert np.linalg.norm(W.T @ W - P) < 0.05


def test_sanger_finds_top_four_eigenvectors_in_order():
    rng, Q, draw = gaussian_source(3)
    W = 0.1 * rng.standard_normal((4, 10))
    rule = Sanger()
    for t in range(6000):
        x = draw(32)
        W += 0.01 / (1 + t / 1000) * rule.delta(x, x @ W.T, W)
    for i in range(4):
        assert abs_cos(W[i], Q[:, i]) >= 0.98, i
        assert abs(np.linalg.norm(W[i]) - 1) <= 0.02


# ---------------------------------------------------------------- Hebb
def test_hebb_plain_grows_without_bound_normalized_keeps_norms():
    rng, Q, draw = gaussian_source(4)
    W0 = rng.standard_normal((3, 10))
    W0 /= np.linalg.norm(W0, axis=1, keepdims=True)
    plain, normed = W0.copy(), W0.copy()
    norms = []
    lr = 0.001  # the projected step still drifts by O(lr^2) per step
    for _ in range(3000):
        x = draw(32)
        plain += lr * Hebb(normalize=None).delta(x, x @ plain.T, plain)
        d = Hebb().delta(x, x @ normed.T, normed)  # the default is the normalized rule
        assert np.allclose(np.einsum("ij,ij->i", d, normed), 0, atol=1e-9)  # tangent direction
        normed += lr * d
        norms.append(np.linalg.norm(plain, axis=1))
    norms = np.array(norms)
    assert np.all(norms[-1] > 1e10)  # ~exp(lr * lambda_max * t) = exp(30) growth along e1
    assert np.all(norms[500:] > 2 * norms[:-500])  # keeps growing
    assert np.allclose(np.linalg.norm(normed, axis=1), 1, atol=0.02)
    for i in range(3):  # gradient flow on the sphere: every row goes to e1
        assert abs_cos(normed[i], Q[:, 0]) >= 0.99


# ---------------------------------------------------------------- BCM
def _bcm_patterns():
    P = np.zeros((4, 8))  # 4 positive orthonormal patterns
    for k in range(4):
        P[k, 2 * k:2 * k + 2] = 1 / np.sqrt(2)
    return P


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bcm_units_become_selective(seed):
    rng = np.random.default_rng(seed)
    P = _bcm_patterns()
    W = rng.uniform(0.2, 0.6, (3, 8))
    rule = BCM(tau_theta=10, theta0=0.0)
    for _ in range(4000):
        x = P[rng.integers(0, 4, 16)]
        W += 0.02 * rule.delta(x, x @ W.T, W)
    R = P @ W.T  # (pattern, unit) responses of the linear units
    for u in range(3):
        r = np.sort(R[:, u])
        assert r[-1] > 2.0
        assert np.all(np.abs(r[:-1]) < 0.05 * r[-1])
        # oracle: the selective fixed point of y(y - E[y^2]) = 0 is y = K = 4
        assert r[-1] == pytest.approx(4.0, rel=0.2)


def test_bcm_theta_is_running_average_of_post_squared():
    rng = np.random.default_rng(5)
    rule = BCM(tau_theta=4.0, theta0=0.5)
    W = rng.standard_normal((2, 3))
    theta = np.array([0.5, 0.5])
    for _ in range(5):
        x = rng.standard_normal((6, 3))
        y = x @ W.T
        expected_dW = np.mean([np.outer(yy * (yy - theta), xx) for xx, yy in zip(x, y)], axis=0)
        dW = rule.delta(x, y, W)
        assert np.allclose(dW, expected_dW)  # dW uses the threshold *before* the update
        theta = theta + ((y ** 2).mean(axis=0) - theta) / 4.0
        assert np.allclose(rule.theta, theta)
        assert np.allclose(rule.state()["theta"], theta)
    # hand check of the first step of a 1-unit case: theta = 0.5 + (mean([1, 9]) - 0.5) / 4
    r = BCM(tau_theta=4.0, theta0=0.5)
    r.delta(np.ones((2, 1)), np.array([[1.0], [3.0]]), np.ones((1, 1)))
    assert r.theta[0] == pytest.approx(1.625)


# ---------------------------------------------------------------- Competitive


@pytest.mark.parametrize("k", [2, 3, 7])
def test_competitive_ranking_matches_a_full_sort_and_takes_given_currents(k):
    rng = np.random.default_rng(k)
    rule = Competitive(p=3.0, k=k, delta=0.25)
    pre, W = rng.standard_normal((64, 9)), rng.standard_normal((12, 9))
    g = rule.learning_activation(pre, W)
    order = np.argsort(-rule.currents(pre, W), axis=1, kind="stable")  # the oracle: a full sort
    expected = np.zeros_like(g)
    expected[np.arange(64), order[:, 0]] = 1.0
    expected[np.arange(64), order[:, k - 1]] = -0.25
    np.testing.assert_array_equal(g, expected)
    # ties are broken arbitrarily, but the k-th is never the top unit itself
    tied = rule.learning_activation(pre[:2], W, currents=np.zeros((2, 12)))
    assert np.count_nonzero(tied == 1.0) == 2 and np.count_nonzero(tied == -0.25) == 2
    # currents handed in are used as they are, and checked
    I = rule.currents(pre, W)
    np.testing.assert_array_equal(rule.delta(pre, None, W, currents=I), rule.delta(pre, None, W))
    with pytest.raises(ValidationError, match="currents"):
        rule.delta(pre, None, W, currents=I[:3])
    # the p = 3 currents: pre . sign(W) |W|^2 to the bit
    np.testing.assert_array_equal(rule.currents(pre, W), pre @ (np.sign(W) * np.abs(W) ** 2.0).T)

@pytest.mark.parametrize("p, seed", [(3.0, 1), (2.0, 1), (2.0, 5)])
def test_competitive_winners_reach_p_norm_sphere(p, seed):
    rng = np.random.default_rng(seed)
    D, C, H, T = 24, 6, 8, 2000
    centers = np.zeros((C, D))
    for c in range(C):
        centers[c, 4 * c:4 * c + 4] = 1.0
    rule = Competitive(p=p, k=2, delta=0.4)
    scales = np.geomspace(0.2, 3.0, H)
    rng.shuffle(scales)
    W = rng.standard_normal((H, D))
    W *= (scales / np.linalg.norm(W, ord=p, axis=1))[:, None]
    wins = np.zeros(H)
    for t in range(T):
        x = np.abs(centers[rng.integers(0, C, 32)] + 0.1 * rng.standard_normal((32, D)))
        if t >= T - 200:
            wins += (rule.learning_activation(x, W) == 1).sum(axis=0)
        W += 0.05 * (1 - t / T) * rule.delta(x, None, W)
    winners = wins > 0
    assert winners.sum() >= 3
    assert scales[winners].min() < 0.5 and scales[winners].max() > 1.5  # starts of various norms
    assert np.allclose(np.linalg.norm(W[winners], ord=p, axis=1), 1.0, atol=0.02)


def test_competitive_hand_worked_case():
    rule = Competitive(p=2.0, k=2, delta=0.4)
    W = np.array([[0.5, 0.0, 1.0],
                  [1.0, 0.5, 0.0]])
    v = np.array([[1.0, 0.0, 2.0],   # I = [2.5, 1]: unit 0 wins, unit 1 is 2nd -> g = [1, -0.4]
                  [4.0, 4.0, 0.0]])  # I = [2, 6]:   unit 1 wins                -> g = [-0.4, 1]
    assert np.allclose(rule.currents(v, W), [[2.5, 1.0], [2.0, 6.0]])
    assert np.allclose(rule.learning_activation(v, W), [[1.0, -0.4], [-0.4, 1.0]])
    # unit 0: (v1 - 2.5 W0) - 0.4 (v2 - 2 W0) = [-1.45, -1.6, 0.3]
    # unit 1: -0.4 (v1 - 1 W1) + (v2 - 6 W1) = [-2.0, 1.2, -0.8]; max |entry| = 2
    assert np.allclose(rule.unscaled_delta(v, W), [[-1.45, -1.6, 0.3], [-2.0, 1.2, -0.8]])
    assert np.allclose(rule.delta(v, None, W), [[-0.725, -0.8, 0.15], [-1.0, 0.6, -0.4]])


def test_competitive_currents_ranking_and_scaling():
    rng = np.random.default_rng(7)
    rule = Competitive(p=3.0, k=4, delta=0.3)
    W = rng.standard_normal((9, 5))
    v = rng.uniform(0, 1, (50, 5))
    loop_I = np.array([[np.sum(np.sign(w) * np.abs(w) ** 2 * x) for w in W] for x in v])
    I = rule.currents(v, W)
    assert np.allclose(I, loop_I)
    order = np.argsort(-loop_I, axis=1)  # oracle ranking by a full sort
    g = np.zeros_like(I)
    g[np.arange(50), order[:, 0]] = 1.0
    g[np.arange(50), order[:, 3]] = -0.3
    assert np.array_equal(rule.learning_activation(v, W), g)
    raw = g.T @ v - (g * I).sum(axis=0)[:, None] * W
    for n in (1, 7, 50):  # max-entry scaling for any batch size
        d = rule.delta(v[:n], None, W)
        assert np.max(np.abs(d)) == pytest.approx(1.0)
    assert np.allclose(rule.delta(v, None, W), raw / np.abs(raw).max())
    # post is ignored
    assert np.array_equal(rule.delta(v, None, W), rule.delta(v, rng.standard_normal((50, 9)), W))


# ---------------------------------------------------------------- Delta
def test_delta_reaches_least_squares_solution():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((120, 3))
    T = X @ rng.standard_normal((3, 2)) + [0.7, -1.2] + 0.3 * rng.standard_normal((120, 2))
    W, b = np.zeros((2, 3)), np.zeros(2)
    rule = Delta()
    for _ in range(2000):
        r = X @ W.T + b
        err = (T - r) / len(X)  # Rumelhart's delta: -dL/dJ of the mean of 0.5 * squared error
        W += 0.3 * rule.delta(X, r, W, err)
        b += 0.3 * rule.delta_bias(r, err)
    sol = np.linalg.lstsq(np.c_[X, np.ones(len(X))], T, rcond=None)[0]
    assert np.allclose(W, sol[:3].T, atol=1e-8)
    assert np.allclose(b, sol[3], atol=1e-8)


def test_delta_reaches_logistic_regression_solution():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((300, 3))
    logit = X @ [1.5, -1.0, 0.5] + 0.3
    y = (rng.random(300) < 1 / (1 + np.exp(-logit))).astype(float)
    W, b = np.zeros((1, 3)), np.zeros(1)
    rule = Delta()
    for _ in range(4000):
        r = 1 / (1 + np.exp(-(X @ W.T + b)))
        err = (y[:, None] - r) / len(X)  # -dL/dJ of the mean cross-entropy
        W += 2.0 * rule.delta(X, r, W, err)
        b += 2.0 * rule.delta_bias(r, err)
    ref = LogisticRegression(C=np.inf, solver="lbfgs", tol=1e-12, max_iter=10_000).fit(X, y)
    coef = np.r_[ref.coef_[0], ref.intercept_]
    assert np.linalg.norm(np.r_[W[0], b] - coef) <= 1e-3 * np.linalg.norm(coef)


# ---------------------------------------------------------------- AntiHebbian
def test_antihebbian_fixed_point_sign_and_thresholds():
    p = 0.25
    rule = AntiHebbian(p=p, alpha=0.1, gamma=0.02)
    L = np.zeros((2, 2))
    # all four binary states equally often: <y1 y2> = 1/4, <y_i> = 1/2
    y = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    d = rule.delta(y, y, L)
    assert np.allclose(d, [[0, -0.1 * (0.25 - p ** 2)], [-0.1 * (0.25 - p ** 2), 0]])
    assert np.allclose(rule.thresholds, 0.02 * (0.5 - p))  # firing too much -> threshold up
    # fixed point: <y1 y2> = p^2 = 1/16 exactly -> zero direction
    y16 = np.zeros((16, 2))
    y16[0] = 1
    y16[1:4, 0] = 1
    y16[4:7, 1] = 1  # means 1/4 each, one co-activation in 16
    assert np.allclose(AntiHebbian(p=p).delta(y16, None, L), 0)
    # sign: more correlation -> more inhibition (more negative direction)
    corr = np.repeat([[1.0, 1.0], [0.0, 0.0]], 8, axis=0)
    anti = np.repeat([[1.0, 0.0], [0.0, 1.0]], 8, axis=0)
    assert AntiHebbian(p=p).delta(corr, corr, L)[0, 1] < 0 < AntiHebbian(p=p).delta(anti, anti, L)[0, 1]
    # a silent unit lowers its threshold
    r = AntiHebbian(p=p, gamma=0.5)
    r.delta(np.zeros((4, 2)), np.zeros((4, 2)), L)
    assert np.allclose(r.thresholds, -0.5 * p)


def test_antihebbian_decorrelates_linear_units():
    rng = np.random.default_rng(10)
    p = 0.25
    rule = AntiHebbian(p=p, alpha=0.1, gamma=0.02)
    rule.reset(2)
    L = np.zeros((2, 2))

    def respond(n):  # y = x + L y - t, solved exactly (no settling loop)
        z = rng.random(n) < 0.5
        x = np.stack([z ^ (rng.random(n) < 0.1), z ^ (rng.random(n) < 0.1)], 1).astype(float)
        return np.linalg.solve(np.eye(2) - L, (x - rule.thresholds).T).T

    y = respond(20_000)
    assert np.corrcoef(y.T)[0, 1] > 0.6
    for t in range(3000):
        y = respond(64)
        L += (1.0 - t / 3000) * rule.delta(y, y, L)
        rule.constrain(L, out=L)
    assert L[0, 0] == L[1, 1] == 0 and L[0, 1] < -0.1 and np.all(L <= 0)
    y = respond(50_000)
    assert np.abs(y.mean(axis=0) - p).max() < 0.02
    assert abs(np.mean(y[:, 0] * y[:, 1]) - p ** 2) < 0.01
    assert abs(np.corrcoef(y.T)[0, 1]) < 0.1


def test_antihebbian_constrain():
    L = np.array([[1.0, 0.5, -0.2], [-0.3, -1.0, 2.0], [0.0, -0.1, 3.0]])
    out = AntiHebbian.constrain(L)
    assert np.array_equal(out, [[0, 0, -0.2], [-0.3, 0, 0], [0, -0.1, 0]])
    assert L[0, 0] == 1.0  # a copy by default
    AntiHebbian.constrain(L, out=L)
    assert np.array_equal(L, out)


# ---------------------------------------------------------------- Instar
def test_instar_converges_to_conditional_means():
    rng = np.random.default_rng(11)
    X = rng.uniform(0, 1, (400, 6))
    Y = (rng.random((400, 3)) < [0.2, 0.5, 0.8]).astype(float)  # binary, overlapping
    G = rng.uniform(0, 1, (400, 2))  # graded responses
    rule = Instar(beta=1.0)
    Q, R = np.zeros((3, 6)), np.zeros((2, 6))
    for _ in range(300):
        Q += 1.0 * rule.delta(X, Y, Q)
        R += 1.0 * rule.delta(X, G, R)
    for i in range(3):
        assert np.allclose(Q[i], X[Y[:, i] == 1].mean(axis=0), atol=1e-9)
    assert np.allclose(R, (G.T @ X) / G.sum(axis=0)[:, None], atol=1e-9)
