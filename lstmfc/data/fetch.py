"""``fetch``: bring daily OHLCV into ``data/raw/<TICKER>.parquet``, fully or incrementally.

* ``sample`` / ``csv``: the whole series is read, validated and written (atomically).
  If the stored file already holds exactly the same bars from the same source, it is
  left byte-identical (so re-running a cron job on the sample changes nothing). A CSV
  may be a close-only series (dates and closes, e.g. a FRED export; see
  :func:`lstmfc.data.sources.parse_price_csv`): it is stored with the columns it has.
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

from typing import Any

import numpy as np
import pandas as pd

from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import DataError, LstmfcError, UsageError
from lstmfc.data import sources
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


def check_source(source: str, path: str | None) -> None:
    """Raise UsageError for an unknown source or a --path that does not fit it."""
    if source not in sources.SOURCES:
        raise UsageError(f"unknown --source {source!r}; use one of {', '.join(sources.SOURCES)}")
    if source == "csv" and not path:
        raise UsageError("--source csv needs --path FILE.csv")
    if source != "csv" and path:
        raise UsageError("--path is only used with --source csv")


def fetch_ticker(
    ws: Workspace,
    ticker: str,
    *,
    source: str = "yahoo",
    path: str | None = None,
    start: str | None = None,
    end: str | None = None,
    auto_adjust: bool = False,
    refresh: bool = False,
    yahoo_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fetch one ticker into the workspace.

    Parameters
    ----------
    ws : Workspace
    ticker : str
        Ticker name for the stored file (for ``csv`` any name you choose).
    source : {"yahoo", "sample", "csv"}
    path : str, optional
        The CSV file (``source="csv"`` only).
    start, end : str, optional
        Inclusive ISO dates.
    auto_adjust : bool
        yfinance ``auto_adjust`` (yahoo only; recorded in the provenance).
    refresh : bool
        Yahoo: ignore the stored file and download the whole range again.
    yahoo_options : dict, optional
        Extra keyword arguments for :func:`lstmfc.data.sources.read_yahoo` (tests inject
        ``sleep``/``delays``/``now``).

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
    t = normalize_ticker(ticker)
    check_source(source, path)
    opts = dict(yahoo_options or {})
    target = ws.raw_path(t)
    stored = stored_prov = None
    if target.exists() and not (source == "yahoo" and (refresh or start is not None)):
        try:
            stored, stored_prov = read_raw(target)
        except DataError:
            if source == "yahoo":
                raise DataError(
                    f"{t}: the stored file {target} cannot be read; run `lstmfc fetch {t} "
                    "--refresh` to download the whole series again"
                ) from None
            # sample / csv replace the whole series anyway

    if source in ("sample", "csv"):
        if source == "sample":
            frame, prov = sources.read_sample(t, start, end)
        else:
            frame, prov = sources.read_csv(path, start, end)
        prov["ticker"] = t
        if (
            stored is not None
            and stored_prov.get("source") == source
            and stored_prov.get("file_sha256") == prov.get("file_sha256")
            and _same_bars(stored, frame)
        ):
            return _summary(ws, t, stored, source, "unchanged", 0, prov)
        write_raw(target, frame, prov)
        return _summary(ws, t, frame, source, "written", len(frame), prov)

    incremental = stored is not None and not refresh and start is None
    if incremental:
        if stored_prov.get("source") != "yahoo":
            raise DataError(
                f"{t}: the stored series came from {stored_prov.get('source', '?')}, not Yahoo; "
                f"use `lstmfc fetch {t} --source yahoo --refresh` to replace it"
            )
        if bool(stored_prov.get("auto_adjust")) != bool(auto_adjust):
            raise DataError(
                f"{t}: the stored series was fetched with auto_adjust="
                f"{bool(stored_prov.get('auto_adjust'))}; use --refresh to re-download it"
            )
        last = stored.index[-1]
        if end is not None and sources.parse_day(end, "--end") <= last:
            return _summary(ws, t, stored, source, "up to date", 0)
        new, prov = sources.read_yahoo(
            t, last.strftime("%Y-%m-%d"), end, auto_adjust=auto_adjust, **opts
        )
        merged, notes = merge_overlap(t, stored, new, auto_adjust=auto_adjust)
        added = int((new.index > last).sum())
        if added == 0:
            return _summary(ws, t, stored, source, "up to date", 0)
        prov = {
            **stored_prov,
            **prov,
            "ticker": t,
            "first_fetched_at": stored_prov.get("first_fetched_at", stored_prov.get("fetched_at")),
        }
        if notes:
            prov["adj_close_rescaled"] = [*stored_prov.get("adj_close_rescaled", []), notes]
        write_raw(target, merged, prov)
        return _summary(ws, t, merged, source, "updated", added)

    frame, prov = sources.read_yahoo(t, start, end, auto_adjust=auto_adjust, **opts)
    prov["ticker"] = t
    write_raw(target, frame, prov)
    return _summary(ws, t, frame, source, "written", len(frame))


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


def fetch_named(ws: Workspace, ticker: str, **kwargs) -> dict[str, Any]:
    """:func:`fetch_ticker` whose errors name the ticker first (``"AAPL: ..."``).

    The CLI's one-ticker path: the message alone must say which ticker failed.
    """
    try:
        return fetch_ticker(ws, ticker, **kwargs)
    except LstmfcError as exc:
        t = ticker.strip().upper()
        if str(exc).upper().startswith(t + ":") or isinstance(exc, UsageError):
            raise
        raise type(exc)(f"{t}: {exc}") from exc


def fetch_many(ws: Workspace, tickers: list[str], on_result=None, **kwargs) -> list[dict[str, Any]]:
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
    check_source(kwargs.get("source", "yahoo"), kwargs.get("path"))
    out = []
    for tk in tickers:
        try:
            res = {**fetch_ticker(ws, tk, **kwargs), "ok": True}
        except LstmfcError as exc:
            res = {"ticker": tk, "ok": False, "error": str(exc), "exit_code": exc.exit_code}
        out.append(res)
        if on_result is not None:
            on_result(res)
    return out


__all__ = ["fetch_many", "fetch_named", "fetch_ticker", "merge_overlap"]
