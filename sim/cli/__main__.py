"""``python -m sim.cli``: the ``neurocompare`` command line."""

import sys

from sim.cli.main import main

sys.exit(main())
