"""Time-stepped population dynamics, ours and Nengo's reference simulator, on equal terms.

The network (both sides): 64 inputs -> 256 rectified-linear leaky integrators with uniform
lateral inhibition 0.3 and no plasticity, ``tau dv/dt = -v + W x - 0.3 sum_{j != i} r_j``,
``r = max(v, 0)``, tau = 10 ms, dt = 1 ms, every input presented for 100 ms with every step's
state computed, the state carried over from one input to the next (no reset), the same fixed
``W`` (256 x 64) and the same digits.

* Ours: per input (batch 1) or per 20 inputs side by side (batch 20), ``J = X @ W.T`` and
  ``sim.substrate.dynamics.integrate(J, neuron='relu', tau=10.0, dt=1.0, steps=100,
  w_inh=0.3, v0=previous v, record=True)``: the default scheme for these units is the exact
  event-driven flow (`sim.substrate.event_driven`), which could give the end state without the
  steps in between; ``record=True`` makes it compute and store the state of every one of the
  100 steps (a (100, batch, 256) float32 trace per input), the work Nengo does each step.
  ``record=False`` (the end state only) is timed too, for information, never compared.
* Nengo: a ``nengo.Node(PresentInput(X, 0.1))`` into the ``.neurons`` of a 256-unit
  ``RectifiedLinear`` ensemble (gain 1, bias 0), lowpass synapses of 10 ms (so each unit's
  input current is the same leaky integral of the same currents), run by the reference
  simulator (``nengo.Simulator``, dt = 1 ms). The inhibition is wired two ways and the faster
  is the reference: ``dense`` (a 256 x 256 recurrent transform ``-0.3 (1 - I)``) and ``sum``
  (the rates summed into a one-dimensional passthrough node and sent back as ``-0.3 sum``,
  plus ``+0.3 r_i`` on a neuron-to-neuron connection: O(N) per step, like ours). Batch 20 is
  compared with 20 independent copies of the network in one Nengo model, each fed its own
  inputs (copy c gets inputs c, c + 20, ...: ours batch i holds inputs 20 i ... 20 i + 19).

Both sides report neuron-steps per second (hidden units x steps x copies / seconds; the input
units are not counted). `agreement` checks that the two compute the same thing (the rates at
the end of each presentation; Nengo's recurrent synapse adds one step of delay).
"""

from __future__ import annotations

import time

import numpy as np

from sim.substrate.dynamics import integrate

N_HIDDEN, W_INH, TAU_MS, DT_MS, STEPS = 256, 0.3, 10.0, 1.0, 100


def fixed_weights(n_in: int, n: int = N_HIDDEN, seed: int = 0) -> np.ndarray:
    """The fixed input weights ``W`` (n, n_in), float32, scaled so currents are of order 1."""
    return (np.random.default_rng(seed).standard_normal((n, n_in)) / np.sqrt(n_in)).astype(np.float32)


def ours(X, W, batch: int, presentations: int, record_end: bool = False, every_step: bool = True) -> dict:
    """Time our dynamics over ``presentations`` successive inputs per row of the batch.

    ``every_step``: compute (and keep, for the presentation) the state at every step.
    Returns ``{'seconds', 'neuron_steps', 'neuron_steps_per_s'}`` (and with ``record_end`` the
    rates at the end of every presentation, shape (presentations, batch, n))."""
    X = np.asarray(X, dtype=np.float32)
    n = W.shape[0]
    v = np.zeros((batch, n), dtype=np.float32)
    ends = []
    t0 = time.perf_counter()
    for i in range(presentations):
        J = X[i * batch:(i + 1) * batch] @ W.T
        res = integrate(J, neuron="relu", tau=TAU_MS, dt=DT_MS, steps=STEPS, w_inh=W_INH, v0=v, record=every_step)
        v = res.v
        if record_end:
            ends.append(res.rate)
    seconds = time.perf_counter() - t0
    work = n * STEPS * batch * presentations
    out = {"seconds": seconds, "neuron_steps": work, "neuron_steps_per_s": work / seconds}
    if record_end:
        out["end_rates"] = np.array(ends)
    return out


def build(nengo, X, W, copies: int = 1, wiring: str = "dense", probe: bool = False):
    """The Nengo model: ``copies`` independent 64 -> N networks; returns (network, probes)."""
    n, n_in = W.shape
    syn = nengo.Lowpass(TAU_MS / 1000)
    probes = []
    with nengo.Network(seed=0) as net:
        for c in range(copies):
            stim = nengo.Node(nengo.processes.PresentInput(X[c::copies], STEPS * DT_MS / 1000), size_out=n_in)
            hid = nengo.Ensemble(n, 1, neuron_type=nengo.RectifiedLinear(), gain=np.ones(n), bias=np.zeros(n))
            nengo.Connection(stim, hid.neurons, transform=W, synapse=syn)
            if wiring == "dense":
                nengo.Connection(hid.neurons, hid.neurons, transform=-W_INH * (1 - np.eye(n)), synapse=syn)
            else:
                total = nengo.Node(size_in=1)
                nengo.Connection(hid.neurons, total, transform=np.ones((1, n)), synapse=None)
                nengo.Connection(total, hid.neurons, transform=-W_INH * np.ones((n, 1)), synapse=syn)
                nengo.Connection(hid.neurons, hid.neurons, transform=W_INH, synapse=syn)
            if probe:
                probes.append(nengo.Probe(hid.neurons))
    return net, probes


def nengo_rate(X, W, copies: int = 1, presentations: int = 20, repeats: int = 3) -> dict | None:
    """Nengo's neuron-steps/s for ``copies`` copies (best wiring), or None without Nengo.

    Per wiring: build once, warm up 100 steps, then the median (and the fastest) of ``repeats``
    runs of ``presentations`` x 100 steps."""
    try:
        import nengo
    except ImportError:
        return None
    n = W.shape[0]
    steps = presentations * STEPS
    by_wiring = {}
    for wiring in ("dense", "sum"):
        net, _ = build(nengo, X, W, copies, wiring)
        with nengo.Simulator(net, dt=DT_MS / 1000, progress_bar=False, optimize=True) as sim:
            sim.run_steps(STEPS)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                sim.run_steps(steps)
                times.append(time.perf_counter() - t0)
        seconds = float(np.median(times))
        by_wiring[wiring] = {"seconds": seconds, "fastest_seconds": float(np.min(times)), "steps": steps,
                             "neuron_steps_per_s": n * copies * steps / seconds,
                             "best_neuron_steps_per_s": n * copies * steps / float(np.min(times))}
    best = max(by_wiring, key=lambda w: by_wiring[w]["neuron_steps_per_s"])
    return {"version": nengo.__version__, "copies": copies, "wiring": best, "by_wiring": by_wiring,
            "neuron_steps_per_s": by_wiring[best]["neuron_steps_per_s"],
            "best_neuron_steps_per_s": max(v["best_neuron_steps_per_s"] for v in by_wiring.values())}


def agreement(X, W, presentations: int = 3) -> float | None:
    """Largest difference between Nengo's and our rates at the end of each presentation,
    relative to the largest rate (one copy, dense wiring); None without Nengo."""
    try:
        import nengo
    except ImportError:
        return None
    net, (probe,) = build(nengo, X, W, 1, "dense", probe=True)
    with nengo.Simulator(net, dt=DT_MS / 1000, progress_bar=False) as sim:
        sim.run_steps(presentations * STEPS)
        theirs = sim.data[probe][STEPS - 1::STEPS]
    mine = ours(X, W, 1, presentations, record_end=True)["end_rates"][:, 0]
    return float(np.max(np.abs(theirs - mine)) / max(float(np.max(np.abs(mine))), 1e-12))
