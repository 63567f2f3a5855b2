"""Bad input is refused with a named error, never a raw crash or a silently wrong answer."""

import numpy as np
import pytest

from sim import ValidationError, tasks
from sim.models import BackpropMLP, HebbianNet
from sim.validation import check_array, check_dtype, check_labels


def test_complex_input_is_refused_not_truncated():
    with pytest.raises(ValidationError, match="^invalid X=.*real"):
        check_array("X", np.ones((3, 2)) + 1j)
    with pytest.raises(ValidationError, match="^invalid X=.*real"):
        tasks.from_arrays(np.ones((20, 2), dtype=complex), np.arange(20) % 2)


def test_finite_values_beyond_float32_get_the_right_message():
    X = np.full((3, 2), 1e300)
    assert check_array("X", X, dtype=np.float64).dtype == np.float64  # fine in float64
    with pytest.raises(ValidationError, match=r"^invalid X=.*beyond the float32 range"):
        check_array("X", X, dtype=np.float32)
    with pytest.raises(ValidationError, match="^invalid X=.*NaN or inf"):
        check_array("X", np.array([[np.inf, 0.0]]), dtype=np.float32)


@pytest.mark.parametrize("make, name", [
    (lambda: HebbianNet(hidden=10**9), "hidden"),
    (lambda: BackpropMLP(hidden=(10**9,)), "hidden"),
])
def test_absurd_sizes_are_refused_before_any_allocation(make, name):
    with pytest.raises(ValidationError, match=f"^invalid {name}=.*<= 100000"):
        make().fit(tasks.load("moons", n_train=20, n_test=10), 1)


def test_absurd_task_sizes_are_refused():
    with pytest.raises(ValidationError, match="^invalid n_train=.*<= 1000000"):
        tasks.load("moons", n_train=10**13)


def test_a_diverged_model_warns_when_it_predicts():
    task = tasks.load("moons", n_train=100, n_test=20)
    model = BackpropMLP(hidden=(8,), lr=1e30, optimizer="sgd", seed=0)
    model.fit(task, 3)
    assert model.history_.diverged
    with pytest.warns(RuntimeWarning, match="diverged during training"):
        model.predict(task.X_test)
    with pytest.warns(RuntimeWarning, match="diverged during training"):
        model.score(task.X_test, task.y_test)


# ----- findings of the fuzz suite (tests/test_fuzz.py, tests/test_fuzz_study.py), fixed ---------------------
def _xor():
    return tasks.load("xor", n_train=20, n_test=10)


@pytest.mark.parametrize("call, name", [
    (lambda: check_dtype("dtype", {"": ""}), "dtype"),                    # numpy raised ValueError
    (lambda: check_dtype("dtype", (None, False)), "dtype"),
    (lambda: check_dtype("dtype", np.float32(0.0)), "dtype"),            # a value, not a dtype: unsaveable
    (lambda: BackpropMLP(activation=None).validate_params(), "activation"),  # was named "neuron"
    (lambda: HebbianNet(neuron="relu^0.5").validate_params(), "neuron"),      # was named "n"
    (lambda: HebbianNet(readout_scaling=np.zeros(2)).validate_params(), "readout_scaling"),  # ambiguous truth
    (lambda: check_labels("y", [[1, 2], [3]]), "y"),                      # ragged: numpy's ValueError
    (lambda: tasks.from_arrays(np.zeros((3, 0)), [0, 1, 0]), "X"),       # no feature: "invalid n=0" at fit
    (lambda: tasks.from_arrays([[1e308], [-1e308]] * 5, [0, 1] * 5), "X"),  # the scaling overflows
    (lambda: tasks.from_arrays(np.ones((4, 2)), [0, 74998396, 1, 0]), "y"),   # 75 million output units
])
def test_fuzz_findings_are_named_refusals(call, name):
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.parameter == name and str(info.value).startswith(f"invalid {name}=")


def test_a_validation_error_shows_any_value_and_any_name_on_one_line():
    assert str(ValidationError("dtype", np.float32, "x")) == "invalid dtype=<class 'numpy.float32'>: x"
    assert str(ValidationError("tasks.\n", 0, "x")) == "invalid 'tasks.\\n'=0: x"  # a TOML key may hold "\n"
    assert str(ValidationError("", 0, "x")) == "invalid ''=0: x"


def test_a_numpy_dtype_parameter_is_saved_by_name(tmp_path):
    from sim.models import LinearReadout, load
    model = LinearReadout(dtype=np.float32)
    model.fit(_xor(), 1)
    model.save(tmp_path / "m.npz")  # raised TypeError while naming the value
    loaded = load(tmp_path / "m.npz")
    assert loaded.dtype == "float32"
    np.testing.assert_array_equal(loaded.predict_proba(_xor().X_test), model.predict_proba(_xor().X_test))


def test_a_task_with_more_classes_than_units_is_refused_before_allocating():
    big = tasks.Task("big", np.zeros((2, 2)), np.array([0, 1]), np.zeros((1, 2)), np.array([0]), 10**6)
    with pytest.raises(ValidationError, match="^invalid task.n_classes=1000000"):
        BackpropMLP(hidden=(2,)).fit(big, 1)


# ----- findings of the fuzz suite (tests/test_fuzz.py), fixed ------------------------------------------------
def test_validate_params_refuses_a_competitive_k_above_the_hidden_units():
    with pytest.raises(ValidationError, match="k=7"):
        HebbianNet(hidden=4).validate_params()  # rule "competitive", default k=7


PRODUCT_SIZES = """
import resource
resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))  # never more than 4 GiB, whatever fails
from sim import ValidationError, tasks
from sim.models import BackpropMLP
for call in (lambda: BackpropMLP(hidden=(100_000, 100_000)).fit(tasks.load("xor", n_train=20, n_test=10), 1),
             lambda: tasks.load("bars", n_train=10**6, size=256)):
    try:
        call()
    except ValidationError as exc:
        print("refused", exc.parameter)
    except MemoryError as exc:
        print("MemoryError", exc)
"""


def test_sizes_whose_product_exhausts_memory_are_refused():
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", PRODUCT_SIZES], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["refused hidden", "refused n_train"], proc.stdout


def _study(**extra):
    return {"name": "s", "epochs": 1, "tasks": {"xor": {"n_train": 20, "n_test": 10}},
            "models": {"mlp": {"model": "backprop", "hidden": [4]}}, **extra}


@pytest.mark.parametrize("raw, name", [
    (_study(tasks={"xor": {"name": "moons"}}), "tasks.xor.name"),               # TypeError: load() got 'name' twice
    (_study(conditions={"train_per_class": {"sizes": [1], "tasks": [[]]}}), "conditions.train_per_class.tasks[0]"),
    (_study(tuning={"trials": 1, "metric": {}}), "tuning.metric"),              # unhashable dict
    (_study(**{"\n": 1}), "\n"),                                                # a key the message must quote
])
def test_study_config_findings_are_named_refusals(raw, name):
    from sim.study import config
    with pytest.raises(ValidationError) as info:
        config.parse(raw)
    assert info.value.parameter == name and "\n" not in str(info.value)


def test_command_line_findings_are_named_refusals(tmp_path, capsys):
    from sim.cli import main
    from sim.study import store
    assert main(["run", "--task", "xor", "--model", "readout", "--task-param", "noise"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "neurocompare: error: invalid --task-param='noise': must look like key=value"  # was named --set
    for args, name in ((["--task-param", "seed=1"], "--task-param"), (["--task-param", "name=moons"], "name"),
                       (["--set", "name=mlp"], "name")):  # were TypeErrors: load() / make() got 'seed' or 'name' twice
        assert main(["run", "--task", "xor", "--model", "readout", *args]) == 2
        assert capsys.readouterr().err.startswith(f"neurocompare: error: invalid {name}=")
    (tmp_path / "manifest.json").write_text("[1, 2]")
    assert main(["status", str(tmp_path)]) == 2  # was an AttributeError
    assert "invalid manifest=" in capsys.readouterr().err
    with pytest.raises(ValidationError, match="^invalid manifest=.*not a JSON object"):
        store.Store(tmp_path).manifest()
    from sim.study.dask_backend import connect
    pytest.importorskip("distributed")
    with pytest.raises(ValidationError, match="^invalid scheduler_timeout=inf"):  # dask's KeyError ('infs')
        connect("dask-remote", "tcp://127.0.0.1:9", float("inf"))
