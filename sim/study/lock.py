"""The writer lock of a results store: one writer per store, readers never lock.

An OS lock (``fcntl.flock``, non-blocking) on ``DIR/.lock``; the kernel releases it when the
holder exits, however it exits. The file records the holder (pid, host, start time) so that a
refused writer can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from datetime import UTC, datetime

from sim.errors import ValidationError

__all__ = ["writer_lock"]

# lock file descriptors this process holds; a forked child (a pool worker) closes its copies,
# so that the lock is released when the writer releases it or dies, whatever its children do
_HELD_LOCKS: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in list(_HELD_LOCKS):
        with contextlib.suppress(OSError):
            os.close(fd)  # closing a copy of the descriptor does not release the parent's lock
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)



@contextlib.contextmanager
def writer_lock(path, lock_path, parameter: str = "out"):
    """Hold the exclusive writer lock ``lock_path`` of the store directory ``path`` for the ``with``
    block (creates the directory); `sim.study.store.Store.writer_lock` calls it.

    An OS lock (``fcntl.flock``, non-blocking) on ``DIR/.lock``; the kernel releases it when the
    holder exits, however it exits, and the block releases it on any exception (KeyboardInterrupt
    included). After locking, the file records the holder as one line of JSON (``pid``, ``host``,
    ``since``). Only writers take it; readers never need it.

    Yields
    ------
    dict
        The holder record of this process.

    Raises
    ------
    ValidationError
        ``parameter`` (default ``'out'``) = the directory: "is in use by another neurocompare
        study (pid N on HOST since TIME)", at once, if another writer holds it.
    """
    umask = os.umask(0)
    os.umask(umask)
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666 & ~umask)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValidationError(parameter, str(path), "is in use by another neurocompare "
                                  f"study ({_describe_holder(_read_holder(fd))})") from None
        _HELD_LOCKS.add(fd)
        try:
            since = datetime.now(UTC).isoformat(timespec="seconds")
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder, sort_keys=True) + "\n").encode(), 0)
            yield holder
        finally:
            _HELD_LOCKS.discard(fd)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # no stale holder record once released
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> dict:
    """The holder record in a lock file (waits up to 0.5 s for a holder that just locked it)."""
    for _ in range(50):
        with contextlib.suppress(OSError, ValueError):
            record = json.loads(os.pread(fd, 4096, 0).decode())
            if isinstance(record, dict):
                return record
        time.sleep(0.01)
    return {}


def _describe_holder(holder: dict) -> str:
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since "
            f"{holder.get('since', '?')}")
