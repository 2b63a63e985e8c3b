"""Forecast log: idempotent inserts, concurrent writers, lock contention -> exit 75 kind."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import pytest
from filelock import FileLock

from lstmfc.errors import TemporaryFailure
from lstmfc.forecastlog import ForecastLog


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
