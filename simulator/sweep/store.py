"""A sweep folder: an SQLite index plus one file per finished run, safe against SIGKILL.

Layout of DIR:
  index.sqlite   meta (experiment, plan digest), points, plan (run_id -> key),
                 tasks (what to run per key), runs (finished keys: ok or failed)
  runs/KK/KEY.json  one file per finished run: window means, series, per-segment means
  runs/KK/KEY.panel.parquet  its buyer-period panel (sweeps with --panel)
  results.parquet   the table `load_sweep` returns, rebuilt when the index has changed
  .lock          held (flock) by the sweep writing the folder; a second one is refused
A run counts as finished only once its file is in place *and* its index row is
committed; a kill in between leaves a run that `--resume` simply runs again
(same key, same file), so nothing is lost and nothing is duplicated. Run files
are fsynced (file, then folder) before their row is committed, and `--resume`
reads every stored run back: a file a power cut left empty or cut short is run
again; readers treat it as not run.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError
from ..metrics import METRICS, SEGMENT_METRICS
from ..output import fsync_folder, write_csv, write_durably
from .plan import PlannedRun
from .work import RunTask

INDEX = "index.sqlite"
RESULTS = "results.parquet"
LOCK = ".lock"
#: What the table says of a run whose stored file cannot be read back.
DAMAGED = ("the stored run file is missing or damaged (e.g. by a power cut); "
           "`infogap sweep ... --resume` runs it again")
RUN_COLUMNS = ["run_id", "point", "arm", "replication", "key", "status"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (point INTEGER PRIMARY KEY, vals TEXT NOT NULL,
                                   x TEXT);
CREATE TABLE IF NOT EXISTS plan (run_id INTEGER PRIMARY KEY, point INTEGER NOT NULL,
                                 arm TEXT NOT NULL, replication INTEGER NOT NULL,
                                 key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (key TEXT PRIMARY KEY, task TEXT NOT NULL,
                                  first_run INTEGER NOT NULL, replication INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, status TEXT NOT NULL,
                                 file TEXT, error TEXT, elapsed REAL, finished REAL NOT NULL);
"""


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30)
    # WAL + NORMAL: a committed row survives the process being killed at any moment.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def is_sweep_dir(path: Path) -> bool:
    return (Path(path) / INDEX).is_file()


class SweepStore:
    """Writer side of a sweep folder (only the parent process writes, under the lock)."""

    def __init__(self, directory: Path, lock: int | None = None):
        self.dir = Path(directory)
        self._lock = lock
        self.damaged = 0   # stored runs whose file could not be read back (see todo)
        try:
            self.db = _connect(self.dir / INDEX)
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise _bad_index(self.dir, exc) from None

    # -- creation and planning ---------------------------------------------------------------
    @classmethod
    def open(cls, directory: str | Path, *, resume: bool) -> SweepStore:
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise UserError(f"--out {directory}: is a file, expected a folder for the sweep")
        if directory.exists() and any(directory.iterdir()) and not resume:
            count = _count_ok(directory)
            detail = ("is not empty" if not is_sweep_dir(directory)
                      else f"holds a sweep with {count} finished runs" if count is not None
                      else f"holds an unreadable {INDEX}")
            raise UserError(f"--out {directory}: the folder already exists and {detail}; pass "
                            f"--resume to finish that sweep, or choose another --out")
        if resume and directory.exists() and any(directory.iterdir()) \
                and not is_sweep_dir(directory):
            raise UserError(f"--resume: {directory} is not a sweep folder (no {INDEX})")
        try:
            (directory / "runs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--out {directory}: cannot create the folder "
                            f"({exc.strerror or exc})") from None
        store = cls(directory, _lock_folder(directory))
        store._remove_partial_files()
        return store

    def _remove_partial_files(self) -> None:
        for tmp in (self.dir / "runs").glob("*/*.tmp"):
            tmp.unlink(missing_ok=True)

    def meta(self, name: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def write_plan(self, description: dict[str, Any], points: Iterable[tuple[int, dict, Any]],
                   runs: Iterable[PlannedRun]) -> str:
        """Record the plan in one transaction, streaming (or, on resume, check that it matches
        the stored one). `points` yields (point, values, design-space row or None).
        Returns the plan digest."""
        digest = hashlib.sha256()

        def digested(runs: Iterable[PlannedRun]) -> Iterator[PlannedRun]:
            for run in runs:
                digest.update(f"{run.run_id}:{run.point}:{run.arm}:{run.replication}:"
                              f"{run.task.key};".encode())
                yield run

        stored = self.meta("plan_digest")
        if stored is not None:
            for _ in digested(runs):
                pass
            if stored != digest.hexdigest():
                raise UserError(
                    f"--resume: {self.dir} was started from a different plan (the experiment, "
                    f"its scenario or the model version changed since); start a new sweep "
                    f"with another --out")
            return stored
        with self.db:
            self.db.executemany("INSERT INTO points VALUES (?, ?, ?)",
                                ((p, json.dumps(v), None if x is None else json.dumps(x))
                                 for p, v, x in points))
            for run in digested(runs):
                key = run.task.key
                self.db.execute("INSERT INTO plan VALUES (?, ?, ?, ?, ?)",
                                (run.run_id, run.point, run.arm, run.replication, key))
                self.db.execute("INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?)",
                                (key, _task_json(run.task), run.run_id, run.replication))
            self.db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("experiment", json.dumps(description)),
                ("created", json.dumps(time.time())),
                # last: its presence marks a complete plan
                ("plan_digest", json.dumps(digest.hexdigest())),
            ])
        return digest.hexdigest()

    # -- running -------------------------------------------------------------------------------
    def todo(self) -> list[str]:
        """Keys still to run, replication-major: never run, failed, or whose stored file is
        missing or unreadable (counted in `self.damaged`)."""
        rows = self.db.execute(
            "SELECT t.key, r.status, r.file, t.task FROM tasks t "
            "LEFT JOIN runs r ON r.key = t.key ORDER BY t.replication, t.first_run").fetchall()
        todo, self.damaged = [], 0
        for key, status, file, task in rows:
            if status != "ok":
                todo.append(key)
            elif _read_run(self.dir, key, file, json.loads(task).get("panel", False)) is None:
                todo.append(key)
                self.damaged += 1
        return todo

    def tasks(self, keys: Iterable[str]) -> Iterator[RunTask]:
        """The tasks for `keys`, read one at a time (the plan stays on disk)."""
        for key in keys:
            (text,) = self.db.execute("SELECT task FROM tasks WHERE key = ?", (key,)).fetchone()
            data = json.loads(text)
            data["seed_spawn_key"] = tuple(data["seed_spawn_key"])
            yield RunTask(**data)

    def record(self, result: dict[str, Any]) -> None:
        """Store one finished run: its files first (durably), then its index row."""
        key = result["key"]
        file = None
        if result["ok"]:
            file = f"runs/{key[:2]}/{key}.json"
            data = {"key": key, "summary": result["summary"], "series": result["series"]}
            if result.get("segments") is not None:
                data["segments"] = result["segments"]
            if result.get("panel") is not None:
                data["panel"] = _write_panel(self.dir / file, result["panel"])
            write_durably(self.dir / file, json.dumps(data))
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                            (key, "ok" if result["ok"] else "failed", file, result["error"],
                             result["elapsed"], time.time()))

    def failures(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT key, error FROM runs WHERE status = 'failed' "
                               "ORDER BY finished").fetchall()

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
            self.db = None
        if self._lock is not None:
            os.close(self._lock)   # releases the flock
            self._lock = None


def _lock_folder(directory: Path) -> int:
    """Hold an exclusive lock on DIR/.lock for as long as this sweep writes the folder."""
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise UserError(f"--out {directory}: another `infogap sweep` (pid {holder}) is "
                        f"writing this folder; wait for it to finish, or stop it and run "
                        f"again with --resume") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _bad_index(directory: Path, exc: Exception) -> UserError:
    return UserError(f"{directory / INDEX}: not a readable sweep index ({exc}); start the "
                     f"sweep in a new --out folder")


def _write_panel(run_file: Path, panel: pd.DataFrame) -> str:
    """The run's panel as Parquet beside its run file (durably); returns its file name."""
    path = run_file.with_name(run_file.stem + ".panel.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    panel.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_folder(path.parent)
    return path.name


def _read_run(directory: Path, key: str, file: str | None, panel: bool = False
              ) -> dict[str, Any] | None:
    """A stored run's data, or None if its file is missing, empty or cut short."""
    if not file:
        return None
    try:
        data = json.loads((directory / file).read_text())
        if data["key"] != key or not isinstance(data["summary"], dict):
            return None
        if panel and not (directory / file).with_name(data["panel"]).is_file():
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data


def _task_json(task: RunTask) -> str:
    data = dict(task.__dict__)
    data["seed_spawn_key"] = list(task.seed_spawn_key)
    return json.dumps(data, separators=(",", ":"))


def _count_ok(directory: Path) -> int | None:
    """Finished runs in a sweep folder, None if its index cannot be read."""
    try:
        db = sqlite3.connect(f"file:{directory / INDEX}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return db.execute("SELECT count(*) FROM runs WHERE status = 'ok'").fetchone()[0]
    except sqlite3.Error:
        return None
    finally:
        db.close()


# -- reading ----------------------------------------------------------------------------------
def _read_only(directory: Path) -> sqlite3.Connection:
    if not is_sweep_dir(directory):
        raise UserError(f"{directory}: not a sweep folder (no {INDEX}); run `infogap sweep` "
                        f"first")
    db = sqlite3.connect(f"file:{Path(directory) / INDEX}?mode=ro", uri=True, timeout=30)
    try:
        db.execute("SELECT count(*) FROM meta").fetchone()
    except sqlite3.DatabaseError as exc:
        db.close()
        raise _bad_index(Path(directory), exc) from None
    return db


def sweep_description(directory: str | Path) -> dict[str, Any]:
    """The stored `Experiment.describe()` of a sweep folder."""
    db = _read_only(Path(directory))
    try:
        row = db.execute("SELECT value FROM meta WHERE name = 'experiment'").fetchone()
    finally:
        db.close()
    if row is None:
        raise UserError(f"{directory}: the sweep was interrupted before its plan was recorded; "
                        f"run `infogap sweep ... --resume` on it")
    return json.loads(row[0])


def load_points(directory: str | Path) -> pd.DataFrame:
    """Design points: index `point`, one column per factor, and `x` (design-space row)."""
    db = _read_only(Path(directory))
    try:
        rows = db.execute("SELECT point, vals, x FROM points ORDER BY point").fetchall()
    finally:
        db.close()
    frame = pd.DataFrame([{"point": p, **json.loads(v), "x": json.loads(x) if x else None}
                          for p, v, x in rows])
    return frame.set_index("point") if len(frame) else frame


def load_sweep(directory: str | Path) -> pd.DataFrame:
    """One row per planned run, in plan order: run_id, point, arm, replication, key, status
    (ok, failed or pending), error, the factor values, then one column per metric (window
    means). Cached as results.parquet, rebuilt whenever the index has changed."""
    directory = Path(directory)
    db = _read_only(directory)
    try:
        state = json.dumps(db.execute("SELECT count(*), total(finished) FROM runs").fetchone())
        cache = directory / RESULTS
        if cache.is_file():
            import pyarrow.parquet as pq

            meta = pq.read_schema(cache).metadata or {}
            if meta.get(b"infogap_index_state", b"").decode() == state:
                return pd.read_parquet(cache)
        frame = _build_table(directory, db)
    finally:
        db.close()
    _write_parquet(frame, cache, state)
    return frame


def _build_table(directory: Path, db: sqlite3.Connection) -> pd.DataFrame:
    """The table, built column by column (a few hundred bytes per run, not a dict per row)."""
    points = load_points(directory)
    factor_columns = [c for c in points.columns if c != "x"]
    rows = db.execute(
        "SELECT p.run_id, p.point, p.arm, p.replication, p.key, "
        "coalesce(r.status, 'pending'), r.error, r.file "
        "FROM plan p LEFT JOIN runs r ON r.key = p.key ORDER BY p.run_id").fetchall()
    values = np.full((len(rows), len(METRICS)), np.nan)
    seen: dict[str, int] = {}   # key -> first row holding its values (identical runs)
    readable: dict[str, bool] = {}
    for i, (*_, key, status, _error, file) in enumerate(rows):
        if status != "ok":
            continue
        if key not in readable:
            data = _read_run(directory, key, file)
            readable[key] = data is not None
            if data is not None:
                summary = data["summary"]
                values[i] = [np.nan if summary.get(m) is None else summary[m] for m in METRICS]
                seen[key] = i
        elif key in seen:   # identical runs share one stored run
            values[i] = values[seen[key]]
        if not readable[key]:   # shown as not run, with why
            rows[i] = (*rows[i][:5], "pending", DAMAGED, file)
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    frame = pd.DataFrame({
        "run_id": np.array(columns[0], dtype=np.int64),
        "point": np.array(columns[1], dtype=np.int64),
        "arm": list(columns[2]),
        "replication": np.array(columns[3], dtype=np.int64),
        "key": list(columns[4]),
        "status": list(columns[5]),
        "error": [_last_line(e) for e in columns[6]],
    })
    for column in factor_columns:
        frame[column] = points[column].to_numpy()[frame["point"].to_numpy()] if len(rows) \
            else points[column].iloc[:0].to_numpy()
    for j, metric in enumerate(METRICS):
        frame[metric] = values[:, j]
    return frame


def _last_line(error: str | None) -> str | None:
    if not error:
        return None
    lines = [line for line in error.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _write_parquet(frame: pd.DataFrame, path: Path, state: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"infogap_index_state": state.encode()})
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except OSError:  # a read-only folder: the table is still returned
        tmp.unlink(missing_ok=True)


def load_series(directory: str | Path) -> pd.DataFrame:
    """Time series of finished runs (experiments with series_every > 0): one row per
    (run_id, step), one column per metric."""
    directory = Path(directory)
    db = _read_only(directory)
    try:
        rows = db.execute(
            "SELECT p.run_id, p.key, r.file FROM plan p JOIN runs r ON r.key = p.key "
            "WHERE r.status = 'ok' ORDER BY p.run_id").fetchall()
    finally:
        db.close()
    frames = []
    for run_id, key, file in rows:
        data = _read_run(directory, key, file)
        series = data and data["series"]
        if series:
            frame = pd.DataFrame(series)
            frame.insert(0, "run_id", run_id)
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["run_id", "step", *METRICS])
    out = pd.concat(frames, ignore_index=True)
    out[list(METRICS)] = out[list(METRICS)].astype(float)
    return out


def _finished_runs(directory: Path) -> list[tuple]:
    """(run_id, point, arm, replication, key, file) of every run stored ok, in plan order."""
    db = _read_only(directory)
    try:
        return db.execute(
            "SELECT p.run_id, p.point, p.arm, p.replication, p.key, r.file FROM plan p "
            "JOIN runs r ON r.key = p.key WHERE r.status = 'ok' ORDER BY p.run_id").fetchall()
    finally:
        db.close()


def load_segments(directory: str | Path) -> pd.DataFrame:
    """Per-segment window means of finished runs of markets with buyer segments: one row
    per (run_id, segment), with point, arm, replication and one column per segment metric."""
    directory = Path(directory)
    rows = []
    for run_id, point, arm, rep, key, file in _finished_runs(directory):
        data = _read_run(directory, key, file)
        for segment, means in ((data or {}).get("segments") or {}).items():
            rows.append({"run_id": run_id, "point": point, "arm": arm, "replication": rep,
                         "segment": segment, **{m: means.get(m) for m in SEGMENT_METRICS}})
    frame = pd.DataFrame(rows, columns=["run_id", "point", "arm", "replication", "segment",
                                        *SEGMENT_METRICS])
    frame[list(SEGMENT_METRICS)] = frame[list(SEGMENT_METRICS)].astype(float)
    return frame


def load_panel(directory: str | Path) -> pd.DataFrame:
    """The buyer-period panels of finished runs (sweeps run with --panel), one row per buyer
    and step, led by run_id, point, arm and replication."""
    directory = Path(directory)
    frames = []
    for run_id, point, arm, rep, key, file in _finished_runs(directory):
        data = _read_run(directory, key, file)
        if data is None or not data.get("panel"):
            continue
        try:
            panel = pd.read_parquet((directory / file).with_name(data["panel"]))
        except (OSError, ValueError):
            continue
        for position, (name, value) in enumerate((("run_id", run_id), ("point", point),
                                                  ("arm", arm), ("replication", rep))):
            panel.insert(position, name, value)
        frames.append(panel)
    if not frames:
        return pd.DataFrame(columns=["run_id", "point", "arm", "replication"])
    return pd.concat(frames, ignore_index=True)


def load_failures(directory: str | Path) -> pd.DataFrame:
    """Failed runs with their full tracebacks."""
    db = _read_only(Path(directory))
    try:
        rows = db.execute(
            "SELECT p.run_id, p.point, p.arm, p.replication, p.key, r.error FROM plan p "
            "JOIN runs r ON r.key = p.key WHERE r.status = 'failed' ORDER BY p.run_id").fetchall()
    finally:
        db.close()
    return pd.DataFrame(rows, columns=["run_id", "point", "arm", "replication", "key",
                                       "traceback"])


def export_csv(directory: str | Path, path: str | Path | None = None) -> Path:
    """The `load_sweep` table as a flat CSV (default DIR/results.csv), written atomically."""
    path = Path(path) if path else Path(directory) / "results.csv"
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        write_csv(load_sweep(directory), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
