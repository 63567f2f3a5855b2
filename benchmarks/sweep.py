"""Study execution: the quick study serially, on 2 local worker processes and on a Dask
LocalCluster with 2 workers; prints wall-clock times, speed-up ratios and per-run overhead.

Each measurement runs in a fresh Python process (so pool / cluster start-up and task loading
in the workers are paid every time, as by a user), with the package and its dependencies
(scikit-learn, distributed) already imported: interpreter start-up is not what is compared.
The timer covers ``sim.study.backends.run_study`` from config validation to the rebuilt table,
into an empty results directory. Backends alternate within each repeat so that they
see the same machine state; the best (minimum) and the median over repeats are reported.

Equal terms: every backend computes the same runs (the same study; the run counts and their
statuses are checked to be equal across backends) with the same BLAS threads per run (one, the
default of every backend) from the same starting point (a fresh process, an empty directory);
the order of the backends rotates from one repeat to the next, so that none always runs first.
The ratio is the same quantity on both sides: ``run_study`` wall clock, serial / backend.

Per-run overhead = (wall clock x workers - sum of the runs' own seconds) / runs: the time a
backend spends on anything but running the runs (start-up, scheduling, transfer, writing
files, idle workers at the end), per run. A run's own seconds are its worker's wall clock of
the whole run (`sim.study.worker.execute_run`: fit, evaluations, arrays).

The floor of a parallel backend is the ideal speed-up, ``workers`` (the serial runs' seconds
spread evenly over the workers); ``of ideal`` is speed-up / workers. It is capped by the cores
that other processes leave free, so the load they put on the machine during the benchmark is
reported (`machine.LoadMonitor`), as are the BLAS kernel and the one-core float32 matmul peak
(for comparison with the other benchmarks; there is no GEMM floor here: what is measured is
the execution backends, whose arithmetic is that of the runs, benchmarked by mlp.py and
hebbian.py).

    python benchmarks/sweep.py [--repeats 3] [--study quick] [--workers 2] [--no-dask] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import machine
from threadpoolctl import threadpool_limits

BACKENDS = {"serial": {"workers": 1}, "processes": {"workers": None}, "dask": {"workers": None, "scheduler": "local"}}


def _one(backend: str, study: str, workers: int) -> dict:
    """One timed run_study in this (fresh) process; returns a JSON-ready dict."""
    import time

    import sklearn.datasets  # noqa: F401 - dependencies imported before the timer, like sim
    import sklearn.model_selection  # noqa: F401

    from sim.study.backends import run_study
    if backend == "dask":
        import distributed  # noqa: F401
    kwargs = dict(BACKENDS[backend])
    if kwargs["workers"] is None:
        kwargs["workers"] = workers
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = run_study(study, os.path.join(tmp, "out"), progress=False, **kwargs)
        wall = time.perf_counter() - t0
    assert summary["computed"] == summary["total"] and not summary["failed"], summary
    return {"backend": backend, "wall": wall, "runs": summary["total"], "workers": summary["workers"],
            "run_seconds": summary["run_seconds"], "blas_threads": summary["blas_threads"],
            "start_method": summary["start_method"],
            "statuses": {k: summary.get(k, 0) for k in ("finished", "diverged", "failed")}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="measurements per backend")
    parser.add_argument("--study", default="quick", help="study TOML or built-in name (default quick)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel backends")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement, JSON out
    machine.add_json_arg(parser, "sweep")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.study, args.workers)))
        return 0
    load = machine.LoadMonitor()
    with threadpool_limits(limits=1):
        blas, peak0 = machine.blas_info(), machine.sgemm_peak()
    backends = ["serial", "processes"] + ([] if args.no_dask else ["dask"])
    results = {b: [] for b in backends}
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    print(f"study {args.study!r}, {machine.cores()} cores, {args.workers} workers, {args.repeats} repeats; "
          f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for rep in range(args.repeats):
        for backend in backends[rep % len(backends):] + backends[:rep % len(backends)]:  # rotate the order
            out = subprocess.run([sys.executable, __file__, "--one", backend, "--study", args.study,
                                  "--workers", str(args.workers)], capture_output=True, text=True, env=env)
            if out.returncode:
                raise SystemExit(f"{backend} failed:\n{out.stderr}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results[backend].append(res)
            print(f"  repeat {rep + 1} {backend:<9} {res['wall']:6.2f} s wall, runs' own time "
                  f"{res['run_seconds']:6.2f} s ({res['runs']} runs, {res['workers']} worker(s) x "
                  f"{res['blas_threads']} BLAS thread(s)"
                  + (f", {res['start_method']}" if res["start_method"] else "") + ")", flush=True)
    work = {json.dumps([r["runs"], r["statuses"], r["blas_threads"]]) for rs in results.values() for r in rs}
    if len(work) != 1:
        raise SystemExit(f"the backends did not do the same work: {sorted(work)}")
    best = {b: min(r["wall"] for r in rs) for b, rs in results.items()}
    median = {b: statistics.median(r["wall"] for r in rs) for b, rs in results.items()}
    print(f"\n{'backend':<10}{'best s':>9}{'median s':>10}{'speed-up':>10}{'(median)':>10}{'of ideal':>10}"
          f"{'overhead/run':>14}")
    rows = {}
    for b, rs in results.items():
        r = min(rs, key=lambda x: x["wall"])
        rows[b] = {"best": best[b], "median": median[b], "speedup": best["serial"] / best[b],
                   "speedup_median": median["serial"] / median[b], "workers": r["workers"],
                   "of_ideal": best["serial"] / best[b] / r["workers"],
                   "overhead_per_run": (r["wall"] * r["workers"] - r["run_seconds"]) / r["runs"]}
        print(f"{b:<10}{best[b]:9.2f}{median[b]:10.2f}{rows[b]['speedup']:9.2f}x{rows[b]['speedup_median']:9.2f}x"
              f"{rows[b]['of_ideal']:10.2f}{rows[b]['overhead_per_run'] * 1e3:11.1f} ms")
    with threadpool_limits(limits=1):
        peak = machine.best_peak(peak0, machine.sgemm_peak())
    print(machine.machine_header(peak, blas) + " (this process, best of the start and the end)")
    load = load.stop()
    print(machine.load_line(load) + " (other processes distort the ratios)")
    path = machine.write_json("sweep", {
        "benchmark": "sweep", "study": args.study, "workers": args.workers, "repeats": args.repeats, "blas": blas,
        "blas_env": machine.blas_env(), "peak": peak, "load": load, "backends": rows, "measurements": results},
        args.json)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
