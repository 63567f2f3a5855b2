"""The model presets and their registry: ``make(name, **params)``, ``load(path)``."""

from __future__ import annotations

from sim.errors import ValidationError
from sim.models.callbacks import Callback, EarlyStopping, ModelCheckpoint
from sim.models.encoders import BackpropAutoencoder, HebbianEncoder
from sim.models.hebbian import HebbianNet
from sim.models.labels import axes, describe
from sim.models.mlp import BackpropMLP
from sim.models.persistence import load_model
from sim.models.readout import LinearReadout
from sim.validation import check_choice

__all__ = ["BackpropAutoencoder", "BackpropMLP", "HebbianEncoder", "HebbianNet", "LinearReadout", "Callback",
           "EarlyStopping", "ModelCheckpoint", "axes", "describe", "load", "make", "names", "REGISTRY"]

REGISTRY = {"backprop": BackpropMLP, "hebbian": HebbianNet, "readout": LinearReadout}


def load(path):
    """Read a model saved with ``model.save(path)`` (`sim.models.persistence.load_model`, with the
    registry's classes as the only ones a file may name)."""
    return load_model(path, REGISTRY)


def names() -> list[str]:
    """Model names accepted by :func:`make` (and ``neurocompare run --model``)."""
    return sorted(REGISTRY)


def make(name: str, /, **params):  # positional-only: a parameter called "name" is refused, not a TypeError
    """Build the model called ``name`` with constructor ``params`` (unknown ones are refused)."""
    cls = REGISTRY[check_choice("model", name, REGISTRY)]
    valid = cls.param_names()
    for key, value in params.items():
        if key not in valid:
            raise ValidationError(key, value, f"unknown parameter of {cls.__name__}; valid: {', '.join(valid)}")
    return cls(**params)
