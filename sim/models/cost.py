"""What one inference costs a model: synaptic operations, active units, settle steps, memory, energy.

Counted on the model's own network (`sim.substrate.network.Network`), per input, averaged over the
inputs given:

- **dense MACs**: every synapse of every connection multiplies and accumulates once (the number
  of synapses: ``n_pre x n_post``, or the non-zero entries of a fixed ``p_connect`` mask);
- **synaptic events**: an event-driven circuit only propagates non-zero presynaptic activity, so
  connection ``l`` costs ``sum_j [f_j != 0] fanout_j`` (``f`` the features the synapses see: the
  input pixels, the hidden rates or the readout's ``r^n`` features; ``fanout_j`` the synapses
  leaving unit ``j``). Rates are analog, so each event is still a multiply-accumulate;
- **active fraction** of each hidden population (rate != 0; > 0.5 for sigmoid units);
- **settle steps** of time-stepped stages (the steps until the whole batch ``X`` settled, an upper
  bound per input; 0 where the settled state is in closed form: a
  physical circuit would still need about ``5 tau / (1 - w_inh)`` to settle, see SCIENCE.md) and
  the lateral operations they take: with uniform inhibition one pooled sum of the rates and one
  subtraction per unit per step (``2 n`` additions), with learned lateral weights one event per
  active unit and lateral synapse per step;
- **weight memory**: bytes of every weight, bias and lateral weight at the model's dtype.

Energy (picojoules) uses the 45 nm, 0.9 V figures of M. Horowitz, "Computing's energy problem
(and what we can do about it)", ISSCC 2014, pp. 10-14: 32-bit float add 0.9 pJ, 32-bit float
multiply 3.7 pJ, and a 64-bit read of an 8 KB SRAM 10 pJ, i.e. 5 pJ per 32-bit weight read. A MAC
costs multiply + add + one weight read (9.6 pJ); each bias costs an add, each feature-map
operation of the readout (``r^n``: n - 1 multiplies; RMS scaling: one more) a multiply, each
lateral addition an add. Larger memories cost more per read (Horowitz: 20 pJ at 32 KB, 100 pJ
at 1 MB per 64 bits); the 8 KB figure is the optimistic floor. Nonlinearities, the softmax and
control are not charged. "Energy per correct answer" is the energy per inference divided by
the accuracy.
"""

from __future__ import annotations

import math

import numpy as np

from sim.models.input_gradient import network_forward
from sim.substrate import neurons
from sim.validation import check_array, check_number

__all__ = ["HOROWITZ_45NM", "inference_cost"]

#: Energy per operation in picojoules (Horowitz 2014, 45 nm, 0.9 V; the read is half a 64-bit 8 KB access).
HOROWITZ_45NM = {"fp32_add": 0.9, "fp32_mult": 3.7, "sram_read_32bit": 5.0}


def _fanout(conn) -> np.ndarray:
    """Synapses leaving each presynaptic feature (n_pre,)."""
    mask = conn.mask
    if mask is None:
        return np.full(conn.n_pre, conn.n_post, dtype=np.float64)
    return np.count_nonzero(mask, axis=0).astype(np.float64)


def _feature_ops(conn) -> int:
    """Multiplies per presynaptic unit of a connection's feature map (``r^n`` and RMS scaling)."""
    fmap = conn.pre_map
    if fmap is None:
        return 0
    return int(math.ceil(fmap.power) - 1) + (1 if fmap.scaled() else 0)


def inference_cost(model, X, accuracy: float | None = None, energy: dict | None = None) -> dict:
    """Synaptic operations, activity, settle steps, memory and energy of one inference.

    Parameters
    ----------
    model : fitted model of `sim.models`
    X : array_like, shape (n, n_features)
        Inputs the counts are averaged over (e.g. the test split).
    accuracy : float in (0, 1], optional
        Accuracy to divide by for the energy per correct answer (None: not computed).
    energy : dict, optional
        Picojoules per ``fp32_add``, ``fp32_mult`` and ``sram_read_32bit``; default `HOROWITZ_45NM`.

    Returns
    -------
    dict
        ``stages``: per connection ``{"pre", "post", "synapses", "events", "active_fraction",
        "settle_steps", "lateral_ops", "feature_ops"}`` (per inference; ``active_fraction`` of the
        postsynaptic population, NaN for the output); totals ``dense_macs``, ``events``,
        ``lateral_ops``, ``settle_steps``, ``weight_bytes``, ``energy_dense_pj``,
        ``energy_event_pj`` and, with ``accuracy``, ``energy_per_correct_dense_pj`` and
        ``energy_per_correct_event_pj``.
    """
    model.check_fitted()
    X = check_array("X", X, n_features=model.n_features_in_, dtype=np.float64)
    e = {**HOROWITZ_45NM, **(energy or {})}
    mac = e["fp32_mult"] + e["fp32_add"] + e["sram_read_32bit"]
    network = model.network_
    itemsize = np.dtype(network.dtype).itemsize
    fwd = network_forward(network, X)
    stages, weight_bytes = [], 0
    n_adds = n_mults = 0.0  # per inference: biases and lateral additions; feature-map multiplies
    for l, conn in enumerate(network.connections):
        pre_rates = fwd["rates"][l]
        F = pre_rates if conn.pre_map is None else conn.pre_map(pre_rates)
        fanout = _fanout(conn)
        synapses = float(fanout.sum())
        events = float(np.mean((F != 0) @ fanout))
        pop = network.populations[l + 1]
        rates = fwd["rates"][l + 1]
        last = l == network.n_layers - 1
        threshold = 0.5 if isinstance(pop.neuron, neurons.Sigmoid) else 0.0
        active = rates > threshold
        steps = float(fwd["steps"][l])
        if pop.lateral is not None:
            lateral = steps * float(np.mean(np.count_nonzero(active, axis=1))) * np.count_nonzero(pop.lateral) / pop.n
        elif pop.w_inh > 0:
            lateral = steps * 2.0 * pop.n
        else:
            lateral = 0.0
        feature_ops = float(_feature_ops(conn) * conn.n_source)
        stages.append({"pre": int(conn.n_pre), "post": int(conn.n_post), "synapses": synapses, "events": events,
                       "active_fraction": float("nan") if last else float(np.mean(active)),
                       "settle_steps": steps, "lateral_ops": float(lateral), "feature_ops": feature_ops})
        n_adds += (conn.n_post if conn.has_bias else 0) + lateral
        n_mults += feature_ops
        weight_bytes += (conn.W.size + (conn.b.size if conn.has_bias else 0)) * itemsize
        if pop.lateral is not None:
            weight_bytes += int(np.count_nonzero(pop.lateral)) * itemsize
    dense = sum(s["synapses"] for s in stages)
    events = sum(s["events"] for s in stages)
    other = n_adds * e["fp32_add"] + n_mults * e["fp32_mult"]
    out = {"stages": stages, "dense_macs": dense, "events": events,
           "lateral_ops": sum(s["lateral_ops"] for s in stages),
           "settle_steps": sum(s["settle_steps"] for s in stages), "weight_bytes": int(weight_bytes),
           "energy_dense_pj": dense * mac + other, "energy_event_pj": events * mac + other}
    if accuracy is not None:
        acc = check_number("accuracy", accuracy, low=0.0, high=1.0, low_open=True)
        out["energy_per_correct_dense_pj"] = out["energy_dense_pj"] / acc
        out["energy_per_correct_event_pj"] = out["energy_event_pj"] / acc
    return out
