"""Every analysis on the quick study's store: the numbers behind the figures (not pixels), the
report, and proof that redrawing trains nothing and reproduces the same summary table."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import sim.models.estimator
import sim.study.worker
from analyses import (
    boundaries,
    common,
    continual,
    findings,
    generalization,
    learning_curves,
    receptive_fields,
    report,
    representations,
    summary,
)
from analyses.stats import holm
from sim import metrics
from sim.models.labels import axes, describe
from sim.seeds import subsample_rng
from sim.study.backends import run_study
from sim.tasks import subsample

ROOT = Path(__file__).resolve().parents[1]
ANALYSES = ("learning_curves", "generalization", "continual", "boundaries", "receptive_fields",
            "representations", "summary")


def _no_training(*args, **kwargs):
    raise AssertionError("an analysis tried to train a model")


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """The quick study, run once per test session."""
    out = tmp_path_factory.mktemp("quick") / "store"
    summary_ = run_study("quick", out, workers=2, progress=False, log=lambda *a, **k: None)
    assert summary_["failed"] == 0
    return out


@pytest.fixture(scope="session")
def built(store, tmp_path_factory):
    """The full report drawn from the store with every way to train disabled."""
    figures = tmp_path_factory.mktemp("figures")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("fit", "partial_fit"):
            mp.setattr(sim.models.estimator.Estimator, name, _no_training)
        mp.setattr(sim.study.worker, "execute_run", _no_training)
        with pytest.raises(AssertionError, match="tried to train"):  # the patch is live
            sim.models.estimator.Estimator.fit(None, None)
        result = report.build(store, figures, formats=("png", "pdf"))
    return figures, result


# ----------------------------------------------------------------------------- report

def test_report_runs_every_analysis_and_trains_nothing(built):
    figures, result = built
    assert result["failed"] == [], result["failed"]
    # the quick study has a 2-D task, subsets and sequential runs (other authors' analyses may skip)
    assert [n for n, _ in result["skipped"] if n in ANALYSES] == []
    assert set(ANALYSES) <= {f["analysis"] for f in result["figures"]}
    text = Path(result["report"]).read_text()
    assert text.startswith("# neurocompare report: study `quick`")
    for fig in result["figures"]:
        assert len(fig["caption"]) > 100 and "Look" in fig["caption"], fig["name"]
        assert {Path(p).suffix for p in fig["paths"]} == {".png", ".pdf"}
        for path in fig["paths"]:
            assert Path(path).stat().st_size > 1000, path
        assert f"]({fig['name']}.png)" in text and fig["caption"] in text
    for table in ("summary.md", "summary.csv", "summary_tests.csv", "findings.md"):
        assert (figures / table).stat().st_size > 100
    assert "#### digits" in text and "#### moons" in text and "significant (Holm p < 0.05)" in text
    # models are named by their parameters, per task where they differ (quick.toml: w_inh 0 on moons)
    assert ("`hebbian` (hebbian): Hebbian (competitive), steady on `moons`; Hebbian (competitive), "
            "inhibition 0.3 on `digits`.") in text
    assert "| Random features, inhibition 0.3 |" in text and "| Random features, steady |" in text
    assert "leaky, inhibition" not in text


def test_the_reports_findings_are_the_generated_sentences_for_every_task(store, built):
    """REPORT.md's one findings section is findings.md: generated text, one sentence per task and
    primary comparison, every task covered."""
    figures, result = built
    text = Path(result["report"]).read_text(encoding="utf-8")
    d = summary.data(store)
    generated = findings.markdown(d)
    assert (figures / "findings.md").read_text(encoding="utf-8") == "# Findings\n\n" + generated
    assert text.count("## Findings") == 1 and "- [Findings](#findings)" in text
    section = text.split("## Findings\n\n", 1)[1].split("\n## ", 1)[0]
    assert section.strip() == generated.strip()
    primary, _, rest = section.partition("\n### ")  # then the generated bars / sequential sections
    bullets = [line[2:] for line in primary.splitlines() if line.startswith("- ")]
    assert bullets == findings.sentences(d["tests"])
    assert rest.startswith("Sequential learning") and "- digits, sequential (classes 0-4, then 5-9" in rest
    pairs = [("hebbian", "mlp"), ("hebbian", "random"), ("mlp", "random")]  # quick.toml's [comparisons]
    assert [(t["task"], t["model_a"], t["model_b"]) for t in d["tests"] if t["family"] == "primary"] == [
        (task, a, b) for task in ("moons", "digits") for a, b in pairs]
    for task in ("moons", "digits"):
        assert sum(b.startswith(f"{task}: ") for b in bullets) == 3
    assert ("Across seeds varies: `moons`: data (new samples) and initialization; `digits`: split and "
            "initialization") in text


def test_report_skips_and_survives_a_failing_analysis(store, tmp_path, monkeypatch):
    """Without the 2-D task and the sequential runs two analyses have nothing to show; a broken
    analysis is reported and the others still run."""
    reduced = tmp_path / "store"
    shutil.copytree(store, reduced)
    for r in common.finished_runs(reduced, None):
        if r["config"]["task"] == "moons" or r["config"]["kind"] == "sequential":
            for suffix in (".json", ".npz"):
                (reduced / "runs" / f"{r['run_id']}{suffix}").unlink(missing_ok=True)
    monkeypatch.setattr(representations, "build", lambda *a, **k: 1 / 0)
    result = report.build(reduced, tmp_path / "fig", formats=("png",))
    assert {n for n, _ in result["skipped"] if n in ANALYSES} == {"continual", "boundaries"}
    assert [n for n, _ in result["failed"]] == ["representations"]
    text = (tmp_path / "fig" / "REPORT.md").read_text()
    assert "`boundaries`: nothing to show; it needs a 2-D task" in text
    assert "`continual`: nothing to show" in text and "`representations`: **failed** (ZeroDivisionError" in text
    assert "42 runs" not in text and "pending" in text  # the deleted runs count as pending
    assert "receptive_fields_digits.png" in text


def test_optional_analyses_are_imported_by_name():
    for name in ("dynamics", "alignment"):
        try:
            __import__(f"analyses.{name}")
        except ImportError:
            assert report._module(name, optional=True) is None
    with pytest.raises(ImportError):
        report._module("no_such_analysis", optional=False)


def test_analysis_command_line(store, tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "analyses.summary", str(store), "--out", str(out),
                           "--format", "png"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(out / "accuracy_overview.png")]
    assert (out / "summary.md").exists() and not (out / "accuracy_overview.pdf").exists()


# ----------------------------------------------------------------------------- summary

def test_summary_rebuilt_from_the_store_is_identical(store, built, tmp_path):
    figures, _ = built
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sim.models.estimator.Estimator, "fit", _no_training)
        mp.setattr(sim.models.estimator.Estimator, "partial_fit", _no_training)
        summary.write_tables(summary.data(store), tmp_path)
    for name in ("summary.md", "summary.csv", "summary_tests.csv", "findings.md"):
        assert filecmp.cmp(tmp_path / name, figures / name, shallow=False), name


def test_summary_numbers_match_scipy_on_the_stored_runs(store):
    d = summary.data(store)
    groups = common.group(common.finished_runs(store, "standard"), "task", "model")
    assert len(d["rows"]) == len(groups) == 6
    for row in d["rows"]:
        acc = np.array([100 * r["evaluation"]["test_accuracy"] for r in groups[(row["task"], row["model"])]])
        assert row["n_seeds"] == acc.size == 2
        assert row["test_accuracy_pct_mean"] == pytest.approx(acc.mean())
        low, high = stats.t.interval(0.95, acc.size - 1, loc=acc.mean(), scale=stats.sem(acc))
        assert row["test_accuracy_pct_ci95"] == pytest.approx((high - low) / 2)
        if row["task"] == "moons":  # no occlusion on two coordinates
            assert np.isnan(row["occlusion_auc_pct_mean"])
    assert d["n_comparisons"] == 6
    expected = {("moons", "hebbian"): "Hebbian (competitive), steady", ("digits", "hebbian"):
                "Hebbian (competitive), inhibition 0.3", ("digits", "random"): "Random features, inhibition 0.3"}
    for row in d["rows"]:
        r = groups[(row["task"], row["model"])][0]["config"]
        assert row["model_label"] == describe(r["model_name"], r["params"])
        assert row["model_label"] == expected.get((row["task"], row["model"]), row["model_label"])
        assert (row["dynamics"], row["learning"]) == tuple(axes(r["model_name"], r["params"]).values())
    assert {row["model_label"] for row in d["rows"] if row["model"] == "mlp"} == {"Backprop MLP, steady"}
    # across tasks: a label true on both (what the overview's legend shows)
    assert d["model_labels"].mapping(["hebbian"], ["moons", "digits"]) == {
        "hebbian": "Hebbian (competitive), steady (moons) or inhibition 0.3 (digits)"}
    assert [(t["model_a"], t["model_b"]) for t in d["tests"][:3]] == [("hebbian", "mlp"), ("hebbian", "random"),
                                                                      ("mlp", "random")]
    for t in d["tests"]:
        by_seed = {m: {r["config"]["seed"]: 100 * r["evaluation"]["test_accuracy"] for r in groups[(t["task"], m)]}
                   for m in (t["model_a"], t["model_b"])}
        a = [by_seed[t["model_a"]][s] for s in (0, 1)]
        b = [by_seed[t["model_b"]][s] for s in (0, 1)]
        diff = np.subtract(a, b)
        assert t["diff_pp_mean"] == pytest.approx(np.mean(diff))
        if np.ptp(diff) == 0:  # the same difference on both seeds: no t statistic
            assert np.isnan(t["p_t"]) and t["note"] == ("constant difference" if diff[0] else "")
        else:
            assert t["p_t"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
        if not np.allclose(a, b):
            assert t["p_wilcoxon"] == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert {t["family"] for t in d["tests"]} == {"primary"}  # three models, the three primary pairs
    tested = [t for t in d["tests"] if np.isfinite(t["p_t"])]
    np.testing.assert_allclose([t["p_t_holm"] for t in tested], holm([t["p_t"] for t in tested]))
    assert all(t["significant"] == (t["p_t_holm"] < 0.05) for t in tested)


# ----------------------------------------------------------------------------- learning curves

def test_time_to_ninety_percent_hand_worked():
    recs = [{"epoch": i + 1, "samples_seen": 100 * (i + 1), "seconds": 0.5 * (i + 1), "test_accuracy": a}
            for i, a in enumerate([0.1, 0.5, 0.85, 0.95, 0.9])]
    # final 0.9 -> target 0.81: first reached at epoch 3
    assert learning_curves.time_to_fraction(recs) == {"epoch": 3, "samples": 300.0, "seconds": 1.5, "final": 0.9}
    assert learning_curves.time_to_fraction(recs, 1.0)["epoch"] == 4
    assert np.isnan(learning_curves.time_to_fraction([])["epoch"])


def test_learning_curves_are_the_stored_histories(store):
    d = learning_curves.data(store)
    groups = common.group(common.finished_runs(store, "standard"), "task", "model")
    for (task, model), runs in groups.items():
        c = d["curves"][task][model]
        hist = np.array([[rec["test_accuracy"] for rec in r["history"]["records"]]
                         for r in sorted(runs, key=lambda r: r["config"]["seed"])])
        np.testing.assert_allclose(c["test_accuracy"]["mean"], hist.mean(axis=0))
        np.testing.assert_array_equal(c["epoch"], np.arange(1, hist.shape[1] + 1))
        assert c["hidden_epochs"] == (15 if model == "hebbian" else 0)  # quick.toml: hidden_epochs = 15
        assert d["time_to_90"][task][model]["final"] == pytest.approx(hist[:, -1])


# ----------------------------------------------------------------------------- generalization

def test_auc_is_the_mean_accuracy_over_the_range():
    assert generalization.auc([0, 0.5, 1], [1.0, 0.5, 0.0]) == pytest.approx(0.5)
    assert generalization.auc([1, 0, 0.5], [0.0, 1.0, 1.0]) == pytest.approx(0.75)  # unsorted levels
    assert generalization.auc([0, 2], [0.8, 0.4]) == pytest.approx(0.6)
    assert generalization.auc([0.3], [0.7]) == pytest.approx(0.7)


def test_robustness_and_gap_numbers(store):
    d = generalization.data(store)
    assert set(d["robustness"]["noise"]) == {"digits", "moons"}
    assert set(d["robustness"]["occlusion"]) == {"digits"}
    for r in common.finished_runs(store, "standard"):
        cfg, ev = r["config"], r["evaluation"]
        entry = d["robustness"]["noise"][cfg["task"]][cfg["model"]]
        i = d["gap"][cfg["task"]][cfg["model"]]["seeds"].index(cfg["seed"])
        acc = ev["noise"]["accuracy"]
        auc = np.trapezoid(acc, ev["noise"]["levels"]) / 0.5
        assert entry["auc"][entry["seeds"].index(cfg["seed"])] == pytest.approx(auc)
        assert d["gap"][cfg["task"]][cfg["model"]]["values"][i] == pytest.approx(
            ev["train_accuracy"] - ev["test_accuracy"])


def test_sample_efficiency_subsets_are_nested_stratified_and_shared(store):
    subs = generalization.subsets(store)
    assert set(subs) == {"digits", "moons"}
    for task, seeds in subs.items():
        for seed, entry in seeds.items():
            y = entry["y_train"]
            sizes = sorted(entry["sizes"])
            assert sizes == [10, 40]
            for n in sizes:
                idx = entry["sizes"][n]
                assert np.unique(idx).size == idx.size
                counts = np.bincount(y[idx], minlength=y.max() + 1)
                present = np.unique(y)
                assert np.all(counts[present] == n), (task, seed, n)  # stratified
                assert sorted(entry["models"][n]) == ["hebbian", "mlp", "random"]
                for model in entry["models"][n]:
                    assert entry["n_train"][(model, n)] == n * present.size
            assert set(entry["sizes"][10]) <= set(entry["sizes"][40])  # nested
        assert not np.array_equal(seeds[0]["sizes"][10], seeds[1]["sizes"][10])  # seeds differ
    # every model's own spec rebuilds the very same subset (same subsets for all models)
    for r in common.finished_runs(store, "subsample"):
        spec = r["config"]
        task = sim.study.worker.load_task(spec)
        tagged = task.with_data(X_train=np.repeat(np.arange(task.n_train, dtype=float)[:, None],
                                                  task.n_features, axis=1))
        idx = subsample(tagged, spec["condition"]["train_per_class"], subsample_rng(spec)).X_train[:, 0]
        sizes = subs[spec["task"]][spec["seed"]]["sizes"]
        np.testing.assert_array_equal(idx, sizes[spec["condition"]["train_per_class"]])
    eff = generalization.data(store)["efficiency"]
    for r in common.finished_runs(store, "subsample"):
        e = eff[r["config"]["task"]][r["config"]["model"]]
        j = e["sizes"].index(r["config"]["condition"]["train_per_class"])
        assert e["values"][e["seeds"].index(r["config"]["seed"]), j] == r["evaluation"]["test_accuracy"]


# ----------------------------------------------------------------------------- continual

def test_sequential_accuracy_before_phase_two_equals_the_stored_evaluation(store):
    d = continual.data(store)
    assert d["tasks"] == ["digits"]
    for c in d["curves"]["digits"].values():
        assert c["switch"] == 30 and c["epoch"].size == 60  # quick.toml: 30 epochs per phase
        assert c["end_phase1"] == c["stored_phase1"]  # exactly
        assert c["first"] == [0, 1, 2, 3, 4] and c["second"] == [5, 6, 7, 8, 9]
        np.testing.assert_allclose(c["forgetting"], np.subtract(c["end_phase1"], c["final_first"]))
        np.testing.assert_array_equal(c["acc_first"]["values"][:, -1], c["final_first"])
        assert np.all(c["acc_second"]["values"][:, :30] == 0)  # classes never seen yet


# ----------------------------------------------------------------------------- boundaries

def test_decision_grid_agrees_with_the_training_accuracy(store):
    d = boundaries.data(store)
    assert d["tasks"] == ["moons"]
    for model, p in d["panels"]["moons"].items():
        assert p["grid_pred"].shape == (p["grid_y"].size, p["grid_x"].size)
        assert set(np.unique(p["grid_pred"])) <= {0, 1}
        assert abs(p["grid_train_agreement"] - p["train_accuracy"]) < 0.03, model


# ----------------------------------------------------------------------------- receptive fields

def test_rank_units_hand_worked():
    H = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.5]])
    order, wins = receptive_fields.rank_units(H)
    np.testing.assert_array_equal(wins, [1, 2, 1])
    np.testing.assert_array_equal(order, [1, 0, 2])  # units 0 and 2 tie on wins: larger mean rate first


def test_receptive_fields_of_the_stored_weights(store):
    d = receptive_fields.data(store)
    assert d["tasks"] == ["digits"]  # moons has two inputs: nothing to draw
    for f in d["fields"]["digits"].values():
        assert f["image_shape"] == (8, 8) and f["W1"].shape[1] == 64
        assert f["wins"].sum() == f["n_probe"]
        assert np.all(np.diff(f["wins"][f["order"]]) <= 0)
        assert f["top"].size == min(receptive_fields.TOP, f["W1"].shape[0])


# ----------------------------------------------------------------------------- representations

def test_cka_of_stored_representations_is_invariant_to_rotation(store):
    d = representations.data(store)
    rng = np.random.default_rng(0)
    for task in d["tasks"]:
        M = d["cka"][task]
        np.testing.assert_allclose(np.diag(M), 1.0)
        np.testing.assert_allclose(M, M.T)
        assert np.all((M > 0) & (M <= 1 + 1e-12))
        for s_i, probes in enumerate(d["probes"][task].values()):
            labels = d["labels"][task]
            for i, a in enumerate(labels):  # the Gram-matrix shortcut equals sim.metrics.linear_cka
                for j, b in enumerate(labels):
                    assert d["cka_seeds"][task][s_i, i, j] == pytest.approx(
                        metrics.linear_cka(probes[a], probes[b]), rel=1e-9)
            for label, H in probes.items():
                if label == "input":
                    continue
                Q, _ = np.linalg.qr(rng.standard_normal((H.shape[1], H.shape[1])))
                assert metrics.linear_cka(H, H) == pytest.approx(1.0)
                assert metrics.linear_cka(H, H @ Q) == pytest.approx(1.0)
                assert metrics.linear_cka(H, 3.0 * H @ Q) == pytest.approx(1.0)
                # the check can fail: the same rates paired with the wrong inputs are not similar
                assert metrics.linear_cka(H, H[rng.permutation(H.shape[0])]) < 0.5


def test_rdm_and_sparsity_numbers(store):
    d = representations.data(store)
    assert d["labels"]["digits"] == ["input", "mlp", "hebbian", "random"]
    assert d["classes"]["digits"] == list(range(10))
    for M in d["rdm"]["digits"].values():
        assert M.shape == (10, 10)
        np.testing.assert_allclose(np.diag(M), 0.0, atol=1e-12)
    for model, act in d["active"]["digits"].items():
        n_probe = sum(p[model].shape[0] for p in d["probes"]["digits"].values())
        assert act.shape == (n_probe,) and np.all((act >= 0) & (act <= 1))
        sel = d["selectivity"]["digits"][model]
        assert np.all((sel >= 0) & (sel <= 1))
    # inhibition makes the Hebbian code sparser than the MLP's
    assert np.median(d["active"]["digits"]["hebbian"]) < np.median(d["active"]["digits"]["mlp"])


def test_every_module_is_a_script():
    for name in ANALYSES + ("report",):
        source = (ROOT / "analyses" / f"{name}.py").read_text()
        assert 'if __name__ == "__main__":' in source and "main(" in source, name
        assert len(source.splitlines()) < 420, name
    assert os.path.exists(ROOT / "analyses" / "_panels.py")
