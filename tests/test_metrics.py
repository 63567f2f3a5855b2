"""Representation metrics and summary statistics against hand-worked numbers and scipy."""

import numpy as np
import pytest
from scipy import stats

from analyses.stats import holm, mean_ci, paired_test
from sim import ValidationError
from sim.metrics import accuracy, active_fraction, class_rdm, class_selectivity, confusion, linear_cka, treves_rolls


def test_cka_identity_rotation_scaling_and_independence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10))
    Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert linear_cka(X, X) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(X, X @ Q) == pytest.approx(1.0, abs=1e-12)        # orthogonal rotation
    assert linear_cka(X, 3.0 * X + 5.0) == pytest.approx(1.0, abs=1e-12)  # scale and offset
    assert linear_cka(X, rng.normal(size=(200, 10))) < 0.15               # unrelated
    # hand-worked: X = (1, 2, 3), Y = (1, 0, 0) -> Xc = (-1, 0, 1), Yc = (2, -1, -1) / 3
    # Yc^T Xc = -2/3 + 0 - 1/3 = -1 (squared: 1); Xc^T Xc = 2; Yc^T Yc = 6/9  ->  CKA = 1 / (2 * 6/9) = 0.75
    assert linear_cka([[1.0], [2.0], [3.0]], [[1.0], [0.0], [0.0]]) == pytest.approx(1 / (2 * 6 / 9))
    with pytest.raises(ValidationError, match="Y"):
        linear_cka(X, X[:5])


def test_sparsity_and_selectivity_hand_values():
    R = np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(active_fraction(R), [0.25, 1.0])
    np.testing.assert_allclose(treves_rolls(R), [1.0, 0.0])
    y = np.array([0, 0, 1, 1])
    R = np.array([[2.0, 1.0], [2.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(class_selectivity(R, y), [1.0, 0.0])


def test_rdm_confusion_accuracy():
    R = np.array([[1.0, 0.0, 2.0], [1.0, 0.0, 2.0], [0.0, 1.0, 2.0], [2.0, 0.0, 1.0]])
    rdm = class_rdm(R, [0, 0, 1, 2])
    assert rdm.shape == (3, 3)
    np.testing.assert_allclose(np.diag(rdm), 0, atol=1e-12)
    np.testing.assert_allclose(rdm, rdm.T)
    assert rdm[0, 1] == pytest.approx(1 - np.corrcoef([1, 0, 2], [0, 1, 2])[0, 1])
    np.testing.assert_array_equal(confusion([0, 1, 1], [0, 0, 1], 2), [[1, 0], [1, 1]])
    assert accuracy([0, 1, 1], [0, 0, 1]) == pytest.approx(2 / 3)


def test_mean_ci_matches_scipy_interval():
    x = np.array([0.97, 0.975, 0.98, 0.972, 0.985])
    mean, half = mean_ci(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean())
    assert half == pytest.approx((hi - lo) / 2)
    assert np.isnan(mean_ci([0.5])[1])
    assert mean_ci([0.5, np.nan, 0.7])[0] == pytest.approx(0.6)


def test_paired_tests_match_scipy_and_holm_hand_worked():
    a = np.array([0.97, 0.975, 0.98, 0.972, 0.985])
    b = np.array([0.96, 0.97, 0.978, 0.965, 0.975])
    assert paired_test(a, b, "t") == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert paired_test(a, b, "wilcoxon") == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert paired_test(a, a) == 1.0
    with pytest.raises(ValueError, match="unknown method"):
        paired_test(a, b, "z")
    # Holm: p = (0.01, 0.04, 0.03), m = 3 -> sorted 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max(0.06, 0.04)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])
