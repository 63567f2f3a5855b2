"""The results store: a directory of verified run files, a tidy table and a manifest.

Layout of a store ``DIR``::

    manifest.json        format (`FORMAT`), config (as parsed), task labels in config order,
                         expected runs, tuning trial runs (``trials``), versions, root seed,
                         host, timings, ``upgraded`` (older formats it was continued from)
    runs/<run_id>.json   one run, canonical JSON on one line: run_id, config (the run spec),
                         status (finished / diverged / failed), error, traceback, history,
                         evaluation (final metrics, robustness, sequential phases), sequential,
                         seconds, computed_at, host, pid, arrays, npz_sha256 and checksum
    runs/<run_id>.npz    arrays analyses need (probe_hidden / _labels / _index, W1, grid_x / _y / _pred)
    table.csv            one row per run x epoch (columns: `sim.study.table.COLUMNS`), sorted
                         by run_id, epoch; rebuilt from the run files by the writer (at least
                         every `TABLE_EVERY` seconds and when a study ends or is interrupted)
    table.check.json     row count, size and SHA-256 of table.csv (`sim.study.table`):
                         :meth:`Store.table_state` tells whether the table is current, stale,
                         missing or damaged (cut, even at a line boundary, or edited)
    tuning.json          a tuning study's progress; tuned.toml its choices (`sim.study.tuned`)
    .lock                held (``fcntl.flock``) by the one process writing the store, see
                         :meth:`Store.writer_lock`; records its pid, host and start time

Formats: `sim.study.files` lists them and what this version does with each (readers and writers
refuse a format they do not know; an older one whose run files are these is read and continued).

One writer per store: `sim.study.backends.run_study` (and ``neurocompare status DIR
--rebuild-table``) hold :meth:`Store.writer_lock` for as long as they write; a second writer is
refused at once with a `ValidationError` naming the holder. Readers (:meth:`Store.runs`,
:meth:`Store.status`, the analyses) never take the lock: atomic files make reading safe.

Every file is written atomically (temporary file in the same directory, fsync, rename), so a
reader sees either the old or the new file, never half of one. A run's ``checksum`` is the
SHA-256 of the canonical JSON of all its other fields, which include ``npz_sha256`` (the
SHA-256 of the ``.npz`` bytes): a truncated, hand-edited or mismatched file is detected
(:class:`CorruptRun`) and never used; `sim.study.backends.run_study` recomputes it.

Open a store with :func:`open` (``store.open("results/quick")``). It also answers what analyses
ask about a run without re-running it: its task (:meth:`Store.task`), the training rows it fitted
(:meth:`Store.train_indices`) and the study's task order (:meth:`Store.task_order`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import socket
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sim.errors import ValidationError
from sim.study.files import FORMAT, OLD_FORMATS, atomic_write, check_format, pack_arrays, versions
from sim.study.lock import writer_lock
from sim.study.spec import canonical_json, load_task, training_rows
from sim.study.table import COLUMNS, WALL_CLOCK_COLUMNS, read_table, table_problem, table_rows, write_table

# the table's columns and rows are defined in sim.study.table; re-exported here
__all__ = ["Store", "CorruptRun", "open", "COLUMNS", "WALL_CLOCK_COLUMNS", "table_rows",
           "atomic_write", "pack_arrays", "versions", "TABLE_EVERY", "FORMAT", "OLD_FORMATS"]
DONE = ("finished", "diverged")
LOCK_NAME = ".lock"
# Minimum seconds between two rebuilds of table.csv while a study runs (each rebuild re-reads and
# verifies every run file: ~1 ms per run); `sim.study.backends.run_study` also waits at least 20x
# the last rebuild's duration, so rebuilding costs at most ~5% of the study's wall clock.
TABLE_EVERY = 30.0

class CorruptRun(Exception):
    """A run file that does not parse, lacks fields, or whose checksum does not match."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _checksum(body: dict) -> str:
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


class Store:
    """A results directory (created on demand by :meth:`begin`)."""

    def __init__(self, path):
        self.path = Path(path)
        self.runs_dir = self.path / "runs"
        self._tasks = {}  # (task_name, task_params, task_seed) -> Task, see task()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ----- the writer lock ------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_NAME

    def writer_lock(self, parameter: str = "out"):
        """Hold the store's exclusive writer lock on ``DIR/.lock`` for the ``with`` block (creates the
        directory); yields the holder record; a second writer is refused at once with a `ValidationError`
        naming ``parameter`` and the holder (`sim.study.lock.writer_lock` documents it)."""
        return writer_lock(self.path, self.lock_path, parameter)

    # ----- manifest -----------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def manifest(self) -> dict:
        """The manifest (empty dict if there is none yet)."""
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError("manifest", str(self.manifest_path), f"is not valid JSON ({exc})") from None
        if not isinstance(manifest, dict):
            raise ValidationError("manifest", str(self.manifest_path), "is not a JSON object")
        return manifest

    def format_note(self, parameter: str = "store") -> str | None:
        """None, or a note that the store has an older format this version reads and continues;
        raises `ValidationError` naming any other format (`sim.study.files.check_format`)."""
        return check_format(self.manifest(), self.path, parameter)

    def write_manifest(self, manifest: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True, default=str))

    def begin(self, study, specs: list[dict], trials=()) -> dict:
        """Create the directory and write the manifest of ``study`` (runs pending until written);
        ``trials`` are the tuning runs asked so far (`sim.study.tuning`). Return the manifest. A store of
        an older format is continued as `FORMAT` (``upgraded`` records it); another is refused."""
        self.format_note("out")
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.runs_dir.glob(".*.tmp"):  # left by a killed writer: never read
            with contextlib.suppress(OSError):
                stale.unlink()
        old = self.manifest() if self.manifest_path.exists() else {}
        manifest = {
            "format": FORMAT, "name": study.name, "description": study.description,
            "source": study.source, "config": study.raw, "root_seed": study.root_seed,
            "tasks": list(study.tasks),  # config order (the JSON sorts the config's keys)
            "versions": versions(), "host": socket.gethostname(), "platform": platform.platform(),
            "created": old.get("created", _now()), "updated": _now(),
            "runs": {s["run_id"]: _info(s) for s in specs},
            "run_seconds": old.get("run_seconds", {}), "invocations": old.get("invocations", []),
        }
        upgraded = list(old.get("upgraded", []))
        if old and old.get("format") != FORMAT:  # an older format (check_format refuses the others)
            upgraded.append({"from": old.get("format"), "to": FORMAT, "at": _now()})
        if upgraded:
            manifest["upgraded"] = upgraded
        if study.tuning:
            manifest["trials"] = {s["run_id"]: _info(s) for s in trials}
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
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        for path in (self.json_path(run_id), self.npz_path(run_id)):
            if path.exists():
                os.replace(path, target / f"{path.name}.{stamp}")

    def run_ids(self) -> list[str]:
        """Ids of the runs in the manifest (not its trials), or of all run files without a manifest."""
        manifest = self.manifest()
        if manifest.get("runs") or "trials" in manifest:
            return sorted(manifest["runs"])
        return sorted(p.stem for p in self.runs_dir.glob("*.json"))

    def trial_ids(self) -> list[str]:
        """Ids of the tuning trial runs asked so far (the manifest's ``trials``)."""
        return sorted(self.manifest().get("trials") or {})

    def runs(self, *, include_failed: bool = True, trials: bool = False) -> list[dict]:
        """Verified results of the study's runs (corrupt and missing ones left out), by run_id;
        with ``trials``, of its tuning trial runs instead (`sim.study.tuning`)."""
        out = []
        for rid in self.trial_ids() if trials else self.run_ids():
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

    def status(self, trials: bool = False) -> dict:
        """Counts and run ids per state: finished, diverged, failed, pending (missing or corrupt);
        a tuning study's dict also has ``trials``: the same for its trial runs."""
        ids = self.trial_ids() if trials else self.run_ids()
        states = {"finished": [], "diverged": [], "failed": [], "pending": [], "corrupt": []}
        for rid in ids:
            state = self.check(rid)
            if state in ("missing", "corrupt"):
                states["pending"].append(rid)
                if state == "corrupt":
                    states["corrupt"].append(rid)
            else:
                states.setdefault(state, []).append(rid)
        out = {"total": len(ids), **{k: len(v) for k, v in states.items()}, "ids": states}
        if not trials and "trials" in self.manifest():
            out["trials"] = self.status(trials=True)
        return out

    # ----- what analyses ask about runs (a run: a result dict or its spec, result["config"])
    def task_order(self) -> list[str]:
        """The study's task labels in config order (list of str): the manifest's ``tasks``
        (written by :meth:`begin`), else the order of first appearance in the runs (by run_id)."""
        manifest = self.manifest()
        if isinstance(manifest.get("tasks"), list):
            return list(manifest["tasks"])
        specs = list((manifest.get("runs") or {}).values()) or [r["config"] for r in self.runs()]
        return list(dict.fromkeys(s["task"] for s in specs))

    def task(self, run: dict):
        """The task (`sim.tasks.Task`) of a run, as the worker loaded it (`sim.study.spec.load_task`:
        ``sim.tasks.load(task_name, seed=task_seed, **task_params)``); no model is built; cached."""
        spec = _spec_of(run)
        key = (spec["task_name"], canonical_json(spec["task_params"]), spec["task_seed"])
        if key not in self._tasks:
            self._tasks[key] = load_task(spec)
        return self._tasks[key]

    def train_indices(self, run: dict) -> np.ndarray:
        """The training rows (sorted int64 positions in ``task(run).X_train``, all of them for a
        standard run) a standard or subsample run was trained on, replaying the worker
        (`sim.study.spec.training_task`); a `ValidationError` for a sequential run (two subsets)."""
        spec = _spec_of(run)
        return training_rows(spec, self.task(spec))

    # ----- the tidy table -----------------------------------------------------------------
    @property
    def table_path(self) -> Path:
        return self.path / "table.csv"

    def rebuild_table(self) -> int:
        """Rewrite ``table.csv`` and its checksum file (`sim.study.table.write_table`) from the verified
        run files; return its row count."""
        self.path.mkdir(parents=True, exist_ok=True)
        return write_table(self.table_path, self.runs() + self.runs(trials=True))

    def table_problem(self) -> str | None:
        """Why ``table.csv`` cannot be trusted (truncated, edited, no checksum file), or None
        (also when there is no table: see :meth:`table_state`)."""
        try:
            return table_problem(self.table_path)
        except FileNotFoundError:
            return None

    def table_state(self) -> str:
        """``'current'``, ``'missing'`` (no table.csv), ``'damaged'`` (not the table its checksum file
        ``table.check.json`` lists: cut, even at a line boundary, or edited; :meth:`table_problem` says
        how) or ``'stale'`` (older than the newest run file or than the last change to ``runs/``);
        rebuild with :meth:`rebuild_table` (``neurocompare status DIR --rebuild-table``)."""
        try:
            table_time = self.table_path.stat().st_mtime_ns
        except FileNotFoundError:
            return "missing"
        if self.table_problem() is not None:
            return "damaged"
        try:
            newest = self.runs_dir.stat().st_mtime_ns  # changes when a run file is added or removed
        except FileNotFoundError:
            return "current"
        for path in self.runs_dir.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):
                newest = max(newest, path.stat().st_mtime_ns)
        return "stale" if table_time < newest else "current"

    def table(self) -> list[dict]:
        """``table.csv`` as a list of dicts (ints, floats with NaN for empty cells, strings).

        Raises
        ------
        FileNotFoundError
            No table.csv.
        ValidationError
            ``table`` = the file, when it is damaged (:meth:`table_problem`) or malformed (rebuild it
            with :meth:`rebuild_table`).
        """
        return read_table(self.table_path, f"rebuild it with `neurocompare status {self.path} --rebuild-table`")


def _info(spec: dict) -> dict:
    """What the manifest records of a planned run."""
    return {k: spec[k] for k in ("task", "model", "model_name", "kind", "seed", "model_seed", "task_seed", "condition")}


def _spec_of(run: dict) -> dict:
    """The run spec of a run result, or the spec itself."""
    return run["config"] if isinstance(run.get("config"), dict) else run


def open(path) -> Store:  # noqa: A001 - the store's natural verb: ``store.open(DIR)``
    """Open the results store at ``path`` (it must exist, and its format be one this version reads:
    `FORMAT` or one of `OLD_FORMATS`, see `sim.study.files.check_format`)."""
    path = Path(path)
    if not path.is_dir():
        raise ValidationError("store", str(path), "no such results directory")
    store = Store(path)
    store.format_note()
    return store
