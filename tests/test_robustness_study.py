"""The adversarial and cost conditions of a study: validation, run specs, and a small serial study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analyses import cost as cost_analysis
from analyses import robustness as robustness_analysis
from analyses.generalization import auc
from sim.errors import ValidationError
from sim.study import config as study_mod
from sim.study import store as store_mod
from sim.study.backends import run_study

ROOT = Path(__file__).resolve().parents[1]

SMALL = """
name = "adv"
root_seed = 1
seeds = 2
epochs = 4
[tasks.moons]
n_train = 120
n_test = 60
[models.mlp]
model = "backprop"
hidden = [8]
lr = 0.02
[models.hebbian]
model = "hebbian"
hidden = 16
hidden_epochs = 2
[conditions]
cost = true
[conditions.adversarial]
linf = [0.0, 0.1]
l2 = [0.0, 0.2]
n = 20
steps = 5
spsa_steps = 5
spsa_samples = 4
transfer = [["mlp", "hebbian"]]
"""


def _load(tmp_path, text):
    path = tmp_path / "s.toml"
    path.write_text(text)
    return study_mod.load(path)


def test_specs_carry_the_conditions_and_a_transfer_run_per_pair_and_seed(tmp_path):
    s = _load(tmp_path, SMALL)
    runs = s.runs()
    standard = [r for r in runs if r["kind"] == "standard"]
    transfer = [r for r in runs if r["kind"] == "transfer"]
    assert len(standard) == 4 and len(transfer) == 2
    for r in standard:
        assert r["evaluation"]["adversarial"]["linf"] == [0.0, 0.1] and r["evaluation"]["cost"] is True
    for r in transfer:
        assert r["model"] == "mlp" and r["condition"]["partner"] == "hebbian"
        assert r["condition"]["partner_params"] == s.model_for("hebbian", "moons")[0]
    # a study without the conditions keeps its specs (and run ids) unchanged
    plain = _load(tmp_path, SMALL.split("[conditions]")[0])
    assert all("adversarial" not in r["evaluation"] and "cost" not in r["evaluation"] for r in plain.runs())


@pytest.mark.parametrize("snippet,param", [
    ('adversarial = { linf = [0.1, 2.0] }', "conditions.adversarial.linf[1]"),
    ('adversarial = { n = 5 }', "conditions.adversarial.linf"),
    ('adversarial = { linf = [0.1], l1 = [0.1] }', "conditions.adversarial.l1"),
    ('adversarial = { linf = [0.1], transfer = [["mlp", "nope"]] }', "conditions.adversarial.transfer[0]"),
    ('adversarial = { linf = [0.1], tasks = ["digits"] }', "conditions.adversarial.tasks[0]"),
    ('adversarial = { linf = [0.1], steps = 0 }', "conditions.adversarial.steps"),
    ('cost = 1', "conditions.cost"),
])
def test_bad_conditions_are_named(tmp_path, snippet, param):
    text = SMALL.split("[conditions]")[0] + "[conditions]\n" + snippet + "\n"
    with pytest.raises(ValidationError) as err:
        _load(tmp_path, text)
    assert err.value.parameter == param


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adv")
    out = tmp / "res"
    run_study(_load(tmp, SMALL), out, workers=1, progress=False, log=lambda *a: None)
    return out


def test_a_small_study_records_curves_cost_and_both_transfer_directions(small_store):
    runs = store_mod.open(small_store).runs()
    assert all(r["status"] == "finished" for r in runs), [r.get("error") for r in runs]
    std = [r for r in runs if r["config"]["kind"] == "standard"]
    for r in std:
        adv = r["evaluation"]["adversarial"]
        for norm in ("linf", "l2"):
            curve = adv[norm]
            assert curve["eps"] == r["config"]["evaluation"]["adversarial"][norm]
            assert curve["eps_abs"][1] == pytest.approx(curve["eps"][1] * (adv["hi"] - adv["lo"]))
            assert curve["worst"][1] + curve["spsa_only"][1] <= min(curve["pgd"][1], curve["fgsm"][1])
            assert curve["worst"][0] == curve["pgd"][0]  # eps 0: the clean accuracy on the n items
        cost = r["evaluation"]["cost"]
        acc = r["evaluation"]["test_accuracy"]
        assert cost["energy_per_correct_event_pj"] == pytest.approx(cost["energy_event_pj"] / acc)
        assert cost["events"] <= cost["dense_macs"]
    by_key = {(r["config"]["model"], r["config"]["seed"]): r for r in std}
    for r in (r for r in runs if r["config"]["kind"] == "transfer"):
        tr = r["evaluation"]["transfer"]
        seed = r["config"]["seed"]
        # the partner is the model of its own standard run: same split and seed, same test accuracy
        assert tr["partner_test_accuracy"] == by_key[("hebbian", seed)]["evaluation"]["test_accuracy"]
        assert r["evaluation"]["test_accuracy"] == by_key[("mlp", seed)]["evaluation"]["test_accuracy"]
        for norm in ("linf", "l2"):
            assert len(tr[norm]["source_to_target"]) == 2 and len(tr[norm]["target_to_source"]) == 2
            assert tr[norm]["source_white_box"][1] == by_key[("mlp", seed)]["evaluation"]["adversarial"][norm]["pgd"][1]
            assert np.all(np.isfinite(tr[norm]["source_to_target"]))


def test_the_analyses_read_the_stored_numbers(small_store, tmp_path):
    runs = [r for r in store_mod.open(small_store).runs() if r["config"]["kind"] == "standard"]
    d = robustness_analysis.data(small_store)
    for norm in ("linf", "l2"):
        for model in ("mlp", "hebbian"):
            rs = sorted((r for r in runs if r["config"]["model"] == model), key=lambda r: r["config"]["seed"])
            e = d["curves"][norm]["moons"][model]
            expected = [auc(r["evaluation"]["adversarial"][norm]["eps"], r["evaluation"]["adversarial"][norm]["worst"])
                        for r in rs]
            np.testing.assert_allclose(e["auc"], expected)
    pair = d["transfer"]["linf"]["moons"][("mlp", "hebbian")]
    assert len(pair["seeds"]) == 2 and len(pair["source_to_target"]["mean"]) == 2
    c = cost_analysis.data(small_store)["cost"]["moons"]["hebbian"]
    stored = [r["evaluation"]["cost"]["energy_per_correct_event_pj"] for r in runs if r["config"]["model"] == "hebbian"]
    assert c["energy_per_correct_event_pj"]["mean"] == pytest.approx(np.mean(stored))
    figs = robustness_analysis.build(small_store, tmp_path, ("png",)) + cost_analysis.build(small_store, tmp_path,
                                                                                            ("png",))
    assert [f["name"] for f in figs] == ["adversarial", "adversarial_transfer", "cost"]
    assert all((tmp_path / f"{f['name']}.png").stat().st_size > 0 for f in figs)
    assert "| L-inf | moons | mlp |" in (tmp_path / "adversarial.md").read_text()
    assert "| moons | hebbian |" in (tmp_path / "cost.md").read_text()


def test_the_builtin_adversarial_study_parses_and_is_linked():
    s = study_mod.load("adversarial_digits")
    kinds = [r["kind"] for r in s.runs()]
    assert kinds.count("standard") == 12 and kinds.count("transfer") == 8
    assert s.conditions["adversarial"]["n"] == 200 and s.conditions["cost"] is True
    top = ROOT / "studies" / "adversarial_digits.toml"
    assert top.is_symlink() and top.read_text() == study_mod.builtin("adversarial_digits").read_text()
