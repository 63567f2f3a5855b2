"""Event-driven exact flow of ReLU / Linear units under uniform inhibition (scheme "events").

Oracles: scipy's DOP853 restarted at every threshold crossing (so it only ever integrates a
smooth, linear field, located by its event finder), the old refined "exact" scheme at a 4000x
finer step, the matrix exponential (scipy.linalg.expm) for Linear units, and hand-worked closed
forms.
"""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from sim.substrate import neurons
from sim.substrate.dynamics import integrate, settle
from sim.substrate.event_driven import event_flow, initial_active
from sim.substrate.schemes import Stepper


def ivp_with_restarts(J, v0, w, times):
    """One sample (1-D): DOP853 on the linear field of the current sign pattern, restarted at
    every zero crossing found by its event location; the state at ``times``."""
    t, x, out = 0.0, np.asarray(v0, float).copy(), {}
    side = initial_active(x[None], J[None], w, False)[0]
    T = float(times[-1])
    while t < T:
        def field(s, y, side=side):
            r = y * side
            return -y + J - w * (r.sum() - r)
        events = []
        for i in range(x.size):
            def e(s, y, i=i):
                return y[i]
            e.terminal, e.direction = True, (-1.0 if side[i] else 1.0)
            events.append(e)
        sol = solve_ivp(field, (t, T), x, method="DOP853", rtol=1e-13, atol=1e-15, events=events,
                        dense_output=True)
        t_new = float(sol.t[-1])
        for te in times[(times > t) & (times <= t_new)]:
            out[float(te)] = sol.sol(te)
        x = sol.y[:, -1].copy()
        if sol.status == 1:
            for i, ev in enumerate(sol.t_events):
                if ev.size:
                    x[i], side[i] = 0.0, not side[i]
        t = t_new
    return np.array([out[float(te)] for te in times])


def crossing_counts(trace):
    """Per step and sample, how many units changed sign over the step (from a trace)."""
    s = trace > 0
    return (s[1:] != s[:-1]).sum(axis=-1)


@pytest.mark.parametrize("w,h,seed", [(0.6, 0.7, 1), (0.3, 0.1, 2), (0.9, 2.0, 3)])
def test_matches_solve_ivp_with_restarts(w, h, seed):
    rng = np.random.default_rng(seed)
    B, n, steps = 3, 25, 10
    J, v0 = rng.normal(size=(B, n)), rng.normal(size=(B, n))
    res = integrate(J, w_inh=w, tau=1.0, dt=h, steps=steps, v0=v0, record=True)
    counts = crossing_counts(res.trace)
    assert counts.max() >= 2 and counts.sum() >= 10           # precondition: several cross in a step
    times = h * np.arange(1, steps + 1)
    for b in range(B):
        ref = ivp_with_restarts(J[b], v0[b], w, times)
        np.testing.assert_allclose(res.trace[1:, b], ref, rtol=0, atol=1e-9)


def test_crossings_both_directions_mid_step():
    """Units switch on and off inside steps (not at grid points); tau = 2.5, dt = 1."""
    rng = np.random.default_rng(5)
    w = 0.5
    J = np.r_[np.full(4, 2.0), np.full(4, 0.4), np.full(4, -1.0)] + 0.05 * rng.normal(size=12)
    v0 = np.r_[np.full(4, -0.5), np.full(4, 1.5), np.full(4, 0.8)][None]   # on -> up, off -> down
    steps, dt, tau = 8, 1.0, 2.5
    res = integrate(J[None], w_inh=w, tau=tau, dt=dt, steps=steps, v0=v0, record=True)
    s = res.trace[:, 0] > 0
    assert (~s[0] & s[-1]).any() and (s[0] & ~s[-1]).any()     # precondition: both directions
    ref = ivp_with_restarts(J, v0[0], w, dt / tau * np.arange(1, steps + 1))
    np.testing.assert_allclose(res.trace[1:, 0], ref, rtol=0, atol=1e-9)


def test_matches_fine_step_integration():
    """Against the refined frozen-active-set scheme at a 4000x smaller step (its error at a
    crossing, about (step / 16)^2, is then below 1e-10)."""
    rng = np.random.default_rng(8)
    J, v0 = rng.normal(size=(2, 20)), rng.normal(size=(2, 20))
    h, steps, fine = 0.5, 6, 4000
    coarse = integrate(J, w_inh=0.7, dt=h, steps=steps, v0=v0, record=True).trace
    ref = integrate(J, w_inh=0.7, dt=h / fine, steps=steps * fine, v0=v0, record=True, scheme="exact").trace
    assert crossing_counts(coarse).sum() >= 5
    np.testing.assert_allclose(coarse, ref[::fine], rtol=0, atol=1e-9)


def test_one_long_step_equals_many_short():
    """All events inside one step of 6 tau: the end state is the same as with 600 steps."""
    rng = np.random.default_rng(9)
    J, v0 = rng.normal(size=(4, 30)), rng.normal(size=(4, 30))
    one = integrate(J, w_inh=0.4, dt=6.0, steps=1, v0=v0).v
    many = integrate(J, w_inh=0.4, dt=0.01, steps=600, v0=v0).v
    stepwise = v0
    for _ in range(600):  # one call per step (the path the network's run takes)
        stepwise = integrate(J, w_inh=0.4, dt=0.01, steps=1, v0=stepwise).v
    np.testing.assert_allclose(one, many, rtol=0, atol=1e-12)
    np.testing.assert_allclose(stepwise, many, rtol=0, atol=1e-11)


def test_from_rest_every_positive_input_starts_active():
    """v0 = 0: the units with J > 0 leave 0 upwards; against the restarted scipy oracle."""
    rng = np.random.default_rng(10)
    J = rng.normal(size=(1, 40))
    np.testing.assert_array_equal(initial_active(np.zeros((1, 40)), J, 0.3, False), J > 0)
    res = integrate(J, w_inh=0.3, tau=10.0, dt=1.0, steps=50, record=True)
    ref = ivp_with_restarts(J[0], np.zeros(40), 0.3, 0.1 * np.arange(1, 51))
    np.testing.assert_allclose(res.trace[1:, 0], ref, rtol=0, atol=1e-9)


def test_two_units_hand_worked():
    """n = 2, w = 0.5, J = (1, -1), v0 = (0, 1): unit 2 is active at first, so
    S = v1 + v2 with lam = 1.5; the linear system dv1 = -v1 + 1 - 0.5 v2, dv2 = -v2 - 1 - 0.5 v1
    has eigenvalues -0.5 (v1 - v2) and -1.5 (v1 + v2); v2 reaches 0 at t*, then v1 relaxes
    alone to 1 (v2 silent, driven down): hand-solved below."""
    w = 0.5
    # modes: u = v1 + v2 -> fixed point u* = 0 / 1.5 = 0, u(0) = 1: u = e^{-1.5 t}
    #        d = v1 - v2 -> d* = 2 / 0.5 = 4, d(0) = -1: d = 4 - 5 e^{-0.5 t}
    v2 = lambda t: 0.5 * (math.exp(-1.5 * t) - 4 + 5 * math.exp(-0.5 * t))  # noqa: E731
    lo, hi = 0.0, 5.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if v2(mid) > 0 else (lo, mid)
    t_star = lo
    v1_star = 0.5 * (math.exp(-1.5 * t_star) + 4 - 5 * math.exp(-0.5 * t_star))
    T = 3.0
    # after t*: v1 = 1 + (v1* - 1) e^{-(t - t*)}; v2 = -1 - 0.5 S_int with S = v1
    dt = T - t_star
    v1_T = 1 + (v1_star - 1) * math.exp(-dt)
    # dv2 = -v2 - 1 - 0.5 (1 + (v1* - 1) e^{-s}), v2(0) = 0: resonant term s e^{-s}
    A = -1.5
    v2_T = A + (0 - A) * math.exp(-dt) - 0.5 * (v1_star - 1) * dt * math.exp(-dt)
    out = event_flow(np.array([[0.0, 1.0]]), np.array([[1.0, -1.0]]), w, T, 1, False)
    np.testing.assert_allclose(out[0], [v1_T, v2_T], rtol=0, atol=1e-13)


def test_linear_units_match_expm():
    rng = np.random.default_rng(12)
    n, w, T = 8, 0.35, 2.3
    J, v0 = rng.normal(size=(2, n)), rng.normal(size=(2, n))
    A = -(np.eye(n) + w * (np.ones((n, n)) - np.eye(n)))
    v_star = np.linalg.solve(-A, J.T).T
    expected = v_star + (expm(A * T) @ (v0 - v_star).T).T
    got = integrate(J, neuron="linear", w_inh=w, dt=T, steps=1, v0=v0).v
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_rows_are_independent_and_float32():
    rng = np.random.default_rng(13)
    J, v0 = rng.normal(size=(5, 30)), rng.normal(size=(5, 30))
    both = integrate(J, w_inh=0.5, dt=0.3, steps=20, v0=v0, record=True)
    for b in range(5):
        alone = integrate(J[b:b + 1], w_inh=0.5, dt=0.3, steps=20, v0=v0[b:b + 1], record=True)
        np.testing.assert_allclose(both.trace[:, b], alone.trace[:, 0], rtol=0, atol=1e-13)
    np.testing.assert_array_equal(both.trace[-1], both.v)
    f32 = integrate(J.astype(np.float32), w_inh=0.5, dt=0.3, steps=20, v0=v0, record=True)
    assert f32.v.dtype == f32.trace.dtype == np.float32
    np.testing.assert_allclose(f32.v, both.v, rtol=0, atol=1e-5)


def test_fixed_point_is_kept_and_settle_reaches_kwta():
    from sim.substrate.kwta import inhibited_fixed_point
    rng = np.random.default_rng(14)
    J = rng.normal(size=(3, 50))
    v_star = inhibited_fixed_point(J, 0.8, "relu")[0]
    np.testing.assert_allclose(integrate(J, w_inh=0.8, dt=1.0, steps=5, v0=v_star).v, v_star, rtol=0, atol=1e-13)
    s = settle(J, w_inh=0.8, dt=1.0, tol=1e-12, max_steps=5000)
    assert s.converged
    np.testing.assert_allclose(s.v, v_star, rtol=0, atol=1e-10)


def test_auto_picks_events_where_they_apply():
    relu, sig = neurons.get("relu"), neurons.get("sigmoid")
    assert Stepper(relu, 0.3, None, 0.1, "auto").events
    assert Stepper(neurons.get("linear"), 0.3, None, 0.1, "auto").events
    assert not Stepper(relu, 0.3, np.zeros((3, 3)), 0.1, "auto").events    # a lateral matrix
    assert not Stepper(relu, 0.3, None, math.inf, "auto").events           # tau = 0: a jump
    assert not Stepper(relu, 0.3, None, 0.1, "exact").events
    assert not Stepper(sig, 0.3, None, 0.1, "auto").events
    assert not Stepper(relu, 0.0, None, 0.1, "auto").events                # uncoupled: the leak


def test_event_budget_is_enforced():
    rng = np.random.default_rng(15)
    J, v0 = rng.normal(size=(1, 30)), rng.normal(size=(1, 30))
    with pytest.raises(RuntimeError, match="event intervals"):
        event_flow(v0, J, 0.5, 5.0, 1, False, max_events=1)


def test_settle_keeps_its_former_schemes():
    """settle's "auto" is still the frozen-set "exact" step (ReLU, uniform inhibition) and the
    linearly implicit step (smooth units): its results are unchanged, bit for bit."""
    rng = np.random.default_rng(16)
    J = rng.normal(size=(4, 60))
    for neuron, former in (("relu", "exact"), ("sigmoid", "implicit")):
        auto = settle(J, neuron=neuron, w_inh=0.6, dt=1.0, tol=1e-9, max_steps=2000, method="steps")
        old = settle(J, neuron=neuron, w_inh=0.6, dt=1.0, tol=1e-9, max_steps=2000, method="steps", scheme=former)
        assert auto.steps == old.steps
        np.testing.assert_array_equal(auto.v, old.v)
    events = settle(J, w_inh=0.6, dt=1.0, tol=1e-12, max_steps=2000, scheme="events")
    exact = settle(J, w_inh=0.6, dt=1.0, tol=1e-12, max_steps=2000)
    np.testing.assert_allclose(events.v, exact.v, rtol=0, atol=1e-10)   # the same fixed point
