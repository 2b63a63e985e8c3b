"""`lstmfc prepare` through the CLI: table, --json, exit codes and exact error lines."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from tests.conftest import make_ohlcv

runner = CliRunner()


def _store(ticker: str, frame) -> Workspace:
    ws = Workspace.resolve()
    write_raw(ws.raw_path(ticker), frame, {"source": "test"})
    return ws


def test_prepare_prints_split_table(workspace):
    _store("ABC", make_ohlcv(400))
    result = runner.invoke(app, ["prepare", "ABC", "--lookback", "30", "--features", "close"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "ABC: 370 windows of 30 rows x 1 features, horizon 1" in out
    assert "│ train │     259 │ 70.0% │  2020-02-12 │  2021-02-08 │  29..287 │        0.0% │" in out
    assert "│ val   │      55 │ 14.9% │  2021-02-09 │  2021-04-26 │ 288..342 │        4.8% │" in out
    assert "│ test  │      56 │ 15.1% │  2021-04-27 │  2021-07-13 │ 343..398 │       11.8% │" in out
    assert "rows 0..287" in out and "data_max" in out
    assert (workspace / "data" / "prepared" / "ABC" / "prepare.json").is_file()


def test_prepare_json_is_the_prepare_json_document(workspace):
    _store("ABC", make_ohlcv(300))
    result = runner.invoke(
        app,
        ["prepare", "abc", "--json", "--features", "close,logret,rsi", "--horizon", "2"],
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    on_disk = json.loads((workspace / "data/prepared/ABC/prepare.json").read_text())
    assert doc == on_disk
    assert doc["lookback"] == 60 and doc["horizon"] == 2
    assert doc["features"] == ["close", "logret", "rsi"]
    assert doc["scaler"]["feature_names"] == ["close", "logret", "rsi_14"]
    for name in ("train", "val", "test"):
        assert {"n", "start", "end"} <= set(doc["split"][name])
    assert len(doc["scaler"]["data_min"]) == len(doc["scaler"]["data_max"]) == 3


def test_home_option(tmp_path):
    home = tmp_path / "elsewhere"
    write_raw(Workspace(home).raw_path("ABC"), make_ohlcv(200), {"source": "test"})
    result = runner.invoke(app, ["prepare", "ABC", "--home", str(home), "--json"])
    assert result.exit_code == 0, result.stderr
    assert (home / "data/prepared/ABC/features.parquet").is_file()


@pytest.mark.parametrize(
    "args, rows, code, line",
    [
        (["prepare", "NOPE"], None, 1,
         "Error: no data for NOPE; run `lstmfc fetch NOPE` first"),
        (["prepare", "ABC", "--features", "close,foo"], 300, 1,
         "Error: unknown feature 'foo'; valid features: close, ohlcv, logret, volume, rsi, "
         "macd, bbp, absret, sqret, logrange, rv5, rv22, garch"),
        (["prepare", "ABC", "--split", "0.7,0.2,0.2"], 300, 1,
         "Error: split fractions 0.7,0.2,0.2 sum to 1.1, not 1"),
        (["prepare", "ABC", "--split", "0.85,0,0.15"], 300, 1,
         "Error: split 0.85,0,0.15 leaves the val split empty"),
        (["prepare", "ABC", "--split", "x,y,z"], 300, 2,
         "Error: --split 'x,y,z' is not a comma list of numbers (e.g. 0.70,0.15,0.15)"),
        (["prepare", "ABC"], 63, 1,
         "Error: ABC: need at least 65 rows, got 63 (lookback 60, horizon 1, 1 warm-up rows, "
         "4 windows for a 0.70/0.15/0.15 split)"),
        (["prepare", "ABC", "--features", "rsi", "--lookback", "10", "--horizon", "5"], 30, 1,
         "Error: ABC: need at least 32 rows, got 30 (lookback 10, horizon 5, 14 warm-up rows, "
         "4 windows for a 0.70/0.15/0.15 split)"),
        (["prepare", "A/B"], None, 2,
         "Error: invalid ticker 'A/B': use letters, digits and . - ^ = _ (e.g. AAPL, BRK-B, "
         "^GSPC)"),
    ],
)  # fmt: skip
def test_errors_exit_code_and_exact_line(workspace, args, rows, code, line):
    if rows is not None:
        _store("ABC", make_ohlcv(rows))
    result = runner.invoke(app, args)
    assert result.exit_code == code
    assert result.stderr == line + "\n"
    assert result.stdout == ""
    assert not (workspace / "data" / "prepared").exists() or not any(
        (workspace / "data" / "prepared").iterdir()
    )


def test_zero_range_feature_error_line(workspace):
    frame = make_ohlcv(200)
    frame["volume"] = 0.0
    _store("ABC", frame)
    result = runner.invoke(app, ["prepare", "ABC", "--features", "close,volume", "--json"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: feature 'volume_log1p' has zero range in the training rows "
        "(2020-01-01 to 2020-08-06, all 0); remove it from --features\n"
    )
    assert result.stdout == ""


def test_error_keeps_previous_dataset(workspace):
    _store("ABC", make_ohlcv(300))
    assert runner.invoke(app, ["prepare", "ABC"]).exit_code == 0
    before = (workspace / "data/prepared/ABC/prepare.json").read_bytes()
    result = runner.invoke(app, ["prepare", "ABC", "--features", "nope"])
    assert result.exit_code == 1
    assert (workspace / "data/prepared/ABC/prepare.json").read_bytes() == before


def test_lookback_below_one_is_a_usage_error(workspace):
    _store("ABC", make_ohlcv(300))
    result = runner.invoke(app, ["prepare", "ABC", "--lookback", "0"])
    assert result.exit_code == 2
    assert "--lookback" in result.stderr
