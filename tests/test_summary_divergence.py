"""Diverged runs stay in the results: counted per cell, scored as failures (chance accuracy) in the
test-accuracy mean and the paired tests, never silently dropped."""

import numpy as np
import pytest

import sim.study.worker as worker
from analyses import summary
from sim.seeds import model_seed
from sim.study.backends import run_study

STUDY = """
name = "divergence"
root_seed = 5
seeds = 3
epochs = 3
[tasks.moons]
n_train = 100
n_test = 100
[models.mlp]
model = "backprop"
hidden = [8]
lr = 0.01
[models.some]
model = "backprop"
hidden = [8]
lr = 0.02
[models.blowup]
model = "backprop"
hidden = [8]
optimizer = "sgd"
lr = 1e30
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("divergence")
    path = tmp / "divergence.toml"
    path.write_text(STUDY)
    make = worker.models.make

    def diverge_first_seed_of_some(name, **params):  # model "some" blows up on seed index 0 only
        if params.get("lr") == 0.02 and params["seed"] == model_seed(5, 0):
            params.update(lr=1e30, optimizer="sgd")
        return make(name, **params)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(worker.models, "make", diverge_first_seed_of_some)
        result = run_study(path, tmp / "out", workers=1, progress=False, log=lambda *a, **k: None)
    assert result["diverged"] == 4 and result["finished"] == 5
    return tmp / "out"


def test_every_model_keeps_its_row_with_counts(store):
    d = summary.data(store)
    rows = {r["model"]: r for r in d["rows"]}
    assert set(rows) == {"mlp", "some", "blowup"}
    assert (rows["blowup"]["n_finished"], rows["blowup"]["n_diverged"], rows["blowup"]["n_planned"]) == (0, 3, 3)
    assert (rows["some"]["n_finished"], rows["some"]["n_diverged"]) == (2, 1)
    assert rows["blowup"]["test_accuracy_pct_mean"] == pytest.approx(50.0)  # chance: 2 classes
    text = summary.markdown(d)
    assert "0 of 3, 3 diverged" in text and "2 of 3, 1 diverged" in text


def test_a_diverged_run_is_a_failure_at_chance_in_the_mean_and_the_tests(store):
    from sim.study import store as store_mod
    runs = [r for r in store_mod.open(store).runs() if r["config"]["model"] == "some"]
    finished = [100 * r["evaluation"]["test_accuracy"] for r in runs if r["status"] == "finished"]
    d = summary.data(store)
    some = next(r for r in d["rows"] if r["model"] == "some")
    assert some["test_accuracy_pct_mean"] == pytest.approx(np.mean(finished + [50.0]))
    tests = {(t["model_a"], t["model_b"]): t for t in d["tests"]}
    assert all(t["n_pairs"] == 3 for t in tests.values())  # no pair dropped
    assert tests[("mlp", "blowup")]["diff_pp_mean"] > 0
