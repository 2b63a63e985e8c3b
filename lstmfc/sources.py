"""Readers for the three data sources; the only module that touches the network.

Each reader returns ``(frame, provenance)``: a validated OHLCV frame in the layout of
:mod:`lstmfc.store` and a JSON-serialisable dict saying where it came from.

* ``yahoo``: daily bars from Yahoo Finance through yfinance (``Ticker.history``);
* ``sample``: real daily OHLCV bundled in the package (``lstmfc/samples``), offline;
* ``csv``: a file in the Yahoo Finance export layout
  ``Date,Open,High,Low,Close,Adj Close,Volume`` (``Adj Close`` optional, names
  case-insensitive).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmfc.errors import DataError, TemporaryFailure
from lstmfc.store import file_sha256
from lstmfc.validate import validate_ohlcv

SOURCES = ("yahoo", "sample", "csv")

#: Backoff before retries 2, 3, 4 (seconds). Total worst case with yfinance's 10 s
#: timeout per try stays under 60 s even when every try times out: 4 x 10 + 14 = 54.
RETRY_DELAYS = (2.0, 4.0, 8.0)
YAHOO_TIMEOUT_S = 10
DEFAULT_CALENDAR = "XNYS"


def _now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _parse_day(value: str | None, what: str) -> pd.Timestamp | None:
    if value in (None, ""):
        return None
    try:
        return pd.Timestamp(datetime.strptime(str(value), "%Y-%m-%d"))
    except ValueError:
        raise DataError(f"{what} {value!r} is not a date in YYYY-MM-DD form") from None


def clip_dates(frame: pd.DataFrame, start: str | None, end: str | None, label: str):
    """Rows with ``start <= date <= end`` (both inclusive; ISO dates or None)."""
    s, e = _parse_day(start, "--start"), _parse_day(end, "--end")
    if s is not None and e is not None and s > e:
        raise DataError(f"--start {start} is after --end {end}")
    if s is not None:
        frame = frame.loc[frame.index >= s]
    if e is not None:
        frame = frame.loc[frame.index <= e]
    if len(frame) == 0:
        raise DataError(f"{label}: no rows between {start or 'the start'} and {end or 'the end'}")
    return frame


# ---------------------------------------------------------------------- samples
def list_samples() -> dict[str, dict[str, Any]]:
    """The bundled samples, keyed by ticker (from ``lstmfc/samples/samples.json``)."""
    text = resources.files("lstmfc").joinpath("samples/samples.json").read_text("utf-8")
    return json.loads(text)


def read_sample(ticker: str, start: str | None = None, end: str | None = None):
    """Read a bundled sample (real prices, offline).

    Parameters
    ----------
    ticker : str
        A key of :func:`list_samples` (e.g. ``SP500``).
    start, end : str, optional
        Inclusive ISO date bounds.

    Returns
    -------
    (pandas.DataFrame, dict)

    Raises
    ------
    DataError
        Unknown sample name (the message lists the bundled ones).
    """
    samples = list_samples()
    info = samples.get(ticker.upper())
    if info is None:
        raise DataError(
            f"no bundled sample named {ticker}; available: {', '.join(sorted(samples))}"
        )
    ref = resources.files("lstmfc").joinpath(f"samples/{info['file']}")
    with resources.as_file(ref) as path:
        frame = parse_yahoo_csv(path, label=f"sample {ticker.upper()}")
        sha = file_sha256(path)
    frame = clip_dates(frame, start, end, ticker.upper())
    return frame, {
        "source": "sample",
        "sample": ticker.upper(),
        "origin": info["source"],
        "file_sha256": sha,
        "auto_adjust": False,
        "adjusted": False,
        "fetched_at": _now_utc(),
    }


# ---------------------------------------------------------------------- csv
_COLUMN_NAMES = {
    "date": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adj close": "adj_close",
    "adj_close": "adj_close",
    "adjclose": "adj_close",
    "volume": "volume",
}


def parse_yahoo_csv(path: str | Path, label: str | None = None) -> pd.DataFrame:
    """Parse a Yahoo-export CSV into a validated OHLCV frame.

    Accepts ``Date,Open,High,Low,Close,Adj Close,Volume`` in any letter case and column
    order, ``Adj Close`` optional; dates as ``YYYY-MM-DD`` (Yahoo) or ``M/D/YYYY``; a
    ``.gz`` file is decompressed.

    Raises
    ------
    DataError
        Missing file, binary or non-CSV content, unparseable dates, or any rule of
        :func:`lstmfc.validate.validate_ohlcv`.
    """
    path = Path(path)
    label = label or path.name
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix != ".gz":
        head = path.read_bytes()[:8192]
        if b"\x00" in head or head.startswith((b"PAR1", b"PK\x03\x04", b"\x89PNG")):
            raise DataError(f"{label}: not a CSV file (binary content)")
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{label}: not a readable CSV file ({reason})") from None
    rename = {}
    for c in frame.columns:
        key = " ".join(str(c).strip().lower().split())
        if key in _COLUMN_NAMES:
            rename[c] = _COLUMN_NAMES[key]
    frame = frame.rename(columns=rename)
    if "date" not in frame.columns:
        raise DataError(
            f"{label}: missing required column 'Date' (expected the Yahoo export layout "
            "Date,Open,High,Low,Close,Adj Close,Volume)"
        )
    if len(frame) == 0:
        raise DataError(f"{label}: no rows of data")
    raw_dates = frame["date"].astype(str).str.strip()
    dates = pd.to_datetime(raw_dates, format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        alt = pd.to_datetime(raw_dates, format="%m/%d/%Y", errors="coerce")
        dates = dates.fillna(alt) if dates.notna().any() else alt
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(
            f"{label}: row {i + 2} has an unreadable date {raw_dates.iloc[i]!r} (use YYYY-MM-DD)"
        )
    frame = frame.drop(columns=["date"])
    frame.index = pd.DatetimeIndex(dates.to_numpy(), name="date")
    # Yahoo exports write missing values as "null"
    frame = frame.replace({"null": np.nan, "": np.nan, "NaN": np.nan, "nan": np.nan})
    return validate_ohlcv(frame, label)


def read_csv(path: str | Path, start: str | None = None, end: str | None = None):
    """Read a Yahoo-export CSV file (see :func:`parse_yahoo_csv`).

    Returns
    -------
    (pandas.DataFrame, dict)
        Provenance has the file name, its sha256 and ``adjusted`` = False (the OHLC
        columns of a Yahoo export are not dividend-adjusted; ``Adj Close`` is kept).
    """
    path = Path(path)
    frame = parse_yahoo_csv(path)
    frame = clip_dates(frame, start, end, path.name)
    return frame, {
        "source": "csv",
        "file": str(path.resolve()),
        "file_sha256": file_sha256(path),
        "auto_adjust": False,
        "adjusted": False,
        "fetched_at": _now_utc(),
    }


# ---------------------------------------------------------------------- yahoo
def flatten_yahoo_frame(data: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """yfinance output -> lower-case single-level OHLCV columns.

    ``yf.download`` returns ``(Price, Ticker)`` MultiIndex columns; ``Ticker.history``
    single-level ones, plus ``Dividends``/``Stock Splits`` when ``actions=True``.
    """
    if isinstance(data.columns, pd.MultiIndex):
        levels = [list(map(str, data.columns.get_level_values(i))) for i in range(2)]
        price_level = 0 if "Close" in levels[0] else 1
        if ticker.upper() in {x.upper() for x in levels[1 - price_level]}:
            mask = [x.upper() == ticker.upper() for x in levels[1 - price_level]]
            data = data.loc[:, mask]
        data = data.copy()
        data.columns = data.columns.get_level_values(price_level)
    out = data.rename(columns=lambda c: _COLUMN_NAMES.get(" ".join(str(c).lower().split()), c))
    keep = [c for c in ("open", "high", "low", "close", "adj_close", "volume") if c in out]
    return out[keep]


def session_dates(index: pd.DatetimeIndex, exchange_tz: str = "America/New_York"):
    """Bar timestamps -> tz-naive midnight session dates.

    yfinance stamps daily bars at midnight in the exchange's time zone; converting a
    tz-aware index to UTC first would move Asian sessions to the previous day, so the
    date is taken in the index's own zone (or ``exchange_tz`` for UTC stamps).
    """
    if index.tz is not None:
        if str(index.tz) in ("UTC", "utc"):
            index = index.tz_convert(exchange_tz)
        index = index.tz_localize(None)
    return pd.DatetimeIndex(index.normalize(), name="date")


def drop_open_session(
    frame: pd.DataFrame, now: pd.Timestamp | None = None, calendar: str = DEFAULT_CALENDAR
) -> pd.DataFrame:
    """Drop the last bar if its session is today and has not closed yet.

    While a session is open Yahoo returns a partial bar for it whose close is the
    latest trade, not the closing price; keeping it would poison the stored history.
    The session close time (early closes included) comes from ``exchange_calendars``.
    """
    if len(frame) == 0:
        return frame
    import exchange_calendars as xc

    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    last = pd.Timestamp(frame.index[-1])
    try:
        cal = xc.get_calendar(
            calendar,
            start=(last - pd.Timedelta(days=7)).strftime("%Y-%m-%d"),
            end=(last + pd.Timedelta(days=7)).strftime("%Y-%m-%d"),
        )
        if not cal.is_session(last):
            return frame
        close = cal.session_close(last)
    except Exception:  # outside the calendar's range: assume 16:00 New York
        close = pd.Timestamp(last.strftime("%Y-%m-%d") + " 16:00", tz="America/New_York")
    if now < close:
        return frame.iloc[:-1]
    return frame


def _classify(exc: BaseException) -> str:
    """'rate', 'network', 'missing' or 'other' for an exception from yfinance."""
    from yfinance import exceptions as yfe

    if isinstance(exc, yfe.YFRateLimitError):
        return "rate"
    if isinstance(exc, yfe.YFTickerMissingError):
        return "missing"
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return "network"
    name = type(exc).__module__ + "." + type(exc).__name__
    if any(k in name for k in ("curl_cffi", "requests", "urllib3", "socket")):
        return "network"
    return "other"


def _history(
    ticker: str, start: pd.Timestamp | None, end_exclusive: pd.Timestamp | None, auto_adjust: bool
) -> pd.DataFrame:
    import logging

    import yfinance as yf

    cfg = yf.config.debug
    hidden = cfg.hide_exceptions
    cfg.hide_exceptions = False  # let yfinance raise instead of logging and returning empty
    yf_logger = logging.getLogger("yfinance")
    level = yf_logger.level
    yf_logger.setLevel(logging.CRITICAL)  # its own retries/cookie messages are not ours
    try:
        kwargs: dict[str, Any] = {
            "interval": "1d",
            "auto_adjust": auto_adjust,
            "actions": False,
            "timeout": YAHOO_TIMEOUT_S,
        }
        if start is None and end_exclusive is None:
            kwargs["period"] = "max"
        else:
            kwargs["start"] = (start or pd.Timestamp("1900-01-01")).strftime("%Y-%m-%d")
            if end_exclusive is not None:
                kwargs["end"] = end_exclusive.strftime("%Y-%m-%d")
        return yf.Ticker(ticker).history(**kwargs)
    finally:
        cfg.hide_exceptions = hidden
        yf_logger.setLevel(level)


def read_yahoo(
    ticker: str,
    start: str | None = None,
    end: str | None = None,
    *,
    auto_adjust: bool = False,
    delays: tuple[float, ...] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: pd.Timestamp | None = None,
    allow_empty: bool = False,
):
    """Download daily bars from Yahoo Finance with bounded retries.

    Parameters
    ----------
    ticker : str
        Yahoo symbol.
    start, end : str, optional
        Inclusive ISO dates (yfinance's ``end`` is exclusive, so one day is added).
    auto_adjust : bool, default False
        Passed explicitly to yfinance and recorded. False keeps the traded OHLC prices
        (split-adjusted by Yahoo) and an ``adj_close`` column; True rescales OHLC for
        dividends, which rewrites history at every dividend and would make incremental
        updates inconsistent.
    delays : tuple of float, optional
        Sleep before each retry (rate limit or network error); ``len(delays) + 1`` tries.
        Default :data:`RETRY_DELAYS`.
    sleep, now
        Injectable for tests.
    allow_empty : bool
        Return an empty frame instead of raising when Yahoo has no new bars (used by
        incremental updates).

    Returns
    -------
    (pandas.DataFrame, dict)

    Raises
    ------
    TemporaryFailure
        Rate limited or the network failed on every try (exit code 75).
    DataError
        Unknown or delisted ticker, or bars that fail validation.
    """
    delays = RETRY_DELAYS if delays is None else tuple(delays)
    s, e = _parse_day(start, "--start"), _parse_day(end, "--end")
    end_exclusive = e + pd.Timedelta(days=1) if e is not None else None
    last_exc: BaseException | None = None
    for attempt in range(len(delays) + 1):
        if attempt:
            sleep(delays[attempt - 1])
        try:
            data = _history(ticker, s, end_exclusive, auto_adjust)
            last_exc = None
            break
        except Exception as exc:  # classified below
            kind = _classify(exc)
            if kind == "missing":
                raise DataError(
                    f"{ticker}: Yahoo Finance has no data for this ticker (unknown or delisted?)"
                ) from None
            if kind == "other":
                raise DataError(f"{ticker}: yfinance failed: {type(exc).__name__}: {exc}") from None
            last_exc = exc
    if last_exc is not None:
        what = (
            "rate limited by Yahoo Finance"
            if _classify(last_exc) == "rate"
            else ("network failed reaching Yahoo Finance")
        )
        detail = str(last_exc).splitlines()[0] if str(last_exc) else type(last_exc).__name__
        detail = detail.split(" See https://")[0][:120]
        raise TemporaryFailure(
            f"{ticker}: {what} after {len(delays) + 1} tries ({detail}); try again later"
        )
    import yfinance as yf

    provenance = {
        "source": "yahoo",
        "symbol": ticker,
        "auto_adjust": bool(auto_adjust),
        "adjusted": bool(auto_adjust),
        "yfinance_version": yf.__version__,
        "fetched_at": _now_utc(),
    }
    if data is None or len(data) == 0:
        if allow_empty:
            return pd.DataFrame(), provenance
        raise DataError(
            f"{ticker}: Yahoo Finance returned no bars (unknown or delisted ticker, or no "
            "trading in the requested dates)"
        )
    frame = flatten_yahoo_frame(data, ticker)
    frame.index = session_dates(pd.DatetimeIndex(data.index))
    frame = frame.dropna(how="all")
    frame = drop_open_session(frame, now=now)
    if len(frame) == 0:
        if allow_empty:
            return pd.DataFrame(), provenance
        raise DataError(f"{ticker}: Yahoo Finance returned no completed bars")
    return validate_ohlcv(frame, ticker), provenance
