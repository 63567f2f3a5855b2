"""Tests of sim.substrate.dynamics against independent oracles (closed forms, scipy, fine references)."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import root

from sim.errors import ValidationError
from sim.substrate.dynamics import IntegrateResult, SettleResult, fixed_point_residual, integrate, leaky_step, settle

W = 0.9  # strong uniform inhibition of the 400-unit population


def relu(x):
    return np.maximum(x, 0.0)


def rhs_uniform(phi, J, w, lateral=None):
    """Independent right-hand side tau dv/dt of one sample (1-D arrays), for scipy."""
    def f(v):
        r = phi(v)
        out = -v + J - w * (r.sum() - r)
        return out if lateral is None else out + lateral @ r
    return f


def piecewise_ivp(f_of_J, Js, v0, dt, tau):
    """Integrate tau dv/dt = f_J(v) piece by piece with scipy (DOP853, tight tolerances)."""
    v, out = np.asarray(v0, float), [np.asarray(v0, float)]
    for J in Js:
        f = f_of_J(J)
        sol = solve_ivp(lambda t, x, f=f: f(x) / tau, (0.0, dt), v, method="DOP853", rtol=1e-11, atol=1e-13)
        v = sol.y[:, -1]
        out.append(v)
    return np.array(out)


def kwta_fixed_point(J, w):
    """Fixed point of ReLU + uniform inhibition by enumerating the active set (top-k of J).

    Active units: v_i = (J_i - w S) / (1 - w), S = sum_A J / (1 + w (k - 1)); inactive:
    v_i = J_i - w S <= 0. Returns the unique consistent solution (asserts uniqueness).
    """
    order = np.argsort(-J)
    Js = J[order]
    found = []
    for k in range(1, J.size + 1):
        S = Js[:k].sum() / (1 + w * (k - 1))
        theta = w * S
        if Js[k - 1] > theta and (k == J.size or Js[k] <= theta):
            found.append((k, S))
    assert len(found) == 1, found
    k, S = found[0]
    v = J - w * S
    v[order[:k]] = (J[order[:k]] - w * S) / (1 - w)
    return v, k


@pytest.fixture(scope="module")
def population():
    rng = np.random.default_rng(7)
    return 1.0 + 0.05 * rng.standard_normal((3, 400))


# 1 ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dt,tau", [(0.1, 1.0), (0.5, 1.0), (2.5, 1.0), (0.3, 20.0), (1e-3, 0.01)])
def test_constant_input_matches_analytic(dt, tau):
    rng = np.random.default_rng(0)
    J, v0 = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    steps = 500
    res = integrate(J, neuron="sigmoid", tau=tau, dt=dt, steps=steps, v0=v0, record=True)
    t = dt * np.arange(steps + 1)[:, None, None]
    expected = J + (v0 - J) * np.exp(-t / tau)
    np.testing.assert_allclose(res.trace, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.v, expected[-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.rate, 1 / (1 + np.exp(-res.v)), rtol=1e-14)
    np.testing.assert_allclose(leaky_step(v0, J, dt, tau), expected[1], rtol=0, atol=1e-15)


def test_tau_zero_gives_input():
    rng = np.random.default_rng(1)
    J, v0 = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    np.testing.assert_array_equal(leaky_step(v0, J, 0.1, 0.0), J)
    np.testing.assert_array_equal(integrate(J, tau=0.0, steps=1, v0=v0).v, J)


# 2 ---------------------------------------------------------------------------------------------

def test_piecewise_constant_input_matches_solve_ivp():
    rng = np.random.default_rng(2)
    steps, dt, tau = 40, 0.25, 1.7
    Js = rng.normal(size=(steps, 2, 5))
    v0 = rng.normal(size=(2, 5))
    res = integrate(Js, neuron="relu", tau=tau, dt=dt, steps=steps, v0=v0, record=True)
    for b in range(2):
        ref = piecewise_ivp(lambda J: (lambda v: -v + J), Js[:, b], v0[b], dt, tau)
        np.testing.assert_allclose(res.trace[:, b], ref, rtol=0, atol=1e-8)


@pytest.mark.parametrize("case", ["linear_all_active", "relu_one_active", "relu_three_active"])
def test_coupled_piecewise_input_matches_solve_ivp(case):
    """Exact scheme vs scipy where the active set never changes (closed form incl. k = 1)."""
    rng = np.random.default_rng(3)
    steps, dt, tau, w = 12, 0.6, 1.0, 0.6
    if case == "linear_all_active":
        neuron, phi = "linear", (lambda x: x)
        Js = rng.normal(size=(steps, 1, 6))
        v0 = rng.normal(size=(1, 6))
    else:
        neuron, phi = "relu", relu
        k = 1 if case == "relu_one_active" else 3
        base = np.r_[np.full(k, 3.0), np.full(4, -2.0)]
        Js = base + 0.2 * rng.normal(size=(steps, 1, k + 4))
        v0 = np.r_[np.full(k, 1.0), np.full(4, -1.0)][None]
    res = integrate(Js, neuron=neuron, tau=tau, dt=dt, steps=steps, v0=v0, w_inh=w, record=True)
    ref = piecewise_ivp(lambda J: rhs_uniform(phi, J, w), Js[:, 0], v0[0], dt, tau)
    if neuron == "relu":  # precondition: no unit crossed zero
        assert np.all(np.sign(ref) == np.sign(v0[0]))
    np.testing.assert_allclose(res.trace[:, 0], ref, rtol=0, atol=1e-8)


# 3 ---------------------------------------------------------------------------------------------

def test_strong_inhibition_settles_to_kwta_fixed_point(population):
    J = population
    res = settle(J, w_inh=W, tau=1.0, dt=0.5, tol=1e-11, max_steps=3000)
    assert res.converged and res.steps < 3000
    for b in range(J.shape[0]):
        v_star, k = kwta_fixed_point(J[b], W)
        assert k >= 6  # several active units: the explicit scheme is unstable here
        f = rhs_uniform(relu, J[b], W)
        sol = root(f, v_star + 1e-4 * np.random.default_rng(b).standard_normal(v_star.size))
        assert sol.success
        np.testing.assert_allclose(sol.x, v_star, rtol=0, atol=1e-10)  # scipy agrees with the oracle
        np.testing.assert_allclose(res.v[b], v_star, rtol=0, atol=1e-6)
    assert np.abs(fixed_point_residual(res.v, J, neuron="relu", w_inh=W)).max() < 1e-9


def test_explicit_scheme_fails_where_exact_converges(population):
    J = population
    bad = settle(J, w_inh=W, dt=0.5, tol=1e-6, max_steps=2000, scheme="explicit")
    assert not bad.converged and bad.steps == 2000 and bad.max_change > 0.1
    good = settle(J, w_inh=W, dt=0.5, tol=1e-6, max_steps=2000, scheme="exact")
    assert good.converged
    # exact scheme also stable at h = 2.5
    big = settle(J, w_inh=W, dt=2.5, tol=1e-11, max_steps=2000)
    assert big.converged
    np.testing.assert_allclose(big.v, settle(J, w_inh=W, dt=0.5, tol=1e-11, max_steps=3000).v, atol=1e-9)


def test_explicit_stability_condition_is_sharp():
    """Linear neuron, all k = n units active: explicit stable iff (1-e^-h) w (k-1) < 1 + e^-h."""
    n, w = 10, 0.5
    J = np.linspace(0.5, 1.5, n)[None]
    h_crit = math.log((1 + w * (n - 1)) / (w * (n - 1) - 1))
    v_star = np.linalg.solve((1 - w) * np.eye(n) + w * np.ones((n, n)), J[0])
    below = settle(J, neuron="linear", w_inh=w, dt=0.9 * h_crit, tol=1e-10, max_steps=3000, scheme="explicit")
    above = settle(J, neuron="linear", w_inh=w, dt=1.1 * h_crit, tol=1e-10, max_steps=300, scheme="explicit")
    exact = settle(J, neuron="linear", w_inh=w, dt=1.1 * h_crit, tol=1e-12, max_steps=3000)
    assert below.converged and not above.converged and above.max_change > 1.0
    np.testing.assert_allclose(below.v[0], v_star, atol=1e-8)
    np.testing.assert_allclose(exact.v[0], v_star, atol=1e-10)


def explicit_reference(J, v0, T, fine):
    """Explicit scheme at tau/fine and tau/(2 fine), Richardson-extrapolated (first order)."""
    coarse = integrate(J, w_inh=W, dt=1 / fine, steps=int(T * fine), v0=v0, scheme="explicit", record=True)
    half = integrate(J, w_inh=W, dt=0.5 / fine, steps=int(2 * T * fine), v0=v0, scheme="explicit", record=True)
    return coarse.trace, 2 * half.trace[::2] - coarse.trace


def test_exact_trajectory_matches_fine_reference_from_rest(population):
    J, T, h = population[:2], 4.0, 0.5
    fine, rich = explicit_reference(J, None, T, 2000)
    ex = integrate(J, w_inh=W, dt=h, steps=int(T / h), record=True).trace
    for t in (1.0, 2.0, 4.0):
        i, j = int(round(t / h)), int(round(t * 2000))
        scale = np.abs(rich[j]).max()
        assert np.abs(ex[i] - fine[j]).max() / scale < 5e-4
        assert np.abs(ex[i] - rich[j]).max() / scale < 5e-4


def test_exact_trajectory_is_exact_for_fixed_active_set():
    """J built around a known fixed point; start with its sign pattern, so no unit crosses zero."""
    rng = np.random.default_rng(11)
    v_star = -rng.uniform(0.3, 1.0, (2, 400))
    for b in range(2):
        v_star[b, rng.choice(400, 20, replace=False)] = rng.uniform(0.2, 0.6, 20)
    r = relu(v_star)
    J = v_star + W * (r.sum(1, keepdims=True) - r)
    v0 = v_star + 0.1 * rng.uniform(-1, 1, v_star.shape)
    T, h = 3.0, 0.5
    fine, rich = explicit_reference(J, v0, T, 2000)
    assert np.all(np.sign(fine) == np.sign(v0))  # precondition
    ex = integrate(J, w_inh=W, dt=h, steps=int(T / h), v0=v0, record=True).trace
    for t in (0.5, 1.5, 3.0):
        i, j = int(round(t / h)), int(round(t * 2000))
        assert np.abs(ex[i] - rich[j]).max() < 1e-8
    s = settle(J, w_inh=W, dt=h, tol=1e-12, max_steps=3000)
    np.testing.assert_allclose(s.v, v_star, atol=1e-10)


def test_batch_rows_are_independent(population):
    J = population.copy()
    J[1] -= 0.5  # a row with a different active set
    together = integrate(J, w_inh=W, dt=0.5, steps=30).v
    alone = np.vstack([integrate(J[b:b + 1], w_inh=W, dt=0.5, steps=30).v for b in range(3)])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-14)


# 4 ---------------------------------------------------------------------------------------------

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.fixture(scope="module")
def lateral():
    rng = np.random.default_rng(5)
    L = -0.4 * np.abs(rng.standard_normal((25, 25))) / 5
    np.fill_diagonal(L, 0)
    return L


_NEURONS = [("sigmoid", sigmoid), ("tanh", np.tanh), ("relu^3", lambda x: relu(x) ** 3), ("softmax", softmax),
            ("relu", relu)]


# ReLU with uniform inhibition alone takes the exact scheme, tested above
@pytest.mark.parametrize("neuron,phi,coupling", [(n, f, c) for n, f in _NEURONS for c in ("uniform", "lateral", "both")
                                                 if not (n == "relu" and c == "uniform")])
def test_implicit_scheme_settles_to_scipy_fixed_point(neuron, phi, coupling, lateral):
    rng = np.random.default_rng(6)
    # relu^3 has gain > 1 and is multistable for larger inputs (see the next test)
    J = (0.5 if neuron == "relu^3" else 1.5) * rng.standard_normal((3, 25))
    w = 0.0 if coupling == "lateral" else 0.5
    L = None if coupling == "uniform" else lateral
    res = settle(J, neuron=neuron, w_inh=w, lateral=L, tau=2.0, dt=2.0, tol=1e-11, max_steps=500)
    assert res.converged and res.steps < 200
    for b in range(3):
        sol = root(rhs_uniform(phi, J[b], w, L), J[b], method="lm", tol=1e-13)
        assert sol.success and np.abs(rhs_uniform(phi, J[b], w, L)(sol.x)).max() < 1e-10
        np.testing.assert_allclose(res.v[b], sol.x, rtol=0, atol=1e-6)


def test_implicit_scheme_follows_dynamics_into_the_right_basin(lateral):
    """Multistable relu^3 network: settle at dt = tau reaches the fixed point that the fine
    explicit dynamics from rest reaches (scipy from J finds another one), and scipy confirms it."""
    J = 1.5 * np.random.default_rng(6).standard_normal((3, 25))
    phi = lambda x: relu(x) ** 3  # noqa: E731
    res = settle(J, neuron="relu^3", w_inh=0.5, lateral=lateral, dt=1.0, tol=1e-11, max_steps=500)
    fine = settle(J, neuron="relu^3", w_inh=0.5, lateral=lateral, dt=0.01, tol=1e-11, max_steps=10000,
                  scheme="explicit")
    assert res.converged and fine.converged
    np.testing.assert_allclose(res.v, fine.v, rtol=0, atol=1e-6)
    for b in range(3):
        f = rhs_uniform(phi, J[b], 0.5, lateral)
        sol = root(f, res.v[b] + 1e-3 * np.random.default_rng(b).standard_normal(25), tol=1e-13)
        assert sol.success
        np.testing.assert_allclose(res.v[b], sol.x, rtol=0, atol=1e-9)
    assert any(np.abs(root(rhs_uniform(phi, J[b], 0.5, lateral), J[b]).x - res.v[b]).max() > 0.1
               for b in range(3))  # the problem is genuinely multistable


def test_sherman_morrison_equals_dense_solve():
    rng = np.random.default_rng(8)
    J = rng.standard_normal((4, 12))
    a = integrate(J, neuron="sigmoid", w_inh=0.7, dt=1.0, steps=5).v
    b = integrate(J, neuron="sigmoid", w_inh=0.7, lateral=np.zeros((12, 12)), dt=1.0, steps=5).v
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


# 5 ---------------------------------------------------------------------------------------------

def test_settle_reports_cap_and_convergence(population):
    J = population[:2, :50]
    capped = settle(J, w_inh=W, dt=0.5, tol=1e-12, max_steps=7)
    assert isinstance(capped, SettleResult)
    assert capped.converged is False and capped.steps == 7 and capped.max_change >= 1e-12
    ok = settle(J, w_inh=W, dt=0.5, tol=1e-8, max_steps=5000, record=True)
    assert ok.converged is True and ok.steps < 5000 and ok.max_change < 1e-8
    assert ok.trace.shape == (ok.steps + 1, 2, 50)
    np.testing.assert_array_equal(ok.trace[0], 0.0)
    np.testing.assert_array_equal(ok.trace[-1], ok.v)
    assert np.abs(ok.trace[-1] - ok.trace[-2]).max() == ok.max_change
    np.testing.assert_array_equal(ok.rate, relu(ok.v))
    assert settle(J, w_inh=W).trace is None


def test_integrate_record_and_zero_steps():
    rng = np.random.default_rng(9)
    J, v0 = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    res = integrate(J, steps=7, v0=v0, w_inh=0.3, record=True)
    assert isinstance(res, IntegrateResult) and res.trace.shape == (8, 2, 3)
    np.testing.assert_array_equal(res.trace[0], v0)
    np.testing.assert_array_equal(res.trace[-1], res.v)
    zero = integrate(J, steps=0, v0=v0)
    np.testing.assert_array_equal(zero.v, v0)
    assert zero.trace is None


# 6 ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(), dict(w_inh=0.5), dict(neuron="sigmoid", w_inh=0.5),
                                    dict(neuron="tanh", lateral=-0.1 * (1 - np.eye(5))),
                                    dict(w_inh=0.5, scheme="explicit")])
def test_float32_stays_float32(kwargs):
    J = np.random.default_rng(10).normal(size=(3, 5)).astype(np.float32)
    res = integrate(J, steps=5, v0=np.zeros((3, 5)), record=True, **kwargs)
    assert res.v.dtype == res.rate.dtype == res.trace.dtype == np.float32
    s = settle(J, tol=1e-5, **kwargs)
    assert s.v.dtype == s.rate.dtype == np.float32 and s.converged
    ref = settle(J.astype(np.float64), tol=1e-12, **kwargs).v
    np.testing.assert_allclose(s.v, ref, atol=1e-4)
    Jt = np.repeat(J[None], 4, axis=0)
    assert integrate(Jt, steps=4, **kwargs).v.dtype == np.float32
    assert leaky_step(np.zeros((3, 5)), J, 0.1, 1.0).dtype == np.float32
    assert fixed_point_residual(s.v, J, neuron="relu", w_inh=0.5).dtype == np.float32


def test_integer_input_becomes_float64():
    assert integrate(np.ones((2, 3), dtype=int), steps=2).v.dtype == np.float64


# 7 ---------------------------------------------------------------------------------------------

J0 = np.ones((2, 3))
BAD = [
    ("dt", lambda: leaky_step(J0, J0, 0.0, 1.0)),
    ("dt", lambda: leaky_step(J0, J0, -0.1, 1.0)),
    ("tau", lambda: leaky_step(J0, J0, 0.1, -1.0)),
    ("v", lambda: leaky_step(np.ones((2, 4)), J0, 0.1, 1.0)),
    ("J", lambda: leaky_step(J0, np.array([[np.nan, 1, 1], [1, 1, 1]]), 0.1, 1.0)),
    ("v", lambda: leaky_step(np.full((2, 3), np.inf), J0, 0.1, 1.0)),
    ("dt", lambda: integrate(J0, dt=0)),
    ("dt", lambda: integrate(J0, dt=float("nan"))),
    ("tau", lambda: integrate(J0, tau=-0.5)),
    ("steps", lambda: integrate(J0, steps=-1)),
    ("steps", lambda: integrate(J0, steps=2.5)),
    ("J", lambda: integrate(np.array([[1.0, np.inf, 0.0]]))),
    ("J", lambda: integrate(np.ones(3))),
    ("J", lambda: integrate(np.ones((5, 2, 3)), steps=4)),
    ("J", lambda: integrate("abc")),
    ("v0", lambda: integrate(J0, v0=np.full((2, 3), np.nan))),
    ("v0", lambda: integrate(J0, v0=np.zeros((2, 4)))),
    ("w_inh", lambda: integrate(J0, w_inh=-0.1)),
    ("w_inh", lambda: integrate(J0, w_inh=1.0)),
    ("w_inh", lambda: integrate(J0, w_inh=1.5)),
    ("neuron", lambda: integrate(J0, neuron="bogus")),
    ("lateral", lambda: integrate(J0, lateral=np.zeros((2, 2)))),
    ("lateral", lambda: integrate(J0, lateral=np.eye(3))),
    ("lateral", lambda: integrate(J0, lateral=np.full((3, 3), np.nan))),
    ("record", lambda: integrate(J0, record="yes")),
    ("scheme", lambda: integrate(J0, scheme="rk4")),
    ("scheme", lambda: integrate(J0, neuron="sigmoid", w_inh=0.5, scheme="exact")),
    ("scheme", lambda: integrate(J0, w_inh=0.5, lateral=np.zeros((3, 3)), scheme="exact")),
    ("tol", lambda: settle(J0, tol=0.0)),
    ("tol", lambda: settle(J0, tol=-1e-6)),
    ("max_steps", lambda: settle(J0, max_steps=0)),
    ("dt", lambda: settle(J0, dt=-1.0)),
    ("tau", lambda: settle(J0, tau=-1.0)),
    ("J", lambda: settle(np.ones((2, 2, 3)))),
    ("w_inh", lambda: settle(J0, w_inh=1.0)),
    ("neuron", lambda: settle(J0, neuron=3)),
    ("v0", lambda: settle(J0, v0=np.zeros((3, 3)))),
    ("method", lambda: settle(J0, method="newton")),
    ("method", lambda: settle(J0, neuron="sigmoid", lateral=np.zeros((3, 3)), method="solve")),
    ("method", lambda: settle(J0, lateral=np.zeros((3, 3)), record=True, method="solve")),
    ("v", lambda: fixed_point_residual(np.ones((3, 3)), J0, neuron="relu")),
    ("w_inh", lambda: fixed_point_residual(J0, J0, neuron="relu", w_inh=2.0)),
    ("neuron", lambda: fixed_point_residual(J0, J0, neuron="nope")),
    ("lateral", lambda: fixed_point_residual(J0, J0, neuron="relu", lateral=np.ones(3))),
]


@pytest.mark.parametrize("name,call", BAD, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD)])
def test_validation(name, call):
    with pytest.raises(ValidationError, match=f"invalid {name}="):
        call()


def test_schemes_module_and_reexport():
    from sim.substrate import dynamics, schemes
    assert dynamics.SCHEMES is schemes.SCHEMES == ("auto", "exact", "implicit", "explicit", "events", "rosenbrock")
    assert dynamics.METHODS == ("auto", "steps", "solve")
    r = np.array([[1.0, 2.0, 0.0]])
    lateral = np.array([[0.0, -0.5, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    # -w (sum_j r_j - r_i) = -0.5 (2, 1, 3); r @ lateral.T = (-1, 0, 1)
    np.testing.assert_allclose(schemes.lateral_input(r, 0.5, lateral), [[-2.0, -0.5, -0.5]])
