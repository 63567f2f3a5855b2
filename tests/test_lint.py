"""Lint and packaging checks, so that the README's ``python -m pytest -q`` covers them too.

* ``ruff check`` (configured in ``[tool.ruff]`` of pyproject.toml) is clean over the tree.
* pyproject.toml is the one version source: ``sim.__version__`` equals its ``version``, from
  the installed metadata or, in a bare checkout, from the file itself.
"""

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
LINTED = ("sim", "analyses", "tests", "benchmarks")


def pyproject_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def test_ruff_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed: pip install '.[test]' installs it")
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--no-fix",
                           "--output-format", "concise", *LINTED], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"ruff check {' '.join(LINTED)} failed:\n{proc.stdout}{proc.stderr}"


def test_version_comes_from_pyproject():
    assert sim.__version__ == pyproject_version()
    assert pyproject_version() not in (ROOT / "sim" / "__init__.py").read_text(encoding="utf-8"), (
        "sim/__init__.py must not repeat the version literally: pyproject.toml is the one source")


def test_version_falls_back_to_pyproject_without_the_distribution():
    """As in a bare checkout: no installed metadata, so the pyproject.toml next to sim/ is read."""
    code = ("import importlib.metadata as m\n"
            "def missing(name):\n"
            "    raise m.PackageNotFoundError(name)\n"
            "m.version = missing\n"
            "import sim\n"
            "print(sim.__file__)\n"
            "print(sim.__version__)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    path, version = proc.stdout.split()
    assert Path(path).resolve() == ROOT / "sim" / "__init__.py"
    assert version == pyproject_version()
