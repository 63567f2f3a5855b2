"""neurocompare: one neuron-and-connection substrate, two ways to learn.

The public API: the substrate (`neurons`, `dynamics`, `kwta`, `connections`, `network`, all in
`sim.substrate`), learning (`rules`, `optimizers`, in `sim.learning`), the two networks and the
controls (`BackpropMLP`, `HebbianNet`, `LinearReadout`, in `sim.models`), the tasks (`tasks`,
`Task`), named configurations (`presets`), studies (`study`) and the shared `History` and
`ValidationError`.
"""

__version__ = "0.1.0"

from sim.errors import ValidationError
from sim.substrate import connections, dynamics, kwta, network, neurons
from sim.learning import optimizers, rules
from sim import models, tasks
from sim.models import presets
from sim.models.history import History
from sim.models import BackpropMLP, HebbianNet, LinearReadout
from sim.tasks import Task

__all__ = ["ValidationError", "History", "Task", "BackpropMLP", "HebbianNet", "LinearReadout",
           "connections", "dynamics", "kwta", "models", "network", "neurons", "optimizers",
           "presets", "rules", "tasks", "__version__"]
