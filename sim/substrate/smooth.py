"""Second-order adaptive step for smooth rate functions under inhibition (scheme ``"rosenbrock"``).

For ``tau dv/dt = F(v) = -v + J + W phi(v)`` (``W = lateral - w (11^T - I)``, time in units of tau)
each step of ``h`` is covered by substeps ``H`` of the two-stage Rosenbrock method ROS2
(Verwer, Spee, Blom & Hundsdorfer 1999), with ``gamma = 1 + 1/sqrt(2)`` and the Jacobian
``A = -I + W diag(phi'(v))`` at the substep start:

    (I - gamma H A) k1 = F(v)
    (I - gamma H A) k2 = F(v + H k1) - 2 k1
    v_new = v + 3/2 H k1 + 1/2 H k2.

It is second order (for any matrix in place of ``A``, a W-method) and L-stable, so the stiff mean
mode of strong inhibition (rate ``1 + w (k - 1)``) costs no stability restriction. Only linear
solves appear: with uniform inhibition alone ``I - gamma H A`` is a diagonal plus a rank-one
matrix, solved by Sherman-Morrison in O(n) per input; with a lateral matrix (or where the
diagonal is not positive, e.g. ``relu^n`` with ``phi' > 1``, or for softmax, whose Jacobian is
full) by a batched dense solve.
``H (k1 + k2) / 2`` (the difference from the embedded first-order solution ``v + H k1``) estimates
the local error; a substep is accepted when its largest entry is at most ``rtol (1 + max|v|)``
for that input, and the next substep is ``H min(4, max(0.2, 0.9 sqrt(tol / err)))``, per input.
At a fixed point ``F(v) = 0`` gives ``k1 = k2 = 0``: fixed points are kept exactly.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ROS2_GAMMA", "rosenbrock_step"]

ROS2_GAMMA = 1 + 1 / math.sqrt(2)
_MIN_FRACTION = 2.0 ** -16   # smallest substep, as a fraction of h (accepted whatever its error)
_MAX_SUBSTEPS = 10_000


def _field(v, J, phi, w, L):
    r = phi.rate(v)
    out = J - v
    if w:
        out = out - w * (r.sum(axis=-1, keepdims=True) - r)
    if L is not None:
        out = out + r @ L.T
    return out


def _solve(b, d, c, w, L):
    """Solve ``((1 + c) I - c W diag(d)) x = b`` per row (``c``: (rows, 1), ``gamma H``)."""
    if L is None and d.ndim == 2:
        alpha = 1 + c * (1 - w * d)                      # diagonal; rank one: c w 1 d^T
        den = 1 + c * w * (d / np.where(alpha > 0, alpha, 1)).sum(axis=-1, keepdims=True)
        good = (alpha > 1e-8).all(axis=-1) & (den[:, 0] > 1e-8)
        if good.all():
            ba = b / alpha
            return ba - (c * w / alpha) * (d * ba).sum(axis=-1, keepdims=True) / den
        x = np.empty_like(b)
        if good.any():
            x[good] = _solve(b[good], d[good], c[good], w, L)
        x[~good] = _dense(b[~good], d[~good], c[~good], w, L)
        return x
    return _dense(b, d, c, w, L)


def _dense(b, d, c, w, L):
    n = b.shape[-1]
    eye = np.eye(n)
    W = -w * (1 - eye) if L is None else L - w * (1 - eye)
    K = W[None] * d[:, None, :] if d.ndim == 2 else W @ d      # W diag(phi') or W times a full Jacobian
    M = (1 + c)[:, :, None] * eye[None] - c[:, :, None] * K
    return np.linalg.solve(M, b[..., None])[..., 0]


def rosenbrock_step(v, J, h, phi, w, L, rtol):
    """Advance ``v`` (rows, n) by ``h`` (units of tau, finite) with adaptive ROS2 substeps.

    Parameters
    ----------
    v, J : ndarray, shape (batch, n)
        Potential and input held over the step; the result has v's dtype (computed in float64).
    h : float
        Step in units of tau, > 0 and finite.
    phi : Neuron
        Rate function (``rate`` and ``derivative``).
    w : float
        Uniform inhibition, ``0 <= w < 1``.
    L : ndarray, shape (n, n), or None
        Lateral weights (zero diagonal).
    rtol : float
        Local error tolerance per substep, relative to ``1 + max|v|`` of the input.

    Returns
    -------
    ndarray, shape (batch, n)
    """
    dtype = v.dtype
    x = np.array(v, dtype=np.float64)
    J = np.asarray(J, dtype=np.float64)
    L = None if L is None else np.asarray(L, dtype=np.float64)
    B = x.shape[0]
    t = np.zeros(B)
    H = np.full(B, float(h))
    todo = np.arange(B)
    h_min = h * _MIN_FRACTION
    for _ in range(_MAX_SUBSTEPS):
        if not todo.size:
            break
        xt, Jt = x[todo], J[todo]
        Ht = np.minimum(H[todo], h - t[todo])[:, None]
        c = ROS2_GAMMA * Ht
        d = np.asarray(phi.derivative(xt), dtype=np.float64)
        F0 = _field(xt, Jt, phi, w, L)
        k1 = _solve(F0, d, c, w, L)
        k2 = _solve(_field(xt + Ht * k1, Jt, phi, w, L) - 2 * k1, d, c, w, L)
        x_new = xt + Ht * (1.5 * k1 + 0.5 * k2)
        err = np.abs(Ht * 0.5 * (k1 + k2)).max(axis=-1)
        tol = rtol * (1 + np.abs(xt).max(axis=-1))
        ok = (err <= tol) | (Ht[:, 0] <= h_min) | ~np.isfinite(err)
        acc = todo[ok]
        x[acc] = x_new[ok]
        t[acc] += Ht[ok, 0]
        with np.errstate(divide="ignore"):
            factor = np.clip(0.9 * np.sqrt(tol / np.maximum(err, 1e-300)), 0.2, 4.0)
        H[todo] = np.maximum(Ht[:, 0] * factor, h_min)
        finished = t[todo] >= h * (1 - 1e-12)
        todo = todo[~finished]
    return x.astype(dtype, copy=False)
