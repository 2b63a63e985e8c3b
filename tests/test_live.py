"""Live windows for ``predict``: rebuilt from a raw series with the stored features and
the STORED scaler, equal to the prepared windows, causal, and refused in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmfc.core.config import Workspace
from lstmfc.core.errors import DataError
from lstmfc.data.store import write_raw
from lstmfc.dataset.live import window_from_raw, windows_from_raw
from lstmfc.dataset.prepare import load_prepared, prepare
from lstmfc.dataset.scaling import MinMaxParams
from tests.conftest import make_ohlcv


def _ws() -> Workspace:
    return Workspace.resolve()  # LSTMFC_HOME -> the per-test tmp folder (conftest)


def _store(ws: Workspace, ticker: str, frame: pd.DataFrame) -> None:
    write_raw(ws.raw_path(ticker), frame, {"source": "test"})


def test_window_from_raw_matches_prepared_and_never_refits():
    ws = _ws()
    raw = make_ohlcv(400, seed=5)
    _store(ws, "ABC", raw.iloc[:300])
    meta = prepare(ws, "ABC", lookback=30, features="close,logret,rsi")
    pr = load_prepared(ws, "ABC")
    x, end = window_from_raw(raw.iloc[:300], meta)
    assert x.shape == (1, 30, 3) and x.dtype == np.float32
    assert end == raw.index[299]
    np.testing.assert_array_equal(x[0], pr.values[-30:])
    # newer data: same stored scaler, not a refit on the new rows
    newer = raw.copy()
    newer.iloc[-1, newer.columns.get_loc("close")] = raw["close"].max() * 2
    x2, end2 = window_from_raw(newer, meta)
    assert end2 == raw.index[-1]
    assert x2[0, -1, 0] > 1.0
    assert x2[0, -1, 0] == np.float32(pr.scaler.transform_column(newer["close"].iloc[-1], "close"))


def test_windows_from_raw_equal_the_prepared_test_windows_and_read_no_later_row():
    ws = _ws()
    raw = make_ohlcv(300, seed=6)
    _store(ws, "ABC", raw)
    meta = prepare(ws, "ABC", lookback=20, features="close,logret,rsi")
    pr = load_prepared(ws, "ABC")
    start = meta["split"]["test"]["first_window_end"]
    x, ends = windows_from_raw(raw, meta, start)
    test = np.asarray(pr.windows("test"))
    # the prepared test windows stop h rows before the end (a target each); these go on
    assert x.shape == (test.shape[0] + 1, 20, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[: test.shape[0]], test)
    assert str(ends[0].date()) == start and ends[-1] == raw.index[-1]
    # a window ending at t is the same whatever comes after t
    changed = raw.copy()
    changed.iloc[-1, changed.columns.get_loc("close")] *= 1.5
    x2, _ = windows_from_raw(changed, meta, start)
    np.testing.assert_array_equal(x2[:-1], x[:-1])
    assert not np.array_equal(x2[-1], x[-1])
    empty, none = windows_from_raw(raw, meta, raw.index[-1] + pd.Timedelta(days=1))
    assert empty.shape == (0, 20, 3) and len(none) == 0


def test_window_from_raw_errors():
    raw = make_ohlcv(300)
    meta = {
        "lookback": 60,
        "features": ["close", "rsi"],
        "feature_names": ["close", "rsi_14"],
        "scaler": MinMaxParams(("close", "rsi_14"), (1.0, 0.0), (2.0, 100.0)).to_json(),
    }
    with pytest.raises(DataError) as exc:
        window_from_raw(raw.iloc[:70], meta)
    assert str(exc.value) == "need at least 74 rows for one 60-step window, got 70"
    with pytest.raises(DataError) as exc:
        window_from_raw(raw, {**meta, "feature_names": ["rsi_14", "close"]})
    assert str(exc.value) == "features close, rsi_14 do not match the prepared rsi_14, close"
    with pytest.raises(DataError, match="no 'volume' column"):
        window_from_raw(raw.drop(columns="volume"), {**meta, "features": ["volume"]})
