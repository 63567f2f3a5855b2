"""What the fuzz suite (``tests/test_fuzz.py``) shares: wide value strategies, plausible values per
parameter, the check that a refusal is a named `ValidationError`, a per-example time guard and
the counter of distinct inputs tried.

Wide values (:data:`WILD`) mix None, bools, negative / huge / NaN / inf numbers, numpy scalars,
strings, bytes, lists, tuples, dicts and odd objects. Valid but expensive values (a billion
epochs, a billion integration steps or seeds) are not errors, only slow: they are left out of
the wide values of the parameters in :data:`EXPENSIVE`, and huge integers start above every
size limit of the package (`sim.tasks.registry.MAX_SAMPLES`, `sim.models.estimator.MAX_UNITS`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import math
import os
import shutil
import signal
import time
import warnings
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from sim.errors import ValidationError, show_name
from sim.learning import rules
from sim.learning.optimizers import SGD, Adam, Constant, LinearDecay, Momentum, StepDecay
from sim.substrate import neurons
from sim.substrate.connections import initializer_names

#: Multiplies every test's ``max_examples`` (``NEUROCOMPARE_FUZZ_SCALE=10`` for a long local run).
SCALE = float(os.environ.get("NEUROCOMPARE_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int, scale: float = 1.0):
    """Reproducible, bounded hypothesis settings: derandomized (the same inputs on every run and
    machine), no example database, no deadline (a guard, :func:`time_guard`, bounds the time)."""
    return settings(max_examples=max(1, int(examples * scale)), deadline=None, derandomize=True,
                    database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ----- distinct inputs ------------------------------------------------------------------------
SEEN: dict[str, set] = defaultdict(set)
LAST: list = [None]  # the input recorded last, which a slow example's message shows


def _key(value):
    """A stable text for an input (arrays by dtype, shape and contents)."""
    if isinstance(value, np.ndarray):
        body = repr(value.tolist()) if value.dtype == object else value.tobytes().hex()
        return f"nd({value.dtype.str},{value.shape},{body})"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_key(k)}:{_key(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return type(value).__name__ + "(" + ",".join(_key(v) for v in value) + ")"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return f"{type(value).__name__}:{value!r}"


def record(target: str, *inputs) -> None:
    """Count ``inputs`` as one input tried on ``target`` (duplicates count once)."""
    SEEN[target].add(hashlib.sha1(_key(inputs).encode()).hexdigest())
    LAST[0] = (target, inputs)


# ----- the contract -----------------------------------------------------------------------------
def check_named(exc: ValidationError, names=None) -> None:
    """``exc`` names a parameter and shows its value (``invalid NAME=VALUE: requirement``); with
    ``names``, the parameter is one of them or a dotted / indexed part of one."""
    assert isinstance(exc.parameter, str), exc
    assert str(exc).startswith(f"invalid {show_name(exc.parameter)}="), exc
    assert exc.requirement and "\n" not in str(exc), exc
    if names is not None:
        root = exc.parameter.split("[")[0]
        assert exc.parameter in names or any(root == n or root.startswith(f"{n}.") for n in names), (
            f"{exc.parameter!r} is not one of {sorted(names)}: {exc}")


def attempt(fn, *args, names=None, **kwargs):
    """``(True, fn(...))``, or ``(False, the ValidationError)`` after :func:`check_named`; any
    other exception propagates (the fuzz test fails on it, showing the input)."""
    try:
        return True, fn(*args, **kwargs)
    except ValidationError as exc:
        check_named(exc, names)
        return False, exc


def quiet(fn):
    """Run ``fn`` with warnings silenced (diverged models and extreme inputs warn) under :func:`time_guard`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings(), time_guard():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    return wrapper


def input_report(tmp):
    """A module's autouse fixture: at its end, print the distinct inputs tried (past the output
    capture) and remove the module's scratch directory ``tmp``."""
    @pytest.fixture(scope="module", autouse=True)
    def report(request):
        SEEN.clear()
        t0 = time.perf_counter()
        yield
        shutil.rmtree(tmp, ignore_errors=True)
        counts = {k: len(v) for k, v in sorted(SEEN.items())}
        line = (f"fuzz: {sum(counts.values())} distinct inputs in {time.perf_counter() - t0:.1f} s: "
                + ", ".join(f"{k} {n}" for k, n in counts.items()))
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\n{line}")
    return report


class SlowExample(BaseException):
    """An example ran longer than its guard (a BaseException: no ``except Exception`` hides it)."""


@contextlib.contextmanager
def time_guard(seconds: float = 20.0):
    """Fail an example that runs longer than ``seconds`` instead of hanging the suite."""
    def expire(signum, frame):
        raise SlowExample(f"example took more than {seconds} s: {LAST[0]!r}"[:2000])
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ----- wide values --------------------------------------------------------------------------------
#: Parameters whose large valid values only cost time: no huge positive integers for them.
EXPENSIVE = frozenset({"epochs", "hidden_epochs", "max_steps", "seeds", "--epochs", "trials", "batch",
                       "startup"})
HUGE = 2 * 10**6  # above MAX_SAMPLES (10**6) and MAX_UNITS (10**5)

SPECIAL_FLOATS = (math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 1e-300, 0.5, 1.0, -1.0)
TEXT = st.one_of(st.text(max_size=8), st.sampled_from(
    ["", " ", "nan", "inf", "-1", "1e3", "None", "true", "adam", "relu", "relu^x", "relu^-1", "\x00", "é", "NaN"]))


def _ints(expensive: bool):
    small = st.sampled_from([0, 1, 2, -1, -(2**63), 2**31 - 1, -(2**31)])
    negative = st.integers(-(2**70), -1)
    if expensive:
        return st.one_of(small, negative)
    return st.one_of(small, negative, st.integers(HUGE, 2**70), st.just(2**63))


FLOATS = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, allow_infinity=True))
NUMPY = st.one_of(st.floats(width=32).map(np.float32), st.integers(-(2**63), 2**63 - 1).map(np.int64),
                  st.sampled_from([np.float64(math.nan), np.bool_(True), np.uint8(255), np.float16(1.0)]))
ODD = st.sampled_from([b"bytes", frozenset({1}), np.zeros(2), np.array(math.nan), range(3), Ellipsis,
                       1j, complex(math.nan, 1.0), object(), type, print])


def wild(expensive: bool = False):
    """Values of any type; for an :data:`EXPENSIVE` parameter without huge positive integers."""
    scalars = st.one_of(st.none(), st.booleans(), _ints(expensive), FLOATS, TEXT, NUMPY, ODD)
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner), st.dictionaries(TEXT, inner, max_size=3)),
        max_leaves=6)


WILD = wild()
WILD_CHEAP = wild(expensive=True)


DATES = st.sampled_from([dt.date(2024, 1, 1), dt.time(1, 2), dt.datetime(2024, 1, 1, 3, 4)])


def json_values(expensive: bool = False, toml: bool = False):
    """Values a JSON document can hold (with ``toml``: and TOML's dates and times; None too, which a
    dict passed to `sim.study.config.parse` may hold)."""
    scalars = st.one_of(st.none(), st.booleans(), _ints(expensive), FLOATS, TEXT, *([DATES] if toml else []))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)


# ----- plausible values ------------------------------------------------------------------------------
class Make:
    """An object to build in the test body (its constructor may refuse the arguments)."""

    def __init__(self, cls, **kwargs):
        self.cls, self.kwargs = cls, kwargs

    def __repr__(self) -> str:
        return f"{self.cls.__name__}(**{self.kwargs!r})"


def build(value):
    """``value`` with every `Make` built (recursively); a refusal propagates as ValidationError."""
    if isinstance(value, Make):
        return value.cls(**{k: build(v) for k, v in value.kwargs.items()})
    if isinstance(value, dict):
        return {k: build(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(build(v) for v in value)
    return value


def unit(low=0.0, high=1.0):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _num():
    return st.one_of(unit(-2, 10), st.integers(-3, 12), FLOATS)


NEURONS = st.sampled_from([*neurons.names(), "RELU", " relu ", "relu^2", "relu^0.5", "relu^-1", "relu^x",
                           "relu^nan"])
OPTIMIZERS = st.one_of(
    st.sampled_from(["adam", "sgd", "momentum", "nesterov", "ADAM", "rmsprop"]),
    st.builds(Make, st.just(SGD)),
    st.builds(lambda b, n: Make(Momentum, beta=b, nesterov=n), _num(), st.one_of(st.booleans(), WILD)),
    st.builds(lambda a, b, e: Make(Adam, beta1=a, beta2=b, eps=e), _num(), _num(), _num()))
SCHEDULES = st.one_of(
    st.sampled_from(["constant", "step", "linear", "cosine"]), st.builds(Make, st.just(Constant)),
    st.builds(Make, st.just(LinearDecay)),
    st.builds(lambda e, g: Make(StepDecay, every=e, gamma=g), st.one_of(st.integers(-2, 5), WILD_CHEAP), _num()))
RULE_PARAMS = st.one_of(st.none(), st.dictionaries(
    st.sampled_from(["k", "p", "delta", "beta", "tau_theta", "theta0", "normalize", "mode", "lateral_lr", "x"]),
    st.one_of(_num(), st.sampled_from(["rows", "columns", "l2", None, True]), WILD_CHEAP), max_size=3))
LAYERS = st.one_of(st.integers(0, 12), st.lists(st.integers(1, 8), max_size=3).map(tuple),
                   st.lists(st.integers(0, 8), max_size=2))
PLAUSIBLE = {
    "hidden": LAYERS, "activation": NEURONS, "neuron": st.one_of(st.none(), NEURONS),
    "output": st.sampled_from(["softmax", "linear", "sigmoid", "Softmax", "relu"]),
    "learning": st.sampled_from(["backprop", "feedback_alignment", "Backprop", "hebb"]),
    "optimizer": OPTIMIZERS, "readout_optimizer": OPTIMIZERS,
    "lr_schedule": SCHEDULES, "hidden_lr_schedule": SCHEDULES,
    "lr": unit(1e-6, 1.0), "readout_lr": unit(1e-6, 1.0), "hidden_lr": st.one_of(st.none(), unit(1e-6, 1.0)),
    "batch_size": st.integers(1, 40), "weight_decay": unit(0, 1), "readout_decay": unit(0, 1),
    "input_bias": unit(0, 2), "init": st.sampled_from([*initializer_names(), "he_uniform"]),
    "init_scale": unit(1e-3, 10),
    "w_inh": st.one_of(st.none(), unit(0, 0.99), st.lists(unit(0, 0.99), max_size=3).map(tuple)),
    "tau": unit(0.1, 50), "dt": st.one_of(st.none(), unit(0.1, 50)),
    "settle": st.sampled_from(["auto", "dynamics", "exact"]), "settle_tol": unit(1e-9, 1),
    "max_steps": st.integers(1, 60), "dale": st.one_of(st.none(), unit(0, 1)), "p_connect": unit(0.01, 1),
    "bounds": st.one_of(st.none(), st.tuples(st.one_of(st.none(), unit(-2, 2)), st.one_of(st.none(), unit(-2, 2)))),
    "max_norm": st.one_of(st.none(), unit(0.01, 10)),
    "freeze_hidden_after": st.one_of(st.none(), st.integers(0, 3)), "early_stopping": st.booleans(),
    "n_iter_no_change": st.integers(1, 5), "tol": unit(0, 0.1), "eval_every": st.integers(0, 3),
    "dtype": st.sampled_from(["float32", "float64", "float16", "int32", "f8", np.float32, np.dtype("float64")]),
    "seed": st.integers(0, 2**64),
    "rule": st.sampled_from([*rules.hidden_names(), "Oja", "backprop"]), "rule_params": RULE_PARAMS,
    "current": st.sampled_from(["dot", "metric"]), "post": st.sampled_from(["auto", "rate"]),
    "hidden_epochs": st.one_of(st.none(), st.integers(0, 3)),
    "schedule": st.sampled_from(["sequential", "concurrent"]), "readout_power": unit(1, 4),
    "readout_scaling": st.sampled_from(["rms", "none"]),
    # task parameters (sim.tasks.load, from_arrays)
    "n_train": st.integers(1, 60), "n_test": st.integers(1, 30), "noise": unit(0, 2), "factor": unit(0, 1),
    "turns": unit(0, 25), "n_classes": st.integers(1, 12), "p": unit(0, 1), "size": st.integers(1, 12),
    "test_fraction": unit(0, 1), "resplit": st.booleans(), "validation_fraction": unit(0, 1),
    "scale": st.sampled_from(["standard", "none", "minmax", "max"]), "stratify": st.booleans(),
    "name": st.one_of(TEXT, st.just("arrays")),
}


def value_for(name: str):
    """A plausible value of parameter ``name`` or a wide one (for names without plausible values,
    only wide ones)."""
    wide = WILD_CHEAP if name in EXPENSIVE else WILD
    if name in PLAUSIBLE:
        return st.one_of(PLAUSIBLE[name], wide)
    return wide


# ----- arrays ---------------------------------------------------------------------------------------
DTYPES = (np.float64, np.float32, np.float16, np.int8, np.int64, np.uint8, np.bool_, np.complex128, object,
          "U3", "M8[s]", "m8[s]")
OBJECTS = st.one_of(st.none(), st.integers(-5, 5), unit(-2, 2), TEXT, st.lists(st.integers(0, 2), max_size=2))


def any_arrays(max_dims: int = 3, max_side: int = 8):
    """Arrays of any listed dtype (complex, object, strings, datetimes included), 0 to ``max_dims``
    dimensions, NaN and inf among the floats."""
    from hypothesis.extra import numpy as hnp

    def of(dtype):
        shapes = hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side)
        return hnp.arrays(dtype, shapes, elements=OBJECTS if dtype is object else None)
    return st.sampled_from(DTYPES).flatmap(of)


def feature_arrays(n_features: int | None = None):
    """Arrays of shape (n, d): floats of any scale or a few NaN / inf / huge ones, or integers."""
    from hypothesis.extra import numpy as hnp
    rows = st.integers(0, 12)
    cols = st.just(n_features) if n_features else st.integers(1, 4)
    floats = st.one_of(unit(-3, 3), st.sampled_from(SPECIAL_FLOATS), st.floats(-1e300, 1e300))
    kinds = st.sampled_from([(np.float64, floats), (np.float32, st.one_of(unit(-3, 3), st.sampled_from(
        SPECIAL_FLOATS[:3]))), (np.int64, st.integers(-(2**63), 2**63 - 1))])
    return st.tuples(rows, cols, kinds).flatmap(lambda t: hnp.arrays(t[2][0], t[:2], elements=t[2][1]))


def label_vectors(n: int):
    """Labels for ``n`` samples: mostly a few classes, sometimes negative, fractional, NaN or long."""
    from hypothesis.extra import numpy as hnp
    ints = hnp.arrays(np.int64, n, elements=st.integers(0, 3))
    odd = st.one_of(
        hnp.arrays(st.sampled_from([np.float64, object]), st.integers(0, n + 2),
                   elements=st.one_of(st.integers(-2, 4), st.sampled_from([0.5, math.nan, 1.0]))),
        hnp.arrays(st.sampled_from([np.int8, np.bool_, np.uint64]), st.integers(0, n + 2)))
    return st.one_of(ints, ints, odd, any_arrays(max_dims=2),
                     st.lists(st.one_of(st.integers(0, 3), WILD), min_size=n, max_size=n))


def datasets():
    """``(X, y)`` that mostly make a task: 2 to 40 finite samples of 1 to 4 features, 1 to 4 classes."""
    from hypothesis.extra import numpy as hnp
    return st.tuples(st.integers(2, 40), st.integers(1, 4), st.integers(1, 4)).flatmap(lambda t: st.tuples(
        hnp.arrays(np.float64, t[:2], elements=unit(-5, 5)), hnp.arrays(np.int64, t[0], elements=st.integers(0, t[2]))))


def inputs(n_features: int | None = None):
    """Inputs ``X`` for a function taking a 2-D array: well-shaped, odd-shaped, lists or anything."""
    ragged = st.lists(st.lists(unit(-2, 2), max_size=4), max_size=6)
    return st.one_of(feature_arrays(n_features), feature_arrays(), any_arrays(), ragged, WILD)


def n_rows(X) -> int:
    """The length of ``X`` where it has one (0 otherwise)."""
    try:
        return len(X)
    except TypeError:
        return 0


# ----- documents --------------------------------------------------------------------------------------
def key_paths(obj, prefix=()):
    """Every key path of a parsed JSON document."""
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        yield from key_paths(value, (*prefix, key))


def edit(doc, path, op, value):
    """``doc`` with ``path`` set to ``value``, deleted, or given a new key (the root is replaced)."""
    if not path:
        return value if op == "set" else doc
    parent = functools.reduce(lambda d, k: d[k], path[:-1], doc)
    if op == "delete":
        del parent[path[-1]]
    elif op == "add" and isinstance(parent[path[-1]], dict):
        parent[path[-1]][str(value)[:10]] = value
    else:
        parent[path[-1]] = value
    return doc
