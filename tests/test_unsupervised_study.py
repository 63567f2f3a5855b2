"""Unsupervised runs in a study: the run kind, stored receptive fields, selection on validation."""

import numpy as np
import pytest

from analyses import v1
from sim.errors import ValidationError
from sim.study import parse, unsupervised
from sim.study import store as store_mod
from sim.study.backends import run_study
from sim.study.spec import run_specs

STUDY = """
name = "v1tiny"
root_seed = 0
seeds = 1
epochs = 2
[tasks.patches]
n_train = 1000
n_test = 200
size = 8
[models.kh]
model = "hebbian_encoder"
n_components = 12
rule = "competitive"
rule_params = { p = 2.0, k = 2, delta = 0.1 }
w_inh = 0.0
[models.kh3]
model = "hebbian_encoder"
n_components = 12
rule = "competitive"
rule_params = { p = 3.0, k = 2, delta = 0.1 }
w_inh = 0.0
[models.ae]
model = "autoencoder"
n_components = 12
"""


def _parse(text=STUDY):
    import tomllib
    return parse(tomllib.loads(text))


def test_specs_are_one_unsupervised_run_per_seed():
    specs = run_specs(_parse())
    assert [s["kind"] for s in specs] == ["unsupervised"] * 3
    assert {s["model_name"] for s in specs} == {"hebbian_encoder", "autoencoder"}
    assert specs[0]["params"]["rule_params"] == {"p": 2.0, "k": 2, "delta": 0.1}


def test_schema_refuses_bad_encoder_parameters_by_name():
    with pytest.raises(ValidationError, match="n_components"):
        _parse(STUDY.replace("n_components = 12\nrule", "n_components = 0\nrule", 1))
    with pytest.raises(ValidationError, match="hidden"):
        _parse(STUDY + "hidden = 3\n")
    with pytest.raises(ValidationError, match="search"):
        _parse(STUDY + "search = { lr = [0.001, 0.01] }\n")


def test_run_stores_weights_and_scores(tmp_path):
    run_study(_parse(), tmp_path / "s", workers=1, progress=False, log=lambda *a, **k: None)
    st = store_mod.open(tmp_path / "s")
    runs = st.runs(include_failed=True)
    assert len(runs) == 3 and all(r["status"] == "finished" for r in runs)
    for r in runs:
        arrays = st.load_arrays(r["run_id"])
        assert arrays["W1"].shape == (12, 64) and arrays["image_shape"].tolist() == [8, 8]
        ev = r["evaluation"]
        assert ev["val_score"] < 0 and ev["test_score"] < 0 and ev["n_val"] == 200
        assert all(np.isfinite(ev[f"{split}_{name}"]) for split in ("val", "test")
                   for name in ("sparseness", "decorrelated_sparseness"))
        assert len(r["history"]["records"]) == 2
    d = v1.data(tmp_path / "s")
    # the competitive family's selection is the label with the sparser decorrelated validation code
    key = "val_decorrelated_sparseness"
    kh, kh3 = d["models"]["kh"], d["models"]["kh3"]
    assert d["criterion"] == key and kh[key] != kh3[key]
    sparsest = "kh" if kh[key] > kh3[key] else "kh3"
    assert d["selected"]["hebbian_encoder:competitive"] == sparsest
    hebbian = [lb for fam, lb in d["selected"].items() if fam.startswith("hebbian_encoder:")]
    assert d["best_hebbian"] == max(hebbian, key=lambda lb: d["models"][lb][key])
    assert d["selected"]["autoencoder"] == "ae"
    figs = v1.build(tmp_path / "s", tmp_path / "fig", ("png",))
    assert figs and all((tmp_path / "fig" / name).exists() for name in ("v1_receptive_fields.png", "v1.md"))
    # the report's contract for a figure (its captions.tex needs every key)
    assert all({"name", "title", "caption", "paths"} <= set(f) for f in figs)
    from analyses import latex
    assert r"\label{fig:v1_receptive_fields}" in latex.captions(figs)


def test_execute_matches_a_direct_fit():
    from sim import tasks
    spec = run_specs(_parse())[0]
    task = tasks.load("patches", seed=spec["task_seed"], **spec["task_params"])
    result, arrays = unsupervised.execute(spec, task)
    model = unsupervised.make(spec["model_name"], **spec["params"], seed=spec["model_seed"])
    model.fit(task.X_train, epochs=spec["epochs"])
    np.testing.assert_array_equal(arrays["W1"], model.components_.astype(np.float32))
    assert result["evaluation"]["val_score"] == model.score(task.X_val)
    assert result["evaluation"]["val_sparseness"] == unsupervised.sparseness(model.components_, task.X_val)
    assert result["evaluation"]["val_decorrelated_sparseness"] == unsupervised.decorrelated_sparseness(
        model.components_, task.X_val)
    with pytest.raises(ValidationError, match="bogus"):
        unsupervised.make("autoencoder", bogus=1)


def test_sparseness_against_known_distributions_and_by_hand():
    rng = np.random.default_rng(0)
    # independent Laplace sources seen through unit filters: excess kurtosis 3; Gaussian: 0
    X = rng.laplace(size=(200_000, 3))
    assert unsupervised.sparseness(np.eye(3) * [1.0, 2.0, 0.5], X) == pytest.approx(3.0, abs=0.1)
    assert unsupervised.sparseness(np.eye(3), rng.standard_normal((200_000, 3))) == pytest.approx(0.0, abs=0.05)
    # an equal mix of two Laplace sources has excess kurtosis 3 / 2 (cumulants add, variance doubles)
    assert unsupervised.sparseness(np.array([[1.0, 1.0, 0.0]]), X) == pytest.approx(1.5, abs=0.1)
    # by hand: responses (0, 0, 0, 2), centred (-1/2, -1/2, -1/2, 3/2): m2 = 3/4, m4 = 21/16,
    # excess kurtosis 21/16 / (9/16) - 3 = -2/3 (the weight's length does not matter)
    x = np.array([[0.0], [0.0], [0.0], [2.0]])
    assert unsupervised.sparseness(np.array([[5.0]]), x) == pytest.approx(-2 / 3)
    assert np.isnan(unsupervised.sparseness(np.zeros((1, 1)), x))
    assert np.isnan(unsupervised.sparseness(np.ones((1, 1)), x[:3]))


def test_decorrelated_sparseness_counts_each_direction_once():
    rng = np.random.default_rng(1)
    S = rng.laplace(size=(200_000, 4))  # independent sources, excess kurtosis 3 each
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    X = S @ Q.T  # an orthogonal mixture: white, every pixel a mix of sources
    ds = unsupervised.decorrelated_sparseness
    # the unmixing filters recover the sources: 3, as the plain mean kurtosis, whatever their scale
    assert ds(Q.T, X) == pytest.approx(3.0, abs=0.1)
    assert ds(Q.T * np.array([[1.0], [5.0], [0.1], [2.0]]), X) == pytest.approx(ds(Q.T, X), rel=1e-9)
    # pixel filters see the mixtures r_i = sum_j Q_ij s_j, already uncorrelated, so decorrelation
    # changes nothing: cumulants add, kurt(r_i) = 3 sum_j Q_ij^4 (analytic)
    assert ds(np.eye(4), X) == pytest.approx(3.0 * np.mean(np.sum(Q ** 4, axis=1)), abs=0.1)
    # m identical copies of each filter share one direction: 3 / m, where the plain mean stays 3
    for m in (2, 3):
        W = np.repeat(Q.T, m, axis=0)
        assert ds(W, X) == pytest.approx(3.0 / m, abs=0.05)
        assert unsupervised.sparseness(W, X) == pytest.approx(3.0, abs=0.1)
    # filters that unmix a non-orthogonal mixture give uncorrelated responses: still 3
    A = rng.standard_normal((4, 4))
    assert ds(np.linalg.inv(A), S @ A.T) == pytest.approx(3.0, abs=0.1)
    # by hand: one unit on responses (0, 0, 0, 2) has excess kurtosis -2/3 (see above); two
    # copies of it share one direction, each keeping half its variance: (1/2)(-2/3) * 2 / 2 = -1/3
    x = np.array([[0.0], [0.0], [0.0], [2.0]])
    assert ds(np.array([[5.0]]), x) == pytest.approx(-2 / 3)
    assert ds(np.array([[5.0], [1.0]]), x) == pytest.approx(-1 / 3)
    # a unit with a constant response adds nothing; nothing to score or too few inputs gives NaN
    assert ds(np.array([[5.0, 0.0]]), np.hstack([x, x])) == pytest.approx(-2 / 3)
    assert ds(np.array([[5.0, 0.0], [0.0, 1.0]]), np.hstack([x, np.ones_like(x)])) == pytest.approx(-1 / 3)
    assert np.isnan(ds(np.zeros((1, 1)), x))
    assert np.isnan(ds(np.ones((1, 1)), x[:3]))
    assert np.isnan(ds(np.full((1, 1), np.nan), x))
