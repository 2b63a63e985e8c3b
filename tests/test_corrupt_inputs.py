"""Corrupt inputs: one line on stderr, exit 1, and nothing changed on disk."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from tests.conftest import make_ohlcv

runner = CliRunner()


def _snapshot(home):
    """Every file under the workspace with its bytes."""
    return {p: p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


def _one_line_exit_1(res, needle: str) -> None:
    assert res.exit_code == 1, res.output
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error: "), res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr


@pytest.fixture
def trained(workspace):
    """A workspace with a stored series, a prepared dataset, a bundle and a logged forecast."""
    ws = Workspace.resolve(workspace)
    write_raw(ws.raw_path("SYN"), make_ohlcv(300), {"source": "test"})
    args = ["--units", "4", "--dense", "0", "--epochs", "1", "--seed", "1"]
    assert runner.invoke(app, ["prepare", "SYN", "--lookback", "10"]).exit_code == 0
    assert runner.invoke(app, ["train", "SYN", *args]).exit_code == 0
    res = runner.invoke(app, ["predict", "SYN", "--no-update", "--calendar", "weekdays"])
    assert res.exit_code == 0, res.output
    return ws


@pytest.mark.parametrize(
    "args",
    [
        ["prepare", "SYN", "--lookback", "10"],
        ["predict", "SYN", "--no-update", "--calendar", "weekdays"],
        ["backtest", "SYN", "--lookback", "10", "--units", "4", "--epochs", "1"],
    ],
    ids=["prepare", "predict", "backtest"],
)
def test_truncated_raw_parquet(trained, args):
    path = trained.raw_path("SYN")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = _snapshot(trained.home)
    res = runner.invoke(app, args)
    _one_line_exit_1(res, "cannot read")
    assert _snapshot(trained.home) == before


def test_unreadable_provenance_json(trained):
    path = trained.raw_path("SYN")
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"lstmfc"] = b"{not json"
    pq.write_table(table.replace_schema_metadata(meta), path)
    before = _snapshot(trained.home)
    for args in (
        ["prepare", "SYN", "--lookback", "10"],
        ["predict", "SYN", "--no-update", "--calendar", "weekdays"],
    ):
        res = runner.invoke(app, args)
        _one_line_exit_1(res, "provenance metadata is not JSON")
    assert _snapshot(trained.home) == before
    # a provenance that is JSON but not an object is refused the same way
    meta[b"lstmfc"] = json.dumps([1, 2]).encode()
    pq.write_table(
        pa.Table.from_batches(table.to_batches(), table.schema).replace_schema_metadata(meta), path
    )
    _one_line_exit_1(runner.invoke(app, ["prepare", "SYN"]), "not a JSON object")


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "SYN", "--no-update", "--calendar", "weekdays"],
        ["forecasts"],
        ["score"],
    ],
    ids=["predict", "forecasts", "score"],
)
def test_forecast_log_that_is_not_sqlite(trained, args):
    trained.forecast_db.write_bytes(b"SQLite format 2\x00" + b"garbage" * 500)
    for side in ("-wal", "-shm"):
        p = trained.forecast_db.with_name(trained.forecast_db.name + side)
        p.unlink(missing_ok=True)
    before = _snapshot(trained.home)
    res = runner.invoke(app, args)
    _one_line_exit_1(res, "not a usable SQLite file")
    assert _snapshot(trained.home) == before
