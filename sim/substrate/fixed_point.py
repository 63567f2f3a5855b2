"""Direct fixed point of a Linear / ReLU population with uniform inhibition and lateral weights.

Behind ``settle(method=...)`` of `sim.substrate.dynamics` (the **direct** entry of
`sim.substrate.schemes`): the fixed point is a linear complementarity problem in ``M = I - W``
(:func:`interaction_matrix`), solved by block principal pivoting (:func:`solve_fixed_point`), and
it is the state the dynamics settle to wherever :func:`attractor_certificate` shows it to be the
unique global attractor. Re-exported by `sim.substrate.schemes`.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import get_lapack_funcs

__all__ = ["interaction_matrix", "attractor_certificate", "solve_fixed_point"]


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
