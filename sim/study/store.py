"""The results store: a directory of verified run files, a tidy table and a manifest.

Layout of a store ``DIR``::

    manifest.json        config (as parsed), expected runs, versions, root seed, host, timings
    runs/<run_id>.json   one run, canonical JSON on one line (``python -m json.tool`` shows
                         it): run_id, config (the run spec), status (finished / diverged /
                         failed), error, traceback, history (`History.to_dict`), evaluation
                         (final train/test accuracy and loss, noise / occlusion robustness,
                         sequential-phase numbers), sequential (curves, sequential runs),
                         seconds, computed_at, host, pid, arrays, npz_sha256 and checksum
    runs/<run_id>.npz    arrays analyses need (probe_hidden, probe_labels, probe_index, W1,
                         grid_x / grid_y / grid_pred for 2-D tasks)
    table.csv            one row per run x epoch (see `COLUMNS`), sorted by run_id, epoch

Every file is written atomically (temporary file in the same directory, fsync, rename), so a
reader sees either the old or the new file, never half of one. A run's ``checksum`` is the
SHA-256 of the canonical JSON of all its other fields, which include ``npz_sha256`` (the
SHA-256 of the ``.npz`` bytes): a truncated, hand-edited or mismatched file is detected
(:class:`CorruptRun`) and never used; `sim.execute.run_study` recomputes it.

Open a store with :func:`open` (``from sim import store; st = store.open("results/quick")``).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import platform
import socket
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sim.errors import ValidationError
from sim.study.config import canonical_json

__all__ = ["Store", "CorruptRun", "open", "COLUMNS", "atomic_write", "pack_arrays", "versions"]

FORMAT = "neurocompare-store/1"
ID_COLUMNS = ("run_id", "task", "model", "model_name", "kind", "seed", "condition", "status")
METRIC_COLUMNS = ("epoch", "samples_seen", "seconds", "train_loss", "train_accuracy", "test_loss",
                  "test_accuracy", "active_fraction", "dead_fraction", "converged_fraction",
                  "silent_inputs", "settle_steps")
COLUMNS = ID_COLUMNS + METRIC_COLUMNS
INT_COLUMNS = ("seed", "epoch", "samples_seen")
TEXT_COLUMNS = ID_COLUMNS[:-3] + ID_COLUMNS[-2:]  # everything in ID_COLUMNS except seed
WALL_CLOCK_COLUMNS = ("seconds",)
DONE = ("finished", "diverged")


class CorruptRun(Exception):
    """A run file that does not parse, lacks fields, or whose checksum does not match."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory + ``os.replace``."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def versions() -> dict:
    """Versions of Python and the numerical stack (recorded in the manifest)."""
    import scipy
    import sklearn
    from sim import __version__
    out = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
           "scikit-learn": sklearn.__version__, "neurocompare": __version__}
    try:
        import threadpoolctl
        out["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:  # pragma: no cover
        pass
    for mod in ("dask", "distributed"):
        if mod in sys.modules:
            out[mod] = sys.modules[mod].__version__
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _checksum(body: dict) -> str:
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def pack_arrays(arrays: dict) -> bytes:
    """The bytes of a compressed ``.npz`` holding ``arrays``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


class Store:
    """A results directory (created on demand by :meth:`begin`)."""

    def __init__(self, path):
        self.path = Path(path)
        self.runs_dir = self.path / "runs"

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ----- manifest -----------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def manifest(self) -> dict:
        """The manifest (empty dict if there is none yet)."""
        try:
            return json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError("manifest", str(self.manifest_path), f"is not valid JSON ({exc})") from None

    def write_manifest(self, manifest: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True, default=str))

    def begin(self, study, specs: list[dict]) -> dict:
        """Create the directory and write the manifest of ``study`` (runs pending until written)."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.runs_dir.glob(".*.tmp"):  # left by a killed writer: never read
            with contextlib.suppress(OSError):
                stale.unlink()
        old = self.manifest() if self.manifest_path.exists() else {}
        manifest = {
            "format": FORMAT, "name": study.name, "description": study.description,
            "source": study.source, "config": study.raw, "root_seed": study.root_seed,
            "versions": versions(), "host": socket.gethostname(), "platform": platform.platform(),
            "created": old.get("created", _now()), "updated": _now(),
            "runs": {s["run_id"]: {k: s[k] for k in ("task", "model", "model_name", "kind", "seed",
                                                     "model_seed", "task_seed", "condition")}
                     for s in specs},
            "run_seconds": old.get("run_seconds", {}), "invocations": old.get("invocations", []),
        }
        self.write_manifest(manifest)
        return manifest

    # ----- run files ----------------------------------------------------------------------
    def json_path(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.json"

    def npz_path(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.npz"

    def write_run(self, result: dict, arrays: dict | bytes) -> dict:
        """Write one run atomically: the ``.npz`` first, then the JSON that certifies it.

        ``arrays`` is a dict of arrays, or the bytes of an ``.npz`` (`pack_arrays`, made in
        the worker so that the parent only writes; ``result["arrays"]`` then lists the names).
        The JSON file is the canonical JSON of the result plus its ``checksum``.
        """
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        run_id = result["run_id"]
        body = {k: v for k, v in result.items() if k != "checksum"}
        if arrays:
            if isinstance(arrays, bytes):
                data = arrays
                if "arrays" not in body:
                    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                        body["arrays"] = npz.files
            else:
                data, body["arrays"] = pack_arrays(arrays), list(arrays)
            body["arrays"] = sorted(body["arrays"])
            atomic_write(self.npz_path(run_id), data)
            body["npz_sha256"] = hashlib.sha256(data).hexdigest()
        else:
            body["npz_sha256"], body["arrays"] = None, []
            with contextlib.suppress(OSError):
                self.npz_path(run_id).unlink()
        text = canonical_json(body)  # what a reader re-serializes after parsing (plain types)
        checksum = hashlib.sha256(text.encode()).hexdigest()
        atomic_write(self.json_path(run_id), f'{text[:-1]},"checksum":"{checksum}"}}\n')
        return {**body, "checksum": checksum}

    def load_run(self, run_id: str) -> dict:
        """The verified result of ``run_id``.

        Raises
        ------
        FileNotFoundError
            No run file.
        CorruptRun
            The file does not parse, its checksum or its npz's checksum does not match.
        """
        text = self.json_path(run_id).read_bytes()
        try:
            result = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptRun(f"run {run_id}: not valid JSON ({exc})") from None
        if not isinstance(result, dict) or "checksum" not in result:
            raise CorruptRun(f"run {run_id}: no checksum")
        body = {k: v for k, v in result.items() if k != "checksum"}
        if _checksum(body) != result["checksum"]:
            raise CorruptRun(f"run {run_id}: checksum mismatch (file edited or damaged)")
        if result.get("run_id") != run_id:
            raise CorruptRun(f"run {run_id}: file holds run {result.get('run_id')}")
        if result.get("npz_sha256"):
            try:
                data = self.npz_path(run_id).read_bytes()
            except FileNotFoundError:
                raise CorruptRun(f"run {run_id}: arrays file missing") from None
            if hashlib.sha256(data).hexdigest() != result["npz_sha256"]:
                raise CorruptRun(f"run {run_id}: arrays file checksum mismatch")
        return result

    def check(self, run_id: str) -> str:
        """``'finished'``, ``'diverged'``, ``'failed'``, ``'missing'`` or ``'corrupt'``."""
        try:
            return self.load_run(run_id).get("status", "corrupt")
        except FileNotFoundError:
            return "missing"
        except CorruptRun:
            return "corrupt"

    def quarantine(self, run_id: str) -> None:
        """Move a corrupt run's files aside (``runs/corrupt/``) so they are never read again."""
        target = self.runs_dir / "corrupt"
        target.mkdir(exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        for path in (self.json_path(run_id), self.npz_path(run_id)):
            if path.exists():
                os.replace(path, target / f"{path.name}.{stamp}")

    def run_ids(self) -> list[str]:
        """Ids of the runs in the manifest, or of all run files when there is no manifest."""
        manifest = self.manifest()
        if manifest.get("runs"):
            return sorted(manifest["runs"])
        return sorted(p.stem for p in self.runs_dir.glob("*.json"))

    def runs(self, *, include_failed: bool = True) -> list[dict]:
        """Verified results of the study's runs (corrupt and missing ones left out), by run_id."""
        out = []
        for rid in self.run_ids():
            try:
                result = self.load_run(rid)
            except (FileNotFoundError, CorruptRun):
                continue
            if include_failed or result.get("status") in DONE:
                out.append(result)
        return out

    def load_arrays(self, run_id: str) -> dict:
        """The arrays of ``run_id`` (verified against the run's checksum) as a dict."""
        result = self.load_run(run_id)
        if not result.get("npz_sha256"):
            return {}
        with np.load(self.npz_path(run_id), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def status(self) -> dict:
        """Counts and run ids per state: finished, diverged, failed, pending (missing or corrupt)."""
        states = {"finished": [], "diverged": [], "failed": [], "pending": [], "corrupt": []}
        for rid in self.run_ids():
            state = self.check(rid)
            if state in ("missing", "corrupt"):
                states["pending"].append(rid)
                if state == "corrupt":
                    states["corrupt"].append(rid)
            else:
                states.setdefault(state, []).append(rid)
        return {"total": len(self.run_ids()), **{k: len(v) for k, v in states.items()},
                "ids": states}

    # ----- the tidy table -----------------------------------------------------------------
    @property
    def table_path(self) -> Path:
        return self.path / "table.csv"

    def rebuild_table(self) -> int:
        """Rewrite ``table.csv`` (atomically) from the verified run files; return its row count."""
        rows = [row for result in self.runs() for row in table_rows(result)]
        rows.sort(key=lambda r: (r["run_id"], r["epoch"]))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in COLUMNS})
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.table_path, buf.getvalue())
        return len(rows)

    def table(self) -> list[dict]:
        """``table.csv`` as a list of dicts (ints, floats with NaN for empty cells, strings)."""
        with self.table_path.open(newline="") as fh:
            return [{k: _parse_cell(k, v) for k, v in row.items()} for row in csv.DictReader(fh)]


def table_rows(result: dict) -> list[dict]:
    """The table rows (one per epoch) of one run result."""
    cfg = result["config"]
    condition = cfg.get("condition") or {}
    if cfg["kind"] == "subsample":
        cond = f"train_per_class={condition['train_per_class']}"
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


def open(path) -> Store:  # noqa: A001 - the store's natural verb: ``store.open(DIR)``
    """Open the results store at ``path`` (it must exist)."""
    path = Path(path)
    if not path.is_dir():
        raise ValidationError("store", str(path), "no such results directory")
    return Store(path)
