"""Early stopping on the validation split, with scikit-learn's rule and names.

After every eligible epoch the validation accuracy ``s`` is compared with the best so far: if
``s > best + tol`` the count of epochs without improvement is reset, otherwise it grows; when it
reaches ``n_iter_no_change`` training stops. The model's state at the best validation accuracy
(any ``s > best``, the earliest of ties) is kept and restored at the end, as
``sklearn.neural_network.MLPClassifier(early_stopping=True)`` does. Only validation metrics
enter: the test split never decides.

Evaluation cadence (``eval_every``, every model): the train / validation / test metrics and a
model's code statistics are computed every ``eval_every`` epochs and at the last epoch of each
``fit`` / ``partial_fit`` call (0: only then); other epochs record NaN metrics. Early stopping
counts evaluated epochs only, so ``n_iter_no_change`` is then a number of evaluations.
"""

from __future__ import annotations

import math

import numpy as np

from sim.constraints import Int, Optional, Real, Satisfies
from sim.validation import check_bool, check_int

__all__ = ["EarlyStopping", "EARLY_STOPPING_CONSTRAINTS", "TASK_NEUTRAL_PARAMS", "check_verbose"]

# the constraint-table entries of the training-loop parameters every model has: evaluation,
# early stopping, the validation share of array input, epochs, warm start and verbosity
EARLY_STOPPING_CONSTRAINTS = {"early_stopping": Satisfies(check_bool),
                              "validation_fraction": Optional(Real(low=0.0, high=1.0, high_open=True)),
                              "n_iter_no_change": Int(low=1), "tol": Real(low=0.0), "eval_every": Int(low=0),
                              "epochs": Int(low=1), "warm_start": Satisfies(check_bool),
                              "verbose": Satisfies(lambda name, value: check_verbose(name, value))}


#: training-loop parameters that leave a run on a Task as it is when a caller gives ``epochs``
#: (``validation_fraction`` applies to array input only, ``verbose`` prints): a study leaves
#: them out of its run specs unless it sets them, so run ids are those from before they existed
TASK_NEUTRAL_PARAMS = ("validation_fraction", "epochs", "warm_start", "verbose")


def check_verbose(name: str, value) -> int:
    """``verbose`` as an int: 0 (or False) silent, 1 (or True) one line per epoch."""
    return int(value) if isinstance(value, (bool, np.bool_)) else check_int(name, value, low=0)


class EarlyStopping:
    """Tracks the validation accuracy of one run.

    Parameters
    ----------
    n_iter_no_change : int >= 1
        Eligible epochs without an improvement of more than ``tol`` before stopping.
    tol : float >= 0
        Minimum improvement of the validation accuracy (a fraction) that resets the count.

    Attributes
    ----------
    best_score : float
        Best validation accuracy so far (-inf before the first eligible epoch).
    best_epoch : int or None
        Epoch (1-based) of ``best_score``.
    best_state : dict or None
        Copies of the model's arrays at ``best_epoch``.
    """

    def __init__(self, n_iter_no_change: int, tol: float):
        self.n_iter_no_change = int(n_iter_no_change)
        self.tol = float(tol)
        self.best_score = -math.inf
        self.best_epoch = None
        self.best_state = None
        self.no_improvement = 0

    def update(self, epoch: int, score: float, state) -> bool:
        """Record validation accuracy ``score`` of ``epoch``; ``state()`` gives the model's arrays
        (called only at a new best). Returns True when training should stop."""
        if math.isfinite(score) and score > self.best_score + self.tol:
            self.no_improvement = 0
        else:
            self.no_improvement += 1
        if math.isfinite(score) and score > self.best_score:
            self.best_score, self.best_epoch = float(score), int(epoch)
            self.best_state = {k: np.array(v, copy=True) for k, v in state().items()}
        return self.no_improvement >= self.n_iter_no_change
