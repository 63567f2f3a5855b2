"""Adaptive ROS2 scheme ("rosenbrock", the default for smooth units) against scipy.integrate.solve_ivp."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import root

from sim.substrate import neurons
from sim.substrate.dynamics import integrate, settle
from sim.substrate.smooth import rosenbrock_step


def reference(name, J, v0, w, times, lateral=None):
    """DOP853 at rtol 1e-12 of one sample (1-D arrays); the states at ``times`` (units of tau)."""
    phi = neurons.get(name)

    def f(t, x):
        r = phi.rate(x[None])[0]
        out = -x + J - w * (r.sum() - r)
        return out if lateral is None else out + lateral @ r
    sol = solve_ivp(f, (0, times[-1]), v0, method="DOP853", rtol=1e-12, atol=1e-12, t_eval=times)
    return sol.y.T


def relative_error(name, w, scheme, lateral=None, seed=3, steps=10):
    rng = np.random.default_rng(seed)
    B, n = 3, 40
    J, v0 = 2 * rng.normal(size=(B, n)), rng.normal(size=(B, n))
    tr = integrate(J, neuron=name, tau=1.0, dt=1.0, steps=steps, v0=v0, w_inh=w, lateral=lateral,
                   record=True, scheme=scheme).trace
    worst = 0.0
    for b in range(B):
        ref = reference(name, J[b], v0[b], w, np.arange(steps + 1.0), lateral)
        worst = max(worst, np.abs(ref - tr[:, b]).max() / (ref.max() - ref.min()))
    return worst


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus"])
@pytest.mark.parametrize("w", [0.3, 0.9])
def test_error_at_dt_equal_tau_below_1e_3_of_range(name, w):
    err = relative_error(name, w, "auto")
    assert err < 1e-3
    assert relative_error(name, w, "implicit") > 10 * err   # the first-order scheme it replaces


def test_with_a_lateral_matrix():
    rng = np.random.default_rng(4)
    L = -0.3 * np.abs(rng.normal(size=(40, 40))) / np.sqrt(40)
    np.fill_diagonal(L, 0)
    assert relative_error("tanh", 0.2, "rosenbrock", lateral=L) < 1e-3


def test_fixed_point_is_kept_exactly():
    rng = np.random.default_rng(5)
    J, w = rng.normal(size=30), 0.6
    phi = neurons.get("sigmoid")
    sol = root(lambda x: -x + J - w * (phi.rate(x).sum() - phi.rate(x)), J, tol=1e-14)
    v_star = sol.x[None]
    out = integrate(J[None], neuron="sigmoid", w_inh=w, dt=1.0, steps=5, v0=v_star).v
    np.testing.assert_allclose(out, v_star, rtol=0, atol=1e-13)


def test_one_substep_per_step_is_second_order():
    """rtol = inf accepts every full step: halving h quarters the error at t = 2."""
    rng = np.random.default_rng(6)
    J, v0, w = 2 * rng.normal(size=(1, 20)), rng.normal(size=(1, 20)), 0.5
    phi = neurons.get("tanh")
    ref = reference("tanh", J[0], v0[0], w, np.array([2.0]))[-1]
    errs = []
    for h in (0.1, 0.05, 0.025):
        v = v0
        for _ in range(int(round(2 / h))):
            v = rosenbrock_step(v, J, h, phi, w, None, np.inf)
        errs.append(np.abs(v[0] - ref).max())
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 3.3) & (ratios < 4.8)), ratios


def test_float32_and_auto_is_rosenbrock():
    rng = np.random.default_rng(7)
    J, v0 = rng.normal(size=(2, 10)), rng.normal(size=(2, 10))
    a = integrate(J, neuron="softplus", w_inh=0.5, dt=1.0, steps=3, v0=v0).v
    r = integrate(J, neuron="softplus", w_inh=0.5, dt=1.0, steps=3, v0=v0, scheme="rosenbrock").v
    np.testing.assert_array_equal(a, r)
    f32 = integrate(J.astype(np.float32), neuron="softplus", w_inh=0.5, dt=1.0, steps=3, v0=v0).v
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, a, rtol=0, atol=1e-5)


@pytest.mark.parametrize("strength,J1", [(3.0, 0.99), (2.0, 0.9)])
def test_winner_take_all_pair_at_dt_tau_follows_the_dynamics(strength, J1):
    """Where the linearly implicit step picks the wrong winner or stops on the saddle
    (tests/test_lateral_settle.py), ROS2 with error control follows scipy from rest."""
    L = np.array([[0.0, -strength], [-strength, 0.0]])
    J = np.array([[1.0, J1]])
    got = settle(J, lateral=L, dt=1.0, tol=1e-12, max_steps=5000, method="steps", scheme="rosenbrock")
    assert got.converged
    ref = reference("relu", J[0], np.zeros(2), 0.0, np.array([400.0]), L)[-1]
    np.testing.assert_allclose(got.v[0], ref, rtol=0, atol=1e-6)


def test_oscillating_network_at_dt_tau_does_not_converge():
    """The 3-cycle threshold-linear network (a stable limit cycle) keeps oscillating at dt = tau."""
    L = np.full((3, 3), -1.5)
    for j, i in ((0, 1), (1, 2), (2, 0)):
        L[i, j] = -0.75
    np.fill_diagonal(L, 0)
    res = settle(np.ones((1, 3)), lateral=L, dt=1.0, v0=np.array([[0.2, 0.0, 0.0]]), tol=1e-8, max_steps=3000,
                 method="steps", scheme="rosenbrock")
    assert not res.converged and res.max_change > 0.01
