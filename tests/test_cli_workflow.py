"""The command line's workflow: --version, models, presets, run (presets, model and history files,
one-run stores), study --dry-run, the output layout, report and compare (checked against scipy)."""

import json
import tomllib

import numpy as np
import pytest
from scipy import stats
from study_helpers import ROOT

from analyses import compare as compare_mod
from sim import models, tasks
from sim.cli import main
from sim.study import config, progress, store

TINY = """
name = "{name}"
root_seed = 4
seeds = 3
epochs = 3
[tasks.moons]
n_train = 100
n_test = 200
[models.mlp]
model = "backprop"
hidden = [8]
lr = {lr}
[models.readout]
model = "readout"
"""


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_version_is_the_projects(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"neurocompare {version}"


def test_models_lists_every_parameter_with_its_default(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    sections = {}
    for block in out.split("\n\n"):
        head, *rows = block.strip().splitlines()
        sections[head.split(" ")[0]] = [r.strip() for r in rows]
    assert sorted(sections) == models.names()
    for name in models.names():
        assert [r.split(" = ")[0] for r in sections[name]] == list(models.make(name).get_params())
    assert "lr = 0.001" in sections["backprop"] and 'optimizer = "adam"' in sections["backprop"]
    assert 'rule = "competitive"' in sections["hebbian"]


def test_presets_lists_each_with_its_parameters(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "hebbian_digits: hebbian, 150 epochs, for digits" in out
    block = out.split("hebbian_digits:")[1].split("\n\n")[0]
    assert "hidden = 1000" in block and "w_inh = 0.3" in block and '"k": 7' in block
    assert "mlp_toy: backprop, 100 epochs" in out


def test_run_help_lists_the_models(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for name in models.names():
        assert f"  {name} " in out
    assert "mlp_digits" in out


def test_run_a_preset_saves_the_model_and_its_history(tmp_path, capsys):
    m, h = tmp_path / "m.npz", tmp_path / "h.json"
    assert main(["run", "--task", "moons", "--task-param", "n_train=100", "--preset", "mlp_toy", "--epochs", "2",
                 "--set", "hidden=(8,)", "--seed", "3", "--save", str(m), "--history", str(h), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    model = models.load(m)
    assert model.get_params()["lr"] == 0.01 and model.get_params()["hidden"] == (8,)  # preset's lr, --set's hidden
    task = tasks.load("moons", seed=3, n_train=100)
    assert model.score(task.X_test, task.y_test) == result["test_accuracy"]
    history = json.loads(h.read_text())
    assert len(history["records"]) == 2 == result["epochs"]
    assert main(["run", "--task", "moons", "--preset", "hebbian_toy", "--model", "backprop"]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["run", "--task", "moons", "--set", "lr=0.1"]) == 2
    assert "--preset" in capsys.readouterr().err


def test_run_out_is_a_one_run_store_that_report_reads(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--task", "moons", "--model", "backprop", "--task-param", "n_train=100", "--epochs", "2",
                 "--set", "hidden=(8,)", "--out", "one", "--history", "h.json", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    st = store.open(tmp_path / "one")
    assert st.status()["finished"] == st.status()["total"] == 1
    stored = st.load_run(result["run_id"])
    assert stored["evaluation"]["test_accuracy"] == result["test_accuracy"]
    assert json.loads((tmp_path / "h.json").read_text()) == json.loads(json.dumps(stored["history"]))
    assert main(["run", "--task", "moons", "--model", "backprop", "--out", "one", "--save", "m.npz"]) == 2
    assert "--save" in capsys.readouterr().err
    assert main(["report", "one", "--format", "png"]) == 0
    assert (tmp_path / "one" / "figures" / "REPORT.md").is_file()
    assert not list((tmp_path / "one" / "figures").glob("*.pdf"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.json", "one"]
    assert main(["report", "one", "--format", "gif"]) == 2
    assert "--format" in capsys.readouterr().err
    assert main(["report", "one", "--format", "png", "--style", "paper", "--figures", "paper"]) == 0
    from PIL import Image
    with Image.open(tmp_path / "paper" / "learning_epochs.png") as im:  # the paper style's 300 dpi
        assert round(im.info["dpi"][0]) == 300


def test_dry_run_lists_the_runs_and_writes_nothing(tmp_path, capsys, monkeypatch):
    (tmp_path / "s.toml").write_text(TINY.format(name="dry", lr=0.01))
    monkeypatch.chdir(tmp_path)
    before = _files(tmp_path)
    assert main(["study", "s.toml", "--dry-run", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert _files(tmp_path) == before
    study = config.load(tmp_path / "s.toml")
    specs = study.runs()
    total = sum(progress.cost(s, study) for s in specs)  # one worker: the sum of the runs at each rate
    low, high = (progress.clock_text(total * r) for r in progress.MEASURED_RATES)
    assert f"roughly {low} to {high} of runs with 1 worker(s)" in out
    assert all(s["run_id"] in out for s in specs)
    assert f"{len(specs)} runs" in out and "nothing was written" in out
    assert "results/dry" in out and "results/dry/figures" in out


def test_study_output_layout_from_a_temporary_cwd(tmp_path, monkeypatch, capsys):
    (tmp_path / "s.toml").write_text(TINY.format(name="lay", lr=0.01))
    monkeypatch.chdir(tmp_path)
    assert main(["study", "s.toml", "--out", "out", "--workers", "1", "--format", "png"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s.toml"]  # no ./figures, no ./results
    assert (tmp_path / "out" / "figures" / "REPORT.md").is_file()
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert main(["study", "s.toml", "--workers", "1", "--no-figures"]) == 0  # default: results/<name>
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "results", "s.toml"]
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["lay"]


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory):
    from sim.study.backends import run_study
    tmp = tmp_path_factory.mktemp("compare")
    out = []
    for name, lr in (("a", 0.01), ("b", 0.05)):
        path = tmp / f"{name}.toml"
        path.write_text(TINY.format(name=name, lr=lr))
        run_study(path, tmp / name, workers=1, progress=False)
        out.append(tmp / name)
    return out


def test_compare_matches_scipy_on_two_stores(two_stores, capsys):
    a, b = two_stores
    rows = {r["model"]: r for r in compare_mod.compare(a, b)}
    assert sorted(rows) == ["mlp", "readout"]

    def acc(d, model):
        runs = sorted((r for r in store.open(d).runs() if r["config"]["model"] == model),
                      key=lambda r: r["config"]["seed"])
        return np.array([100 * r["evaluation"]["test_accuracy"] for r in runs])
    xa, xb = acc(a, "mlp"), acc(b, "mlp")
    d = xb - xa
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    r = rows["mlp"]
    assert r["n_pairs"] == 3 and r["seeds"] == [0, 1, 2] and r["same_data"] and not r["same_params"]
    assert r["diff_pp_mean"] == pytest.approx(d.mean())
    assert (r["diff_pp_low"], r["diff_pp_high"]) == pytest.approx((low, high))
    assert r["p_t"] == pytest.approx(stats.ttest_rel(xb, xa).pvalue)
    assert r["acc_a"] == pytest.approx(xa.mean()) and r["acc_b"] == pytest.approx(xb.mean())
    same = rows["readout"]  # the readout is configured alike in both: identical runs
    assert same["same_params"] and same["diff_pp_mean"] == 0 and same["p_t"] == 1.0
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "B - A" in out and f"{d.mean():+.2f}" in out and f"[{low:+.2f}, {high:+.2f}]" in out
    assert main(["compare", str(a), str(b), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["compare", str(a), str(a.parent / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_dry_run_of_a_tuning_study_counts_its_trials(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["study", "tuning_digits", "--dry-run"]) == 0
    out = capsys.readouterr().out
    study = config.load("tuning_digits")
    t = study.tuning
    assert f"{len(t['pairs']) * t['trials'] * len(t['seeds'])} tuning trial runs before these" in out
    assert f"{len(study.runs())} runs after {study.trial_runs()} tuning trial runs" in out
    assert list(tmp_path.iterdir()) == []
