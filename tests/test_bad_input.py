"""Bad input is refused with a named error, never a raw crash or a silently wrong answer."""

import numpy as np
import pytest

from sim import ValidationError, tasks
from sim.models import BackpropMLP, HebbianNet
from sim.validation import check_array


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
    assert model.fit(task, 3).diverged
    with pytest.warns(RuntimeWarning, match="diverged during training"):
        model.predict(task.X_test)
    with pytest.warns(RuntimeWarning, match="diverged during training"):
        model.score(task.X_test, task.y_test)
