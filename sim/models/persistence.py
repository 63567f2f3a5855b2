"""Saving and loading fitted models: one ``.npz`` file, checked on load.

The file holds the model's arrays plus a JSON header (class, constructor parameters, package
version, history, a SHA-256 checksum of the arrays). Loading refuses files that are not
neurocompare models or whose checksum does not match, with a `ValidationError` naming the path.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
import zipfile

import numpy as np

from sim.errors import ValidationError
from sim.models.history import History
from sim.version import __version__

__all__ = ["save_model", "load_model"]

FORMAT = "neurocompare-model/1"


def _encode(value):
    """Constructor parameters as JSON; small objects (optimizers, schedules) by class + attributes."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return {"__tuple__": [_encode(v) for v in value]} if isinstance(value, tuple) else [_encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    cls = type(value)
    args = {k: _encode(v) for k, v in vars(value).items() if not k.startswith("_") and
            isinstance(v, (str, int, float, bool, type(None), tuple, list))}
    return {"__obj__": f"{cls.__module__}.{cls.__qualname__}", "args": args}


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if isinstance(value, dict) and "__obj__" in value:
        module, _, name = value["__obj__"].rpartition(".")
        if not module.startswith("sim."):
            raise ValidationError("path", value["__obj__"], "refusing to build a class from outside neurocompare")
        return getattr(importlib.import_module(module), name)(**{k: _decode(v) for k, v in value["args"].items()})
    return value


def _checksum(arrays: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(key.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_model(model, path) -> None:
    """Write ``model`` to ``path`` atomically (temporary file + rename)."""
    arrays = model.state_arrays()
    header = {
        "format": FORMAT, "version": __version__,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "params": {k: _encode(v) for k, v in model.get_params().items()},
        "history": model.history_.to_dict(),
        "fitted": model.fitted_state(),
        "checksum": _checksum(arrays),
    }
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, __header__=np.array(json.dumps(header)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_model(path):
    """Read a model written by `save_model`; the result predicts exactly as the saved one."""
    path_s = os.fspath(path)
    try:
        with np.load(path_s, allow_pickle=False) as data:
            if "__header__" not in data.files:
                raise ValidationError("path", path_s, "not a neurocompare model file (no header)")
            header = json.loads(str(data["__header__"]))
            arrays = {k: data[k] for k in data.files if k != "__header__"}
    except ValidationError:
        raise
    except FileNotFoundError:
        raise ValidationError("path", path_s, "no such file") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as exc:
        raise ValidationError("path", path_s,
                              f"not a readable neurocompare model file ({type(exc).__name__})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValidationError("path", path_s, f"not a neurocompare model file (expected format {FORMAT})")
    if _checksum(arrays) != header.get("checksum"):
        raise ValidationError("path", path_s, "checksum mismatch: the file is damaged")
    module, _, name = header["class"].rpartition(".")
    if not module.startswith("sim."):
        raise ValidationError("path", path_s, f"unknown model class {header['class']}")
    cls = getattr(importlib.import_module(module), name)
    model = cls(**{k: _decode(v) for k, v in header["params"].items()})
    return model.restore_state(arrays, header["fitted"], History.from_dict(header["history"]))
