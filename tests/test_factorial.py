"""The factorial analysis on a synthetic store with known effects: accuracies built as
base + a*dyn + b*learn + c*dyn*learn + per-seed noise, checked against a hand computation with
numpy and scipy on the same numbers; incomplete and ambiguous factorials are skipped with a
message; Holm is applied within each family; diverged runs count at chance."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from oracles import holm_by_hand
from scipy import stats

from analyses import factorial, report
from sim.study import store as store_mod

N_SEEDS = 6
TASKS = {"digits": {"task_name": "digits", "task_params": {"test_fraction": 0.2}},
         "mnist1d": {"task_name": "mnist1d", "task_params": {"resplit": True, "test_fraction": 0.2}}}
# label -> (registry name, run params, corner); w_inh as a float, per layer, missing or None
MODELS = {
    "mlp_steady": ("backprop", {"hidden": [256], "learning": "backprop", "w_inh": 0.0}, ("steady", "backprop")),
    "mlp_inhibited": ("backprop", {"hidden": [256], "learning": "backprop", "w_inh": 0.3},
                      ("inhibited", "backprop")),
    "hebbian_steady": ("hebbian", {"hidden": 256, "rule": "competitive", "w_inh": 0.0}, ("steady", "competitive")),
    "hebbian_inhibited": ("hebbian", {"hidden": 256, "rule": "competitive", "w_inh": None},  # rule default 0.3
                          ("inhibited", "competitive")),
    "fa_steady": ("backprop", {"hidden": [256], "learning": "feedback_alignment"}, ("steady", "feedback_alignment")),
    "fa_inhibited": ("backprop", {"hidden": [256, 128], "learning": "feedback_alignment", "w_inh": [0.0, 0.2]},
                     ("inhibited", "feedback_alignment")),
}
# task -> (base, a: dynamics, b: learning, c: interaction), as fractions
EFFECTS = {"digits": (0.90, -0.02, -0.06, 0.04), "mnist1d": (0.70, 0.01, -0.15, 0.0)}
FA_SHIFT = -0.01


def accuracies(seed=7) -> dict:
    """``{(task, model): array over seeds}`` of test accuracies (fractions)."""
    rng = np.random.default_rng(seed)
    out = {}
    for task, (base, a, b, c) in EFFECTS.items():
        for model, (_, _, (dyn, learn)) in MODELS.items():
            d, h = float(dyn == "inhibited"), float(learn == "competitive")
            shift = FA_SHIFT if learn == "feedback_alignment" else 0.0
            out[(task, model)] = base + a * d + b * h + c * d * h + shift + rng.normal(0, 0.005, N_SEEDS)
    return out


def make_store(path, acc, drop=(), diverged=(), extra_models=None):
    """A store of standard runs with accuracies ``acc``; ``drop``: (task, model) cells left out;
    ``diverged``: (task, model, seed) runs stored as diverged. Adds a failed run and a subsample
    run (both must be ignored)."""
    st = store_mod.Store(path)
    models = {**MODELS, **(extra_models or {})}
    manifest_runs = {}

    def write(task, model, seed, status, kind="standard", accuracy=None):
        name, params, _ = models[model]
        config = {"task": task, **TASKS[task], "task_seed": seed, "model": model, "model_name": name,
                  "params": params, "epochs": 1, "seed": seed, "kind": kind, "condition": {}}
        rid = f"{task}-{model}-{kind}-{seed}"
        st.write_run({"run_id": rid, "config": config, "status": status, "history": None,
                      "evaluation": {"test_accuracy": accuracy} if status == "finished" else None}, {})
        manifest_runs[rid] = {k: config[k] for k in ("task", "model", "model_name", "kind", "seed")}

    for (task, model), values in acc.items():
        if (task, model) in drop:
            continue
        for seed, value in enumerate(values):
            write(task, model, seed, "diverged" if (task, model, seed) in diverged else "finished", accuracy=value)
    write("digits", "mlp_steady", N_SEEDS, "failed")  # a failed run: counted, never scored
    write("digits", "hebbian_steady", 0, "finished", kind="subsample", accuracy=0.1)
    st.write_manifest({"format": store_mod.FORMAT, "name": "synthetic", "tasks": list(TASKS), "runs": manifest_runs})
    return path


def hand(acc, task) -> dict:
    """The three contrasts of ``task`` by hand: ``{name: (mean, ci, p)}`` in pp."""
    sb, ib = 100 * acc[(task, "mlp_steady")], 100 * acc[(task, "mlp_inhibited")]
    sh, ih = 100 * acc[(task, "hebbian_steady")], 100 * acc[(task, "hebbian_inhibited")]
    out = {}
    for name, d in (("dynamics", (ib + ih) / 2 - (sb + sh) / 2), ("learning", (sh + ih) / 2 - (sb + ib) / 2),
                    ("interaction", (ih - sh) - (ib - sb))):
        half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
        out[name] = (d.mean(), half, stats.ttest_1samp(d, 0.0).pvalue)
    return out


@pytest.fixture(scope="module")
def acc():
    return accuracies()


@pytest.fixture(scope="module")
def full(tmp_path_factory, acc):
    return make_store(tmp_path_factory.mktemp("factorial") / "store", acc)


def rows_by(d, task):
    return {r["name"]: r for r in d["contrasts"] if r["task"] == task}


def test_corners_are_classified_from_the_run_params():
    for name, params, corner in MODELS.values():
        assert factorial._axes(name, params) == corner
    assert factorial._axes("hebbian", {"rule": "oja", "w_inh": None}) == ("steady", "oja")  # oja's default 0
    assert factorial._axes("hebbian", {"rule": "competitive"}) == ("inhibited", "competitive")
    assert factorial._axes("backprop", {"w_inh": (0.0, 0.0)}) == ("steady", "backprop")


def test_contrasts_match_a_hand_computation(full, acc):
    d = factorial.data(full)
    assert d["tasks"] == ["digits", "mnist1d"] and d["skipped"] == []
    for task, (_, a, b, c) in EFFECTS.items():
        rows = rows_by(d, task)
        for name, (mean, ci, p) in hand(acc, task).items():
            r = rows[name]
            assert (r["family"], r["unit"], r["n_seeds"]) == ("primary", "pp", N_SEEDS)
            assert r["mean"] == pytest.approx(mean) and r["ci95"] == pytest.approx(ci) and r["p_t"] == pytest.approx(p)
        truth = {"dynamics": a + c / 2, "learning": b + c / 2, "interaction": c}
        for name, value in truth.items():  # the known effects, within the noise
            assert abs(rows[name]["mean"] - 100 * value) < 1.0, (task, name)
    assert rows_by(d, "digits")["interaction"]["significant"]
    assert not rows_by(d, "mnist1d")["interaction"]["significant"]  # no interaction built in


def test_corners_have_mean_and_ci(full, acc):
    d = factorial.data(full)
    corners = {(r["task"], r["model"]): r for r in d["corners"]}
    assert len(corners) == 12
    for (task, model), values in acc.items():
        r = corners[(task, model)]
        x = 100 * values
        assert r["mean"] == pytest.approx(x.mean())
        assert r["ci95"] == pytest.approx(stats.t.ppf(0.975, N_SEEDS - 1) * x.std(ddof=1) / np.sqrt(N_SEEDS))
        assert (r["dynamics"], r["learning"]) == MODELS[model][2]
        assert r["family"] == ("exploratory" if model.startswith("fa_") else "primary")
    assert corners[("digits", "mlp_steady")]["n_failed"] == 1 and corners[("digits", "mlp_steady")]["n_seeds"] == 6


def test_holm_within_each_family(full):
    d = factorial.data(full)
    for family, n in (("primary", 6), ("exploratory", 4)):
        rows = [r for r in d["contrasts"] if r["family"] == family]
        assert len(rows) == n
        expected = holm_by_hand([r["p_t"] for r in rows])
        assert [r["p_holm"] for r in rows] == pytest.approx(expected)
        assert all(r["p_holm"] >= r["p_t"] for r in rows)
        assert [r["significant"] for r in rows] == [bool(q < factorial.ALPHA) for q in expected]


def test_exploratory_contrast_against_backprop(full, acc):
    rows = rows_by(factorial.data(full), "digits")
    for dyn, bp, fa in (("steady", "mlp_steady", "fa_steady"), ("inhibited", "mlp_inhibited", "fa_inhibited")):
        r = rows[f"feedback_alignment − backprop ({dyn})"]
        diff = 100 * (acc[("digits", fa)] - acc[("digits", bp)])
        assert r["family"] == "exploratory" and r["mean"] == pytest.approx(diff.mean())
        assert r["p_t"] == pytest.approx(stats.ttest_rel(acc[("digits", fa)], acc[("digits", bp)]).pvalue)


def test_incomplete_factorial_is_skipped_with_a_message(tmp_path, acc, capsys):
    path = make_store(tmp_path / "store", acc, drop={("mnist1d", "hebbian_inhibited")})
    d = factorial.data(path)
    assert d["tasks"] == ["digits"]
    assert len(d["skipped"]) == 1
    message = d["skipped"][0]
    assert "'mnist1d' skipped" in message and "incomplete factorial" in message and "inhibited/competitive" in message
    primary = [r for r in d["contrasts"] if r["family"] == "primary"]
    assert [r["p_holm"] for r in primary] == pytest.approx(holm_by_hand([r["p_t"] for r in primary]))
    assert len(primary) == 3  # the family shrinks with the tasks analysed
    rows = factorial.factorial(path, tmp_path / "out", formats=("png",))
    assert "incomplete factorial" in capsys.readouterr().err
    assert {r["task"] for r in rows} == {"digits"}
    assert "Not analysed" in (tmp_path / "out" / "factorial.md").read_text()


def test_no_complete_factorial_writes_nothing(tmp_path, acc, capsys):
    drop = {(t, m) for t in TASKS for m in ("hebbian_steady", "hebbian_inhibited")}
    path = make_store(tmp_path / "store", acc, drop=drop)
    assert factorial.build(path, tmp_path / "out") == []
    assert capsys.readouterr().err == ""  # in the report: quiet, the report names what it needs
    assert factorial.factorial(path, tmp_path / "out") == []
    assert capsys.readouterr().err.count("incomplete factorial") == 2  # called directly: says why
    assert factorial.main(factorial._cli_build, [str(path), "--out", str(tmp_path / "out")]) == 0
    assert "no scored standard run at steady/competitive, inhibited/competitive" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_two_models_in_a_corner_are_ambiguous(tmp_path, acc):
    twin = {"mlp_steady_b": ("backprop", {"hidden": [256], "learning": "backprop", "lr": 0.1}, ("steady", "backprop"))}
    values = {**acc, ("digits", "mlp_steady_b"): acc[("digits", "mlp_steady")]}
    d = factorial.data(make_store(tmp_path / "store", values, extra_models=twin))
    assert d["tasks"] == ["mnist1d"]
    assert "ambiguous factorial" in d["skipped"][0] and "mlp_steady, mlp_steady_b" in d["skipped"][0]


def test_a_diverged_run_counts_at_chance(tmp_path, acc):
    path = make_store(tmp_path / "store", acc, diverged={("digits", "mlp_inhibited", 3)})
    d = factorial.data(path)
    changed = {**acc, ("digits", "mlp_inhibited"): acc[("digits", "mlp_inhibited")].copy()}
    changed[("digits", "mlp_inhibited")][3] = 0.10  # digits: 10 classes
    rows = rows_by(d, "digits")
    for name, (mean, _, p) in hand(changed, "digits").items():
        assert rows[name]["mean"] == pytest.approx(mean) and rows[name]["p_t"] == pytest.approx(p)
    corner = next(r for r in d["corners"] if r["model"] == "mlp_inhibited" and r["task"] == "digits")
    assert corner["n_diverged"] == 1 and corner["n_seeds"] == N_SEEDS


def test_build_writes_tables_and_a_column_width_figure(full, tmp_path):
    import matplotlib.image
    figs = factorial.build(full, tmp_path, formats=("png", "pdf"))
    assert [f["name"] for f in figs] == ["factorial"] and "Look" in figs[0]["caption"]
    assert {p.rsplit(".", 1)[1] for p in figs[0]["paths"]} == {"png", "pdf"}
    width = matplotlib.image.imread(tmp_path / "factorial.png").shape[1]
    assert 900 <= width <= 1200  # about 7 in at 150 dpi: two 3.5 in panels
    with open(tmp_path / "factorial.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == factorial.COLUMNS
    assert len(rows) == 12 + 10 and {r["row"] for r in rows} == {"corner", "contrast"}
    text = (tmp_path / "factorial.md").read_text()
    assert "### digits" in text and "### mnist1d" in text and "main effect of dynamics" in text
    assert "(exploratory)" in text and "Holm" in text


def test_the_report_collects_the_factorial():
    assert "factorial" in [name for name, *_ in report.SECTIONS]
