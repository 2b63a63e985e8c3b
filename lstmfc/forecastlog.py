"""The forecast log: every forecast ``predict`` makes, in SQLite at ``data/forecasts.sqlite``.

One row per (ticker, as_of, target_date, run_id); inserting the same key again is a
no-op (``INSERT OR IGNORE`` on a UNIQUE constraint), so a cron job that runs twice a
day adds no duplicate. Writers take an exclusive :class:`filelock.FileLock` on
``data/forecasts.sqlite.lock`` first; a second run that cannot get it within the
timeout raises :class:`~lstmfc.errors.TemporaryFailure` (exit 75) instead of waiting
forever or writing twice. SQLite's own transactions keep the file consistent if the
process dies mid-write.

Columns (units)
---------------
ticker, as_of (ISO date of the last bar used), target_date (ISO date of the forecast
session), horizon (sessions), run_id, head (``price`` | ``direction``), close_as_of
(currency), forecast_price (currency, price head), prob_up (probability, direction
head), made_at (UTC ISO timestamp), and, once scored: realised_date, realised_close
(currency), error (realised - forecast, currency), naive_error (realised -
close_as_of, currency), direction_correct (0/1), scored_at.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lstmfc.errors import ArtifactError, TemporaryFailure

LOCK_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS forecasts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticker TEXT NOT NULL,
    as_of TEXT NOT NULL,
    target_date TEXT NOT NULL,
    horizon INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    head TEXT NOT NULL CHECK (head IN ('price', 'direction')),
    close_as_of REAL NOT NULL,
    forecast_price REAL,
    prob_up REAL,
    made_at TEXT NOT NULL,
    realised_date TEXT,
    realised_close REAL,
    error REAL,
    naive_error REAL,
    direction_correct INTEGER,
    scored_at TEXT,
    UNIQUE (ticker, as_of, target_date, run_id)
);
CREATE INDEX IF NOT EXISTS forecasts_ticker_target ON forecasts (ticker, target_date);
"""

COLUMNS = (
    "id",
    "ticker",
    "as_of",
    "target_date",
    "horizon",
    "run_id",
    "head",
    "close_as_of",
    "forecast_price",
    "prob_up",
    "made_at",
    "realised_date",
    "realised_close",
    "error",
    "naive_error",
    "direction_correct",
    "scored_at",
)


def utc_now_iso() -> str:
    """Current UTC time, ISO 8601 with seconds."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


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
        try:
            con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ArtifactError(
                f"forecast log {self.path} is not a usable SQLite file: {exc}"
            ) from exc
        con.row_factory = sqlite3.Row
        return con

    @contextlib.contextmanager
    def writer(self) -> Iterator[sqlite3.Connection]:
        """Exclusive writer: file lock, then one SQLite transaction (committed on success).

        Raises
        ------
        TemporaryFailure
            If another run holds the lock for longer than ``lock_timeout`` seconds.
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
                yield con
                con.execute("COMMIT")
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
        """All logged forecasts (oldest first), optionally for one ticker."""
        if not self.path.exists():
            return []
        con = self._connect()
        try:
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
            return [dict(r) for r in con.execute(sql, args)]
        finally:
            con.close()
