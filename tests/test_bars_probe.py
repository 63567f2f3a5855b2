"""The bars multi-label probe and the bars-learned score (`sim.study.probes`), against hand-built
codes and weights, and their place in a study run's evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, pearsonr

from sim import tasks
from sim.errors import ValidationError
from sim.models import presets
from sim.study import probes
from sim.tasks.toys import bar_templates


@pytest.fixture(scope="module")
def bars_task():
    return tasks.load("bars", seed=3)


def _splits(task):
    return ((task.X_train, task.meta["bars_train"]), (task.X_val, task.meta["bars_val"]),
            (task.X_test, task.meta["bars_test"]))


def test_the_task_carries_which_bars_are_on_per_split(bars_task):
    t = bars_task
    T = bar_templates(8)
    for X, on in _splits(t):
        assert on.shape == (X.shape[0], 16) and on.dtype == bool
        np.testing.assert_array_equal(X, np.minimum(on @ T, 1.0))  # the images are the bars that are on
    assert "secondary" in t.meta["description"]


def test_a_code_that_is_the_bars_decodes_exactly(bars_task):
    (_, a), (_, b), (_, c) = _splits(bars_task)
    rng = np.random.default_rng(0)
    # the bars themselves, in a shuffled order with a scale per unit: a perfect code
    perm, scale = rng.permutation(16), rng.uniform(0.5, 2.0, 16)
    code = [on[:, perm] * scale for on in (a, b, c)]
    r = probes.multilabel_probe(code[0], a, code[1], b, code[2], c)
    assert r["exact_match"] == 1.0 and r["balanced"] == 1.0 and r["n_bars"] == 16


def test_a_noise_code_decodes_at_chance(bars_task):
    (_, a), (_, b), (_, c) = _splits(bars_task)
    rng = np.random.default_rng(1)
    noise = [rng.standard_normal((on.shape[0], 24)) for on in (a, b, c)]
    r = probes.multilabel_probe(noise[0], a, noise[1], b, noise[2], c)
    # chance: the best guess ignores the code and says "off" for every bar (p = 1/8 on), which is
    # exactly right when no bar is on: P = (7/8)^16 = 0.118; balanced accuracy 0.5 per bar
    chance = (1 - 0.125) ** 16
    # 1000 test images: 4 binomial SDs around that chance level
    lo, hi = binom.ppf([3e-5, 1 - 3e-5], c.shape[0], chance) / c.shape[0]
    assert lo <= r["exact_match"] <= hi, (r, lo, hi)
    assert abs(r["balanced"] - 0.5) < 0.03
    # and the check can fail: the same noise with the bars added is decoded
    code = [np.hstack([z, on]) for z, on in zip(noise, (a, b, c))]
    assert probes.multilabel_probe(code[0], a, code[1], b, code[2], c)["exact_match"] > 0.9


def test_raw_pixels_decode_the_bars(bars_task):
    (X1, a), (X2, b), (X3, c) = _splits(bars_task)
    assert probes.multilabel_probe(X1, a, X2, b, X3, c)["exact_match"] >= 0.99  # linearly decodable


def test_the_regularization_is_chosen_on_validation_only(bars_task):
    (X1, a), (X2, b), (X3, c) = _splits(bars_task)
    rng = np.random.default_rng(2)
    r = probes.multilabel_probe(X1, a, X2, b, X3, c)
    # replacing the test split by noise changes the score but not the choice of C
    noisy = probes.multilabel_probe(X1, a, X2, b, rng.random(X3.shape), c)
    assert noisy["C"] == r["C"] and noisy["val_exact_match"] == r["val_exact_match"]
    assert noisy["exact_match"] < r["exact_match"]


def test_probe_refuses_bad_shapes(bars_task):
    (X1, a), (X2, b), (X3, c) = _splits(bars_task)
    with pytest.raises(ValidationError, match="Z_train"):
        probes.multilabel_probe(X1[:-1], a, X2, b, X3, c)
    with pytest.raises(ValidationError, match="Z_val"):
        probes.multilabel_probe(X1, a, X2[:0], b[:0], X3, c)


def test_bars_learned_hand_worked():
    T = bar_templates(8)
    assert probes.bars_learned(T, T)["learned"] == 16  # identity templates: every bar, each its own unit
    dup = T.copy()
    dup[3] = T[2]  # unit 3 duplicates unit 2: bar 3 has no unit, bar 2 one (distinct units)
    assert probes.bars_learned(dup, T)["learned"] == 15
    # extra units do not count twice; a unit that is two bars at once matches neither (r = 0.47)
    two = np.vstack([T[:15], T[15] + T[14], T[:4]])
    r_two = pearsonr(T[15] + T[14], T[15]).statistic
    assert r_two < 0.8
    assert probes.bars_learned(two, T)["learned"] == 15
    # constant and zero rows claim nothing, and a noisy bar above r = 0.8 still counts
    rng = np.random.default_rng(0)
    noisy = T + 0.15 * rng.standard_normal(T.shape)
    rs = [pearsonr(noisy[j], T[j]).statistic for j in range(16)]
    assert probes.bars_learned(noisy, T)["learned"] == sum(r >= 0.8 for r in rs)
    np.testing.assert_allclose(probes.bars_learned(noisy, T)["best_r"], rs, atol=1e-12)
    assert probes.bars_learned(np.zeros((16, 64)), T)["learned"] == 0
    # one unit that is best for two bars can claim only one of them: the matching, not max per bar
    shared = np.vstack([T[0] + 0.05 * T[8], T[8]])
    assert probes.bars_learned(shared, T[[0, 8]], threshold=0.8)["learned"] == 2
    assert probes.bars_learned(shared[:1], T[[0, 8]], threshold=-1.0)["learned"] == 1


def test_bars_learned_threshold_is_pearson(bars_task):
    T = bar_templates(8)
    # a bar plus a uniform offset is the same bar for Pearson's r (r = 1)
    assert probes.bars_learned(T + 5.0, T)["learned"] == 16
    with pytest.raises(ValidationError, match="W"):
        probes.bars_learned(T[:, :10], T)


def test_the_study_evaluation_of_a_bars_run(bars_task):
    model, _ = presets.make("hebbian_bars", seed=0)
    model.fit(bars_task, epochs=4)
    ev = probes.bars_evaluation(model, bars_task, bars_task)
    assert set(ev) == {"pixels", "code", "learned"}
    assert ev["pixels"]["exact_match"] >= 0.99
    assert 0 <= ev["learned"]["learned"] <= 16
    assert probes.bars_evaluation(model, tasks.load("moons", seed=0), tasks.load("moons", seed=0)) is None
    readout, _ = presets.make("readout_digits_tuned", seed=0)
    readout.fit(bars_task, epochs=2)
    assert set(probes.bars_evaluation(readout, bars_task, bars_task)) == {"pixels"}  # no code, no W1
