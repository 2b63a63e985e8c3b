"""The ``yahoo`` source: daily bars from Yahoo Finance through yfinance; the only network access.

One download is ``yf.Ticker(symbol).history(interval="1d", auto_adjust=..., actions=False)``
(yfinance 1.7), run under a wall-clock deadline with bounded exponential backoff after
a rate limit or a network error. The bars are stamped with their exchange session date,
a bar whose session has not closed yet is dropped (:func:`bar_is_final`), and the frame
is checked by :func:`lstmfc.data.validate.validate_ohlcv`.

yfinance is imported inside the functions that call it: it is the boundary the tests
replace (``yfinance.Ticker``, see ``tests/yahoo_fakes.py``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lstmfc.core.clock import utc_now_iso
from lstmfc.core.errors import DataError, TemporaryFailure
from lstmfc.data.sources.columns import STORED_NAME, header_key
from lstmfc.data.sources.dates import parse_range
from lstmfc.data.validate import validate_ohlcv

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
#: Columns kept from yfinance's output, in stored order.
_KEPT = ("open", "high", "low", "close", "volume", "adj_close")


@dataclass(frozen=True)
class YahooTiming:
    """How long a download may take and what time it is (injectable for tests).

    Attributes
    ----------
    delays : tuple of float, optional
        Backoff before each retry after a rate limit or network error, seconds;
        ``len(delays) + 1`` tries. None: :data:`RETRY_DELAYS` (2, 4, 8: exponential),
        read when the download starts.
    deadline_s : float, optional
        Wall-clock budget for all tries and sleeps, seconds. None:
        :data:`YAHOO_DEADLINE_S`.
    sleep, clock
        ``time.sleep`` and ``time.monotonic`` by default.
    now : pandas.Timestamp, optional
        The current time deciding whether the last bar is final
        (:func:`bar_is_final`); None: the real time.
    """

    delays: tuple[float, ...] | None = None
    deadline_s: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    now: pd.Timestamp | None = None


def read_yahoo(
    ticker: str,
    start: str | None = None,
    end: str | None = None,
    *,
    auto_adjust: bool = False,
    timing: YahooTiming | None = None,
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
    timing : YahooTiming, optional
        Backoff, deadline, sleep, clock and "now" (default :class:`YahooTiming`).

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
    timing = timing or YahooTiming()
    s, e = parse_range(start, end)
    end_exclusive = e + pd.Timedelta(days=1) if e is not None else None
    data = _download(ticker, lambda: _history(ticker, s, end_exclusive, auto_adjust), timing)

    import yfinance as yf

    provenance: dict[str, Any] = {
        "source": "yahoo",
        "symbol": ticker,
        "auto_adjust": bool(auto_adjust),
        "adjusted": bool(auto_adjust),
        "yfinance_version": yf.__version__,
        "fetched_at": utc_now_iso(),
    }
    if data is None or len(data) == 0:
        raise DataError(
            f"{ticker}: Yahoo Finance returned no bars (unknown or delisted ticker, or no "
            "trading in the requested dates)"
        )
    frame, provenance["exchange_tz"] = _completed_bars(data, ticker, timing.now)
    return validate_ohlcv(frame, ticker), provenance


def _download(ticker: str, call: Callable[[], pd.DataFrame], timing: YahooTiming):
    """``call()`` retried after rate limits and network errors, within the deadline.

    Raises
    ------
    DataError
        Unknown ticker, or an error that is neither a rate limit nor the network.
    TemporaryFailure
        The last try failed with a rate limit or a network error.
    """
    delays = RETRY_DELAYS if timing.delays is None else tuple(timing.delays)
    budget = YAHOO_DEADLINE_S if timing.deadline_s is None else float(timing.deadline_s)
    clock = timing.clock
    t0 = clock()
    tries = 0
    while True:
        tries += 1
        try:
            return _call_with_deadline(call, budget - (clock() - t0))
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
        timing.sleep(wait)
    raise _temporary(ticker, last_exc, tries)


def _temporary(ticker: str, exc: BaseException, tries: int) -> TemporaryFailure:
    """The one-line TemporaryFailure for the last of ``tries`` failed tries."""
    what = (
        "rate limited by Yahoo Finance"
        if _classify(exc) == "rate"
        else "network failed reaching Yahoo Finance"
    )
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    detail = detail.split(" See https://")[0][:200]
    n = "1 try" if tries == 1 else f"{tries} tries"
    return TemporaryFailure(f"{ticker}: {what} after {n} ({detail}); try again later")


def _completed_bars(
    data: pd.DataFrame, ticker: str, now: pd.Timestamp | None
) -> tuple[pd.DataFrame, str]:
    """yfinance's bars on session dates, without empty rows and an unfinished last bar.

    Returns
    -------
    (pandas.DataFrame, str)
        The bars (stored column names, not yet validated) and the exchange time zone
        (the index's zone; ``America/New_York`` when the index has none).

    Raises
    ------
    DataError
        No completed bar is left.
    """
    index = pd.DatetimeIndex(data.index)
    exchange_tz = str(index.tz) if index.tz is not None else "America/New_York"
    frame = flatten_yahoo_frame(data, ticker)
    frame.index = session_dates(index, exchange_tz)
    frame = frame.dropna(how="all")
    frame = drop_open_session(frame, exchange_tz, now=now)
    if len(frame) == 0:
        raise DataError(f"{ticker}: Yahoo Finance returned no completed bars")
    return frame, exchange_tz


def flatten_yahoo_frame(data: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """yfinance output -> lower-case single-level OHLCV columns.

    ``yf.download`` returns ``(Price, Ticker)`` MultiIndex columns (``multi_level_index``
    defaults to True); ``Ticker.history`` returns single-level ones (``Open, High, Low,
    Close, Adj Close, Volume`` with ``auto_adjust=False``), plus ``Dividends`` /
    ``Stock Splits`` when ``actions=True``. Both shapes give ``open, high, low, close,
    volume`` (+ ``adj_close``); other columns are dropped.

    Raises
    ------
    DataError
        MultiIndex columns for several tickers, none of them ``ticker``.
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
    out = data.rename(columns=lambda c: STORED_NAME.get(header_key(c), c))
    return out[[c for c in _KEPT if c in out]]


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
