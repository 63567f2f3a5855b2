"""Test-session settings: one BLAS / OpenMP thread per process.

On a 2-core machine, two-thread OpenBLAS at these matrix sizes is never faster and can be far
slower: with two threads the suite took 11 min and one mnist1d MLP test 199 s; with one thread
that test takes 6 s. Study workers already run with one thread each (threadpoolctl)."""

import os

from threadpoolctl import threadpool_limits

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # subprocesses started by tests (the CLI, study workers)

_LIMIT = threadpool_limits(1)  # this process, for the whole session
