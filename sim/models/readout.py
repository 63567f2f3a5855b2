"""The readout-only control: the Hebbian network's delta-rule readout on the raw inputs."""

from __future__ import annotations

from sim.models.hebbian import HebbianNet

__all__ = ["LinearReadout"]


class LinearReadout(HebbianNet):
    """The readout-only control: the same delta-rule readout on the raw inputs (no hidden layer).

    Parameters are those of `HebbianNet`'s readout; the hidden layer is absent (``hidden=0``,
    ``rule='none'``). `get_params` shows only these; the other `HebbianNet` attributes keep
    their defaults.
    """

    model_name = "readout"

    def __init__(self, readout_scaling="none", readout_optimizer="adam", readout_lr=1e-3,
                 readout_decay=0.0, lr_schedule="constant", batch_size=100, early_stopping=False,
                 n_iter_no_change=10, tol=1e-4, eval_every=1, dtype="float32", seed=0):
        super().__init__(hidden=0, rule="none", readout_scaling=readout_scaling,
                         readout_optimizer=readout_optimizer, readout_lr=readout_lr,
                         readout_decay=readout_decay, lr_schedule=lr_schedule, batch_size=batch_size,
                         early_stopping=early_stopping, n_iter_no_change=n_iter_no_change, tol=tol,
                         eval_every=eval_every, dtype=dtype, seed=seed)
