"""Layered networks of rate populations joined by `Connection` objects.

A network is a chain of populations ``P0 -> P1 -> ... -> PL``. ``P0`` is the input: its
rates are the data ``X`` itself (shape ``(batch, n0)``), clamped. Every other population
``l`` receives the feed-forward current ``J_l = connections[l-1].current(r_{l-1})`` and has
a membrane potential ``v_l`` obeying the leaky-integrator dynamics of `sim.substrate.dynamics`::

    tau_l dv_l,i/dt = -v_l,i + J_l,i - w_inh_l * sum_{j != i} r_l,j,
    r_l = phi_l(v_l).

Time ``t``, ``dt`` and ``tau`` share one (arbitrary) unit; currents, potentials and rates
are dimensionless. A population with ``tau = 0`` is *algebraic* (instantaneous): its
potential is always at its steady state given its input (``v = J``, or the settled inhibited
fixed point when ``w_inh > 0``).
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings

import numpy as np

from sim.errors import ValidationError
from sim.substrate.connections import Connection
from sim.substrate.dynamics import integrate, leaky_step
from sim.substrate.dynamics import settle as settle_population
from sim.substrate.kwta import inhibited_fixed_point
from sim.substrate.population import Population, RunResult
from sim.validation import as_generator, check_array, check_dtype, check_int, check_number

__all__ = ["Population", "Network", "RunResult"]


class Network:
    """A feed-forward chain of populations.

    Parameters
    ----------
    sizes_or_populations : sequence of int or Population
        At least two entries. An int ``n`` becomes ``Population(n, "relu")``, except the
        first (the input), which becomes ``Population(n, "linear")``. Populations are copied.
    rng : numpy.random.Generator or int
        Source of the initial weights (used in order, connection by connection).
    init : str
        Initializer of the connections built here (see `sim.substrate.connections.init_weights`).
    dtype : {"float32", "float64"}
        Dtype of weights, rates and potentials.
    connections : sequence of Connection, optional
        ``connections[i]`` joins population ``i`` to ``i + 1``; sizes and dtype must match.
        When given, ``init`` and ``connection_kwargs`` must not be used.
    **connection_kwargs
        Passed to every `Connection` built here (``bias``, ``p_connect``, ``dale``, ...).

    Attributes
    ----------
    populations : list of Population
    connections : list of Connection
    dtype : numpy.dtype
    inhibition_tol, inhibition_max_steps : float, int
        Tolerance and step limit used to settle instantaneous (``tau = 0``) populations with
        lateral inhibition; the tolerance defaults to 1e-10 (float64) or 1e-5 (float32).
    """

    inhibition_max_steps = 10000

    def __init__(self, sizes_or_populations, *, rng, init="glorot_uniform", dtype="float32",
                 connections=None, **connection_kwargs):
        spec = sizes_or_populations
        if isinstance(spec, (str, bytes)) or not hasattr(spec, "__len__") or len(spec) < 2:
            raise ValidationError("sizes_or_populations", spec,
                                  "must be a sequence of at least 2 ints or Populations (input first)")
        self.dtype = check_dtype("dtype", dtype)
        n_layers = len(spec) - 1
        pops = []
        for i, item in enumerate(spec):
            default_name = "input" if i == 0 else ("output" if i == n_layers else f"hidden{i}")
            if isinstance(item, Population):
                pop = dataclasses.replace(item, name=item.name or default_name)
            elif isinstance(item, numbers.Integral) and not isinstance(item, bool):
                if item < 1:
                    raise ValidationError(f"sizes_or_populations[{i}]", item, "must be >= 1")
                pop = Population(int(item), "linear" if i == 0 else "relu", name=default_name)
            else:
                raise ValidationError(f"sizes_or_populations[{i}]", item, "must be an int or a Population")
            pops.append(pop)
        self.populations = pops
        if connections is not None:
            if connection_kwargs:
                raise ValidationError("connection_kwargs", sorted(connection_kwargs),
                                      "cannot be combined with explicit connections")
            self.connections = self._check_connections(connections)
        else:
            rng = as_generator(rng, "rng")
            self.connections = [Connection(pre.n, post.n, rng=rng, init=init, dtype=self.dtype, **connection_kwargs)
                                for pre, post in zip(pops[:-1], pops[1:])]
        self.inhibition_tol = 1e-10 if self.dtype == np.float64 else 1e-5

    def _check_connections(self, connections) -> list:
        conns = list(connections) if hasattr(connections, "__len__") else None
        if conns is None or len(conns) != len(self.populations) - 1:
            raise ValidationError("connections", connections,
                                  f"must be a sequence of {len(self.populations) - 1} Connection objects")
        for i, c in enumerate(conns):
            pre, post = self.populations[i].n, self.populations[i + 1].n
            if not isinstance(c, Connection):
                raise ValidationError(f"connections[{i}]", c, "must be a Connection")
            if (c.n_source, c.n_post) != (pre, post):
                raise ValidationError(f"connections[{i}]", c, f"must map {pre} -> {post} units")
            if c.dtype != self.dtype:
                raise ValidationError(f"connections[{i}]", c, f"must have dtype {self.dtype.name}")
        return conns

    # ------------------------------------------------------------------ helpers
    @property
    def sizes(self) -> list[int]:
        """Number of units of each population, input first."""
        return [p.n for p in self.populations]

    @property
    def n_layers(self) -> int:
        """Number of non-input populations (= number of connections)."""
        return len(self.connections)

    def __repr__(self) -> str:
        pops = ", ".join(f"{p.name}:{p.n}:{p.neuron.name}" + (f":tau={p.tau:g}" if p.tau else "")
                         for p in self.populations)
        return f"Network([{pops}], {self.dtype.name})"

    def _check_X(self, X) -> np.ndarray:
        return check_array("X", X, ndim=2, n_features=self.populations[0].n, dtype=self.dtype)

    def _settle_inhibited(self, J, pop, v0=None) -> tuple[np.ndarray, np.ndarray]:
        """Steady state ``(v, r)`` of an inhibited population under constant current J."""
        res = settle_population(J, neuron=pop.neuron, tau=pop.tau or 1.0, w_inh=pop.w_inh,
                                tol=self.inhibition_tol, max_steps=self.inhibition_max_steps, v0=v0)
        if not res.converged:
            warnings.warn(f"population {pop.name!r}: lateral inhibition did not settle within "
                          f"{self.inhibition_max_steps} steps (max change {res.max_change:.3g})",
                          RuntimeWarning, stacklevel=3)
        return (np.asarray(res.v, dtype=self.dtype), np.asarray(res.rate, dtype=self.dtype))

    # ------------------------------------------------------------------ steady state
    def forward(self, X, *, return_currents=False):
        """Steady-state rates, layer by layer.

        ``J_l = connections[l-1].current(r_{l-1})`` and ``r_l = phi_l(J_l)``; a population with
        ``w_inh > 0`` is settled to its inhibited fixed point with `sim.substrate.dynamics.settle`.
        ``tau`` plays no role in the steady state.

        Parameters
        ----------
        X : array_like, shape (batch, n_0)
            Input rates; cast to the network dtype.
        return_currents : bool
            Also return the feed-forward currents.

        Returns
        -------
        rates : list of numpy.ndarray
            ``[X, r_1, ..., r_L]``, shapes ``(batch, n_l)``.
        currents : list of numpy.ndarray
            Only with ``return_currents``: ``[J_1, ..., J_L]`` (before inhibition).
        """
        r = self._check_X(X)
        rates, currents = [r], []
        for l, conn in enumerate(self.connections):
            J = conn.current(r)
            r = self.steady_state(l, J)[1]
            rates.append(r)
            currents.append(J)
        return (rates, currents) if return_currents else rates

    def steady_state(self, l: int, J) -> tuple[np.ndarray, np.ndarray, int]:
        """Settled potentials and rates of non-input population ``l`` (0 = first after the
        input) under the constant current ``J`` (batch, n), and the time steps it took (0 for a
        closed form).

        No inhibition and no lateral weights: ``v = J``, ``r = phi(J)``. Uniform inhibition of
        ReLU / linear units with ``settle='auto'``: the exact k-WTA fixed point
        (`sim.substrate.kwta.inhibited_fixed_point`). Otherwise `sim.substrate.dynamics.settle`
        with the population's lateral weights: with ``settle='auto'`` it solves the fixed point
        directly where it is provably the unique attractor (ReLU / linear units with lateral
        weights) and integrates elsewhere; ``settle='dynamics'`` always integrates in time, to
        the population's tolerance. A settle that does not converge warns.
        """
        pop = self.populations[l + 1]
        if pop.w_inh == 0 and pop.lateral is None:
            return J, np.asarray(pop.neuron.rate(J), dtype=J.dtype), 0
        if pop.closed_form:
            v, r, _ = inhibited_fixed_point(J, pop.w_inh, pop.neuron)
            return v, r, 0
        tol = self.inhibition_tol if pop.tol is None else pop.tol
        max_steps = self.inhibition_max_steps if pop.max_steps is None else pop.max_steps
        res = settle_population(J, neuron=pop.neuron, tau=pop.tau or 1.0, dt=pop.dt, w_inh=pop.w_inh,
                                lateral=pop.lateral, tol=tol, max_steps=max_steps,
                                method="steps" if pop.settle == "dynamics" else "auto")
        if not res.converged:
            warnings.warn(f"population {pop.name!r}: the dynamics did not settle within {max_steps} steps "
                          f"(max change {res.max_change:.3g})", RuntimeWarning, stacklevel=2)
        return (np.asarray(res.v, dtype=J.dtype), np.asarray(res.rate, dtype=J.dtype), res.steps)

    # ------------------------------------------------------------------ dynamics
    def _initial_state(self, X, v0) -> tuple[list, list]:
        batch = X.shape[0]
        L = self.n_layers
        if v0 is None:
            v0 = [None] * L
        elif isinstance(v0, np.ndarray) or not hasattr(v0, "__len__") or len(v0) != L:
            raise ValidationError("v0", v0, f"must be a list of {L} arrays (one per non-input population) or None")
        v = []
        for l, (init, pop) in enumerate(zip(v0, self.populations[1:])):
            if init is None:
                v.append(np.zeros((batch, pop.n), dtype=self.dtype))
                continue
            arr = check_array(f"v0[{l}]", init, ndim=2, n_features=pop.n, dtype=self.dtype)
            if arr.shape[0] != batch:
                raise ValidationError(f"v0[{l}]", init, f"must have {batch} rows (batch of X), got {arr.shape[0]}")
            v.append(arr.copy())
        rates = [X] + [None] * L
        for l, pop in enumerate(self.populations[1:]):
            if pop.tau > 0:
                rates[l + 1] = np.asarray(pop.neuron.rate(v[l]), dtype=self.dtype)
        self._algebraic_pass(rates, v)
        return rates, v

    def _algebraic_pass(self, rates, v) -> float:
        """Bring instantaneous populations to their steady state, in layer order (in place)."""
        change = 0.0
        for l, (conn, pop) in enumerate(zip(self.connections, self.populations[1:])):
            if pop.tau > 0:
                continue
            J = conn.current(rates[l])
            if pop.w_inh > 0:
                new_v, r = self._settle_inhibited(J, pop, v0=v[l])
            else:
                new_v, r = J, pop.neuron.rate(J)
            change = max(change, float(np.max(np.abs(new_v - v[l]), initial=0.0)))
            v[l], rates[l + 1] = new_v, np.asarray(r, dtype=self.dtype)
        return change

    def _step(self, rates, v, dt) -> float:
        """Advance all populations by ``dt`` in place; return the largest ``|dv|``."""
        change = 0.0
        dynamic = [l for l, pop in enumerate(self.populations[1:]) if pop.tau > 0]
        currents = {l: self.connections[l].current(rates[l]) for l in dynamic}  # all from time t
        for l in dynamic:
            pop = self.populations[l + 1]
            if pop.w_inh > 0:
                res = integrate(currents[l], neuron=pop.neuron, tau=pop.tau, dt=dt, steps=1, v0=v[l], w_inh=pop.w_inh)
                new_v, r = res.v, res.rate
            else:
                new_v = leaky_step(v[l], currents[l], dt, pop.tau)
                r = pop.neuron.rate(new_v)
            new_v = np.asarray(new_v, dtype=self.dtype)
            change = max(change, float(np.max(np.abs(new_v - v[l]), initial=0.0)))
            v[l], rates[l + 1] = new_v, np.asarray(r, dtype=self.dtype)
        return max(change, self._algebraic_pass(rates, v))

    def run(self, X, *, steps, dt, record=False, v0=None) -> RunResult:
        """Integrate all non-input populations simultaneously for ``steps`` steps of size ``dt``.

        Each step holds every feed-forward current ``J_l`` at its value from the rates at
        time ``t`` and advances each population with ``tau > 0`` exactly over ``dt``
        (`sim.substrate.dynamics.leaky_step`, or `sim.substrate.dynamics.integrate` with ``steps=1`` when
        ``w_inh > 0``). Instantaneous populations (``tau = 0``) are then set to their steady
        state given the rates at ``t + dt``, in layer order (so a network whose populations
        all have ``tau = 0`` reproduces :meth:`forward` after one step). The same holds at
        ``t = 0``, whatever ``v0`` says for them.

        Parameters
        ----------
        X : array_like, shape (batch, n_0)
            Input rates, clamped during the run.
        steps : int
            Number of steps (>= 0).
        dt : float
            Step size (> 0), same unit as the ``tau`` values.
        record : bool
            Keep the rates of every non-input population at every step.
        v0 : list of array_like or None, optional
            Initial potentials ``(batch, n_l)`` per non-input population (None entries: zeros).

        Returns
        -------
        RunResult
        """
        X = self._check_X(X)
        steps = check_int("steps", steps, low=0)
        dt = check_number("dt", dt, low=0.0, low_open=True)
        rates, v = self._initial_state(X, v0)
        traces = None
        if record:
            traces = [np.empty((steps + 1,) + r.shape, dtype=self.dtype) for r in rates[1:]]
            for tr, r in zip(traces, rates[1:]):
                tr[0] = r
        change = float("nan")
        for t in range(1, steps + 1):
            change = self._step(rates, v, dt)
            if record:
                for tr, r in zip(traces, rates[1:]):
                    tr[t] = r
        return RunResult(rates=rates, v=v, traces=traces, steps=steps, converged=None, max_change=change)

    def settle(self, X, *, dt, tol=1e-8, max_steps=10000, v0=None, record=False) -> RunResult:
        """Run the dynamics of :meth:`run` until no potential changes by more than ``tol`` per step.

        Parameters
        ----------
        X : array_like, shape (batch, n_0)
            Input rates, clamped.
        dt : float
            Step size (> 0).
        tol : float
            Convergence threshold (> 0) on ``max |v(t + dt) - v(t)|`` over all units. Note the
            per-step change is about ``dt / tau`` times the remaining distance to the fixed
            point; for float32 use ``tol >= 1e-6``.
        max_steps : int
            Step limit (>= 1); ``converged`` is False if it is reached.
        v0 : list of array_like or None, optional
            Initial potentials, as in :meth:`run`.
        record : bool
            Keep the rates at every step (``traces`` of shape ``(steps + 1, batch, n_l)``).

        Returns
        -------
        RunResult
            With ``steps``, ``converged`` and ``max_change`` filled in.
        """
        X = self._check_X(X)
        dt = check_number("dt", dt, low=0.0, low_open=True)
        tol = check_number("tol", tol, low=0.0, low_open=True)
        max_steps = check_int("max_steps", max_steps, low=1)
        rates, v = self._initial_state(X, v0)
        history = [[r.copy() for r in rates[1:]]] if record else None
        change, steps = float("nan"), 0
        while steps < max_steps:
            change = self._step(rates, v, dt)
            steps += 1
            if record:
                history.append([r.copy() for r in rates[1:]])
            if change <= tol:
                break
        traces = None if history is None else [np.stack(h) for h in zip(*history)]
        return RunResult(rates=rates, v=v, traces=traces, steps=steps, converged=bool(change <= tol),
                         max_change=change)
