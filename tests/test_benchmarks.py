"""Smoke tests of the benchmark scripts: they import, and their helpers compute the right thing
on tiny inputs. Nothing here times anything against a threshold (the machine is shared)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import hebbian  # noqa: E402
import machine  # noqa: E402
import mlp  # noqa: E402
import nengo_ref  # noqa: E402
import sweep  # noqa: E402

from sim import tasks  # noqa: E402


@pytest.fixture(scope="module")
def tiny_task():
    rng = np.random.default_rng(0)
    X = rng.random((40, 4))
    y = (X[:, 0] > 0.5).astype(np.int64)
    return tasks.from_arrays(X, y, seed=0)


def test_modules_have_entry_points():
    for module in (mlp, hebbian, sweep):
        assert callable(module.main)
        assert module.__doc__ and module.__doc__.splitlines()[0]


def test_batches_cover_the_epoch():
    assert machine.batches(1149, 32) == [(32, 35), (29, 1)]
    assert machine.batches(64, 32) == [(32, 2)]
    assert machine.batches(5, 32) == [(5, 1)]
    assert sum(b * c for b, c in machine.batches(1149, 128)) == 1149


def test_gemm_flops_counts_2mkn():
    assert machine.gemm_flops([((2, 3, 4), 5)]) == 2 * 2 * 3 * 4 * 5
    assert machine.gemm_flops([((2, 3, 4), 1), ((1, 1, 1), 3)]) == 48 + 6


def test_merge_shapes_adds_counts_in_order():
    assert machine.merge_shapes([((1, 2, 3), 2), ((4, 5, 6), 1), ((1, 2, 3), 3)]) == [((1, 2, 3), 5), ((4, 5, 6), 1)]


def test_mlp_epoch_shapes():
    # 10 samples at batch 4: two batches of 4, one of 2; layers 3 -> 5 -> 2
    shapes = dict(machine.mlp_epoch_shapes(10, 4, (3, 5, 2)))
    assert shapes == {(4, 3, 5): 2, (5, 4, 3): 2, (4, 5, 2): 2, (2, 4, 5): 2, (4, 2, 5): 2,
                      (2, 3, 5): 1, (5, 2, 3): 1, (2, 5, 2): 1, (2, 2, 5): 2}  # last batch: grad = error shape
    # 3 L - 1 matmuls per batch (no error sent to the input)
    per_batch = machine.mlp_epoch_shapes(8, 8, (3, 5, 4, 2))
    assert sum(c for _, c in per_batch) == 3 * 3 - 1
    # forward + weight gradient + error: 2 b in out each, but the first layer's error is not needed
    assert machine.gemm_flops(machine.mlp_epoch_shapes(32, 32, (64, 128, 10))) == 2 * 32 * (2 * 64 * 128 + 3 * 128 * 10)


def test_hebbian_epoch_shapes():
    shapes = machine.hebbian_epoch_shapes(6, 4, 3, 5, 2)
    assert dict(shapes) == {(4, 3, 5): 2, (5, 4, 3): 1, (4, 5, 2): 1, (2, 4, 5): 1,
                            (2, 3, 5): 2, (5, 2, 3): 1, (2, 5, 2): 1, (2, 2, 5): 1}
    assert machine.gemm_flops(machine.hebbian_epoch_shapes(1, 1, 3, 5, 2)) == 2 * (3 * 15 + 10 + 10)


def test_time_gemms_and_floor_report():
    shapes = [((3, 4, 5), 2)]
    floor = machine.time_gemms(shapes, repeats=1)
    assert floor > 0 and math.isfinite(floor)
    rep = machine.floor_report(shapes, peak=10.0, seconds={"ours": 2.0}, repeats=1)
    assert rep["flops"] == 240
    assert rep["ours_fraction_of_peak"] == pytest.approx(240 / 2.0 / 1e9 / 10.0)
    assert rep["ours_over_floor"] == pytest.approx(2.0 / rep["floor_seconds"])
    assert "ms" in machine.floor_line("tiny", rep)


def test_sgemm_peak_is_the_best_size():
    peak = machine.sgemm_peak(sizes=(8, 16), budget=0.0)
    assert set(peak["by_size"]) == {8, 16} and peak["peak"] == max(peak["by_size"].values()) > 0
    a = {"by_size": {8: 1.0, 16: 5.0}, "peak": 5.0}
    b = {"by_size": {8: 3.0, 16: 2.0}, "peak": 3.0}
    merged = machine.best_peak(a, b)
    assert merged["by_size"] == {8: 3.0, 16: 5.0} and merged["peak"] == 5.0
    assert "GFLOP/s" in machine.machine_header(merged, machine.blas_info())


def test_blas_info_names_the_kernel():
    info = machine.blas_info()
    assert info, "numpy's BLAS should be found by threadpoolctl"
    assert all(set(machine.BLAS_KEYS) <= set(d) for d in info)
    assert info[0]["internal_api"] in machine.blas_line(info)


def test_load_monitor():
    load = machine.LoadMonitor().stop()
    assert load["cores"] == machine.cores() >= 1
    assert len(load["loadavg_start"]) == 3
    assert load["others_cores"] is None or load["others_cores"] >= 0
    assert "cores" in machine.load_line(load)


def test_verdict():
    assert machine.verdict(3.5, 3.5) == "MET"
    assert machine.verdict(3.4, 3.5) == "NOT MET"
    assert machine.verdict(2.0, 3.0, higher=False) == "MET"
    assert machine.verdict(3.1, 3.0, higher=False) == "NOT MET"


def test_write_json_makes_plain_json(tmp_path):
    path = machine.write_json("x", {"a": np.float32(1.5), "b": float("nan"), 1: [np.int64(2), (3, 4)]},
                              tmp_path / "sub" / "x.json")
    assert json.loads(path.read_text()) == {"a": 1.5, "b": None, "1": [2, [3, 4]]}


def test_float32_task(tiny_task):
    t = machine.float32_task(tiny_task)
    assert {t.X_train.dtype, t.X_val.dtype, t.X_test.dtype} == {np.dtype(np.float32)}
    np.testing.assert_array_equal(t.y_train, tiny_task.y_train)
    np.testing.assert_allclose(t.X_train, tiny_task.X_train, rtol=1e-6)
    assert (t.n_train, t.n_test, t.n_classes) == (tiny_task.n_train, tiny_task.n_test, tiny_task.n_classes)
    sub = hebbian.subset(t, 5)
    assert sub.n_train == 5 and sub.X_train.dtype == np.float32 and sub.n_test == t.n_test


def test_evaluate_splits_uniform_probabilities(tiny_task):
    out = mlp.evaluate_splits(lambda X: np.full((len(X), 2), 0.5), tiny_task)
    assert out["test_loss"] == pytest.approx(math.log(2))
    assert out["train_accuracy"] == pytest.approx(np.mean(tiny_task.y_train == 0))


def test_fit_helpers_on_a_tiny_task(tiny_task):
    ours = mlp.fit_ours(machine.float32_task(tiny_task), (3,), 8, seed=0)
    assert ours["seconds"] >= ours["train_seconds"] > 0 and 0 <= ours["test_accuracy"] <= 1
    theirs = mlp.fit_sklearn(machine.float32_task(tiny_task), (3,), 8, seed=0)
    assert theirs["seconds"] >= theirs["fit_seconds"] > 0


def test_hebbian_helpers(tiny_task):
    sub = hebbian.subset(tiny_task, 5)
    assert sub.n_train == 5 and sub.n_test == tiny_task.n_test
    assert hebbian.si(1234.0) == "1.23k" and hebbian.si(float("nan")) == "-"
    assert hebbian.per_epoch([{"seconds": 4.0, "epochs": 2}, {"seconds": 9.0, "epochs": 3}]) == 2.5


def test_nengo_ref_ours_matches_integrate():
    from sim.substrate.dynamics import integrate
    rng = np.random.default_rng(0)
    X, W = rng.random((4, 3)).astype(np.float32), nengo_ref.fixed_weights(3, n=5)
    assert W.shape == (5, 3) and W.dtype == np.float32
    res = nengo_ref.ours(X, W, batch=2, presentations=2, record_end=True)
    assert res["neuron_steps"] == 5 * nengo_ref.STEPS * 2 * 2
    assert res["end_rates"].shape == (2, 2, 5)
    first = integrate(X[:2] @ W.T, neuron="relu", tau=10.0, dt=1.0, steps=100, w_inh=0.3)
    second = integrate(X[2:] @ W.T, neuron="relu", tau=10.0, dt=1.0, steps=100, w_inh=0.3, v0=first.v)
    np.testing.assert_allclose(res["end_rates"][1], second.rate, rtol=1e-6)


def test_nengo_ref_without_nengo(monkeypatch):
    monkeypatch.setitem(sys.modules, "nengo", None)  # import nengo raises ImportError
    X, W = np.ones((2, 3), dtype=np.float32), nengo_ref.fixed_weights(3, n=4)
    assert nengo_ref.nengo_rate(X, W) is None
    assert nengo_ref.agreement(X, W) is None


def test_blas_env_lists_only_blas_variables(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("NOT_BLAS_VARIABLE", "1")
    env = machine.blas_env()
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and "NOT_BLAS_VARIABLE" not in env
