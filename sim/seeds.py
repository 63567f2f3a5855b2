"""Every seed derivation of neurocompare, in one place.

All randomness flows from integer seeds through `numpy.random.SeedSequence`, never through
numpy's or Python's global generators, so a run's numbers depend only on its seeds, whatever
the process, the worker count or the backend. The streams:

===============================  ==============================================  =====================
generator                        derivation                                      feeds
===============================  ==============================================  =====================
:func:`model_seed`               ``SeedSequence([root_seed, i]).generate_state``  a study's model seed
                                 ``(1)[0]``                                      for seed index ``i``
:func:`model_streams` ``init``   ``SeedSequence(seed).spawn(2)[0]``              initial weights (and
                                                                                 fixed feedback)
:func:`model_streams` ``order``  ``SeedSequence(seed).spawn(2)[1]``              minibatch order
:func:`split_rng`                ``SeedSequence(seed).spawn(3)[2]``              the validation split a
                                                                                 model carves from
                                                                                 array input
:func:`task_streams`             ``SeedSequence([seed, crc32(name)]).spawn(2)``  a task's (train, test)
                                                                                 draws and its split
:func:`validation_rng`           ``SeedSequence([seed, crc32(name)]).spawn(3)``  the validation split
                                 ``[2]``                                         carved from train
:func:`eval_rng`                 ``SeedSequence([root_seed, i, EVAL_STREAM,``    noisy / occluded test
                                 ``crc32(what), round(level * 1e6)])``           copies of a study
:func:`subsample_rng`            ``SeedSequence([root_seed, i,``                 nested training
                                 ``SUBSAMPLE_STREAM])``                          subsets of a study
:func:`tuning_seed`              ``SeedSequence([root_seed, TUNING_STREAM,``     the TPE sampler of one
                                 ``crc32(model), crc32(task)])``                 (model, task) of a
                                 ``.generate_state(1)[0]``                       study's tuning stage
===============================  ==============================================  =====================

The evaluation and subsample streams depend on the seed index, not on the model, so every model
of a seed index sees the same noisy test copies and the same training subsets. A tuning trial is
an ordinary run of seed index ``i`` (its data split and model seed are those of index ``i``); only
the proposals of its sampler come from :func:`tuning_seed`, one per (model, task) pair, so adding
a model or a task to a study leaves the other pairs' trials unchanged.
"""

from __future__ import annotations

import zlib

import numpy as np

from sim.validation import check_int

__all__ = ["model_seed", "model_streams", "split_rng", "task_streams", "validation_rng", "eval_rng", "subsample_rng",
           "tuning_seed", "EVAL_STREAM", "SUBSAMPLE_STREAM", "TUNING_STREAM"]

EVAL_STREAM = 1       # SeedSequence([root_seed, i, EVAL_STREAM, ...]): noisy / occluded test copies
SUBSAMPLE_STREAM = 2  # SeedSequence([root_seed, i, SUBSAMPLE_STREAM]): nested train subsets
TUNING_STREAM = 3     # SeedSequence([root_seed, TUNING_STREAM, crc32(model), crc32(task)]): samplers


def model_seed(root_seed: int, index: int) -> int:
    """The model seed of seed index ``index``: ``SeedSequence([root_seed, index])``'s first word."""
    return int(np.random.SeedSequence([root_seed, index]).generate_state(1)[0])


def model_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators of one model: ``init`` (weights) and ``order`` (data order).

    The children of ``SeedSequence(seed)`` never overlap, and a child depends only on its index,
    so adding a stream later leaves these two unchanged.
    """
    init, order = np.random.SeedSequence(check_int("seed", seed, low=0)).spawn(2)
    return {"init": np.random.default_rng(init), "order": np.random.default_rng(order)}


def split_rng(seed: int) -> np.random.Generator:
    """Generator of the validation split a model with seed ``seed`` carves from array input
    (``fit(X, y)``): the third child of ``SeedSequence(seed)``, so the two of
    :func:`model_streams` are unchanged by it."""
    return np.random.default_rng(np.random.SeedSequence(check_int("seed", seed, low=0)).spawn(3)[2])


def task_streams(seed: int, key: str) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent (train, test) generators of task ``key`` (its registry name) for ``seed``."""
    ss = np.random.SeedSequence([seed, zlib.crc32(key.encode())])
    return tuple(np.random.default_rng(s) for s in ss.spawn(2))


def validation_rng(seed: int, key: str) -> np.random.Generator:
    """Generator of the validation split of task ``key`` for ``seed``: the third child of the
    task's sequence, so the train and test draws of :func:`task_streams` are unchanged by it."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(key.encode())]).spawn(3)[2])


def eval_rng(spec: dict, what: str, level: float) -> np.random.Generator:
    """Generator of the ``what`` ('noise', 'occlusion') test copy at ``level`` for a run spec:
    the same for every model of a seed index."""
    key = [spec["root_seed"], spec["seed"], EVAL_STREAM, zlib.crc32(what.encode()),
           int(round(level * 1e6))]
    return np.random.default_rng(np.random.SeedSequence(key))


def subsample_rng(spec: dict) -> np.random.Generator:
    """Generator of the nested training subsets of a run spec's seed index (same for every model
    and every subset size)."""
    return np.random.default_rng(np.random.SeedSequence([spec["root_seed"], spec["seed"], SUBSAMPLE_STREAM]))



def tuning_seed(root_seed: int, model: str, task: str) -> int:
    """Seed of the TPE sampler that tunes study model ``model`` on study task ``task`` (labels):
    the first 32-bit word of ``SeedSequence([root_seed, TUNING_STREAM, crc32(model), crc32(task)])``."""
    key = [check_int("root_seed", root_seed, low=0), TUNING_STREAM, zlib.crc32(model.encode()),
           zlib.crc32(task.encode())]
    return int(np.random.SeedSequence(key).generate_state(1)[0])
