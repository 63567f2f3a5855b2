"""Files of a results store: atomic writes, packed arrays, the versions recorded in a manifest and
the store's format.

Store formats (the manifest's ``format``; ``CHANGELOG.md`` lists each format's changes):

* :data:`FORMAT` (``neurocompare-store/2``): this version's. ``table.csv`` has a checksum file
  (``table.check.json``, `sim.study.table`).
* ``neurocompare-store/1`` (:data:`OLD_FORMATS`): the same run files, manifest and table, but no
  checksum file for the table. Its run files are read as they are (each verified by its own
  checksum), so readers (``neurocompare status``, the analyses) read it, and a study written into
  it reuses its finished runs and continues the store as format 2 (the manifest records the
  upgrade); its table reads as damaged until rebuilt (``neurocompare status DIR --rebuild-table``).
* Any other format, or a manifest without one (a newer neurocompare's store, or not a store), is
  refused by readers and writers alike, naming the format (:func:`check_format`): nothing is read
  as if it were understood, and nothing is recomputed or mixed into it.
"""

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
from sim.errors import ValidationError

__all__ = ["atomic_write", "pack_arrays", "versions", "FORMAT", "OLD_FORMATS", "check_format"]

FORMAT = "neurocompare-store/2"
#: Older store formats this version reads and continues, with what differs from FORMAT; their run
#: files are those of FORMAT.
OLD_FORMATS = {"neurocompare-store/1": "table.csv has no checksum file"}


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


def check_format(manifest: dict, path, parameter: str = "store") -> str | None:
    """Check the format of a store's manifest before the store is read or written.

    Parameters
    ----------
    manifest : dict
        The store's manifest (empty for a directory without one: a new store).
    path : str or Path
        The store directory, for messages.
    parameter : str
        The name the refusal gives it (``'out'`` for a study's output directory).

    Returns
    -------
    str or None
        None for a new store or one of :data:`FORMAT`; for one of :data:`OLD_FORMATS`, a note
        saying so and what a writer does with it.

    Raises
    ------
    ValidationError
        ``parameter`` = ``path``, naming the format, for any other format or a manifest without one.
    """
    if not manifest:
        return None
    fmt = manifest.get("format")
    if fmt == FORMAT:
        return None
    if fmt in OLD_FORMATS:
        return (f"store {path} has the older format {fmt} ({OLD_FORMATS[fmt]}); its run files are read as they "
                f"are, and a study written into it reuses its finished runs and continues it as {FORMAT}")
    known = ", ".join([FORMAT, *OLD_FORMATS])
    raise ValidationError(parameter, str(path), f"has a manifest of format {fmt!r}, which neurocompare "
                          f"{sim.__version__} does not read (it reads {known}): written by a newer version, or "
                          "not a results store; read it with the version that wrote it, or write the study into "
                          "a new --out directory")
