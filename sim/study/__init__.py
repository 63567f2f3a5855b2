"""Studies: configs and their runs, seeds, the one-run worker, execution backends, the store."""

from sim.study import backends, config, store, worker
from sim.study.backends import run_study
from sim.study.config import Study, builtin, builtin_names, load, parse
from sim.study.store import Store

__all__ = ["Study", "Store", "backends", "builtin", "builtin_names", "config", "load", "parse",
           "run_study", "store", "worker"]
