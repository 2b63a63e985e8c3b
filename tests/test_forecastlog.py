"""Forecast log: idempotent inserts, concurrent writers, lock contention -> exit 75 kind."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import pytest
from filelock import FileLock

from lstmfc.core.errors import TemporaryFailure
from lstmfc.data.forecastlog import ForecastLog


def _row(i: int, run_id: str = "r1") -> dict:
    return {
        "ticker": "SP500",
        "as_of": f"2018-01-{(i % 28) + 1:02d}",
        "target_date": f"2018-02-{(i % 28) + 1:02d}",
        "horizon": 1,
        "run_id": run_id,
        "head": "price",
        "close_as_of": 100.0 + i,
        "forecast_price": 101.0 + i,
        "made_at": "2018-01-01T00:00:00+00:00",
    }


def _writer(path: str, run_id: str, n: int) -> None:
    log = ForecastLog(path, lock_timeout=60)
    for i in range(n):
        with log.writer() as con:
            log.add(con, _row(i, run_id))


def test_same_forecast_twice_adds_no_duplicate(tmp_path):
    log = ForecastLog(tmp_path / "f.sqlite")
    with log.writer() as con:
        assert log.add(con, _row(1)) is True
    with log.writer() as con:
        assert log.add(con, _row(1)) is False
    rows = log.rows()
    assert len(rows) == 1
    assert rows[0]["forecast_price"] == 102.0


def test_failed_transaction_writes_nothing(tmp_path):
    log = ForecastLog(tmp_path / "f.sqlite")
    with pytest.raises(RuntimeError):
        with log.writer() as con:
            log.add(con, _row(1))
            raise RuntimeError("boom")
    assert log.rows() == []


def test_two_processes_writing_at_once_neither_corrupt_nor_duplicate(tmp_path):
    path = str(tmp_path / "f.sqlite")
    ctx = mp.get_context("spawn")
    # both write the same 28 keys for run r1, and 28 keys of their own run id
    procs = [ctx.Process(target=_writer, args=(path, rid, 28)) for rid in ("r1", "r1", "r2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = con.execute("SELECT count(*) FROM forecasts").fetchone()[0]
    con.close()
    assert n == 56


def test_lock_held_by_another_run_is_a_temporary_failure(tmp_path):
    log = ForecastLog(tmp_path / "f.sqlite", lock_timeout=0.2)
    with FileLock(log.lock_path):
        with pytest.raises(TemporaryFailure, match="locked by another lstmfc run"):
            with log.writer() as con:
                log.add(con, _row(1))
    assert log.rows() == []


_V1 = """
CREATE TABLE forecasts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticker TEXT NOT NULL, as_of TEXT NOT NULL, target_date TEXT NOT NULL,
    horizon INTEGER NOT NULL, run_id TEXT NOT NULL,
    head TEXT NOT NULL CHECK (head IN ('price', 'direction')),
    close_as_of REAL NOT NULL, forecast_price REAL, prob_up REAL, made_at TEXT NOT NULL,
    realised_date TEXT, realised_close REAL, error REAL, naive_error REAL,
    direction_correct INTEGER, scored_at TEXT,
    UNIQUE (ticker, as_of, target_date, run_id)
);
"""


def test_a_version_1_log_is_migrated_by_the_first_writer(tmp_path):
    """A log written by the first lstmfc (CHECK on head, no step/details) keeps every row,
    reads before migration, and afterwards accepts any head name and the new columns."""
    path = tmp_path / "f.sqlite"
    con = sqlite3.connect(path)
    con.executescript(_V1)
    con.execute(
        "INSERT INTO forecasts (ticker, as_of, target_date, horizon, run_id, head, "
        "close_as_of, forecast_price, made_at, realised_close, error) "
        "VALUES ('OLD', '2018-01-02', '2018-01-03', 1, 'r0', 'price', 10.0, 11.0, 'x', 12.0, 1.0)"
    )
    con.commit()
    con.close()
    log = ForecastLog(path)
    before = log.rows()
    assert len(before) == 1 and before[0]["step"] == 1 and before[0]["details"] is None
    with log.writer() as con:
        assert log.add(con, {**_row(1), "head": "vol", "details": '{"x": 1}'}) is True
    rows = log.rows()
    assert [r["ticker"] for r in rows] == ["OLD", "SP500"]
    assert rows[0]["error"] == 1.0 and rows[0]["realised_close"] == 12.0
    assert rows[1]["head"] == "vol" and rows[1]["details"] == '{"x": 1}'
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    assert (
        "CHECK"
        not in con.execute("SELECT sql FROM sqlite_master WHERE name='forecasts'").fetchone()[0]
    )
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_file_that_is_not_sqlite_is_one_line_and_untouched(tmp_path):
    from lstmfc.core.errors import ArtifactError

    path = tmp_path / "f.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    log = ForecastLog(path)
    for call in (log.check, log.rows):
        with pytest.raises(ArtifactError, match="not a usable SQLite file"):
            call()
    with pytest.raises(ArtifactError, match="not a usable SQLite file"):
        with log.writer() as con:
            log.add(con, _row(1))
    assert path.read_bytes() == before
