"""Reading MNIST-style IDX files (plain or gzip-compressed) for :func:`sim.tasks.idx`.

Layout (big-endian): two zero bytes, a type byte (0x08 = unsigned byte), a rank byte, one
uint32 per dimension, then the data. Images use magic ``0x00000803`` (rank 3:
``n, rows, cols``), labels ``0x00000801`` (rank 1: ``n``).
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

from sim.errors import ValidationError

__all__ = ["read_idx", "IMAGES_MAGIC", "LABELS_MAGIC"]

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def _read_bytes(name: str, path) -> bytes:
    try:
        fspath = os.fspath(path)
    except TypeError:
        raise ValidationError(name, path, "must be a path (str or os.PathLike)") from None
    try:
        with open(fspath, "rb") as fh:
            raw = fh.read()
        if raw[:2] == b"\x1f\x8b":  # gzip magic
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise ValidationError(name, path, f"cannot be read ({exc})") from None
    return raw


def read_idx(name: str, path, magic: int) -> np.ndarray:
    """Return the uint8 array stored in the IDX file at ``path``.

    Parameters
    ----------
    name : str
        Parameter name for error messages (e.g. ``"images_path"``).
    path : str or os.PathLike
        The file; gzip-compressed files are recognised by their header.
    magic : int
        Required magic number, :data:`IMAGES_MAGIC` or :data:`LABELS_MAGIC`.

    Returns
    -------
    ndarray of uint8
        Shape ``(n, rows, cols)`` for images, ``(n,)`` for labels.

    Raises
    ------
    ValidationError
        If the file is missing, has the wrong magic number, a zero-size dimension, or its
        size does not match its header (truncated or trailing bytes).
    """
    raw = _read_bytes(name, path)
    if len(raw) < 4:
        raise ValidationError(name, path, f"is not an IDX file (only {len(raw)} bytes)")
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        raise ValidationError(name, path, f"bad IDX magic number 0x{found:08x}, expected 0x{magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValidationError(name, path, f"truncated IDX header ({len(raw)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if min(dims) == 0:
        raise ValidationError(name, path, f"IDX dimensions {dims} contain a zero")
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise ValidationError(name, path, f"damaged IDX file: {what} ({len(raw)} bytes, header "
                                          f"{dims} implies {expected})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()
