"""``fetch``: bring daily OHLCV into ``data/raw/<TICKER>.parquet``, fully or incrementally.

* ``sample`` / ``csv``: the whole series is read, validated and written (atomically).
  If the stored file already holds exactly the same bars from the same source, it is
  left byte-identical (so re-running a cron job on the sample changes nothing). A CSV
  may be a close-only series (dates and closes, e.g. a FRED export; see
  :func:`lstmfc.data.sources.csvfile.parse_price_csv`): it is stored with the columns it has.
* ``yahoo``: the first fetch downloads the full history (or ``--start``..``--end``;
  ``--start`` or ``--refresh`` on a stored ticker downloads again and replaces it).
  Later fetches ask only for the days after the last stored date, plus that last
  day itself (the *overlap day*), which checks that the stored history still fits:

  - ``auto_adjust=False`` (default; traded prices, split-adjusted by Yahoo): Yahoo's
    close for the overlap day may differ from the stored one by at most
    :data:`CORRECTION_TOL` (2 %, a late correction of the last bar, e.g. the closing
    auction or late volume); then Yahoo's overlap row replaces the stored one. A
    bigger change means a split or a reverse split rewrote history: the update is
    refused (exit 1) and ``--refresh`` re-downloads everything. A dividend does not
    move the close but rescales Yahoo's ``Adj Close`` for every earlier day by one
    factor; the stored ``adj_close`` column is multiplied by that factor (taken from
    the overlap day) so that it stays on one basis, and the factor is recorded in the
    provenance under ``adj_close_rescaled``.
  - ``auto_adjust=True`` (dividend-adjusted OHLC): every dividend rewrites all
    earlier prices, so any change of the overlap close beyond float noise
    (:data:`ADJUSTED_TOL`) is refused with the same advice (``--refresh``).

  Days before the overlap day are otherwise never rewritten; new days are appended.
  A stored series from another source (a CSV, close-only or not, or a sample) is
  never extended from Yahoo: the update is refused and ``--refresh`` replaces it.

Validation runs before any write; on any error nothing is written and an existing
file stays byte-identical.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import DataError, LstmfcError, UsageError
from lstmfc.data.sources import FetchRequest, check_source, read_source
from lstmfc.data.sources.dates import parse_day
from lstmfc.data.store import read_raw, write_raw
from lstmfc.data.validate import is_close_only, validate_ohlcv

#: Largest relative change of the overlap day's close taken as a late correction
#: (auto_adjust=False). Splits change it by a third (3:2) or more.
CORRECTION_TOL = 0.02
#: Float noise allowed on the overlap day's close with auto_adjust=True.
ADJUSTED_TOL = 1e-6
#: Smallest change of the adj_close/close ratio taken as a new dividend adjustment.
ADJ_FACTOR_TOL = 1e-6


def _summary(
    ws: Workspace,
    t: str,
    frame: pd.DataFrame,
    source: str,
    status: str,
    new_rows: int,
    prov: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out = {
        "ticker": t,
        "rows": int(len(frame)),
        "first": frame.index[0].strftime("%Y-%m-%d"),
        "last": frame.index[-1].strftime("%Y-%m-%d"),
        "path": str(ws.raw_path(t)),
        "source": source,
        "status": status,
        "new_rows": int(new_rows),
    }
    if source == "csv":
        out["close_only"] = bool(is_close_only(frame))
        out["dropped_missing"] = int((prov or {}).get("dropped_missing", 0))
    return out


def _same_bars(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return (
        list(a.columns) == list(b.columns)
        and a.index.equals(b.index)
        and np.array_equal(a.to_numpy(), b.to_numpy())
    )


def fetch_ticker(ws: Workspace, ticker: str, request: FetchRequest | None = None) -> dict[str, Any]:
    """Fetch one ticker into the workspace.

    Parameters
    ----------
    ws : Workspace
    ticker : str
        Ticker name for the stored file (for ``csv`` any name you choose).
    request : FetchRequest, optional
        Source, CSV path, inclusive ISO dates, ``auto_adjust``, ``refresh`` and Yahoo's
        timing (tests make retries instant); default: the whole Yahoo history.

    Returns
    -------
    dict
        ``ticker, rows, first, last, path, source, status`` (``written`` | ``updated`` |
        ``unchanged`` | ``up to date``) and ``new_rows``; for ``source="csv"`` also
        ``close_only`` (the file had no Open/High/Low: only ``close`` [``volume``,
        ``adj_close``] are stored) and ``dropped_missing`` (rows dropped because their
        price was missing, e.g. FRED's ``.``; 0 normally).

    Raises
    ------
    DataError, UsageError, TemporaryFailure
        See :mod:`lstmfc.data.sources`; nothing is written.
    """
    request = request or FetchRequest()
    t = normalize_ticker(ticker)
    check_source(request.source, request.path)
    yahoo = request.source == "yahoo"
    replace_all = yahoo and (request.refresh or request.start is not None)
    target = ws.raw_path(t)
    stored = stored_prov = None
    if target.exists() and not replace_all:
        try:
            stored, stored_prov = read_raw(target)
        except DataError:
            if yahoo:
                raise DataError(
                    f"{t}: the stored file {target} cannot be read; run `lstmfc fetch {t} "
                    "--refresh` to download the whole series again"
                ) from None
            # sample / csv replace the whole series anyway
    if yahoo and stored is not None:
        return _update_from_yahoo(ws, t, request, stored, stored_prov)
    frame, prov = read_source(t, request)
    prov["ticker"] = t
    if (
        not yahoo
        and stored is not None
        and stored_prov.get("source") == request.source
        and stored_prov.get("file_sha256") == prov.get("file_sha256")
        and _same_bars(stored, frame)
    ):
        return _summary(ws, t, stored, request.source, "unchanged", 0, prov)
    write_raw(target, frame, prov)
    return _summary(ws, t, frame, request.source, "written", len(frame), prov)


def _update_from_yahoo(
    ws: Workspace,
    t: str,
    request: FetchRequest,
    stored: pd.DataFrame,
    stored_prov: dict[str, Any],
) -> dict[str, Any]:
    """Append Yahoo's days after the stored series' last day (policy in the module docstring).

    Raises
    ------
    DataError
        The stored series came from another source or another ``auto_adjust``, or
        :func:`merge_overlap` refuses the overlap day; nothing is written.
    """
    if stored_prov.get("source") != "yahoo":
        raise DataError(
            f"{t}: the stored series came from {stored_prov.get('source', '?')}, not Yahoo; "
            f"use `lstmfc fetch {t} --source yahoo --refresh` to replace it"
        )
    if bool(stored_prov.get("auto_adjust")) != bool(request.auto_adjust):
        raise DataError(
            f"{t}: the stored series was fetched with auto_adjust="
            f"{bool(stored_prov.get('auto_adjust'))}; use --refresh to re-download it"
        )
    last = stored.index[-1]
    if request.end is not None and parse_day(request.end, "--end") <= last:
        return _summary(ws, t, stored, "yahoo", "up to date", 0)
    new, prov = read_source(t, replace(request, start=last.strftime("%Y-%m-%d")))
    merged, notes = merge_overlap(t, stored, new, auto_adjust=request.auto_adjust)
    added = int((new.index > last).sum())
    if added == 0:
        return _summary(ws, t, stored, "yahoo", "up to date", 0)
    prov = {
        **stored_prov,
        **prov,
        "ticker": t,
        "first_fetched_at": stored_prov.get("first_fetched_at", stored_prov.get("fetched_at")),
    }
    if notes:
        prov["adj_close_rescaled"] = [*stored_prov.get("adj_close_rescaled", []), notes]
    write_raw(ws.raw_path(t), merged, prov)
    return _summary(ws, t, merged, "yahoo", "updated", added)


def merge_overlap(
    ticker: str, stored: pd.DataFrame, new: pd.DataFrame, *, auto_adjust: bool
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Append Yahoo's new bars to a stored series (policy in the module docstring).

    Parameters
    ----------
    ticker : str
    stored : pandas.DataFrame
        The stored series (layout of :mod:`lstmfc.data.store`); its last date is the
        overlap day.
    new : pandas.DataFrame
        Yahoo's bars from the overlap day on.
    auto_adjust : bool
        How both were fetched (yfinance ``auto_adjust``).

    Returns
    -------
    (pandas.DataFrame, dict or None)
        The validated merged series, and ``{"on": overlap day, "factor": f}`` when the
        stored ``adj_close`` was rescaled by ``f`` (a dividend since the last fetch).

    Raises
    ------
    DataError
        Yahoo no longer has the overlap day, or its close changed beyond the
        tolerance (a split or adjustment rewrote history): run ``--refresh``.
    """
    last = stored.index[-1]
    day = f"{last:%Y-%m-%d}"
    refresh = f"run `lstmfc fetch {ticker} --refresh` to download the whole series again"
    if last not in new.index:
        raise DataError(f"{ticker}: Yahoo no longer has a bar for the stored day {day}; {refresh}")
    old_c = float(stored.loc[last, "close"])
    new_c = float(new.loc[last, "close"])
    change = abs(new_c / old_c - 1.0)
    tol = ADJUSTED_TOL if auto_adjust else CORRECTION_TOL
    if change > tol:
        why = "a dividend or split" if auto_adjust else "a split"
        raise DataError(
            f"{ticker}: Yahoo's close for {day} is now {new_c:g}, stored {old_c:g} "
            f"({why} rewrote history); {refresh}"
        )
    head = stored.iloc[:-1].copy()
    note = None
    if "adj_close" in stored.columns and "adj_close" in new.columns:
        old_ratio = float(stored.loc[last, "adj_close"]) / old_c
        new_ratio = float(new.loc[last, "adj_close"]) / new_c
        factor = new_ratio / old_ratio
        if abs(factor - 1.0) > ADJ_FACTOR_TOL:
            head["adj_close"] = head["adj_close"] * factor
            note = {"on": day, "factor": factor}
    tail = new.loc[new.index >= last].reindex(columns=stored.columns)
    merged = pd.concat([head, tail]) if len(head) else tail
    return validate_ohlcv(merged, ticker), note


def fetch_named(ws: Workspace, ticker: str, request: FetchRequest) -> dict[str, Any]:
    """:func:`fetch_ticker` whose errors name the ticker first (``"AAPL: ..."``).

    The CLI's one-ticker path: the message alone must say which ticker failed.
    """
    try:
        return fetch_ticker(ws, ticker, request)
    except LstmfcError as exc:
        t = ticker.strip().upper()
        if str(exc).upper().startswith(t + ":") or isinstance(exc, UsageError):
            raise
        raise type(exc)(f"{t}: {exc}") from exc


def fetch_many(
    ws: Workspace, tickers: list[str], request: FetchRequest, on_result=None
) -> list[dict[str, Any]]:
    """:func:`fetch_ticker` for each ticker; one failure does not stop the others.

    Returns
    -------
    list of dict
        Per ticker the summary plus ``ok: True``, or ``ticker, ok: False, error,
        exit_code`` (1 data error, 2 invalid ticker name, 75 temporary failure).

    Raises
    ------
    UsageError
        Unknown source, or ``path`` missing/extra for it (before any ticker).
    """
    check_source(request.source, request.path)
    out = []
    for tk in tickers:
        try:
            res = {**fetch_ticker(ws, tk, request), "ok": True}
        except LstmfcError as exc:
            res = {"ticker": tk, "ok": False, "error": str(exc), "exit_code": exc.exit_code}
        out.append(res)
        if on_result is not None:
            on_result(res)
    return out


__all__ = ["fetch_many", "fetch_named", "fetch_ticker", "merge_overlap"]
