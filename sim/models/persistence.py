"""Saving and loading fitted models: one ``.npz`` file, checked on load.

The file holds the model's arrays plus a JSON header (format, model name, constructor
parameters, package version, history, fitted scalars, the class labels ``classes_`` as plain
JSON (bool, int, float or str values only; `sim.models.inputs.classes_to_json`) and a SHA-256
checksum). A file without ``classes_`` (written before labels were saved) loads with
``classes_ = arange(n_classes_)``.

What makes loading safe
-----------------------
* **Nothing named in the file is imported or looked up.** The model class is given by a short
  name from a fixed table (``"backprop"``, ``"hebbian"``, ``"readout"``, i.e.
  `sim.models.REGISTRY`), and the only objects a parameter may hold are the optimizers and
  schedules of `sim.learning.optimizers`, also by fixed names (``"sgd"``, ``"momentum"``,
  ``"adam"``, ``"constant"``, ``"step"``, ``"linear"``) with their constructor arguments, which
  must be plain JSON scalars. Any other name is refused before anything is built.
* **One checksum covers header and arrays together**: SHA-256 of the canonical JSON of the
  header (without its checksum field) and of every array (name, dtype, shape, bytes). An edited
  parameter, history or weight fails verification. The checksum detects damage and careless
  edits; it is not a signature: whoever can write the file can recompute it, which is why the
  allow-list, not the checksum, is what keeps a crafted file from running code.
* The arrays are read with ``allow_pickle=False``, and after the model has been rebuilt its
  arrays must have exactly the names, shapes and dtypes of the file's.
* Every damaged, truncated, foreign or malformed file, and a file of the older format
  ``neurocompare-model/1`` (:data:`OLD_FORMATS` says why), is refused with a `ValidationError`
  naming the path.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import tokenize
import zipfile
import zlib

import numpy as np

from sim.errors import ValidationError
from sim.learning.optimizers import SGD, Adam, Constant, LinearDecay, Momentum, StepDecay
from sim.models.history import History
from sim.version import __version__

__all__ = ["save_model", "load_model", "FORMAT", "OLD_FORMATS"]

FORMAT = "neurocompare-model/2"
#: Older model formats, each with why this version refuses it (CHANGELOG.md lists the formats).
OLD_FORMATS = {
    "neurocompare-model/1": "its checksum covers the arrays only, not the parameters and history, and it names "
                            "the model and optimizer classes by import path, which this version never imports; "
                            "so it can be neither verified nor loaded safely",
}
HEADER_KEY = "__header__"

# parameter objects a file may describe: fixed name -> (class, constructor arguments)
_OBJECTS = {
    "sgd": (SGD, ()),
    "momentum": (Momentum, ("beta", "nesterov")),  # also Nesterov: Momentum(nesterov=True)
    "adam": (Adam, ("beta1", "beta2", "eps")),
    "constant": (Constant, ()),
    "step": (StepDecay, ("every", "gamma")),
    "linear": (LinearDecay, ()),
}
_SCALARS = (str, int, float, bool, type(None))
_MAX_DEPTH = 16  # nesting of parameter values (tuples, lists, dicts) a file may use
# the fitted scalars of `Estimator.fitted_state`: type and lower bound ("rng_order" is a dict)
_FITTED = {"n_features_in_": (int, 1), "n_classes_": (int, 2), "epochs_done_": (int, 0), "samples_seen_": (int, 0),
           "_total_epochs": (int, 0), "train_seconds_": ((int, float), 0)}
_HEADER_TYPES = {"format": str, "version": str, "class": str, "params": dict, "history": dict,
                 "fitted": dict, "checksum": str}


# the model classes a file may name, by their ``model_name``; `load_model` is given the classes
# themselves (`sim.models.load` passes `sim.models.REGISTRY`), so this module imports no model
MODEL_NAMES = ("backprop", "hebbian", "readout")


# ----- parameters <-> JSON -------------------------------------------------------------------
def _encode(name: str, value, depth: int = 0):
    """Constructor parameter ``name`` as JSON: scalars and lists as they are, tuples and dicts
    tagged (``{"__tuple__": [...]}``, ``{"__dict__": {...}}``), optimizers and schedules as
    ``{"__obj__": <fixed name>, "args": {...}}``; anything else is refused."""
    if depth > _MAX_DEPTH:
        raise ValidationError(name, value, "is nested too deeply to be saved")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name  # dtype=np.float32 is saved as "float32", which it means
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list):
        return [_encode(name, v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(name, v, depth + 1) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValidationError(name, value, "a dict parameter needs string keys to be saved")
        return {"__dict__": {k: _encode(name, v, depth + 1) for k, v in value.items()}}
    for tag, (cls, arg_names) in _OBJECTS.items():
        if type(value) is cls:
            args = {a: getattr(value, a) for a in arg_names}
            for a, v in args.items():
                if not isinstance(v, _SCALARS):
                    raise ValidationError(name, value, f"argument {a}={v!r} of the object cannot be saved")
            return {"__obj__": tag, "args": args}
    raise ValidationError(name, value, "cannot be saved: only plain values and the optimizers and schedules of "
                                       f"sim.learning.optimizers ({', '.join(_OBJECTS)}) are")


def _check_value(path: str, value, depth: int = 0) -> None:
    """Refuse an encoded parameter value that `_decode` would not rebuild exactly (before any is built)."""
    if depth > _MAX_DEPTH:
        raise ValidationError("path", path, "a parameter in the header is nested too deeply")
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, list):
        for v in value:
            _check_value(path, v, depth + 1)
        return
    if not isinstance(value, dict):
        raise ValidationError("path", path, f"malformed parameter in the header: {value!r}")
    keys = set(value)
    if keys == {"__tuple__"} and isinstance(value["__tuple__"], list):
        for v in value["__tuple__"]:
            _check_value(path, v, depth + 1)
    elif keys == {"__dict__"} and isinstance(value["__dict__"], dict):
        for v in value["__dict__"].values():
            _check_value(path, v, depth + 1)
    elif keys == {"__obj__", "args"}:
        tag, args = value["__obj__"], value["args"]
        if not isinstance(tag, str) or tag not in _OBJECTS:
            raise ValidationError("path", path, f"parameter object {tag!r} is not an allowed type; "
                                                f"allowed: {', '.join(_OBJECTS)}")
        allowed = _OBJECTS[tag][1]
        if not isinstance(args, dict) or not set(args) <= set(allowed):
            raise ValidationError("path", path, f"arguments {args!r} of parameter object {tag!r} are not "
                                                f"allowed; allowed: {', '.join(allowed) or 'none'}")
        bad = [a for a, v in args.items() if not isinstance(v, _SCALARS)]
        if bad:
            raise ValidationError("path", path, f"argument {bad[0]!r} of parameter object {tag!r} "
                                                "must be a plain value")
    else:
        raise ValidationError("path", path, f"malformed parameter in the header: {value!r}")


def _decode(value):
    """Inverse of `_encode` for a value `_check_value` has accepted."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v) for k, v in value["__dict__"].items()}
    cls = _OBJECTS[value["__obj__"]][0]
    return cls(**value["args"])


# ----- checksum ------------------------------------------------------------------------------
def _canonical(header: dict) -> bytes:
    """The header without its checksum as canonical JSON (sorted keys, no spaces)."""
    body = {k: v for k, v in header.items() if k != "checksum"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _checksum(header: dict, arrays: dict) -> str:
    """SHA-256 over the canonical header and every array (name, dtype, shape, bytes), each piece
    length-prefixed so that no two different files hash the same pieces."""
    h = hashlib.sha256()

    def piece(data: bytes) -> None:
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)

    piece(_canonical(header))
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        piece(key.encode())
        piece(a.dtype.str.encode())
        piece(str(a.shape).encode())
        piece(a.tobytes())
    return h.hexdigest()


# ----- save ----------------------------------------------------------------------------------
def save_model(model, path) -> None:
    """Write ``model`` to ``path`` atomically (temporary file in the same directory + rename).

    Parameters
    ----------
    model : BackpropMLP, HebbianNet or LinearReadout
        A fitted model of exactly one of the classes of `sim.models.REGISTRY`.
    path : str or os.PathLike
        Target file (conventionally ``.npz``); its directory must exist.

    Raises
    ------
    ValidationError
        For a model that is not fitted or not of an allowed class, a parameter that cannot be
        saved, or a directory that does not exist.
    """
    path_s = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path_s))
    if not os.path.isdir(folder):
        raise ValidationError("path", path_s, f"the directory {folder} does not exist")
    if os.path.isdir(path_s):
        raise ValidationError("path", path_s, "is a directory")
    names = [n for n in MODEL_NAMES if getattr(type(model), "model_name", None) == n]
    if not names:
        raise ValidationError("model", type(model).__name__,
                              f"not a model class that can be saved; allowed: {', '.join(MODEL_NAMES)}")
    arrays = model.state_arrays()
    if HEADER_KEY in arrays:
        raise ValidationError("model", type(model).__name__, f"has an array named {HEADER_KEY}")
    header = {
        "format": FORMAT, "version": __version__, "class": names[0],
        "params": {k: _encode(k, v) for k, v in model.get_params().items()},
        "history": model.history_.to_dict(),
        "fitted": model.fitted_state(),
    }
    header = json.loads(json.dumps(header))  # exactly what a reader will parse (tuples -> lists)
    header["checksum"] = _checksum(header, arrays)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path_s)}.", suffix=".tmp", dir=folder)
    except FileNotFoundError:
        raise ValidationError("path", path_s, f"the directory {folder} does not exist") from None
    except OSError as exc:
        raise ValidationError("path", path_s, f"cannot write in the directory {folder} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{HEADER_KEY: np.array(json.dumps(header))}, **arrays)
        os.replace(tmp, path_s)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----- load ----------------------------------------------------------------------------------
def _read(path_s: str) -> tuple[dict, dict]:
    """The parsed header and the arrays of the file; the file is closed on every path."""
    try:
        with open(path_s, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise ValidationError("path", path_s, "not a neurocompare model file (not an .npz archive)")
            f.seek(0)
            with np.load(f, allow_pickle=False) as data:
                if HEADER_KEY not in data.files:
                    raise ValidationError("path", path_s, "not a neurocompare model file (no header)")
                raw = data[HEADER_KEY]
                arrays = {k: data[k] for k in data.files if k != HEADER_KEY}
    except ValidationError:
        raise
    except FileNotFoundError:
        raise ValidationError("path", path_s, "no such file") from None
    except IsADirectoryError:
        raise ValidationError("path", path_s, "is a directory, not a model file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error,
            SyntaxError, tokenize.TokenError,  # numpy parsing a damaged .npy header
            NotImplementedError, RuntimeError) as exc:  # zipfile: damaged flag bits (compression, encryption)
        raise ValidationError("path", path_s, "damaged or truncated model file, or not one "
                                              f"({type(exc).__name__}: {exc})") from None
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ValidationError("path", path_s, "not a neurocompare model file (the header is not a string)")
    try:
        header = json.loads(str(raw))
    except (json.JSONDecodeError, RecursionError):
        raise ValidationError("path", path_s, "not a neurocompare model file (the header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise ValidationError("path", path_s, "not a neurocompare model file (the header is not a JSON object)")
    return header, arrays


def _check_header(path_s: str, header: dict) -> None:
    fmt = header.get("format")
    if isinstance(fmt, str) and fmt in OLD_FORMATS:
        raise ValidationError("path", path_s, f"written by an older version of neurocompare (format {fmt}), "
                                              f"which this version does not load: {OLD_FORMATS[fmt]}; re-save the "
                                              f"model (train it again) with this version (format {FORMAT})")
    if fmt != FORMAT:
        raise ValidationError("path", path_s, f"not a neurocompare model file (expected format {FORMAT}, "
                                              f"found {fmt!r})")
    for key, kind in _HEADER_TYPES.items():
        if key not in header:
            raise ValidationError("path", path_s, f"malformed model file: the header has no {key!r}")
        if not isinstance(header[key], kind):
            raise ValidationError("path", path_s, f"malformed model file: header {key!r} must be a "
                                                  f"{kind.__name__}, not {type(header[key]).__name__}")


def load_model(path, classes: dict):
    """Read a model written by `save_model`; the result predicts exactly as the saved one.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by `save_model` (format ``neurocompare-model/2``).
    classes : dict
        The model classes a file may name, by name (`sim.models.load` passes
        `sim.models.REGISTRY`); only names of `MODEL_NAMES` are looked up in it.

    Returns
    -------
    BackpropMLP, HebbianNet or LinearReadout
        The fitted model, with its history; `partial_fit` continues the saved run exactly.

    Raises
    ------
    ValidationError
        Naming ``path``, for a missing, truncated, damaged, edited, foreign or malformed file,
        a file of the older format, or one naming a class or object that is not on the list.
    """
    path_s = os.fspath(path)
    header, arrays = _read(path_s)
    _check_header(path_s, header)
    if _checksum(header, arrays) != header["checksum"]:
        raise ValidationError("path", path_s, "checksum mismatch: the file is damaged or was edited")
    classes = {n: classes[n] for n in MODEL_NAMES if n in classes}
    name = header["class"]
    if name not in classes:
        raise ValidationError("path", path_s, f"model class {name!r} is not an allowed model class; "
                                              f"allowed: {', '.join(classes)}")
    cls = classes[name]
    params = header["params"]
    unknown = [k for k in params if k not in cls.param_names()]
    if unknown:
        raise ValidationError("path", path_s, f"unknown parameter {unknown[0]!r} of {cls.__name__} in the header")
    for value in params.values():
        _check_value(path_s, value)
    fitted, history = header["fitted"], header["history"]
    if not all(isinstance(v, dict) or (isinstance(v, (int, float)) and not isinstance(v, bool))
               for v in fitted.values()):
        raise ValidationError("path", path_s, "malformed model file: the fitted state holds a non-number")
    for key, (kind, low) in _FITTED.items():
        value = fitted.get(key, low)  # a missing one is named when the model is restored
        number = isinstance(value, kind) and not isinstance(value, bool)
        if not (number and (isinstance(value, int) or math.isfinite(value)) and value >= low):
            raise ValidationError("path", path_s, f"malformed model file: fitted {key}={value!r} must be a "
                                                  f"finite {kind.__name__ if kind is int else 'number'} >= {low}")
    records = history.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValidationError("path", path_s, "malformed model file: the history records must be a list of dicts")
    try:
        model = cls(**{k: _decode(v) for k, v in params.items()})
        model = model.restore_state(arrays, fitted, History.from_dict(history))
        restored = model.state_arrays()
    except KeyError as exc:
        raise ValidationError("path", path_s, f"malformed model file: {exc} is missing") from None
    except (TypeError, ValueError, IndexError) as exc:  # ValidationError too: a parameter refused
        raise ValidationError("path", path_s, f"malformed model file ({type(exc).__name__}: {exc})") from None
    for key in sorted(set(restored) | set(arrays)):
        a, b = restored.get(key), arrays.get(key)
        if a is None or b is None or a.shape != b.shape or a.dtype != b.dtype:
            raise ValidationError("path", path_s, f"malformed model file: array {key!r} does not fit the model")
    return model
