"""Durable, resumable results store of a sweep: one SQLite file.

Layout: a store is a directory (``results/NAME``) holding ``results.sqlite``; a path to an
existing ``.sqlite`` file is accepted too. The database has three tables:

``meta(key, value)``
    ``format = "rmt_icl.sweep"``, ``format_version``, ``fingerprint`` (SHA-256 of the spec's
    identity), ``identity`` (seed, runs, shared-seed names, sorted point ids), ``models`` (the
    schema version and defaults of each model, :func:`rmt_icl.core.registry.model_record`),
    ``spec`` (the spec as given), ``created_utc``, ``created_version``.
``points(point_id, idx, params, seed_key)``
    every point of the spec, written when the store is created.
``runs(point_id, run, status, result, ...)``
    one row per finished run, with the columns ``point_id, run, status, result, error,
    traceback, wall_time, started_utc, finished_utc, host, pid, version, seed, seed_key,
    attempts``; ``result`` is the model's output dict as JSON (NaN allowed).

Guarantees
----------
* Only the parent process writes. Each finished run is committed in its own transaction
  (WAL journal, ``synchronous=NORMAL``): a killed sweep loses only the runs still being
  computed, and a partial row never exists. (After an OS crash or power loss the last few
  commits may roll back -- never corrupt -- and are recomputed on resumption.)
* A new store is built in a temporary file and renamed into place, so a store file is either
  complete or absent.
* Opening checks the SQLite header, the file length against the header, ``PRAGMA
  quick_check`` and the schema; any failure raises :class:`rmt_icl.core.errors.StoreError` naming
  the file. A store is never silently overwritten: ``force_new`` moves it to
  ``superseded/<UTC time>/`` next to it.
* A sweep holds an exclusive lock (``results.sqlite.lock``) while it writes, so two sweeps
  cannot write the same store.
* A store is resumed only by the sweep it was made for (:meth:`Store.check_spec`): the same
  seed, runs, shared-seed names and point keys, and models whose schema and defaults have not
  changed since. The package version that wrote it does not matter.

Format versions: 2 (this one) keys points by their identity (parameters at the model's
default dropped, the schema added; :mod:`rmt_icl.sweep.spec`) and records ``models``. A
format-1 store (rmt_icl 0.1) keyed points by every parameter as written: it is resumed when
its keys equal today's (no point wrote a parameter at its default), and refused otherwise,
with a message that says so.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pathlib
import sqlite3

import pandas as pd

from rmt_icl import __version__
from rmt_icl.core.errors import StoreError
from rmt_icl.sweep.spec import SweepSpec, canonical_json

try:  # POSIX advisory locks; elsewhere the lock is a no-op
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

FORMAT = "rmt_icl.sweep"
FORMAT_VERSION = 2
DB_NAME = "results.sqlite"
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = {
    "meta": ("key", "value"),
    "points": ("point_id", "idx", "params", "seed_key"),
    "runs": (
        "point_id", "run", "status", "result", "error", "traceback", "wall_time", "started_utc",
        "finished_utc", "host", "pid", "version", "seed", "seed_key", "attempts",
    ),
}
_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE points (
    point_id TEXT PRIMARY KEY, idx INTEGER NOT NULL UNIQUE, params TEXT NOT NULL,
    seed_key TEXT NOT NULL);
CREATE TABLE runs (
    point_id TEXT NOT NULL REFERENCES points(point_id), run INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')), result TEXT NOT NULL,
    error TEXT, traceback TEXT, wall_time REAL, started_utc TEXT, finished_utc TEXT,
    host TEXT, pid INTEGER, version TEXT, seed INTEGER NOT NULL, seed_key TEXT NOT NULL,
    attempts INTEGER NOT NULL, PRIMARY KEY (point_id, run));
"""

#: leading and trailing columns of the result table (parameters and outputs go in between)
LEAD_COLUMNS = ("point",)
OUTPUT_FIRST = ("icl", "idg", "theory_icl", "theory_idg")
TAIL_COLUMNS = (
    "wall_time", "seed", "key", "version", "host", "pid", "attempts", "started_utc",
    "finished_utc", "point_id",
)


class Store:
    """A sweep's results store (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The store directory (``results.sqlite`` inside), or the SQLite file itself (an
        existing file, or a path ending in ``.sqlite``/``.sqlite3``/``.db``).
    """

    def __init__(self, path):
        if isinstance(path, Store):
            path = path.path
        p = pathlib.Path(path)
        is_file = p.is_file() or (not p.is_dir() and p.suffix in (".sqlite", ".sqlite3", ".db"))
        self.path = p if is_file else p / DB_NAME
        self._conn = None

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ------------------------------------------------------------------ lifecycle
    def exists(self) -> bool:
        """Whether the store file exists (valid or not)."""
        return self.path.exists()

    @classmethod
    def create(cls, path, spec: SweepSpec) -> Store:
        """Create a new store for ``spec`` (atomically: temporary file, then rename).

        Raises
        ------
        StoreError
            The store file already exists.
        """
        store = cls(path)
        if store.exists():
            raise StoreError(f"{store.path}: a store already exists here; it is never overwritten")
        store.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.path.with_name(f"{store.path.name}.tmp-{os.getpid()}")
        for leftover in (tmp, *_sidecars(tmp)):
            leftover.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN")
            for stmt in _DDL.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            meta = {
                "format": FORMAT,
                "format_version": str(FORMAT_VERSION),
                "fingerprint": spec.fingerprint(),
                "identity": canonical_json(spec.identity()),
                "models": json.dumps(spec.model_records(), sort_keys=True),
                "spec": json.dumps(spec.source, sort_keys=True),
                "name": spec.name,
                "created_utc": _now(),
                "created_version": __version__,
            }
            conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            conn.executemany(
                "INSERT INTO points VALUES (?, ?, ?, ?)",
                [(p.point_id, p.index, json.dumps(p.params), json.dumps(list(p.key)))
                 for p in spec.points],
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
        os.replace(tmp, store.path)
        _fsync_dir(store.path.parent)
        return store

    def move_aside(self) -> pathlib.Path:
        """Move the store file (and its WAL files) to ``superseded/<UTC time>/``; return it."""
        self.close()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        dest = self.path.parent / "superseded" / stamp
        dest.mkdir(parents=True, exist_ok=False)
        for f in (self.path, *_sidecars(self.path)):
            if f.exists():
                os.replace(f, dest / f.name)
        _fsync_dir(self.path.parent)
        return dest / self.path.name

    def close(self) -> None:
        """Close the connection (if open)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ validation
    def connect(self) -> sqlite3.Connection:
        """Validate the store and return an open connection to it.

        Raises
        ------
        StoreError
            Missing, truncated or corrupt file, foreign or incompatible schema; the message
            names the file.
        """
        if self._conn is not None:
            return self._conn
        if not self.path.exists():
            raise StoreError(f"{self.path}: no sweep store here (the file does not exist)")
        _check_header(self.path)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
            conn.execute("PRAGMA synchronous=NORMAL")
            rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
            if rows != ["ok"]:
                conn.close()
                raise StoreError(f"{self.path}: corrupt SQLite database: {'; '.join(rows[:5])}")
            _check_schema(conn, self.path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: corrupt or unreadable store ({exc})") from exc
        self._conn = conn
        return conn

    def meta(self) -> dict:
        """The ``meta`` table as a dict."""
        return dict(self.connect().execute("SELECT key, value FROM meta"))

    def check_spec(self, spec: SweepSpec) -> None:
        """Refuse a spec that is not the one this store was created for.

        Raises
        ------
        StoreError
            The spec differs, or one of its models changed since the store was made; the
            message says how (a model's schema or default, seed, runs, shared seeds, points
            added or removed, with examples).
        """
        meta = self.meta()
        diffs = _model_changes(json.loads(meta.get("models", "{}")), spec)
        if meta["fingerprint"] == spec.fingerprint() and not diffs:
            return
        old = json.loads(meta["identity"])
        new = spec.identity()
        diffs += [
            f"{k}: {old[k]!r} in the store, {new[k]!r} now"
            for k in ("seed", "runs", "share_seeds_across") if old[k] != new[k]
        ]
        old_ids, new_ids = set(old["points"]), set(new["points"])
        added = [p for p in spec.points if p.point_id not in old_ids]
        removed = sorted(old_ids - new_ids)
        if added:
            eg = "; ".join(canonical_json(p.params) for p in added[:2])
            diffs.append(f"{len(added)} point(s) not in the store (e.g. {eg})")
        if removed:
            params = self._params_of(removed[:2])
            eg = "; ".join(canonical_json(p) for p in params)
            diffs.append(f"{len(removed)} stored point(s) no longer in the spec (e.g. {eg})")
        if int(meta.get("format_version", "1")) < 2 and (added or removed):
            diffs.append(
                f"the store was made by rmt_icl {meta.get('created_version', '?')} (store "
                "format 1), whose point keys held the parameters at their default value; "
                "since rmt_icl 0.2.0 they are dropped from the keys, so such a store is "
                "refused: re-run the sweep into a new store"
            )
        raise StoreError(
            f"{self.path}: the spec differs from the one this store was created for: "
            + "; ".join(diffs)
            + ". Results of different specs are never mixed: use another store, or "
            "force_new=True / --force-new to move this one aside and start afresh."
        )

    def _params_of(self, ids) -> list:
        conn = self.connect()
        sql = "SELECT params FROM points WHERE point_id = ?"
        return [json.loads(conn.execute(sql, (i,)).fetchone()[0]) for i in ids]

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def lock(self):
        """Hold the store's exclusive writer lock (raises StoreError if another sweep has it)."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+") as fh:
            if fcntl is not None:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as exc:
                    fh.seek(0)
                    holder = fh.read().strip() or "?"
                    raise StoreError(
                        f"{self.path}: another sweep (pid {holder}) is writing this store"
                    ) from exc
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            try:
                yield self
            finally:
                if fcntl is not None:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def record(self, row: dict) -> None:
        """Commit one finished run (a row from :func:`rmt_icl.sweep.worker.execute_task`).

        A run already present (a failed attempt being retried) is replaced and its
        ``attempts`` count incremented.
        """
        self.connect().execute(
            """INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
               ON CONFLICT (point_id, run) DO UPDATE SET
                 status=excluded.status, result=excluded.result, error=excluded.error,
                 traceback=excluded.traceback, wall_time=excluded.wall_time,
                 started_utc=excluded.started_utc, finished_utc=excluded.finished_utc,
                 host=excluded.host, pid=excluded.pid, version=excluded.version,
                 seed=excluded.seed, seed_key=excluded.seed_key, attempts=runs.attempts + 1""",
            (
                row["point_id"], row["run"], row["status"], json.dumps(row["result"]),
                row["error"], row["traceback"], row["wall_time"], row["started_utc"],
                row["finished_utc"], row["host"], row["pid"], row["version"], row["seed"],
                json.dumps(list(row["key"])),
            ),
        )

    # ------------------------------------------------------------------ reading
    def finished(self, *, include_failed: bool = False) -> set:
        """``{(point_id, run)}`` of the runs that need no computing.

        Parameters
        ----------
        include_failed : bool
            Count failed runs as finished too (i.e. do not retry them).
        """
        sql = "SELECT point_id, run FROM runs"
        if not include_failed:
            sql += " WHERE status = 'ok'"
        return set(self.connect().execute(sql))

    def frame(self, *, tracebacks: bool = False) -> pd.DataFrame:
        """The stored runs as a tidy DataFrame, one row per (point, run), sorted.

        Columns: ``point`` (index in the spec), every parameter, ``run``, ``status``,
        ``error``, the model outputs (``icl``, ``idg``, ``theory_icl``, ``theory_idg`` first;
        an output whose name clashes with a parameter or a fixed column is prefixed ``out_``),
        then ``wall_time``, ``seed``, ``key`` (tuple), ``version``, ``host``, ``pid``,
        ``attempts``, ``started_utc``, ``finished_utc``, ``point_id`` (and ``traceback`` if
        asked). ``df.attrs["parameters"]`` lists the parameter columns.
        """
        conn = self.connect()
        points = conn.execute("SELECT point_id, idx, params FROM points ORDER BY idx").fetchall()
        params_of = {pid: (idx, json.loads(p)) for pid, idx, p in points}
        param_names = ["model"]
        for _, (_, p) in params_of.items():
            param_names += [k for k in p if k not in param_names]
        fixed = set(param_names) | set(LEAD_COLUMNS) | set(TAIL_COLUMNS)
        fixed |= {"run", "status", "error", "traceback"}
        records, outputs = [], list(OUTPUT_FIRST)
        for r in conn.execute(
            "SELECT point_id, run, status, result, error, traceback, wall_time, seed, seed_key,"
            " version, host, pid, attempts, started_utc, finished_utc FROM runs"
        ):
            idx, params = params_of[r[0]]
            out = {}
            for k, v in json.loads(r[3]).items():
                name = f"out_{k}" if k in fixed else k
                out[name] = v
                if name not in outputs:
                    outputs.append(name)
            rec = {"point": idx, **params, "run": r[1], "status": r[2], "error": r[4], **out}
            rec.update(
                wall_time=r[6], seed=r[7], key=tuple(json.loads(r[8])), version=r[9], host=r[10],
                pid=r[11], attempts=r[12], started_utc=r[13], finished_utc=r[14], point_id=r[0],
            )
            if tracebacks:
                rec["traceback"] = r[5]
            records.append(rec)
        columns = [*LEAD_COLUMNS, *param_names, "run", "status", "error", *outputs, *TAIL_COLUMNS]
        if tracebacks:
            columns.append("traceback")
        df = pd.DataFrame.from_records(records, columns=columns)
        df = df.sort_values(["point", "run"], ignore_index=True)
        df.attrs["parameters"] = param_names
        df.attrs["store"] = str(self.path)
        return df

    def status(self) -> dict:
        """What is done, failed and missing (computes nothing).

        Returns
        -------
        dict
            ``store``, ``name``, ``points``, ``runs_per_point``, ``runs_total``, ``runs_ok``,
            ``runs_failed``, ``runs_missing``, ``points_complete`` (all runs ok),
            ``points_with_failures``, ``points_untouched`` (no run stored),
            ``points_with_missing_runs``, ``failures`` (up to
            10 ``{"point", "run", "error"}``), ``missing`` (up to 10 ``{"point",
            "runs_missing", "params"}``), ``versions`` (package versions that wrote runs).
        """
        conn = self.connect()
        meta = self.meta()
        runs_per_point = json.loads(meta["identity"])["runs"]
        n_points = conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        counts = dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
        ok, failed = counts.get("ok", 0), counts.get("error", 0)
        per_point = conn.execute(
            "SELECT SUM(status = 'ok'), SUM(status = 'error') FROM runs GROUP BY point_id"
        ).fetchall()
        failures = [
            {"point": i, "run": r, "error": e}
            for i, r, e in conn.execute(
                "SELECT points.idx, runs.run, runs.error FROM runs JOIN points USING (point_id)"
                " WHERE runs.status = 'error' ORDER BY points.idx, runs.run LIMIT 10"
            )
        ]
        missing = [
            {"point": i, "runs_missing": runs_per_point - n, "params": json.loads(p)}
            for i, p, n in conn.execute(
                "SELECT points.idx, points.params, COUNT(runs.run) FROM points LEFT JOIN runs"
                " USING (point_id) GROUP BY points.point_id HAVING COUNT(runs.run) < ?"
                " ORDER BY points.idx LIMIT 10", (runs_per_point,)
            )
        ]
        n_incomplete = conn.execute(
            "SELECT COUNT(*) FROM (SELECT points.point_id FROM points LEFT JOIN runs USING"
            " (point_id) GROUP BY points.point_id HAVING COUNT(runs.run) < ?)", (runs_per_point,)
        ).fetchone()[0]
        versions = [v for (v,) in conn.execute("SELECT DISTINCT version FROM runs ORDER BY 1")]
        return {
            "store": str(self.path),
            "name": meta.get("name", ""),
            "points": n_points,
            "runs_per_point": runs_per_point,
            "runs_total": n_points * runs_per_point,
            "runs_ok": ok,
            "runs_failed": failed,
            "runs_missing": n_points * runs_per_point - ok - failed,
            "points_complete": sum(1 for o, _ in per_point if o == runs_per_point),
            "points_with_failures": sum(1 for _, f in per_point if f),
            "points_untouched": n_points - len(per_point),
            "points_with_missing_runs": n_incomplete,
            "failures": failures,
            "missing": missing,
            "versions": versions,
        }


def load(store, *, tracebacks: bool = False) -> pd.DataFrame:
    """Read a sweep's results back from its store, computing nothing.

    Parameters
    ----------
    store : str, os.PathLike or Store
        The store directory (or its ``results.sqlite``).
    tracebacks : bool
        Add a ``traceback`` column for failed runs.

    Returns
    -------
    pandas.DataFrame
        See :meth:`Store.frame`.

    Raises
    ------
    StoreError
        Missing, corrupt or foreign store (the message names the file).
    """
    st = Store(store)
    try:
        return st.frame(tracebacks=tracebacks)
    finally:
        st.close()


def _model_changes(stored: dict, spec: SweepSpec) -> list:
    """How the models recorded in a store differ from the same models now (one line each).

    A changed schema version counts. A changed default counts when a point of the spec leaves
    that parameter out (its meaning would change under the same key); a parameter added to a
    model (a new default) does not count.
    """
    now = spec.model_records()
    out = []
    for model in sorted(set(stored) & set(now)):
        old, new = stored[model], now[model]
        if old["schema"] != new["schema"]:
            out.append(f"model {model!r}: schema {old['schema']} in the store, "
                       f"{new['schema']} now")
        changed = [k for k in sorted(set(old["defaults"]) & set(new["defaults"]))
                   if old["defaults"][k] != new["defaults"][k]]
        for k in changed:
            if any(p.params["model"] == model and k not in p.params for p in spec.points):
                out.append(f"model {model!r}: default {k} = {old['defaults'][k]!r} in the "
                           f"store, {new['defaults'][k]!r} now (points without {k!r} would "
                           "change meaning)")
    return out


def _check_header(path: pathlib.Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise StoreError(f"{path}: empty file (0 bytes), not a sweep store")
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or head[:16] != SQLITE_MAGIC:
        raise StoreError(f"{path}: not an SQLite database (bad header); not a sweep store")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    wal = pathlib.Path(str(path) + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return  # pages may live in the WAL; SQLite's own checks decide
    n_pages = int.from_bytes(head[28:32], "big")
    header_valid = head[24:28] == head[92:96]
    if size % page_size or (header_valid and n_pages * page_size > size):
        raise StoreError(
            f"{path}: truncated store: the file has {size} bytes but its header describes "
            f"{n_pages} pages of {page_size} bytes"
        )


def _check_schema(conn: sqlite3.Connection, path) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for table, columns in SCHEMA.items():
        if table not in tables:
            raise StoreError(f"{path}: not a sweep store (no table {table!r})")
        have = tuple(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
        if have != columns:
            raise StoreError(f"{path}: table {table!r} has columns {have}, expected {columns}")
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    if meta.get("format") != FORMAT:
        raise StoreError(f"{path}: not a sweep store (format {meta.get('format')!r})")
    version = int(meta.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise StoreError(
            f"{path}: store format version {version} is newer than this rmt_icl supports "
            f"({FORMAT_VERSION}); upgrade rmt_icl"
        )
    for key in ("fingerprint", "identity"):
        if key not in meta:
            raise StoreError(f"{path}: sweep store lacks meta entry {key!r}")


def _sidecars(path: pathlib.Path) -> tuple:
    return (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))


def _fsync_dir(directory: pathlib.Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
