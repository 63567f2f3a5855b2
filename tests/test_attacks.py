"""Attacks against closed forms on linear models, and their constraints on nonlinear ones.

For a linear softmax classifier ``z = W x + b``, the margin ``z_b - z_y`` changes by
``(w_b - w_y) . delta``; over ``||delta||_inf <= eps`` its largest increase is
``eps ||w_b - w_y||_1`` (at ``delta = eps sign(w_b - w_y)``), over ``||delta||_2 <= eps`` it is
``eps ||w_b - w_y||_2`` (Hoelder's inequality, attained). The untargeted worst case is the largest
of these over ``b != y``. No attack may exceed it, and PGD must reach it.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import tasks
from sim.errors import ValidationError
from sim.models import BackpropMLP, HebbianNet
from sim.models.attacks import data_range, fgsm, margin, pgd, project, robustness_curve, spsa, transfer


def linear_task(n_classes, seed=0, d=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, d))
    centres = rng.normal(size=(n_classes, d)) * 1.5
    y = np.argmin(((X[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    return tasks.from_arrays(X, y, seed=seed)


@pytest.fixture(scope="module")
def binary():
    task = linear_task(2)
    model = BackpropMLP(hidden=(), dtype="float64", lr=0.05, seed=0)
    model.fit(task, epochs=5)
    return task, model


@pytest.fixture(scope="module")
def three():
    task = linear_task(3, seed=1)
    model = BackpropMLP(hidden=(), dtype="float64", lr=0.05, seed=0)
    model.fit(task, epochs=5)
    return task, model


def worst_margin(model, X, y, eps, q):
    """Closed-form largest margin over the q-ball (q = 1 for the L-inf attack, 2 for L2)."""
    W, b = model.network_.connections[0].W, model.network_.connections[0].b
    Z = X @ W.T + b
    best = np.full(len(y), -np.inf)
    for k in range(W.shape[0]):
        cand = Z[:, k] - Z[np.arange(len(y)), y] + eps * np.linalg.norm(W[k] - W[y], ord=q, axis=1)
        best = np.where(k == y, best, np.maximum(best, cand))
    return best


def test_fgsm_is_eps_sign_gradient_on_a_linear_model(three):
    task, model = three
    X, y = task.X_test[:40], task.y_test[:40]
    W, b = model.network_.connections[0].W, model.network_.connections[0].b
    Z = X @ W.T + b
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    g = (P - np.eye(3)[y]) @ W  # dL/dx of the cross-entropy, by hand
    eps = 0.1
    np.testing.assert_array_equal(fgsm(model, X, y, eps, "linf"), X + eps * np.sign(g))  # exactly
    np.testing.assert_allclose(fgsm(model, X, y, eps, "l2") - X, eps * g / np.linalg.norm(g, axis=1, keepdims=True),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("norm,q", [("linf", 1), ("l2", 2)])
def test_pgd_reaches_the_closed_form_worst_case_on_logistic_regression(binary, norm, q):
    task, model = binary
    X, y = task.X_test[:60], task.y_test[:60]
    eps = 0.3
    reached = margin(model, pgd(model, X, y, eps, norm, steps=20), y)
    np.testing.assert_allclose(reached, worst_margin(model, X, y, eps, q), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("norm,q", [("linf", 1), ("l2", 2)])
def test_multi_targeted_pgd_reaches_the_worst_case_of_three_classes(three, norm, q):
    task, model = three
    X, y = task.X_test[:60], task.y_test[:60]
    eps = 0.4
    bound = worst_margin(model, X, y, eps, q)
    reached = margin(model, pgd(model, X, y, eps, norm, steps=30), y)
    np.testing.assert_allclose(reached, bound, rtol=1e-8, atol=1e-8)
    # the untargeted margin follows the leading class: never above the bound, short of it on some inputs
    untargeted = margin(model, pgd(model, X, y, eps, norm, steps=30, restarts=4, multi_target=False,
                                   rng=np.random.default_rng(0)), y)
    assert np.all(untargeted <= bound + 1e-9)
    assert np.any(untargeted < bound - 1e-3)


@pytest.mark.parametrize("norm,q", [("linf", 1), ("l2", 2)])
def test_spsa_finds_the_closed_form_attack_approximately(binary, norm, q):
    task, model = binary
    X, y = task.X_test[:40], task.y_test[:40]
    eps = 0.3
    m0 = margin(model, X, y)
    gain = worst_margin(model, X, y, eps, q) - m0
    reached = margin(model, spsa(model, X, y, eps, norm, steps=20, n_samples=32, rng=np.random.default_rng(1)), y)
    assert np.all(reached - m0 <= gain + 1e-9)
    assert np.all(reached - m0 >= 0.95 * gain)


@pytest.fixture(scope="module")
def hebbian_box():
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(300, 8))
    y = (X[:, :4].sum(1) > X[:, 4:].sum(1)).astype(int)
    task = tasks.from_arrays(X, y, seed=0, scale="none")
    model = HebbianNet(hidden=20, rule="competitive", w_inh=0.3, seed=0)
    model.fit(task, epochs=6)
    return task, model


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("attack", ["pgd", "spsa", "fgsm"])
def test_attacks_stay_in_the_ball_and_the_data_range(hebbian_box, norm, attack):
    task, model = hebbian_box
    lo, hi = data_range(task.X_train)
    assert 0.0 <= lo < hi <= 1.0
    X, y = task.X_test[:30].astype(np.float64), task.y_test[:30]
    eps = 0.3 if norm == "linf" else 0.8
    kwargs = {} if attack == "fgsm" else {"steps": 10}
    if attack == "spsa":
        kwargs.update(rng=np.random.default_rng(0), n_samples=8)
    X_adv = {"pgd": pgd, "spsa": spsa, "fgsm": fgsm}[attack](model, X, y, eps, norm, lo, hi, **kwargs)
    delta = X_adv - X
    size = np.abs(delta).max(1) if norm == "linf" else np.linalg.norm(delta, axis=1)
    assert np.all(size <= eps * (1 + 1e-12))
    assert X_adv.min() >= lo and X_adv.max() <= hi
    assert np.any(size > 0.5 * eps)  # it did move


def test_pgd_lowers_accuracy_and_the_curve_reports_the_worst_case(hebbian_box):
    task, model = hebbian_box
    lo, hi = data_range(task.X_train)
    X, y = task.X_test[:60], task.y_test[:60]
    curve = robustness_curve(model, X, y, [0.0, 0.1, 0.3], "linf", lo, hi, steps=10, spsa_steps=10,
                             spsa_samples=8, spsa_all=True, rng=np.random.default_rng(0))
    clean = model.score(X, y)
    for k in ("fgsm", "pgd", "spsa", "worst"):
        assert curve[k][0] == pytest.approx(clean)
    for i in range(3):
        assert curve["worst"][i] <= min(curve["fgsm"][i], curve["pgd"][i], curve["spsa"][i]) + 1e-12
        assert 0 <= curve["spsa_only"][i] <= 1 and 0 <= curve["gradient_only"][i] <= 1
        # worst = correct and survived all three: 1 - (broken by a gradient attack or SPSA alone)
        assert curve["worst"][i] + curve["spsa_only"][i] <= min(curve["fgsm"][i], curve["pgd"][i]) + 1e-12
    assert curve["pgd"][2] < clean - 0.2
    # SPSA on the survivors only: the same kind of worst case, SPSA's own accuracy undefined
    cheap = robustness_curve(model, X, y, [0.0, 0.3], "linf", lo, hi, steps=10, spsa_steps=10, spsa_samples=8,
                             rng=np.random.default_rng(0))
    assert np.isnan(cheap["spsa"]).all() and np.isnan(cheap["gradient_only"]).all()
    assert cheap["worst"][0] == pytest.approx(clean) and cheap["pgd"] == [curve["pgd"][0], curve["pgd"][2]]
    assert cheap["worst"][1] <= min(cheap["fgsm"][1], cheap["pgd"][1])


def test_transfer_to_the_same_model_is_the_white_box_attack(binary):
    task, model = binary
    X, y = task.X_test[:50], task.y_test[:50]
    white = float(np.mean(model.predict(pgd(model, X, y, 0.5, "l2", steps=10)) == y))
    assert transfer(model, model, X, y, [0.5], "l2", steps=10) == [white]
    assert white < model.score(X, y)


def test_project_clips_to_ball_then_box():
    X = np.array([[0.5, 0.5]])
    np.testing.assert_allclose(project([[2.0, 0.5]], X, 0.3, "linf", 0, 1), [[0.8, 0.5]])
    np.testing.assert_allclose(project([[0.5 + 3, 0.5 + 4]], X, 1.0, "l2"), [[0.5 + 0.6, 0.5 + 0.8]])
    np.testing.assert_allclose(project([[0.5 + 3, 0.5 + 4]], X, 1.0, "l2", 0, 1), [[1.0, 1.0]])


def test_bad_arguments_are_refused(binary):
    task, model = binary
    X, y = task.X_test[:3], task.y_test[:3]
    for kwargs, param in (({"norm": "l1"}, "norm"), ({"eps": -0.1}, "eps"), ({"steps": 0}, "steps")):
        args = {"eps": 0.1, "norm": "linf", **kwargs}
        with pytest.raises(ValidationError) as err:
            pgd(model, X, y, **args)
        assert err.value.parameter == param
    with pytest.raises(ValidationError) as err:
        fgsm(model, X, y, 0.1, "linf", lo=1.0, hi=0.0)
    assert err.value.parameter == "lo"
