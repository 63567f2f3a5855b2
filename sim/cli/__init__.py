"""The ``neurocompare`` command line (`sim.cli.main.main`; ``python -m sim.cli``).

Commands: ``tasks``, ``models``, ``presets`` (what there is), ``run`` (one model on one task,
or a one-run study with ``--out``), ``study`` / ``tune`` (a study into a results store),
``status``, ``report`` (figures and REPORT.md of a store) and ``compare`` (paired differences
between two stores). Bad input exits with status 2 and one line naming the parameter.
"""

from sim.cli.main import build_parser, main

__all__ = ["main", "build_parser"]
