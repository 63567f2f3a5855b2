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
* **events** (``"auto"`` of ``integrate`` for Linear/ReLU with uniform inhibition only,
  ``tau > 0``; "auto" of ``settle`` keeps "exact" and "implicit", see ``Stepper``): exact, the
  active set's changes included: `sim.substrate.event_driven` integrates in closed form to each
  threshold crossing (found by a safeguarded root find) and on; :meth:`Stepper.flow` covers many
  steps under constant input in one pass, evaluating each step's state in closed form.
* **rosenbrock** (``"auto"`` of ``integrate`` for every other neuron or with a ``lateral`` matrix, ``tau > 0``):
  second-order, L-stable ROS2 substeps with error control (`sim.substrate.smooth`); at
  ``dt = tau`` it stays within ~1e-4 of the potential range of the exact trajectory.
* **exact** (``"auto"`` of ``settle``, and for ``tau = 0``, with Linear/ReLU and uniform
  inhibition only; the former default of ``integrate``): within a step the active
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
* **implicit** (``"auto"`` of ``settle``, and for ``tau = 0``, otherwise: smooth neurons, or a
  ``lateral`` matrix; first order: errors of 0.03-0.15 of the range at ``dt = tau``): a linearly
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
* **direct** (not a time step; :func:`solve_fixed_point`, in `sim.substrate.fixed_point` and
  re-exported here, behind ``settle(method=...)`` of
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

from sim.errors import ValidationError
from sim.substrate.event_driven import event_flow
from sim.substrate.fixed_point import attractor_certificate, interaction_matrix, solve_fixed_point
from sim.substrate.smooth import rosenbrock_step

__all__ = ["SCHEMES", "Stepper", "lateral_input", "interaction_matrix", "is_identity_or_zero",
           "attractor_certificate", "solve_fixed_point"]

SCHEMES = ("auto", "exact", "implicit", "explicit", "events", "rosenbrock")
ROSENBROCK_RTOL = 1e-4  # "rosenbrock": local error per substep, relative to 1 + max|v|
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
    scheme : {"auto", "exact", "implicit", "explicit", "events", "rosenbrock"}
        One of ``SCHEMES``; ``w == 0`` without ``lateral`` always uses the exact leak.
    settling : bool
        For :func:`sim.substrate.dynamics.settle`: "auto" then means "exact" (Linear/ReLU,
        uniform inhibition) or "implicit" (otherwise), whose fixed points are exact and which
        reach them at a fraction of the cost of the exact trajectory (from rest, 32 x 400 ReLU
        units cross the threshold hundreds of times per input; the path is irrelevant there,
        the fixed point being unique).

    Attributes
    ----------
    step : callable
        ``step(v, J) -> v_new``, arrays of shape (batch, n).
    events : bool
        Whether the event-driven exact flow is used (see :meth:`flow`).
    """

    def __init__(self, phi, w, lateral, h, scheme, settling=False):
        self.phi, self.w, self.lateral, self.h = phi, w, lateral, h
        self.eh = 0.0 if math.isinf(h) else math.exp(-h)       # e^{-h}
        exact_ok = lateral is None and is_identity_or_zero(phi)
        if scheme == "auto" and settling:  # only the fixed point matters: the cheaper former schemes
            scheme = "exact" if exact_ok else "implicit"
        if scheme in ("exact", "events") and not exact_ok:
            raise ValidationError("scheme", scheme, f"{scheme!r} needs a Linear/ReLU neuron and no lateral matrix")
        finite = not math.isinf(h)
        self.events = finite and w > 0 and exact_ok and scheme in ("auto", "events")
        self.linear = exact_ok and bool(np.all(phi.rate(np.array([-1.0, 1.0])) == [-1.0, 1.0]))
        if w == 0 and lateral is None:
            self.step = self._leak
        elif scheme == "explicit":
            self.step = self._explicit
        elif self.events:
            self.step = self._events
        elif finite and (scheme == "rosenbrock" or (scheme == "auto" and not exact_ok)):
            self.step = lambda v, J: rosenbrock_step(v, J, h, phi, w, lateral, ROSENBROCK_RTOL)
        else:
            core = self._exact_core if scheme in ("auto", "exact", "events") and exact_ok else self._implicit_core
            depth = 0 if math.isinf(h) else _REFINE
            self.step = lambda v, J: self._refined(core, v, J, h, depth)

    def _events(self, v, J):
        return event_flow(v, J, self.w, self.h, 1, self.linear).astype(v.dtype, copy=False)

    def flow(self, v, J, steps, trace=None):
        """``steps`` steps under constant ``J``; ``trace`` (steps, batch, n) filled in place if given.

        The event-driven scheme integrates the whole span in one pass (every step's state is
        evaluated in closed form when ``trace`` is given); the others step one at a time."""
        if self.events:
            return event_flow(v, J, self.w, self.h, steps, self.linear, trace=trace).astype(v.dtype, copy=False)
        for t in range(steps):
            v = self.step(v, J)
            if trace is not None:
                trace[t] = v
        return v

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


