"""Run a study: serially, on a local process pool, or on a Dask distributed cluster.

:func:`run_study` validates the config, writes the manifest, skips runs whose files are
already in the store (and verified), and executes the rest with `sim.study.worker.execute_run`.
The parent process writes each finished run atomically as soon as it arrives, so a killed
study loses only the runs in flight, and re-running it picks up where it stopped. Every run
draws only from its own seeds, so results are identical (bit for bit) whatever the backend,
the worker count or the order of completion.

A study with ``[tuning]`` first runs its tuning stage (`sim.study.tuning`): each round's trial
runs are one batch on the same backend (one process pool or Dask cluster serves every batch) and
go to the same store; then the ordinary runs, with the chosen parameters, are the last batch.
The store's ``tuning.json`` shows the stage's progress, ``tuned.toml`` its choices
(`sim.study.tuned`).

BLAS threads: each run executes under ``threadpoolctl.threadpool_limits(blas_threads)`` (and
pool workers are capped for their lifetime), with workers x threads <= cores enforced.
Oversubscription is costly on the small matrices of these models: on a 2-core machine two
workers each running 2-thread BLAS were measured 10-500x slower than with one thread each, and
even a serial study ran 3x slower with 2 BLAS threads than with 1 while another process was
busy. So the default is one thread per run, for every backend.

One writer per store: :func:`run_study` holds the store's writer lock
(`sim.study.store.Store.writer_lock`) from before the manifest is written until it returns or
raises; a second study on the same directory is refused at once. Everything it can check is
checked before anything is created on disk: the config, ``out`` (not an existing file), the
workers and threads, and the Dask scheduler (connected with a timeout). The table
(``table.csv``) is rebuilt at least every `sim.study.store.TABLE_EVERY` seconds while runs
arrive and once more when the study ends, fails or is interrupted (SIGINT, or SIGTERM, which
is turned into ``SystemExit(143)`` while a study runs in the main thread).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sim.errors import ValidationError
from sim.study.config import load as load_study
from sim.study.dask_backend import connect, run_on_dask
from sim.study.pool import WorkerPool, pool_start_method, prestart_forkserver
from sim.study.progress import Progress, cost
from sim.study.store import DONE, TABLE_EVERY, Store
from sim.study.worker import execute_packed

__all__ = ["run_study", "cores", "pool_start_method", "DEFAULT_BLAS_THREADS"]

# BLAS threads per run. The models' matrices are small (batches of 20-100 x a few hundred
# units): one thread was fastest in every measurement on this 2-core machine, serial runs
# included, and a 2-thread BLAS beside any other busy process was several times slower.
DEFAULT_BLAS_THREADS = 1


def _check_threads(value, n_cores, workers):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("blas_threads", value, "must be an integer >= 1")
    if n_cores is not None and value * workers > n_cores:
        raise ValidationError("blas_threads", value, f"workers x blas_threads must be <= {n_cores} cores "
                              f"({workers} worker(s))")
    return value


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_study(config, out=None, *, workers: int | None = None, scheduler: str | None = None,
              progress: bool = True, retry_failed: bool = True, blas_threads: int | None = None,
              log=_stderr, scheduler_timeout: float = 10.0, on_start=None) -> dict:
    """Execute a study, writing every run to the results store ``out``.

    Parameters
    ----------
    config : str, Path, dict or sim.study.Study
        A TOML file, a built-in study name ('default', 'quick'), a parsed dict or a Study.
        Validated completely before any run starts.
    out : str or Path, optional
        Results directory; default ``results/<study name>``.
    workers : int, optional
        Parallel workers (default: the number of cores). 1 runs serially in this process.
        With ``scheduler='local'`` the number of Dask workers.
    scheduler : str, optional
        ``'local'`` starts a local Dask cluster (`sim.study.dask_local`: worker processes, one
        thread each, forked from this process where the process pool would fork); an address
        such as ``'tcp://host:8786'`` connects to a running scheduler (its workers must have
        neurocompare installed). Needs ``pip install neurocompare[dask]``.
    progress : bool
        Show progress (`sim.study.progress`): a tqdm bar weighted by the runs' estimated cost when
        stderr is a terminal, else one line per finished run with an ETA calibrated on the
        finished runs.
    retry_failed : bool
        Re-execute runs recorded as failed (finished and diverged runs are always kept).
    blas_threads : int, optional
        BLAS / OpenMP threads per run (default 1, see the module docstring); workers x
        blas_threads must not exceed the cores.
    log : callable
        Receives one-line messages (corrupt files, failures); default prints to stderr.
    scheduler_timeout : float
        Seconds to wait for the Dask scheduler at ``scheduler`` (an address) before refusing it.
    on_start : callable, optional
        Called as ``on_start(study, out)`` once everything is validated and the store is locked,
        before any run starts (the command line prints its summary line there).

    Returns
    -------
    dict
        ``out``, ``total``, ``skipped``, ``computed``, ``finished``, ``diverged``, ``failed``,
        ``corrupt`` (ids of corrupt files that were recomputed), ``backend``, ``workers``,
        ``seconds`` (wall clock) and ``run_seconds`` (sum over computed runs); the counts cover
        trial runs too. A tuning study's also has ``trial_runs`` (how many) and ``tuned`` (the
        path of ``tuned.toml``).

    Raises
    ------
    ValidationError
        An invalid config or argument, ``out`` an existing file, an unreachable scheduler
        (nothing created on disk for any of these), or ``out`` in use by another study
        (``invalid out=DIR: is in use by another neurocompare study (pid N on HOST since T)``).
    """
    method = pool_start_method()
    if scheduler is None and workers != 1 and method == "forkserver":
        prestart_forkserver()  # the server process starts while the config is validated
    study = load_study(config)
    out = Path(out) if out is not None else Path("results") / study.name
    n_cores = cores()
    if workers is None:
        workers = n_cores
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValidationError("workers", workers, "must be an integer >= 1")
    backend = _backend_name(scheduler, workers)
    threads = DEFAULT_BLAS_THREADS if blas_threads is None else _check_threads(
        blas_threads, None if backend == "dask-remote" else n_cores, workers)
    _check_out(out)
    client = connect(backend, scheduler, scheduler_timeout)  # before anything is created
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValidationError("out", str(out), f"cannot be created ({exc.strerror or exc})") from None
        store = Store(out)
        with store.writer_lock(), _sigterm_exits():
            note = store.format_note("out")  # an unknown format is refused before anything is written
            if note:
                log(note)
            if on_start is not None:
                on_start(study, out)
            return _run_locked(store, study, backend, workers, threads, scheduler, client,
                               method, progress, retry_failed, log)
    finally:
        if client is not None:
            client.close()


def _run_locked(store, study, backend, workers, threads, scheduler, client, method, progress, retry_failed, log):
    """The body of `run_study` once everything is validated and the store's lock is held: the
    tuning stage (if any, `sim.study.tuning`), then the ordinary runs."""
    specs = study.runs()
    bar = Progress(study.name, study.trial_runs() + len(specs), 1 if backend == "serial" else workers,
                   enabled=progress)
    runner = _Runner(store, study, backend, workers, threads, scheduler, client, method, retry_failed, log, bar)
    started, t0 = datetime.now(UTC), time.perf_counter()
    trials = []
    try:
        if study.tuning:
            from sim.study import tuned, tuning

            def execute(round_specs):
                trials.extend(round_specs)
                store.begin(study, [], trials)
                runner.run(round_specs)
                return {s["run_id"]: store.load_run(s["run_id"]) for s in round_specs}
            state = tuning.tune(study, execute, progress=lambda st: tuned.write_progress(store.path, study, st))
            runner.summary["tuned"] = str(tuned.write_presets(store.path, study, state))
            specs = study.with_params(state["params"]).runs()
        store.begin(study, specs, trials)
        runner.run(specs)
    finally:
        runner.close()
        summary = runner.summary
        if runner.pool is not None and runner.pool.size:
            summary["workers"] = runner.pool.size
        elif runner.pool is not None:  # never started: no batch had more than one run to compute
            summary.update(backend="serial", workers=1, start_method=None)
        summary["seconds"] = time.perf_counter() - t0
        store.rebuild_table()
        manifest = store.manifest()
        manifest.setdefault("run_seconds", {}).update(runner.run_seconds)
        manifest.setdefault("invocations", []).append({
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            **{k: v for k, v in summary.items() if k not in ("out", "corrupt")},
            "corrupt_recomputed": len(summary["corrupt"])})
        manifest["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
        store.write_manifest(manifest)
    return summary


class _Runner:
    """Executes batches of run specs on one backend for a whole study (one process pool or Dask
    cluster for every batch), writing each result as it arrives and counting in ``summary``."""

    def __init__(self, store, study, backend, workers, threads, scheduler, client, method, retry_failed, log, bar):
        self.store, self.study, self.backend, self.workers = store, study, backend, workers
        self.threads, self.scheduler, self.client, self.method = threads, scheduler, client, method
        self.retry_failed, self.log, self.bar = retry_failed, log, bar
        self.pool = WorkerPool(workers, threads, method) if backend == "processes" else None
        self.cluster = None
        self.run_seconds = {}
        self.table_at, self.table_every = time.perf_counter(), TABLE_EVERY
        self.summary = {"out": str(store.path), "study": study.name, "total": 0, "skipped": 0, "computed": 0,
                        "finished": 0, "diverged": 0, "failed": 0, "corrupt": [], "backend": backend,
                        "workers": 1 if backend == "serial" else workers, "blas_threads": threads,
                        "start_method": method if backend == "processes" else None, "run_seconds": 0.0}
        if study.tuning:
            self.summary["trial_runs"] = study.trial_runs()

    def run(self, specs):
        """Run the specs of ``specs`` that are not in the store yet (or failed, or corrupt)."""
        summary, store = self.summary, self.store
        todo, skipped = [], 0
        for spec in specs:
            state = store.check(spec["run_id"])
            if state in DONE or (state == "failed" and not self.retry_failed):
                skipped += 1
                continue
            if state == "corrupt":
                self.log(f"run {spec['run_id']}: corrupt file ({_corrupt_reason(store, spec['run_id'])}); "
                         "moved to runs/corrupt/ and recomputed")
                store.quarantine(spec["run_id"])
                summary["corrupt"].append(spec["run_id"])
            todo.append(spec)
        summary["total"] += len(specs)
        summary["skipped"] += skipped
        self.bar.skip(skipped)
        if not todo:
            return
        todo.sort(key=lambda s: cost(s, self.study), reverse=True)  # longest first balances the workers
        self.bar.plan((s["run_id"], s["model"], cost(s, self.study)) for s in todo)
        for result, arrays in self._execute(todo):
            store.write_run(result, arrays)
            if time.perf_counter() - self.table_at >= self.table_every:  # keep table.csv recent, cheaply
                t = time.perf_counter()
                store.rebuild_table()
                self.table_at = time.perf_counter()
                self.table_every = max(TABLE_EVERY, 20 * (self.table_at - t))
            status = result["status"]
            summary["computed"] += 1
            summary[status] = summary.get(status, 0) + 1
            summary["run_seconds"] += result["seconds"]
            self.run_seconds[result["run_id"]] = result["seconds"]
            if status == "failed":
                cfg = result["config"]
                self.log(f"run {result['run_id']} ({cfg['model']} on {cfg['task']}, seed {cfg['seed']}) failed: "
                         f"{result['error']}")
            self.bar.done(result["run_id"], result["seconds"], status)

    def _execute(self, todo):
        if self.backend == "serial" or (self.pool is not None and self.pool.size is None and len(todo) == 1):
            for spec in todo:
                yield execute_packed(spec, self.threads)
        elif self.backend == "processes":
            yield from self.pool.run(execute_packed, todo)
        else:
            client = self._dask_client()
            yield from run_on_dask(todo, self.threads, client, None if self.cluster is None else self.cluster.alive)

    def _dask_client(self):
        """The Dask client of the study: the connected one, or a local cluster's started at the first
        batch (`sim.study.dask_local.start_local`)."""
        if self.client is None:
            from sim.study.dask_local import start_local
            self.cluster = start_local(self.workers, self.threads, self.method)
            self.client = self.cluster.client
        return self.client

    def close(self):
        """Close the progress bar and the pool or LocalCluster this runner started."""
        self.bar.close()
        if self.pool is not None:
            self.pool.close()
        if self.cluster is not None:
            self.cluster.close()


@contextlib.contextmanager
def _sigterm_exits():
    """While a study runs in the main thread, SIGTERM raises ``SystemExit(143)`` (so the
    ``finally`` blocks run: table rebuilt, manifest updated, lock released); restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_out(out: Path) -> None:
    """``out`` must be a directory or creatable as one (nothing on the way is a file)."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                what = "is an existing file" if path == out else f"is inside {str(path)!r}, an existing file"
                raise ValidationError("out", str(out), f"{what}, not a directory")
            return


def _backend_name(scheduler, workers):
    if scheduler is None:
        return "serial" if workers == 1 else "processes"
    if not isinstance(scheduler, str) or not scheduler:
        raise ValidationError("scheduler", scheduler, "must be 'local' or an address like tcp://host:8786")
    return "dask-local" if scheduler == "local" else "dask-remote"


def _corrupt_reason(store, run_id):
    try:
        store.load_run(run_id)
    except Exception as exc:  # noqa: BLE001 - only for the message
        return str(exc).split(": ", 1)[-1]
    return "unknown"
