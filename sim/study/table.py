"""The tidy table of a results store (``table.csv``): one row per run x epoch.

Columns (:data:`COLUMNS`): the run's identity (:data:`ID_COLUMNS`: run_id, task, model,
model_name, kind, seed, condition (``train_per_class=N``, ``first=..;second=..`` or
``trial=N``), status) then the History record of the epoch (:data:`METRIC_COLUMNS`). Floats
are written with ``repr`` (exact round trip; NaN and inf as text), missing values as empty
cells. `sim.study.store.Store.rebuild_table` writes it and
`sim.study.store.Store.table` reads it back.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from sim.errors import ValidationError

__all__ = ["COLUMNS", "ID_COLUMNS", "METRIC_COLUMNS", "WALL_CLOCK_COLUMNS", "table_rows", "read_table",
           "csv_text", "read_csv"]

ID_COLUMNS = ("run_id", "task", "model", "model_name", "kind", "seed", "condition", "status")
METRIC_COLUMNS = ("epoch", "samples_seen", "seconds", "train_loss", "train_accuracy", "val_loss",
                  "val_accuracy", "test_loss",
                  "test_accuracy", "active_fraction", "dead_fraction", "converged_fraction",
                  "silent_inputs", "settle_steps")
COLUMNS = ID_COLUMNS + METRIC_COLUMNS
INT_COLUMNS = ("seed", "epoch", "samples_seen")
TEXT_COLUMNS = ID_COLUMNS[:-3] + ID_COLUMNS[-2:]  # everything in ID_COLUMNS except seed
WALL_CLOCK_COLUMNS = ("seconds",)

def table_rows(result: dict) -> list[dict]:
    """The table rows (one per epoch) of one run result."""
    cfg = result["config"]
    condition = cfg.get("condition") or {}
    if cfg["kind"] == "subsample":
        cond = f"train_per_class={condition['train_per_class']}"
    elif cfg["kind"] == "hidden_units":
        cond = f"hidden_units={condition['hidden_units']}"
    elif cfg["kind"] == "trial":
        cond = f"trial={condition['trial']}"
    elif cfg["kind"] == "sequential":
        cond = ("first=" + "-".join(map(str, condition["first"])) + ";second="
                + "-".join(map(str, condition["second"])))
    else:
        cond = ""
    ids = {"run_id": result["run_id"], "task": cfg["task"], "model": cfg["model"],
           "model_name": cfg["model_name"], "kind": cfg["kind"], "seed": cfg["seed"],
           "condition": cond, "status": result.get("status", "")}
    records = (result.get("history") or {}).get("records", [])
    return [{**ids, **{k: rec.get(k) for k in METRIC_COLUMNS}} for rec in records]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest exact round trip; nan / inf as text
    return value


def _parse_cell(key, text):
    if key in TEXT_COLUMNS:
        return text
    if text == "":
        return None if key in INT_COLUMNS else math.nan
    if key in INT_COLUMNS:
        return int(text)
    return float(text)


def csv_text(results) -> tuple[str, int]:
    """The CSV text of the rows of ``results`` (run result dicts), sorted by run_id, epoch.

    Returns
    -------
    (str, int)
        The text (header included) and the number of rows.
    """
    rows = [row for result in results for row in table_rows(result)]
    rows.sort(key=lambda r: (r["run_id"], r["epoch"]))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in COLUMNS})
    return buf.getvalue(), len(rows)


def read_csv(path) -> list[dict]:
    """The table at ``path`` as a list of dicts (ints, floats with NaN for empty cells, strings;
    None for an empty integer cell)."""
    with open(path, newline="") as fh:
        return [{k: _parse_cell(k, v) for k, v in row.items()} for row in csv.DictReader(fh)]


def read_table(path, fix: str) -> list[dict]:
    """The table at ``path`` (:func:`read_csv`), verified: a truncated or malformed file raises
    ``ValidationError("table", path, ...)`` ending with ``fix`` (how to rebuild it)."""
    path = Path(path)
    data = path.read_bytes()
    header = ",".join(COLUMNS).encode() + b"\n"
    if not data.startswith(header):
        raise ValidationError("table", str(path), f"is malformed (not the header of the table); {fix}")
    if not data.endswith(b"\n"):
        raise ValidationError("table", str(path), f"is truncated (no newline at the end); {fix}")
    try:
        rows = read_csv(path)
    except (TypeError, ValueError, KeyError, csv.Error, UnicodeDecodeError) as exc:
        raise ValidationError("table", str(path), f"is truncated or malformed ({type(exc).__name__}: "
                              f"{exc}); {fix}") from None
    for line, row in enumerate(rows, start=2):
        if None in row or len(row) != len(COLUMNS):
            raise ValidationError("table", str(path), f"is malformed (line {line}: wrong number of "
                                  f"cells); {fix}")
    return rows
