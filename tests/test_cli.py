"""The command line: tasks table, single runs (human and JSON output), errors."""

import json
import subprocess
import sys

import pytest

from sim import tasks
from sim.cli import main


def test_tasks_table_lists_every_task(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in tasks.names():
        assert name in out
    assert "1149" in out and "3200" in out and "288" in out  # digits, mnist1d train; digits validation


@pytest.mark.parametrize("model,extra", [("backprop", ["--set", "hidden=(16,)"]),
                                         ("hebbian", ["--set", "hidden=50"]),
                                         ("readout", [])])
def test_run_json_has_the_promised_fields(model, extra, capsys):
    code = main(["run", "--task", "moons", "--model", model, "--seed", "1", "--epochs", "3",
                 "--task-param", "n_train=200", "--json", *extra])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("task", "model", "seed", "train_accuracy", "val_accuracy", "test_accuracy", "train_loss",
                "val_loss", "test_loss", "n_val", "epochs", "best_epoch", "seconds", "diverged"):
        assert key in result
    assert result["n_train"] + result["n_val"] == 200 and 0.0 <= result["val_accuracy"] <= 1.0
    assert result["model"] == model and result["seed"] == 1 and result["epochs"] == 3
    assert 0.5 < result["test_accuracy"] <= 1.0 and result["diverged"] is False


def test_run_same_seed_same_result(capsys):
    args = ["run", "--task", "xor", "--model", "backprop", "--epochs", "2", "--json", "--set", "hidden=(8,)"]
    main(args)
    a = json.loads(capsys.readouterr().out)
    main(args)
    b = json.loads(capsys.readouterr().out)
    assert a["test_accuracy"] == b["test_accuracy"] and a["train_loss"] == b["train_loss"]


def test_diverging_run_is_reported_not_raised(capsys):
    code = main(["run", "--task", "moons", "--model", "backprop", "--epochs", "10", "--json",
                 "--set", "lr=1e6", "--set", "optimizer=sgd", "--set", "output=linear"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["diverged"] is True


@pytest.mark.parametrize("args,name", [(["--set", "lr=-1"], "lr"), (["--set", "bogus=1"], "bogus"),
                                       (["--set", "nokey"], "--set"), (["--task-param", "noise=-1"], "noise")])
def test_bad_arguments_exit_2_naming_the_parameter(args, name, capsys):
    assert main(["run", "--task", "moons", "--model", "backprop", "--epochs", "1", *args]) == 2
    assert name in capsys.readouterr().err


def test_unknown_task_and_model(capsys):
    assert main(["run", "--task", "cifar", "--model", "backprop"]) == 2
    assert "cifar" in capsys.readouterr().err
    assert main(["run", "--task", "moons", "--model", "transformer"]) == 2
    assert "backprop" in capsys.readouterr().err  # the valid names are listed


def test_console_script_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "sim.cli", "tasks"], capture_output=True, text=True, check=True)
    assert "digits" in out.stdout
