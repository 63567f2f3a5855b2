"""The Dask side of the study backends: checking and connecting to a scheduler, running runs on
a cluster (a LocalCluster, or a scheduler at an address), and the result of a run whose worker
could not return one (shared with the process pool)."""

from __future__ import annotations

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


def run_on_dask(todo, workers, threads, scheduler, client=None):
    """Run on Dask: a LocalCluster for 'local', else ``client`` (connected by `connect`, closed
    by `run_study`)."""
    import logging

    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed
    cluster, own_client = None, client is None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    elif client is None:
        client = connect("dask-remote", scheduler, 30.0)
    tag = uuid.uuid4().hex[:8]
    try:
        futures = [client.submit(execute_packed, spec, threads, key=f"run-{spec['run_id']}-{tag}", pure=False)
                   for spec in todo]
        spec_of = {f.key: s for f, s in zip(futures, todo)}
        for future in dask_completed(futures):
            spec = spec_of[future.key]
            try:
                value = future.result()
            except Exception as exc:  # worker lost, deserialization error, ...
                value = failed_result(spec, exc)
            future.release()
            yield value
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
