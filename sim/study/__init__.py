"""Studies: configs (`config`, validated by `schema`), their run specs (`spec`), the one-run
worker (`worker`), execution backends (`backends`) and the results store (`store`, with its
tidy `table`). Seeds are derived in `sim.seeds`."""

from sim.study import backends, config, schema, spec, store, table, worker
from sim.study.backends import run_study
from sim.study.config import Study, builtin, builtin_names, load, parse
from sim.study.store import Store

__all__ = ["Study", "Store", "backends", "builtin", "builtin_names", "config", "load", "parse",
           "run_study", "schema", "spec", "store", "table", "worker"]
