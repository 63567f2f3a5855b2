"""The fast training paths against plain references written out here.

* The fused Adam (`sim.learning.optimizers.Adam`: unnormalized, undecayed state, BLAS axpy)
  against Kingma & Ba's Algorithm 1 step by step, over enough steps to move its reference
  step several times, in float64 (1e-12) and float32 (1e-6).
* The MLP's preallocated training pass (`sim.models.dense_pass.DensePass`) against a plain
  numpy forward / backward pass, for every hidden and output type, with the ragged last
  batch of an epoch, and with output currents so far apart that the batch-wide softmax shift
  falls back to per-row shifts.
* A whole `BackpropMLP.fit` of a few epochs against a plain numpy MLP trained by textbook
  Adam on the same weights and the same presentation order.
"""

import numpy as np
import pytest

from sim.learning.optimizers import Adam
from sim.models.mlp import BackpropMLP
from sim.seeds import model_streams
from sim.tasks import Task


# ------------------------------------------------------------------------------ Adam
def _textbook_adam(p, ds, lr, b1, b2, eps, dtype=np.float64):
    """Kingma & Ba (2015), Algorithm 1, in ``dtype``, on g = -d; the parameters after each step."""
    p = p.astype(dtype).copy()
    m, s, out = np.zeros_like(p), np.zeros_like(p), []
    for t, d in enumerate(ds.astype(dtype), start=1):
        g = -d
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
        out.append(p.copy())
    return out, m, s


def _directions(rng, steps, n, dtype):
    ds = rng.normal(size=(steps, n)) * rng.uniform(0.01, 10.0, size=n)
    ds[:, :3] = 0.0                   # never-active parameters: state stays 0
    ds[steps // 3:, 3:6] = 0.0        # parameters that fall silent: their state decays
    return ds.astype(dtype)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9), (0.0, 0.99), (0.9, 0.0)])
def test_fused_adam_equals_algorithm_1_at_every_step(dtype, rtol, betas):
    b1, b2 = betas
    rng = np.random.default_rng(1)
    steps, n, lr = 400, 40, 1e-3
    p = rng.normal(size=n).astype(dtype)
    ds = _directions(rng, steps, n, dtype)
    ref, m, s = _textbook_adam(p, ds, lr, b1, b2, 1e-8)
    opt = Adam(beta1=b1, beta2=b2, eps=1e-8)
    opt.reset(p)
    q = p.copy()
    for t, d in enumerate(ds):
        opt.step(q, d, lr)
        assert q.dtype == dtype
        np.testing.assert_allclose(q, ref[t], rtol=rtol, atol=rtol * np.abs(ref[t]).max())
    if b1 and b2:  # the reference step moved several times (2^20 of decay each)
        assert steps * -np.log(min(b1, b2)) > 3 * np.log(Adam.RESCALE)
    state = opt.state()
    assert int(state["t"]) == steps
    if dtype == np.float64:
        np.testing.assert_allclose(state["m"], -m, rtol=rtol, atol=1e-30)  # the paper's m is of g = -d
        np.testing.assert_allclose(state["s"], s, rtol=rtol, atol=1e-30)
        return
    # float32: the averages carry the rounding of hundreds of accumulations; the fused state is
    # no further from the float64 truth than Algorithm 1 computed in float32 is
    _, m32, s32 = _textbook_adam(p, ds, lr, b1, b2, 1e-8, dtype=np.float32)
    for got, plain, truth in ((-state["m"], m32, m), (state["s"], s32, s)):
        scale = np.abs(truth).max()
        assert np.abs(got - truth).max() <= 2 * np.abs(plain - truth).max() + 1e-7 * scale


@pytest.mark.parametrize("keys, exact", [(("m", "s", "t", "M", "S"), True), (("m", "s", "t"), False)])
def test_fused_adam_state_round_trip_between_rebasings(keys, exact):
    """With the stored accumulations the restored optimizer continues bit for bit; from the
    paper's ``m, s, t`` alone (e.g. a file of an earlier version), to rounding."""
    rng = np.random.default_rng(2)
    ds = _directions(rng, 300, 12, np.float32)
    a = Adam(beta1=0.8, beta2=0.95)
    p = rng.normal(size=12).astype(np.float32)
    a.reset(p)
    for d in ds[:157]:  # not a multiple of the rebasing interval
        a.step(p, d, 1e-2)
    b = Adam(beta1=0.8, beta2=0.95)
    b.reset(np.zeros(12, dtype=np.float32))
    b.set_state({k: np.array(v, copy=True) for k, v in a.state().items() if k in keys})
    p2 = p.copy()
    for d in ds[157:]:
        a.step(p, d, 1e-2)
        b.step(p2, d, 1e-2)
    if exact:
        np.testing.assert_array_equal(p2, p)
    else:
        np.testing.assert_allclose(p2, p, rtol=1e-6, atol=1e-6 * np.abs(p).max())


# ------------------------------------------------------------------------------ the MLP pass
def _plain_direction(params, X, T, activation, output, feedback=None):
    """The negative gradient of the mean loss, written plainly (float64): list of (dW, db);
    with ``feedback`` (one matrix per layer) the error moves down through it (feedback
    alignment) instead of through the weights."""
    phi = {"relu": lambda J: np.maximum(J, 0), "tanh": np.tanh, "sigmoid": lambda J: 1 / (1 + np.exp(-J)),
           "linear": lambda J: J}[activation]
    dphi = {"relu": lambda J, r: (J > 0) * 1.0, "tanh": lambda J, r: 1 - r**2, "sigmoid": lambda J, r: r * (1 - r),
            "linear": lambda J, r: np.ones_like(J)}[activation]
    rates, currents = [X], []
    for i, (W, b) in enumerate(params):
        J = rates[-1] @ W.T + b
        currents.append(J)
        rates.append(phi(J) if i < len(params) - 1 else None)
    Z = currents[-1]
    if output == "softmax":
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        e = (T - P) / len(X)
    elif output == "linear":
        e = (T - Z) / len(X)
    else:
        r = 1 / (1 + np.exp(-Z))
        e = (T - r) * r * (1 - r) / len(X)
    out = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        out[i] = (e.T @ rates[i], e.sum(axis=0))
        if i:
            F = params[i][0] if feedback is None else feedback[i].astype(np.float64)
            e = (e @ F) * dphi(currents[i - 1], rates[i])
    return out


def _model(dtype, **kw):
    m = BackpropMLP(dtype=dtype, **kw)
    m.validate_params()
    m._initialize(5, 3, np.random.default_rng(4))
    m.n_classes_ = 3
    return m


def _params64(m):
    return [(W.astype(np.float64), b.astype(np.float64)) for W, b in zip(m._Ws, m._bs)]


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("output", ["softmax", "linear", "sigmoid"])
@pytest.mark.parametrize("hidden", [(), (6,), (7, 4)])
def test_dense_pass_equals_plain_backprop_over_an_epoch(dtype, rtol, activation, output, hidden):
    rng = np.random.default_rng(len(hidden))
    m = _model(dtype, hidden=hidden, activation=activation, output=output, batch_size=8)
    m._params += rng.normal(scale=0.3, size=m._params.shape).astype(dtype)  # biases off zero
    X = rng.normal(size=(21, 5)).astype(dtype)  # batches of 8, 8 and a ragged 5
    y = rng.integers(0, 3, size=21)
    T = m._targets(y)
    order = rng.permutation(21)
    m._dense.begin_epoch(X, T, order, 8)
    for start in (0, 8, 16):
        m._dense.batch(start, start + 8)
        idx = order[start:start + 8]
        ref = _plain_direction(_params64(m), X[idx].astype(np.float64), T[idx].astype(np.float64),
                               activation, output)
        for (dW, db), got_W, got_b in zip(ref, m._dWs, m._dbs):
            scale = max(np.abs(dW).max(), np.abs(db).max())
            np.testing.assert_allclose(got_W, dW, rtol=rtol, atol=rtol * scale)
            np.testing.assert_allclose(got_b, db, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 2e-5)])
def test_softmax_falls_back_to_row_shifts_when_rows_lie_far_apart(dtype, rtol):
    m = _model(dtype, hidden=(6,), batch_size=4)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(4, 5))
    X[0] *= 12000.0  # its output currents are far above the other rows'
    X = X.astype(dtype)
    T = m._targets(np.array([0, 1, 2, 1]))
    params = _params64(m)
    Z = np.maximum(X @ params[0][0].T + params[0][1], 0) @ params[1][0].T + params[1][1]
    assert (Z.max() - Z.max(axis=1)).max() > 800  # exp of the batch-wide shift: 0 even in float64
    m._gradient(X, T)
    ref = _plain_direction(params, X.astype(np.float64), T.astype(np.float64), "relu", "softmax")
    for (dW, db), got_W, got_b in zip(ref, m._dWs, m._dbs):
        assert np.all(np.isfinite(got_W)) and np.all(np.isfinite(got_b))
        scale = max(np.abs(dW).max(), np.abs(db).max())
        np.testing.assert_allclose(got_W, dW, rtol=rtol, atol=rtol * scale)
        np.testing.assert_allclose(got_b, db, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-9), ("float32", 2e-3)])
@pytest.mark.parametrize("learning, wd", [("backprop", 0.0), ("feedback_alignment", 0.0), ("backprop", 0.05)])
def test_fit_equals_a_plain_numpy_mlp_trained_by_textbook_adam(dtype, rtol, learning, wd):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 5)).astype(dtype)
    y = rng.integers(0, 3, size=50)
    task = Task("t", X, y, X[:10], y[:10], 3)
    epochs, bs, lr = 4, 16, 1e-2
    model = BackpropMLP(hidden=(8, 6), lr=lr, batch_size=bs, learning=learning, weight_decay=wd,
                        eval_every=0, dtype=dtype, seed=3)
    model.fit(task, epochs=epochs)
    # the reference: the same initial weights and presentation order, plain float64 arithmetic
    streams = model_streams(3)
    twin = BackpropMLP(hidden=(8, 6), learning=learning, dtype=dtype, seed=3)
    twin.validate_params()
    twin._initialize(5, 3, streams["init"])
    params = _params64(twin)
    feedback = getattr(twin._rule, "B", None)
    flat = [a for W, b in params for a in (W, b)]
    m = [np.zeros_like(a) for a in flat]
    s = [np.zeros_like(a) for a in flat]
    T = np.eye(3)[y]
    t = 0
    for _ in range(epochs):
        order = streams["order"].permutation(50)
        for start in range(0, 50, bs):
            idx = order[start:start + bs]
            grads = [-a for dW_db in _plain_direction(params, X[idx].astype(np.float64), T[idx], "relu", "softmax",
                                                                  feedback)
                     for a in dW_db]
            grads = [g + (wd * flat[k] if k % 2 == 0 else 0.0) for k, g in enumerate(grads)]  # L2 on W only
            t += 1
            for k, g in enumerate(grads):
                m[k] = 0.9 * m[k] + 0.1 * g
                s[k] = 0.999 * s[k] + 0.001 * g * g
                flat[k] = flat[k] - lr * (m[k] / (1 - 0.9**t)) / (np.sqrt(s[k] / (1 - 0.999**t)) + 1e-8)
            params = [(flat[2 * i], flat[2 * i + 1]) for i in range(len(params))]
    for (W, b), got_W, got_b in zip(params, model._Ws, model._bs):
        np.testing.assert_allclose(got_W, W, rtol=rtol, atol=rtol * np.abs(W).max())
        np.testing.assert_allclose(got_b, b, rtol=rtol, atol=rtol * np.abs(W).max())
    assert not np.allclose(model._Ws[0], twin._Ws[0])  # it did train


@pytest.mark.parametrize("output", ["softmax", "linear", "sigmoid"])
@pytest.mark.parametrize("hidden", [(), (6,), (7, 4)])
def test_evaluation_pass_equals_the_plain_forward_pass(output, hidden):
    """`predict_proba` of an uninhibited MLP runs on the training pass's buffers, in chunks;
    it equals the plain forward pass (`_forward`, the network's) up to rounding."""
    rng = np.random.default_rng(9)
    m = _model("float64", hidden=hidden, output=output)
    m._params += rng.normal(scale=0.5, size=m._params.shape)
    X = rng.normal(size=(23, 5))
    X[3] *= 20000.0  # one row far above the rest: the batch-wide softmax shift falls back
    ref = m._forward(X)[0][-1]
    for chunk in (256, 5):  # one chunk, and several with a ragged last one
        P = m._dense.proba(X, chunk=chunk)
        np.testing.assert_allclose(P, ref, rtol=1e-12, atol=1e-15)
    if output == "softmax":
        np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
