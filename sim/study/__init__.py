"""Studies: configs (`config`, validated by `schema`, search spaces and ``[tuning]`` by `search`),
their run specs (`spec`), the one-run worker (`worker`), execution backends (`backends`, with the
process `pool`), the tuning stage (`tuning`, its outputs in `tuned`) and the results store
(`store`, with its tidy `table`). Seeds are derived in `sim.seeds`."""

from sim.study import backends, config, pool, schema, search, spec, store, table, tuned, tuning, worker
from sim.study.backends import run_study
from sim.study.config import Study, builtin, builtin_names, load, parse
from sim.study.store import Store

__all__ = ["Study", "Store", "backends", "builtin", "builtin_names", "config", "load", "parse", "pool",
           "run_study", "schema", "search", "spec", "store", "table", "tuned", "tuning", "worker"]
