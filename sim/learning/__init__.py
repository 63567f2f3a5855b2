"""How weights change: learning rules (local and error-driven) and optimizers with schedules."""

from sim.learning import optimizers, rules

__all__ = ["optimizers", "rules"]
