"""Study progress: the run cost model, the calibrated ETA (hand-worked numbers) and the plain lines
printed when stderr is not a terminal."""

import math
import re
import tomllib

import pytest
from study_helpers import TINY, _write

from sim.study import config
from sim.study.backends import run_study
from sim.study.progress import RUN_OVERHEAD, Progress, clock_text, cost, eta, line, rates


def test_cost_of_a_run_by_hand():
    study = config.parse(tomllib.loads(TINY))
    spec = next(s for s in study.runs() if s["task"] == "moons" and s["model"] == "mlp")
    # moons: 80 training (100 minus the 20% validation), 100 test samples, 3 epochs, hidden [8];
    # 2 noise + 1 occlusion levels x 100 test samples; the 200 x 200 decision grid
    assert cost(spec, study) == (3 * (80 + 100) + 3 * 100 + 200 ** 2) * (8 + 10) + RUN_OVERHEAD
    seq = next(s for s in study.runs() if s["kind"] == "sequential" and s["model"] == "mlp")
    sub = next(s for s in study.runs() if s["kind"] == "subsample" and s["model"] == "mlp"
               and s["condition"]["train_per_class"] == 5)
    n_train = study.tasks["digits"]["n_train"]
    assert cost(seq, study) == 2 * 2 * (n_train + 360) * 18 + RUN_OVERHEAD  # 2 epochs, twice; no evaluation
    assert cost(sub, study) == (3 * (5 * 10 + 360) + 3 * 360) * 18 + RUN_OVERHEAD


FINISHED = [("mlp", 100.0, 2.0), ("heb", 200.0, 8.0)]  # rates: mlp 0.02 s/unit, heb 0.04, pooled 10/300
PENDING = [("mlp", 50.0), ("heb", 100.0), ("readout", 60.0)]  # predicted 1.0, 4.0 and 60/30 = 2.0 s


def test_rates_by_group_and_pooled():
    by_group, pooled = rates(FINISHED)
    assert by_group == pytest.approx({"mlp": 0.02, "heb": 0.04}) and pooled == pytest.approx(1 / 30)
    assert math.isnan(rates([])[1])


@pytest.mark.parametrize("pending,workers,unplanned,expected", [
    (PENDING, 1, 0, 7.0),                       # 1 + 4 + 2
    (PENDING, 2, 0, 4.0),                       # 7 / 2 = 3.5, but the 4 s run alone takes 4
    (PENDING + [("mlp", 150.0)], 2, 0, 5.0),    # (7 + 3) / 2
    (PENDING, 1, 2, 13.8),                      # + 2 x the mean run (1 + 4 + 2 + 2 + 8) / 5 = 3.4
    (PENDING[:1], 4, 0, 1.0),                   # one run left: at most one worker busy
    ([], 2, 0, 0.0),
])
def test_eta_hand_worked(pending, workers, unplanned, expected):
    assert eta(FINISHED, pending, workers, unplanned) == pytest.approx(expected)


def test_eta_is_unknown_before_any_run_finished():
    assert math.isnan(eta([], PENDING, 2))


def test_clock_text_and_line():
    assert [clock_text(x) for x in (12.34, 75, 3725, float("nan"))] == ["12.3 s", "1:15", "1:02:05", "?"]
    assert (line("s", 3, 10, 0.25, 80.0, 240.0, failed=1) ==
            "s: 3/10 runs, 25% of the estimated work, 1:20 elapsed, ETA 4:00 (1 failed)")


def _scripted(times):
    it = iter(times)
    return lambda: next(it)


def test_plain_lines_of_a_scripted_sequence(capsys):
    p = Progress("tiny", 4, workers=1, tty=False, clock=_scripted([0.0, 2.5, 4.0, 6.3]))
    p.skip(1)  # one run already stored: 3 to go
    p.plan([("a", "mlp", 100.0), ("b", "mlp", 100.0), ("c", "heb", 50.0)])
    p.done("a", 2.0)                # mlp 0.02 s/unit -> b 2.0 s, c (pooled) 1.0 s; 2 of 5 s done
    p.done("c", 1.5, "failed")      # b 2.0 s left; 3.5 of 5.5 s done
    p.done("b", 2.2)
    assert capsys.readouterr().err.splitlines() == [
        "tiny: 1/3 runs, 40% of the estimated work, 2.5 s elapsed, ETA 3.0 s",
        "tiny: 2/3 runs, 64% of the estimated work, 4.0 s elapsed, ETA 2.0 s (1 failed)",
        "tiny: 3/3 runs, 100% of the estimated work, 6.3 s elapsed, ETA 0.0 s (1 failed)"]


def test_lines_at_most_every_n_seconds_and_always_the_last(capsys):
    p = Progress("s", 4, tty=False, every=10.0, clock=_scripted([0.0, 1.0, 5.0, 12.0, 13.0]))
    p.plan([(str(i), "m", 1.0) for i in range(4)])
    for i in range(4):
        p.done(str(i), 1.0)
    assert [x.split(",")[0] for x in capsys.readouterr().err.splitlines()] == ["s: 1/4 runs", "s: 3/4 runs",
                                                                               "s: 4/4 runs"]


def test_disabled_progress_prints_nothing(capsys):
    p = Progress("s", 2, enabled=False, tty=False)
    p.plan([("a", "m", 1.0)])
    p.done("a", 1.0)
    assert capsys.readouterr().err == "" and p.bar is None


def test_the_terminal_bar_is_weighted_by_cost():
    p = Progress("s", 2, tty=True, clock=_scripted([0.0, 1.0]))
    p.plan([("a", "m", 300.0), ("b", "m", 100.0)])
    p.done("a", 3.0)  # 3 of the predicted 3 + 1 s: 75% although 1 of 2 runs
    assert p.bar.n == pytest.approx(75.0)
    p.close()


def test_a_study_without_a_terminal_prints_one_line_per_run(tmp_path, capsys):
    summary = run_study(_write(tmp_path), tmp_path / "out", workers=1, progress=True)
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("tiny: ")]
    n = summary["total"]
    assert len(lines) == n
    pattern = re.compile(r"^tiny: (\d+)/(\d+) runs, (\d+)% of the estimated work, .+ elapsed, ETA .+$")
    done = [int(pattern.match(x).group(1)) for x in lines]
    assert done == list(range(1, n + 1)) and all(pattern.match(x).group(2) == str(n) for x in lines)
    assert lines[-1].endswith("100% of the estimated work, " + lines[-1].split("work, ")[1].split(" elapsed")[0]
                              + " elapsed, ETA 0.0 s")
    run_study(_write(tmp_path), tmp_path / "out", workers=1, progress=True)  # everything stored: no lines
    assert not [x for x in capsys.readouterr().err.splitlines() if x.startswith("tiny: ")]
