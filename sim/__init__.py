"""neurocompare: one neuron-and-connection substrate, two ways to learn.

The public API: the substrate (`neurons`, `dynamics`, `connections`, `network`), learning
(`rules`, `optimizers`), the two networks and the control (`BackpropMLP`, `HebbianNet`,
`LinearReadout`, all in `models`), the tasks (`tasks`, `Task`), named configurations
(`presets`) and the shared `History` and `ValidationError`.
"""

from . import connections, dynamics, kwta, models, network, neurons, optimizers, presets, rules, tasks
from .errors import ValidationError
from .history import History
from .models import BackpropMLP, HebbianNet, LinearReadout
from .tasks import Task

__version__ = "0.1.0"
__all__ = ["ValidationError", "History", "Task", "BackpropMLP", "HebbianNet", "LinearReadout",
           "connections", "dynamics", "kwta", "models", "network", "neurons", "optimizers",
           "presets", "rules", "tasks", "__version__"]
