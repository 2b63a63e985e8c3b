"""``fetch``: bring daily OHLCV into ``data/raw/<TICKER>.parquet``, fully or incrementally.

* ``sample`` / ``csv``: the whole series is read, validated and written (atomically).
  If the stored file already holds exactly the same bars from the same source, it is
  left byte-identical (so re-running a cron job on the sample changes nothing).
* ``yahoo``: the first fetch downloads the full history (or ``--start``..``--end``).
  Later fetches ask only for the days after the last stored date — plus that last
  day itself, which must come back unchanged: if Yahoo's bar for it differs (a split
  or adjustment rewrote history since), the update is refused and ``--refresh``
  re-downloads everything. New bars are appended; stored bars are never rewritten.

Validation runs before any write; on any error nothing is written and an existing
file stays byte-identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lstmfc import sources
from lstmfc.config import Workspace, normalize_ticker
from lstmfc.errors import DataError, LstmfcError, UsageError
from lstmfc.store import read_raw, write_raw
from lstmfc.validate import validate_ohlcv

_REL_TOL = 1e-6


def _summary(
    ws: Workspace, t: str, frame: pd.DataFrame, source: str, status: str, new_rows: int
) -> dict[str, Any]:
    return {
        "ticker": t,
        "rows": int(len(frame)),
        "first": frame.index[0].strftime("%Y-%m-%d"),
        "last": frame.index[-1].strftime("%Y-%m-%d"),
        "path": str(ws.raw_path(t)),
        "source": source,
        "status": status,
        "new_rows": int(new_rows),
    }


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
        Extra keyword arguments for :func:`lstmfc.sources.read_yahoo` (tests inject
        ``sleep``/``delays``/``now``).

    Returns
    -------
    dict
        ``ticker, rows, first, last, path, source, status`` (``written`` | ``updated`` |
        ``unchanged`` | ``up to date``) and ``new_rows``.

    Raises
    ------
    DataError, UsageError, TemporaryFailure
        See :mod:`lstmfc.sources`; nothing is written.
    """
    t = normalize_ticker(ticker)
    check_source(source, path)
    target = ws.raw_path(t)
    stored = stored_prov = None
    if target.exists():
        stored, stored_prov = read_raw(target)

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
            return _summary(ws, t, stored, source, "unchanged", 0)
        write_raw(target, frame, prov)
        return _summary(ws, t, frame, source, "written", len(frame))

    opts = dict(yahoo_options or {})
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
        if end is not None and pd.Timestamp(end) <= last:
            return _summary(ws, t, stored, source, "up to date", 0)
        new, prov = sources.read_yahoo(
            t, last.strftime("%Y-%m-%d"), end, auto_adjust=auto_adjust, allow_empty=True, **opts
        )
        if len(new) == 0 or new.index[-1] <= last:
            return _summary(ws, t, stored, source, "up to date", 0)
        if last in new.index:
            old_c = float(stored.loc[last, "close"])
            new_c = float(new.loc[last, "close"])
            if abs(new_c - old_c) > _REL_TOL * abs(old_c):
                raise DataError(
                    f"{t}: Yahoo's close for {last:%Y-%m-%d} is now {new_c:g}, stored {old_c:g} "
                    "(a split or adjustment rewrote history); run `lstmfc fetch "
                    f"{t} --refresh` to download the whole series again"
                )
        added = new.loc[new.index > last]
        merged = pd.concat([stored, added.reindex(columns=stored.columns)])
        merged = validate_ohlcv(merged, t)
        prov = {
            **stored_prov,
            **prov,
            "ticker": t,
            "first_fetched_at": stored_prov.get("first_fetched_at", stored_prov.get("fetched_at")),
        }
        write_raw(target, merged, prov)
        return _summary(ws, t, merged, source, "updated", len(added))

    frame, prov = sources.read_yahoo(t, start, end, auto_adjust=auto_adjust, **opts)
    prov["ticker"] = t
    write_raw(target, frame, prov)
    return _summary(ws, t, frame, source, "written", len(frame))


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


__all__ = ["fetch_many", "fetch_ticker", "DataError"]
