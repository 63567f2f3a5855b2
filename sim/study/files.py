"""Files of a results store: atomic writes, packed arrays, the versions recorded in a manifest."""

from __future__ import annotations

import contextlib
import io
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

import sim

__all__ = ["atomic_write", "pack_arrays", "versions"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory + ``os.replace``."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def versions() -> dict:
    """Versions of Python and the numerical stack (recorded in the manifest)."""
    import scipy
    import sklearn
    out = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
           "scikit-learn": sklearn.__version__, "neurocompare": sim.__version__}
    try:
        import threadpoolctl
        out["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:  # pragma: no cover
        pass
    for mod in ("dask", "distributed"):
        if mod in sys.modules:
            out[mod] = sys.modules[mod].__version__
    return out


def pack_arrays(arrays: dict) -> bytes:
    """The bytes of a compressed ``.npz`` holding ``arrays``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()
