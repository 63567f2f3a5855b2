"""The tidy table of a results store (``table.csv``): one row per run x epoch.

Columns (:data:`COLUMNS`): the run's identity (:data:`ID_COLUMNS`: run_id, task, model,
model_name, kind, seed, condition (``train_per_class=N``, ``first=..;second=..`` or
``trial=N``), status) then the History record of the epoch (:data:`METRIC_COLUMNS`). Floats
are written with ``repr`` (exact round trip; NaN and inf as text), missing values as empty
cells. `sim.study.store.Store.rebuild_table` writes it (:func:`write_table`) and
`sim.study.store.Store.table` reads it back (:func:`read_table`).

Integrity: next to the table, ``table.check.json`` (:data:`CHECK_NAME`) records the row count,
byte count and SHA-256 of the table's text. :func:`write_table` writes it *before* the table
(each file atomically), listing the new table and the one it replaces, so a reader always finds
the table it reads listed, whenever it reads; a table cut anywhere (mid-line or exactly at a line
boundary, which the CSV structure cannot show), edited, or without a checksum file matches no
entry and is reported by :func:`table_problem` (`sim.study.store.Store.table_state`: ``damaged``;
`sim.study.store.Store.table` raises), then rebuilt from the run files by the next writer.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from pathlib import Path

from sim.errors import ValidationError
from sim.study.files import atomic_write

__all__ = ["COLUMNS", "ID_COLUMNS", "METRIC_COLUMNS", "WALL_CLOCK_COLUMNS", "CHECK_NAME", "table_rows", "read_table",
           "csv_text", "read_csv", "write_table", "table_problem"]

ID_COLUMNS = ("run_id", "task", "model", "model_name", "kind", "seed", "condition", "status")
METRIC_COLUMNS = ("epoch", "samples_seen", "seconds", "train_loss", "train_accuracy", "val_loss",
                  "val_accuracy", "test_loss",
                  "test_accuracy", "active_fraction", "dead_fraction", "converged_fraction",
                  "silent_inputs", "settle_steps")
COLUMNS = ID_COLUMNS + METRIC_COLUMNS
INT_COLUMNS = ("seed", "epoch", "samples_seen")
TEXT_COLUMNS = ID_COLUMNS[:-3] + ID_COLUMNS[-2:]  # everything in ID_COLUMNS except seed
WALL_CLOCK_COLUMNS = ("seconds",)
CHECK_NAME = "table.check.json"

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


def _entry(data: bytes) -> dict:
    return {"rows": data.count(b"\n") - 1, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_table(path, results) -> int:
    """Write the table of ``results`` (run result dicts) to ``path`` and its checksum file.

    The checksum file first, listing the new table and the current one, then the table; both
    atomically. Returns the number of rows.
    """
    path = Path(path)
    text, n_rows = csv_text(results)
    data = text.encode()
    entries = [_entry(data)]
    try:
        if table_problem(path) is None:
            entries.append(_entry(path.read_bytes()))  # still what readers find until the table is replaced
    except FileNotFoundError:
        pass
    atomic_write(path.with_name(CHECK_NAME), json.dumps({"tables": entries}, sort_keys=True) + "\n")
    atomic_write(path, data)
    return n_rows


def table_problem(path) -> str | None:
    """Why the table at ``path`` cannot be trusted (None: it is one its checksum file lists).

    Raises
    ------
    FileNotFoundError
        No table at ``path``.
    """
    data = Path(path).read_bytes()
    check = Path(path).with_name(CHECK_NAME)
    try:
        doc = json.loads(check.read_text())
    except FileNotFoundError:
        return f"has no checksum file {CHECK_NAME} (a store of format 1 has none, or it was removed)"
    except (json.JSONDecodeError, UnicodeDecodeError):
        doc = None
    entries = doc.get("tables") if isinstance(doc, dict) else None
    if not (isinstance(entries, list) and entries and all(
            isinstance(e, dict) and type(e.get("bytes")) is int and isinstance(e.get("sha256"), str) for e in entries)):
        return f"has a damaged checksum file {CHECK_NAME}"
    entry, newest = _entry(data), entries[0]
    if any(e["bytes"] == entry["bytes"] and e["sha256"] == entry["sha256"] for e in entries):
        return None
    if entry["bytes"] < newest["bytes"]:
        return f"is truncated ({entry['bytes']} of {newest['bytes']} bytes, {max(entry['rows'], 0)} complete rows)"
    return f"does not match its checksum file {CHECK_NAME} (edited or damaged)"


def read_table(path, fix: str) -> list[dict]:
    """The table at ``path`` (:func:`read_csv`), verified: a table its checksum file does not list
    (:func:`table_problem`), or a truncated or malformed one, raises ``ValidationError("table", path,
    ...)`` ending with ``fix`` (how to rebuild it)."""
    path = Path(path)
    problem = table_problem(path)
    if problem is not None:
        raise ValidationError("table", str(path), f"{problem}; {fix}")
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
