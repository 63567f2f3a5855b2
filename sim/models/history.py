"""Per-epoch training record shared by every model."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["History"]

# per-epoch columns every model records; models may add their own (e.g. sparsity)
BASE_FIELDS = ("epoch", "samples_seen", "seconds", "train_loss", "train_accuracy", "val_loss",
               "val_accuracy", "test_loss", "test_accuracy", "weight_norm", "update_norm")
TIME_FIELDS = ("seconds",)


@dataclass
class History:
    """What happened during training, one entry per epoch.

    Attributes
    ----------
    records : list of dict
        One dict per finished epoch with at least ``epoch`` (1-based), ``samples_seen`` (training
        presentations so far), ``seconds`` (cumulative wall-clock training time, s, excluding
        evaluation), ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy`` (NaN
        without a validation split), ``test_loss``, ``test_accuracy`` (accuracies as fractions
        in [0, 1], losses in nats for cross-entropy; the test metrics are recorded for the
        learning curves and never shown to a callback),
        ``weight_norm`` and ``update_norm`` (Frobenius norm per connection, list, of the weights
        after the epoch and of their change during it). Models may add fields.
    diverged : bool
        True when training stopped because the loss or the weights became non-finite or
        exceeded the model's bound.
    diverged_reason : str
        Why, when diverged.
    best_epoch : int or None
        With early stopping: the epoch of the best validation accuracy, whose weights the model
        kept (the records after it show the epochs that followed).
    stopped_early : bool
        True when early stopping ended training before the requested epochs.
    meta : dict
        Model name, task name, seed and anything else a model wants to keep.
    """

    records: list = field(default_factory=list)
    diverged: bool = False
    diverged_reason: str = ""
    meta: dict = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_early: bool = False

    def append(self, **record) -> None:
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: str) -> list:
        """Column ``key`` over epochs, e.g. ``history["test_accuracy"]``."""
        return [r.get(key) for r in self.records]

    @property
    def epochs(self) -> int:
        return len(self.records)

    @property
    def history(self) -> dict:
        """Keras's ``History.history``: one list per recorded field (every field of any record, in
        the order first seen), one entry per epoch; a field an epoch lacks is NaN there, so
        ``history[k][i] == records[i][k]`` wherever the record has ``k``."""
        keys = list(dict.fromkeys(k for r in self.records for k in r))
        return {k: [r.get(k, math.nan) for r in self.records] for k in keys}

    def to_dataframe(self):
        """The records as a `pandas.DataFrame`, one row per epoch (pandas is optional: install
        the extra, ``pip install "neurocompare[pandas]"``)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("History.to_dataframe needs pandas, an optional dependency: "
                              'pip install "neurocompare[pandas]" (or pip install pandas)') from None
        return pandas.DataFrame(self.history)

    def last(self, key: str, default=math.nan):
        """Value of ``key`` at the last finished epoch."""
        return self.records[-1].get(key, default) if self.records else default

    def to_dict(self) -> dict:
        """Plain, JSON-ready dict (numpy scalars and arrays turned into Python values)."""
        return {"records": _plain(self.records), "diverged": bool(self.diverged),
                "diverged_reason": self.diverged_reason, "meta": _plain(self.meta),
                "best_epoch": self.best_epoch, "stopped_early": bool(self.stopped_early)}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(records=list(d["records"]), diverged=bool(d["diverged"]),
                   diverged_reason=d.get("diverged_reason", ""), meta=dict(d.get("meta", {})),
                   best_epoch=d.get("best_epoch"), stopped_early=bool(d.get("stopped_early", False)))

    def to_json(self, **kwargs) -> str:
        # non-finite numbers are kept as JSON's NaN/Infinity extensions (Python reads them back)
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> History:
        return cls.from_dict(json.loads(text))

    def without_times(self) -> dict:
        """The dict with wall-clock fields removed: what must be identical for identical seeds."""
        d = self.to_dict()
        d["records"] = [{k: v for k, v in r.items() if k not in TIME_FIELDS} for r in d["records"]]
        return d


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    return x
