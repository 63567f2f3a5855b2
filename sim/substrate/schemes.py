"""Time-stepping schemes of the leaky-integrator population: the one-step maps ``v -> v_new``
behind :func:`sim.substrate.dynamics.integrate` and :func:`sim.substrate.dynamics.settle`
(``scheme=``), and the lateral current they share.

What is where: :class:`Stepper` (one step of a chosen scheme, inputs already validated),
:func:`lateral_input` (the lateral part of ``J_eff``), ``SCHEMES`` (the accepted names) and the
direct fixed point (:func:`solve_fixed_point`, :func:`attractor_certificate`) are here; validation,
the result types and the loops are in `sim.substrate.dynamics`, whose docstring gives the model and
its fixed points. With ``h = dt / tau`` the step in units of tau (``h = inf`` for ``tau = 0``)
and ``w`` the uniform inhibition strength:

* **leak** (used whenever ``w_inh == 0`` and ``lateral is None``): units are uncoupled and
  ``v_new = J + (v - J) e^{-h}`` is exact for input held over the step; stable for all h.
* **exact** (``"auto"`` for Linear/ReLU with uniform inhibition only): within a step the active
  set A (units with ``v > 0``; all units for Linear) is frozen, which makes the system linear,
  and it is integrated exactly. On A, ``tau dv_A/dt = -M v_A + J_A`` with
  ``M = (1 - w) I + w 11^T``: the mean over A decays at rate ``lam = 1 + w (k - 1)`` and the
  deviation from it at rate ``1 - w``. The inactive units see ``tau dv_i/dt = -v_i + J_i - w S(t)``
  with ``S(t) = S* + (S0 - S*) e^{-lam t / tau}``; its closed form uses
  ``g(h) = e^{-h} (1 - e^{-(lam - 1) h}) / (lam - 1)`` (``h e^{-h}`` when ``lam = 1``).
  For a fixed active set every mode is multiplied by ``e^{-h}``, ``e^{-(1-w) h}`` or
  ``e^{-lam h}``, all in ``[0, 1)``: unconditionally stable for ``w < 1`` (``w >= 1`` makes the
  deviation mode grow, winner-take-all, and is refused). Only a change of A inside a step is
  approximated: a sample whose A changes over a step redoes it as two half steps, recursively
  down to h/16, which leaves an error of order (h/16)^2 per unit crossing zero.
* **implicit** (``"auto"`` otherwise: smooth neurons, or a ``lateral`` matrix): a linearly
  implicit exponential (Rosenbrock-type) step. With ``F(v) = -v + J_eff(v)``,
  ``c = 1 - e^{-h}`` and ``K = W diag(phi'(v))`` the Jacobian of the lateral input
  (``W = lateral - w (11^T - I)``), it solves ``(I - c K) dv = c F(v)`` (Sherman-Morrison for
  uniform inhibition, a batched dense solve otherwise). For ``K = 0`` it is the exact leak. On
  a linear system a mode with eigenvalue ``mu`` of K is multiplied by ``e^{-h} / (1 - c mu)``,
  of modulus < 1 whenever ``Re mu < 1`` (i.e. whenever the continuous system is stable): stable
  for every h (A-stable); at ``h = inf`` it is Newton's method on ``F``. The factor is wrong for
  unstable modes far from 1 (negative for real ``mu > 1/c``, below 1 past ``(1 + e^{-h})/c``): at
  ``h = 1`` it flips or damps the growth of a winner-take-all pair (tests/test_lateral_settle.py). Where the rate is
  strongly curved (e.g. ``relu^n``) the linearization can fail over a long step, so a sample
  whose lateral input at the new ``v`` misses its linear prediction by more than half the
  step redoes it as two half steps, recursively down to h/16.
* **direct** (not a time step; :func:`solve_fixed_point`, behind ``settle(method=...)`` of
  `sim.substrate.dynamics`): for Linear/ReLU units the fixed point is a linear complementarity
  problem in ``M = I - W``, solved by block principal pivoting, and it is the state the dynamics
  settle to wherever :func:`attractor_certificate` shows it to be the unique global attractor.
* **explicit** (the naive scheme, kept for comparison): ``J_eff`` is computed from ``r`` at the
  step start, then the exact leak is applied. The mode along ``1`` on A is multiplied by
  ``e^{-h} - (1 - e^{-h}) w (k - 1)``, so it is stable only if
  ``(1 - e^{-h}) w (k - 1) < 1 + e^{-h}``: it oscillates e.g. for k ~ 20, w = 0.9, h = 0.5.

References
----------
Hochbruck, M. & Ostermann, A. (2010). Exponential integrators. Acta Numerica 19, 209-286.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import get_lapack_funcs

from sim.errors import ValidationError

__all__ = ["SCHEMES", "Stepper", "lateral_input", "interaction_matrix", "is_identity_or_zero",
           "attractor_certificate", "solve_fixed_point"]

SCHEMES = ("auto", "exact", "implicit", "explicit")
_REFINE = 4  # exact/implicit: at most 2**_REFINE substeps where a step proves unreliable


def lateral_input(r, w, lateral):
    """``-w (sum_j r_j - r_i) + r @ lateral.T``, shape of ``r`` (``lateral`` may be None)."""
    out = np.zeros_like(r)
    if w:
        out -= w * (r.sum(axis=-1, keepdims=True) - r)
    if lateral is not None:
        out += r @ lateral.T
    return out


def is_identity_or_zero(phi):
    """True if ``phi`` is ``v`` or ``0`` piecewise with 0/1 derivative (Linear, ReLU)."""
    if not phi.piecewise_linear:
        return False
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    d, r = np.asarray(phi.derivative(x)), np.asarray(phi.rate(x))
    return d.shape == x.shape and bool(np.all((d == 0) | (d == 1))) and bool(np.all(r == d * x))


class Stepper:
    """One step ``v -> v_new`` of a chosen scheme (inputs already validated).

    Parameters
    ----------
    phi : Neuron
        Rate function.
    w : float
        Uniform inhibition strength, ``0 <= w < 1``.
    lateral : ndarray, shape (n, n), or None
        Lateral weights with zero diagonal, dtype of the state.
    h : float
        Step in units of tau, > 0 (``math.inf`` for ``tau = 0``).
    scheme : {"auto", "exact", "implicit", "explicit"}
        One of ``SCHEMES``; ``w == 0`` without ``lateral`` always uses the exact leak.

    Attributes
    ----------
    step : callable
        ``step(v, J) -> v_new``, arrays of shape (batch, n).
    """

    def __init__(self, phi, w, lateral, h, scheme):
        self.phi, self.w, self.lateral, self.h = phi, w, lateral, h
        self.eh = 0.0 if math.isinf(h) else math.exp(-h)       # e^{-h}
        exact_ok = lateral is None and is_identity_or_zero(phi)
        if scheme == "exact" and not exact_ok:
            raise ValidationError("scheme", scheme, "'exact' needs a Linear/ReLU neuron and no lateral matrix")
        if w == 0 and lateral is None:
            self.step = self._leak
        elif scheme == "explicit":
            self.step = self._explicit
        else:
            core = self._exact_core if scheme in ("auto", "exact") and exact_ok else self._implicit_core
            depth = 0 if math.isinf(h) else _REFINE
            self.step = lambda v, J: self._refined(core, v, J, h, depth)

    def _leak(self, v, J):
        return J + (v - J) * self.eh

    def _explicit(self, v, J):
        return self._leak(v, J + lateral_input(self.phi.rate(v), self.w, self.lateral))

    def _refined(self, core, v, J, h, depth):
        """``core`` step over ``h``; samples it flags as unreliable redo two half steps, recursively."""
        v_new, ok = core(v, J, h)
        if depth > 0 and not ok.all():
            bad = ~ok
            vb, Jb = v[bad], J[bad]
            vb = self._refined(core, vb, Jb, h / 2, depth - 1)
            v_new[bad] = self._refined(core, vb, Jb, h / 2, depth - 1)
        return v_new

    def _exact_core(self, v, J, h):
        """Exact flow over ``h`` (units of tau) with the active set of ``v`` frozen.

        Returns the new ``v`` and, per sample, whether the active set is unchanged at the end.
        """
        w = self.w
        eh = 0.0 if math.isinf(h) else math.exp(-h)
        mask = self.phi.derivative(v) > 0
        m = mask.astype(v.dtype)
        k = m.sum(axis=-1, keepdims=True)                      # (batch, 1) active count
        kk = np.maximum(k, 1)
        m0 = (v * m).sum(axis=-1, keepdims=True) / kk          # mean of v over A
        mJ = (J * m).sum(axis=-1, keepdims=True) / kk          # mean of J over A
        lam = 1 + w * (k - 1)                                  # rate of the mean mode
        m_star = mJ / lam
        m_new = m_star + (m0 - m_star) * np.exp(-lam * h)
        dev_star = (J - mJ) / (1 - w)
        dev_new = dev_star + ((v - m0) - dev_star) * math.exp(-(1 - w) * h)
        S0, S_star = k * m0, k * m_star
        delta = np.maximum(lam - 1, 0)
        if math.isinf(h):
            g = np.zeros_like(delta)
        else:  # g = e^{-h} (1 - e^{-delta h}) / delta, -> h e^{-h} as delta -> 0
            safe = np.where(delta > 0, delta, 1)
            g = np.where(delta > 0, eh * -np.expm1(-delta * h) / safe, h * eh)
        v_inact = (J - w * S_star) + (v - J + w * S_star) * eh - w * (S0 - S_star) * g
        v_new = np.where(mask, m_new + dev_new, v_inact).astype(v.dtype, copy=False)
        return v_new, ((self.phi.derivative(v_new) > 0) == mask).all(axis=-1)

    def _implicit_core(self, v, J, h):
        """Linearly implicit exponential step over ``h``.

        Returns the new ``v`` and, per sample, whether the linearization held: the lateral
        input at the new ``v`` must match its linear prediction to within half the step size.
        """
        phi, w, L = self.phi, self.w, self.lateral
        c = 1.0 if math.isinf(h) else -math.expm1(-h)          # 1 - e^{-h}
        lat = lateral_input(phi.rate(v), w, L)
        D = np.asarray(phi.derivative(v), dtype=v.dtype)
        b = c * (J + lat - v)
        if D.ndim == 2 and L is None:                          # Sherman-Morrison
            a = 1 - (c * w) * D                                # I - cK = diag(a) + (c w 1) D^T
            safe_a = np.where(np.abs(a) > 1e-6, a, 1)
            Ab, Au = b / safe_a, (c * w) / safe_a
            den = 1 + (D * Au).sum(axis=-1, keepdims=True)
            safe_den = np.where(np.abs(den) > 1e-6, den, 1)
            dv = Ab - Au * (D * Ab).sum(axis=-1, keepdims=True) / safe_den
            bad = (np.abs(a) <= 1e-6).any(axis=-1) | (np.abs(den[:, 0]) <= 1e-6)
            if bad.any():
                dv[bad] = self._dense(D[bad], b[bad], c)
        else:
            dv = self._dense(D, b, c)
        v_new = v + dv
        Ddv = D * dv if D.ndim == 2 else np.einsum("bij,bj->bi", D, dv)
        miss = lateral_input(phi.rate(v_new), w, L) - lat - lateral_input(Ddv, w, L)
        floor = 64 * np.finfo(v.dtype).eps * (1 + np.abs(v_new).max(axis=-1))
        ok = c * np.abs(miss).max(axis=-1) <= 0.5 * np.abs(dv).max(axis=-1) + floor
        return v_new, ok

    def _dense(self, D, b, c):
        """Solve ``(I - c W diag(D)) dv = b`` (or ``W @ D`` for a full Jacobian) per sample."""
        n = b.shape[-1]
        eye = np.eye(n, dtype=b.dtype)
        W = -self.w * (1 - eye)
        if self.lateral is not None:
            W = W + self.lateral
        K = W[None] * D[:, None, :] if D.ndim == 2 else W @ D
        return np.linalg.solve(eye - c * K, b[..., None])[..., 0]


# ------------------------------------------------------------------ direct fixed point (ReLU/Linear)
def interaction_matrix(w, lateral, n, dtype=np.float64):
    """``M = I - lateral + w (11^T - I)`` (n, n): at a fixed point the active set A has ``M_AA r_A = J_A``."""
    M = np.full((n, n), w, dtype=dtype)
    np.fill_diagonal(M, 1.0)
    if lateral is not None:
        M -= lateral
    return M


def attractor_certificate(M, active=None, symmetric=None):
    """Whether the symmetric part of ``M`` is positive definite (on each sample's ``active`` set).

    For ``tau dv/dt = -v + J + (I - M) r``, ``r = phi(v)`` with ``0 <= phi' <= 1``, the function
    ``V = sum_i int_{v*_i}^{v_i} (phi(s) - phi(v*_i)) ds`` has
    ``dV/dt <= -(r - r*)^T M (r - r*)`` (a Lur'e-Persidskii argument), so a positive definite
    symmetric part makes the fixed point unique and globally attracting: it is the state every
    trajectory settles to, whatever ``v0``. Units that can never become active (``active``
    False: for ReLU with inhibitory coupling only, ``J_i <= 0`` and ``v0_i <= 0``) keep
    ``r_i = r*_i = 0`` and drop out, so the test may be restricted to the others.

    Tried in turn: a Cholesky factorization of the union of the sets (when cheaper than one per
    set), then Gershgorin's bound and a factorization on each set; a factorization certifies a
    block only after a downward shift by ``gamma_{m+1} / (1 - 2 gamma_{m+1}) trace + 1e-9``
    (``gamma_k = k u / (1 - k u)``, ``u`` the unit roundoff, ``m`` the block size; Rump 2006,
    Verification of positive definiteness, BIT 46:433-452).

    Parameters
    ----------
    M : ndarray, shape (n, n)
    active : ndarray of bool, shape (batch, n), optional
        Units that may become active, per sample; None: all.
    symmetric : bool, optional
        Whether ``M`` is symmetric; tested if None.

    Returns
    -------
    ndarray of bool, shape (batch,) (or (1,) when ``active`` is None)
    """
    symmetric = np.array_equal(M, M.T) if symmetric is None else symmetric
    S, n = (M if symmetric else 0.5 * (M + M.T)), M.shape[0]
    active = np.ones((1, n), dtype=bool) if active is None else active
    union, k = active.any(axis=0), active.sum(axis=1).astype(np.float64)
    if (k ** 3).sum() > 0.5 * float(union.sum()) ** 3 and _positive_definite(S, union[None])[0]:
        return np.ones(active.shape[0], dtype=bool)
    absS = np.abs(S)
    A = active.astype(S.dtype)
    slack = 1e-9 + 4 * n * np.finfo(S.dtype).eps * (1 + absS.max(initial=0.0))
    ok = np.all(~active | (np.diag(S)[None] - (A @ absS.T - A * absS.diagonal()) > slack), axis=-1)
    ok[~ok] = _positive_definite(S, active[~ok])
    return ok


def _positive_definite(S, masks):
    """Per row of ``masks`` (batch, n): LAPACK ``potrf`` of ``S[mask, mask]`` minus Rump's margin succeeds."""
    potrf, = get_lapack_funcs(("potrf",), (S,))
    u = np.finfo(S.dtype).eps / 2
    out = np.zeros(masks.shape[0], dtype=bool)
    for b, mask in enumerate(masks):
        idx = np.flatnonzero(mask)
        A = S.take(idx, axis=0).take(idx, axis=1) if idx.size < S.shape[0] else S.copy()
        g = (idx.size + 1) * u / (1 - (idx.size + 1) * u)
        A.flat[::idx.size + 1] -= 1e-9 + g / (1 - 2 * g) * abs(float(np.trace(A)))
        out[b] = potrf(A.T, lower=True, overwrite_a=True, clean=False)[1] == 0  # A.T: column-major
    return out


def solve_fixed_point(J, M, *, linear, max_iter, symmetric=None):
    """Fixed point ``r = phi(v)``, ``v = J + (I - M) r`` of a ReLU (or Linear) population, directly.

    For ReLU it is the linear complementarity problem ``r >= 0``, ``y = M r - J >= 0``,
    ``r^T y = 0`` (``y = -v`` on the silent units), solved per sample by block principal
    pivoting (Judice & Pires 1994, Comput. Oper. Res. 21:587-596; as in Kim & Park 2011): from a
    guess of the active set ``F``, solve ``M_FF r_F = J_F`` and move every infeasible unit
    (``r_i < 0`` in ``F``, ``y_i < 0`` outside) to the other side; when the number of infeasible
    units has not decreased for 3 exchanges, move only the one of largest index (Murty 1974,
    Opsearch 11:123-130), which terminates for a P-matrix ``M`` (one with a positive definite
    symmetric part is one), whatever the guess. The guess: the signs of ``v`` after up to 6
    damped steps ``v <- 0.7 v + 0.3 (J + (I - M) relu(v))`` from ``v = J`` (on Foldiak networks
    trained on digits it misses about one unit per sample, and the pivoting ends within 2-3
    rounds). One LAPACK solve per sample, in ``J``'s dtype. For Linear units ``v = M^{-1} J``.

    Parameters
    ----------
    J : ndarray, shape (batch, n)
    M : ndarray, shape (n, n), dtype of J
        :func:`interaction_matrix`.
    linear : bool
        Linear units (else ReLU).
    max_iter : int
        Pivoting budget per sample.
    symmetric : bool, optional
        Whether ``M`` is symmetric (then the blocks are solved by Cholesky); tested if None.

    Returns
    -------
    v, r : ndarray, shape (batch, n)
        NaN for the samples not done.
    done : ndarray of bool, shape (batch,)
        Pivoting ended at a fixed point (False: budget exhausted, or a singular ``M_FF``).
    iterations : int
        Pivoting rounds of the slowest sample.
    residual : ndarray, shape (batch,)
        ``max |v - J - (I - M) relu(v)|`` per sample, from the last round's ``M r - J`` (NaN where
        a sign was within the rounding tolerance, or for Linear units: left to the caller).
    """
    batch, n = J.shape
    unknown = np.full(batch, np.nan)  # residuals left to the caller
    if linear:
        try:
            v = np.linalg.solve(M, J.T).T
        except np.linalg.LinAlgError:
            return np.full_like(J, np.nan), np.full_like(J, np.nan), np.zeros(batch, dtype=bool), 1, unknown
        return v, v, np.ones(batch, dtype=bool), 1, unknown
    J3, M3, v = 0.3 * J, 0.3 * M.T, J.copy()
    F = v > 0
    for _ in range(6):  # v <- 0.7 v + 0.3 (J + (I - M) relu(v)), until no sign changes
        rv = np.maximum(v, 0)
        Mrv = rv @ M3
        v *= 0.7
        v += J3
        rv *= 0.3
        v += rv
        v -= Mrv
        F, F_last = v > 0, F
        if np.array_equal(F, F_last):
            break
    r, y = np.full_like(J, np.nan), np.full_like(J, np.nan)
    residual = unknown.copy()
    done = np.zeros(batch, dtype=bool)
    best, backup = np.full(batch, n + 1), np.full(batch, 3)
    todo = np.arange(batch)
    symmetric = np.array_equal(M, M.T) if symmetric is None else symmetric
    eps = 64 * np.finfo(J.dtype).eps * (1 + np.abs(J).max(axis=1, initial=0.0))  # sign tolerance
    it = 0
    while todo.size and it < max_iter:
        it += 1
        Ft, Jt = F[todo], J[todo]
        rt, regular = _solve_active(M, Jt, Ft, symmetric)
        yt = rt @ M.T - Jt
        # the residual of v = r - y, relu(v) = r: M r - J on F (0 elsewhere), exact when no sign
        # needed the tolerance; NaN (to be computed by the caller) otherwise
        res = np.where(Ft, np.abs(yt), 0).max(axis=1, initial=0.0)
        yt[Ft] = 0
        tol = eps[todo, None]
        bad = (Ft & (rt < -tol)) | (~Ft & (yt < -tol))
        count = bad.sum(axis=1)
        fin = (count == 0) & regular
        exact = ~((Ft & (rt < 0)) | (~Ft & (yt < 0))).any(axis=1)
        r[todo[fin]], y[todo[fin]] = rt[fin], yt[fin]
        residual[todo[fin]] = np.where(exact[fin], res[fin], np.nan)
        done[todo[fin]] = True
        keep = ~fin & regular
        todo, bad, count = todo[keep], bad[keep], count[keep]
        full = count < best[todo]
        best[todo[full]] = count[full]
        backup[todo[full]] = 3
        slack = ~full & (backup[todo] > 0)
        backup[todo[slack]] -= 1
        full |= slack
        flip = np.where(full[:, None], bad, False)
        single = np.flatnonzero(~full)
        flip[single, n - 1 - np.argmax(bad[single, ::-1], axis=1)] = True  # Murty: the largest index
        F[todo] ^= flip
    return r - y, r, done, it, residual


def _solve_active(M, J, F, symmetric):
    """``M_FF r_F = J_F`` per sample (LAPACK ``posv``, or ``gesv``), r = 0 off F; and whether each block was regular."""
    posv, gesv = get_lapack_funcs(("posv", "gesv"), (M,))
    r = np.zeros_like(J)
    ok = np.ones(J.shape[0], dtype=bool)
    rows, cols = np.nonzero(F)
    bounds = np.searchsorted(rows, np.arange(J.shape[0] + 1)).tolist()
    for b in range(J.shape[0]):
        idx = cols[bounds[b]:bounds[b + 1]]
        if not idx.size:
            continue
        A, rhs = M.take(idx, axis=0).take(idx, axis=1), J[b].take(idx)
        info = 1
        if symmetric:  # A.T: the same matrix, in the column-major order LAPACK reads (no copy)
            _, x, info = posv(A.T, rhs, lower=True, overwrite_a=True)
        if info != 0:
            _, _, x, info = gesv(M.take(idx, axis=0).take(idx, axis=1), rhs)
        if info == 0:
            r[b, idx] = x
        else:
            ok[b] = False
    return r, ok
