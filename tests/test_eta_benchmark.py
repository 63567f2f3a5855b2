"""benchmarks/eta.py: its parsing of the plain progress lines and its comparison, by hand."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import eta  # noqa: E402


def test_eta_benchmark_parses_lines_and_compares_by_hand():
    lines = [(1.0, "q: 1/4 runs, 40% of the estimated work, 1.0 s elapsed, ETA 6.0 s\n"),
             (2.0, "q: 2/4 runs, 60% of the estimated work, 2.0 s elapsed, ETA 1:05 (1 failed)\n"),
             (3.5, "other output\n"),
             (5.0, "q: 4/4 runs, 100% of the estimated work, 5.0 s elapsed, ETA 0.0 s\n")]
    rows = eta.parse(lines)
    assert [(r["done"], r["eta"]) for r in rows] == [(1, 6.0), (2, 65.0), (4, 0.0)]
    first = eta.compare(rows, fractions=(0.25,))[0]
    # at 1/4: 4 s left; ETA 6 s -> 1.5; run count: 1 s x 3 left / 1 done = 3 s -> 0.75
    assert (first["true_left"], first["ratio"], first["count_ratio"]) == (4.0, 1.5, 0.75)
    assert eta.seconds("1:02:05") == 3725 and eta.seconds("?") != eta.seconds("?")  # NaN
