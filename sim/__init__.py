"""neurocompare: one neuron-and-connection substrate, two ways to learn."""

from .errors import ValidationError
from . import neurons

__version__ = "0.1.0"
__all__ = ["ValidationError", "neurons", "__version__"]
