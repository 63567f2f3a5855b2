"""The models as scikit-learn estimators: check_estimator, clone, cross-validation, grid search,
pipelines, arbitrary labels, partial_fit / warm_start, the validation split of array input."""

import numpy as np
import pytest
import sklearn.exceptions
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from sim import models, tasks
from sim.errors import ValidationError
from sim.models import BackpropMLP, HebbianNet, LinearReadout, load
from sim.models.inputs import array_data, classes_from_json, encode_labels
from sim.seeds import split_rng

# small configurations, so that scikit-learn's ~60 checks per class take about a second
SMALL = {"backprop": lambda **kw: BackpropMLP(**{"hidden": (16,), "epochs": 30, "lr": 0.01, "batch_size": 16, **kw}),
         "hebbian": lambda **kw: HebbianNet(**{"hidden": 16, "epochs": 20, "batch_size": 16, "readout_lr": 0.03,
                                               **kw}),
         "readout": lambda **kw: LinearReadout(**{"epochs": 30, "readout_lr": 0.03, "batch_size": 16, **kw})}
# checks that fail by design (none so far); check_array_api_input skips itself without SCIPY_ARRAY_API
EXPECTED_FAILED = {}


@pytest.fixture(scope="module")
def moons():
    task = tasks.load("moons", seed=0, n_train=200, n_test=50)
    return task, task.X_train, task.y_train


@pytest.mark.parametrize("name", sorted(SMALL))
def test_check_estimator_passes(name):
    results = check_estimator(SMALL[name](), expected_failed_checks=EXPECTED_FAILED.get(name, {}), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert failed == []
    assert sum(r["status"] == "passed" for r in results) >= 55  # the checks really ran


@pytest.mark.parametrize("name", sorted(SMALL))
def test_clone_gives_the_same_unfitted_parameters(name, moons):
    _, X, y = moons
    model = SMALL[name](seed=3).fit(X, y)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "history_")
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(X), model.predict_proba(X))


def test_cross_val_score_is_the_manual_stratified_loop(moons):
    _, X, y = moons
    model = SMALL["backprop"]()
    scores = cross_val_score(model, X, y, cv=3)
    manual = [clone(model).fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in StratifiedKFold(3).split(X, y)]
    np.testing.assert_allclose(scores, manual)
    assert scores.min() > 0.8  # moons with 16 ReLU units


def test_grid_search_over_two_parameters_picks_the_best_mean_and_refits(moons):
    _, X, y = moons
    grid = GridSearchCV(SMALL["backprop"](), {"lr": [1e-3, 3e-2], "hidden": [(2,), (16,)]}, cv=3)
    grid.fit(X, y)
    means = grid.cv_results_["mean_test_score"]
    assert len(means) == 4
    assert grid.best_score_ == means.max()
    assert grid.best_params_ == grid.cv_results_["params"][int(np.argmax(means))]
    refit = SMALL["backprop"]().set_params(**grid.best_params_).fit(X, y)
    np.testing.assert_array_equal(grid.predict(X), refit.predict(X))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_pipeline_with_a_scaler_is_the_model_on_scaled_inputs(name, moons):
    _, X, y = moons
    X = 10 * X + 3
    pipe = make_pipeline(StandardScaler(), SMALL[name]()).fit(X, y)
    direct = SMALL[name]().fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(StandardScaler().fit(X).transform(X)),
                               rtol=1e-5, atol=1e-6)


def test_model_as_a_feature_extractor_in_a_pipeline(moons):
    from sklearn.linear_model import LogisticRegression
    _, X, y = moons
    pipe = Pipeline([("code", SMALL["backprop"]()), ("clf", LogisticRegression())]).fit(X, y)
    code = pipe.named_steps["code"]
    expected = LogisticRegression().fit(code.hidden_rates(X), y).predict(code.hidden_rates(X))
    np.testing.assert_array_equal(pipe.predict(X), expected)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_string_labels_predict_the_mapped_int_predictions(name, moons):
    _, X, y = moons
    names = np.array(["ant", "bee"])  # sorted: code i is names[i]
    ints = SMALL[name](seed=1).fit(X, y)
    strs = SMALL[name](seed=1).fit(X, names[y])
    assert strs.classes_.tolist() == ["ant", "bee"] and ints.classes_.tolist() == [0, 1]
    np.testing.assert_array_equal(strs.predict(X), names[ints.predict(X)])
    assert strs.score(X, names[y]) == ints.score(X, y)
    assert strs.evaluate(X, names[y]) == ints.evaluate(X, y)
    with pytest.raises(ValidationError, match="'cow' is not one of the model's classes_"):
        strs.score(X[:2], ["ant", "cow"])


def test_arbitrary_integer_labels_and_partial_fit_classes(moons):
    _, X, y = moons
    labels = np.array([-5, 7, 12])
    model = SMALL["backprop"]()
    model.partial_fit(X[y == 0], labels[y[y == 0]], classes=labels)  # the first batch holds one class
    assert model.classes_.tolist() == [-5, 7, 12] and model.predict_proba(X).shape == (len(X), 3)
    model.partial_fit(X, labels[y])
    assert set(model.predict(X)) <= {-5, 7, 12} and model.n_iter_ == 2
    with pytest.raises(ValidationError, match="classes"):
        model.partial_fit(X, labels[y], classes=[0, 1])
    with pytest.raises(ValidationError, match="^invalid task=.*fitted on the labels"):
        model.partial_fit(moons[0])  # a Task's labels 0, 1 are not -5, 7, 12


@pytest.mark.parametrize("name", sorted(SMALL))
def test_array_fit_trains_exactly_as_the_task(name):
    """fit(X, y) on a task's training rows (no validation split) is fit(task) minus its records of
    the validation and test splits."""
    task = tasks.load("moons", seed=2, n_train=150, n_test=40, validation_fraction=0)
    a = SMALL[name](epochs=4).fit(task)
    b = SMALL[name](epochs=4).fit(task.X_train, task.y_train)
    for key, value in a.get_weights().items():
        np.testing.assert_array_equal(value, b.get_weights()[key])
    assert a.history_["train_loss"] == b.history_["train_loss"]
    assert all(np.isnan(b.history_["test_accuracy"])) and all(np.isnan(b.history_["val_accuracy"]))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_transform_is_the_hidden_code(name, moons):
    _, X, y = moons
    model = SMALL[name]().fit(X, y)
    if name == "readout":  # no hidden stage: the code the readout sees is the input itself
        np.testing.assert_array_equal(model.transform(X), X.astype(np.float32))
        with pytest.raises(ValidationError, match="no hidden layer"):
            model.hidden_rates(X)
    else:
        np.testing.assert_array_equal(model.transform(X), model.hidden_rates(X))


def test_warm_start_continues_as_partial_fit(moons):
    _, X, y = moons
    warm = SMALL["backprop"](epochs=2, warm_start=True).fit(X, y)
    warm.fit(X, y, epochs=3)
    partial = SMALL["backprop"](epochs=2).fit(X, y)
    partial.partial_fit(X, y, epochs=3)
    once = SMALL["backprop"](epochs=5).fit(X, y)  # a constant learning rate: 2 + 3 epochs = one run of 5
    for key, value in warm.get_weights().items():
        np.testing.assert_array_equal(value, partial.get_weights()[key])
        np.testing.assert_array_equal(value, once.get_weights()[key])
    assert warm.n_iter_ == 5 and len(warm.loss_curve_) == 5 and warm.loss_curve_ == warm.history_["train_loss"]
    cold = SMALL["backprop"](epochs=2).fit(X, y)
    cold.fit(X, y, epochs=3)  # without warm_start, fit starts over
    assert cold.n_iter_ == 3


def test_validation_split_of_arrays_is_stratified_and_seeded():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = rng.normal(size=(100, 3))
    split = array_data(X, y, 0.2, split_rng(0))
    again = array_data(X, y, 0.2, split_rng(0))
    other = array_data(X, y, 0.2, split_rng(1))
    X_tr, y_tr, X_val, y_val, X_te, y_te = split
    assert np.bincount(y_val).tolist() == [12, 6, 2]  # 20% of each class: 60, 30, 10
    assert X_tr.shape == (80, 3) and X_te.shape == (0, 3) and y_te.shape == (0,)
    assert sorted(map(tuple, np.vstack([X_tr, X_val]))) == sorted(map(tuple, X))  # a partition of the rows
    np.testing.assert_array_equal(again[2], X_val)
    assert not np.array_equal(other[2], X_val)
    # the model trains on exactly those rows, and validates on the rest
    model = SMALL["backprop"](validation_fraction=0.2, epochs=3).fit(X, y)
    direct = SMALL["backprop"](epochs=3).fit(X_tr, y_tr)
    np.testing.assert_array_equal(model.get_weights()["params"], direct.get_weights()["params"])
    assert model.history_.records[-1]["samples_seen"] == 3 * 80
    assert model.history_.last("val_accuracy") == direct.score(X_val, y_val)


def test_early_stopping_on_arrays_uses_the_carved_split(moons):
    _, X, y = moons
    model = BackpropMLP(hidden=(16,), lr=0.05, early_stopping=True, n_iter_no_change=3, epochs=300).fit(X, y)
    assert model.history_.stopped_early and model.n_iter_ < 300
    assert len(X) == 160 and model.history_.records[0]["samples_seen"] == 144  # 10% (16) held out by default
    with pytest.raises(ValidationError, match="early_stopping"):
        BackpropMLP(early_stopping=True, validation_fraction=0.0).fit(X, y)


def test_save_load_round_trips_string_labels(tmp_path, moons):
    _, X, y = moons
    names = np.array(["left", "right"])
    for name in sorted(SMALL):
        model = SMALL[name](epochs=3).fit(X, names[y])
        model.save(tmp_path / f"{name}.npz")
        loaded = load(tmp_path / f"{name}.npz")
        assert loaded.classes_.tolist() == ["left", "right"] and loaded.classes_.dtype.kind == "U"
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        assert loaded.n_iter_ == 3
    assert classes_from_json(None, 3).tolist() == [0, 1, 2]  # a file from before labels were saved
    with pytest.raises(ValidationError, match="classes_"):
        classes_from_json({"dtype": "str", "values": ["b", "a"]}, 2)  # not sorted
    with pytest.raises(ValidationError, match="classes_"):
        classes_from_json({"dtype": "object", "values": ["a", "b"]}, 2)


def test_refusals_name_the_parameter(moons):
    task, X, y = moons
    with pytest.raises(sklearn.exceptions.NotFittedError):
        BackpropMLP().predict(X)
    with pytest.raises(ValidationError, match="not fitted"):
        BackpropMLP().transform(X)
    with pytest.raises(ValidationError, match="^invalid y=1: .*sim.tasks.Task"):
        BackpropMLP().fit(X, 1)
    with pytest.raises(ValidationError, match="^invalid y=.*must be None"):
        BackpropMLP().fit(task, y)
    with pytest.raises(ValidationError, match="requires y to be passed"):
        BackpropMLP().fit(X)
    with pytest.raises(ValidationError, match="^invalid y=.*at least 2 classes; got 1 class"):
        BackpropMLP().fit(X, np.zeros(len(X)))
    with pytest.raises(ValidationError, match="^invalid y=.*Unknown label type"):
        BackpropMLP().fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValidationError, match="^invalid validation_fraction=1.0"):
        BackpropMLP(validation_fraction=1.0).fit(X, y)
    model = BackpropMLP(hidden=(4,), epochs=1).fit(X, y)
    with pytest.raises(ValidationError, match="X has 3 features, but BackpropMLP is expecting 2 features"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(ValidationError, match="^invalid X=.*NaN"):
        model.predict(np.array([[np.nan, 0.0]]))
    assert encode_labels("y", [2, 0], np.arange(3)).tolist() == [2, 0]
    with pytest.raises(ValidationError, match="labels must be in 0..2"):
        encode_labels("y", [3], np.arange(3))


# every corner of the factorial design (dynamics x learning) and the other configurations
CORNERS = {"steady backprop": lambda: BackpropMLP(hidden=(16,), epochs=5),
           "inhibited backprop": lambda: BackpropMLP(hidden=(16,), w_inh=0.3, epochs=5),
           "steady competitive": lambda: HebbianNet(hidden=16, w_inh=0.0, epochs=6, hidden_epochs=3),
           "inhibited competitive": lambda: HebbianNet(hidden=16, w_inh=0.3, epochs=6, hidden_epochs=3),
           "feedback alignment, 2 layers": lambda: BackpropMLP(hidden=(8, 8), learning="feedback_alignment", epochs=5),
           "random features": lambda: HebbianNet(hidden=16, rule="none", epochs=5),
           "two Hebbian stages": lambda: HebbianNet(hidden=(8, 8), schedule="concurrent", epochs=4)}


@pytest.mark.parametrize("corner", sorted(CORNERS))
def test_every_configuration_is_a_scikit_learn_classifier(corner, moons, tmp_path):
    from sklearn.base import is_classifier
    _, X, y = moons
    names = np.array(["neg", "pos"])
    model = CORNERS[corner]()
    assert is_classifier(model) and clone(model).get_params() == model.get_params()
    assert model.fit(X, names[y]) is model
    assert set(model.predict(X)) <= {"neg", "pos"} and model.predict_proba(X).shape == (len(X), 2)
    assert model.transform(X).shape == (len(X), model.hidden_rates(X).shape[1])
    assert len(cross_val_score(CORNERS[corner](), X, names[y], cv=2)) == 2
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(load(tmp_path / "m.npz").predict(X), model.predict(X))


def test_dataframe_columns_are_kept_and_saved(tmp_path, moons):
    pandas = pytest.importorskip("pandas")
    _, X, y = moons
    frame = pandas.DataFrame(X, columns=["x0", "x1"])
    model = SMALL["backprop"](epochs=2).fit(frame, y)
    assert model.feature_names_in_.tolist() == ["x0", "x1"]
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert loaded.feature_names_in_.tolist() == ["x0", "x1"]
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    with pytest.raises(ValidationError, match="feature names should match"):  # scikit-learn's check, after loading
        loaded.predict(frame.rename(columns={"x0": "a"}))
    model.fit(moons[0], epochs=1)  # a Task has no column names: none are kept from the frame
    assert not hasattr(model, "feature_names_in_")


def test_new_training_loop_parameters_stay_out_of_study_run_specs():
    """epochs / warm_start / verbose / validation_fraction change nothing of a study's runs on a
    Task, so a run spec leaves them out (its run id is the one from before they existed)."""
    from sim import study
    from sim.models.early_stopping import TASK_NEUTRAL_PARAMS
    runs = study.load("quick").runs()
    assert runs and not any(k in r["params"] for r in runs for k in TASK_NEUTRAL_PARAMS)
    assert set(TASK_NEUTRAL_PARAMS) <= set(BackpropMLP().get_params()) & set(LinearReadout().get_params())


@pytest.mark.parametrize("name", ["backprop", "hebbian", "readout"])
def test_a_pickled_model_trains_on_exactly_as_the_original(name):
    # pickling copies a model's flat parameter buffer and the views into it apart; training on
    # must still move the weights that predict uses
    import pickle
    X, y = load_iris(return_X_y=True)
    model = models.make(name, epochs=3, seed=1, **({"hidden": 20} if name == "hebbian" else {})).fit(X, y)
    copy = pickle.loads(pickle.dumps(model))
    model.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
