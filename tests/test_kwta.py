"""The closed-form k-WTA fixed point of uniform inhibition: its partial-sort fast path against the
one-sort definition, and the fixed point against its defining equations."""

import numpy as np
import pytest

from sim.substrate import kwta


def _one_sort(J, w):
    """The definition, written plainly: sort every input's currents, candidate thresholds of the
    top-k sets, the longest prefix whose units clear their own candidate."""
    v = np.empty_like(J)
    r = np.empty_like(J)
    k_max = 0
    for i, row in enumerate(J):
        Js = np.sort(row)[::-1]
        thetas = (w * np.cumsum(Js, dtype=np.float64) / (1 - w + w * np.arange(1, row.size + 1))).astype(J.dtype)
        valid = Js > thetas
        k = row.size if valid.all() else int(np.argmin(valid))
        theta = thetas[k - 1] if k else J.dtype.type(0)
        r[i] = np.maximum(row - theta, 0) / J.dtype.type(1 - w)
        v[i] = row - theta + w * r[i]
        k_max = max(k_max, k)
    return v, r, k_max


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [5, kwta.TOP, kwta.TOP + 1, 400])
@pytest.mark.parametrize("w", [0.02, 0.3, 0.9])
def test_partial_sort_path_equals_the_one_sort_definition_bit_for_bit(dtype, n, w):
    rng = np.random.default_rng(n)
    # offsets per input make some inputs activate nearly every unit (the fallback to all
    # currents) and others only a few; rounded rows add ties
    J = (rng.standard_normal((64, n)) * rng.choice([0.05, 1.0, 3.0], (64, 1)) + rng.standard_normal((64, 1)))
    J[:8] = J[:8].round(1)
    J = J.astype(dtype)
    v, r, k = kwta.inhibited_fixed_point(J, w)
    v0, r0, k0 = _one_sort(J, w)
    assert k == k0
    np.testing.assert_array_equal(r, r0)
    np.testing.assert_array_equal(v, v0)
    if n > kwta.TOP and w == 0.02:
        assert k > kwta.TOP  # the fallback was exercised


def test_fixed_point_satisfies_its_equations_with_more_active_units_than_the_fast_path():
    rng = np.random.default_rng(1)
    J = rng.standard_normal((16, 200)) + 2.0  # weak inhibition: most units active
    w = 0.01
    v, r, k = kwta.inhibited_fixed_point(J, w)
    assert k > kwta.TOP
    S = r.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(v, J - w * (S - r), atol=1e-10)  # v = J - w sum_{j != i} r_j
    np.testing.assert_allclose(r, np.maximum(v, 0), atol=1e-12)  # r = relu(v)
