"""Feature columns and targets, computed from the past only.

Every feature value at date ``t`` is a function of the raw OHLCV rows dated ``<= t``
(the indicators are one-pass recursive filters over the past), so a window of
features never sees the future. The first rows of a series lack enough history for
the longest indicator; those warm-up rows are dropped and counted.

Feature sets (``lstmfc prepare --features``, a comma list, order kept, repeated
columns dropped):

========  =========================================  =========================  =======
name      columns                                    unit                       warm-up
========  =========================================  =========================  =======
close     ``close``                                  currency                   0
ohlcv     ``open high low close volume_log1p``       currency; log(1 + shares)  0
logret    ``logret`` = log(close_t / close_{t-1})    log return                 1
volume    ``volume_log1p`` = log(1 + volume)         log(1 + shares)            0
rsi       ``rsi_14``: RSI(14), Wilder's smoothing    0..100                     14
macd      ``macd macd_signal macd_hist`` (12/26/9)   fraction of close          33
bbp       ``bb_pctb``: Bollinger %B (20, 2)          band fraction              19
========  =========================================  =========================  =======

``logret`` is the default (:data:`DEFAULT_FEATURES`): it is roughly stationary, so
its scaled values stay inside the training range. ``close`` is the classic tutorial
model's single input ("60 past closes in, the next close out"), kept selectable as
that reference; once prices leave their training range its MinMax-scaled values leave
[0, 1] and the network extrapolates (``prepare.json`` records the share per split,
and ``evaluate``/``predict``/``backtest`` warn above 1 %). RSI, MACD and Bollinger %B
are scale-free as well.

The indicators come from TA-Lib (the ``TA-Lib`` package, Python wrapper of the C
library; the reference implementation most trading platforms are checked against).
RSI uses Wilder's smoothing seeded with the simple mean of the first 14 changes
(J. W. Wilder, *New Concepts in Technical Trading Systems*, 1978); 14 days without any
change give 0 (TA-Lib's convention). MACD line, signal
and histogram are divided by the close at ``t``, which makes them scale-free like the
Percentage Price Oscillator (PPO divides by the slow EMA instead); in price units
they would grow with the price level and leave the scaler's training range just as
raw prices do. Bollinger %B is ``(close - lower) / (upper - lower)`` with a 20-day
simple moving average and two population standard deviations (Bollinger, 2001); a
zero-width band (20 identical closes) gives 0.5, the close sitting on the middle band.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from lstmfc.errors import DataError, UsageError

#: Feature-set name -> the columns it adds, in order.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "close": ("close",),
    "ohlcv": ("open", "high", "low", "close", "volume_log1p"),
    "logret": ("logret",),
    "volume": ("volume_log1p",),
    "rsi": ("rsi_14",),
    "macd": ("macd", "macd_signal", "macd_hist"),
    "bbp": ("bb_pctb",),
}

#: One-line description of each feature set (shown in docs and ``--help``).
FEATURE_DESCRIPTIONS: dict[str, str] = {
    "close": "close price (currency); the reference model's single input",
    "ohlcv": "open, high, low, close (currency) and log(1 + volume)",
    "logret": "log return of the close, log(close_t / close_t-1)",
    "volume": "log(1 + volume)",
    "rsi": "RSI(14), Wilder's smoothing, 0..100",
    "macd": "MACD(12,26,9) line, signal and histogram, divided by the close",
    "bbp": "Bollinger %B(20, 2): position of the close within the bands",
}

#: Rows each feature set needs before its first defined value (TA-Lib lookbacks).
WARMUP_ROWS: dict[str, int] = {
    "close": 0,
    "ohlcv": 0,
    "logret": 1,
    "volume": 0,
    "rsi": 14,
    "macd": 33,
    "bbp": 19,
}

#: Raw columns each feature set reads.
_NEEDS: dict[str, tuple[str, ...]] = {
    "close": ("close",),
    "ohlcv": ("open", "high", "low", "close", "volume"),
    "logret": ("close",),
    "volume": ("volume",),
    "rsi": ("close",),
    "macd": ("close",),
    "bbp": ("close",),
}

DEFAULT_FEATURES: tuple[str, ...] = ("logret",)

RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
BB_PERIOD, BB_NSTD = 20, 2.0


def parse_features(spec: str | Iterable[str]) -> tuple[str, ...]:
    """Validate a feature-set list (``"close,rsi"`` or ``["close", "rsi"]``).

    Names are case-insensitive; order is kept and repeated names are dropped.

    Raises
    ------
    DataError
        For an empty list or an unknown name (the message lists the valid ones).
    """
    items = [spec] if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in items:
        for part in str(item).split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in FEATURE_SETS:
                raise DataError(
                    f"unknown feature {name!r}; valid features: {', '.join(FEATURE_SETS)}"
                )
            if name not in names:
                names.append(name)
    if not names:
        raise DataError(f"no features given; valid features: {', '.join(FEATURE_SETS)}")
    return tuple(names)


def feature_columns(features: str | Iterable[str]) -> list[str]:
    """Column names produced by ``features``, in order, without repeats."""
    cols: list[str] = []
    for name in parse_features(features):
        for col in FEATURE_SETS[name]:
            if col not in cols:
                cols.append(col)
    return cols


def warmup_rows(features: str | Iterable[str]) -> int:
    """Rows dropped at the start of the series for ``features`` (the longest lookback)."""
    return max(WARMUP_ROWS[name] for name in parse_features(features))


def _raw_column(raw: pd.DataFrame, col: str, feature: str) -> np.ndarray:
    if col not in raw.columns:
        if not any(c in raw.columns for c in ("open", "high", "low")):
            usable = [n for n, need in _NEEDS.items() if all(c in raw.columns for c in need)]
            raise DataError(
                f"feature {feature!r} needs the {col!r} column, which this close-only series "
                f"does not have (features it supports: {', '.join(usable) or 'none'})"
            )
        raise DataError(f"raw data has no {col!r} column (needed by feature {feature!r})")
    values = raw[col].to_numpy(dtype="float64", copy=True)
    bad = ~np.isfinite(values)
    if col != "volume":
        bad |= values <= 0
    else:
        bad |= values < 0
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"raw data has an invalid {col} value ({float(values[i])!r}) on {_iso(raw.index[i])}"
        )
    return values


def build_features(
    raw: pd.DataFrame, features: str | Sequence[str] = DEFAULT_FEATURES
) -> tuple[pd.DataFrame, int]:
    """Compute the unscaled feature frame of a raw OHLCV series.

    Parameters
    ----------
    raw : pandas.DataFrame
        Raw OHLCV frame in the layout of :mod:`lstmfc.store` (index ``date``,
        increasing; columns ``open high low close volume``, float64).
    features : str or sequence of str
        Feature-set names (see the module docstring), e.g. ``("close", "rsi")``.

    Returns
    -------
    (pandas.DataFrame, int)
        The feature frame of shape ``(n_rows - warmup, n_features)``: index ``date``,
        float64 columns named as in :data:`FEATURE_SETS`; and ``warmup``, the number
        of leading rows dropped because some feature was still undefined (NaN).
        Row ``t`` depends on raw rows dated ``<= t`` only.

    Raises
    ------
    DataError
        Unknown feature name, a needed raw column missing, or a non-finite or
        non-positive price (negative volume) in a needed column.
    """
    import talib

    names = parse_features(features)
    if not raw.index.is_monotonic_increasing or not raw.index.is_unique:
        dates = raw.index.to_numpy()
        i = int(np.argmax(dates[1:] <= dates[:-1])) + 1
        raise DataError(f"raw dates are not strictly increasing (at {_iso(raw.index[i])})")
    cols: dict[str, np.ndarray] = {}
    for name in names:
        inputs = {c: _raw_column(raw, c, name) for c in _NEEDS[name]}
        if name == "close":
            cols["close"] = inputs["close"]
        elif name == "ohlcv":
            for c in ("open", "high", "low", "close"):
                cols.setdefault(c, inputs[c])
            cols.setdefault("volume_log1p", np.log1p(inputs["volume"]))
        elif name == "logret":
            c = inputs["close"]
            lr = np.full(c.shape, np.nan)
            lr[1:] = np.log(c[1:] / c[:-1])
            cols["logret"] = lr
        elif name == "volume":
            cols.setdefault("volume_log1p", np.log1p(inputs["volume"]))
        elif name == "rsi":
            cols["rsi_14"] = talib.RSI(inputs["close"], timeperiod=RSI_PERIOD)
        elif name == "macd":
            c = inputs["close"]
            macd, signal, hist = talib.MACD(
                c, fastperiod=MACD_FAST, slowperiod=MACD_SLOW, signalperiod=MACD_SIGNAL
            )
            cols["macd"] = macd / c
            cols["macd_signal"] = signal / c
            cols["macd_hist"] = hist / c
        elif name == "bbp":
            c = inputs["close"]
            upper, _middle, lower = talib.BBANDS(
                c, timeperiod=BB_PERIOD, nbdevup=BB_NSTD, nbdevdn=BB_NSTD, matype=0
            )
            width = upper - lower
            with np.errstate(invalid="ignore", divide="ignore"):
                pctb = (c - lower) / width
            pctb[np.isfinite(width) & (width <= 0)] = 0.5
            cols["bb_pctb"] = pctb
    order = feature_columns(names)
    frame = pd.DataFrame({k: cols[k] for k in order}, index=raw.index)
    frame.index.name = "date"

    values = frame.to_numpy()
    finite_rows = np.isfinite(values).all(axis=1)
    warmup = int(np.argmax(finite_rows)) if finite_rows.any() else len(frame)
    rest = finite_rows[warmup:]
    if not rest.all():
        i = warmup + int(np.argmin(rest))
        j = int(np.argmin(np.isfinite(values[i])))
        raise DataError(f"feature {order[j]!r} is not finite on {_iso(frame.index[i])}")
    return frame.iloc[warmup:].copy(), warmup


def build_targets(close: pd.Series, horizon: int = 1) -> pd.DataFrame:
    """Targets ``h`` rows ahead of each date ``t``.

    Parameters
    ----------
    close : pandas.Series
        Close prices (currency), indexed by date, increasing.
    horizon : int
        ``h >= 1``: rows (trading days) ahead.

    Returns
    -------
    pandas.DataFrame
        Index ``date`` (= ``t``), one row per input row, columns

        * ``target_date``: date of row ``t + h``,
        * ``target_price``: ``close[t+h]`` (currency),
        * ``target_logret``: ``log(close[t+h] / close[t])`` (log return),
        * ``target_direction``: 1 if ``close[t+h] > close[t]`` else 0 (pandas
          nullable ``Int8``; a flat close counts as 0).

        The last ``h`` rows have no future: ``NaT`` / ``NaN`` / ``<NA>``. They are never
        window targets.

    Raises
    ------
    UsageError
        If ``horizon < 1``.
    """
    if int(horizon) != horizon or horizon < 1:
        raise UsageError(f"horizon must be an integer >= 1, got {horizon}")
    h = int(horizon)
    c = close.to_numpy(dtype="float64")
    n = len(c)
    future = np.full(n, np.nan)
    future[: max(n - h, 0)] = c[h:]
    idx = close.index
    tdate = pd.Series(idx, index=idx).shift(-h)
    with np.errstate(invalid="ignore", divide="ignore"):
        logret = np.log(future / c)
    direction = pd.array((future > c).astype("int8"), dtype="Int8")
    direction[np.isnan(future)] = pd.NA
    out = pd.DataFrame(
        {
            "target_date": tdate.to_numpy(),
            "target_price": future,
            "target_logret": logret,
            "target_direction": direction,
        },
        index=idx,
    )
    out.index.name = "date"
    return out


def _iso(ts) -> str:
    """ISO date of a timestamp (``YYYY-MM-DD``; with the time if it is not midnight)."""
    ts = pd.Timestamp(ts)
    if ts == ts.normalize():
        return ts.date().isoformat()
    return ts.isoformat()
