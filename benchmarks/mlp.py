"""Throughput of BackpropMLP against scikit-learn's MLPClassifier on digits, same process.

Same data (digits, split seed 0), same architecture (ReLU hidden layers, softmax output), Adam
with learning rate 1e-3, batch 32, 30 epochs, no L2. Runs alternate between the two libraries
so that both see the same machine state; BLAS is limited to one thread. Prints accuracies
(mean over repeats) and the ratio of training throughput (samples per second, ours / peer).

    python benchmarks/mlp.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from sim import tasks
from sim.models.mlp import BackpropMLP


def _ours(task, hidden, seed, dtype):
    model = BackpropMLP(hidden=hidden, lr=1e-3, batch_size=32, dtype=dtype, seed=seed)
    history = model.fit(task, epochs=30)
    return history.last("test_accuracy"), history.last("seconds")


def _sklearn(task, hidden, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    peer = MLPClassifier(hidden, solver="adam", learning_rate_init=1e-3, batch_size=32, max_iter=30,
                         alpha=0.0, random_state=seed, n_iter_no_change=10**6, tol=0.0, shuffle=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        peer.fit(task.X_train, task.y_train)
        seconds = time.perf_counter() - t0
    return peer.score(task.X_test, task.y_test), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per library and architecture")
    args = parser.parse_args(argv)
    task = tasks.load("digits", seed=0)
    samples = 30 * task.n_train
    print(f"digits: {task.n_train} train / {task.n_test} test, 30 epochs, batch 32, Adam 1e-3, 1 BLAS thread")
    with threadpool_limits(limits=1):
        for hidden in [(128,), (256, 128)]:
            for dtype in ("float32", "float64"):
                acc = {"ours": [], "sklearn": []}
                secs = {"ours": [], "sklearn": []}
                for seed in range(args.repeats):
                    for name in ("ours", "sklearn"):  # alternate
                        a, s = _ours(task, hidden, seed, dtype) if name == "ours" else _sklearn(task, hidden, seed)
                        acc[name].append(a)
                        secs[name].append(s)
                rate = {k: samples / np.median(v) for k, v in secs.items()}
                arch = "-".join(map(str, (64, *hidden, 10)))
                print(f"{arch:>14} {dtype}: ours {rate['ours'] / 1e3:7.1f}k samples/s, "
                      f"acc {np.mean(acc['ours']):.4f} | scikit-learn (float64) {rate['sklearn'] / 1e3:7.1f}k "
                      f"samples/s, acc {np.mean(acc['sklearn']):.4f} | "
                      f"ratio {rate['ours'] / rate['sklearn']:.2f}x")


if __name__ == "__main__":
    main()
