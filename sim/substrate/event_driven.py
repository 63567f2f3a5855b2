"""Event-driven exact flow of Linear / ReLU units under uniform inhibition (scheme ``"events"``).

Model (time ``s`` in units of tau, input ``J`` held constant): ``dv_i/ds = -v_i + J_i - w (S - r_i)``
with ``r = phi(v)``, ``S = sum_j r_j`` and ``0 < w < 1``. Between two changes of the active set
A (units with ``r_i = v_i``; every unit for Linear) the system is linear, its matrix identity plus
a rank-one term, and its flow is known in closed form: with ``k = |A|``, ``lam = 1 + w (k - 1)``,
``S* = sum_A J / lam`` and ``dS = S(0) - S*``, the sum relaxes as ``S(s) = S* + dS e^{-lam s}``
and every unit follows

    v_i(s) = a_i + b_i e^{-p_i s} + c_i X_i(s),

* active units: ``p = 1 - w``, ``a = (J_i - w S*) / (1 - w)``, ``c = dS / k``, ``X = e^{-lam s}``;
* silent units: ``p = 1``, ``a = J_i - w S*``, ``c = dS / (k - 1)``, ``X = e^{-lam s}`` for
  ``k >= 2``; ``c = -w dS``, ``X = s e^{-s}`` for ``k = 1`` (``lam = 1``: resonance); ``c = 0``
  for ``k = 0``;

and ``b_i = v_i(0) - a_i - c_i X_i(0)``. No matrix exponential is needed. Each ``v_i(s)`` is a
constant plus two exponentials (or ``(b + c s) e^{-s}``), so its derivative has at most one zero
``s_e`` (in closed form) and it is monotone on ``[0, s_e]`` and on ``[s_e, inf)``: the first time
a unit reaches the threshold 0 against its side is bracketed by those pieces and found by a
safeguarded Newton iteration (bisection whenever Newton leaves the bracket) to a few units of
roundoff. The flow is advanced exactly to the earliest such event over the units, the crossing
units change side (their potential set to exactly 0), and the next interval starts; each input of
the batch has its own active set and event times (the loop runs over the inputs that still have
events, vectorized with numpy across them). The vector field is continuous at ``v_i = 0`` (the
rate is), so a crossing unit leaves in the direction it arrived and there is no sliding mode.

The state at any time is available in closed form, so the state at every grid point
``j h`` (``h = dt / tau``) is computed from the interval that contains it (one small matrix
product per interval: basis ``[1, e^{-(1-w) s}, e^{-s}, e^{-lam s}, s e^{-s}]`` times the five
coefficient rows); without a trace, only the end state is evaluated.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["event_flow", "initial_active"]

_NEWTON_ITER = 60
_SCALAR_ROOTS = 24   # up to this many candidate units, the root find runs on Python floats (cheaper)


def initial_active(v, J, w, linear):
    """Active set at the start: ``v > 0``, or ``v = 0`` with ``dv/ds > 0`` (bool (batch, n))."""
    if linear:
        return np.ones(v.shape, dtype=bool)
    r = np.maximum(v, 0)
    drive = J - w * (r.sum(axis=-1, keepdims=True) - r)
    return (v > 0) | ((v == 0) & (drive > 0))


class _Interval:
    """Closed-form coefficients of one interval of constant active set, for rows of a batch."""

    def __init__(self, v, J, mask, w):
        m = mask.astype(np.float64)
        k = m.sum(axis=-1, keepdims=True)
        lam = 1 + w * np.maximum(k - 1, 0)
        S0 = (v * m).sum(axis=-1, keepdims=True)
        S_star = (J * m).sum(axis=-1, keepdims=True) / lam
        dS = np.where(k > 0, S0 - S_star, 0.0)
        self.w, self.mask, self.lam = w, mask, lam
        self.res = (k == 1) & ~mask                                # silent units at resonance
        self.any_res = bool((k == 1).any())
        p = np.where(mask, 1 - w, 1.0)
        self.p = p
        self.a = (J - w * S_star) / p
        c_act = dS / np.maximum(k, 1)
        c_sil = np.where(k >= 2, dS / np.maximum(k - 1, 1), -w * dS)
        self.c = np.where(mask, c_act, c_sil)
        # X(0) = 1 (e^{-lam s}) or 0 (s e^{-s})
        self.b = v - self.a - np.where(self.res, 0.0, self.c)

    def at(self, s):
        """State at per-row times ``s`` (rows, 1)."""
        e_act, e_sil, e_lam = np.exp(-(1 - self.w) * s), np.exp(-s), np.exp(-self.lam * s)
        Ep = np.where(self.mask, e_act, e_sil)
        X = np.where(self.res, s * e_sil, e_lam) if self.any_res else e_lam
        return self.a + self.b * Ep + self.c * X

    def coefficients(self, rows=None):
        """(rows, 5, n) coefficients of the basis ``[1, e^{-(1-w)s}, e^{-s}, e^{-lam s}, s e^{-s}]``."""
        sl = slice(None) if rows is None else rows
        mask, b, c, res = self.mask[sl], self.b[sl], self.c[sl], self.res[sl]
        zero = np.zeros_like(b)
        return np.stack([self.a[sl], np.where(mask, b, zero), np.where(mask, zero, b),
                         np.where(res, zero, c), np.where(res, c, zero)], axis=1)


def _extremum(iv):
    """Per unit the time of the zero of ``dv/ds`` (inf where there is none in (0, inf))."""
    ratio = -iv.lam * iv.c / (iv.p * iv.b)     # floating-point warnings are off (event_flow)
    t = np.log(ratio) / (iv.lam - iv.p)
    if iv.any_res:
        t = np.where(iv.res, 1 - iv.b / iv.c, t)
    return np.where(np.isfinite(t) & (t > 0), t, np.inf)


def _f_units(a, b, c, p, lam, res, s):
    """``v(s)`` and ``dv/ds`` for gathered units (1-D arrays)."""
    e_p, e1 = np.exp(-p * s), np.exp(-s)
    e_lam = np.exp(-lam * s)
    X = np.where(res, s * e1, e_lam)
    dX = np.where(res, (1 - s) * e1, -lam * e_lam)
    return a + b * e_p + c * X, -p * b * e_p + c * dX


def _first_events(iv, T):
    """Earliest threshold event per row within (0, T] (T: (rows, 1)); inf where none.

    Returns the event time (rows,) and the units that cross at it (rows, n).
    """
    mask = iv.mask
    t_e = _extremum(iv)
    inside = t_e < T
    sign = np.where(mask, 1.0, -1.0)                           # g = sign * v: >= 0 on the own side
    g_T = sign * iv.at(T)
    t_ec = np.where(inside, t_e, 0.0)
    X = np.exp(-iv.lam * t_ec)
    if iv.any_res:
        X = np.where(iv.res, t_ec * np.exp(-t_ec), X)
    g_e = sign * (iv.a + iv.b * np.exp(-iv.p * t_ec) + iv.c * X)
    first = inside & (g_e < 0)                                 # root on [0, t_e]
    second = ~first & (g_T < 0)                                # root on [t_e or 0, T]
    cand = first | second
    rows_n = mask.shape[0]
    t_evt = np.full(rows_n, np.inf)
    crossing = np.zeros(mask.shape, dtype=bool)
    if not cand.any():
        return t_evt, crossing
    r, u = np.nonzero(cand)
    lo = np.where(first[r, u], 0.0, np.where(inside[r, u], t_e[r, u], 0.0))
    hi = np.where(first[r, u], t_e[r, u], np.broadcast_to(T, mask.shape)[r, u])
    a, b, c, p = iv.a[r, u], iv.b[r, u], iv.c[r, u], iv.p[r, u]
    lam, res, sg = iv.lam[r, 0], iv.res[r, u], sign[r, u]
    t = _root(a, b, c, p, lam, res, sg, lo, hi) if r.size > _SCALAR_ROOTS else _root_scalar(
        a, b, c, p, lam, res, sg, lo, hi)
    np.minimum.at(t_evt, r, t)
    tol = 8 * np.finfo(np.float64).eps * (1 + t_evt[r])
    hit = t <= t_evt[r] + tol
    crossing[r[hit], u[hit]] = True
    return t_evt, crossing


def _root_scalar(a, b, c, p, lam, res, sg, lo, hi):
    """:func:`_root`, one unit at a time on Python floats (the same iteration)."""
    out = []
    eps4 = 4 * np.finfo(np.float64).eps
    exp = math.exp
    for ai, bi, ci, pi, li, ri, si, l, u in zip(a.tolist(), b.tolist(), c.tolist(), p.tolist(), lam.tolist(),
                                                res.tolist(), sg.tolist(), lo.tolist(), hi.tolist()):
        def g(x, ai=ai, bi=bi, ci=ci, pi=pi, li=li, ri=ri, si=si):
            ep, e1 = exp(-pi * x), exp(-x)
            if ri:
                return si * (ai + bi * ep + ci * x * e1), si * (-pi * bi * ep + ci * (1 - x) * e1)
            el = exp(-li * x)
            return si * (ai + bi * ep + ci * el), si * (-pi * bi * ep - li * ci * el)
        g_lo, g_hi = g(l)[0], g(u)[0]
        den = g_lo - g_hi
        x = min(max(l + (u - l) * (g_lo / den if den > 0 else 0.5), l), u)
        for _ in range(_NEWTON_ITER):
            gx, dg = g(x)
            if gx == 0:
                break
            if gx > 0:
                l = x
            else:
                u = x
            xn = x - gx / dg if dg != 0 else math.nan
            if not (l <= xn <= u):
                xn = 0.5 * (l + u)
            done = abs(xn - x) <= eps4 * (1 + abs(x)) or u - l <= eps4 * (1 + u)
            x = xn
            if done:
                break
        out.append(x)
    return np.array(out)


def _root(a, b, c, p, lam, res, sg, lo, hi):
    """Root of the monotone ``g = sg * v`` on ``[lo, hi]`` (``g(lo) >= 0 > g(hi)``), safeguarded Newton."""
    g_lo = sg * _f_units(a, b, c, p, lam, res, lo)[0]
    g_hi = sg * _f_units(a, b, c, p, lam, res, hi)[0]
    den = g_lo - g_hi
    x = lo + (hi - lo) * np.where(den > 0, g_lo / np.where(den > 0, den, 1.0), 0.5)
    x = np.clip(x, lo, hi)
    active = np.ones(x.shape, dtype=bool)
    eps4 = 4 * np.finfo(np.float64).eps
    for _ in range(_NEWTON_ITER):
        f, df = _f_units(a, b, c, p, lam, res, x)
        g, dg = sg * f, sg * df
        pos = g >= 0
        lo = np.where(pos, x, lo)
        hi = np.where(pos, hi, x)
        xn = x - g / dg
        bad = ~np.isfinite(xn) | (xn < lo) | (xn > hi)
        xn = np.where(bad, 0.5 * (lo + hi), xn)
        converged = (np.abs(xn - x) <= eps4 * (1 + np.abs(x))) | (g == 0) | (hi - lo <= eps4 * (1 + hi))
        x = np.where(active, np.where(g == 0, x, xn), x)
        active &= ~converged
        if not active.any():
            break
    return x


def event_flow(v, J, w, h, steps, linear, trace=None, max_events=None):
    """Exact flow over ``steps`` steps of ``h`` (units of tau), events resolved.

    Parameters
    ----------
    v, J : ndarray, shape (batch, n), float64
        Initial potential and constant input (units of J).
    w : float
        Uniform inhibition, ``0 < w < 1``.
    h : float
        Step in units of tau, finite and > 0.
    steps : int
        Number of steps, >= 0.
    linear : bool
        Linear units (no threshold: a single interval), else ReLU.
    trace : ndarray, shape (steps, batch, n), optional
        Filled in place with the state at times ``h, 2h, ..., steps h``.
    max_events : int, optional
        Budget of event intervals per call (default ``100 n + 100``); reaching it raises
        RuntimeError (a tangency chattering at the threshold would need it).

    Returns
    -------
    ndarray, shape (batch, n), float64
        The state at ``steps h``.
    """
    B, n = v.shape
    v = np.array(v, dtype=np.float64)
    J = np.asarray(J, dtype=np.float64)
    if steps == 0 or B == 0:
        return v
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        return _event_loop(v, J, w, h, steps, linear, trace, max_events)


def _event_loop(v, J, w, h, steps, linear, trace, max_events):
    B, n = v.shape
    T_end = steps * h
    mask = initial_active(v, J, w, linear)
    s = np.zeros(B)
    next_j = np.ones(B, dtype=np.int64)
    todo = np.arange(B)
    budget = 100 * n + 100 if max_events is None else max_events
    horizon = np.full(B, h)     # search window per row: events are looked for in (0, horizon]
    for _ in range(budget + 64 * steps):
        whole = todo.size == B
        iv = _Interval(v, J, mask, w) if whole else _Interval(v[todo], J[todo], mask[todo], w)
        T = (T_end - s[todo])[:, None]
        if linear:
            t_evt, crossing = np.full(todo.size, np.inf), np.zeros((todo.size, n), dtype=bool)
            window = T
        else:
            window = np.minimum(T, horizon[todo, None])
            t_evt, crossing = _first_events(iv, window)
            budget -= int((t_evt < window[:, 0]).any())
            if budget < 0:
                break
        event = t_evt < window[:, 0]
        final = ~event & (window[:, 0] >= T[:, 0])
        t_stop = np.where(event, t_evt, window[:, 0])
        # the next window: 8 times the last gap between events, growing 16-fold while quiet
        horizon[todo] = np.where(event, np.maximum(8 * t_evt, h * 2.0 ** -10), 16 * horizon[todo])
        if trace is not None:
            _fill(trace, iv, todo, s, t_stop, final, next_j, h, steps)
        v_new = iv.at(t_stop[:, None])
        v_new[crossing] = 0.0
        if whole:
            v, mask = v_new, mask ^ crossing
        else:
            v[todo], mask[todo] = v_new, mask[todo] ^ crossing
        s[todo] += t_stop
        todo = todo[~final]
        if not todo.size:
            if trace is not None:
                trace[steps - 1] = v  # the end state, as returned (the same closed form, evaluated once)
            return v
    raise RuntimeError(f"event-driven flow: more than {budget} event intervals")


def _fill(trace, iv, todo, s, t_stop, final, next_j, h, steps):
    """Write the state at the grid points of this interval of each row into ``trace``."""
    jobs = []
    s_rows, stops, finals = s[todo].tolist(), t_stop.tolist(), final.tolist()
    for i, (b, s_b, stop, fin) in enumerate(zip(todo.tolist(), s_rows, stops, finals)):
        j0 = int(next_j[b])
        if fin:
            j1 = steps
        elif stop <= 0:
            continue
        else:
            j1 = min(steps, int(math.floor((s_b + stop) / h)))
            while j1 >= j0 and j1 * h > s_b + stop:
                j1 -= 1
        if j1 >= j0:
            jobs.append((i, b, j0, j1, s_b))
            next_j[b] = j1 + 1
    if not jobs:
        return
    Q = iv.coefficients(np.array([job[0] for job in jobs]))
    lam = iv.lam[:, 0].tolist()
    for q, (i, b, j0, j1, s_b) in enumerate(jobs):
        tau = np.arange(j0, j1 + 1) * h - s_b
        basis = np.empty((tau.size, 5))
        basis[:, 0] = 1.0
        np.exp(-(1 - iv.w) * tau, out=basis[:, 1])
        np.exp(-tau, out=basis[:, 2])
        np.exp(-lam[i] * tau, out=basis[:, 3])
        np.multiply(tau, basis[:, 2], out=basis[:, 4])
        trace[j0 - 1:j1, b] = basis @ Q[q]
