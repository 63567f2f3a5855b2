"""Findings generated from a synthetic study's test table, checked against a hand computation:
every (task, primary comparison) has its sentence with the right direction and significance,
non-significant ones included; Holm runs within the declared family only; the effect size, the
minimum detectable effect and the test-sampling SD are those of the formulas; what varies
across seeds is derived from the stored runs."""

from __future__ import annotations

import numpy as np
import pytest
from oracles import holm_by_hand
from scipy import stats

from analyses import findings, summary
from sim.models.labels import describe
from sim.study import store as store_mod

N_SEEDS = 10
TASKS = {"digits": {"task_name": "digits", "task_params": {"test_fraction": 0.2}},  # 360 test items
         "moons": {"task_name": "moons", "task_params": {"n_train": 200, "n_test": 250, "noise": 0.1}}}
MODELS = {"hebbian": ("hebbian", {"hidden": 100, "rule": "competitive", "w_inh": 0.3}),
          "mlp": ("backprop", {"hidden": [64]}),
          "random": ("hebbian", {"hidden": 100, "rule": "none", "w_inh": 0.3}),
          "readout": ("readout", {})}  # no role: its pairs are exploratory
# task -> model -> mean test accuracy (fraction): clear differences on digits, none on moons
MEANS = {"digits": {"mlp": 0.97, "hebbian": 0.92, "random": 0.85, "readout": 0.90},
         "moons": {"mlp": 0.95, "hebbian": 0.95, "random": 0.95, "readout": 0.95}}
PRIMARY = [("hebbian", "mlp"), ("hebbian", "random"), ("mlp", "random")]


def accuracies(seed=3) -> dict:
    rng = np.random.default_rng(seed)
    return {(task, m): mean + rng.normal(0, 0.006, N_SEEDS) for task, by in MEANS.items() for m, mean in by.items()}


def make_store(path, acc, config=None, fixed=False):
    """A store of standard runs with test accuracies ``acc``; ``config``: the stored study config
    (e.g. its ``[comparisons]``); ``fixed``: every seed index loads its task with seed 0."""
    st = store_mod.Store(path)
    infos = {}
    for (task, model), values in acc.items():
        name, params = MODELS[model]
        for seed, value in enumerate(values):
            cfg = {"task": task, **TASKS[task], "task_seed": 0 if fixed else seed, "model": model,
                   "model_name": name, "params": params, "epochs": 1, "seed": seed, "kind": "standard",
                   "condition": {}}
            rid = f"{task}-{model}-{seed}"
            st.write_run({"run_id": rid, "config": cfg, "status": "finished", "history": {"records": []},
                          "evaluation": {"test_accuracy": float(value), "train_accuracy": float(value),
                                         "seconds": 0.1}}, {})
            infos[rid] = {k: cfg[k] for k in ("task", "model", "model_name", "kind", "seed")}
    st.write_manifest({"format": store_mod.FORMAT, "name": "synthetic", "tasks": list(TASKS), "runs": infos,
                       "config": config or {}})
    return path


@pytest.fixture(scope="module")
def acc():
    return accuracies()


@pytest.fixture(scope="module")
def d(tmp_path_factory, acc):
    return summary.data(make_store(tmp_path_factory.mktemp("findings") / "store", acc))


def label(model):
    return describe(*MODELS[model])


def test_every_primary_comparison_has_its_sentence(d, acc):
    p = {(task, a, b): stats.ttest_rel(100 * acc[(task, a)], 100 * acc[(task, b)]).pvalue
         for task in TASKS for a, b in PRIMARY}
    adjusted = dict(zip(p, holm_by_hand(list(p.values()))))
    found = findings.sentences(d["tests"])
    assert len(found) == len(TASKS) * len(PRIMARY) == 6
    assert d["family"] == {"primary": PRIMARY, "tasks": list(TASKS), "declared": False}
    for sentence, (task, a, b) in zip(found, [(t, a, b) for t in ("digits", "moons") for a, b in PRIMARY]):
        head = f"{task}: {label(a)} vs {label(b)}: "
        assert sentence.startswith(head), sentence
        diff = np.mean(100 * (acc[(task, a)] - acc[(task, b)]))
        number = sentence[len(head):].split(" pp")[0]
        assert number[0] == ("+" if diff > 0 else "\u2212") and float(number[1:]) == pytest.approx(abs(diff), abs=0.05)
        significant = adjusted[(task, a, b)] < 0.05
        assert (", significant (" in sentence) == significant and (", not significant (" in sentence) != significant
        assert f"Holm p {findings.format_p(adjusted[(task, a, b)])};" in sentence
        assert sentence.endswith(f"{N_SEEDS} splits)." if task == "digits" else f"{N_SEEDS} data sets).")
        assert ("would have been detected with 80% power" in sentence) == (not significant)
    assert all(", significant (" in s for s in found[:3])  # digits: every primary difference is real
    assert all(", not significant (" in s for s in found[3:])  # moons: none is, and all are still listed


def test_holm_within_the_declared_family_only(d):
    for family in ("primary", "exploratory"):
        rows = [t for t in d["tests"] if t["family"] == family]
        assert len(rows) == 6 and all(t["family_size"] == 6 for t in rows)
        np.testing.assert_allclose([t["p_t_holm"] for t in rows], holm_by_hand([t["p_t"] for t in rows]))
        np.testing.assert_allclose([t["p_wilcoxon_holm"] for t in rows], holm_by_hand([t["p_wilcoxon"] for t in rows]))
    assert {(t["model_a"], t["model_b"]) for t in d["tests"] if t["family"] == "exploratory"} == {
        ("hebbian", "readout"), ("mlp", "readout"), ("random", "readout")}
    over_all = holm_by_hand([t["p_t"] for t in d["tests"]])
    assert not np.allclose([t["p_t_holm"] for t in d["tests"]], over_all)  # one family of 12 would differ
    # with 10 seeds an exact Wilcoxon p can pass Holm over the 6 primary tests (2 / 2**10 * 6 < 0.05)
    assert min(t["p_wilcoxon_holm"] for t in d["tests"] if t["family"] == "primary") < 0.05


def test_effect_size_mde_and_test_sampling_by_hand(d, acc):
    t = next(t for t in d["tests"] if (t["task"], t["model_a"], t["model_b"]) == ("digits", "hebbian", "mlp"))
    a, b = 100 * acc[("digits", "hebbian")], 100 * acc[("digits", "mlp")]
    diff = a - b
    sd, n = diff.std(ddof=1), diff.size
    half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
    assert t["n_pairs"] == 10 and t["diff_pp_mean"] == pytest.approx(diff.mean())
    assert (t["diff_pp_low"], t["diff_pp_high"]) == pytest.approx((diff.mean() - half, diff.mean() + half))
    assert t["d_z"] == pytest.approx(diff.mean() / sd) and t["sd_diff_pp"] == pytest.approx(sd)
    assert t["mde_pp"] == pytest.approx((stats.t.ppf(0.975, 9) + stats.t.ppf(0.8, 9)) * sd / np.sqrt(10))
    pa, pb = a / 100, b / 100
    assert t["n_test"] == 360
    assert t["test_sd_pp"] == pytest.approx(100 * np.sqrt(np.mean((pa * (1 - pa) + pb * (1 - pb)) / 360)))
    assert t["p_t"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert t["p_wilcoxon"] == pytest.approx(stats.wilcoxon(a, b).pvalue)


def test_what_varies_across_seeds(d, acc, tmp_path):
    assert d["variation"]["digits"]["varies"] == "split and initialization"
    assert d["variation"]["moons"]["varies"] == "data (new samples) and initialization"
    assert not any(v["shared_test"] for v in d["variation"].values())
    assert "digits: split and initialization; moons: data (new samples) and initialization." in findings.markdown(d)
    fixed = summary.data(make_store(tmp_path / "fixed", {k: v for k, v in acc.items() if k[0] == "digits"},
                                    fixed=True))
    assert fixed["variation"]["digits"] == {"varies": "initialization only (one fixed split)",
                                            "unit": "initializations", "shared_test": True}
    for s in findings.sentences(fixed["tests"]):
        assert "10 initializations; one test set of 360 items for all, whose sampling SD of about" in s


def test_a_declared_family_from_the_stored_config(acc, tmp_path):
    config = {"comparisons": {"primary": [["random", "mlp"]], "tasks": ["digits"]}}
    d = summary.data(make_store(tmp_path / "store", acc, config=config))
    primary = [t for t in d["tests"] if t["family"] == "primary"]
    assert [(t["task"], t["model_a"], t["model_b"]) for t in primary] == [("digits", "random", "mlp")]
    assert primary[0]["p_t_holm"] == pytest.approx(primary[0]["p_t"])  # a family of one
    assert primary[0]["diff_pp_mean"] < 0  # read as declared: random - mlp
    explore = [t for t in d["tests"] if t["family"] == "exploratory"]
    assert len(explore) == 11
    assert ("moons", "mlp", "random") in {(t["task"], t["model_a"], t["model_b"]) for t in explore}
    found = findings.sentences(d["tests"])
    assert len(found) == 1 and found[0].startswith(f"digits: {label('random')} vs {label('mlp')}: \u2212")
    text = findings.markdown(d)
    assert "declared by the study's `[comparisons]`" in text and "The other 11 comparisons are exploratory" in text


def test_sentences_in_fixed_wording():
    row = {"task": "digits", "label_a": "Hebbian (competitive), inhibition 0.3", "label_b": "Backprop MLP, steady",
           "n_pairs": 10, "unit": "splits", "shared_test": False, "diff_pp_mean": 0.4, "diff_pp_low": -0.3,
           "diff_pp_high": 1.1, "sd_diff_pp": 1.0, "d_z": 0.4, "mde_pp": 0.94, "test_sd_pp": 0.8, "n_test": 360,
           "p_t_holm": 0.41, "p_wilcoxon": 0.38, "significant": False, "note": ""}
    assert findings.sentence(row) == (
        "digits: Hebbian (competitive), inhibition 0.3 vs Backprop MLP, steady: +0.4 pp [95% CI \u22120.3, +1.1], "
        "not significant (Holm p = 0.41; d_z = +0.40; an effect above 0.9 pp would have been detected with 80% "
        "power; 10 splits).")
    sig = {**row, "diff_pp_mean": -4.1, "diff_pp_low": -5.0, "diff_pp_high": -3.2, "d_z": -1.9,
           "p_t_holm": 0.0004, "significant": True}
    assert findings.sentence(sig).endswith(": \u22124.1 pp [95% CI \u22125.0, \u22123.2], significant "
                                           "(Holm p < 0.001; d_z = \u22121.90; 10 splits).")
    assert findings.sentence({**row, "n_pairs": 1}) == (
        "digits: Hebbian (competitive), inhibition 0.3 vs Backprop MLP, steady: not tested (1 paired splits; "
        "a paired test needs at least 2).")
    constant = findings.sentence({**row, "n_pairs": 2, "sd_diff_pp": 0.0, "note": "constant difference",
                                  "p_wilcoxon": 0.5})
    assert "+0.4 pp on every one of the 2 splits, not tested by the paired t" in constant


def test_findings_md_is_written_next_to_the_summary(d, tmp_path):
    summary.write_tables(d, tmp_path)
    assert (tmp_path / "findings.md").read_text(encoding="utf-8") == "# Findings\n\n" + findings.markdown(d)
    assert "| digits | primary |" not in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "| primary | 10 |" in (tmp_path / "summary.md").read_text(encoding="utf-8")
