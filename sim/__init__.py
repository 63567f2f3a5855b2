"""neurocompare: one neuron-and-connection substrate, two ways to learn.

The public API: the substrate (`neurons`, `dynamics`, `kwta`, `implicit`, `features`,
`connections`, `network`, all in `sim.substrate`), learning (`rules`, `optimizers`, in
`sim.learning`), the two networks and the controls (`BackpropMLP`, `HebbianNet`,
`LinearReadout`, in `sim.models`, scikit-learn estimators; `describe` names a configuration by
what it is; Keras-like callbacks in `sim.models.callbacks`), the tasks
(`tasks`, `Task`), named configurations (`presets`), studies (`study`) and the shared `History`
and `ValidationError`.
"""

from sim import models, tasks
from sim.errors import ValidationError
from sim.learning import optimizers, rules
from sim.models import BackpropMLP, HebbianNet, LinearReadout, describe, presets
from sim.models.history import History
from sim.substrate import connections, dynamics, features, implicit, kwta, network, neurons
from sim.tasks import Task
from sim.version import __version__

__all__ = ["ValidationError", "History", "Task", "BackpropMLP", "HebbianNet", "LinearReadout", "describe",
           "connections", "dynamics", "features", "implicit", "kwta", "models", "network", "neurons", "optimizers",
           "presets", "rules", "tasks", "__version__"]
