"""Cost accounting against counts worked by hand on tiny networks."""

from __future__ import annotations

import numpy as np
import pytest

from sim import tasks
from sim.errors import ValidationError
from sim.models import BackpropMLP, HebbianNet
from sim.models.cost import HOROWITZ_45NM, inference_cost


@pytest.fixture(scope="module")
def task3():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    return tasks.from_arrays(X, (X[:, 0] > 0).astype(int), seed=0)


def test_hand_worked_counts_of_a_3_2_2_relu_network(task3):
    """X = [[1, 0, 2], [0, 0, -1]], W1 = [[1, 0, 0], [0, 0, 1]], b1 = 0: hidden currents [1, 2]
    (both active) and [0, -1] (none active).

    Layer 1: 6 synapses; events: 2 non-zero inputs x fan-out 2 = 4, then 1 x 2 = 2: mean 3.
    Layer 2: 4 synapses; events: 2 active x 2 = 4, then 0: mean 2. Totals: 10 dense MACs, 5 events;
    hidden active fraction 2 / 4. Weights 6 + 2 + 4 + 2 = 14 float32 = 56 bytes.
    Energy: a MAC is 3.7 + 0.9 + 5 = 9.6 pJ, the 4 biases 4 x 0.9 = 3.6 pJ: dense 99.6 pJ,
    event-driven 51.6 pJ; at accuracy 0.5, 199.2 and 103.2 pJ per correct answer.
    """
    model = BackpropMLP(hidden=(2,), seed=0)
    model.fit(task3, epochs=1)
    c1, c2 = model.network_.connections
    c1.W[...] = [[1, 0, 0], [0, 0, 1]]
    c1.b[...] = 0
    c2.W[...] = [[1, -1], [0.5, 2]]
    c2.b[...] = [0.1, -0.1]
    X = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, -1.0]])
    cost = inference_cost(model, X, accuracy=0.5)
    s1, s2 = cost["stages"]
    assert (s1["synapses"], s1["events"], s2["synapses"], s2["events"]) == (6, 3, 4, 2)
    assert s1["active_fraction"] == 0.5 and np.isnan(s2["active_fraction"])
    assert (cost["dense_macs"], cost["events"], cost["weight_bytes"]) == (10, 5, 56)
    assert cost["settle_steps"] == 0 and cost["lateral_ops"] == 0
    assert cost["energy_dense_pj"] == pytest.approx(99.6)
    assert cost["energy_event_pj"] == pytest.approx(51.6)
    assert cost["energy_per_correct_dense_pj"] == pytest.approx(199.2)
    assert cost["energy_per_correct_event_pj"] == pytest.approx(103.2)
    assert HOROWITZ_45NM == {"fp32_add": 0.9, "fp32_mult": 3.7, "sram_read_32bit": 5.0}


def test_a_fixed_mask_counts_only_its_synapses(task3):
    """p_connect keeps some synapses of layer 1: dense MACs = mask entries; events use each input's
    own fan-out (the mask's column counts)."""
    model = BackpropMLP(hidden=(4,), p_connect=0.5, seed=3, dtype="float64")
    model.fit(task3, epochs=1)
    mask = model.network_.connections[0].mask
    assert 0 < mask.sum() < mask.size
    X = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 3.0]])
    s1 = inference_cost(model, X)["stages"][0]
    fan = mask.sum(axis=0)
    assert s1["synapses"] == mask.sum()
    assert s1["events"] == pytest.approx((fan[0] + fan[1] + fan[2]) / 2)
    assert inference_cost(model, X)["weight_bytes"] == (3 * 4 + 4 + 4 * 2 + 2) * 8


def test_hebbian_readout_features_and_k_wta_activity(task3):
    """r^3 readout with RMS scaling: 2 + 1 multiplies per hidden unit; the active fraction is the
    k-WTA code's; the closed-form settle takes no steps."""
    model = HebbianNet(hidden=8, rule="competitive", w_inh=0.3, readout_power=3.0, seed=0)
    model.fit(task3, epochs=4)
    X = task3.X_test
    cost = inference_cost(model, X)
    hidden, readout = cost["stages"]
    R = model.hidden_rates(X)
    assert hidden["active_fraction"] == pytest.approx(np.mean(R > 0))
    assert readout["events"] == pytest.approx(np.mean(np.count_nonzero(R, axis=1)) * 2, rel=1e-6)
    assert readout["feature_ops"] == 8 * 3
    assert hidden["settle_steps"] == 0 and cost["lateral_ops"] == 0
    extra = (8 + 2) * 0.9 + 24 * 3.7  # biases of both connections, readout feature multiplies
    assert cost["energy_event_pj"] == pytest.approx(cost["events"] * 9.6 + extra)


def test_time_stepped_inhibition_costs_two_adds_per_unit_and_step(task3):
    model = HebbianNet(hidden=10, rule="competitive", w_inh=0.3, settle="dynamics", dt=5.0, seed=0)
    model.fit(task3, epochs=2)
    cost = inference_cost(model, task3.X_test[:20])
    hidden = cost["stages"][0]
    assert hidden["settle_steps"] > 1
    assert hidden["lateral_ops"] == 2 * 10 * hidden["settle_steps"]


def test_bad_accuracy_is_refused(task3):
    model = BackpropMLP(hidden=(2,), seed=0)
    model.fit(task3, epochs=1)
    with pytest.raises(ValidationError) as err:
        inference_cost(model, task3.X_test, accuracy=0.0)
    assert err.value.parameter == "accuracy"
