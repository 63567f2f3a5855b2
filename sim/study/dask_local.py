"""The Dask cluster a study starts on this machine (``scheduler='local'``).

A stock ``LocalCluster`` spawns each worker as a fresh interpreter, which then imports numpy,
scipy, scikit-learn and sim (~1.9 s measured on the quick study's 2-core machine, before the
first run; ~90 ms per run of the quick study's 44 runs on 2 workers). So, when the process pool
would fork (`sim.study.pool.pool_start_method` gives ``"fork"``: Linux, no other Python thread),
:class:`LocalWorkers` forks the worker processes from the study's process *before* any Dask
thread exists; they inherit the loaded modules and connect to a scheduler started afterwards in
the study's process. Otherwise a ``LocalCluster`` whose workers start from a forkserver that
preloaded the package (`sim.study.pool.PRELOAD`), or are spawned where there is no forkserver.

The workers have Dask's statistical profiler off (it samples every thread every 10 ms) and no
``MALLOC_TRIM_THRESHOLD_`` (Dask sets it for spawned workers; a forked one keeps the
study process's allocator settings, like the process pool's workers).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import threading

from sim.study.pool import PRELOAD, prestart_forkserver

__all__ = ["LocalWorkers", "start_local", "WORKER_CONFIG"]

#: Dask configuration of the local workers (see the module docstring).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False,
                 "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def _worker_main(conn, threads, inherited):
    """Body of a forked worker process: wait for the scheduler's address on ``conn``, serve as a
    one-thread Dask worker until the scheduler closes, exit at once if the study's process dies
    (``inherited``: the study's ends of the pipes, closed here so that only it holds them)."""
    for other in inherited:
        other.close()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's study handler
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the study, which closes the cluster
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)
    try:
        address = conn.recv()
    except EOFError:  # the study's process closed the cluster before it started
        return

    def watchdog():  # the pipe closes when the study's process exits (or kills us)
        try:
            conn.recv()
        except (EOFError, OSError):
            pass
        os.kill(os.getpid(), signal.SIGKILL)  # nothing of this process is worth keeping
    threading.Thread(target=watchdog, daemon=True).start()
    import asyncio

    import dask
    from distributed import Worker

    async def serve():
        async with Worker(address, nthreads=1, memory_limit=0, dashboard=False) as worker:
            await worker.finished()
    logging.getLogger("distributed").setLevel(logging.CRITICAL)  # closing logs broken streams
    with dask.config.set(WORKER_CONFIG):
        asyncio.run(serve())


class LocalWorkers:
    """Dask worker processes forked from this process, then a scheduler in this process.

    Parameters
    ----------
    workers, threads : int
        Worker processes and BLAS threads per worker (each worker runs one task at a time).

    Attributes
    ----------
    client : distributed.Client
        Connected to the scheduler, once all workers have joined.
    """

    def __init__(self, workers: int, threads: int):
        from distributed import Client, LocalCluster
        ctx = mp.get_context("fork")
        self.procs, self.conns = [], []
        self.cluster = self.client = None
        try:
            for _ in range(workers):  # forked first: no Dask thread exists yet
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker_main, args=(child, threads, [parent, *self.conns]), daemon=True,
                                   name="neurocompare dask worker")
                proc.start()
                child.close()
                self.procs.append(proc)
                self.conns.append(parent)
            self.cluster = LocalCluster(n_workers=0, dashboard_address=None, silence_logs=logging.ERROR)
            for conn in self.conns:
                conn.send(self.cluster.scheduler_address)
            self.client = Client(self.cluster)
            self.client.wait_for_workers(workers, timeout=60)
        except BaseException:
            self.close()
            raise

    def alive(self) -> int:
        """Worker processes still running."""
        return sum(p.is_alive() for p in self.procs)

    def close(self):
        """Close the client and the scheduler (the workers then exit); stop any worker left."""
        if self.client is not None:
            with contextlib.suppress(Exception):  # the scheduler tells its workers to close
                self.client.shutdown()
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        for conn in self.conns:
            conn.close()  # a worker not yet connected exits on EOF
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


class _Spawned:
    """A stock ``LocalCluster`` (workers from a preloaded forkserver, or spawned) and its client."""

    def __init__(self, workers: int):
        import dask
        from distributed import Client, LocalCluster
        config = dict(WORKER_CONFIG)
        if "forkserver" in mp.get_all_start_methods():
            prestart_forkserver(PRELOAD + ["distributed"])
            config["distributed.worker.multiprocessing-method"] = "forkserver"
        with dask.config.set(config):
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
        self.client = Client(self.cluster)

    def alive(self) -> int:
        """Worker slots of the cluster (a Nanny restarts a lost worker)."""
        return len(self.cluster.workers)

    def close(self):
        """Close the client and the cluster."""
        self.client.close()
        self.cluster.close()


def start_local(workers: int, threads: int, method: str):
    """Start the study's local Dask cluster: forked workers (:class:`LocalWorkers`) when
    ``method`` (`sim.study.pool.pool_start_method`) is ``"fork"``, else a ``LocalCluster``.
    Returns an object with ``client``, ``alive()`` and ``close()``."""
    if method == "fork":
        return LocalWorkers(workers, threads)
    return _Spawned(workers)
