"""The Dask side of the study backends: checking and connecting to a scheduler, running runs on
a cluster (the study's local one, `sim.study.dask_local`, or a scheduler at an address), and the
result of a run whose worker could not return one (shared with the process pool).

Every run is one Dask task; the study stores each result the moment its task finishes. Measured
on the quick study (44 runs, 2 forked local workers, 2-core machine): ~5 ms of scheduling per
task, and 0.35 s of CPU time in the study's process (scheduler and client) for the whole study.
"""

from __future__ import annotations

import queue
import uuid
from datetime import UTC, datetime

from sim.errors import ValidationError
from sim.study.worker import execute_packed

__all__ = ["connect", "run_on_dask", "failed_result"]


def failed_result(spec, exc):
    """A result for a run whose worker died or could not return (the study continues)."""
    result = {"run_id": spec["run_id"], "config": spec, "status": "failed",
              "error": f"{type(exc).__name__}: {exc}", "traceback": "", "history": None,
              "evaluation": None, "seconds": 0.0,
              "computed_at": datetime.now(UTC).isoformat(timespec="microseconds"),
              "host": "", "pid": None, "blas_threads": None}
    return result, b""


def connect(backend, scheduler, timeout):
    """Check that Dask is importable for a Dask backend; for an address, connect (the client is
    used for the study). Raises ValidationError('scheduler', ...) otherwise."""
    if not backend.startswith("dask"):
        return None
    try:
        from distributed import Client
    except ImportError:
        raise ValidationError("scheduler", scheduler, "needs Dask: pip install 'neurocompare[dask]'") from None
    if backend != "dask-remote":
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise ValidationError("scheduler_timeout", timeout, "must be a finite number of seconds > 0")  # dask: "infs"
    try:
        return Client(scheduler, timeout=f"{timeout}s")
    except (OSError, ValueError, TypeError) as exc:  # TimeoutError is an OSError
        raise ValidationError("scheduler", scheduler, f"cannot connect within {timeout:g} s "
                              f"({' '.join(str(exc).split()) or type(exc).__name__})") from None


def run_on_dask(todo, threads, client, alive=None, poll=1.0):
    """Run ``todo`` (run specs) on the Dask cluster of ``client``; yield ``(result, npz bytes)`` of
    every run as it finishes, `failed_result` for a run whose task failed (worker lost three
    times, result not deserializable, ...).

    Parameters
    ----------
    todo : list of dict
        Run specs, in submission order (the study sorts them longest first).
    threads : int
        BLAS threads per run.
    client : distributed.Client
        Connected (by `connect`, or to the study's local cluster, `sim.study.dask_local`).
    alive : callable, optional
        Returns how many worker processes are still running (a local cluster); when it returns
        0 the runs not finished are yielded as failed instead of waiting for a worker.
    poll : float
        Seconds between two checks of ``alive`` while no run finishes.
    """
    tag = uuid.uuid4().hex[:8]
    futures = [client.submit(execute_packed, spec, threads, key=f"run-{spec['run_id']}-{tag}", pure=False)
               for spec in todo]
    pending = {f.key: (f, s) for f, s in zip(futures, todo)}
    ready = queue.SimpleQueue()
    for future in futures:
        future.add_done_callback(ready.put)
    try:
        while pending:
            try:
                future = ready.get(timeout=poll)
            except queue.Empty:
                if alive is not None and not alive():
                    lost = RuntimeError("every worker process of the local Dask cluster died")
                    for _, spec in list(pending.values()):
                        yield failed_result(spec, lost)
                    return
                continue
            _, spec = pending.pop(future.key)
            try:
                value = future.result()
            except Exception as exc:  # worker lost, deserialization error, ...
                value = failed_result(spec, exc)
            future.release()
            yield value
    finally:
        for future, _ in pending.values():
            future.cancel()
