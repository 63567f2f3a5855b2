"""Leaky-integrator dynamics of a population of rate neurons, with lateral inhibition.

Each unit obeys ``tau dv/dt = -v + J_eff``, rate ``r = phi(v)``, with the effective current

    J_eff_i = J_i - w_inh * sum_{j != i} r_j + (r @ lateral.T)_i

(uniform inhibition of strength ``0 <= w_inh < 1`` and an optional general lateral matrix
with zero diagonal, negative entries inhibiting, as learned by an anti-Hebbian rule,
Foldiak 1990). Arrays are ``(batch, n)``; time (``tau``, ``dt``) is in any one unit,
customarily ms. ``h = dt / tau`` is the step in units of tau (``tau = 0`` means ``h = inf``:
every step jumps to the steady state of its linear model).

Schemes (``scheme=`` of :func:`integrate` / :func:`settle`)
------------------------------------------------------------
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
  for every h (A-stable); at ``h = inf`` it is Newton's method on ``F``. Where the rate is
  strongly curved (e.g. ``relu^n``) the linearization can fail over a long step, so a sample
  whose lateral input at the new ``v`` misses its linear prediction by more than half the
  step redoes it as two half steps, recursively down to h/16.
* **explicit** (the naive scheme, kept for comparison): ``J_eff`` is computed from ``r`` at the
  step start, then the exact leak is applied. The mode along ``1`` on A is multiplied by
  ``e^{-h} - (1 - e^{-h}) w (k - 1)``, so it is stable only if
  ``(1 - e^{-h}) w (k - 1) < 1 + e^{-h}``: it oscillates e.g. for k ~ 20, w = 0.9, h = 0.5.

Fixed points. All four maps have exactly the true fixed points ``v = J_eff(v)``: for the
implicit and explicit maps ``dv = 0`` iff ``F(v) = 0`` (``I - c K`` non-singular); for the exact
map, the flow of a linear system whose matrix is positive definite (``w < 1``) leaves only
its equilibrium unchanged, and the equilibrium for the active set of ``v`` is ``v`` itself
iff ``v`` is a true fixed point. Near the fixed point the slowest mode has time constant
``tau / (1 - w)``: settling needs about ``5 tau / (1 - w)``. For ``phi' <= 1`` (Linear, ReLU,
sigmoid, tanh, softplus) ``w < 1`` makes the uniform-inhibition fixed point unique and stable;
higher-gain rates (``relu^n``) can be multistable (winner-take-all) and :func:`settle` then
reaches the fixed point whose basin holds ``v0``, as the continuous dynamics would.

References
----------
Foldiak, P. (1990). Forming sparse representations by local anti-Hebbian learning.
Biological Cybernetics 64, 165-170.
Hochbruck, M. & Ostermann, A. (2010). Exponential integrators. Acta Numerica 19, 209-286.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.substrate import neurons as _neurons
from sim.errors import ValidationError
from sim.validation import check_array, check_bool, check_choice, check_int, check_number

__all__ = [
    "leaky_step", "integrate", "settle", "fixed_point_residual", "IntegrateResult", "SettleResult",
]

SCHEMES = ("auto", "exact", "implicit", "explicit")
_REFINE = 4  # exact/implicit: at most 2**_REFINE substeps where a step proves unreliable


@dataclass
class IntegrateResult:
    """Result of :func:`integrate`.

    Attributes
    ----------
    v, rate : ndarray, shape (batch, n)
        Final membrane potential (units of J) and rate ``phi(v)``.
    trace : ndarray, shape (steps + 1, batch, n), or None
        ``v`` at every step, including ``v0``, if ``record=True``.
    """

    v: np.ndarray
    rate: np.ndarray
    trace: np.ndarray | None = None


@dataclass
class SettleResult:
    """Result of :func:`settle`.

    Attributes
    ----------
    v, rate : ndarray, shape (batch, n)
        Final potential and rate.
    steps, converged : int, bool
        Steps taken; whether the last change was below ``tol``.
    max_change : float
        ``max |v_{t+1} - v_t|`` over batch and units at the last step (units of v).
    trace : ndarray, shape (steps + 1, batch, n), or None
        ``v`` at every step, including ``v0``, if ``record=True``.
    """

    v: np.ndarray
    rate: np.ndarray
    steps: int
    converged: bool
    max_change: float
    trace: np.ndarray | None = None


def _float_array(name, X, ndim, min_rows=1):
    arr = check_array(name, X, ndim=ndim, min_rows=min_rows)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _check_time(dt, tau):
    tau = check_number("tau", tau, low=0.0)
    dt = check_number("dt", dt, low=0.0, low_open=True)
    return math.inf if tau == 0 else dt / tau


def _check_pair(v, J):
    J = _float_array("J", J, ndim=2)
    v = _float_array("v", v, ndim=2)
    if v.shape != J.shape:
        raise ValidationError("v", v, f"must have the shape of J {J.shape}, got {v.shape}")
    return v.astype(J.dtype, copy=False), J


def _check_v(v0, shape, dtype):
    if v0 is None:
        return np.zeros(shape, dtype=dtype)
    v = _float_array("v0", v0, ndim=2)
    if v.shape != shape:
        raise ValidationError("v0", v0, f"must have shape {shape} (batch, n), got {v.shape}")
    return v.astype(dtype, copy=True)


def _check_coupling(w_inh, lateral, n, dtype):
    w = check_number("w_inh", w_inh, low=0.0, high=1.0, high_open=True)
    if lateral is None:
        return w, None
    L = _float_array("lateral", lateral, ndim=2)
    if L.shape != (n, n):
        raise ValidationError("lateral", lateral, f"must have shape ({n}, {n}), got {L.shape}")
    if np.any(np.diagonal(L) != 0):
        raise ValidationError("lateral", lateral, "must have a zero diagonal (self-coupling is the leak)")
    return w, L.astype(dtype, copy=False)


def _lateral_input(r, w, lateral):
    """``-w (sum_j r_j - r_i) + r @ lateral.T``, shape of ``r``."""
    out = np.zeros_like(r)
    if w:
        out -= w * (r.sum(axis=-1, keepdims=True) - r)
    if lateral is not None:
        out += r @ lateral.T
    return out


def _identity_or_zero(phi):
    """True if ``phi`` is ``v`` or ``0`` piecewise with 0/1 derivative (Linear, ReLU)."""
    if not phi.piecewise_linear:
        return False
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    d, r = np.asarray(phi.derivative(x)), np.asarray(phi.rate(x))
    return d.shape == x.shape and bool(np.all((d == 0) | (d == 1))) and bool(np.all(r == d * x))


class _Stepper:
    """One step ``v -> v_new`` of a chosen scheme (inputs already validated)."""

    def __init__(self, phi, w, lateral, h, scheme):
        self.phi, self.w, self.lateral, self.h = phi, w, lateral, h
        self.eh = 0.0 if math.isinf(h) else math.exp(-h)       # e^{-h}
        exact_ok = lateral is None and _identity_or_zero(phi)
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
        return self._leak(v, J + _lateral_input(self.phi.rate(v), self.w, self.lateral))

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
        lat = _lateral_input(phi.rate(v), w, L)
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
        miss = _lateral_input(phi.rate(v_new), w, L) - lat - _lateral_input(Ddv, w, L)
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


def _prepare(J, neuron, tau, dt, w_inh, lateral, v0, scheme, ndims=(2,)):
    try:
        ndim = np.ndim(J)
    except ValueError:  # ragged: let check_array report it
        ndim = ndims[0]
    ndim = ndim if ndim in ndims else ndims[0]
    J = _float_array("J", J, ndim=ndim, min_rows=1 if ndim == 2 else 0)
    phi = _neurons.get(neuron)
    h = _check_time(dt, tau)
    w, L = _check_coupling(w_inh, lateral, J.shape[-1], J.dtype)
    scheme = check_choice("scheme", scheme, SCHEMES)
    v = _check_v(v0, J.shape[-2:], J.dtype)
    return J, phi, v, _Stepper(phi, w, L, h, scheme)


def leaky_step(v, J, dt, tau):
    """Advance ``tau dv/dt = -v + J`` by ``dt`` exactly, for ``J`` held constant over the step.

    Parameters
    ----------
    v : array_like, shape (batch, n)
        Potential at the step start (units of J).
    J : array_like, shape (batch, n)
        Input current, constant over the step.
    dt, tau : float
        Step (> 0) and time constant (>= 0; 0 returns ``J``, the steady state), e.g. in ms.

    Returns
    -------
    ndarray, shape (batch, n), dtype of J
        ``J + (v - J) exp(-dt / tau)``.

    Notes
    -----
    Exact solution of the linear ODE over the step (exponential Euler); stable for any dt.
    """
    v, J = _check_pair(v, J)
    h = _check_time(dt, tau)
    return J + (v - J) * (0.0 if math.isinf(h) else math.exp(-h))


def integrate(J, *, neuron="relu", tau=1.0, dt=0.1, steps=100, v0=None, w_inh=0.0, lateral=None,
              record=False, scheme="auto") -> IntegrateResult:
    """Integrate the population for ``steps`` steps of ``dt``.

    Parameters
    ----------
    J : array_like, shape (batch, n) or (steps, batch, n)
        Input current: constant, or piecewise constant with slice ``J[t]`` held during step t.
    neuron : str or Neuron
        Rate function ``phi`` (name accepted by :func:`sim.neurons.get`).
    tau, dt : float
        Membrane time constant (>= 0, e.g. ms) and step (> 0, same unit).
    steps : int
        Number of steps, >= 0.
    v0 : array_like, shape (batch, n), optional
        Initial potential; zeros by default.
    w_inh : float
        Uniform lateral inhibition strength, ``0 <= w_inh < 1``.
    lateral : array_like, shape (n, n), optional
        Lateral weights (zero diagonal); adds ``r @ lateral.T`` to the current.
    record : bool
        Store the trace of ``v``, shape ``(steps + 1, batch, n)``, including ``v0``.
    scheme : {"auto", "exact", "implicit", "explicit"}
        Time-stepping scheme (see the module docstring); "explicit" is the naive, conditionally
        stable one, kept for comparison.

    Returns
    -------
    IntegrateResult
        Final ``v`` and ``rate`` (dtype of J) and the optional trace.

    Raises
    ------
    ValidationError
        For a bad parameter or input (its name is in the message).
    """
    steps = check_int("steps", steps, low=0)
    J, phi, v, stepper = _prepare(J, neuron, tau, dt, w_inh, lateral, v0, scheme, ndims=(2, 3))
    record = check_bool("record", record)
    varying = J.ndim == 3
    if varying and J.shape[0] != steps:
        raise ValidationError("J", J, f"time-varying J needs one slice per step: shape[0] must be {steps}")
    trace = np.empty((steps + 1,) + v.shape, dtype=J.dtype) if record else None
    if record:
        trace[0] = v
    for t in range(steps):
        v = stepper.step(v, J[t] if varying else J)
        if record:
            trace[t + 1] = v
    return IntegrateResult(v=v, rate=phi.rate(v), trace=trace)


def settle(J, *, neuron="relu", tau=1.0, dt=None, w_inh=0.0, lateral=None, tol=1e-6, max_steps=1000,
           v0=None, record=False, scheme="auto") -> SettleResult:
    """Run the dynamics with constant input until the potential stops changing.

    Stops after the first step with ``max |v_{t+1} - v_t| < tol`` (over batch and units), or
    after ``max_steps`` steps.

    Parameters
    ----------
    J : array_like, shape (batch, n)
        Constant input current.
    neuron, tau, w_inh, lateral, v0, record, scheme
        As in :func:`integrate`.
    dt : float, optional
        Step, > 0; defaults to ``tau`` (or 1 when ``tau = 0``).
    tol : float
        Convergence threshold on the step change, > 0, in units of v.
    max_steps : int
        Step budget, >= 1.

    Returns
    -------
    SettleResult
        ``v``, ``rate``, ``steps``, ``converged``, ``max_change`` and the optional trace of
        shape ``(steps + 1, batch, n)``.

    Notes
    -----
    With uniform inhibition the slowest mode relaxes with time constant ``tau / (1 - w_inh)``:
    each ``5 tau / (1 - w_inh)`` of time shrinks the distance to the fixed point ~150-fold.
    In float32 a tol below about ``1e-7 max|v|`` may be unreachable.
    """
    tol = check_number("tol", tol, low=0.0, low_open=True)
    max_steps = check_int("max_steps", max_steps, low=1)
    if dt is None:
        t = check_number("tau", tau, low=0.0)
        dt = t if t > 0 else 1.0
    J, phi, v, stepper = _prepare(J, neuron, tau, dt, w_inh, lateral, v0, scheme)
    record = check_bool("record", record)
    trace = [v.copy()] if record else None
    change, steps = math.inf, 0
    while steps < max_steps:
        v_new = stepper.step(v, J)
        change = float(np.max(np.abs(v_new - v))) if v.size else 0.0
        v, steps = v_new, steps + 1
        if record:
            trace.append(v.copy())
        if change < tol:
            break
    return SettleResult(v=v, rate=phi.rate(v), steps=steps, converged=change < tol, max_change=change,
                        trace=np.stack(trace) if record else None)


def fixed_point_residual(v, J, *, neuron, w_inh=0.0, lateral=None):
    """Residual ``v - J_eff(v)`` of the fixed-point equation; zero at a fixed point.

    Parameters
    ----------
    v, J : array_like, shape (batch, n)
        Potential and input current (same units).
    neuron : str or Neuron
        Rate function.
    w_inh : float
        Uniform inhibition strength, ``0 <= w_inh < 1``.
    lateral : array_like, shape (n, n), optional
        Lateral weights with zero diagonal.

    Returns
    -------
    ndarray, shape (batch, n), dtype of J
        ``v - J + w_inh (sum_j r_j - r_i) - r @ lateral.T`` with ``r = phi(v)``.
    """
    v, J = _check_pair(v, J)
    phi = _neurons.get(neuron)
    w, L = _check_coupling(w_inh, lateral, J.shape[-1], J.dtype)
    return v - J - _lateral_input(phi.rate(v), w, L)
