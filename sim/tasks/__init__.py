"""Task registry: the same data and train/test split for every model.

A :class:`Task` holds ``X_train (n_train, d)`` float64, ``y_train (n_train,)`` int64 in
``0..n_classes-1``, the test split likewise, and ``meta`` (``description``, ``params`` incl.
``seed``, ``image_shape``, ``scaling``). Get one with :func:`load` (registered tasks, see
:func:`names` / :func:`table`), :func:`from_arrays` or :func:`idx` (MNIST IDX files).

Reproducibility: every random draw comes from a `numpy.random.Generator` seeded by
``SeedSequence([seed, crc32(task name)])`` (train and test get independent child streams);
numpy's and Python's global RNGs are never used, and are restored after mnist1d (which seeds
them). The same arguments give identical arrays. Scaling is always fitted on the training
split only. Task arrays are read-only copies so one task can be shared safely between models.

Per-sample metadata follows one convention: a ``meta`` entry whose key ends in ``_train`` /
``_test`` and whose first axis has ``n_train`` / ``n_test`` rows (e.g. ``bars_train``,
``index_test``) is indexed along with the samples by :func:`subsample` and :func:`class_subset`.

The transforms (:func:`add_noise`, :func:`occlude`, :func:`label_noise`, :func:`subsample`,
:func:`class_subset`) are pure: they return new arrays / tasks and draw only from the
Generator they are given.
"""

from sim.tasks.registry import load, names, table
from sim.tasks.task import Task
from sim.tasks.transforms import add_noise, class_subset, label_noise, occlude, subsample
from sim.tasks.user_data import file_hash, from_arrays, from_file, idx

__all__ = ["Task", "names", "load", "from_arrays", "from_file", "file_hash", "idx", "table",
           "add_noise", "occlude", "label_noise", "subsample", "class_subset"]
