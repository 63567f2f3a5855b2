"""The statistics behind the comparisons against hand computations: the minimum detectable
effect of a paired t-test, Cohen's d_z, the paired summary and the binomial test-sampling SD."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp

from analyses import stats

DIFF = np.array([1.2, -0.4, 0.9, 2.1, 0.3, 1.0, -0.2, 1.5, 0.8, 0.6])  # pp, 10 paired seeds


def test_mde_is_the_t_quantile_sum_times_the_standard_error():
    sd, n = DIFF.std(ddof=1), DIFF.size
    by_hand = (sp.t.ppf(0.975, n - 1) + sp.t.ppf(0.8, n - 1)) * sd / np.sqrt(n)
    assert stats.mde(sd, n) == pytest.approx(by_hand)
    # t quantiles from a table: t(0.975, 9), t(0.8, 9); t(0.975, 4), t(0.8, 4)
    assert stats.mde(1.0, 10) == pytest.approx((2.2621571628 + 0.8834038597) / np.sqrt(10), rel=1e-8)
    assert stats.mde(1.0, 5) == pytest.approx((2.7764451052 + 0.9409645772) / np.sqrt(5), rel=1e-8)
    assert np.isnan(stats.mde(1.0, 1)) and np.isnan(stats.mde(float("nan"), 5))
    assert stats.mde(0.0, 5) == 0.0


@pytest.mark.parametrize("n, low, high", [(3, 0.75, 0.80), (5, 0.78, 0.80), (10, 0.795, 0.805), (30, 0.798, 0.802)])
def test_the_exact_power_at_the_mde_is_close_to_eighty_percent(n, low, high):
    assert low <= stats.paired_t_power(stats.mde(1.3, n), 1.3, n) <= high


def test_the_exact_power_matches_a_simulation():
    rng = np.random.default_rng(0)
    n, sd, effect = 6, 1.0, 1.2
    d = rng.normal(effect, sd, size=(20000, n))
    p = sp.ttest_1samp(d, 0.0, axis=1).pvalue
    assert stats.paired_t_power(effect, sd, n) == pytest.approx(np.mean(p < 0.05), abs=0.01)


def test_paired_effect_hand_worked():
    e = stats.paired_effect(DIFF)
    mean, sd = DIFF.mean(), DIFF.std(ddof=1)
    half = sp.t.ppf(0.975, 9) * sd / np.sqrt(10)
    assert e["n"] == 10 and e["mean"] == pytest.approx(0.78) and e["sd"] == pytest.approx(sd)
    assert e["d_z"] == pytest.approx(mean / sd) and e["d_z"] == pytest.approx(0.78 / 0.7539525, rel=1e-6)
    assert (e["low"], e["high"]) == pytest.approx((mean - half, mean + half))
    assert e["ci"] == pytest.approx(half) and e["mde"] == pytest.approx(stats.mde(sd, 10))
    # d_z is the one-sample t statistic over sqrt(n)
    assert e["d_z"] == pytest.approx(sp.ttest_1samp(DIFF, 0.0).statistic / np.sqrt(10))
    zero = stats.paired_effect([0.5, 0.5, 0.5])
    assert zero["sd"] == 0 and np.isnan(zero["d_z"]) and zero["mde"] == 0
    one = stats.paired_effect([1.0, np.nan])
    assert one["n"] == 1 and np.isnan(one["sd"]) and np.isnan(one["mde"]) and np.isnan(one["d_z"])


def test_binomial_sd():
    np.testing.assert_allclose(stats.binomial_sd([0.9, 0.5, 1.0], [100, 400, 50]), [0.03, 0.025, 0.0])
    assert np.isnan(stats.binomial_sd(0.5, 0))
