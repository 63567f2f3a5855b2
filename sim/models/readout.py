"""The readout-only control: the Hebbian network's delta-rule readout on the raw inputs."""

from __future__ import annotations

import inspect

from sim.models.hebbian import HebbianNet

__all__ = ["LinearReadout"]


class LinearReadout(HebbianNet):
    """The readout-only control: the same delta-rule readout on the raw inputs (no hidden layer).

    Parameters are those of `HebbianNet`'s readout and training loop; the hidden layer is absent
    (``hidden=0``, ``rule='none'``). `get_params` shows only these; the other `HebbianNet`
    parameters are class attributes holding their fixed values (so ``__init__`` stores its own
    arguments and nothing else, as scikit-learn requires).
    """

    model_name = "readout"

    def __init__(self, readout_scaling="none", readout_optimizer="adam", readout_lr=1e-3,
                 readout_decay=0.0, lr_schedule="constant", batch_size=100, early_stopping=False,
                 validation_fraction=None, n_iter_no_change=10, tol=1e-4, eval_every=1, epochs=10,
                 warm_start=False, verbose=0, dtype="float32", seed=0):
        self.readout_scaling = readout_scaling
        self.readout_optimizer = readout_optimizer
        self.readout_lr = readout_lr
        self.readout_decay = readout_decay
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.eval_every = eval_every
        self.epochs = epochs
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.seed = seed


# the HebbianNet parameters LinearReadout does not take: fixed, as class attributes
_OWN = set(inspect.signature(LinearReadout.__init__).parameters)
for _name, _param in inspect.signature(HebbianNet.__init__).parameters.items():
    if _name not in _OWN:
        setattr(LinearReadout, _name, {"hidden": 0, "rule": "none"}.get(_name, _param.default))
