"""fetch from Yahoo (yfinance mocked at Ticker.history), the bundled sample, and CSV."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import yfinance
from typer.testing import CliRunner
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError

from lstmfc import sources
from lstmfc.cli import app
from lstmfc.config import Workspace
from lstmfc.errors import DataError, TemporaryFailure
from lstmfc.fetch import fetch_ticker
from lstmfc.store import read_raw

runner = CliRunner()
NY = "America/New_York"


def yahoo_frame(dates, ticker="AAPL", multi=True, start_price=100.0) -> pd.DataFrame:
    """A frame shaped like yfinance output: tz-aware exchange midnight, (Price, Ticker)."""
    idx = pd.DatetimeIndex(pd.to_datetime(dates)).tz_localize(NY)
    idx.name = "Date"
    n = len(idx)
    close = start_price + np.arange(n, dtype=float)
    data = {
        "Close": close,
        "High": close + 1,
        "Low": close - 1,
        "Open": close - 0.5,
        "Volume": np.full(n, 1000, dtype=np.int64),
    }
    df = pd.DataFrame(data, index=idx)
    if multi:
        df.columns = pd.MultiIndex.from_product([df.columns, [ticker]], names=["Price", "Ticker"])
    return df


class FakeTicker:
    """Replaces yfinance.Ticker; `script` is a list of frames or exceptions, one per call."""

    calls: list[dict] = []
    script: list = []

    def __init__(self, symbol):
        self.symbol = symbol

    def history(self, **kwargs):
        FakeTicker.calls.append({"symbol": self.symbol, **kwargs})
        item = FakeTicker.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


@pytest.fixture
def fake_yf(monkeypatch):
    FakeTicker.calls = []
    FakeTicker.script = []
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    # never sleep in tests; the session of the last bar is long closed
    monkeypatch.setattr(sources, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    return FakeTicker


def _ws(workspace):
    return Workspace.resolve(workspace)


NO_SLEEP = {"sleep": lambda s: None, "delays": (0.0, 0.0, 0.0)}


def test_yahoo_multiindex_tz_aware_frame_is_flattened_to_session_dates(workspace, fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03", "2024-01-04"])]
    res = fetch_ticker(_ws(workspace), "AAPL", end="2024-01-04", yahoo_options=NO_SLEEP)
    assert res["rows"] == 3 and res["first"] == "2024-01-02" and res["last"] == "2024-01-04"
    frame, prov = read_raw(workspace / "data" / "raw" / "AAPL.parquet")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index.tz is None
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert prov["source"] == "yahoo" and prov["auto_adjust"] is False
    assert prov["yfinance_version"] == yfinance.__version__
    call = fake_yf.calls[0]
    assert call["auto_adjust"] is False  # passed explicitly
    assert call["end"] == "2024-01-05"  # yfinance's end is exclusive


def test_asian_session_dates_are_not_shifted(workspace, fake_yf):
    idx = pd.DatetimeIndex(["2024-01-04", "2024-01-05"]).tz_localize("Asia/Tokyo")
    df = yahoo_frame(["2024-01-04", "2024-01-05"], multi=False)
    df.index = idx
    fake_yf.script = [df]
    res = fetch_ticker(_ws(workspace), "7203.T", end="2024-01-05", yahoo_options=NO_SLEEP)
    assert (res["first"], res["last"]) == ("2024-01-04", "2024-01-05")


def test_todays_bar_is_dropped_while_the_session_is_open(fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03"])] * 2
    during = pd.Timestamp("2024-01-03 15:00", tz=NY)
    after = pd.Timestamp("2024-01-03 16:30", tz=NY)
    f1, _ = sources.read_yahoo("AAPL", now=during, **NO_SLEEP)
    assert f1.index[-1] == pd.Timestamp("2024-01-02")
    f2, _ = sources.read_yahoo("AAPL", now=after, **NO_SLEEP)
    assert f2.index[-1] == pd.Timestamp("2024-01-03")


def test_rate_limit_is_retried_then_succeeds(workspace, fake_yf):
    slept = []
    fake_yf.script = [YFRateLimitError(), YFRateLimitError(), yahoo_frame(["2024-01-02"])]
    res = fetch_ticker(
        _ws(workspace),
        "AAPL",
        end="2024-01-02",
        yahoo_options={"sleep": slept.append, "delays": (1.0, 2.0, 4.0)},
    )
    assert res["rows"] == 1
    assert slept == [1.0, 2.0]  # bounded exponential backoff


def test_rate_limit_every_time_is_a_temporary_failure(workspace, fake_yf):
    fake_yf.script = [YFRateLimitError()] * 4
    with pytest.raises(TemporaryFailure, match="rate limited by Yahoo Finance after 4 tries"):
        fetch_ticker(_ws(workspace), "AAPL", yahoo_options=NO_SLEEP)
    assert not (workspace / "data" / "raw" / "AAPL.parquet").exists()


def test_network_error_exits_75_with_one_line(workspace, fake_yf):
    from curl_cffi.requests.exceptions import DNSError

    fake_yf.script = [DNSError("Could not resolve host: query2.finance.yahoo.com")] * 4
    res = runner.invoke(app, ["fetch", "AAPL"])
    assert res.exit_code == 75
    assert res.stderr.startswith("Error: AAPL: network failed reaching Yahoo Finance after 4 tries")
    assert res.stderr.count("\n") == 1
    assert len(fake_yf.calls) == 4


@pytest.mark.parametrize(
    "item", [pd.DataFrame(), YFPricesMissingError("ZZZZ", "")], ids=["empty", "missing"]
)
def test_unknown_ticker_is_an_error_naming_it_and_no_file(workspace, fake_yf, item):
    fake_yf.script = [item]
    res = runner.invoke(app, ["fetch", "ZZZZ"])
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: ZZZZ: Yahoo Finance ")
    assert not (workspace / "data" / "raw").exists() or not list(
        (workspace / "data" / "raw").iterdir()
    )


def test_second_fetch_asks_only_for_missing_days_and_merges(workspace, fake_yf):
    ws = _ws(workspace)
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03"])]
    fetch_ticker(ws, "AAPL", end="2024-01-03", yahoo_options=NO_SLEEP)
    # Yahoo returns the last stored day again (unchanged) plus two new ones
    fake_yf.script = [yahoo_frame(["2024-01-03", "2024-01-04", "2024-01-05"], start_price=101.0)]
    res = fetch_ticker(ws, "AAPL", end="2024-01-05", yahoo_options=NO_SLEEP)
    assert fake_yf.calls[-1]["start"] == "2024-01-03"
    assert res["status"] == "updated" and res["new_rows"] == 2 and res["rows"] == 4
    frame, _ = read_raw(workspace / "data" / "raw" / "AAPL.parquet")
    assert list(frame["close"]) == [100.0, 101.0, 102.0, 103.0]


def test_rewritten_history_is_refused_and_file_kept(workspace, fake_yf):
    ws = _ws(workspace)
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03"])]
    fetch_ticker(ws, "AAPL", end="2024-01-03", yahoo_options=NO_SLEEP)
    path = workspace / "data" / "raw" / "AAPL.parquet"
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    fake_yf.script = [yahoo_frame(["2024-01-03", "2024-01-04"], start_price=50.0)]  # a 2:1 split
    with pytest.raises(DataError, match="rewrote history"):
        fetch_ticker(ws, "AAPL", end="2024-01-04", yahoo_options=NO_SLEEP)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_multi_ticker_one_failure_keeps_the_others(workspace, fake_yf):
    fake_yf.script = [
        yahoo_frame(["2024-01-02"], ticker="AAPL"),
        pd.DataFrame(),
        yahoo_frame(["2024-01-02"], ticker="MSFT"),
    ]
    res = runner.invoke(app, ["fetch", "AAPL", "ZZZZ", "MSFT", "--end", "2024-01-02", "--json"])
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert [r["ok"] for r in out] == [True, False, True]
    assert sorted(p.name for p in (workspace / "data" / "raw").iterdir()) == [
        "AAPL.parquet",
        "MSFT.parquet",
    ]
    assert res.stderr.count("\n") == 1 and "ZZZZ" in res.stderr


def test_only_temporary_failures_exit_75(workspace, fake_yf):
    fake_yf.script = [YFRateLimitError()] * 4 + [yahoo_frame(["2024-01-02"], ticker="MSFT")]
    res = runner.invoke(app, ["fetch", "AAPL", "MSFT", "--end", "2024-01-02"])
    assert res.exit_code == 75


def test_sample_sp500_offline(workspace):
    res = runner.invoke(app, ["fetch", "SP500", "--source", "sample", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["rows"], doc["first"], doc["last"]) == (5031, "1999-01-04", "2018-12-31")
    frame, prov = read_raw(doc["path"])
    # values kept exactly as in the arch package's CSV
    assert frame.loc["1999-01-04", "close"] == 1228.099976
    assert frame.loc["2018-12-31", "volume"] == 3442870000
    assert prov["source"] == "sample"


def test_sample_refetch_leaves_file_byte_identical(workspace):
    runner.invoke(app, ["fetch", "SP500", "--source", "sample"])
    p = workspace / "data" / "raw" / "SP500.parquet"
    before = p.read_bytes()
    res = runner.invoke(app, ["fetch", "SP500", "--source", "sample", "--json"])
    assert json.loads(res.stdout)["status"] == "unchanged"
    assert p.read_bytes() == before


def test_sample_with_date_range_and_unknown_sample(workspace):
    res = runner.invoke(
        app, ["fetch", "SP500", "--source", "sample", "--start", "2018-01-01", "--json"]
    )
    assert json.loads(res.stdout)["first"] == "2018-01-02"
    bad = runner.invoke(app, ["fetch", "FOO", "--source", "sample"])
    assert bad.exit_code == 1
    assert bad.stderr == "Error: FOO: no bundled sample named FOO; available: NASDAQ, SP500\n"


def test_samples_command_lists_sp500():
    res = runner.invoke(app, ["samples", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["SP500"]["rows"] == 5031


def test_csv_import_of_another_ticker(workspace, tmp_path):
    p = tmp_path / "MSFT.csv"
    p.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-02,373.86,375.90,366.77,370.87,367.95,25258600\n"
        "2024-01-03,369.01,373.26,368.51,370.60,367.68,23083500\n"
    )
    res = runner.invoke(app, ["fetch", "MSFT", "--source", "csv", "--path", str(p), "--json"])
    assert res.exit_code == 0, res.output
    frame, prov = read_raw(workspace / "data" / "raw" / "MSFT.parquet")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert prov["source"] == "csv" and prov["file_sha256"]


def test_usage_errors_exit_2(workspace):
    assert runner.invoke(app, ["fetch", "X", "--source", "csv"]).exit_code == 2
    assert runner.invoke(app, ["fetch", "X", "--source", "ftp"]).exit_code == 2
    res = runner.invoke(app, ["fetch", "../etc"])
    assert res.exit_code == 2 and "invalid ticker" in res.stderr
