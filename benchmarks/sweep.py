"""Study execution: the quick study serially, on 2 local worker processes and on a Dask
LocalCluster with 2 workers; prints wall-clock times, speed-up ratios and per-run overhead.

Each measurement runs in a fresh Python process (so pool / cluster start-up and task loading
in the workers are paid every time, as by a user), with the package and its dependencies
(scikit-learn, distributed) already imported: interpreter start-up is not what is compared.
The timer covers ``sim.study.backends.run_study`` from config validation to the rebuilt table,
into an empty results directory. Backends alternate within each repeat so that they
see the same machine state; the best (minimum) and the median over repeats are reported.

Per-run overhead = (wall clock x workers - sum of the runs' own seconds) / runs: the time a
backend spends on anything but running the runs (start-up, scheduling, transfer, writing
files, idle workers at the end), per run.

    python benchmarks/sweep.py [--repeats 3] [--study quick] [--workers 2] [--no-dask]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

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
            "start_method": summary["start_method"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="measurements per backend")
    parser.add_argument("--study", default="quick", help="study TOML or built-in name (default quick)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel backends")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement, JSON out
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.study, args.workers)))
        return 0
    backends = ["serial", "processes"] + ([] if args.no_dask else ["dask"])
    results = {b: [] for b in backends}
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    print(f"study {args.study!r}, {os.cpu_count()} cores, {args.workers} workers, {args.repeats} repeats; "
          f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for rep in range(args.repeats):
        for backend in backends:
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
    best = {b: min(r["wall"] for r in rs) for b, rs in results.items()}
    median = {b: statistics.median(r["wall"] for r in rs) for b, rs in results.items()}
    print(f"\n{'backend':<10}{'best s':>9}{'median s':>10}{'speed-up':>10}{'(median)':>10}{'overhead/run':>14}")
    for b, rs in results.items():
        r = min(rs, key=lambda x: x["wall"])
        overhead = (r["wall"] * r["workers"] - r["run_seconds"]) / r["runs"]
        print(f"{b:<10}{best[b]:9.2f}{median[b]:10.2f}{best['serial'] / best[b]:9.2f}x"
              f"{median['serial'] / median[b]:9.2f}x{overhead * 1e3:11.1f} ms")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other processes on the machine distort the ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
