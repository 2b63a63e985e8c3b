"""One test per OHLCV validation rule (through the CSV import CLI: exit 1, one line, no
file written, an existing file byte-identical), files that are not CSV, validate_ohlcv."""

from __future__ import annotations

import hashlib

import pytest
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.core.errors import DataError
from lstmfc.data.validate import validate_ohlcv

runner = CliRunner()

GOOD = """Date,Open,High,Low,Close,Adj Close,Volume
2020-01-02,100,101,99,100.5,100.5,1000
2020-01-03,100.5,102,100,101,101,1100
2020-01-06,101,103,100.5,102,102,0
"""


def _csv(tmp_path, text: str, name: str = "x.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _import(path, ticker: str = "MYCO"):
    return runner.invoke(app, ["fetch", ticker, "--source", "csv", "--path", str(path)])


def _replace_line(i: int, new: str) -> str:
    lines = GOOD.splitlines()
    lines[i] = new
    return "\n".join(lines) + "\n"


CASES = [
    (
        "duplicate",
        _replace_line(3, "2020-01-03,101,103,100.5,102,102,5"),
        "x.csv: duplicate date 2020-01-03",
    ),
    (
        "unsorted",
        _replace_line(3, "2020-01-01,101,103,100.5,102,102,5"),
        "x.csv: dates not in increasing order at 2020-01-01 (after 2020-01-03)",
    ),
    (
        "nan",
        _replace_line(2, "2020-01-03,100.5,102,100,null,101,1100"),
        "x.csv: close is missing (NaN) on 2020-01-03",
    ),
    (
        "inf",
        _replace_line(2, "2020-01-03,100.5,inf,100,101,101,1100"),
        "x.csv: high is not finite on 2020-01-03",
    ),
    (
        "non-numeric",
        _replace_line(2, "2020-01-03,abc,102,100,101,101,1100"),
        "x.csv: open is not a number ('abc') on 2020-01-03",
    ),
    (
        "zero price",
        _replace_line(2, "2020-01-03,100.5,102,0,101,101,1100"),
        "x.csv: low <= 0 on 2020-01-03 (0)",
    ),
    (
        "negative price",
        _replace_line(1, "2020-01-02,-1,101,99,100.5,100.5,1000"),
        "x.csv: open <= 0 on 2020-01-02 (-1)",
    ),
    (
        "negative volume",
        _replace_line(2, "2020-01-03,100.5,102,100,101,101,-5"),
        "x.csv: negative volume on 2020-01-03 (-5)",
    ),
    (
        "high<low",
        _replace_line(2, "2020-01-03,100.5,99,100,99.5,101,1100"),
        "x.csv: high < low on 2020-01-03 (high 99, low 100)",
    ),
    (
        "open outside",
        _replace_line(2, "2020-01-03,105,102,100,101,101,1100"),
        "x.csv: open outside [low, high] on 2020-01-03 (open 105, low 100, high 102)",
    ),
    (
        "close outside",
        _replace_line(2, "2020-01-03,100.5,102,100,99,101,1100"),
        "x.csv: close outside [low, high] on 2020-01-03 (close 99, low 100, high 102)",
    ),
    ("empty", "Date,Open,High,Low,Close,Adj Close,Volume\n", "x.csv: no rows of data"),
    ("empty close-only", "Date,Close\n", "x.csv: no rows of data"),
    ("empty FRED export", "observation_date,SP500\n", "x.csv: no rows of data"),
    (
        "missing column",
        "Date,Open,High,Low,Close\n2020-01-02,1,2,1,1\n",
        "x.csv: missing required column 'volume'",
    ),
    (
        "no date column",
        "When,Open,High,Low,Close,Volume\n2020-01-02,1,2,1,1,1\n",
        "x.csv: missing required column 'Date' (expected the Yahoo export layout "
        "Date,Open,High,Low,Close,Adj Close,Volume)",
    ),
    (
        "bad date",
        _replace_line(2, "03/2020/01,100.5,102,100,101,101,1100"),
        "x.csv: row 3 has an unreadable date '03/2020/01' (use YYYY-MM-DD)",
    ),
]


@pytest.mark.parametrize("name,text,message", CASES, ids=[c[0] for c in CASES])
def test_each_rule_refuses_with_one_line_and_writes_nothing(
    workspace, tmp_path, name, text, message
):
    res = _import(_csv(tmp_path, text))
    assert res.exit_code == 1, res.output
    assert res.stderr == f"Error: MYCO: {message}\n"
    assert res.stdout == ""
    assert not (workspace / "data" / "raw" / "MYCO.parquet").exists()
    assert not list((workspace / "data").rglob("*.tmp")) if (workspace / "data").exists() else True


def test_zero_volume_is_valid(workspace, tmp_path):
    res = _import(_csv(tmp_path, GOOD))
    assert res.exit_code == 0, res.output
    assert (workspace / "data" / "raw" / "MYCO.parquet").is_file()


def test_existing_good_file_stays_byte_identical_after_a_bad_import(workspace, tmp_path):
    assert _import(_csv(tmp_path, GOOD)).exit_code == 0
    stored = workspace / "data" / "raw" / "MYCO.parquet"
    before = hashlib.sha256(stored.read_bytes()).hexdigest()
    bad = _csv(tmp_path, CASES[0][1], "bad.csv")
    res = _import(bad)
    assert res.exit_code == 1
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in stored.parent.iterdir()) == ["MYCO.parquet"]


@pytest.mark.parametrize("content", [b"PAR1\x00\x01\x02binary", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_a_binary_file_is_not_csv(workspace, tmp_path, content):
    p = tmp_path / "data.csv"
    p.write_bytes(content)
    res = _import(p)
    assert res.exit_code == 1
    assert res.stderr == "Error: MYCO: data.csv: not a CSV file (binary content)\n"


def test_missing_file(workspace, tmp_path):
    res = _import(tmp_path / "nope.csv")
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: ") and "nope.csv: no such file" in res.stderr


def test_lowercase_names_and_no_adj_close_import(workspace, tmp_path):
    text = "date,open,high,low,close,volume\n2020-01-02,100,101,99,100.5,1000\n"
    res = runner.invoke(
        app, ["fetch", "myco", "--source", "csv", "--path", str(_csv(tmp_path, text)), "--json"]
    )
    assert res.exit_code == 0, res.output
    import json

    doc = json.loads(res.stdout)
    assert doc == {
        "ticker": "MYCO",
        "rows": 1,
        "first": "2020-01-02",
        "last": "2020-01-02",
        "path": str(workspace / "data" / "raw" / "MYCO.parquet"),
        "source": "csv",
        "status": "written",
        "new_rows": 1,
        "close_only": False,
        "dropped_missing": 0,
    }


def test_a_parquet_file_is_not_csv(workspace, tmp_path, ohlcv):
    p = tmp_path / "prices.csv"
    ohlcv.to_parquet(p)
    res = _import(p)
    assert res.exit_code == 1
    assert res.stderr == "Error: MYCO: prices.csv: not a CSV file (binary content)\n"
    assert not (workspace / "data" / "raw" / "MYCO.parquet").exists()


@pytest.mark.parametrize(
    "content,message",
    [
        (
            "hello world, this is not a price file\njust some notes\n",
            "x.csv: missing required column 'Date' (expected the Yahoo export layout "
            "Date,Open,High,Low,Close,Adj Close,Volume)",
        ),
        (
            "<html><body><p>Date,Open</p></body></html>\n",
            "x.csv: missing required column 'Date' (expected the Yahoo export layout "
            "Date,Open,High,Low,Close,Adj Close,Volume)",
        ),
        ("", "x.csv: empty file (no header, no rows)"),
        ('Date,Open\n"2020-01-02,1\n', "x.csv: not a readable CSV file"),
    ],
    ids=["prose", "html", "zero-bytes", "unbalanced-quote"],
)
def test_text_that_is_not_a_price_csv(workspace, tmp_path, content, message):
    res = _import(_csv(tmp_path, content))
    assert res.exit_code == 1
    assert res.stderr.startswith(f"Error: MYCO: {message}")
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert not (workspace / "data" / "raw" / "MYCO.parquet").exists()


def test_a_corrupt_gzip_csv(workspace, tmp_path):
    p = tmp_path / "x.csv.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00garbage")
    res = _import(p)
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: MYCO: x.csv.gz: not a readable CSV file (")
    assert res.stderr.count("\n") == 1


# ------------------------------------------------------------ validate_ohlcv directly
def test_validate_returns_the_stored_layout(ohlcv):
    frame = ohlcv.copy()
    frame["adj_close"] = frame["close"] * 0.9
    frame = frame[["volume", "adj_close", "close", "low", "high", "open"]]
    frame["volume"] = frame["volume"].astype("int64")
    out = validate_ohlcv(frame, "T")
    assert list(out.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert (out.dtypes == "float64").all() and out.index.name == "date"


def test_validate_rule_adj_close_must_be_positive(ohlcv):
    frame = ohlcv.copy()
    frame["adj_close"] = frame["close"]
    frame.iloc[5, frame.columns.get_loc("adj_close")] = 0.0
    day = frame.index[5].strftime("%Y-%m-%d")
    with pytest.raises(DataError, match=rf"^T: adj_close <= 0 on {day} \(0\)$"):
        validate_ohlcv(frame, "T")


def test_validate_float_rounding_is_not_a_false_alarm(ohlcv):
    frame = ohlcv.copy()
    frame.iloc[0, frame.columns.get_loc("open")] = frame["low"].iloc[0] * (1 - 1e-12)
    validate_ohlcv(frame, "T")  # no error
    frame.iloc[0, frame.columns.get_loc("open")] = frame["low"].iloc[0] * (1 - 1e-6)
    with pytest.raises(DataError, match="open outside"):
        validate_ohlcv(frame, "T")


def test_validate_rejects_a_non_date_index(ohlcv):
    with pytest.raises(DataError, match="^T: the index is not made of dates$"):
        validate_ohlcv(ohlcv.reset_index(drop=True), "T")
