"""``lstmfc fetch`` / ``lstmfc samples`` through CliRunner (yfinance mocked at ``Ticker``)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
import yfinance
from curl_cffi.requests.exceptions import DNSError
from typer.testing import CliRunner
from yfinance.exceptions import YFRateLimitError

from lstmfc.cli import app
from lstmfc.data.sources import yahoo
from lstmfc.data.store import read_raw
from tests.yahoo_fakes import FakeTicker, yahoo_frame

runner = CliRunner()

DNS = "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com"


@pytest.fixture
def fake_yf(monkeypatch):
    FakeTicker.calls = []
    FakeTicker.script = []
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    monkeypatch.setattr(yahoo, "RETRY_DELAYS", (0.0, 0.0, 0.0))  # never sleep in tests
    return FakeTicker


def raw(workspace, t="AAPL"):
    return workspace / "data" / "raw" / f"{t}.parquet"


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw_files(workspace) -> list[str]:
    d = workspace / "data" / "raw"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def fetch(*args):
    return runner.invoke(app, ["fetch", *args])


# ------------------------------------------------------------------ sample / samples
def test_sample_sp500_json(workspace):
    res = fetch("SP500", "--source", "sample", "--json")
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    assert json.loads(res.stdout) == {
        "ticker": "SP500",
        "rows": 5031,
        "first": "1999-01-04",
        "last": "2018-12-31",
        "path": str(raw(workspace, "SP500")),
        "source": "sample",
        "status": "written",
        "new_rows": 5031,
    }
    frame, prov = read_raw(raw(workspace, "SP500"))
    assert frame.loc["2018-12-31", "close"] == 2506.850098
    assert prov["source"] == "sample" and prov["ticker"] == "SP500"
    assert prov["fetched_at"].endswith("+00:00")


def test_sample_refetch_is_unchanged_and_byte_identical(workspace):
    assert fetch("SP500", "--source", "sample").exit_code == 0
    before = sha(raw(workspace, "SP500"))
    res = fetch("SP500", "--source", "sample", "--json")
    assert json.loads(res.stdout)["status"] == "unchanged"
    assert sha(raw(workspace, "SP500")) == before


def test_sample_start_end(workspace):
    res = fetch(
        "SP500", "--source", "sample", "--start", "2018-01-01", "--end", "2018-06-30", "--json"
    )
    doc = json.loads(res.stdout)
    assert (doc["first"], doc["last"], doc["rows"]) == ("2018-01-02", "2018-06-29", 125)


def test_sample_table_on_stdout(workspace):
    res = fetch("NASDAQ", "--source", "sample")
    assert res.exit_code == 0
    assert "NASDAQ" in res.stdout and "5031" in res.stdout and "2018-12-31" in res.stdout
    assert res.stderr == ""


def test_unknown_sample(workspace):
    res = fetch("FOO", "--source", "sample")
    assert res.exit_code == 1
    assert res.stderr == "Error: FOO: no bundled sample named FOO; available: NASDAQ, SP500\n"
    assert raw_files(workspace) == []


def test_samples_command_table_and_json():
    res = runner.invoke(app, ["samples"])
    assert res.exit_code == 0
    assert "SP500" in res.stdout and "NASDAQ" in res.stdout and "1999-01-04" in res.stdout
    doc = json.loads(runner.invoke(app, ["samples", "--json"]).stdout)
    assert doc["SP500"]["rows"] == 5031 and doc["SP500"]["file"] == "SP500.csv.gz"


# ------------------------------------------------------------------ csv
def test_csv_import_of_another_ticker(workspace, tmp_path):
    p = tmp_path / "MSFT.csv"
    p.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-02,373.86,375.90,366.77,370.87,367.95,25258600\n"
        "2024-01-03,369.01,373.26,368.51,370.60,367.68,23083500\n"
    )
    res = fetch("msft", "--source", "csv", "--path", str(p), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["rows"] == 2
    frame, prov = read_raw(raw(workspace, "MSFT"))
    assert frame["volume"].tolist() == [25258600.0, 23083500.0]
    assert prov["source"] == "csv" and prov["file"] == "MSFT.csv"
    assert prov["file_sha256"] == sha(p)


# ------------------------------------------------------------------ yahoo, one ticker
def test_yahoo_first_fetch(workspace, fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03"])]
    res = fetch("AAPL", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["rows"], doc["first"], doc["last"], doc["source"]) == (
        2,
        "2024-01-02",
        "2024-01-03",
        "yahoo",
    )
    _, prov = read_raw(raw(workspace))
    assert prov["auto_adjust"] is False and prov["yfinance_version"] == yfinance.__version__
    assert fake_yf.calls[0]["period"] == "max"


def test_network_failure_exits_75_with_one_line_and_no_file(workspace, fake_yf):
    fake_yf.script = [DNSError(DNS)] * 4
    res = fetch("AAPL")
    assert res.exit_code == 75
    assert res.stderr == (
        f"Error: AAPL: network failed reaching Yahoo Finance after 4 tries ({DNS}); "
        "try again later\n"
    )
    assert res.stdout == "" and raw_files(workspace) == []


def test_rate_limited_exits_75(workspace, fake_yf):
    fake_yf.script = [YFRateLimitError()] * 4
    res = fetch("AAPL", "--json")
    assert res.exit_code == 75
    assert res.stderr.startswith("Error: AAPL: rate limited by Yahoo Finance after 4 tries")
    assert res.stdout == ""


def test_unknown_ticker_exits_1_and_writes_nothing(workspace, fake_yf):
    fake_yf.script = [pd.DataFrame()]
    res = fetch("ZZZZ")
    assert res.exit_code == 1
    assert res.stderr == (
        "Error: ZZZZ: Yahoo Finance returned no bars (unknown or delisted ticker, or no "
        "trading in the requested dates)\n"
    )
    assert raw_files(workspace) == []


def test_failed_fetch_leaves_the_stored_file_byte_identical(workspace, fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03"])]
    assert fetch("AAPL").exit_code == 0
    before = sha(raw(workspace))
    bad = yahoo_frame(["2024-01-03", "2024-01-04"], start_price=101.0)
    bad.iloc[1, bad.columns.get_loc("Low")] = -1.0
    fake_yf.script = [DNSError(DNS)] * 4 + [pd.DataFrame(), bad]
    assert fetch("AAPL").exit_code == 75
    assert fetch("AAPL").exit_code == 1  # Yahoo answers with nothing at all
    res = fetch("AAPL")
    assert res.exit_code == 1
    assert res.stderr == "Error: AAPL: low <= 0 on 2024-01-04 (-1)\n"
    assert sha(raw(workspace)) == before
    assert raw_files(workspace) == ["AAPL.parquet"]


# ------------------------------------------------------------------ incremental
def _first_fetch(fake_yf, dates=("2024-01-02", "2024-01-03"), *args):
    fake_yf.script = [yahoo_frame(dates)]
    res = fetch("AAPL", *args)
    assert res.exit_code == 0, res.output


def test_second_fetch_asks_only_for_missing_days_and_merges(workspace, fake_yf):
    _first_fetch(fake_yf)
    # Yahoo returns the overlap day (its volume revised) and two new days
    new = yahoo_frame(["2024-01-03", "2024-01-04", "2024-01-05"], start_price=101.0)
    new.iloc[0, new.columns.get_loc("Volume")] = 1500
    fake_yf.script = [new]
    res = fetch("AAPL", "--json")
    assert res.exit_code == 0, res.output
    assert fake_yf.calls[-1]["start"] == "2024-01-03" and "end" not in fake_yf.calls[-1]
    doc = json.loads(res.stdout)
    assert (doc["status"], doc["new_rows"], doc["rows"]) == ("updated", 2, 4)
    frame, prov = read_raw(raw(workspace))
    assert frame["close"].tolist() == [100.0, 101.0, 102.0, 103.0]
    assert frame["volume"].tolist() == [1000.0, 1500.0, 1000.0, 1000.0]
    assert "first_fetched_at" in prov and "adj_close_rescaled" not in prov


def test_nothing_new_is_up_to_date_and_byte_identical(workspace, fake_yf):
    _first_fetch(fake_yf)
    before = sha(raw(workspace))
    fake_yf.script = [yahoo_frame(["2024-01-03"], start_price=101.0)]
    res = fetch("AAPL", "--json")
    assert json.loads(res.stdout)["status"] == "up to date"
    assert sha(raw(workspace)) == before


def test_end_before_the_last_stored_day_asks_nothing(workspace, fake_yf):
    _first_fetch(fake_yf)
    res = fetch("AAPL", "--end", "2024-01-03", "--json")
    assert json.loads(res.stdout)["status"] == "up to date"
    assert len(fake_yf.calls) == 1


def test_a_split_is_refused_and_the_file_kept(workspace, fake_yf):
    _first_fetch(fake_yf)
    before = sha(raw(workspace))
    fake_yf.script = [yahoo_frame(["2024-01-03", "2024-01-04"], start_price=50.5)]  # 2:1
    res = fetch("AAPL")
    assert res.exit_code == 1
    assert res.stderr == (
        "Error: AAPL: Yahoo's close for 2024-01-03 is now 50.5, stored 101 (a split rewrote "
        "history); run `lstmfc fetch AAPL --refresh` to download the whole series again\n"
    )
    assert sha(raw(workspace)) == before


def test_a_dividend_rescales_the_stored_adj_close(workspace, fake_yf):
    _first_fetch(fake_yf)  # adj_close = 0.98 * close
    fake_yf.script = [yahoo_frame(["2024-01-03", "2024-01-04"], start_price=101.0, adj_ratio=0.97)]
    assert fetch("AAPL").exit_code == 0
    frame, prov = read_raw(raw(workspace))
    assert frame["adj_close"].tolist() == pytest.approx([97.0, 97.97, 98.94])
    assert frame["close"].tolist() == [100.0, 101.0, 102.0]  # traded prices untouched
    (note,) = prov["adj_close_rescaled"]
    assert note["on"] == "2024-01-03" and note["factor"] == pytest.approx(0.97 / 0.98)


def test_auto_adjusted_history_that_changed_is_refused(workspace, fake_yf):
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03"], adj_ratio=None)]
    assert fetch("AAPL", "--auto-adjust").exit_code == 0
    before = sha(raw(workspace))
    # a 0.5 % dividend rescaled every earlier adjusted price
    fake_yf.script = [
        yahoo_frame(["2024-01-03", "2024-01-04"], start_price=100.495, adj_ratio=None)
    ]
    res = fetch("AAPL", "--auto-adjust")
    assert res.exit_code == 1
    assert "(a dividend or split rewrote history)" in res.stderr
    assert sha(raw(workspace)) == before


def test_auto_adjust_must_match_the_stored_series(workspace, fake_yf):
    _first_fetch(fake_yf)
    res = fetch("AAPL", "--auto-adjust")
    assert res.exit_code == 1
    assert res.stderr == (
        "Error: AAPL: the stored series was fetched with auto_adjust=False; use --refresh "
        "to re-download it\n"
    )
    assert len(fake_yf.calls) == 1


def test_refresh_downloads_everything_again(workspace, fake_yf):
    _first_fetch(fake_yf)
    fake_yf.script = [yahoo_frame(["2024-01-02", "2024-01-03", "2024-01-04"], start_price=50.0)]
    res = fetch("AAPL", "--refresh", "--json")
    assert res.exit_code == 0
    assert fake_yf.calls[-1]["period"] == "max"
    frame, _ = read_raw(raw(workspace))
    assert frame["close"].tolist() == [50.0, 51.0, 52.0]


def test_a_sample_is_not_extended_from_yahoo(workspace, fake_yf):
    assert fetch("SP500", "--source", "sample").exit_code == 0
    res = fetch("SP500")
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: SP500: the stored series came from sample, not Yahoo")
    assert fake_yf.calls == []


# ------------------------------------------------------------------ several tickers
def test_multi_ticker_one_failure_keeps_the_others(workspace, fake_yf):
    fake_yf.script = [
        yahoo_frame(["2024-01-02"], ticker="AAPL"),
        pd.DataFrame(),
        yahoo_frame(["2024-01-02"], ticker="MSFT"),
    ]
    res = fetch("AAPL", "ZZZZ", "MSFT", "--json")
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert [(r["ticker"], r["ok"]) for r in out] == [
        ("AAPL", True),
        ("ZZZZ", False),
        ("MSFT", True),
    ]
    assert out[1]["exit_code"] == 1 and out[1]["error"].startswith("ZZZZ: Yahoo Finance")
    assert out[0]["rows"] == 1 and out[0]["path"] == str(raw(workspace))
    assert raw_files(workspace) == ["AAPL.parquet", "MSFT.parquet"]
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error: ZZZZ: ")


def test_multi_ticker_only_temporary_failures_exit_75(workspace, fake_yf):
    fake_yf.script = [YFRateLimitError()] * 4 + [yahoo_frame(["2024-01-02"], ticker="MSFT")]
    res = fetch("AAPL", "MSFT")
    assert res.exit_code == 75
    assert "MSFT" in res.stdout and raw_files(workspace) == ["MSFT.parquet"]
    assert res.stderr.startswith("Error: AAPL: rate limited by Yahoo Finance")


def test_multi_ticker_temporary_and_data_errors_exit_1(workspace, fake_yf):
    fake_yf.script = [DNSError(DNS)] * 4 + [pd.DataFrame()]
    res = fetch("AAPL", "ZZZZ")
    assert res.exit_code == 1
    assert res.stderr.count("\n") == 2


def test_tickers_file(workspace, fake_yf, tmp_path):
    f = tmp_path / "universe.txt"
    f.write_text("# two names\naapl\nMSFT  # big\n")
    fake_yf.script = [yahoo_frame(["2024-01-02"]), yahoo_frame(["2024-01-02"])]
    res = fetch("--tickers-file", str(f), "--json")
    assert res.exit_code == 0, res.output
    assert [r["ticker"] for r in json.loads(res.stdout)] == ["AAPL", "MSFT"]


# ------------------------------------------------------------------ usage
@pytest.mark.parametrize(
    "args,message",
    [
        (["X", "--source", "csv"], "--source csv needs --path FILE.csv"),
        (["X", "--source", "ftp"], "unknown --source 'ftp'; use one of yahoo, sample, csv"),
        (["X", "--path", "a.csv"], "--path is only used with --source csv"),
        (["../etc"], "invalid ticker '../etc'"),
        (
            ["SP500", "--source", "sample", "--start", "2018/01/01"],
            "--start '2018/01/01' is not a date in YYYY-MM-DD form",
        ),
        (
            ["SP500", "--source", "sample", "--start", "2018-02-01", "--end", "2018-01-01"],
            "--start 2018-02-01 is after --end 2018-01-01",
        ),
        ([], "give at least one TICKER or --tickers-file FILE"),
    ],
    ids=[
        "csv-no-path",
        "bad-source",
        "path-not-csv",
        "bad-ticker",
        "bad-date",
        "start>end",
        "none",
    ],
)
def test_usage_errors_exit_2(workspace, args, message):
    res = fetch(*args)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"Error: {message}")
    assert res.stderr.count("\n") == 1
    assert raw_files(workspace) == []
