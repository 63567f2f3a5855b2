"""Studies: config validation (errors name the key), presets and the random-features control,
run expansion, run ids and seeds."""

from __future__ import annotations

import numpy as np
import pytest
from study_helpers import ROOT, TINY, TINY_RUNS, _write

import sim
from sim.cli import main
from sim.errors import ValidationError
from sim.models import presets as presets_mod
from sim.seeds import eval_rng, subsample_rng
from sim.study import config as study_mod
from sim.study import spec as spec_mod
from sim.study import store as store_mod
from sim.study.backends import run_study
from sim.study.worker import load_task
from sim.tasks import subsample

# ----------------------------------------------------------------------------- config

@pytest.mark.parametrize("edit, key", [
    (lambda t: t.replace("[tasks.moons]", "[tasks.mooons]"), "tasks.mooons"),
    (lambda t: t.replace("n_train = 100", "n_trian = 100"), "tasks.moons.n_trian"),
    (lambda t: t.replace("n_train = 100", "n_train = -5"), "tasks.moons.n_train"),
    (lambda t: t.replace('lr = 0.01', 'lrr = 0.01'), "models.mlp.lrr"),
    (lambda t: t.replace('lr = 0.01', 'lr = "fast"'), "models.mlp.lr"),
    (lambda t: t.replace('lr = 0.01', 'lr = -1.0'), "models.mlp.lr"),
    (lambda t: t.replace('hidden = 16', 'hidden = "many"'), "models.hebbian.hidden"),
    (lambda t: t.replace('model = "backprop"', 'model = "backpropp"'), "models.mlp.model"),
    (lambda t: t.replace("seeds = 2", "seeds = -1"), "seeds"),
    (lambda t: t.replace("seeds = 2", "seeds = 0"), "seeds"),
    (lambda t: t.replace("seeds = 2", "seeds = 2.5"), "seeds"),
    (lambda t: t.replace("epochs = 3", "epochs = 0"), "epochs"),
    (lambda t: "colour = 1\n" + t, "colour"),
    (lambda t: t.replace("noise = [0.0, 0.5]", "noise = [0.0, -0.5]"), "conditions.noise[1]"),
    (lambda t: t.replace("noise = [0.0, 0.5]", "blur = [1]"), "conditions.blur"),
    (lambda t: t.replace("sizes = [5, 10]", "sizes = [5, 100000]"), "conditions.train_per_class"),
    (lambda t: t.replace("second = [3, 4, 5]", "second = [3, 4, 12]"), "conditions.sequential.second"),
    (lambda t: t.replace('tasks = ["digits"], first', 'tasks = ["mnist"], first'), "conditions.sequential.tasks[0]"),
    (lambda t: t + '[models.mlp.tasks.digits]\nbatch_size = 0\n', "models.mlp.tasks.digits.batch_size"),
    (lambda t: t + '[models.mlp.tasks.bars]\nlr = 0.1\n', "models.mlp.tasks.bars"),
    (lambda t: t.replace("n_test = 100", 'n_test = 100\nmodels = ["mlpp"]'), "tasks.moons.models[0]"),
    (lambda t: t.replace("n_test = 100", "n_test = 100\nmodels = []"), "tasks.moons.models"),
    # a task without a model of the primary comparisons (here the default pair hebbian - mlp)
    (lambda t: t.replace("n_test = 100", 'n_test = 100\nmodels = ["mlp"]'), "tasks.moons.models"),
])
def test_config_errors_name_the_key_and_run_nothing(tmp_path, capsys, edit, key):
    path = _write(tmp_path, edit(TINY))
    with pytest.raises(ValidationError) as info:
        study_mod.load(path)
    assert info.value.parameter == key
    assert key in str(info.value)
    out = tmp_path / "out"
    with pytest.raises(ValidationError):
        run_study(path, out, workers=1, progress=False)
    assert not out.exists()  # refused before any run started
    assert main(["study", str(path), "--out", str(out), "--no-figures"]) == 2
    assert key in capsys.readouterr().err
    assert not out.exists()


def test_a_task_runs_only_the_models_it_lists(tmp_path):
    full = study_mod.load(_write(tmp_path, TINY))
    text = TINY.replace("n_test = 100", 'n_test = 100\nmodels = ["mlp"]') + '[comparisons]\ntasks = ["digits"]\n'
    part = study_mod.load(_write(tmp_path, text))
    assert part.tasks["moons"]["models"] == ["mlp"] and part.tasks["digits"]["models"] == ["mlp", "hebbian"]
    runs = part.runs()
    # the Hebbian net's two moons runs are gone; every other run is the same run, with the same id
    expected = [r for r in full.runs() if not (r["task"] == "moons" and r["model"] == "hebbian")]
    assert len(runs) == TINY_RUNS - 2 and [r["run_id"] for r in runs] == [r["run_id"] for r in expected]
    # a transfer pair must run on its tasks
    adversarial = '[conditions.adversarial]\nlinf = [0.1]\ntransfer = [["hebbian", "mlp"]]\n'
    with pytest.raises(ValidationError) as info:
        study_mod.load(_write(tmp_path, text + adversarial))
    assert info.value.parameter == "conditions.adversarial.transfer[0]" and "moons" in str(info.value)


def test_unknown_names_list_the_allowed_ones(tmp_path):
    with pytest.raises(ValidationError, match="valid: .*moons.*digits.*mnist1d"):
        study_mod.load(_write(tmp_path, TINY.replace("[tasks.moons]", "[tasks.mooons]")))
    with pytest.raises(ValidationError, match="valid: .*lr.*batch_size"):
        study_mod.load(_write(tmp_path, TINY.replace("lr = 0.01", "lrr = 0.01")))
    with pytest.raises(ValidationError, match="allowed: .*root_seed.*seeds"):
        study_mod.load(_write(tmp_path, "colour = 1\n" + TINY))


def test_shipped_studies_validate_and_are_installed():
    quick, default = study_mod.load("quick"), study_mod.load("default")
    assert set(default.tasks) == {"xor", "moons", "spirals", "digits", "mnist1d", "bars"}
    assert set(default.models) >= {"mlp", "hebbian", "random"} and default.seeds == 5
    assert all(default.model_for("random", t)[0]["rule"] == "none" for t in default.tasks)
    assert all(default.model_for("hebbian", t)[0]["rule"] == "competitive" for t in default.tasks)
    assert default.model_for("mlp", "mnist1d") == (
        {**default.model_for("mlp", "digits")[0], **presets_mod.get("mlp_mnist1d")["params"]}, 150)
    assert quick.seeds == 2 and set(quick.tasks) == {"moons", "digits", "patches"}
    assert quick.tasks["patches"]["models"] == ["kh_encoder", "random_encoder", "autoencoder"]
    assert quick.comparisons["tasks"] == ["moons", "digits"]
    assert quick.conditions["cost"] and quick.conditions["adversarial"]["tasks"] == ["digits"]
    tuned = study_mod.load("tuning_digits")  # every model tuned with the same budget, then refitted
    assert tuned.tuning["pairs"] == [[m, "digits"] for m in ("mlp", "mlp_frozen", "hebbian", "random", "readout")]
    assert tuned.tuning["trials"] == 24 and tuned.tuning["seeds"] == [0, 1, 2] and tuned.seeds == 10
    assert "rule_params.k" in tuned.tuning["spaces"]["hebbian"]["digits"]
    assert tuned.model_for("random", "digits")[0]["rule"] == "none"
    assert quick.tuning is None and default.tuning is None
    # one copy: the top-level entries link to the packaged files
    for name in ("default", "quick", "factorial", "tuning_digits", "tuning_mnist1d"):
        top = ROOT / "studies" / f"{name}.toml"
        assert top.is_symlink() and top.read_text() == study_mod.builtin(name).read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"sim.study" = ["builtin/*.toml"]' in pyproject


def test_task_presets_and_the_random_control(tmp_path):
    text = TINY + """
[models.hebbian.tasks.digits]
preset = "hebbian_digits"
epochs = 4
[models.control]
model = "hebbian"
random_control = true
[models.control.tasks.digits]
preset = "hebbian_digits"
"""
    s = study_mod.load(_write(tmp_path, text))
    params, epochs = s.model_for("hebbian", "digits")
    preset = presets_mod.get("hebbian_digits")
    assert epochs == 4 and all(params[k] == v for k, v in preset["params"].items())
    assert s.model_for("hebbian", "moons") == (s.models["hebbian"]["params"], 3)  # model-level
    assert s.model_for("hebbian", "moons")[0]["hidden"] == 16
    control, c_epochs = s.model_for("control", "digits")
    expected = presets_mod.control("hebbian_digits")
    assert c_epochs == expected["epochs"]
    assert all(control[k] == v for k, v in expected["params"].items())
    assert control["rule"] == "none" and s.model_for("control", "moons")[0]["rule"] == "none"
    with pytest.raises(ValidationError) as info:
        study_mod.load(_write(tmp_path, TINY.replace('lr = 0.01', 'lr = 0.01\nrandom_control = true')))
    assert info.value.parameter == "models.mlp.random_control"
    with pytest.raises(ValidationError) as info:
        study_mod.load(_write(tmp_path, TINY + '[models.mlp.tasks.digits]\npreset = "hebbian_digits"\n'))
    assert info.value.parameter == "models.mlp.tasks.digits.preset"


def test_lists_become_tuples_and_presets_apply(tmp_path):
    text = TINY.replace('model = "backprop"\nhidden = [8]\nlr = 0.01', 'preset = "mlp_digits"\nlr = 0.005')
    s = study_mod.load(_write(tmp_path, text))
    params, epochs = s.model_for("mlp", "digits")
    assert params["hidden"] == (128,) and params["lr"] == 0.005 and params["batch_size"] == 32
    assert epochs == presets_mod.get("mlp_digits")["epochs"]


# ----------------------------------------------------------------------------- runs and seeds

def test_expansion_ids_and_seeds(tmp_path, monkeypatch):
    s = study_mod.load(_write(tmp_path))
    runs = s.runs()
    assert len(runs) == TINY_RUNS
    ids = [r["run_id"] for r in runs]
    assert len(set(ids)) == len(ids) and all(len(i) == 16 for i in ids)
    assert ids == [r["run_id"] for r in study_mod.load(_write(tmp_path)).runs()]  # stable
    for r in runs:
        expected = int(np.random.SeedSequence([3, r["seed"]]).generate_state(1)[0])
        assert r["model_seed"] == expected and r["task_seed"] == r["seed"]
        assert r["run_id"] == study_mod.run_id({k: v for k, v in r.items() if k != "run_id"})
    # changing one model's learning rate changes exactly that model's runs
    changed = study_mod.load(_write(tmp_path, TINY.replace("lr = 0.01", "lr = 0.02"))).runs()
    diff = {a["model"] for a, b in zip(runs, changed) if a["run_id"] != b["run_id"]}
    assert diff == {"mlp"}
    # the package version is part of the key
    monkeypatch.setattr(sim, "__version__", "9.9.9")
    assert not set(ids) & {r["run_id"] for r in study_mod.load(_write(tmp_path)).runs()}
    fixed = study_mod.load(_write(tmp_path, 'split = "fixed"\n' + TINY)).runs()
    assert {r["task_seed"] for r in fixed} == {0}


def test_seed_streams_shared_across_models_and_nested_subsets(tmp_path):
    runs = study_mod.load(_write(tmp_path)).runs()
    a = next(r for r in runs if r["model"] == "mlp" and r["seed"] == 1 and r["task"] == "digits")
    b = next(r for r in runs if r["model"] == "hebbian" and r["seed"] == 1 and r["task"] == "digits")
    c = next(r for r in runs if r["model"] == "hebbian" and r["seed"] == 0 and r["task"] == "digits")
    draw = lambda spec: eval_rng(spec, "noise", 0.5).standard_normal(5)  # noqa: E731
    np.testing.assert_array_equal(draw(a), draw(b))          # same noisy copies for both models
    assert not np.array_equal(draw(a), draw(c))               # another seed, other copies
    assert not np.array_equal(draw(a), eval_rng(a, "occlusion", 0.5).standard_normal(5))
    task = load_task(a)
    small = subsample(task, 5, subsample_rng(a)).meta["index_train"]
    large = subsample(task, 10, subsample_rng(b)).meta["index_train"]
    assert set(small) < set(large)                            # nested, same for every model


# ----------------------------------------------------------------------------- one writer of each rule

def test_the_random_features_control_is_written_once(tmp_path):
    params = {"hidden": 10, "rule": "competitive", "rule_params": {"k": 2}, "current": "metric"}
    control = presets_mod.random_control_params(params, "hebbian")
    # the competitive rule's stage (inhibition 0.3, ReLU) is kept explicitly: the control is the same circuit
    assert control == {"hidden": 10, "rule": "none", "rule_params": None, "current": "dot", "w_inh": 0.3,
                       "neuron": "relu"}
    assert presets_mod.random_control_params({**params, "w_inh": 0.0}, "hebbian")["w_inh"] == 0.0
    assert params["rule"] == "competitive"  # not modified
    assert "current" not in presets_mod.random_control_params({"hidden": (8,)}, "backprop")
    for name in presets_mod.names():
        preset = presets_mod.get(name)
        if preset["model"] == "hebbian":
            expected = presets_mod.random_control_params(preset["params"], "hebbian")
            assert presets_mod.control(name) == {**preset, "params": expected}
    text = TINY + '[models.control]\nmodel = "hebbian"\nhidden = 16\nhidden_epochs = 1\nrandom_control = true\n'
    s = study_mod.load(_write(tmp_path, text))
    for t in s.tasks:
        assert s.model_for("control", t)[0] == presets_mod.random_control_params(s.model_for("hebbian", t)[0],
                                                                                 "hebbian")


def test_run_specs_live_in_one_module(tmp_path):
    s = study_mod.load(_write(tmp_path))
    assert spec_mod.run_specs(s) == s.runs()
    assert study_mod.run_id is spec_mod.run_id and study_mod.canonical_json is spec_mod.canonical_json
    assert spec_mod.KINDS == ("standard", "subsample", "sequential", "hidden_units", "trial", "transfer",
                              "unsupervised")
    assert {r["evaluation"].get("probe") for r in s.runs()} == {spec_mod.PROBE_SIZE}
    assert {r["evaluation"].get("grid") for r in s.runs()} == {spec_mod.GRID_SIZE, None}  # none for sequential
    assert spec_mod.tuples({"hidden": [8, [1, 2]], "lr": 0.1, "x": "a"}) == {"hidden": (8, (1, 2)), "lr": 0.1, "x": "a"}
    assert spec_mod.canonical_json({"b": (1, np.float64(0.5)), "a": float("nan")}) == '{"a":NaN,"b":[1,0.5]}'
    r = s.runs()[0]
    assert spec_mod.load_task(r) is load_task(r)  # the worker's task loader is the spec's
    with pytest.raises(ValidationError) as info:
        study_mod.load(_write(tmp_path, TINY.replace("seeds = 2", "seeds = 2.5")))
    assert info.value.requirement == "must be an integer"  # sim.validation.check_int's message


def test_tuned_presets_record_their_tuning_study():
    """A ``_tuned`` preset says where it came from: the study that chose it, the trial budget,
    the tuning seeds and the best validation value; the study ships, and every model it
    compared had the same budget."""
    tuned = [n for n in presets_mod.names() if n.endswith("_tuned")]
    assert tuned
    for name in tuned:
        record = presets_mod.get(name)["tuned"]
        study = study_mod.load(record["study"])
        assert record["trials"] == study.tuning["trials"] and record["seeds"] == study.tuning["seeds"]
        assert record["metric"] == study.tuning["metric"] and 0 < record["value"] <= 1
        presets_mod.make(name)[0].validate_params()


# ----------------------------------------------------------------------------- comparisons, seeds, mnist1d

RANDOM = '[models.random]\nmodel = "hebbian"\nhidden = 16\nrandom_control = true\n'


@pytest.mark.parametrize("table, key", [
    ('primary = [["hebbian", "mlpp"]]', "comparisons.primary[0][1]"),
    ('primary = [["mlp", "mlp"]]', "comparisons.primary[0]"),
    ('primary = [["mlp"]]', "comparisons.primary[0]"),
    ('primary = [["mlp", "hebbian", "random"]]', "comparisons.primary[0]"),
    ('primary = ["mlp", "hebbian"]', "comparisons.primary[0]"),
    ('primary = [["mlp", 3]]', "comparisons.primary[0]"),
    ('primary = []', "comparisons.primary"),
    ('primary = "mlp vs hebbian"', "comparisons.primary"),
    ('primary = [["mlp", "hebbian"], ["hebbian", "mlp"]]', "comparisons.primary[1]"),
    ('tasks = ["bars"]', "comparisons.tasks[0]"),
    ('tasks = ["digits", "digits"]', "comparisons.tasks[1]"),
    ('tasks = "digits"', "comparisons.tasks"),
    ('pairs = [["mlp", "hebbian"]]', "comparisons.pairs"),
])
def test_comparisons_errors_name_the_key(tmp_path, table, key):
    with pytest.raises(ValidationError) as info:
        study_mod.load(_write(tmp_path, TINY + RANDOM + "[comparisons]\n" + table + "\n"))
    assert info.value.parameter == key and key in str(info.value)
    with pytest.raises(ValidationError) as info:
        study_mod.load(_write(tmp_path, "comparisons = 3\n" + TINY))
    assert info.value.parameter == "comparisons"


def test_the_primary_family_declared_or_from_the_roles(tmp_path):
    s = study_mod.load(_write(tmp_path, TINY + RANDOM))
    assert s.comparisons == {"primary": [("hebbian", "mlp"), ("hebbian", "random"), ("mlp", "random")],
                             "tasks": ["moons", "digits"], "declared": False}
    assert study_mod.load(_write(tmp_path, TINY)).comparisons["primary"] == [("hebbian", "mlp")]  # every pair
    two_mlps = TINY + RANDOM + '[models.wide]\nmodel = "backprop"\nhidden = [32]\n'
    assert len(study_mod.load(_write(tmp_path, two_mlps)).comparisons["primary"]) == 6  # roles ambiguous
    frozen = TINY + RANDOM + '[models.frozen]\nmodel = "backprop"\nhidden = [8]\nfreeze_hidden_after = 1\n'
    assert len(study_mod.load(_write(tmp_path, frozen)).comparisons["primary"]) == 3  # a control, no MLP role
    declared = TINY + RANDOM + '[comparisons]\nprimary = [["random", "mlp"]]\ntasks = ["digits"]\n'
    assert study_mod.load(_write(tmp_path, declared)).comparisons == {
        "primary": [("random", "mlp")], "tasks": ["digits"], "declared": True}
    assert study_mod.load("quick").comparisons["declared"]


def test_seeds_default_to_ten():
    raw = {"tasks": {"moons": {"n_train": 50, "n_test": 50}}, "models": {"mlp": {"model": "backprop"}}}
    assert study_mod.parse(raw).seeds == 10
    assert study_mod.parse({**raw, "seeds": 3}).seeds == 3


def test_a_studys_mnist1d_seeds_are_new_splits(tmp_path):
    """Studies load mnist1d with resplit = true unless told otherwise: each seed index trains and
    tests on other signals (the stored runs' tasks, through `Store.task`, differ)."""
    text = 'name = "m"\nseeds = 3\nepochs = 1\n[tasks.mnist1d]\n[models.readout]\nmodel = "readout"\n'
    study = study_mod.load(_write(tmp_path, text))
    assert study.tasks["mnist1d"]["params"]["resplit"] is True
    out = tmp_path / "out"
    assert run_study(study, out, workers=1, progress=False, log=lambda *a, **k: None)["finished"] == 3
    st = store_mod.open(out)
    tasks = {r["config"]["seed"]: st.task(r) for r in st.runs()}
    assert sorted(tasks) == [0, 1, 2] and len({t.fingerprint() for t in tasks.values()}) == 3
    assert len({t.y_train.tobytes() for t in tasks.values()}) == 3
    assert len({t.X_test.tobytes() for t in tasks.values()}) == 3
    assert not np.array_equal(tasks[0].meta["index_test"], tasks[1].meta["index_test"])
    fixed = study_mod.load(_write(tmp_path, text.replace("[tasks.mnist1d]", "[tasks.mnist1d]\nresplit = false")))
    assert fixed.tasks["mnist1d"]["params"]["resplit"] is False
    fixed_tasks = [st.task(spec) for spec in fixed.runs()]  # the package's one split for every seed index
    assert len({t.y_test.tobytes() for t in fixed_tasks}) == 1
    raw = [t.X_test * t.meta["scaler"]["std"] + t.meta["scaler"]["mean"] for t in fixed_tasks]  # undo the scaling
    assert all(np.allclose(r, raw[0], atol=1e-9) for r in raw)  # (fitted on each seed's training split)
