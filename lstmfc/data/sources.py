"""Readers for the three data sources; the only module that touches the network.

Each reader returns ``(frame, provenance)``: a validated OHLCV frame in the layout of
:mod:`lstmfc.data.store` and a JSON-serialisable dict saying where it came from.

* ``yahoo``: daily bars from Yahoo Finance through yfinance (``Ticker.history``);
* ``sample``: real daily OHLCV bundled in the package (``lstmfc/samples``), offline;
* ``csv``: a file in the Yahoo Finance export layout
  ``Date,Open,High,Low,Close,Adj Close,Volume`` (``Adj Close`` optional, names
  case-insensitive), or a close-only series: dates plus ``Close`` and/or ``Adj Close``
  (optionally ``Volume``), or a FRED export (a date column and one value column);
  see :func:`parse_price_csv`.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmfc.core.atomic import sha256_file
from lstmfc.core.errors import DataError, TemporaryFailure, UsageError
from lstmfc.data.store import BAR_COLUMNS, CLOSE_ONLY_COLUMNS
from lstmfc.data.validate import validate_ohlcv

SOURCES = ("yahoo", "sample", "csv")

#: Backoff before retries 2, 3 and 4, seconds (bounded exponential backoff).
RETRY_DELAYS = (2.0, 4.0, 8.0)
#: Wall-clock budget of one ticker's download, all tries and backoff included, seconds.
#: yfinance's own timeouts do not bound a call (cookie and crumb requests take 30 s
#: each), so every try runs under what is left of this budget.
YAHOO_DEADLINE_S = 45.0
#: Timeout of yfinance's data request, seconds (its ``timeout`` argument).
YAHOO_TIMEOUT_S = 10
#: Minutes after the official close before today's bar is taken as final: the
#: closing auction's print reaches Yahoo a few minutes after the bell.
SETTLE_MINUTES = 15
#: Exchange time zone -> ``exchange_calendars`` code whose close time decides when
#: today's bar is final; other zones wait for the next local day (see bar_is_final).
_CALENDAR_BY_TZ = {"America/New_York": "XNYS"}


def _now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def parse_day(value: str | None, what: str) -> pd.Timestamp | None:
    """``YYYY-MM-DD`` -> midnight Timestamp (None stays None).

    Raises
    ------
    UsageError
        Any other form; ``what`` names the option (e.g. ``--start``) in the message.
    """
    if value in (None, ""):
        return None
    try:
        return pd.Timestamp(datetime.strptime(str(value), "%Y-%m-%d"))
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date in YYYY-MM-DD form") from None


def clip_dates(frame: pd.DataFrame, start: str | None, end: str | None, label: str):
    """Rows with ``start <= date <= end`` (both inclusive; ISO dates or None).

    Raises
    ------
    UsageError
        A bound not in ``YYYY-MM-DD`` form, or ``start`` after ``end``.
    DataError
        No row in the range.
    """
    s, e = parse_day(start, "--start"), parse_day(end, "--end")
    if s is not None and e is not None and s > e:
        raise UsageError(f"--start {start} is after --end {end}")
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
        sha = sha256_file(path)
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


#: Headers (normalised: lower case, single spaces) taken as the date column: Yahoo's
#: ``Date`` and FRED's ``observation_date`` (fredgraph.csv) / ``DATE`` (older exports).
_DATE_NAMES = ("date", "observation_date")
#: Cells taken as "no value" in a close-only file (compared lower-case, stripped):
#: FRED writes ``.`` for a day without an observation, newer FRED downloads and
#: spreadsheets leave the cell empty, Yahoo writes ``null``.
_MISSING_CELLS = frozenset({"", ".", "null", "nan", "na", "n/a", "#n/a"})
_CLOSE_ONLY_HINT = "a close-only file has Date, Close and/or Adj Close, and optionally Volume"


def _header_key(name: Any) -> str:
    return " ".join(str(name).strip().lstrip("\ufeff").lower().split())


def _blank_filler(name: Any, values: pd.Series) -> bool:
    """A column pandas named ``Unnamed: N`` (empty header) with only empty cells.

    Spreadsheets write one when every line ends in a comma; it carries no data.
    """
    return str(name).startswith("Unnamed:") and bool((values.str.strip() == "").all())


def parse_price_csv(path: str | Path, label: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Parse a CSV of daily prices into a validated frame (layout of :mod:`lstmfc.data.store`).

    Three layouts are recognised from the header (names case-insensitive, any column
    order; dates ``YYYY-MM-DD`` or ``M/D/YYYY``; a ``.gz`` file is decompressed):

    ``ohlcv``
        The Yahoo Finance export ``Date,Open,High,Low,Close,Adj Close,Volume``
        (``Adj Close`` optional). Any of ``Open/High/Low`` makes the file this layout,
        so all of ``Open, High, Low, Close, Volume`` are then required (a file with
        Open and Close only is refused naming ``high``). Other columns are ignored, and
        a missing value (``null``, empty) is refused with its column and date.
    ``close``
        A date column and ``Close`` and/or ``Adj Close``, optionally ``Volume``, none of
        ``Open/High/Low``: a close-only series. With ``Adj Close`` alone, it becomes
        the ``close`` column (dividend-adjusted; recorded). Any other column is refused.
    ``fred``
        A date column (``DATE``, ``observation_date``, ``Date``) and exactly one
        other column of any name (``SP500``, ``DEXUSEU``), as FRED exports a series
        (https://fred.stlouisfed.org, "Download Data", CSV); it becomes ``close``.
        Two or more such columns are refused, listing them.

    In a close-only file (``close`` and ``fred`` layouts), a row whose prices are all
    missing (``.`` as FRED writes a holiday, an empty cell as newer FRED downloads and
    spreadsheets write it, ``null``, ``NaN``, ``NA``, ``#N/A``) is dropped and counted:
    such a day simply has no observation, like a weekend, and the count is reported
    and stored in the provenance. A file with no price left is refused.

    Parameters
    ----------
    path : str or Path
        The CSV (or ``.csv.gz``) file.
    label : str, optional
        Name used in messages; default the file name.

    Returns
    -------
    (pandas.DataFrame, dict)
        The validated frame (OHLCV bars, or close-only ``close [volume] [adj_close]``),
        and facts about the file: ``layout`` (``ohlcv`` | ``close`` | ``fred``),
        ``close_only`` (bool), ``close_from`` (the header the ``close`` column came
        from) and ``dropped_dates`` (``DatetimeIndex`` of the rows dropped as missing).

    Raises
    ------
    DataError
        Missing file, binary or non-CSV content, no date column, unparseable dates,
        a layout that fits none of the above, no price left after dropping missing
        rows, or any rule of :func:`lstmfc.data.validate.validate_ohlcv`; one line.
    """
    path = Path(path)
    label = label or path.name
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{label}: empty file (no header, no rows)")
    if path.suffix != ".gz":
        with open(path, "rb") as fh:
            head = fh.read(8192)
        if b"\x00" in head or head.startswith((b"PAR1", b"PK\x03\x04", b"\x89PNG", b"\x1f\x8b")):
            raise DataError(f"{label}: not a CSV file (binary content)")
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except (
        UnicodeDecodeError,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        OSError,
        EOFError,
        zlib.error,
    ) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{label}: not a readable CSV file ({reason})") from None
    header: dict[str, str] = {}  # stored name -> the file's header
    unknown: list[str] = []
    for c in frame.columns:
        key = _header_key(c)
        name = "date" if key in _DATE_NAMES else _COLUMN_NAMES.get(key)
        if name is None:
            if not _blank_filler(c, frame[c]):
                unknown.append(str(c))
        elif name in header:
            raise DataError(f"{label}: columns {header[name]!r} and {c!r} both mean {name!r}")
        else:
            header[name] = str(c)
    frame = frame.rename(columns={v: k for k, v in header.items()})
    if "date" not in header:
        raise DataError(
            f"{label}: missing required column 'Date' (expected the Yahoo export layout "
            "Date,Open,High,Low,Close,Adj Close,Volume)"
        )
    if len(frame) == 0:
        raise DataError(f"{label}: no rows of data")

    close_from = None
    if any(c in header for c in BAR_COLUMNS):
        layout = "ohlcv"
        close_from = header.get("close")
    elif "close" in header or "adj_close" in header:
        layout = "close"
        if unknown:
            cols = ", ".join(repr(c) for c in unknown)
            s = "s" if len(unknown) > 1 else ""
            raise DataError(f"{label}: unrecognised column{s} {cols} ({_CLOSE_ONLY_HINT})")
        close_from = header.get("close", header.get("adj_close"))
    else:
        layout = "fred"
        if not unknown:
            raise DataError(
                f"{label}: no price column (expected Close, Adj Close, Open/High/Low/Close, "
                "or one value column as in a FRED export)"
            )
        if len(unknown) > 1:
            cols = ", ".join(repr(c) for c in unknown)
            raise DataError(
                f"{label}: {len(unknown)} unrecognised value columns {cols} (a close-only "
                "file needs a Close or Adj Close column, or exactly one value column as in "
                "a FRED export)"
            )
        close_from = unknown[0]
        frame = frame.rename(columns={close_from: "close"})
    close_only = layout != "ohlcv"
    if close_only:
        frame = frame[[c for c in CLOSE_ONLY_COLUMNS + ("date",) if c in frame.columns]]
        if "close" not in frame.columns:  # Adj Close alone: it is the close
            frame = frame.rename(columns={"adj_close": "close"})

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
    names: dict[str, str] = {}
    dropped = pd.DatetimeIndex([], name="date")
    if close_only:
        blank = frame.apply(lambda col: col.str.strip().str.lower().isin(_MISSING_CELLS))
        prices = [c for c in ("close", "adj_close") if c in frame.columns]
        gone = blank[prices].all(axis=1).to_numpy()
        if gone.all():
            raise DataError(
                f"{label}: every {close_from} value is missing ({len(frame)} rows of '.' or "
                "empty cells); no prices to import"
            )
        dropped = frame.index[gone]
        frame = frame.loc[~gone].mask(blank.loc[~gone])
        if close_from != header.get("close"):  # messages name the file's column
            names["close"] = close_from
    else:
        # Yahoo exports write missing values as "null"
        frame = frame.replace({"null": np.nan, "": np.nan, "NaN": np.nan, "nan": np.nan})
    frame = validate_ohlcv(frame, label, names)
    return frame, {
        "layout": layout,
        "close_only": close_only,
        "close_from": close_from,
        "dropped_dates": dropped,
    }


def parse_yahoo_csv(path: str | Path, label: str | None = None) -> pd.DataFrame:
    """The validated frame of :func:`parse_price_csv` (any of its layouts).

    Raises
    ------
    DataError
        As :func:`parse_price_csv`.
    """
    return parse_price_csv(path, label)[0]


def read_csv(path: str | Path, start: str | None = None, end: str | None = None):
    """Read a CSV of daily prices (layouts of :func:`parse_price_csv`).

    Parameters
    ----------
    path : str or Path
    start, end : str, optional
        Inclusive ISO date bounds.

    Returns
    -------
    (pandas.DataFrame, dict)
        Provenance: ``source`` = ``csv``, the file name, path and sha256; ``layout``
        (``ohlcv`` | ``close`` | ``fred``); ``columns`` (the stored columns);
        ``close_only``; ``close_from`` (the file's column that became ``close``);
        ``dropped_missing`` (rows between ``start`` and ``end`` dropped because their
        price was missing, 0 for the ``ohlcv`` layout); ``adjusted``: False (the OHLC
        columns of a Yahoo export are not dividend-adjusted; ``Adj Close`` is kept),
        True when the close came from ``Adj Close`` alone.

    Raises
    ------
    DataError, UsageError
        As :func:`parse_price_csv` and :func:`clip_dates`.
    """
    path = Path(path)
    frame, info = parse_price_csv(path)
    frame = clip_dates(frame, start, end, path.name)
    dropped = info["dropped_dates"]
    s, e = parse_day(start, "--start"), parse_day(end, "--end")
    keep = np.ones(len(dropped), dtype=bool)
    if s is not None:
        keep &= dropped >= s
    if e is not None:
        keep &= dropped <= e
    adjusted = _header_key(info["close_from"] or "") in ("adj close", "adj_close", "adjclose")
    return frame, {
        "source": "csv",
        "file": path.name,
        "file_path": str(path.resolve()),
        "file_sha256": sha256_file(path),
        "auto_adjust": False,
        "adjusted": adjusted,
        "layout": info["layout"],
        "columns": list(frame.columns),
        "close_only": info["close_only"],
        "close_from": info["close_from"],
        "dropped_missing": int(keep.sum()),
        "fetched_at": _now_utc(),
    }


# ---------------------------------------------------------------------- yahoo
def flatten_yahoo_frame(data: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """yfinance output -> lower-case single-level OHLCV columns.

    ``yf.download`` returns ``(Price, Ticker)`` MultiIndex columns (``multi_level_index``
    defaults to True); ``Ticker.history`` returns single-level ones (``Open, High, Low,
    Close, Adj Close, Volume`` with ``auto_adjust=False``), plus ``Dividends`` /
    ``Stock Splits`` when ``actions=True``. Both shapes give ``open, high, low, close,
    volume`` (+ ``adj_close``); other columns are dropped.
    """
    if isinstance(data.columns, pd.MultiIndex):
        levels = [list(map(str, data.columns.get_level_values(i))) for i in range(2)]
        price_level = 0 if "Close" in levels[0] else 1
        other = levels[1 - price_level]
        if ticker.upper() in {x.upper() for x in other}:
            data = data.loc[:, [x.upper() == ticker.upper() for x in other]]
        elif len(set(other)) > 1:
            raise DataError(f"{ticker}: yfinance returned columns for {sorted(set(other))}")
        data = data.copy()
        data.columns = data.columns.get_level_values(price_level)
    out = data.rename(columns=lambda c: _COLUMN_NAMES.get(" ".join(str(c).lower().split()), c))
    keep = [c for c in ("open", "high", "low", "close", "volume", "adj_close") if c in out]
    return out[keep]


def session_dates(index: pd.DatetimeIndex, exchange_tz: str | None = None) -> pd.DatetimeIndex:
    """Bar timestamps -> tz-naive midnight exchange session dates.

    A tz-aware index is converted to the exchange's time zone (``exchange_tz``; by
    default the index's own zone, which is the exchange's for ``Ticker.history``), then
    the date is taken and the zone dropped. Converting to UTC instead would move every
    Asian session (stamped at local midnight) to the previous day.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Bar stamps as yfinance returns them (daily bars: local midnight).
    exchange_tz : str, optional
        IANA zone of the exchange, e.g. ``America/New_York``.
    """
    if index.tz is not None:
        if exchange_tz is not None:
            index = index.tz_convert(exchange_tz)
        index = index.tz_localize(None)
    return pd.DatetimeIndex(index.normalize(), name="date")


def _session_close(calendar: str, day: pd.Timestamp) -> pd.Timestamp | None:
    """Official close of ``day`` on ``calendar`` (UTC), or None if not a session."""
    import exchange_calendars as xc

    with warnings.catch_warnings():
        # exchange_calendars 4.x uses Series.values on tz-aware data (Pandas4Warning)
        warnings.simplefilter("ignore")
        try:
            cal = xc.get_calendar(
                calendar,
                start=(day - pd.Timedelta(days=7)).strftime("%Y-%m-%d"),
                end=(day + pd.Timedelta(days=7)).strftime("%Y-%m-%d"),
            )
            if not cal.is_session(day):
                return None
            return pd.Timestamp(cal.session_close(day))
        except Exception:  # outside the calendar's range: the regular 16:00 close
            return pd.Timestamp(f"{day:%Y-%m-%d} 16:00", tz="America/New_York")


def bar_is_final(day: pd.Timestamp, exchange_tz: str, now: pd.Timestamp | None = None) -> bool:
    """Whether the daily bar dated ``day`` is complete (its session has closed).

    The rule (documented in docs/data.md):

    * ``day`` before today in the exchange's time zone: final;
    * ``day`` is today: for ``America/New_York`` listings final from
      :data:`SETTLE_MINUTES` after the NYSE close (16:00, or the early close, from
      ``exchange_calendars`` ``XNYS``); for any other zone not before the exchange's
      local date has moved on (its close time is not known here, and FX, crypto and
      futures trade late or around the clock);
    * ``day`` after today: never (a bar from the future is partial by definition).

    Parameters
    ----------
    day : pandas.Timestamp
        Tz-naive session date.
    exchange_tz : str
        IANA zone of the exchange (yfinance stamps daily bars in it).
    now : pandas.Timestamp, optional
        The current time (tz-aware; naive means UTC). Default: now.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize("UTC")
    today = pd.Timestamp(now.tz_convert(exchange_tz).date())
    day = pd.Timestamp(day).normalize()
    if day < today:
        return True
    if day > today or exchange_tz not in _CALENDAR_BY_TZ:
        return False
    close = _session_close(_CALENDAR_BY_TZ[exchange_tz], day)
    if close is None:  # a bar on a day the exchange is shut: wait for the next day
        return False
    return now >= close + pd.Timedelta(minutes=SETTLE_MINUTES)


def drop_open_session(
    frame: pd.DataFrame, exchange_tz: str = "America/New_York", now: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Drop the last bar while its session is still open (see :func:`bar_is_final`).

    While a session is open Yahoo returns a partial bar for it whose close is the
    latest trade, not the closing price; storing it would poison the history.
    """
    if len(frame) == 0 or bar_is_final(frame.index[-1], exchange_tz, now):
        return frame
    return frame.iloc[:-1]


def _classify(exc: BaseException) -> str:
    """'rate', 'network', 'missing' or 'other' for an exception from yfinance.

    yfinance 1.7 raises (with ``config.debug.hide_exceptions = False``)
    ``YFRateLimitError`` for HTTP 429, ``YFTzMissingError`` / ``YFPricesMissingError``
    (both ``YFTickerMissingError``) for an unknown or delisted symbol, and lets the
    HTTP client's errors through: curl_cffi's ``RequestException`` family (DNS,
    connection, timeout, HTTP errors) are ``OSError`` subclasses, as are requests'.
    A non-JSON reply or its "Yahoo! Finance is currently down" page is a server-side
    outage, hence retried like a network error.
    """
    from yfinance import exceptions as yfe

    if isinstance(exc, yfe.YFRateLimitError):
        return "rate"
    if isinstance(exc, yfe.YFTickerMissingError):
        return "missing"
    if isinstance(exc, (OSError, TimeoutError, ConnectionError, json.JSONDecodeError)):
        return "network"
    if isinstance(exc, yfe.YFDataException) and "CURRENTLY DOWN" in str(exc).upper():
        return "network"
    name = type(exc).__module__ + "." + type(exc).__name__
    if any(k in name for k in ("curl_cffi", "requests", "urllib3", "socket")):
        return "network"
    return "other"


def _history(
    ticker: str, start: pd.Timestamp | None, end_exclusive: pd.Timestamp | None, auto_adjust: bool
) -> pd.DataFrame:
    """One call of ``yf.Ticker(ticker).history`` with its exceptions surfaced.

    yfinance 1.7 hides exceptions by default (it logs them and returns an empty
    frame, so a dead network looks like an unknown ticker); ``hide_exceptions`` is
    switched off for the call so the two can be told apart.
    """
    import logging

    import yfinance as yf

    cfg = yf.config.debug
    hidden = cfg.hide_exceptions
    cfg.hide_exceptions = False
    yf_logger = logging.getLogger("yfinance")
    level = yf_logger.level
    yf_logger.setLevel(logging.CRITICAL)  # its cookie/crumb warnings are not ours
    try:
        kwargs: dict[str, Any] = {
            "interval": "1d",
            "auto_adjust": bool(auto_adjust),
            "actions": False,
            "timeout": YAHOO_TIMEOUT_S,
        }
        if start is None:
            kwargs["period"] = "max"  # with an end: 99 years before it (yfinance)
        else:
            kwargs["start"] = start.strftime("%Y-%m-%d")
        if end_exclusive is not None:
            kwargs["end"] = end_exclusive.strftime("%Y-%m-%d")
        return yf.Ticker(ticker).history(**kwargs)
    finally:
        cfg.hide_exceptions = hidden
        yf_logger.setLevel(level)


def _call_with_deadline(fn: Callable[[], Any], seconds: float) -> Any:
    """``fn()``, or ``TimeoutError`` if it has not returned within ``seconds``.

    yfinance's own timeouts do not bound a call (its cookie and crumb requests use
    30 s each before the data request's own timeout), so the call runs in a daemon
    thread that is abandoned when the budget is spent; it cannot keep the process alive.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=target, name="lstmfc-yahoo", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        raise TimeoutError(f"no answer within {round(seconds, 1):g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def read_yahoo(
    ticker: str,
    start: str | None = None,
    end: str | None = None,
    *,
    auto_adjust: bool = False,
    delays: tuple[float, ...] | None = None,
    deadline_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: pd.Timestamp | None = None,
):
    """Download daily bars from Yahoo Finance with bounded retries.

    Parameters
    ----------
    ticker : str
        Yahoo symbol (e.g. ``AAPL``, ``^GSPC``, ``7203.T``).
    start, end : str, optional
        Inclusive ISO dates. yfinance's ``end`` is exclusive, so ``end + 1 day`` is
        passed; no ``start`` asks for the whole history (``period="max"``).
    auto_adjust : bool, default False
        Passed explicitly to yfinance and recorded. False keeps the traded OHLC prices
        (split-adjusted by Yahoo) plus ``adj_close``; True rescales OHLC for dividends,
        which rewrites all earlier prices at every dividend.
    delays : tuple of float, optional
        Backoff before each retry after a rate limit or network error, seconds;
        ``len(delays) + 1`` tries. Default :data:`RETRY_DELAYS` (2, 4, 8: exponential).
    deadline_s : float, optional
        Wall-clock budget for all tries and sleeps. Default :data:`YAHOO_DEADLINE_S`.
    sleep, clock, now
        Injectable for tests (``time.sleep``, ``time.monotonic``, current UTC time).

    Returns
    -------
    (pandas.DataFrame, dict)
        Validated frame (layout of :mod:`lstmfc.data.store`) and provenance (``source``,
        ``symbol``, ``auto_adjust``, ``yfinance_version``, ``exchange_tz``,
        ``fetched_at``).

    Raises
    ------
    TemporaryFailure
        Rate limited, or the network failed, on every try or until the deadline
        (exit code 75).
    DataError
        Unknown or delisted ticker (an empty frame, or yfinance's
        ``YFTickerMissingError``), or bars that fail validation.
    UsageError
        ``start``/``end`` not in ``YYYY-MM-DD`` form, or ``start`` after ``end``.
    """
    delays = RETRY_DELAYS if delays is None else tuple(delays)
    budget = YAHOO_DEADLINE_S if deadline_s is None else float(deadline_s)
    s, e = parse_day(start, "--start"), parse_day(end, "--end")
    if s is not None and e is not None and s > e:
        raise UsageError(f"--start {start} is after --end {end}")
    end_exclusive = e + pd.Timedelta(days=1) if e is not None else None
    t0 = clock()
    tries = 0
    last_exc: BaseException | None = None
    data = None
    while True:
        tries += 1
        remaining = budget - (clock() - t0)
        try:
            data = _call_with_deadline(
                lambda: _history(ticker, s, end_exclusive, auto_adjust), remaining
            )
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
        if tries > len(delays):
            break
        wait = delays[tries - 1]
        if budget - (clock() - t0) < wait + 1.0:  # no time left for another try
            break
        sleep(wait)
    if last_exc is not None:
        what = (
            "rate limited by Yahoo Finance"
            if _classify(last_exc) == "rate"
            else "network failed reaching Yahoo Finance"
        )
        detail = str(last_exc).splitlines()[0] if str(last_exc) else type(last_exc).__name__
        detail = detail.split(" See https://")[0][:200]
        n = "1 try" if tries == 1 else f"{tries} tries"
        raise TemporaryFailure(f"{ticker}: {what} after {n} ({detail}); try again later")

    import yfinance as yf

    provenance: dict[str, Any] = {
        "source": "yahoo",
        "symbol": ticker,
        "auto_adjust": bool(auto_adjust),
        "adjusted": bool(auto_adjust),
        "yfinance_version": yf.__version__,
        "fetched_at": _now_utc(),
    }
    if data is None or len(data) == 0:
        raise DataError(
            f"{ticker}: Yahoo Finance returned no bars (unknown or delisted ticker, or no "
            "trading in the requested dates)"
        )
    index = pd.DatetimeIndex(data.index)
    exchange_tz = str(index.tz) if index.tz is not None else "America/New_York"
    provenance["exchange_tz"] = exchange_tz
    frame = flatten_yahoo_frame(data, ticker)
    frame.index = session_dates(index, exchange_tz)
    frame = frame.dropna(how="all")
    frame = drop_open_session(frame, exchange_tz, now=now)
    if len(frame) == 0:
        raise DataError(f"{ticker}: Yahoo Finance returned no completed bars")
    return validate_ohlcv(frame, ticker), provenance
