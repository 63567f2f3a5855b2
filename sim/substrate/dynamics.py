"""Leaky-integrator dynamics of a population of rate neurons, with lateral inhibition.

Each unit obeys ``tau dv/dt = -v + J_eff``, rate ``r = phi(v)``, with the effective current

    J_eff_i = J_i - w_inh * sum_{j != i} r_j + (r @ lateral.T)_i

(uniform inhibition of strength ``0 <= w_inh < 1`` and an optional general lateral matrix
with zero diagonal, negative entries inhibiting, as learned by an anti-Hebbian rule,
Foldiak 1990). Arrays are ``(batch, n)``; time (``tau``, ``dt``) is in any one unit,
customarily ms. ``h = dt / tau`` is the step in units of tau (``tau = 0`` means ``h = inf``:
every step jumps to the steady state of its linear model).

What is where: this module validates the inputs and runs the dynamics (:func:`leaky_step`,
:func:`integrate`, :func:`settle`, :func:`fixed_point_residual` and their result types);
the time-stepping schemes (``scheme=`` "events", "rosenbrock", "exact", "implicit",
"explicit" and the uncoupled leak, chosen by "auto"), their stability and their step refinement are described and
implemented in `sim.substrate.schemes`. ``SCHEMES`` is importable from both.

Fixed points. All maps of `sim.substrate.schemes` have exactly the true fixed points
``v = J_eff(v)``: for the implicit and explicit maps ``dv = 0`` iff ``F(v) = 0`` (with ``F``,
``c`` and ``K`` as defined there; ``I - c K`` non-singular); for the exact map, the flow of a
linear system whose matrix is positive definite (``w < 1``) leaves only its equilibrium
unchanged, and the equilibrium for the active set of ``v`` is ``v`` itself iff ``v`` is a
true fixed point (the event-driven flow is the true flow; ROS2 has ``k1 = k2 = 0`` there).
Near the fixed point the slowest mode has time constant ``tau / (1 - w)``: settling needs about
``5 tau / (1 - w)``. For ``phi' <= 1`` (Linear, ReLU, sigmoid, tanh, softplus) ``w < 1`` makes
the uniform-inhibition fixed point unique and stable; higher-gain rates (``relu^n``) can be
multistable (winner-take-all) and :func:`settle` then reaches the fixed point whose basin holds
``v0``, as the continuous dynamics would.

References
----------
Foldiak, P. (1990). Forming sparse representations by local anti-Hebbian learning.
Biological Cybernetics 64, 165-170.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from sim.errors import ValidationError
from sim.substrate import neurons as _neurons
from sim.substrate.schemes import (
    SCHEMES,
    Stepper,
    attractor_certificate,
    interaction_matrix,
    is_identity_or_zero,
    lateral_input,
    solve_fixed_point,
)
from sim.validation import check_array, check_bool, check_choice, check_int, check_number

__all__ = [
    "leaky_step", "integrate", "settle", "fixed_point_residual", "IntegrateResult", "SettleResult", "METHODS",
]

METHODS = ("auto", "steps", "solve")

# The direct solve makes many small BLAS/LAPACK calls, which threads do not speed up; on a
# machine whose cores are busy, threaded OpenBLAS calls of this size were measured ~500x slower.
_BLAS = ThreadpoolController()


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
        ``max |v_{t+1} - v_t|`` over batch and units at the last step (units of v); for the
        directly solved samples, their largest fixed-point residual.
    trace : ndarray, shape (steps + 1, batch, n), or None
        ``v`` at every step, including ``v0``, if ``record=True``.
    method : {"steps", "solve", "solve+steps"}
        How the state was reached: time-stepping, a direct solve of the fixed point
        (``steps = 0``), or a direct solve for some samples and time-stepping for the others.
    """

    v: np.ndarray
    rate: np.ndarray
    steps: int
    converged: bool
    max_change: float
    trace: np.ndarray | None = None
    method: str = "steps"


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


def _prepare(J, neuron, tau, dt, w_inh, lateral, v0, scheme, ndims=(2,), settling=False):
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
    return J, phi, v, Stepper(phi, w, L, h, scheme, settling=settling)


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
        Rate function ``phi`` (name accepted by :func:`sim.substrate.neurons.get`).
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
    scheme : {"auto", "exact", "implicit", "explicit", "events", "rosenbrock"}
        Time-stepping scheme (see `sim.substrate.schemes`): "auto" takes the exact event-driven
        flow for Linear/ReLU units with uniform inhibition (then a constant ``J`` is integrated
        over all steps in one pass, each step's state evaluated in closed form only when
        ``record=True``) and adaptive second-order Rosenbrock substeps otherwise; "explicit" is
        the naive, conditionally stable one, kept for comparison.

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
    if not varying:
        v = stepper.flow(v, J, steps, trace[1:] if record else None)
    for t in range(steps if varying else 0):
        v = stepper.step(v, J[t])
        if record:
            trace[t + 1] = v
    return IntegrateResult(v=v, rate=phi.rate(v), trace=trace)


def settle(J, *, neuron="relu", tau=1.0, dt=None, w_inh=0.0, lateral=None, tol=1e-6, max_steps=1000,
           v0=None, record=False, scheme="auto", method="auto") -> SettleResult:
    """Run the dynamics with constant input until the potential stops changing.

    Time-stepping stops after the first step with ``max |v_{t+1} - v_t| < tol`` (over batch and
    units), or after ``max_steps`` steps. Where the settled state is known to be the unique,
    globally attracting fixed point, it is instead computed directly (``method``).

    Parameters
    ----------
    J : array_like, shape (batch, n)
        Constant input current.
    neuron, tau, w_inh, lateral, v0, record
        As in :func:`integrate`.
    scheme : {"auto", "exact", "implicit", "explicit", "events", "rosenbrock"}
        As in :func:`integrate`, except that "auto" is "exact" (Linear/ReLU with uniform
        inhibition) or "implicit": the settled state, not the path, is wanted, and these reach
        the same fixed points at a fraction of the cost (see `sim.substrate.schemes.Stepper`).
    dt : float, optional
        Step, > 0; defaults to ``tau`` (or 1 when ``tau = 0``).
    tol : float
        Convergence threshold on the step change, > 0, in units of v (for a direct solve: on
        the fixed-point residual, :func:`fixed_point_residual`).
    max_steps : int
        Step budget, >= 1.
    method : {"auto", "steps", "solve"}
        "steps": time-step. "solve": compute the fixed point of a ReLU or Linear population
        directly (`sim.substrate.schemes.solve_fixed_point`, in the dtype of J) and report it as converged
        only for the samples where it is certified to be the unique fixed point that attracts
        every trajectory (`sim.substrate.schemes.attractor_certificate`: the symmetric part of
        ``I - K`` positive definite on the units that can become active). "auto": "solve" for a
        ReLU or Linear population with a ``lateral`` matrix and ``record=False``, on the
        certified samples, time-stepping the others (uniform inhibition alone keeps
        time-stepping, with the exact scheme; its closed form is `sim.substrate.kwta`).

    Returns
    -------
    SettleResult
        ``v``, ``rate``, ``steps``, ``converged``, ``max_change``, the optional trace of
        shape ``(steps + 1, batch, n)`` and ``method``.

    Notes
    -----
    With uniform inhibition the slowest mode relaxes with time constant ``tau / (1 - w_inh)``:
    each ``5 tau / (1 - w_inh)`` of time shrinks the distance to the fixed point ~150-fold.
    In float32 a tol below about ``1e-7 max|v|`` may be unreachable. A direct solve does not
    depend on ``dt``, ``max_steps``, ``scheme`` or ``v0`` (beyond which units can become active):
    it gives the state the dynamics reach as ``t -> inf``, to the rounding of J's dtype.
    """
    tol = check_number("tol", tol, low=0.0, low_open=True)
    max_steps = check_int("max_steps", max_steps, low=1)
    method = check_choice("method", method, METHODS)
    if dt is None:
        t = check_number("tau", tau, low=0.0)
        dt = t if t > 0 else 1.0
    J, phi, v, stepper = _prepare(J, neuron, tau, dt, w_inh, lateral, v0, scheme, settling=True)
    record = check_bool("record", record)
    direct = is_identity_or_zero(phi) and not record and (method == "solve" or stepper.lateral is not None)
    if method == "solve" and not direct:
        raise ValidationError("method", method, "'solve' needs a ReLU or Linear neuron and record=False")
    if method == "steps" or not direct:
        return _time_step(stepper, phi, v, J, tol, max_steps, record)
    v_fp, ok, change = _solve(J, phi, v, stepper.w, stepper.lateral, tol, every=method == "solve")
    if method == "solve" or ok.all():
        v_fp = v_fp.astype(J.dtype, copy=False)
        return SettleResult(v=v_fp, rate=phi.rate(v_fp), steps=0, converged=bool(ok.all()),
                            max_change=change, method="solve")
    rest = _time_step(stepper, phi, v[~ok], J[~ok], tol, max_steps, False)
    v_fp[~ok] = rest.v
    v_fp = v_fp.astype(J.dtype, copy=False)
    return SettleResult(v=v_fp, rate=phi.rate(v_fp), steps=rest.steps, converged=rest.converged,
                        max_change=max(change, rest.max_change) if ok.any() else rest.max_change,
                        method="solve+steps" if ok.any() else "steps")


def _time_step(stepper, phi, v, J, tol, max_steps, record):
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


def _solve(J, phi, v0, w, L, tol, every):
    """Direct fixed point of the certified samples (of ``every`` sample if True), in J's dtype;
    per sample whether it is certified and solved to ``tol``; the largest residual over the solved.
    BLAS runs single-threaded meanwhile (see ``_BLAS``)."""
    with _BLAS.limit(limits=1, user_api="blas"):
        return _solve_direct(J, phi, v0, w, L, tol, every)


def _solve_direct(J, phi, v0, w, L, tol, every):
    n = J.shape[-1]
    linear = bool(np.all(phi.rate(np.array([[-1.0, 1.0]])) == [[-1.0, 1.0]]))
    M = interaction_matrix(w, L, n, dtype=J.dtype)
    inhibitory = L is None or bool(np.all(L <= 0))
    # with only inhibitory coupling a ReLU unit with J_i <= 0 starting at v_i <= 0 never fires
    can_fire = (J > 0) | (v0 > 0) if (inhibitory and not linear) else np.ones(J.shape, dtype=bool)
    symmetric = np.array_equal(M, M.T)
    certified = attractor_certificate(M, None if linear else can_fire, symmetric=symmetric)
    certified = np.broadcast_to(certified, J.shape[:1]).copy()
    todo = np.ones_like(certified) if every else certified
    v = np.zeros_like(J)
    done = np.zeros_like(certified)
    residual = np.full(J.shape[0], np.nan)
    if todo.any():
        v[todo], _, done[todo], _, residual[todo] = solve_fixed_point(
            J[todo], M, linear=linear, max_iter=4 * n + 100, symmetric=symmetric)
    left = np.isnan(residual)  # not given by the solver: evaluate the fixed-point equation
    with np.errstate(invalid="ignore"):
        vl = v[left]
        residual[left] = np.abs(vl - J[left] - lateral_input(phi.rate(vl), w, L)).max(axis=-1, initial=0.0)
    solved = done & (residual <= tol)
    return v, certified & solved, float(residual[solved].max()) if solved.any() else math.inf


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
    return v - J - lateral_input(phi.rate(v), w, L)
