"""Close-only daily series (dates and closes, e.g. a FRED export) through the CSV import.

The series are real: the first 400 closes of the bundled SP500 sample (Yahoo ^GSPC),
written as a plain ``Date,Close`` file, an ``Adj Close``-only file and a FRED-style
``observation_date,SP500`` export with ``.`` for missing days.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import yfinance
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.core.errors import DataError
from lstmfc.data.sources.sample import read_sample
from lstmfc.data.store import read_raw
from lstmfc.data.validate import validate_ohlcv
from lstmfc.dataset.features import build_features
from lstmfc.dataset.prepare import load_prepared, prepare
from tests.yahoo_fakes import FakeTicker

runner = CliRunner()

N = 400
#: Rows written as FRED's "." in the FRED file (every 37th row from row 5: 11 rows).
DOT_ROWS = list(range(5, N, 37))


@pytest.fixture(scope="module")
def sp500() -> pd.DataFrame:
    return read_sample("SP500")[0].iloc[:N]


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _write(tmp_path, text: str, name: str = "x.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _close_csv(sp500, header: str = "Date,Close") -> str:
    return header + "\n" + "".join(f"{_day(d)},{c!r}\n" for d, c in sp500["close"].items())


def _fred_csv(sp500, missing: str = ".", header: str = "observation_date,SP500") -> str:
    rows = [
        f"{_day(d)},{missing if i in DOT_ROWS else repr(c)}"
        for i, (d, c) in enumerate(sp500["close"].items())
    ]
    return header + "\n" + "\n".join(rows) + "\n"


def _fetch(name: str, path, *extra: str):
    return runner.invoke(app, ["fetch", name, "--source", "csv", "--path", str(path), *extra])


def _raw_path(name: str):
    return Workspace.resolve().raw_path(name)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ imports
def test_date_close_csv_imports_as_close_only(tmp_path, sp500):
    res = _fetch("SPX", _write(tmp_path, _close_csv(sp500)), "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["rows"], doc["status"], doc["close_only"], doc["dropped_missing"]) == (
        N,
        "written",
        True,
        0,
    )
    frame, prov = read_raw(_raw_path("SPX"))
    assert list(frame.columns) == ["close"]  # open/high/low/volume absent, not NaN
    assert frame.index.equals(sp500.index)
    np.testing.assert_array_equal(frame["close"].to_numpy(), sp500["close"].to_numpy())
    assert prov["close_only"] is True and prov["columns"] == ["close"]
    assert prov["layout"] == "close" and prov["dropped_missing"] == 0
    assert prov["close_from"] == "Close" and prov["adjusted"] is False


def test_adj_close_only_becomes_the_close_and_is_recorded(tmp_path, sp500):
    res = _fetch("SPXA", _write(tmp_path, _close_csv(sp500, "date,Adj Close")))
    assert res.exit_code == 0, res.output
    frame, prov = read_raw(_raw_path("SPXA"))
    assert list(frame.columns) == ["close"] and len(frame) == N
    np.testing.assert_array_equal(frame["close"].to_numpy(), sp500["close"].to_numpy())
    assert prov["close_from"] == "Adj Close" and prov["adjusted"] is True
    assert prov["close_only"] is True


def test_close_adj_close_and_volume_keep_their_columns(tmp_path, sp500):
    text = "Date,Close,Adj Close,Volume\n" + "".join(
        f"{_day(d)},{c!r},{c * 0.9!r},{v!r}\n"
        for d, c, v in zip(sp500.index, sp500["close"], sp500["volume"], strict=True)
    )
    assert _fetch("SPXV", _write(tmp_path, text)).exit_code == 0
    frame, prov = read_raw(_raw_path("SPXV"))
    assert list(frame.columns) == ["close", "volume", "adj_close"]
    np.testing.assert_array_equal(frame["volume"].to_numpy(), sp500["volume"].to_numpy())
    assert prov["close_only"] is True and prov["columns"] == ["close", "volume", "adj_close"]


@pytest.mark.parametrize(
    "missing,header",
    [(".", "observation_date,SP500"), ("", "DATE,SP500")],
    ids=["dot-observation_date", "empty-DATE"],
)
def test_fred_export_drops_and_counts_missing_days(tmp_path, sp500, missing, header):
    p = _write(tmp_path, _fred_csv(sp500, missing, header))
    res = _fetch("SP500F", p, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["rows"], doc["dropped_missing"], doc["close_only"]) == (N - 11, 11, True)
    frame, prov = read_raw(_raw_path("SP500F"))
    keep = np.ones(N, dtype=bool)
    keep[DOT_ROWS] = False
    assert list(frame.columns) == ["close"]
    assert frame.index.equals(sp500.index[keep])
    np.testing.assert_array_equal(frame["close"].to_numpy(), sp500["close"].to_numpy()[keep])
    assert prov["layout"] == "fred" and prov["close_from"] == "SP500"
    assert prov["dropped_missing"] == 11


def test_fred_dropped_count_is_the_one_inside_start_end(tmp_path, sp500):
    p = _write(tmp_path, _fred_csv(sp500))
    start, end = _day(sp500.index[100]), _day(sp500.index[199])
    res = _fetch("SP500F", p, "--start", start, "--end", end, "--json")
    assert res.exit_code == 0, res.output
    inside = [i for i in DOT_ROWS if 100 <= i <= 199]  # rows 116, 153, 190
    assert json.loads(res.stdout)["dropped_missing"] == len(inside) == 3
    assert json.loads(res.stdout)["rows"] == 100 - 3


def test_reimporting_the_same_file_is_unchanged_and_byte_identical(tmp_path, sp500):
    p = _write(tmp_path, _fred_csv(sp500))
    assert _fetch("SP500F", p).exit_code == 0
    before = _sha(_raw_path("SP500F"))
    res = _fetch("SP500F", p, "--json")
    doc = json.loads(res.stdout)
    assert (doc["status"], doc["dropped_missing"]) == ("unchanged", 11)
    assert _sha(_raw_path("SP500F")) == before


def test_yahoo_update_of_a_close_only_series_is_refused(tmp_path, sp500, monkeypatch):
    assert _fetch("SPX", _write(tmp_path, _close_csv(sp500))).exit_code == 0
    before = _sha(_raw_path("SPX"))

    FakeTicker.calls, FakeTicker.script = [], []
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)  # Yahoo must not be asked
    res = runner.invoke(app, ["fetch", "SPX"])
    assert FakeTicker.calls == []
    assert res.exit_code == 1
    assert res.stderr == (
        "Error: SPX: the stored series came from csv, not Yahoo; use "
        "`lstmfc fetch SPX --source yahoo --refresh` to replace it\n"
    )
    assert _sha(_raw_path("SPX")) == before


# ------------------------------------------------------------------ downstream
@pytest.mark.parametrize("features,warmup", [("logret", 1), ("rsi", 14), ("macd", 33)])
def test_prepare_works_on_a_close_only_series(tmp_path, sp500, features, warmup):
    assert _fetch("SP500F", _write(tmp_path, _fred_csv(sp500))).exit_code == 0
    ws = Workspace.resolve()
    meta = prepare(ws, "SP500F", features=features)
    assert meta["warmup_rows_dropped"] == warmup
    assert meta["n_rows"] == N - 11 - warmup
    prep = load_prepared(ws, "SP500F")
    keep = np.ones(N, dtype=bool)
    keep[DOT_ROWS] = False
    c = sp500["close"].to_numpy()[keep]
    np.testing.assert_array_equal(prep.targets["close"].to_numpy(), c[warmup:])
    # target log return h=1, computed here from the sample's closes
    np.testing.assert_allclose(
        prep.targets["target_logret"].to_numpy()[:-1], np.log(c[warmup + 1 :] / c[warmup:-1])
    )
    if features == "logret":
        unscaled = prep.scaler.inverse_transform(prep.features.to_numpy(dtype="float64"))
        np.testing.assert_allclose(unscaled[:, 0], np.log(c[1:] / c[:-1]), atol=1e-6)


def test_close_and_bbp_features_work_too(tmp_path, sp500):
    assert _fetch("SPX", _write(tmp_path, _close_csv(sp500))).exit_code == 0
    meta = prepare(Workspace.resolve(), "SPX", features="close,bbp")
    assert meta["feature_names"] == ["close", "bb_pctb"] and meta["warmup_rows_dropped"] == 19


@pytest.mark.parametrize(
    "features,column",
    [("ohlcv", "open"), ("volume", "volume"), ("logret,ohlcv", "open")],
)
def test_features_needing_ohlc_or_volume_refuse_with_one_line(tmp_path, sp500, features, column):
    assert _fetch("SPX", _write(tmp_path, _close_csv(sp500))).exit_code == 0
    ws = Workspace.resolve()
    feature = features.split(",")[-1]
    with pytest.raises(DataError) as exc:
        prepare(ws, "SPX", features=features)
    assert str(exc.value) == (
        f"feature {feature!r} needs the {column!r} column, which this close-only series "
        "does not have (features it supports: close, logret, rsi, macd, bbp, absret, sqret, "
        "rv5, rv22, garch)"
    )
    assert not ws.prepared_path("SPX").exists()


def test_volume_works_when_the_close_only_file_has_volume(sp500):
    raw = sp500[["close", "volume"]]
    frame, warm = build_features(raw, "volume")
    assert warm == 0
    np.testing.assert_array_equal(frame["volume_log1p"], np.log1p(sp500["volume"].to_numpy()))
    with pytest.raises(DataError) as exc:
        build_features(raw, "ohlcv")
    assert str(exc.value) == (
        "feature 'ohlcv' needs the 'open' column, which this close-only series does not "
        "have (features it supports: close, logret, volume, rsi, macd, bbp, absret, sqret, "
        "rv5, rv22, garch)"
    )


def test_cli_prepare_ohlcv_on_a_close_only_series(tmp_path, sp500):
    assert _fetch("SPX", _write(tmp_path, _close_csv(sp500))).exit_code == 0
    res = runner.invoke(app, ["prepare", "SPX", "--features", "ohlcv"])
    assert res.exit_code == 1
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error:")
    assert "'open'" in res.stderr and "'ohlcv'" in res.stderr and "close-only" in res.stderr


# ------------------------------------------------------------------ bad inputs
BAD = [
    (
        "two-unknown-columns",
        "observation_date,SP500,DJIA\n2020-01-02,3257.85,28868.80\n",
        "x.csv: 2 unrecognised value columns 'SP500', 'DJIA' (a close-only file needs a "
        "Close or Adj Close column, or exactly one value column as in a FRED export)",
    ),
    (
        "partial-ohlc",
        "Date,Open,Close\n2020-01-02,3244.67,3257.85\n",
        "x.csv: missing required column 'high'",
    ),
    (
        "fred-all-dots",
        "observation_date,SP500\n2020-01-01,.\n2020-01-02,.\n2020-01-03,.\n",
        "x.csv: every SP500 value is missing (3 rows of '.' or empty cells); no prices to import",
    ),
    (
        "fred-non-numeric",
        "observation_date,SP500\n2020-01-02,3257.85\n2020-01-03,n.a.\n",
        "x.csv: SP500 is not a number ('n.a.') on 2020-01-03",
    ),
    (
        "close-non-numeric",
        "Date,Close\n2020-01-02,3257.85\n2020-01-03,abc\n",
        "x.csv: close is not a number ('abc') on 2020-01-03",
    ),
    (
        "close-only-extra-column",
        "Date,Close,Notes\n2020-01-02,3257.85,ok\n",
        "x.csv: unrecognised column 'Notes' (a close-only file has Date, Close and/or "
        "Adj Close, and optionally Volume)",
    ),
    (
        "no-price-column",
        "Date,Volume\n2020-01-02,100\n",
        "x.csv: no price column (expected Close, Adj Close, Open/High/Low/Close, or one "
        "value column as in a FRED export)",
    ),
    (
        "zero-close",
        "DATE,DFF\n2020-01-02,1.55\n2020-01-03,0\n",
        "x.csv: DFF <= 0 on 2020-01-03 (0)",
    ),
    (
        "volume-missing-on-a-priced-day",
        "Date,Close,Volume\n2020-01-02,3257.85,100\n2020-01-03,3234.85,\n",
        "x.csv: volume is missing (NaN) on 2020-01-03",
    ),
    (
        "duplicate-date-after-drop",
        "observation_date,SP500\n2020-01-02,3257.85\n2020-01-03,.\n2020-01-02,3234.85\n",
        "x.csv: duplicate date 2020-01-02",
    ),
    (
        "two-date-columns",
        "Date,observation_date,SP500\n2020-01-02,2020-01-02,3257.85\n",
        "x.csv: columns 'Date' and 'observation_date' both mean 'date'",
    ),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_close_only_files_refuse_with_one_line_and_write_nothing(
    workspace, tmp_path, sp500, name, text, message
):
    res = _fetch("SPX", _write(tmp_path, text))
    assert res.exit_code == 1, res.output
    assert res.stderr == f"Error: SPX: {message}\n"
    assert res.stdout == ""
    assert not _raw_path("SPX").exists()
    # an existing stored series stays byte-identical
    assert _fetch("SPX", _write(tmp_path, _close_csv(sp500), "good.csv")).exit_code == 0
    before = _sha(_raw_path("SPX"))
    res = _fetch("SPX", _write(tmp_path, text))
    assert res.exit_code == 1
    assert _sha(_raw_path("SPX")) == before
    assert sorted(p.name for p in _raw_path("SPX").parent.iterdir()) == ["SPX.parquet"]


# ------------------------------------------------------------------ validate_ohlcv
def test_validate_close_only_applies_the_rules_of_the_columns_present(sp500):
    frame = sp500[["volume", "close"]].copy()
    out = validate_ohlcv(frame, "T")
    assert list(out.columns) == ["close", "volume"] and (out.dtypes == "float64").all()
    bad = frame.copy()
    bad.iloc[3, bad.columns.get_loc("volume")] = -1.0
    with pytest.raises(DataError, match=rf"^T: negative volume on {_day(frame.index[3])} "):
        validate_ohlcv(bad, "T")
    bad = frame.copy()
    bad.iloc[7, bad.columns.get_loc("close")] = np.inf
    with pytest.raises(DataError, match=rf"^T: close is not finite on {_day(frame.index[7])}$"):
        validate_ohlcv(bad, "T")
    with pytest.raises(DataError, match="^T: duplicate date"):
        validate_ohlcv(pd.concat([frame.iloc[:3], frame.iloc[2:4]]), "T")
    with pytest.raises(DataError, match="^T: missing required column 'close'$"):
        validate_ohlcv(frame[["volume"]], "T")
    with pytest.raises(DataError, match="^T: missing required column 'high'$"):
        validate_ohlcv(sp500[["open", "close", "volume"]], "T")
