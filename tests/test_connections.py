"""Connections: initializer statistics, constraints after arbitrary updates, currents, state."""

import copy

import numpy as np
import pytest

from sim import ValidationError
from sim.substrate.connections import DEFAULT_NORMAL_SCALE, Connection, init_weights, initializer_names


def _kick(conn, seed, size=10.0):
    """An arbitrary large update that breaks every constraint, then constrain()."""
    rng = np.random.default_rng(seed)
    conn.W += (size * rng.standard_normal(conn.W.shape)).astype(conn.dtype)
    conn.b += rng.standard_normal(conn.b.shape).astype(conn.dtype)
    return conn.constrain()


# ---------------------------------------------------------------- initializers
def test_initializer_names():
    assert initializer_names() == sorted(["glorot_uniform", "xavier_uniform", "he_normal", "normal",
                                          "uniform", "zeros"])


@pytest.mark.parametrize("name, scale, expected_std", [
    ("glorot_uniform", None, np.sqrt(6 / (512 + 512)) / np.sqrt(3)),
    ("xavier_uniform", None, np.sqrt(6 / (512 + 512)) / np.sqrt(3)),
    ("he_normal", None, np.sqrt(2 / 512)),
    ("normal", None, DEFAULT_NORMAL_SCALE),
    ("normal", 0.3, 0.3),
    ("uniform", None, (1 / np.sqrt(512)) / np.sqrt(3)),
    ("uniform", 0.2, 0.2 / np.sqrt(3)),
])
def test_initializer_std_and_mean(name, scale, expected_std):
    W = init_weights(name, (512, 512), np.random.default_rng(0), scale=scale, dtype=np.float64)
    assert W.shape == (512, 512)
    assert abs(W.std() / expected_std - 1) < 0.05
    # mean ~ 0: within 5 standard errors of the mean
    assert abs(W.mean()) < 5 * expected_std / 512
    if "uniform" in name:
        assert np.abs(W).max() <= expected_std * np.sqrt(3)


def test_initializer_fan_in_uses_n_pre():
    # shape (n_post, n_pre) = (64, 1024): he std = sqrt(2/1024)
    W = init_weights("he_normal", (64, 1024), np.random.default_rng(1), dtype=np.float64)
    assert abs(W.std() / np.sqrt(2 / 1024) - 1) < 0.05


def test_zeros_and_gain():
    assert not init_weights("zeros", (3, 4), 0).any()
    a = init_weights("glorot_uniform", (200, 300), np.random.default_rng(2), scale=2.0, dtype=np.float64)
    b = init_weights("glorot_uniform", (200, 300), np.random.default_rng(2), dtype=np.float64)
    np.testing.assert_allclose(a, 2 * b)


def test_same_seed_identical_weights():
    a = Connection(30, 20, rng=np.random.default_rng(7), p_connect=0.5, dale=0.8)
    b = Connection(30, 20, rng=np.random.default_rng(7), p_connect=0.5, dale=0.8)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.mask, b.mask)
    c = Connection(30, 20, rng=np.random.default_rng(8), p_connect=0.5, dale=0.8)
    assert not np.array_equal(a.W, c.W)
    # an int seed works too, and float64 draws the same values as float32
    d = Connection(30, 20, rng=7, p_connect=0.5, dale=0.8, dtype="float64")
    np.testing.assert_array_equal(a.W, d.W.astype(np.float32))


# ---------------------------------------------------------------- constraints
def test_mask_zeros_stay_zero():
    conn = Connection(40, 30, rng=np.random.default_rng(0), p_connect=0.3)
    mask = conn.mask
    assert mask.dtype == bool and mask.shape == (30, 40)
    assert 0.2 < mask.mean() < 0.4
    assert not conn.W[~mask].any()
    for seed in range(3):
        _kick(conn, seed)
        assert not conn.W[~mask].any()
        assert np.all(conn.W[mask] != 0)  # unmasked weights are free
    np.testing.assert_array_equal(conn.mask, mask)  # fixed forever


def test_dale_signs_hold():
    conn = Connection(10, 6, rng=np.random.default_rng(0), dale=0.8)
    np.testing.assert_array_equal(conn.dale, [1] * 8 + [-1] * 2)
    # at init: |W| with the sign, so nothing was zeroed
    assert np.all(conn.W[:, :8] > 0) and np.all(conn.W[:, 8:] < 0)
    for seed in range(3):
        _kick(conn, seed)
        assert np.all(conn.W[:, :8] >= 0) and np.all(conn.W[:, 8:] <= 0)
    signs = np.array([1, -1, 1, -1, -1])
    conn = Connection(5, 4, rng=1, dale=signs)
    assert np.all(conn.W * signs >= 0)
    _kick(conn, 5)
    assert np.all(conn.W * signs >= 0)


def test_dale_fraction_rounding():
    assert list(Connection(5, 2, rng=0, dale=0.5).dale) == [1, 1, 1, -1, -1]  # floor(2.5 + 0.5)
    assert list(Connection(4, 2, rng=0, dale=0.0).dale) == [-1] * 4
    assert list(Connection(4, 2, rng=0, dale=1.0).dale) == [1] * 4


def test_bounds_hold():
    conn = Connection(20, 10, rng=0, bounds=(-0.1, 0.05))
    for seed in range(3):
        _kick(conn, seed)
        assert conn.W.min() >= -0.1 and conn.W.max() <= 0.05
        assert np.isclose(conn.W.min(), -0.1) and np.isclose(conn.W.max(), 0.05)
    one_sided = Connection(20, 10, rng=0, bounds=(0.0, None))
    _kick(one_sided, 1)
    assert one_sided.W.min() >= 0 and one_sided.W.max() > 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ord_", [1.0, 2.0, 3.0, np.inf])
def test_max_norm_rows(dtype, ord_):
    conn = Connection(50, 20, rng=0, max_norm=1.0, norm_ord=ord_, dtype=dtype)
    rng = np.random.default_rng(3)
    # half of the rows far above the ceiling, half well below it
    big = np.zeros(20, bool)
    big[::2] = True
    W = rng.standard_normal((20, 50))
    W[~big] *= 0.1 / np.linalg.norm(W[~big], ord=ord_, axis=1, keepdims=True)
    W[big] *= 5.0 / np.linalg.norm(W[big], ord=ord_, axis=1, keepdims=True)
    conn.W[...] = W
    before = conn.W.copy()
    conn.constrain()
    norms = np.linalg.norm(conn.W.astype(np.float64), ord=ord_, axis=1)
    assert np.all(norms <= 1.0)
    np.testing.assert_allclose(norms[big], 1.0, rtol=1e-5)
    np.testing.assert_array_equal(conn.W[~big], before[~big])  # rows under the ceiling untouched
    # rescaled, not clipped: direction preserved
    np.testing.assert_allclose(conn.W[big] * 5.0, before[big], rtol=1e-5, atol=1e-6)


def test_all_constraints_together():
    conn = Connection(60, 40, rng=np.random.default_rng(4), p_connect=0.5, dale=0.75,
                      bounds=(-0.5, 0.4), max_norm=1.5, norm_ord=2.0, bias=False)
    mask, signs = conn.mask, conn.dale
    for seed in range(4):
        _kick(conn, seed, size=50.0)
        W = conn.W
        assert not W[~mask].any()
        assert np.all(W * signs[None, :] >= 0)
        assert W.min() >= -0.5 and W.max() <= 0.4
        assert np.all(np.linalg.norm(W.astype(np.float64), axis=1) <= 1.5)
        assert not conn.b.any() and not conn.has_bias


def test_constrain_returns_self_and_is_idempotent():
    conn = Connection(10, 8, rng=0, p_connect=0.6, dale=0.5, max_norm=0.5)
    _kick(conn, 0)
    W = conn.W.copy()
    assert conn.constrain() is conn
    np.testing.assert_array_equal(conn.W, W)


def test_bias_false_stays_zero():
    conn = Connection(3, 2, rng=0, bias=False)
    assert not conn.has_bias and Connection(3, 2, rng=0).has_bias
    conn.b += 1.0
    conn.constrain()
    assert not conn.b.any()


# ---------------------------------------------------------------- currents
def test_current_hand_oracle():
    conn = Connection(3, 2, rng=0, dtype="float64")
    conn.W = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    conn.b = np.array([0.25, -1.0])
    r = np.array([[1.0, 2.0, 4.0], [0.0, -1.0, 2.0]])
    expected = np.empty((2, 2))
    for n in range(2):
        for i in range(2):
            expected[n, i] = conn.b[i] + sum(conn.W[i, j] * r[n, j] for j in range(3))
    np.testing.assert_allclose(conn.current(r), expected, rtol=1e-15)
    np.testing.assert_allclose(expected, [[1 - 4 + 2 + 0.25, 6 - 4 - 1], [2 + 1 + 0.25, -3 - 2 - 1]])


def test_current_without_bias_ignores_b():
    conn = Connection(4, 3, rng=0, bias=False, dtype="float64")
    r = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(conn.current(r), r @ conn.W.T)


def test_float32_stays_float32():
    conn = Connection(6, 4, rng=0)
    assert conn.dtype == np.float32 and conn.W.dtype == np.float32 and conn.b.dtype == np.float32
    J = conn.current(np.ones((2, 6)))  # float64 input
    assert J.dtype == np.float32 and J.shape == (2, 4)
    _kick(conn, 0)
    conn2 = Connection(6, 4, rng=0, max_norm=0.1, dale=0.5, bounds=(-1, 1), p_connect=0.5)
    _kick(conn2, 0)
    assert conn.W.dtype == np.float32 and conn2.W.dtype == np.float32 and conn2.b.dtype == np.float32
    conn.W = np.zeros((4, 6))  # assigning float64 keeps float32
    assert conn.W.dtype == np.float32
    assert Connection(6, 4, rng=0, dtype="float64").current(np.ones((1, 6), np.float32)).dtype == np.float64


# ---------------------------------------------------------------- state
@pytest.mark.parametrize("kwargs", [
    {},
    {"p_connect": 0.4, "dale": 0.8, "bounds": (-1.0, 2.0), "max_norm": 3.0, "norm_ord": 1.0,
     "init": "he_normal", "scale": 0.5, "bias": False, "dtype": "float64"},
    {"bounds": (None, 0.3), "norm_ord": np.inf, "max_norm": 0.2},
])
def test_state_round_trip_exact(kwargs, tmp_path):
    conn = Connection(12, 7, rng=np.random.default_rng(9), **kwargs)
    _kick(conn, 1)
    if conn.has_bias:
        assert conn.b.any()
    state = conn.state()
    orig = copy.deepcopy(conn)
    assert all(v is not None for v in state.values())
    for d in (state, None):
        if d is None:  # through an .npz file as save/load would do
            np.savez(tmp_path / "c.npz", **state)
            d = dict(np.load(tmp_path / "c.npz"))
        back = Connection.from_state(d)
        conn = copy.deepcopy(orig)
        np.testing.assert_array_equal(back.W, conn.W)
        np.testing.assert_array_equal(back.b, conn.b)
        assert back.W.dtype == conn.W.dtype
        for attr in ("n_pre", "n_post", "dtype", "has_bias", "bounds", "max_norm", "norm_ord", "p_connect"):
            assert getattr(back, attr) == getattr(conn, attr), attr
        for attr in ("mask", "dale"):
            a, b = getattr(back, attr), getattr(conn, attr)
            assert (a is None and b is None) or np.array_equal(a, b)
        # the rebuilt connection constrains identically afterwards
        _kick(back, 2)
        _kick(conn, 2)
        np.testing.assert_array_equal(back.W, conn.W)
    # the state is a copy
    fresh = conn.state()
    fresh["W"][...] = 0
    fresh["b"][...] = 1
    assert conn.W.any() and not np.all(conn.b == 1)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, match", [
    ({"n_pre": 0}, r"n_pre=0"),
    ({"n_pre": 2.0}, r"n_pre=2\.0.*integer"),
    ({"n_post": -3}, r"n_post=-3"),
    ({"n_post": True}, r"n_post=True"),
    ({"init": "lecun"}, r"init='lecun'.*glorot_uniform.*xavier_uniform"),
    ({"scale": 0.0}, r"scale=0\.0"),
    ({"p_connect": 0.0}, r"p_connect=0\.0"),
    ({"p_connect": 1.5}, r"p_connect=1\.5"),
    ({"p_connect": float("nan")}, r"p_connect=nan"),
    ({"dale": [1, -1]}, r"dale=.*4 signs"),
    ({"dale": [1, 0, -1, 1]}, r"dale=.*\+1 or -1"),
    ({"dale": [True, False, True, True]}, r"dale=.*\+1 or -1"),
    ({"dale": 1.2}, r"dale=1\.2"),
    ({"bounds": (1.0, -1.0)}, r"bounds=\(1\.0, -1\.0\).*lo must be <= hi"),
    ({"bounds": (0.0,)}, r"bounds=.*pair"),
    ({"bounds": (0.1, 1.0), "dale": 0.5}, r"bounds=.*contain 0"),
    ({"max_norm": 0.0}, r"max_norm=0\.0"),
    ({"max_norm": -1.0}, r"max_norm=-1\.0"),
    ({"norm_ord": 0.5}, r"norm_ord=0\.5"),
    ({"dtype": "float16"}, r"dtype='float16'.*float32 or float64"),
    ({"dtype": "int32"}, r"dtype='int32'"),
    ({"bias": "yes"}, r"bias='yes'"),
    ({"rng": None}, r"rng=None"),
])
def test_validation(kwargs, match):
    args = {"n_pre": 4, "n_post": 3, "rng": 0, **kwargs}
    with pytest.raises(ValidationError, match=match):
        Connection(args.pop("n_pre"), args.pop("n_post"), **args)


def test_current_validation():
    conn = Connection(4, 3, rng=0)
    with pytest.raises(ValidationError, match=r"r_pre=.*4 features"):
        conn.current(np.ones((2, 5)))
    with pytest.raises(ValidationError, match=r"r_pre=.*2 dimensions"):
        conn.current(np.ones(4))
    with pytest.raises(ValidationError, match=r"r_pre=.*NaN"):
        conn.current(np.array([[1.0, np.nan, 0.0, 0.0]]))
    with pytest.raises(ValidationError, match=r"W=.*shape \(3, 4\)"):
        conn.W = np.ones((4, 3))
    with pytest.raises(ValidationError, match=r"b=.*shape \(3,\)"):
        conn.b = np.ones(4)


@pytest.mark.parametrize("args, kwargs, match", [
    (("orthogonal", (3, 3), 0), {}, r"init='orthogonal'.*he_normal"),
    (("normal", (3, 0), 0), {}, r"shape\[1\] \(n_pre\)=0"),
    (("normal", 3, 0), {}, r"shape=3.*pair"),
    (("normal", (3, 3), 0), {"dtype": "int64"}, r"dtype=.*float32 or float64"),
    (("uniform", (3, 3), 0), {"scale": -1.0}, r"scale=-1\.0"),
])
def test_init_weights_validation(args, kwargs, match):
    with pytest.raises(ValidationError, match=match):
        init_weights(*args, **kwargs)


def test_from_state_validation():
    with pytest.raises(ValidationError, match="state="):
        Connection.from_state({"n_pre": 3})
    state = Connection(3, 2, rng=0, p_connect=0.5).state()
    state["W"] = np.ones((3, 3))
    with pytest.raises(ValidationError, match=r"W=.*shape \(2, 3\)"):
        Connection.from_state(state)


def test_initializers_module_and_reexports():
    from sim.substrate import connections, initializers
    for name in ("DEFAULT_NORMAL_SCALE", "init_weights", "initializer_names"):
        assert getattr(connections, name) is getattr(initializers, name)
    assert initializers.canonical_initializer("Xavier_Uniform") == "glorot_uniform"
    assert initializers.check_scale(None) is None and initializers.check_scale(2) == 2.0
    with pytest.raises(ValidationError, match="^invalid init="):
        initializers.canonical_initializer("orthogonal")
    with pytest.raises(ValidationError, match="^invalid scale="):
        initializers.check_scale(0.0)
