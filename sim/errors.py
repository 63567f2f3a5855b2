"""The one error type of neurocompare."""

from __future__ import annotations

__all__ = ["ValidationError", "show_name"]


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
        super().__init__(f"invalid {show_name(parameter)}={_show(value)}: {requirement}")


def show_name(parameter) -> str:
    """The parameter as a message shows it: as it is, or quoted if it is empty or holds a line break or
    another unprintable character (a TOML key may), so that the message stays one readable line."""
    return parameter if isinstance(parameter, str) and parameter and parameter.isprintable() else repr(parameter)


def _show(value: object) -> str:
    shape = getattr(value, "shape", None)
    size = getattr(value, "size", 0)
    if isinstance(shape, tuple) and isinstance(size, int) and size > 6:  # not a class's descriptors
        return f"<array shape={tuple(shape)} dtype={getattr(value, 'dtype', '?')}>"
    text = " ".join(repr(value).split())  # one line, even for small arrays
    return text if len(text) <= 80 else text[:77] + "..."
