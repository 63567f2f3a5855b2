"""What the commands share: ``key=value`` options and the one-line result of a run."""

from __future__ import annotations

import ast

from sim.errors import ValidationError

__all__ = ["parse_set", "plain", "result_line"]


def parse_set(items: list[str], flag: str = "--set") -> dict:
    """``key=value`` pairs of option ``flag``; values are Python literals (``(100, 100)``, ``1e-3``) or strings.

    Raises
    ------
    ValidationError
        ``flag`` for an item without ``=`` or with an empty key.
    """
    params = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(flag, item, "must look like key=value")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        params[key.strip()] = value
    return params


def plain(params: dict) -> dict:
    """``params`` with every value that is not a JSON scalar replaced by its ``repr``."""
    return {k: v if isinstance(v, (int, float, str, bool, type(None))) else repr(v) for k, v in params.items()}


def result_line(result: dict) -> str:
    """The human-readable line of a run result (the dict ``neurocompare run --json`` prints)."""
    status = f"DIVERGED ({result['diverged_reason']})" if result["diverged"] else "ok"
    return (f"{result['model']} on {result['task']} (seed {result['seed']}, {result['epochs']} epochs, "
            f"{result['seconds']:.2f} s training): train {result['train_accuracy']:.4f}, "
            f"validation {result['val_accuracy']:.4f}, test {result['test_accuracy']:.4f} [{status}]")
