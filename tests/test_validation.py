"""Validation helpers: every refusal names the parameter and shows the value."""

import numpy as np
import pytest

from sim import ValidationError
from sim.validation import as_generator, check_array, check_choice, check_dtype, check_int, check_labels, check_number


def test_error_message_names_parameter_and_value():
    err = ValidationError("lr", -0.1, "must be > 0")
    assert str(err) == "invalid lr=-0.1: must be > 0"
    assert isinstance(err, ValueError) and err.parameter == "lr"
    big = ValidationError("X", np.zeros((100, 3)), "bad")
    assert "shape=(100, 3)" in str(big)


def test_check_number():
    assert check_number("lr", 0.5, low=0, low_open=True) == 0.5
    with pytest.raises(ValidationError, match=r"lr=0.0: must be > 0"):
        check_number("lr", 0.0, low=0, low_open=True)
    with pytest.raises(ValidationError, match="tau=nan"):
        check_number("tau", float("nan"))
    with pytest.raises(ValidationError, match="p=2"):
        check_number("p", 2, high=1)
    with pytest.raises(ValidationError, match="real number"):
        check_number("lr", "0.1")
    with pytest.raises(ValidationError, match="real number"):
        check_number("lr", True)


def test_check_int_and_choice_and_dtype():
    assert check_int("epochs", 3, low=1) == 3
    with pytest.raises(ValidationError, match="epochs=0"):
        check_int("epochs", 0, low=1)
    with pytest.raises(ValidationError, match="integer"):
        check_int("epochs", 2.0)
    assert check_choice("optimizer", "Adam", ["adam", "sgd"]) == "adam"
    with pytest.raises(ValidationError, match="optimizer='rmsprop'.*valid: adam, sgd"):
        check_choice("optimizer", "rmsprop", ["sgd", "adam"])
    assert check_dtype("dtype", "float32") == np.float32
    with pytest.raises(ValidationError, match="dtype"):
        check_dtype("dtype", "int8")
    with pytest.raises(ValidationError, match="dtype"):
        check_dtype("dtype", "no-such-type")


def test_check_array():
    X = check_array("X", [[1, 2], [3, 4]], n_features=2)
    assert X.dtype == np.float64
    with pytest.raises(ValidationError, match="X.*2 dimensions"):
        check_array("X", [1, 2, 3])
    with pytest.raises(ValidationError, match="X.*3 features"):
        check_array("X", np.zeros((4, 2)), n_features=3)
    with pytest.raises(ValidationError, match="X.*NaN"):
        check_array("X", np.array([[np.nan, 1.0]]))
    with pytest.raises(ValidationError, match="X.*inf"):
        check_array("X", np.array([[np.inf, 1.0]]))
    with pytest.raises(ValidationError, match="numeric"):
        check_array("X", [["a", "b"]])
    with pytest.raises(ValidationError, match="at least 1 rows"):
        check_array("X", np.zeros((0, 2)))


def test_check_labels():
    np.testing.assert_array_equal(check_labels("y", [0, 2, 1], n_classes=3), [0, 2, 1])
    with pytest.raises(ValidationError, match=r"y.*0\.\.2"):
        check_labels("y", [0, 3], n_classes=3)
    with pytest.raises(ValidationError, match="y.*>= 0"):
        check_labels("y", [-1, 0])
    with pytest.raises(ValidationError, match="y.*integers"):
        check_labels("y", [0.5, 1.0])
    with pytest.raises(ValidationError, match="y.*2 labels"):
        check_labels("y", [0, 1, 1], n_samples=2)


def test_as_generator_is_reproducible_and_refuses_none():
    a = as_generator(7).normal(size=5)
    b = as_generator(np.random.SeedSequence(7)).normal(size=5)
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    with pytest.raises(ValidationError, match="seed=None"):
        as_generator(None)
    with pytest.raises(ValidationError, match="seed=-1"):
        as_generator(-1)
