"""Learning rules as small objects: ``delta(pre, post, W, error) -> dW``; none writes weights."""

from .base import Rule
from .error_driven import Backprop, Delta, FeedbackAlignment

__all__ = ["Rule", "Delta", "Backprop", "FeedbackAlignment"]
