"""The one error type of neurocompare."""

from __future__ import annotations

__all__ = ["ValidationError"]


class ValidationError(ValueError):
    """A parameter or input was refused.

    The message always names the parameter and shows the offending value, e.g.
    ``invalid lr=-0.1: must be > 0``.

    Parameters
    ----------
    parameter : str
        Name of the refused parameter (as the user spelled it).
    value : object
        The refused value; large arrays are summarised by shape and dtype.
    requirement : str
        What the value must satisfy.
    """

    def __init__(self, parameter: str, value: object, requirement: str):
        self.parameter = parameter
        self.value = value
        self.requirement = requirement
        super().__init__(f"invalid {parameter}={_show(value)}: {requirement}")


def _show(value: object) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and getattr(value, "size", 0) > 6:
        return f"<array shape={tuple(shape)} dtype={getattr(value, 'dtype', '?')}>"
    text = " ".join(repr(value).split())  # one line, even for small arrays
    return text if len(text) <= 80 else text[:77] + "..."
