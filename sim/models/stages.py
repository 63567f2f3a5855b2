"""Hidden-stage parameters shared by every model: dynamics and structural constraints.

A hidden stage is a population and the connection into it. Its **dynamics** is the same in
every model: ``tau dv/dt = -v + J - w_inh sum_{j != i} r_j (+ lateral)``, settled to its
fixed point for each input (`sim.substrate.network.Network.steady_state`): ``w_inh = 0`` is the
steady state ``r = phi(J)`` (an MLP layer); ``w_inh > 0`` with ReLU / linear units is the
closed-form k-WTA fixed point, for which ``tau`` and ``dt`` do not matter (the dynamics axis is
then inhibition on / off); other units, learned lateral weights or ``settle='dynamics'`` are
integrated. Its **constraints** are those of `sim.substrate.connections.Connection`: Dale's
law, a fixed sparsity mask, weight bounds and a row-norm ceiling, imposed after every update.

The constraint table here is declared once and merged into each model's own table.
"""

from __future__ import annotations

import numbers

import numpy as np

from sim.constraints import Choice, Int, Optional, Real, Satisfies
from sim.errors import ValidationError
from sim.substrate.population import Population
from sim.validation import check_number

__all__ = ["STAGE_CONSTRAINTS", "MAX_WEIGHTS", "check_weight_count", "check_w_inh", "per_stage", "stage_populations",
           "connection_kwargs", "constrained"]


def per_stage(name, value, n_stages: int, *, low=0.0, high=1.0, high_open=True) -> tuple:
    """A number or one number per hidden stage, as a tuple of ``n_stages`` floats."""
    if isinstance(value, (tuple, list)):
        if len(value) != n_stages:
            raise ValidationError(name, value, f"must be one number or {n_stages} (one per hidden stage)")
        return tuple(check_number(name, x, low=low, high=high, high_open=high_open) for x in value)
    return (check_number(name, value, low=low, high=high, high_open=high_open),) * n_stages


def _w_inh(name, value):
    values = value if isinstance(value, (tuple, list)) else [value]
    if not values:
        raise ValidationError(name, value, "must be a number in [0, 1) or one per hidden stage")
    for x in values:
        check_number(name, x, low=0.0, high=1.0, high_open=True)


def _bounds(name, value):
    if value is None:
        return
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValidationError(name, value, "must be a pair (lo, hi); None for an open end")
    lo, hi = (-np.inf if value[0] is None else value[0]), (np.inf if value[1] is None else value[1])
    for x in (lo, hi):
        if not isinstance(x, numbers.Real) or isinstance(x, bool) or np.isnan(x):
            raise ValidationError(name, value, "ends must be numbers or None")
    if lo > hi:
        raise ValidationError(name, value, "lo must be <= hi")


STAGE_CONSTRAINTS = {
    "tau": Real(low=0.0, low_open=True),
    "dt": Optional(Real(low=0.0, low_open=True)),
    "settle": Choice(("auto", "dynamics")),
    "settle_tol": Real(low=0.0, low_open=True),
    "max_steps": Int(low=1),
    "dale": Optional(Real(low=0.0, high=1.0)),
    "p_connect": Real(low=0.0, low_open=True, high=1.0),
    "bounds": Satisfies(_bounds),
    "max_norm": Optional(Real(low=0.0, low_open=True)),
}
"""Dynamics (``tau``, ``dt``, ``settle``, ``settle_tol``, ``max_steps``) and constraints (``dale``,
``p_connect``, ``bounds``, ``max_norm``) of the hidden stages; ``w_inh`` is validated by
``check_w_inh`` since its default differs between models."""

check_w_inh = Satisfies(_w_inh)

MAX_WEIGHTS = 2 * 10**8  # most weights between consecutive hidden stages: 0.8 GB in float32


def check_weight_count(name, sizes) -> None:
    """Refuse consecutive hidden stages whose weight matrix alone would exhaust memory."""
    for a, b in zip(sizes[:-1], sizes[1:]):
        if a * b > MAX_WEIGHTS:
            raise ValidationError(name, tuple(sizes), f"stages of {a} and {b} units need {a * b:.3g} weights "
                                  f"(at most {MAX_WEIGHTS:.0e})")


def stage_populations(model, sizes, phi, w_inh) -> list[Population]:
    """The hidden populations of ``model`` (its ``tau``, ``dt``, ``settle``, ``settle_tol`` and
    ``max_steps``), one per size, with inhibition ``w_inh[i]``."""
    return [Population(n, phi, tau=float(model.tau), w_inh=float(w), settle=model.settle, dt=model.dt,
                       tol=float(model.settle_tol), max_steps=int(model.max_steps))
            for n, w in zip(sizes, w_inh)]


def connection_kwargs(model) -> dict:
    """Constraint keyword arguments of `Connection` for the hidden stages of ``model``."""
    kwargs = {}
    if model.dale is not None:
        kwargs["dale"] = float(model.dale)
    if float(model.p_connect) < 1.0:
        kwargs["p_connect"] = float(model.p_connect)
    if model.bounds is not None:
        kwargs["bounds"] = tuple(model.bounds)
    if model.max_norm is not None:
        kwargs["max_norm"] = float(model.max_norm)
    return kwargs


def constrained(model) -> bool:
    """Whether ``model``'s hidden connections carry a constraint to re-impose after updates."""
    return bool(connection_kwargs(model))
