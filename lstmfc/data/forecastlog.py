"""The forecast log: every forecast ``predict`` makes, in SQLite at ``data/forecasts.sqlite``.

One row per (ticker, as_of, target_date, run_id); inserting the same key again is a
no-op (``INSERT OR IGNORE`` on a UNIQUE constraint), so a cron job that runs twice a
day adds no duplicate. Writers take an exclusive :class:`filelock.FileLock` on
``data/forecasts.sqlite.lock`` first; a second run that cannot get it within the
timeout raises :class:`~lstmfc.core.errors.TemporaryFailure` (exit 75) instead of waiting
forever or writing twice. SQLite's own transactions keep the file consistent if the
process dies mid-write.

Columns (units)
---------------
ticker, as_of (ISO date of the last bar used), target_date (ISO date of the forecast
session), horizon (sessions), step (1-based step of a path forecast; 1 otherwise),
run_id, head (a head of :data:`lstmfc.heads.registry.HEADS`), close_as_of (currency),
forecast_price (currency, price head), prob_up (probability, direction head),
details (JSON text: the head's other values, e.g. the drift baseline's forecast),
made_at (UTC ISO timestamp), and, once scored: realised_date, realised_close
(currency), error (realised - forecast, currency), naive_error (realised -
close_as_of, currency), direction_correct (0/1), scored_at.

Schema versions (SQLite ``PRAGMA user_version``)
------------------------------------------------
* 0/1: the first layout, with ``CHECK (head IN ('price', 'direction'))`` and no
  ``step`` or ``details``;
* 2: no CHECK on ``head`` (heads are validated by lstmfc, so new heads need no table
  rebuild), plus ``step`` and ``details``. A version-1 log is rebuilt into version 2
  by the first writer, inside its transaction (all rows kept; readers see the old
  or the new table, never a mix).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lstmfc.core.errors import ArtifactError, TemporaryFailure

LOCK_TIMEOUT_S = 10.0

SCHEMA_VERSION = 2

_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticker TEXT NOT NULL,
    as_of TEXT NOT NULL,
    target_date TEXT NOT NULL,
    horizon INTEGER NOT NULL,
    step INTEGER NOT NULL DEFAULT 1,
    run_id TEXT NOT NULL,
    head TEXT NOT NULL,
    close_as_of REAL NOT NULL,
    forecast_price REAL,
    prob_up REAL,
    details TEXT,
    made_at TEXT NOT NULL,
    realised_date TEXT,
    realised_close REAL,
    error REAL,
    naive_error REAL,
    direction_correct INTEGER,
    scored_at TEXT,
    UNIQUE (ticker, as_of, target_date, run_id)
);
"""
_INDEX = "CREATE INDEX IF NOT EXISTS forecasts_ticker_target ON forecasts (ticker, target_date);"

COLUMNS = (
    "id",
    "ticker",
    "as_of",
    "target_date",
    "horizon",
    "step",
    "run_id",
    "head",
    "close_as_of",
    "forecast_price",
    "prob_up",
    "details",
    "made_at",
    "realised_date",
    "realised_close",
    "error",
    "naive_error",
    "direction_correct",
    "scored_at",
)


class ForecastLog:
    """Access to ``data/forecasts.sqlite``.

    Parameters
    ----------
    path : Path
        The SQLite file; its folder is created on first write.
    lock_timeout : float
        Seconds to wait for the writer lock before raising TemporaryFailure.
    """

    def __init__(self, path: str | Path, lock_timeout: float = LOCK_TIMEOUT_S):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout

    # ------------------------------------------------------------------ plumbing
    def _connect(self) -> sqlite3.Connection:
        """A connection to an existing log (created empty by :meth:`writer` only)."""
        try:
            con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            raise ArtifactError(
                f"forecast log {self.path} is not a usable SQLite file ({exc}); move it "
                "aside to start a new log"
            ) from None
        con.row_factory = sqlite3.Row
        return con

    def check(self) -> None:
        """Raise :class:`~lstmfc.core.errors.ArtifactError` now if the log exists but is not
        a usable SQLite file (``predict`` checks before forecasting anything)."""
        if self.path.exists():
            self._connect().close()

    def _ensure_schema(self, con: sqlite3.Connection) -> None:
        """Create the table, or rebuild a version-1 table into version 2 (in the
        caller's transaction, under the writer lock)."""
        version = con.execute("PRAGMA user_version").fetchone()[0]
        exists = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='forecasts'"
        ).fetchone()
        if exists and version < SCHEMA_VERSION:
            old = [r[1] for r in con.execute("PRAGMA table_info(forecasts)")]
            con.execute(_TABLE.format(name="forecasts_v2"))
            cols = ", ".join(c for c in COLUMNS if c in old)
            con.execute(f"INSERT INTO forecasts_v2 ({cols}) SELECT {cols} FROM forecasts")
            con.execute("DROP TABLE forecasts")
            con.execute("ALTER TABLE forecasts_v2 RENAME TO forecasts")
        elif not exists:
            con.execute(_TABLE.format(name="forecasts"))
        con.execute(_INDEX)
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def writer(self) -> Iterator[sqlite3.Connection]:
        """Exclusive writer: file lock, then one SQLite transaction (committed on success).

        Creates the log, or migrates an older one (module docstring), first.

        Raises
        ------
        TemporaryFailure
            If another run holds the lock for longer than ``lock_timeout`` seconds.
        ArtifactError
            The file is not a usable SQLite database.
        """
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock_path, timeout=self.lock_timeout)
        try:
            lock.acquire()
        except Timeout as exc:
            raise TemporaryFailure(
                f"forecast log is locked by another lstmfc run ({self.lock_path}); try again later"
            ) from exc
        try:
            con = self._connect()
            try:
                con.execute("BEGIN IMMEDIATE")
                self._ensure_schema(con)
                yield con
                con.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise ArtifactError(
                    f"forecast log {self.path} is not a usable SQLite file ({exc}); move it "
                    "aside to start a new log"
                ) from None
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            finally:
                con.close()
        finally:
            lock.release()

    # ------------------------------------------------------------------ writes
    def add(self, con: sqlite3.Connection, row: dict[str, Any]) -> bool:
        """Insert one forecast inside a :meth:`writer` transaction.

        Returns
        -------
        bool
            True if a new row was added, False if that (ticker, as_of, target_date,
            run_id) was already logged (idempotent re-run).
        """
        cols = [c for c in COLUMNS if c in row and c != "id"]
        sql = (
            f"INSERT OR IGNORE INTO forecasts ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})"
        )
        cur = con.execute(sql, [row[c] for c in cols])
        return cur.rowcount == 1

    # ------------------------------------------------------------------ reads
    def rows(self, ticker: str | None = None, unscored_only: bool = False) -> list[dict[str, Any]]:
        """All logged forecasts (oldest first), optionally for one ticker.

        Rows of a version-1 log (not yet migrated by a writer) get ``step`` 1 and
        ``details`` None, so every row has every column of :data:`COLUMNS`.

        Raises
        ------
        ArtifactError
            The file is not a usable SQLite database.
        """
        if not self.path.exists():
            return []
        con = self._connect()
        try:
            if not con.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='forecasts'"
            ).fetchone():
                return []
            sql = "SELECT * FROM forecasts"
            where, args = [], []
            if ticker:
                where.append("ticker = ?")
                args.append(ticker)
            if unscored_only:
                where.append("realised_close IS NULL")
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += " ORDER BY ticker, as_of, target_date, run_id"
            out = []
            for r in con.execute(sql, args):
                d = {c: None for c in COLUMNS}
                d["step"] = 1
                d.update(dict(r))
                out.append(d)
            return out
        except sqlite3.DatabaseError as exc:
            raise ArtifactError(
                f"forecast log {self.path} is not a usable SQLite file ({exc}); move it "
                "aside to start a new log"
            ) from None
        finally:
            con.close()
