"""A population of rate units, and the outcome of running a network's dynamics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import ValidationError
from sim.substrate import neurons
from sim.validation import check_choice, check_int, check_number

__all__ = ["Population", "RunResult"]


@dataclass
class Population:
    """A group of ``n`` identical rate units.

    Parameters
    ----------
    n : int
        Number of units (>= 1).
    neuron : str or sim.substrate.neurons.Neuron
        Rate function ``phi`` (see `sim.substrate.neurons.get`); stored as a `Neuron` instance.
    tau : float
        Membrane time constant (same unit as ``dt``), >= 0; 0 means instantaneous
        (the population sits at its steady state).
    w_inh : float
        Strength of uniform lateral inhibition within the population, ``0 <= w_inh < 1``
        (each unit receives ``-w_inh`` times the summed rate of the others; see `sim.substrate.dynamics`).
    name : str
        Label; networks fill in ``"input"``, ``"hidden<i>"``, ``"output"`` when empty.
    lateral : numpy.ndarray, shape (n, n), optional
        Learned lateral weights within the population (zero diagonal), added to the current as
        ``r @ lateral.T``; held by reference, so a rule that learns them updates the population.
    settle : {'auto', 'dynamics'}
        How :meth:`Network.steady_state` finds the settled state: 'auto' uses the closed-form
        fixed point where one exists (ReLU / linear units, uniform inhibition, no lateral
        weights: `sim.substrate.kwta`) or a direct solve where it is provably the unique
        attractor (lateral weights), 'dynamics' always integrates in time.
    dt : float, optional
        Integration step when settling by time steps (default ``tau``).
    tol : float, optional
        Settle tolerance on the largest potential change per step (default: the network's
        ``inhibition_tol``).
    max_steps : int, optional
        Step cap of the settle (default: the network's ``inhibition_max_steps``).

    Notes
    -----
    For the input population of a `Network`, ``neuron``, ``tau`` and ``w_inh`` are not used.
    """

    n: int
    neuron: str | neurons.Neuron = "relu"
    tau: float = 0.0
    w_inh: float = 0.0
    name: str = ""
    lateral: np.ndarray | None = None
    settle: str = "auto"
    dt: float | None = None
    tol: float | None = None
    max_steps: int | None = None

    def __post_init__(self):
        self.n = check_int("n", self.n, low=1)
        self.neuron = neurons.get(self.neuron)
        self.tau = check_number("tau", self.tau, low=0.0)
        self.w_inh = check_number("w_inh", self.w_inh, low=0.0, high=1.0, high_open=True)
        if not isinstance(self.name, str):
            raise ValidationError("name", self.name, "must be a string")
        self.settle = check_choice("settle", self.settle, ("auto", "dynamics"))

    @property
    def closed_form(self) -> bool:
        """Whether the settled state has a closed form (no lateral weights, and either no
        inhibition or piecewise-linear units with ``settle='auto'``): then ``tau`` and ``dt``
        do not change it."""
        if self.lateral is not None:
            return False
        return self.w_inh == 0 or (self.settle == "auto" and self.neuron.piecewise_linear)


@dataclass
class RunResult:
    """Outcome of `Network.run` / `Network.settle`.

    Attributes
    ----------
    rates : list of numpy.ndarray
        ``[X, r_1, ..., r_L]``, shapes ``(batch, n_l)``, at the final time.
    v : list of numpy.ndarray
        ``[v_1, ..., v_L]`` (non-input populations), shapes ``(batch, n_l)``.
    traces : list of numpy.ndarray or None
        With ``record=True``: the rates of each non-input population at every time step,
        shapes ``(steps + 1, batch, n_l)`` (index 0 is the initial state).
    steps : int
        Number of time steps taken.
    converged : bool or None
        For `Network.settle`: whether ``max_change <= tol``; None for `Network.run`.
    max_change : float
        Largest ``|v(t + dt) - v(t)|`` over all units in the last step (NaN if no step).
    """

    rates: list
    v: list
    traces: list | None = None
    steps: int = 0
    converged: bool | None = None
    max_change: float = float("nan")
