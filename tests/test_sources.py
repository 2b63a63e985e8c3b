"""The three readers: Yahoo (yfinance mocked at ``yfinance.Ticker``), bundled samples, CSV."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from dataclasses import replace
from importlib import resources

import pandas as pd
import pytest
import yfinance
from curl_cffi.requests.exceptions import DNSError
from curl_cffi.requests.exceptions import Timeout as CurlTimeout
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError, YFTzMissingError

from lstmfc.core.errors import DataError, TemporaryFailure, UsageError
from lstmfc.data.sources import csvfile, sample, yahoo
from lstmfc.data.sources.yahoo import YahooTiming
from tests.yahoo_fakes import NO_SLEEP, NY, FakeTicker, yahoo_frame


@pytest.fixture
def fake_yf(monkeypatch):
    FakeTicker.calls = []
    FakeTicker.script = []
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    return FakeTicker


# ------------------------------------------------------------------ yahoo: shapes
def test_history_shape_becomes_the_stored_layout(fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03", "2024-01-04"])]
    frame, prov = yahoo.read_yahoo("AAPL", "2024-01-01", "2024-01-04", timing=NO_SLEEP)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert frame.index.name == "date" and frame.index.tz is None
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert (frame.dtypes == "float64").all()
    assert frame["adj_close"].iloc[0] == pytest.approx(98.0)
    assert prov["source"] == "yahoo" and prov["auto_adjust"] is False
    assert prov["yfinance_version"] == yfinance.__version__
    assert prov["exchange_tz"] == NY
    call = fake_yf.calls[0]
    assert call["auto_adjust"] is False and call["actions"] is False  # explicit
    assert call["interval"] == "1d"
    assert (call["start"], call["end"]) == ("2024-01-01", "2024-01-05")  # end is exclusive


def test_download_multiindex_columns_are_flattened(fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03"], multi=True)]
    frame, _ = yahoo.read_yahoo("AAPL", timing=NO_SLEEP)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert frame["close"].tolist() == [100.0, 101.0]


def test_flatten_picks_the_ticker_from_a_multi_ticker_frame():
    a = yahoo_frame(["2024-01-02"], ticker="AAPL", multi=True)
    m = yahoo_frame(["2024-01-02"], ticker="MSFT", multi=True, start_price=300.0)
    both = pd.concat([a, m], axis=1)
    assert yahoo.flatten_yahoo_frame(both, "MSFT")["close"].tolist() == [300.0]


def test_auto_adjust_true_is_passed_and_recorded(fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-02"], adj_ratio=None)]
    frame, prov = yahoo.read_yahoo("AAPL", auto_adjust=True, timing=NO_SLEEP)
    assert fake_yf.calls[0]["auto_adjust"] is True
    assert prov["auto_adjust"] is True and prov["adjusted"] is True
    assert "adj_close" not in frame.columns


def test_no_start_asks_for_the_whole_history(fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-02"])] * 2
    yahoo.read_yahoo("AAPL", timing=NO_SLEEP)
    assert fake_yf.calls[0]["period"] == "max" and "start" not in fake_yf.calls[0]
    yahoo.read_yahoo("AAPL", end="2024-01-02", timing=NO_SLEEP)
    assert fake_yf.calls[1]["period"] == "max" and fake_yf.calls[1]["end"] == "2024-01-03"


def test_tokyo_bars_keep_their_session_date(fake_yf):
    # stamped at Tokyo midnight = 15:00 UTC the day before; the date must not move
    fake_yf.script = [yahoo_frame(["2024-01-04", "2024-01-05"], tz="Asia/Tokyo")]
    frame, prov = yahoo.read_yahoo("7203.T", timing=NO_SLEEP)
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-04", "2024-01-05"]
    assert prov["exchange_tz"] == "Asia/Tokyo"


def test_session_dates_convert_to_the_exchange_zone():
    utc = pd.DatetimeIndex(["2024-01-03 05:00", "2024-01-04 05:00"]).tz_localize("UTC")
    assert list(yahoo.session_dates(utc, NY).strftime("%Y-%m-%d")) == [
        "2024-01-03",
        "2024-01-04",
    ]
    tokyo = pd.DatetimeIndex(["2024-01-04"]).tz_localize("Asia/Tokyo").tz_convert("UTC")
    assert yahoo.session_dates(tokyo, "Asia/Tokyo")[0] == pd.Timestamp("2024-01-04")


# ------------------------------------------------------------------ yahoo: open session
@pytest.mark.parametrize(
    "now,kept",
    [
        ("2024-01-03 15:59", "2024-01-02"),  # session open
        ("2024-01-03 16:05", "2024-01-02"),  # closed, auction print not settled yet
        ("2024-01-03 16:15", "2024-01-03"),  # closed + SETTLE_MINUTES
        ("2024-01-04 09:00", "2024-01-03"),  # next morning
    ],
)
def test_todays_bar_is_dropped_while_the_session_is_open(fake_yf, now, kept):
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03"])]
    frame, _ = yahoo.read_yahoo("AAPL", timing=replace(NO_SLEEP, now=pd.Timestamp(now, tz=NY)))
    assert frame.index[-1] == pd.Timestamp(kept)


def test_early_close_day_is_final_after_13h():
    # 2024-11-29 (day after Thanksgiving): NYSE closes at 13:00
    day = pd.Timestamp("2024-11-29")
    assert not yahoo.bar_is_final(day, NY, pd.Timestamp("2024-11-29 13:10", tz=NY))
    assert yahoo.bar_is_final(day, NY, pd.Timestamp("2024-11-29 13:20", tz=NY))


def test_other_exchanges_wait_for_the_next_local_day():
    day = pd.Timestamp("2024-01-04")
    # 23:00 in Tokyo on the same day: the close time is not known here, so not final
    assert not yahoo.bar_is_final(
        day, "Asia/Tokyo", pd.Timestamp("2024-01-04 23:00", tz="Asia/Tokyo")
    )
    assert yahoo.bar_is_final(day, "Asia/Tokyo", pd.Timestamp("2024-01-05 00:01", tz="Asia/Tokyo"))
    # crypto (UTC, trades around the clock)
    assert not yahoo.bar_is_final(day, "UTC", pd.Timestamp("2024-01-04 23:59", tz="UTC"))


def test_a_single_open_bar_leaves_nothing(fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-03"])]
    with pytest.raises(DataError, match="^AAPL: Yahoo Finance returned no completed bars$"):
        yahoo.read_yahoo(
            "AAPL", timing=replace(NO_SLEEP, now=pd.Timestamp("2024-01-03 11:00", tz=NY))
        )


# ------------------------------------------------------------------ yahoo: failures
def test_rate_limit_is_retried_with_exponential_backoff_then_succeeds(fake_yf):
    slept = []
    fake_yf.script = [YFRateLimitError(), YFRateLimitError(), yahoo_frame(["2024-01-02"])]
    frame, _ = yahoo.read_yahoo(
        "AAPL", timing=YahooTiming(sleep=slept.append, delays=(1.0, 2.0, 4.0))
    )
    assert len(frame) == 1
    assert slept == [1.0, 2.0]


def test_rate_limit_every_time_is_a_temporary_failure(fake_yf):
    slept = []
    fake_yf.script = [YFRateLimitError()] * 4
    with pytest.raises(TemporaryFailure) as err:
        yahoo.read_yahoo("AAPL", timing=YahooTiming(sleep=slept.append))
    assert str(err.value) == (
        "AAPL: rate limited by Yahoo Finance after 4 tries (Too Many Requests. Rate limited. "
        "Try after a while.); try again later"
    )
    assert err.value.exit_code == 75
    assert slept == list(yahoo.RETRY_DELAYS) == [2.0, 4.0, 8.0]
    assert sum(slept) < 60


@pytest.mark.parametrize(
    "exc",
    [
        DNSError("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com"),
        CurlTimeout("Operation timed out after 10001 milliseconds"),
        ConnectionResetError("Connection reset by peer"),
        json.JSONDecodeError("Expecting value", "<html>", 0),
    ],
    ids=["dns", "timeout", "reset", "not-json"],
)
def test_network_errors_are_retried_then_temporary(fake_yf, exc):
    fake_yf.script = [exc] * 4
    with pytest.raises(TemporaryFailure, match=r"^AAPL: network failed reaching Yahoo Finance"):
        yahoo.read_yahoo("AAPL", timing=NO_SLEEP)
    assert len(fake_yf.calls) == 4


def test_deadline_bounds_a_hanging_call(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(5)

    monkeypatch.setattr(yahoo, "_history", hang)
    t0 = time.monotonic()
    with pytest.raises(TemporaryFailure, match=r"after 1 try \(no answer within 0.3 s\)"):
        yahoo.read_yahoo("AAPL", timing=YahooTiming(deadline_s=0.3, sleep=lambda s: None))
    assert time.monotonic() - t0 < 2


def test_backoff_stops_when_the_deadline_would_pass(fake_yf):
    fake_yf.script = [DNSError("no route")] * 4
    clock = iter([0.0, 0.0, 1.0, 1.0, 1.0]).__next__  # 1 s used by the first try
    slept = []
    with pytest.raises(TemporaryFailure, match="after 1 try"):
        yahoo.read_yahoo(
            "AAPL",
            timing=YahooTiming(deadline_s=3.5, delays=(3.0,), sleep=slept.append, clock=clock),
        )
    assert slept == []


@pytest.mark.parametrize(
    "item",
    [
        pd.DataFrame(),
        YFPricesMissingError("ZZZZ", "(period=max)"),
        YFTzMissingError("ZZZZ"),
    ],
    ids=["empty-frame", "prices-missing", "tz-missing"],
)
def test_unknown_ticker_is_a_data_error_naming_it(fake_yf, item):
    fake_yf.script = [item]
    with pytest.raises(DataError, match=r"^ZZZZ: Yahoo Finance (returned no bars|has no data)"):
        yahoo.read_yahoo("ZZZZ", timing=NO_SLEEP)
    assert len(fake_yf.calls) == 1  # not retried


def test_unexpected_yfinance_error_is_a_one_line_data_error(fake_yf):
    fake_yf.script = [KeyError("chart")]
    with pytest.raises(DataError, match=r"^AAPL: yfinance failed: KeyError: 'chart'$"):
        yahoo.read_yahoo("AAPL", timing=NO_SLEEP)


def test_yahoo_bars_are_validated(fake_yf):
    bad = yahoo_frame(["2024-01-02", "2024-01-03"])
    bad.iloc[1, bad.columns.get_loc("High")] = 50.0
    fake_yf.script = [bad]
    with pytest.raises(DataError, match=r"^AAPL: high < low on 2024-01-03 \(high 50, low 100\)$"):
        yahoo.read_yahoo("AAPL", timing=NO_SLEEP)


def test_bad_dates_are_usage_errors(fake_yf):
    with pytest.raises(UsageError, match="--start '2024/01/01' is not a date in YYYY-MM-DD form"):
        yahoo.read_yahoo("AAPL", start="2024/01/01", timing=NO_SLEEP)
    with pytest.raises(UsageError, match="--start 2024-02-01 is after --end 2024-01-01"):
        yahoo.read_yahoo("AAPL", start="2024-02-01", end="2024-01-01", timing=NO_SLEEP)
    assert fake_yf.calls == []


REAL_YF_OFFLINE = """
import sys, curl_cffi.requests as cr
from curl_cffi.requests.exceptions import DNSError
calls = []
def dead(self, *a, **k):
    calls.append(1)
    raise DNSError("Could not resolve host: query2.finance.yahoo.com")
cr.Session.request = dead
from lstmfc.data.sources.yahoo import YahooTiming, read_yahoo
from lstmfc.core.errors import TemporaryFailure
try:
    read_yahoo("AAPL", timing=YahooTiming(sleep=lambda s: None))
except TemporaryFailure as exc:
    print(exc.exit_code, len(calls) > 0, exc)
"""


def test_real_yfinance_with_a_dead_network_ends_in_a_temporary_failure(tmp_path):
    """The installed yfinance (not a fake) surfaces a dead network as an exception."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", REAL_YF_OFFLINE],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    code, called, msg = out.stdout.strip().split(" ", 2)
    assert (code, called) == ("75", "True")
    assert msg.startswith("AAPL: network failed reaching Yahoo Finance after 4 tries")
    assert out.stderr == ""  # yfinance's own log lines are silenced


# ------------------------------------------------------------------ samples
def test_samples_json_describes_the_bundled_files():
    samples = sample.list_samples()
    assert set(samples) >= {"SP500"}
    sp = samples["SP500"]
    assert (sp["first_date"], sp["last_date"], sp["rows"]) == ("1999-01-04", "2018-12-31", 5031)
    assert "arch" in sp["source"] and "NCSA" in sp["license"]


@pytest.mark.parametrize("name", ["SP500", "NASDAQ"])
def test_sample_matches_its_description_and_is_byte_identical_to_arch(name):
    import importlib.util
    from pathlib import Path

    from lstmfc.core.atomic import sha256_file

    info = sample.list_samples()[name]
    frame, prov = sample.read_sample(name)
    assert len(frame) == info["rows"]
    assert frame.index[0].strftime("%Y-%m-%d") == info["first_date"]
    assert frame.index[-1].strftime("%Y-%m-%d") == info["last_date"]
    # the sha256 of arch 8.0.0's file, recorded when the sample was copied
    assert prov["file_sha256"] == info["sha256"]
    spec = importlib.util.find_spec("arch")  # not a dependency; compare when installed
    if spec is not None:
        original = Path(spec.origin).parent / "data" / name.lower() / f"{name.lower()}.csv.gz"
        assert prov["file_sha256"] == sha256_file(original)


def test_sample_values_are_kept_exactly():
    frame, prov = sample.read_sample("sp500")
    with gzip.open(resources.files("lstmfc") / "samples" / "SP500.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()
    assert (
        lines[1] == "1/4/1999,1229.22998,1248.810059,1219.099976,1228.099976,1228.099976,877000000"
    )
    first = frame.iloc[0]
    assert (first.open, first.high, first.low, first.close, first.adj_close, first.volume) == (
        1229.22998,
        1248.810059,
        1219.099976,
        1228.099976,
        1228.099976,
        877000000.0,
    )
    assert prov["source"] == "sample" and prov["sample"] == "SP500"


def test_sample_start_end_filter_and_unknown_name():
    frame, _ = sample.read_sample("SP500", "2018-01-01", "2018-01-31")
    assert (frame.index[0], frame.index[-1]) == (
        pd.Timestamp("2018-01-02"),
        pd.Timestamp("2018-01-31"),
    )
    with pytest.raises(DataError, match="no bundled sample named FOO; available: NASDAQ, SP500"):
        sample.read_sample("FOO")
    with pytest.raises(DataError, match="SP500: no rows between 2030-01-01 and the end"):
        sample.read_sample("SP500", "2030-01-01")


# ------------------------------------------------------------------ csv layouts
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
ROWS = (
    "2024-01-02,373.86,375.90,366.77,370.87,367.95,25258600\n"
    "2024-01-03,369.01,373.26,368.51,370.60,367.68,23083500\n"
)


def test_yahoo_export_csv(tmp_path):
    p = tmp_path / "MSFT.csv"
    p.write_text(HEADER + ROWS)
    frame, prov = csvfile.read_csv(p)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert frame.loc["2024-01-03", "adj_close"] == 367.68
    assert prov["source"] == "csv" and prov["file"] == "MSFT.csv"
    assert len(prov["file_sha256"]) == 64


@pytest.mark.parametrize(
    "text",
    [
        "date,open,high,low,close,volume\n" + ROWS.replace(",367.95", "").replace(",367.68", ""),
        "VOLUME,close,LOW,High,open,DATE\n25258600,370.87,366.77,375.90,373.86,2024-01-02\n"
        "23083500,370.60,368.51,373.26,369.01,2024-01-03\n",
        "\ufeff"
        + HEADER
        + ROWS.replace("2024-01-02", "1/2/2024").replace("2024-01-03", "1/3/2024"),
        "Date, Open, High, Low, Close, Adj Close, Volume\n" + ROWS,
    ],
    ids=["lowercase-no-adj", "any-order-any-case", "bom-and-m/d/yyyy", "spaces"],
)
def test_csv_variants_import(tmp_path, text):
    p = tmp_path / "x.csv"
    p.write_text(text, encoding="utf-8")
    frame, _ = csvfile.read_csv(p)
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]
    assert frame["close"].tolist() == [370.87, 370.60]


def test_csv_start_end_filter(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text(HEADER + ROWS)
    frame, _ = csvfile.read_csv(p, start="2024-01-03")
    assert len(frame) == 1
