"""Neuron types against central finite differences of their own rate functions."""

import numpy as np
import pytest

from sim import ValidationError
from sim.substrate import neurons

# negative, zero-adjacent (but not straddling the ReLU kink) and large inputs
GRID = np.concatenate([np.linspace(-30, -1, 40), [-1e-3, -1e-5, 1e-5, 1e-3],
                       np.linspace(0.01, 3, 40), [10.0, 25.0]])
EPS = np.finfo(np.float64).eps


def _five_point(f, J, h):
    """Fourth-order central difference (truncation error O(h^4))."""
    return (-f(J + 2 * h) + 8 * f(J + h) - 8 * f(J - h) + f(J - 2 * h)) / (12 * h)


@pytest.mark.parametrize("name", ["linear", "relu", "sigmoid", "tanh", "softplus", "relu^3", "relu^1.5"])
def test_derivative_matches_central_differences(name):
    phi = neurons.get(name)
    J = GRID.reshape(1, -1)
    # step relative to |J| near 0 so the stencil never crosses the kink of relu^n
    h = 1e-3 * np.minimum(1.0, np.abs(J))
    fd = _five_point(phi.rate, J, h)
    d = phi.derivative(J)
    # relative error < 1e-6, except where float64 cannot resolve the difference quotient at all:
    # its rounding error is ~ 3 eps |phi(J)| / h (e.g. sigmoid'(25) = 1.4e-11 next to phi = 1)
    rounding = 3 * EPS * np.abs(phi.rate(J)) / h
    err = np.abs(d - fd)
    ok = err <= 1e-6 * np.abs(fd) + rounding
    assert ok.all(), (name, J[~ok], d[~ok], fd[~ok])
    # the floor must not swallow the check: for 0.01 <= |J| <= 3 it is far below 1e-6 relative
    core = (np.abs(J) >= 0.01) & (np.abs(J) <= 3) & (d != 0)
    assert np.all(rounding[core] < 1e-7 * np.abs(d[core]))


def test_rates_hand_values():
    J = np.array([[-2.0, 0.0, 2.0]])
    np.testing.assert_allclose(neurons.get("relu").rate(J), [[0, 0, 2]])
    np.testing.assert_allclose(neurons.get("sigmoid").rate(J), [[1 / (1 + np.e**2), 0.5, 1 / (1 + np.e**-2)]])
    np.testing.assert_allclose(neurons.get("softplus").rate(J), [[np.log1p(np.e**-2), np.log(2), np.log1p(np.e**2)]])
    np.testing.assert_allclose(neurons.get("relu^3").rate(J), [[0, 0, 8]])
    # softplus must not overflow for large currents
    assert np.isfinite(neurons.get("softplus").rate(np.array([[800.0]]))).all()


def test_softmax_jacobian_matches_finite_differences():
    rng = np.random.default_rng(0)
    sm = neurons.get("softmax")
    J = rng.normal(size=(3, 5)) * 3
    jac = sm.derivative(J)
    for b in range(3):
        for k in range(5):
            e = np.zeros(5)
            e[k] = 1e-6
            fd = (sm.rate(J[b] + e) - sm.rate(J[b] - e)) / (2 * 1e-6)
            np.testing.assert_allclose(jac[b, :, k], fd, rtol=1e-6, atol=1e-11)
    u = rng.normal(size=(3, 5))
    np.testing.assert_allclose(sm.jvp(J, u), np.einsum("bij,bj->bi", jac, u), rtol=1e-12)
    np.testing.assert_allclose(sm.rate(J).sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(sm.log_rate(J)), sm.rate(J), rtol=1e-12)


def test_float32_is_kept():
    J = np.linspace(-3, 3, 7, dtype=np.float32).reshape(1, -1)
    for name in ["linear", "relu", "sigmoid", "tanh", "softplus", "relu^2", "softmax"]:
        phi = neurons.get(name)
        assert phi.rate(J).dtype == np.float32, name


def test_lookup_errors_list_valid_names():
    with pytest.raises(ValidationError, match=r"neuron='bogus'.*valid: linear"):
        neurons.get("bogus")
    with pytest.raises(ValidationError, match="neuron"):
        neurons.get(3)
    with pytest.raises(ValidationError, match="exponent"):
        neurons.get("relu^x")
    with pytest.raises(ValidationError, match=r"n=0.5"):
        neurons.RectifiedPower(0.5)
    assert neurons.get(neurons.ReLU()) == neurons.ReLU()
    assert set(neurons.names()) >= {"linear", "relu", "sigmoid", "tanh", "softplus", "rectified_power", "softmax"}
