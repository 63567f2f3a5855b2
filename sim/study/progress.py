"""Progress of a study: the estimated cost of a run, the calibrated ETA, the bar or the lines.

Runs are executed longest first (by :func:`cost`), so counting runs is a badly biased measure of
progress: the first quarter of the runs may be most of the work. Progress is therefore weighted
by estimated cost, calibrated on the runs finished so far:

* :func:`cost` is a relative cost in arbitrary units: (hidden width + 10) x (epochs x
  (training + test samples) + the final evaluations), plus a fixed per-run overhead;
* a group's rate ``r_g = sum(seconds) / sum(cost)`` over its finished runs (the group is the
  study's model label: a Hebbian network and an MLP of equal cost take different times), and
  the pooled rate over all finished runs for a group with none finished yet;
* the predicted seconds of a pending run are ``r_g * cost``; runs planned later (the rounds of a
  tuning stage) are predicted at the mean of the known runs;
* the ETA (:func:`eta`) is the predicted run-seconds left divided by the workers that can still
  be busy, ``min(workers, runs left)``, and never less than the longest predicted run.

:class:`Progress` shows a tqdm bar whose position is that calibrated fraction of the work when
stderr is a terminal, and otherwise prints one plain line per finished run (at most one per
``every`` seconds, and always the last) with the runs done of the total, the share of the
estimated work done, the elapsed time and the ETA (:func:`line`).
"""

from __future__ import annotations

import sys
import time

__all__ = ["RUN_OVERHEAD", "MEASURED_RATES", "cost", "rates", "eta", "clock_text", "line", "Progress"]


# Per-run overhead in cost units (process hand-off, task loading, writing the run file): about
# 0.05 s at the 1e-7 s per unit of the quick study's runs (2 workers, 2-core machine). Chosen by
# replaying two measured quick studies: the ETA after a quarter of the runs was 1.3-1.4x the true
# remaining time with 5e5, 1.2-1.3x with 0 (but 0.8x at three quarters), 1.5-1.6x with 2e6.
RUN_OVERHEAD = 5e5
# Seconds of run time per cost unit (sum of run seconds / sum of costs, 2 workers on a 2-core
# machine): 2.2e-8 for the default study (6.5 min of wall clock, 3.5e10 units, the README's
# measurement) and 2.7e-8 for the factorial study (75 s), 3.8e-8 for the quick study on a quiet
# machine (its small runs weigh their overhead more), 1.8e-7 and 2.4e-7 for the quick study on the
# machine shared with other jobs. `neurocompare study --dry-run` turns a study's cost into that range.
MEASURED_RATES = (2.2e-8, 2.4e-7)


def cost(spec: dict, study) -> float:
    """Relative cost of run ``spec`` of ``study`` in arbitrary units.

    ``(width + 10) x (epochs x (training + test samples) + final evaluations) + RUN_OVERHEAD``:
    a subsample run trains on ``train_per_class x classes`` samples, a sequential run counts its
    epochs twice, the width is the sum of the hidden stages (1 without a hidden layer), and the
    final evaluations are the robustness levels x test samples plus, on a 2-D task, the
    decision grid's ``grid ** 2`` points.
    """
    t = study.tasks[spec["task"]]
    n = t["n_train"]
    if spec["kind"] == "subsample":
        n = min(n, spec["condition"]["train_per_class"] * t["n_classes"])
    hidden = spec["params"].get("hidden", 1)
    width = sum(hidden) if isinstance(hidden, list) else (hidden if isinstance(hidden, int) else 1)
    epochs = spec["epochs"] * (2 if spec["kind"] == "sequential" else 1)
    ev = spec.get("evaluation") or {}
    final = (len(ev.get("noise", [])) + len(ev.get("occlusion", []))) * t["n_test"]
    if t["n_features"] == 2 and ev.get("grid"):
        final += ev["grid"] ** 2
    return float((epochs * (n + t["n_test"]) + final) * (width + 10) + RUN_OVERHEAD)


def rates(finished) -> tuple[dict, float]:
    """Seconds per cost unit: ``({group: rate}, pooled rate)`` of ``finished`` ``(group, cost, seconds)``
    runs (the pooled rate is NaN when nothing has finished)."""
    sums = {}
    for group, c, s in finished:
        a, b = sums.get(group, (0.0, 0.0))
        sums[group] = (a + s, b + c)
    total_s = sum(a for a, _ in sums.values())
    total_c = sum(b for _, b in sums.values())
    pooled = total_s / total_c if total_c > 0 else float("nan")
    return {g: a / b for g, (a, b) in sums.items() if b > 0}, pooled


def _predicted(finished, pending, unplanned=0) -> list[float]:
    by_group, pooled = rates(finished)
    seconds = [by_group.get(g, pooled) * c for g, c in pending]
    known = seconds + [s for _, _, s in finished]
    mean = sum(known) / len(known) if known else float("nan")
    return seconds + [mean] * int(unplanned)


def eta(finished, pending, workers: int = 1, unplanned: int = 0) -> float:
    """Predicted wall-clock seconds until the runs left have finished.

    Parameters
    ----------
    finished : iterable of (group, cost, seconds)
        The runs finished so far: their group (model label), :func:`cost` and run seconds.
    pending : iterable of (group, cost)
        The planned runs not finished yet (those in flight included).
    workers : int
        Runs executed at once.
    unplanned : int
        Runs still to be planned (later tuning rounds), predicted at the mean run.

    Returns
    -------
    float
        ``max(sum(predicted) / min(workers, runs left), max(predicted))`` in seconds: 0 with no run
        left, NaN before any run has finished (nothing to calibrate on).
    """
    finished, pending = list(finished), list(pending)
    left = _predicted(finished, pending, unplanned)
    if not left:
        return 0.0
    if not finished:
        return float("nan")
    return max(sum(left) / min(max(int(workers), 1), len(left)), max(left))


def clock_text(seconds: float) -> str:
    """``12.3 s`` under a minute, else ``m:ss`` (``h:mm:ss`` from an hour on); ``?`` for NaN."""
    if seconds != seconds:  # NaN
        return "?"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def line(name: str, done: int, total: int, fraction: float, elapsed: float, eta_seconds: float,
         failed: int = 0, diverged: int = 0) -> str:
    """One plain progress line, e.g.
    ``quick: 11/42 runs, 38% of the estimated work, 1:12 elapsed, ETA 40.0 s``."""
    pct = "?" if fraction != fraction else f"{100 * fraction:.0f}%"
    text = (f"{name}: {done}/{total} runs, {pct} of the estimated work, {clock_text(elapsed)} elapsed, "
            f"ETA {clock_text(eta_seconds)}")
    extra = [f"{n} {what}" for n, what in ((failed, "failed"), (diverged, "diverged")) if n]
    return text + (f" ({', '.join(extra)})" if extra else "")


class Progress:
    """Progress of one study's runs: a cost-weighted tqdm bar on a terminal, else plain lines.

    Parameters
    ----------
    name : str
        The study's name (the lines' prefix).
    total : int
        Runs expected (trial runs included); :meth:`skip` removes the ones already stored.
    workers : int
        Runs executed at once.
    enabled : bool
        False: show nothing.
    tty : bool, optional
        Draw a bar (default: whether stderr is a terminal).
    every : float
        Least seconds between two plain lines (the last run's line is always printed).
    clock : callable
        Seconds, monotonic (``time.perf_counter``; tests script it).
    """

    def __init__(self, name: str, total: int, workers: int = 1, *, enabled: bool = True, tty: bool | None = None,
                 every: float = 0.0, clock=time.perf_counter):
        self.name, self.total, self.workers, self.enabled = name, int(total), int(workers), enabled and total > 0
        self.every, self.clock = float(every), clock
        self.t0 = clock()
        self.finished, self.pending = [], {}
        self.failed = self.diverged = 0
        self.printed_at = None
        self.bar = None
        if self.enabled and (sys.stderr.isatty() if tty is None else tty):
            from tqdm.auto import tqdm

            class Bar(tqdm):
                monitor_interval = 0  # no monitor thread: the pool may fork after the bar exists
            self.bar = Bar(total=100.0, desc=f"{name}: 0/{self.total} runs", dynamic_ncols=True,
                           bar_format="{percentage:3.0f}%|{bar}| {desc}")

    def skip(self, n: int) -> None:
        """``n`` expected runs are already in the store: they are not part of this invocation."""
        self.total -= int(n)

    def plan(self, runs) -> None:
        """Runs about to execute: ``(run_id, group, cost)`` each."""
        for run_id, group, c in runs:
            self.pending[run_id] = (group, float(c))

    def done(self, run_id: str, seconds: float, status: str = "finished") -> None:
        """Run ``run_id`` finished after ``seconds`` of its own (status finished, diverged or failed)."""
        group, c = self.pending.pop(run_id, (None, 0.0))
        self.finished.append((group, c, float(seconds)))
        self.failed += status == "failed"
        self.diverged += status == "diverged"
        if not self.enabled:
            return
        now = self.clock()
        last = len(self.finished) >= self.total
        if self.bar is not None:
            self.bar.n = 100.0 * self.fraction()
            self.bar.set_description_str(self.status(now), refresh=True)
        elif last or self.printed_at is None or now - self.printed_at >= self.every:
            print(self.status(now), file=sys.stderr, flush=True)
            self.printed_at = now

    def unplanned(self) -> int:
        return max(self.total - len(self.finished) - len(self.pending), 0)

    def eta(self) -> float:
        """:func:`eta` of the runs left."""
        return eta(self.finished, self.pending.values(), self.workers, self.unplanned())

    def fraction(self) -> float:
        """Share of the estimated work done: finished run-seconds over those plus the predicted rest."""
        done = sum(s for _, _, s in self.finished)
        rest = sum(_predicted(self.finished, list(self.pending.values()), self.unplanned()))
        return done / (done + rest) if done + rest > 0 else float("nan")

    def status(self, now: float | None = None) -> str:
        """The current plain line (:func:`line`)."""
        now = self.clock() if now is None else now
        return line(self.name, len(self.finished), self.total, self.fraction(), now - self.t0, self.eta(),
                    self.failed, self.diverged)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
