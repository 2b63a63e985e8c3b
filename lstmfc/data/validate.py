"""OHLCV checks applied to every source before anything is written.

Each failed rule raises :class:`~lstmfc.core.errors.DataError` with one line naming the
problem and the first offending date or column, e.g.
``SP500: high < low on 2020-03-16 (high 2400.0, low 2450.0)``.

Two shapes are valid (see :mod:`lstmfc.data.store`): OHLCV bars and close-only series.
Each rule applies to the columns present.

Rules (in this order)
---------------------
1. at least one row;
2. required columns present: ``close`` always; when any of ``open, high, low`` is
   present, all of ``open, high, low, close, volume`` (OHLCV bars); otherwise the frame
   is a close-only series (``close``, optional ``volume`` and ``adj_close``);
3. dates strictly increasing: no duplicate date, no date before its predecessor;
4. prices and volume numeric and finite (no NaN, no inf);
5. prices (``open, high, low, close, adj_close``, those present) > 0;
6. volume >= 0 when present (zero is valid: index series have zero-volume days);
7. high >= low (OHLCV bars only);
8. open and close inside [low, high] (OHLCV bars only).

Rules 7-8 allow a relative slack of 1e-9 so that float rounding in a CSV (e.g. an
open written as 99.99999999999 against a low of 100.0) is not a false alarm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstmfc.core.errors import DataError
from lstmfc.data.store import BAR_COLUMNS, OHLCV_COLUMNS, OPTIONAL_COLUMNS

PRICE_COLUMNS = ("open", "high", "low", "close")
_SLACK = 1e-9


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def is_close_only(frame: pd.DataFrame) -> bool:
    """Whether a frame in the stored layout is a close-only series (no open/high/low)."""
    return not any(c in frame.columns for c in BAR_COLUMNS)


def validate_ohlcv(
    frame: pd.DataFrame, label: str, names: dict[str, str] | None = None
) -> pd.DataFrame:
    """Check an OHLCV or close-only frame and return it in the stored layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        Index: dates (``DatetimeIndex``, tz-naive session dates); columns: either
        ``open, high, low, close, volume`` (currency; shares), optionally ``adj_close``
        (OHLCV bars), or ``close`` with optional ``volume`` and ``adj_close`` and none
        of ``open, high, low`` (a close-only series). Other columns are dropped.
    label : str
        Ticker or file name used in messages.
    names : dict, optional
        Stored column -> the name to show in messages (e.g. ``{"close": "SP500"}``
        for a FRED export, whose value column became ``close``); default the stored
        name.

    Returns
    -------
    pandas.DataFrame
        The columns present among ``open, high, low, close, volume, adj_close``, in
        that order, float64, index named ``date`` (layout of :mod:`lstmfc.data.store`).

    Raises
    ------
    DataError
        The first rule broken (see the module docstring), one line.
    """
    shown_name = dict(names or {})
    if frame is None or len(frame) == 0:
        raise DataError(f"{label}: no rows of data")
    bars = not is_close_only(frame)
    required = OHLCV_COLUMNS if bars else ("close",)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{label}: missing required column {missing[0]!r}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{label}: the index is not made of dates")
    if frame.index.hasnans:
        raise DataError(f"{label}: a row has no date (row {_first(frame.index.isna()) + 1})")

    idx = frame.index
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    dates = idx.values
    if len(dates) > 1:
        d = np.diff(dates.astype("datetime64[ns]").astype("int64"))
        if (d == 0).any():
            i = _first(d == 0) + 1
            raise DataError(f"{label}: duplicate date {_day(dates[i])}")
        if (d < 0).any():
            i = _first(d < 0) + 1
            raise DataError(
                f"{label}: dates not in increasing order at {_day(dates[i])} "
                f"(after {_day(dates[i - 1])})"
            )

    cols = [c for c in (*OHLCV_COLUMNS, *OPTIONAL_COLUMNS) if c in frame.columns]
    out = pd.DataFrame(index=pd.DatetimeIndex(idx, name="date"))
    for c in cols:
        raw = frame[c]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            i = _first(bad)
            shown = raw.iloc[i]
            if np.isinf(values[i]):
                what = "not finite"
            elif pd.isna(shown) or str(shown).strip() == "":
                what = "missing (NaN)"
            else:
                what = f"not a number ({str(shown)[:20]!r})"
            raise DataError(f"{label}: {shown_name.get(c, c)} is {what} on {_day(dates[i])}")
        out[c] = values

    for c in (*PRICE_COLUMNS, *OPTIONAL_COLUMNS):
        if c not in out:
            continue
        bad = out[c].to_numpy() <= 0
        if bad.any():
            i = _first(bad)
            raise DataError(
                f"{label}: {shown_name.get(c, c)} <= 0 on {_day(dates[i])} ({out[c].iloc[i]:g})"
            )
    if "volume" in out:
        bad = out["volume"].to_numpy() < 0
        if bad.any():
            i = _first(bad)
            raise DataError(
                f"{label}: negative volume on {_day(dates[i])} ({out['volume'].iloc[i]:g})"
            )
    if not bars:
        return out

    hi, lo = out["high"].to_numpy(), out["low"].to_numpy()
    tol = _SLACK * np.maximum(np.abs(hi), np.abs(lo))
    bad = hi < lo - tol
    if bad.any():
        i = _first(bad)
        raise DataError(f"{label}: high < low on {_day(dates[i])} (high {hi[i]:g}, low {lo[i]:g})")
    for c in ("open", "close"):
        v = out[c].to_numpy()
        bad = (v < lo - tol) | (v > hi + tol)
        if bad.any():
            i = _first(bad)
            raise DataError(
                f"{label}: {c} outside [low, high] on {_day(dates[i])} "
                f"({c} {v[i]:g}, low {lo[i]:g}, high {hi[i]:g})"
            )
    return out
