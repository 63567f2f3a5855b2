"""The Gabor fitter against known Gabors, and the population statistics of analyses.v1."""

import numpy as np
import pytest

from analyses import gabor as gb
from sim.errors import ValidationError


def _angle_diff(a, b):
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


@pytest.mark.parametrize("theta_deg, f, sx, sy, phase", [
    (20.0, 0.18, 2.0, 3.0, 0.3), (75.0, 0.12, 2.5, 2.0, 1.9), (130.0, 0.25, 1.8, 2.6, 4.0),
    (170.0, 0.15, 2.2, 3.5, 5.5)])
def test_recovers_orientation_and_frequency_with_noise(theta_deg, f, sx, sy, phase):
    rng = np.random.default_rng(int(theta_deg))
    true = [1.0, 5.7, 6.2, np.radians(theta_deg), f, phase, sx, sy, 0.0]
    G = gb.gabor(true, (12, 12))
    noisy = G + rng.normal(0.0, 0.1 * G.std(), G.shape)  # SNR 10 in amplitude
    fit = gb.fit_gabor(noisy)
    assert _angle_diff(fit["orientation"], theta_deg) < 5.0
    assert abs(fit["frequency"] - f) / f < 0.10
    assert fit["variance_explained"] > 0.9
    assert abs(fit["sigma_x"] - sx) / sx < 0.25 and abs(fit["sigma_y"] - sy) / sy < 0.25
    assert fit["n_x"] == pytest.approx(fit["sigma_x"] * fit["frequency"])


def test_noise_free_fit_is_exact():
    true = [2.0, 6.0, 5.0, np.radians(40.0), 0.2, 1.0, 2.0, 3.0, 0.1]
    fit = gb.fit_gabor(gb.gabor(true, (12, 12)).ravel())
    assert fit["variance_explained"] > 1 - 1e-8
    assert _angle_diff(fit["orientation"], 40.0) < 1e-3 and abs(fit["frequency"] - 0.2) < 1e-5


def test_jacobian_matches_finite_differences():
    q = np.array([1.3, 5.2, 6.1, 0.7, 0.15, 0.4, 2.1, 3.2, 0.1])
    J = gb._jacobian(q, (12, 12))
    h = 1e-6
    Jn = np.stack([(gb.gabor(q + e, (12, 12)) - gb.gabor(q - e, (12, 12))).ravel() / (2 * h)
                   for e in np.eye(9) * h], axis=1)
    np.testing.assert_allclose(J, Jn, atol=1e-7)


def test_single_pixel_unit_is_not_counted():
    w = np.zeros((12, 12))
    w[4, 7] = 1.0
    fits = gb.fit_units(w.reshape(1, -1), (12, 12))
    assert fits["variance_explained"][0] > 0.7  # a tiny Gabor can fit it ...
    assert not gb.well_fitted(fits, 12)[0]       # ... but its envelope is below 1.5 px


def test_random_weights_give_a_low_fraction():
    rng = np.random.default_rng(0)
    fits = gb.fit_units(rng.standard_normal((40, 144)), (12, 12))
    assert gb.population(fits, 12)["fraction_gabor"] < 0.10


def test_population_statistics_by_hand():
    shape = (12, 12)
    W = np.stack([gb.gabor([1, 6, 6, np.radians(a), 0.15, 0, 2.0, 2.5, 0], shape).ravel()
                  for a in (5.0, 35.0, 65.0, 95.0, 125.0, 155.0)])
    W = np.vstack([W, np.eye(144)[:2]])  # two single-pixel units
    pop = gb.population(gb.fit_units(W, shape), 12)
    assert pop["fraction_gabor"] == pytest.approx(6 / 8)
    assert pop["orientation_counts"] == [1, 1, 1, 1, 1, 1] and pop["empty_orientation_bins"] == 0
    assert pop["frequency_quartiles"][1] == pytest.approx(0.15, rel=1e-3)
    assert pop["median_n_x"] == pytest.approx(0.3, rel=1e-3)


def test_bad_input():
    with pytest.raises(ValidationError, match="shape"):
        gb.fit_units(np.zeros((2, 10)), (3, 3))
    with pytest.raises(ValidationError, match="w"):
        gb.fit_gabor(np.full((1, 5), np.nan))


def test_the_three_criteria_by_hand():
    # Gabor, narrow edge, one-pixel line, plane wave, poor fit, round blob (n_x = 0.02), single pixel
    fits = {"variance_explained": np.array([0.9, 0.9, 0.9, 0.9, 0.6, 0.9, 0.9]),
            "frequency": np.array([0.2, 0.2, 0.2, 0.2, 0.2, 0.01, 0.2]),
            "sigma_x": np.array([2.0, 1.2, 0.5, 7.0, 2.0, 2.0, 0.5]),
            "sigma_y": np.array([3.0, 4.0, 6.0, 9.0, 3.0, 3.0, 0.6])}
    # size sqrt(sx sy): 2.45, 2.19, 1.73, 7.94, 2.45, 2.45, 0.55 against [1.5, 6]
    assert gb.well_fitted(fits, 12).tolist() == [True, True, True, False, False, True, False]
    assert gb.well_fitted(fits, 12, "oriented").tolist() == [True, True, False, False, False, False, False]
    assert gb.well_fitted(fits, 12, "strict").tolist() == [True, False, False, False, False, False, False]
    with pytest.raises(ValidationError, match="criterion"):
        gb.well_fitted(fits, 12, "loose")
