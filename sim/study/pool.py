"""The local process pool of the study backends: its start method and a pool that lives for a
whole study (a tuning study submits one batch per round to the same worker processes)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from sim.errors import ValidationError
from sim.study.dask_backend import failed_result

__all__ = ["pool_start_method", "prestart_forkserver", "WorkerPool", "PRELOAD"]

PRELOAD = ["sim.study.worker", "sim.study.store", "sim.models", "sim.tasks", "sklearn.datasets",
           "sklearn.model_selection"]


# Start method of the process pool (override: environment variable NEUROCOMPARE_MP_START).
# Measured on the quick study (2 cores): "fork" starts 2 workers in ~0.01 s and they inherit the
# loaded tasks; "forkserver" first starts a fresh interpreter that imports numpy, scipy,
# scikit-learn and sim (~0.8 s), which cut the 2-worker speed-up of the quick study from 1.8x
# to about 1.0-1.3x. Forking is unsafe only when other threads may hold locks, so "fork" is
# used on Linux when the parent runs no other Python thread (OpenBLAS's own threads are
# fork-safe: OpenBLAS re-initializes them in the child) and before Python 3.12 (which warns on
# any fork of a multi-threaded process); otherwise "forkserver" (or "spawn" where it is absent).
def pool_start_method() -> str:
    """The multiprocessing start method the process pool will use now (see above)."""
    method = os.environ.get("NEUROCOMPARE_MP_START")
    if method:
        if method not in mp.get_all_start_methods():
            raise ValidationError("NEUROCOMPARE_MP_START", method,
                                  f"valid: {', '.join(mp.get_all_start_methods())}")
        return method
    if sys.platform.startswith("linux") and sys.version_info < (3, 12) and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


def prestart_forkserver(preload=PRELOAD):
    """Start the forkserver now (it imports ``preload``: numpy, scikit-learn and sim, in the
    background); the first call of a process decides what its forkserver preloads."""
    from multiprocessing import forkserver
    mp.get_context("forkserver").set_forkserver_preload(list(preload))
    forkserver.ensure_running()


def _init_worker(threads):
    """Pool initializer: cap BLAS / OpenMP threads of this worker process for its lifetime."""
    from threadpoolctl import threadpool_limits
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's study handler (fork)
    threadpool_limits(threads)


class WorkerPool:
    """A `ProcessPoolExecutor` started at the first batch and kept for the next ones (replaced
    if a worker died); :meth:`close` shuts it down.

    Parameters
    ----------
    workers, threads : int
        Worker processes (at most the first batch's size) and BLAS threads per worker.
    method : str
        The start method (:func:`pool_start_method`).
    """

    def __init__(self, workers: int, threads: int, method: str):
        self.workers, self.threads, self.method = workers, threads, method
        self.size = None  # worker processes of the pool, once started
        self.executor = None

    def run(self, fn, todo):
        """Yield ``fn(spec, threads)`` for every spec of ``todo`` as they finish; a run whose worker
        died or could not return gives `sim.study.dask_backend.failed_result`."""
        if self.executor is None:
            if self.method == "forkserver":
                prestart_forkserver()
            self.size = self.size or min(self.workers, max(1, len(todo)))
            self.executor = ProcessPoolExecutor(max_workers=self.size, mp_context=mp.get_context(self.method),
                                                initializer=_init_worker, initargs=(self.threads,))
        futures = {self.executor.submit(fn, spec, self.threads): spec for spec in todo}
        try:
            for future in as_completed(futures):
                spec = futures.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool as exc:  # a worker died: the next batch gets a new pool
                    self._drop()
                    yield failed_result(spec, exc)
                except Exception as exc:  # could not pickle, ...
                    yield failed_result(spec, exc)
        finally:
            for future in futures:
                future.cancel()

    def _drop(self):
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    def close(self):
        """Shut the pool down (waiting for its workers)."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
