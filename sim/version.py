"""The package version, with one source: ``version`` in pyproject.toml.

Read from the installed distribution's metadata (written from pyproject.toml), else, in a bare
checkout, from the pyproject.toml next to the package, else "0+unknown". Run ids hash it.
"""

import importlib.metadata as _metadata
import tomllib as _tomllib
from pathlib import Path as _Path

__all__ = ["__version__"]

try:
    __version__ = _metadata.version("neurocompare")
except _metadata.PackageNotFoundError:
    try:
        _project = _tomllib.loads((_Path(__file__).resolve().parent.parent / "pyproject.toml")
                                  .read_text(encoding="utf-8"))["project"]
        __version__ = str(_project["version"]) if _project.get("name") == "neurocompare" else "0+unknown"
    except (OSError, UnicodeDecodeError, KeyError, TypeError, AttributeError, _tomllib.TOMLDecodeError):
        __version__ = "0+unknown"
