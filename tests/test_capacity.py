"""The hidden-size condition: specs, schema errors, and the accuracy-vs-N analysis."""

import tomllib

import numpy as np
import pytest
from scipy import stats

from analyses import capacity
from sim.errors import ValidationError
from sim.study import config
from sim.study.backends import run_study

STUDY = """
name = "cap"
root_seed = 1
seeds = 3
epochs = 3
[tasks.digits]
[tasks.moons]
n_train = 100
n_test = 100
[models.hebbian]
model = "hebbian"
hidden = 40
hidden_epochs = 1
[models.random]
model = "hebbian"
hidden = 40
random_control = true
[models.mlp]
model = "backprop"
hidden = [16, 8]
[models.readout]
model = "readout"
[conditions]
hidden_units = { sizes = [32, 8], tasks = ["digits"], models = ["hebbian", "random", "mlp"] }
"""


def _study(text=STUDY):
    return config.parse(tomllib.loads(text))


def test_specs_resize_every_hidden_stage():
    specs = [s for s in _study().runs() if s["kind"] == "hidden_units"]
    assert len(specs) == 3 * 2 * 3  # models x sizes x seeds, digits only
    by = {(s["model"], s["condition"]["hidden_units"]) for s in specs}
    assert by == {(m, n) for m in ("hebbian", "random", "mlp") for n in (8, 32)}
    for s in specs:
        n = s["condition"]["hidden_units"]
        assert s["params"]["hidden"] == ([n, n] if s["model"] == "mlp" else n)
        assert s["task"] == "digits"


@pytest.mark.parametrize("change,key", [
    ('hidden_units = { tasks = ["digits"] }', "conditions.hidden_units.sizes"),
    ('hidden_units = { sizes = [0] }', "conditions.hidden_units.sizes[0]"),
    ('hidden_units = { sizes = [8], models = ["readout"] }', "conditions.hidden_units.models"),
    ('hidden_units = { sizes = [8], models = ["nope"] }', "conditions.hidden_units.models"),
    ('hidden_units = { sizes = [8], tasks = ["nope"] }', "conditions.hidden_units.tasks[0]"),
    ('hidden_units = { sizes = [8], size = 3 }', "conditions.hidden_units.size"),
])
def test_bad_condition_names_the_key(change, key):
    text = STUDY.split("[conditions]")[0] + "[conditions]\n" + change + "\n"
    with pytest.raises(ValidationError) as info:
        _study(text)
    assert info.value.parameter == key


def test_analysis_matches_a_hand_computation(tmp_path):
    path = tmp_path / "cap.toml"
    path.write_text(STUDY)
    run_study(path, tmp_path / "out", workers=1, progress=False)
    d = capacity.data(tmp_path / "out")
    assert list(d["tasks"]) == ["digits"]
    e = d["tasks"]["digits"]["hebbian"]
    assert e["sizes"] == [8, 32] and e["seeds"] == [0, 1, 2]
    col = e["values"][:, 1]
    half = stats.t.ppf(0.975, 2) * np.std(col, ddof=1) / np.sqrt(3)
    assert e["mean"][1] == pytest.approx(col.mean()) and e["ci"][1] == pytest.approx(half)
    row = next(r for r in d["differences"] if (r["model_a"], r["model_b"], r["n_units"]) == ("hebbian", "random", 8))
    a = d["tasks"]["digits"]["hebbian"]["values"][:, 0]
    b = d["tasks"]["digits"]["random"]["values"][:, 0]
    assert row["difference_pp"] == pytest.approx(100 * np.mean(a - b))
    assert row["p_t"] == pytest.approx(stats.ttest_rel(a, b).pvalue, nan_ok=True)
    assert len(d["differences"]) == 3 * 2  # three model pairs at two sizes, Holm over all of them
    figs = capacity.build(tmp_path / "out", tmp_path / "fig", ("png",))
    assert (tmp_path / "fig" / "capacity.png").exists() and (tmp_path / "fig" / "capacity.csv").exists()
    assert figs[0]["name"] == "capacity"


def test_summary_reports_the_active_and_dead_units_of_each_code(tmp_path):
    """A control's dead and active fractions stand beside its accuracy (hand-averaged here)."""
    from analyses import summary
    from sim.study import store
    path = tmp_path / "cap.toml"
    path.write_text(STUDY.split("[conditions]")[0])
    run_study(path, tmp_path / "out", workers=1, progress=False)
    d = summary.data(tmp_path / "out")
    runs = [r for r in store.open(tmp_path / "out").runs() if r["config"]["task"] == "digits"]
    for row in (r for r in d["rows"] if r["task"] == "digits"):
        last = [r["history"]["records"][-1] for r in runs if r["config"]["model"] == row["model"]]
        if row["model"] in ("hebbian", "random"):
            assert row["active_pct_mean"] == pytest.approx(100 * np.mean([x["active_fraction"] for x in last]))
            assert row["dead_pct_mean"] == pytest.approx(100 * np.mean([x["dead_fraction"] for x in last]))
        else:
            assert np.isnan(row["active_pct_mean"]) and np.isnan(row["dead_pct_mean"])
    assert "active / dead units (%)" in summary.markdown(d)
