"""Shared helpers of the benchmarks: the machine they ran on, its matmul peak, GEMM floors, load, JSON.

Every benchmark prints, measured in its own run, where its numbers stand on this machine:

* the BLAS kernel in use (`blas_info`: ``threadpoolctl.threadpool_info()``'s internal_api,
  version, architecture of each BLAS library loaded) and the environment variables that choose
  it (`blas_env`: an ``OPENBLAS_CORETYPE`` overrides OpenBLAS's own choice of kernel);
* the float32 matmul peak on one core (`sgemm_peak`: GFLOP/s of square sgemms of 256, 512 and
  1024, fastest call of each, under the caller's ``threadpool_limits(1)``; measured at the start
  and the end of a run and merged by `best_peak`);
* the GEMM floor at the benchmark's own shapes (`mlp_epoch_shapes` lists the matmuls one
  training epoch needs, `time_gemms` times exactly those matmuls in a loop): the time the
  matmuls alone would take, and so the fraction of peak they and the whole epoch reach;
* the load of other processes (`LoadMonitor`): the load average before and after, and the
  cores kept busy by everything but this benchmark (and its children) while it ran, from the
  kernel's CPU counters (psutil if installed, else ``/proc/stat``), plus the steal time;
* results as JSON (`write_json`, default ``benchmarks/results/<name>.json``).

Scripts in this folder import it as ``machine`` (their folder is on ``sys.path`` when run as
``python benchmarks/NAME.py``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

RESULTS = Path(__file__).resolve().parent / "results"
PEAK_SIZES = (256, 512, 1024)
BLAS_KEYS = ("internal_api", "version", "architecture", "threading_layer", "num_threads", "prefix")


def cores() -> int:
    """Cores this process may run on (its affinity mask; ``os.cpu_count()`` where unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def blas_info() -> list[dict]:
    """The BLAS libraries loaded in this process (one dict per library, keys `BLAS_KEYS`)."""
    return [{k: lib.get(k) for k in BLAS_KEYS} for lib in threadpool_info() if lib.get("user_api") == "blas"]


def blas_env() -> dict:
    """Environment variables that choose or tune the BLAS kernel and its threads (e.g. an
    ``OPENBLAS_CORETYPE`` that overrides OpenBLAS's detection of the CPU)."""
    prefixes = ("OPENBLAS_", "GOTOBLAS_", "MKL_", "OMP_", "BLIS_")
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(prefixes)}


def blas_line(info: list[dict]) -> str:
    """One line naming each BLAS library: ``openblas 0.3.31 (Haswell, 1 thread, scipy_openblas64_)``."""
    parts = [f"{d['internal_api']} {d['version']} ({d['architecture']}, {d['num_threads']} thread(s), "
             f"{d['prefix']})" for d in info]
    return "; ".join(parts) if parts else "no BLAS found by threadpoolctl"


# ------------------------------------------------------------------------ matmul peak and floors
def gemm_flops(shapes) -> int:
    """Floating-point operations of ``[((m, k, n), count), ...]``: ``2 m k n`` per (m x k) @ (k x n)."""
    return sum(2 * m * k * n * count for (m, k, n), count in shapes)


def sgemm_gflops(n: int = 1024, budget: float = 0.3, dtype=np.float32) -> float:
    """GFLOP/s of the fastest of repeated square ``n x n`` matmuls (``np.matmul`` with ``out``),
    repeated for about ``budget`` seconds (at least 3 times). Run it under ``threadpool_limits(1)``."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=c)  # warm-up
    best, start, calls = math.inf, time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
        calls += 1
    return 2 * n ** 3 / best / 1e9


def sgemm_peak(sizes=PEAK_SIZES, budget: float = 0.3) -> dict:
    """The one-core float32 matmul peak: ``{'by_size': {n: GFLOP/s}, 'peak': the best of them}``.

    Square sgemm at each size of ``sizes`` (`sgemm_gflops`). The best size is reported as the
    peak: on a loaded machine the fastest call is the least disturbed one, and on this kind of
    machine 256-512 run faster than 1024 (whose operands leave the per-core L2 cache)."""
    by_size = {n: sgemm_gflops(n, budget) for n in sizes}
    return {"by_size": by_size, "peak": max(by_size.values())}


def best_peak(*peaks: dict) -> dict:
    """Merge `sgemm_peak` results measured at several times of a run (the best per size)."""
    by_size = {n: max(p["by_size"][n] for p in peaks) for n in peaks[0]["by_size"]}
    return {"by_size": by_size, "peak": max(by_size.values()), "measurements": [dict(p) for p in peaks]}


def merge_shapes(shapes) -> list[tuple[tuple[int, int, int], int]]:
    """``[((m, k, n), count)]`` with equal shapes added up, in first-seen order."""
    merged: dict[tuple[int, int, int], int] = {}
    for shape, count in shapes:
        merged[tuple(shape)] = merged.get(tuple(shape), 0) + count
    return list(merged.items())


def batches(n_samples: int, batch: int) -> list[tuple[int, int]]:
    """``[(batch size, how many)]`` of one epoch: the full batches and the smaller last one."""
    full, rest = divmod(n_samples, batch)
    return [(batch, full)] * bool(full) + [(rest, 1)] * bool(rest)


def mlp_epoch_shapes(n_samples: int, batch: int, sizes) -> list[tuple[tuple[int, int, int], int]]:
    """The matmuls of one backprop epoch of an MLP with layer ``sizes`` (input first, output last).

    Per batch of ``b`` and per layer ``in -> out``: the forward currents (b x in) @ (in x out),
    the weight gradient (out x b) @ (b x in) and, for every layer but the first (the error is
    not needed at the input), the error sent down (b x out) @ (out x in): ``3 L - 1`` matmuls
    for ``L`` layers, the last batch of an epoch smaller. Both our MLP and scikit-learn's do
    exactly these (and no other matmul) in training.
    """
    shapes = []
    for b, count in batches(n_samples, batch):
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            shapes.append(((b, fan_in, fan_out), count))
            shapes.append(((fan_out, b, fan_in), count))
            if layer:
                shapes.append(((b, fan_out, fan_in), count))
    return merge_shapes(shapes)


def hebbian_epoch_shapes(n_samples: int, batch: int, n_in: int, n_hidden: int, n_classes: int):
    """The matmuls of one concurrent HebbianNet epoch (competitive rule, softmax readout).

    Per batch of ``b``: the hidden currents (b x in) @ (in x N) that the population settles
    from; the competitive rule's own p-currents with ``|W|^(p-1)`` (b x in) @ (in x N) and its
    update ``g^T x`` (N x b) @ (b x in); the readout's forward (b x N) @ (N x classes) and
    delta-rule update (classes x b) @ (b x N). The settling itself (the closed-form k-WTA code,
    or the time steps) and the rule's ranking are not matmuls.
    """
    shapes = []
    for b, count in batches(n_samples, batch):
        shapes += [((b, n_in, n_hidden), 2 * count), ((n_hidden, b, n_in), count),
                   ((b, n_hidden, n_classes), count), ((n_classes, b, n_hidden), count)]
    return merge_shapes(shapes)


def time_gemms(shapes, repeats: int = 5, dtype=np.float32) -> float:
    """Seconds of one pass over the matmuls ``[((m, k, n), count)]`` (best of ``repeats``).

    Each shape is a C-contiguous (m x k) @ (k x n) into a preallocated output, ``count`` times in
    a Python loop (so numpy's per-call overhead, which any implementation pays, is included)."""
    rng = np.random.default_rng(0)
    ops = [(rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype),
            np.empty((m, n), dtype=dtype), count) for (m, k, n), count in shapes]
    best = math.inf
    for _ in range(1 + repeats):  # the first pass is a warm-up
        t0 = time.perf_counter()
        for a, b, c, count in ops:
            for _ in range(count):
                np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return best


def floor_report(shapes, peak: float, seconds: dict, repeats: int = 5) -> dict:
    """The GEMM floor of ``shapes`` and the fraction of ``peak`` (GFLOP/s) reached.

    ``seconds``: ``{label: seconds of the same work}`` (e.g. our whole epoch); each gets its
    GFLOP/s and fraction of peak counting only the matmuls' operations."""
    flops = gemm_flops(shapes)
    floor = time_gemms(shapes, repeats)
    out = {"flops": flops, "floor_seconds": floor, "floor_gflops": flops / floor / 1e9,
           "floor_fraction_of_peak": flops / floor / 1e9 / peak}
    for label, s in seconds.items():
        out[f"{label}_seconds"] = s
        out[f"{label}_fraction_of_peak"] = flops / s / 1e9 / peak
        out[f"{label}_over_floor"] = s / floor
    return out


# ------------------------------------------------------------------------ load of other processes
def _cpu_counters() -> tuple[float, float] | None:
    """(busy, steal) CPU seconds of the whole machine since boot, or None where unreadable."""
    try:
        import psutil
        t = psutil.cpu_times()
        steal = getattr(t, "steal", 0.0)
        return sum(t) - t.idle - getattr(t, "iowait", 0.0) - steal - getattr(t, "guest", 0.0) \
            - getattr(t, "guest_nice", 0.0), steal
    except ImportError:
        pass
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0.0] * 8)[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _own_cpu() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class LoadMonitor:
    """Load of the machine while a benchmark runs; `stop` returns a JSON-ready dict.

    ``others_cores``: average number of cores kept busy by other processes (the machine's busy
    CPU time minus this process's and its waited-for children's, over the wall time);
    ``steal_cores``: the same for time the hypervisor gave to other machines.
    """

    def __init__(self):
        self.cores = cores()
        self.loadavg_start = os.getloadavg()
        self._t0, self._cpu0, self._own0 = time.perf_counter(), _cpu_counters(), _own_cpu()

    def stop(self) -> dict:
        wall = time.perf_counter() - self._t0
        out = {"cores": self.cores, "loadavg_start": list(self.loadavg_start),
               "loadavg_end": list(os.getloadavg()), "wall_seconds": wall,
               "others_cores": None, "steal_cores": None}
        cpu1 = _cpu_counters()
        if self._cpu0 is not None and cpu1 is not None and wall > 0:
            own = _own_cpu() - self._own0
            out["others_cores"] = max(0.0, (cpu1[0] - self._cpu0[0] - own) / wall)
            out["steal_cores"] = (cpu1[1] - self._cpu0[1]) / wall
        return out


def load_line(load: dict) -> str:
    """One line describing `LoadMonitor.stop`'s result."""
    avg = lambda xs: "/".join(f"{x:.2f}" for x in xs)  # noqa: E731
    line = (f"load: {load['cores']} cores; load average (1/5/15 min) {avg(load['loadavg_start'])} before, "
            f"{avg(load['loadavg_end'])} after")
    if load["others_cores"] is not None:
        line += (f"; other processes kept {load['others_cores']:.2f} of {load['cores']} cores busy during the "
                 f"{load['wall_seconds']:.0f} s run (steal {load['steal_cores']:.2f})")
    return line


# ------------------------------------------------------------------------ report
@dataclass(frozen=True)
class Float32Data:
    """The six arrays of a task with the inputs in float32: what both sides of a comparison fit.

    A `sim.tasks.Task` always holds float64 inputs (it validates them so), so a float32 copy
    cannot be a Task; the estimators accept any object with these attributes."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str = ""

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)

    def with_data(self, **changes) -> Float32Data:
        """A copy with some arrays replaced (inputs cast to float32)."""
        changes = {k: np.ascontiguousarray(v, dtype=np.float32) if k.startswith("X_") else v
                   for k, v in changes.items()}
        return dataclasses.replace(self, **changes)


def float32_task(task) -> Float32Data:
    """``task``'s splits with the inputs cast to float32 (labels unchanged), done once before any
    timing so that no side pays (or skips) a conversion inside its timed ``fit``."""
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"X_{split}"] = np.ascontiguousarray(getattr(task, f"X_{split}"), dtype=np.float32)
        arrays[f"y_{split}"] = np.asarray(getattr(task, f"y_{split}"))
    return Float32Data(**arrays, n_classes=int(task.n_classes), name=getattr(task, "name", ""))


def verdict(value: float, target: float, higher: bool = True) -> str:
    """'MET' or 'NOT MET': ``value >= target`` (``higher``) or ``value <= target``."""
    ok = value >= target if higher else value <= target
    return "MET" if ok else "NOT MET"


def machine_header(peak: dict, blas: list[dict]) -> str:
    """Lines naming the BLAS kernel and the one-core float32 matmul peak (`sgemm_peak` / `best_peak`)."""
    sizes = ", ".join(f"{n}^2 {g:.1f}" for n, g in peak["by_size"].items())
    env = ", ".join(f"{k}={v}" for k, v in blas_env().items()) or "none"
    return (f"BLAS: {blas_line(blas)}; BLAS environment: {env}\n"
            f"float32 matmul peak, 1 core: {peak['peak']:.1f} GFLOP/s (square sgemm, fastest call: {sizes})")


def floor_line(label: str, rep: dict, ours: str = "ours") -> str:
    """One line of a `floor_report`: floor time, its fraction of peak, and ours."""
    return (f"  GEMM floor {label}: {rep['flops'] / 1e6:.1f} MFLOP in {rep['floor_seconds'] * 1e3:.2f} ms "
            f"({rep['floor_fraction_of_peak']:.2f} of peak); {ours} {rep[f'{ours}_seconds'] * 1e3:.2f} ms "
            f"({rep[f'{ours}_fraction_of_peak']:.3f} of peak, {rep[f'{ours}_over_floor']:.1f}x the floor)")


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json(name: str, data: dict, path=None) -> Path:
    """Write ``data`` (made JSON-plain: numpy scalars to Python, non-finite floats to null) to
    ``path`` or ``benchmarks/results/<name>.json``; returns the path."""
    path = Path(path) if path else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(data), indent=1) + "\n", encoding="utf-8")
    return path


def add_json_arg(parser, name: str) -> None:
    """``--json PATH`` (default ``benchmarks/results/<name>.json``)."""
    parser.add_argument("--json", metavar="PATH", default=None,
                        help=f"where to write the results (default benchmarks/results/{name}.json)")
