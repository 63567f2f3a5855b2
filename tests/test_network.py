"""Networks: steady-state forward pass against a numpy oracle and against the settled dynamics."""

import numpy as np
import pytest

from sim import ValidationError
from sim.substrate.connections import Connection
from sim.substrate.dynamics import settle as settle_population
from sim.substrate.network import Network, Population, RunResult


def _conns(sizes, seed, dtype="float64", **kw):
    rng = np.random.default_rng(seed)
    conns = [Connection(a, b, rng=rng, dtype=dtype, **kw) for a, b in zip(sizes[:-1], sizes[1:])]
    for c in conns:  # non-zero biases, so they matter
        c.b[...] = 0.3 * rng.standard_normal(c.n_post)
    return conns


def _X(batch, n, seed=0):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, size=(batch, n))


# ---------------------------------------------------------------- forward
def test_forward_hand_oracle_two_layers():
    W1 = np.array([[1.0, -1.0, 0.5], [0.2, 0.3, -0.4], [-1.0, 0.0, 2.0], [0.5, 0.5, 0.5]])
    b1 = np.array([0.1, -0.2, 0.0, 0.3])
    W2 = np.array([[1.0, -2.0, 0.5, 0.0], [0.0, 1.0, 1.0, -1.0]])
    b2 = np.array([-0.5, 0.25])
    c1 = Connection(3, 4, rng=0, dtype="float64")
    c2 = Connection(4, 2, rng=0, dtype="float64")
    c1.W, c1.b, c2.W, c2.b = W1, b1, W2, b2
    net = Network([3, 4, Population(2, "tanh")], rng=0, dtype="float64", connections=[c1, c2])
    X = np.array([[1.0, 2.0, -1.0], [0.0, -0.5, 0.5]])
    rates, currents = net.forward(X, return_currents=True)
    J1 = X @ W1.T + b1
    r1 = np.maximum(J1, 0)
    J2 = r1 @ W2.T + b2
    np.testing.assert_allclose(currents[0], J1, rtol=1e-14)
    np.testing.assert_allclose(rates[1], r1, rtol=1e-14)
    np.testing.assert_allclose(currents[1], J2, rtol=1e-14)
    np.testing.assert_allclose(rates[2], np.tanh(J2), rtol=1e-14)
    np.testing.assert_array_equal(rates[0], X)
    # a literal value of the first sample, first hidden unit: 1 - 2 - 0.5 + 0.1
    assert J1[0, 0] == pytest.approx(-1.4) and rates[1][0, 0] == 0.0
    assert len(net.forward(X)) == 3


def test_ints_give_linear_input_relu_populations():
    net = Network([5, 4, 3], rng=0)
    assert net.sizes == [5, 4, 3] and net.n_layers == 2
    assert [p.neuron.name for p in net.populations] == ["linear", "relu", "relu"]
    assert [p.name for p in net.populations] == ["input", "hidden1", "output"]
    assert all(p.tau == 0 and p.w_inh == 0 for p in net.populations)
    assert [(c.n_pre, c.n_post) for c in net.connections] == [(5, 4), (4, 3)]
    assert "Network(" in repr(net)


def test_same_seed_same_network_and_kwargs_pass_through():
    a = Network([6, 5, 4], rng=np.random.default_rng(3), init="he_normal", p_connect=0.5, dale=0.5, bias=False)
    b = Network([6, 5, 4], rng=np.random.default_rng(3), init="he_normal", p_connect=0.5, dale=0.5, bias=False)
    for ca, cb in zip(a.connections, b.connections):
        np.testing.assert_array_equal(ca.W, cb.W)
        assert ca.mask is not None and ca.dale is not None and not ca.has_bias
    # the two connections draw different weights from the one generator
    assert not np.array_equal(a.connections[0].W[:4, :4], a.connections[1].W[:4, :4])


def test_populations_are_copied():
    pop = Population(4, "sigmoid", tau=2.0)
    net = Network([3, pop], rng=0)
    assert net.populations[1] is not pop and pop.name == "" and net.populations[1].name == "output"


# ---------------------------------------------------------------- dynamics vs steady state
SIZES = [5, 8, 6, 3]


@pytest.mark.parametrize("neuron", ["relu", "tanh", "sigmoid", "mixed"])
def test_settled_dynamics_equal_forward(neuron):
    kinds = ["relu", "tanh", "sigmoid"] if neuron == "mixed" else [neuron] * 3
    taus = [1.0, 5.0, 2.0]
    conns = _conns(SIZES, seed=11)
    steady = Network([SIZES[0]] + [Population(n, k) for n, k in zip(SIZES[1:], kinds)],
                     rng=0, dtype="float64", connections=conns)
    dyn = Network([SIZES[0]] + [Population(n, k, tau=t) for n, k, t in zip(SIZES[1:], kinds, taus)],
                  rng=0, dtype="float64", connections=conns)
    X = _X(7, SIZES[0])
    expected = steady.forward(X)
    res = dyn.settle(X, dt=0.5, tol=1e-13, max_steps=5000)
    assert isinstance(res, RunResult) and res.converged and res.max_change <= 1e-13
    assert 20 < res.steps < 5000
    for r_dyn, r_ss in zip(res.rates, expected):
        np.testing.assert_allclose(r_dyn, r_ss, rtol=0, atol=1e-8)
    # run for the same number of steps lands on the same state
    again = dyn.run(X, steps=res.steps, dt=0.5)
    for a, b in zip(again.rates, res.rates):
        np.testing.assert_array_equal(a, b)
    assert again.converged is None and again.steps == res.steps


def test_mixed_instantaneous_and_leaky_populations():
    conns = _conns(SIZES, seed=2)
    pops = [SIZES[0], Population(8, "tanh", tau=3.0), Population(6, "relu", tau=0.0), Population(3, "sigmoid", tau=1.0)]
    net = Network(pops, rng=0, dtype="float64", connections=conns)
    X = _X(4, SIZES[0], seed=1)
    res = net.settle(X, dt=0.25, tol=1e-13)
    assert res.converged
    for a, b in zip(res.rates, net.forward(X)):
        np.testing.assert_allclose(a, b, atol=1e-8)
    # the instantaneous population is at its steady state given its input at every step
    short = net.run(X, steps=3, dt=0.25)
    J = conns[1].current(short.rates[1])
    np.testing.assert_allclose(short.v[1], J, rtol=1e-14)
    np.testing.assert_allclose(short.rates[2], np.maximum(J, 0), rtol=1e-14)


def test_all_instantaneous_run_equals_forward_in_one_step():
    net = Network([4, Population(6, "tanh"), Population(3, "sigmoid")], rng=5, dtype="float64")
    X = _X(3, 4)
    res = net.run(X, steps=1, dt=0.1)
    for a, b in zip(res.rates, net.forward(X)):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    settled = net.settle(X, dt=0.1)
    assert settled.converged and settled.steps == 1 and settled.max_change == 0.0
    # v0 is irrelevant for instantaneous populations
    res0 = net.run(X, steps=0, dt=0.1, v0=[np.ones((3, 6)), None])
    np.testing.assert_allclose(res0.rates[2], net.forward(X)[2], rtol=1e-14)


def test_single_leaky_linear_population_is_exact():
    """tau dv/dt = -v + J from v = 0 has v(t) = J (1 - exp(-t / tau)); the scheme is exact."""
    net = Network([3, Population(4, "linear", tau=2.0)], rng=1, dtype="float64")
    X = _X(5, 3)
    J = net.connections[0].current(X)
    res = net.run(X, steps=10, dt=0.3, record=True)
    t = 0.3 * np.arange(11)
    expected = J[None] * (1 - np.exp(-t / 2.0))[:, None, None]
    np.testing.assert_allclose(res.traces[0], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(res.v[0], expected[-1], rtol=1e-12)
    # from a given v0
    v0 = np.full((5, 4), 2.0)
    res = net.run(X, steps=4, dt=0.5, v0=[v0])
    np.testing.assert_allclose(res.v[0], J + (v0 - J) * np.exp(-1.0), rtol=1e-12)


def test_simultaneous_update_uses_rates_from_step_start():
    """Two leaky layers: after one step from rest, layer 2 has only seen layer 1's rate at t = 0."""
    conns = _conns([3, 4, 2], seed=4)
    net = Network([3, Population(4, "linear", tau=1.0), Population(2, "linear", tau=1.0)],
                  rng=0, dtype="float64", connections=conns)
    X = _X(2, 3)
    res = net.run(X, steps=1, dt=0.5)
    a = 1 - np.exp(-0.5)
    J1 = conns[0].current(X)
    np.testing.assert_allclose(res.v[0], a * J1, rtol=1e-14)
    np.testing.assert_allclose(res.v[1], a * conns[1].current(np.zeros((2, 4))), rtol=1e-14)


def test_record_trace_shapes():
    net = Network([4, Population(5, "relu", tau=1.0), Population(3, "tanh", tau=2.0)], rng=0)
    X = _X(6, 4)
    res = net.run(X, steps=7, dt=0.2, record=True)
    assert [tr.shape for tr in res.traces] == [(8, 6, 5), (8, 6, 3)]
    for tr, r in zip(res.traces, res.rates[1:]):
        np.testing.assert_array_equal(tr[-1], r)
    assert not res.traces[0][0].any()  # starts at rest (relu(0) = 0)
    assert net.run(X, steps=7, dt=0.2).traces is None
    assert [tr.shape for tr in net.run(X, steps=0, dt=0.2, record=True).traces] == [(1, 6, 5), (1, 6, 3)]
    s = net.settle(X, dt=0.5, tol=1e-5, record=True)
    assert [tr.shape for tr in s.traces] == [(s.steps + 1, 6, 5), (s.steps + 1, 6, 3)]


def test_settle_reports_non_convergence():
    net = Network([3, Population(4, "relu", tau=100.0)], rng=0, dtype="float64")
    res = net.settle(_X(2, 3), dt=0.1, tol=1e-12, max_steps=5)
    assert not res.converged and res.steps == 5 and res.max_change > 1e-12


# ---------------------------------------------------------------- lateral inhibition
def test_inhibited_population_forward_is_the_settled_fixed_point():
    conns = _conns([5, 8, 3], seed=6)
    inst = Network([5, Population(8, "relu", w_inh=0.4), Population(3, "sigmoid")],
                   rng=0, dtype="float64", connections=conns)
    leaky = Network([5, Population(8, "relu", tau=2.0, w_inh=0.4), Population(3, "sigmoid", tau=1.0)],
                    rng=0, dtype="float64", connections=conns)
    free = Network([5, 8, Population(3, "sigmoid")], rng=0, dtype="float64", connections=conns)
    X = _X(6, 5, seed=3)
    rates, currents = inst.forward(X, return_currents=True)
    direct = settle_population(currents[0], neuron="relu", w_inh=0.4, tol=1e-12, max_steps=10000)
    np.testing.assert_allclose(rates[1], direct.rate, atol=1e-9)
    # fixed point of v = J - w (sum_j r_j - r_i)
    r = rates[1]
    v = currents[0] - 0.4 * (r.sum(axis=1, keepdims=True) - r)
    np.testing.assert_allclose(r, np.maximum(v, 0), atol=1e-9)
    assert np.all(r.sum(axis=1) <= free.forward(X)[1].sum(axis=1) + 1e-12)  # inhibition lowers total rate
    assert np.any(r != free.forward(X)[1])
    settled = leaky.settle(X, dt=0.5, tol=1e-12)
    assert settled.converged
    for a, b in zip(settled.rates, rates):
        np.testing.assert_allclose(a, b, atol=1e-8)
    # an instantaneous inhibited population stays settled during run()
    run = inst.run(X, steps=2, dt=0.5)
    np.testing.assert_allclose(run.rates[1], rates[1], atol=1e-9)


# ---------------------------------------------------------------- dtype
def test_float32_respected():
    net = Network([4, Population(5, "tanh", tau=1.0), Population(3, "relu", w_inh=0.3)], rng=0)
    assert net.dtype == np.float32 and all(c.dtype == np.float32 for c in net.connections)
    X = _X(3, 4)  # float64 input
    rates, currents = net.forward(X, return_currents=True)
    assert all(r.dtype == np.float32 for r in rates) and all(J.dtype == np.float32 for J in currents)
    res = net.run(X, steps=3, dt=0.1, record=True)
    assert all(a.dtype == np.float32 for a in res.rates + res.v + res.traces)
    s = net.settle(X, dt=0.5, tol=1e-5)
    assert s.converged and all(a.dtype == np.float32 for a in s.rates + s.v)
    net64 = Network([4, 3], rng=0, dtype="float64")
    assert net64.forward(X.astype(np.float32))[1].dtype == np.float64


# ---------------------------------------------------------------- validation
def test_X_validation():
    net = Network([4, 3], rng=0)
    with pytest.raises(ValidationError, match=r"X=.*4 features"):
        net.forward(np.ones((2, 5)))
    with pytest.raises(ValidationError, match=r"X=.*NaN"):
        net.forward(np.array([[1.0, np.nan, 0.0, 0.0]]))
    with pytest.raises(ValidationError, match=r"X=.*2 dimensions"):
        net.run(np.ones(4), steps=1, dt=0.1)
    with pytest.raises(ValidationError, match=r"X=.*4 features"):
        net.settle(np.ones((1, 3)), dt=0.1)
    with pytest.raises(ValidationError, match=r"X=.*inf"):
        net.run(np.full((1, 4), np.inf), steps=1, dt=0.1)


@pytest.mark.parametrize("call, match", [
    (lambda n, X: n.run(X, steps=-1, dt=0.1), r"steps=-1"),
    (lambda n, X: n.run(X, steps=1.5, dt=0.1), r"steps=1\.5"),
    (lambda n, X: n.run(X, steps=2, dt=0.0), r"dt=0\.0"),
    (lambda n, X: n.settle(X, dt=-1.0), r"dt=-1\.0"),
    (lambda n, X: n.settle(X, dt=0.1, tol=0.0), r"tol=0\.0"),
    (lambda n, X: n.settle(X, dt=0.1, max_steps=0), r"max_steps=0"),
    (lambda n, X: n.run(X, steps=1, dt=0.1, v0=[np.zeros((2, 3))]), r"(?s)v0=.*list of 2"),
    (lambda n, X: n.run(X, steps=1, dt=0.1, v0=np.zeros((2, 3))), r"(?s)v0=.*list of 2"),
    (lambda n, X: n.run(X, steps=1, dt=0.1, v0=[np.zeros((2, 4)), None]), r"v0\[0\]=.*3 features"),
    (lambda n, X: n.run(X, steps=1, dt=0.1, v0=[None, np.zeros((5, 2))]), r"v0\[1\]=.*2 rows"),
    (lambda n, X: n.run(X, steps=1, dt=0.1, v0=[None, np.full((2, 2), np.nan)]), r"(?s)v0\[1\]=.*NaN"),
])
def test_run_validation(call, match):
    net = Network([4, Population(3, tau=1.0), 2], rng=0)
    with pytest.raises(ValidationError, match=match):
        call(net, np.ones((2, 4)))


@pytest.mark.parametrize("make, match", [
    (lambda: Population(0), r"n=0"),
    (lambda: Population(3, "spiky"), r"neuron='spiky'.*relu"),
    (lambda: Population(3, tau=-1.0), r"tau=-1\.0"),
    (lambda: Population(3, w_inh=-0.1), r"w_inh=-0\.1"),
    (lambda: Population(3, w_inh=1.0), r"w_inh=1\.0"),
    (lambda: Population(3, name=3), r"name=3"),
    (lambda: Network([4], rng=0), r"sizes_or_populations=\[4\]"),
    (lambda: Network(4, rng=0), r"sizes_or_populations=4"),
    (lambda: Network([4, 0], rng=0), r"sizes_or_populations\[1\]=0"),
    (lambda: Network([4, "3"], rng=0), r"sizes_or_populations\[1\]='3'"),
    (lambda: Network([4, 3], rng=None), r"rng=None"),
    (lambda: Network([4, 3], rng=0, dtype="float16"), r"dtype='float16'"),
    (lambda: Network([4, 3], rng=0, init="bad"), r"init='bad'"),
    (lambda: Network([4, 3], rng=0, p_connect=2.0), r"p_connect=2\.0"),
    (lambda: Network([4, 3], rng=0, connections=[]), r"connections=.*1 Connection"),
    (lambda: Network([4, 3], rng=0, connections=["W"]), r"connections\[0\]='W'.*Connection"),
    (lambda: Network([4, 3], rng=0, connections=[Connection(3, 4, rng=0)]), r"connections\[0\]=.*4 -> 3"),
    (lambda: Network([4, 3], rng=0, dtype="float64", connections=[Connection(4, 3, rng=0)]),
     r"connections\[0\]=.*float64"),
    (lambda: Network([4, 3], rng=0, connections=[Connection(4, 3, rng=0)], bias=False), r"connection_kwargs="),
])
def test_construction_validation(make, match):
    with pytest.raises(ValidationError, match=match):
        make()
