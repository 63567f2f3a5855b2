"""How good is the study's progress ETA? Runs a study through the command line with stderr piped
(no terminal: plain progress lines), timestamps every line as it arrives, and prints, at a few
points of the run count, the ETA the line showed against the true time left until the last run.

    python benchmarks/eta.py                     # the quick study into a temporary directory
    python benchmarks/eta.py STUDY.toml --workers 2

A run-count ETA (elapsed x runs left / runs done) is printed beside it for comparison: runs are
executed longest first, so it overestimates the time left early on.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time

LINE = re.compile(r": (\d+)/(\d+) runs, \S+ of the estimated work, (.+) elapsed, ETA (.+?)(?: \(|$)")


def seconds(text: str) -> float:
    """``12.3 s``, ``m:ss`` or ``h:mm:ss`` (`sim.study.progress.clock_text`) in seconds; NaN for ``?``."""
    text = text.strip()
    if text == "?":
        return float("nan")
    if text.endswith(" s"):
        return float(text[:-2])
    total = 0
    for part in text.split(":"):
        total = 60 * total + int(part)
    return float(total)


def parse(stamped) -> list[dict]:
    """``[(arrival seconds, line)]`` -> one dict per progress line: ``at``, ``done``, ``total``,
    ``elapsed``, ``eta``."""
    rows = []
    for at, text in stamped:
        m = LINE.search(text)
        if m:
            rows.append({"at": at, "done": int(m.group(1)), "total": int(m.group(2)),
                         "elapsed": seconds(m.group(3)), "eta": seconds(m.group(4))})
    return rows


def compare(rows, fractions=(0.25, 0.5, 0.75)) -> list[dict]:
    """At the first line with at least each fraction of the runs done: the ETA shown, the true time
    left (to the last run's line), their ratio and the run-count ETA's ratio."""
    out, end = [], rows[-1]["at"]
    for f in fractions:
        row = next(r for r in rows if r["done"] >= f * r["total"])
        left = end - row["at"]
        naive = row["elapsed"] * (row["total"] - row["done"]) / row["done"]
        out.append({"fraction": f, **row, "true_left": left, "ratio": row["eta"] / left if left > 0 else float("nan"),
                    "count_ratio": naive / left if left > 0 else float("nan")})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="quick", help="study TOML or built-in name (default: quick)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "sim.cli", "study", args.config, "--out", out, "--no-figures"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        stamped = [(time.perf_counter() - t0, text) for text in proc.stderr]
        if proc.wait():
            print("".join(t for _, t in stamped), file=sys.stderr)
            return proc.returncode
    for r in compare(parse(stamped)):
        print(f"{r['done']}/{r['total']} runs done ({100 * r['fraction']:.0f}%): ETA {r['eta']:.1f} s, true time "
              f"left {r['true_left']:.1f} s, ratio {r['ratio']:.2f} (run-count ETA: ratio {r['count_ratio']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
