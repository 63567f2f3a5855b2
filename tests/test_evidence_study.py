"""The evidence a study stores and reports: the bars probe in a bars run's evaluation and its
analysis, the alignment null per epoch, sequential learning on every task with the frozen-hidden
MLP (a model of the sequential condition only), and the findings generated from them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analyses import alignment, bars, continual, findings, report
from analyses.stats import mean_ci
from sim.errors import ValidationError
from sim.study import config as study_mod
from sim.study import probes
from sim.study import store as store_mod
from sim.study.backends import run_study
from tests.oracles import holm_by_hand

TINY = """
name = "tiny_evidence"
root_seed = 1
seeds = 3
epochs = 4
[tasks.bars]
n_train = 300
n_test = 300
[tasks.blobs]
n_classes = 6
n_train = 300
n_test = 300
[models.mlp]
model = "backprop"
hidden = [16]
lr = 0.01
[models.hebbian]
model = "hebbian"
hidden = 16
hidden_epochs = 2
rule_params = { p = 2.0, k = 2, delta = 0.4 }
w_inh = 0.3
[models.random]
model = "hebbian"
hidden = 16
w_inh = 0.3
random_control = true
[models.mlp_frozen]
model = "backprop"
hidden = [16]
lr = 0.01
freeze_hidden_after = 4
[conditions]
sequential = { tasks = ["bars", "blobs"], first = [0, 1, 2], second = [3, 4, 5], only = ["mlp_frozen"] }
[comparisons]
primary = [["hebbian", "mlp"], ["hebbian", "random"], ["mlp", "random"]]
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence")
    path = root / "tiny.toml"
    path.write_text(TINY)
    out = root / "store"
    summary = run_study(path, out, workers=1, progress=False, log=lambda *a, **k: None)
    assert summary["failed"] == 0
    figures = root / "figures"
    built = report.build(out, figures, formats=("png",))
    assert built["failed"] == [], built["failed"]
    return out, figures


# ----------------------------------------------------------------------------- study specs

def test_a_sequential_only_model_gets_sequential_runs_only(tmp_path):
    study = study_mod.parse(__import__("tomllib").loads(TINY))
    runs = study.runs()
    kinds = {}
    for r in runs:
        kinds.setdefault(r["model"], set()).add(r["kind"])
    assert kinds["mlp_frozen"] == {"sequential"}
    assert kinds["mlp"] == kinds["hebbian"] == {"standard", "sequential"}
    assert sum(r["model"] == "mlp_frozen" for r in runs) == 2 * 3  # two tasks x three seeds
    bad = TINY.replace('only = ["mlp_frozen"]', 'only = ["nope"]')
    with pytest.raises(ValidationError, match=r"conditions\.sequential\.only\[0\]"):
        study_mod.parse(__import__("tomllib").loads(bad))
    every = TINY.replace('only = ["mlp_frozen"]', 'only = ["mlp", "hebbian", "random", "mlp_frozen"]')
    with pytest.raises(ValidationError, match=r"conditions\.sequential\.only"):
        study_mod.parse(__import__("tomllib").loads(every))


@pytest.mark.parametrize("name", ["quick", "default"])
def test_builtin_studies_learn_sequentially_on_every_task_with_four_classes(name):
    study = study_mod.load(name)
    seq = study.conditions["sequential"]
    expected = [t for t, info in study.tasks.items() if info["n_classes"] >= 4]
    assert seq["tasks"] == expected and expected
    assert seq["only"] == ["mlp_frozen"]
    for task in expected:
        params, epochs = study.model_for("mlp_frozen", task)
        phase1 = seq["epochs"] or epochs
        # the hidden layer learns in phase 1 and is frozen for all of phase 2
        assert params["freeze_hidden_after"] == phase1 == epochs
    runs = study.runs()
    assert {r["kind"] for r in runs if r["model"] == "mlp_frozen"} == {"sequential"}
    assert {r["task"] for r in runs if r["kind"] == "sequential"} == set(expected)


def test_default_bars_hebbian_is_the_preset_with_32_units():
    study = study_mod.load("default")
    for model in ("hebbian", "random"):
        params, epochs = study.model_for(model, "bars")
        assert params["hidden"] == 32 and epochs == 100
    assert study.model_for("random", "bars")[0]["rule"] == "none"


# ----------------------------------------------------------------------------- stored probe

def test_bars_runs_store_the_probe_and_the_analysis_reads_it(tiny):
    out, _ = tiny
    st = store_mod.open(out)
    d = bars.data(out)
    assert d["tasks"] == ["bars"]
    standard = [r for r in st.runs() if r["config"]["kind"] == "standard"]
    for r in standard:
        ev = r["evaluation"].get("bars")
        if r["config"]["task"] != "bars":
            assert ev is None  # blobs has no bars
            continue
        assert set(ev) == {"pixels", "code", "learned"}
        # the stored score is the score of the stored first-layer weights
        W = st.load_arrays(r["run_id"])["W1"]
        templates = st.task(r).meta["templates"]
        assert ev["learned"]["learned"] == probes.bars_learned(W, templates)["learned"]
        p = d["probe"]["bars"][r["config"]["model"]]
        i = p["seeds"].index(r["config"]["seed"])
        assert p["exact_match"]["values"][i] == ev["code"]["exact_match"]
    # the raw-pixel probe does not depend on the model (same split, same fit)
    for seed in range(3):
        values = {r["evaluation"]["bars"]["pixels"]["exact_match"] for r in standard
                  if r["config"]["task"] == "bars" and r["config"]["seed"] == seed}
        assert len(values) == 1
    for p in d["probe"]["bars"].values():
        assert (p["exact_match"]["mean"], p["exact_match"]["ci"]) == mean_ci(p["exact_match"]["values"])
    assert set(d["probe"]["bars"]) == {"mlp", "hebbian", "random", bars.PIXELS}
    # sequential runs have no probe (their training split is half the classes)
    assert all("bars" not in r["evaluation"] for r in st.runs() if r["config"]["kind"] == "sequential")


def test_the_report_has_the_bars_section_and_its_table(tiny):
    out, figures = tiny
    text = (figures / "REPORT.md").read_text()
    assert "## Bars: which bars are on" in text and (figures / "bars.png").exists()
    table = (figures / "bars.md").read_text()
    assert "raw pixels" in table and "exact match" in table


# ----------------------------------------------------------------------------- alignment null

def test_hebbian_runs_record_the_alignment_null_every_epoch(tiny):
    out, figures = tiny
    st = store_mod.open(out)
    heb = [r for r in st.runs() if r["config"]["model"] == "hebbian" and r["config"]["kind"] == "standard"]
    assert heb
    for r in heb:
        recs = r["history"]["records"]
        assert all("alignment_z" in rec and "alignment_null_sd" in rec for rec in recs)
        frozen = [rec for rec in recs if rec["phase"] == "readout"]
        assert frozen and all(np.isfinite(rec["alignment"]) and rec["alignment_null_sd"] > 0 for rec in frozen)
    d = alignment.data(out)
    part = d["blobs"]["hebbian"]["phases"]["hidden frozen"]
    per_seed = [np.mean([rec["alignment"] for rec in r["history"]["records"] if rec["phase"] == "readout"])
                for r in heb if r["config"]["task"] == "blobs"]
    assert part["cosine"] == pytest.approx(mean_ci(per_seed))
    assert (figures / "alignment.md").exists()


# ----------------------------------------------------------------------------- sequential

def test_sequential_findings_cover_every_sequential_task(tiny):
    out, figures = tiny
    c = continual.data(out)
    assert c["tasks"] == ["bars", "blobs"]
    for task in c["tasks"]:
        assert set(c["curves"][task]) == {"mlp", "hebbian", "random", "mlp_frozen"}
        for e in c["curves"][task].values():
            assert (e["forgetting_mean"], e["forgetting_ci"]) == mean_ci(e["forgetting"])
            assert np.isfinite(e["forgetting_ci"])  # 3 seeds: error bars exist
    text = (figures / "findings.md").read_text()
    assert "### Sequential learning" in text and "### Bars: which bars are on" in text
    for task in c["tasks"]:
        assert f"- {task}, sequential (classes 0-2, then 3-5; 3 seeds): forgetting" in text
    # the frozen-hidden MLP is compared with the first primary model (the Hebbian network)
    for task in c["tasks"]:
        assert f"- {task}, sequential: Hebbian (competitive), inhibition 0.3 − Backprop MLP (hidden frozen after 4 " \
               "epochs), steady: " in text
    assert "no sequential runs" not in text  # both tasks have them
    # the count label of bars is labelled secondary where the test table's findings name it
    assert "- bars (count label, a secondary task" in text
    # the frozen MLP appears in no accuracy table (it has no standard runs)
    assert "mlp_frozen" not in (figures / "summary.md").read_text()


def test_paired_family_against_scipy_and_a_hand_holm():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(10, 2, 8), rng.normal(9, 2, 8), rng.normal(3, 2, 8)
    values = {"t1": {"x": dict(enumerate(a)), "y": dict(enumerate(b)), "z": dict(enumerate(c))},
              "t2": {"x": dict(enumerate(a + 1)), "y": dict(enumerate(b))}}  # z absent on t2
    out = findings.paired_family(values, [("x", "y"), ("x", "z")])
    assert [(t["task"], t["a"], t["b"]) for t in out] == [("t1", "x", "y"), ("t1", "x", "z"), ("t2", "x", "y")]
    ps = [stats.ttest_rel(a, b).pvalue, stats.ttest_rel(a, c).pvalue, stats.ttest_rel(a + 1, b).pvalue]
    np.testing.assert_allclose([t["p"] for t in out], ps)
    np.testing.assert_allclose([t["p_holm"] for t in out], holm_by_hand(ps))
    assert out[1]["mean"] == pytest.approx(np.mean(a - c)) and out[1]["significant"]
    # seeds pair by index: a seed missing from one model drops out of that pair only
    values["t1"]["y"].pop(0)
    assert findings.paired_family(values, [("x", "y")])[0]["n"] == 7
