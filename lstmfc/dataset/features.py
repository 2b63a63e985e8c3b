"""Feature columns, computed from the past only (the targets: :mod:`lstmfc.dataset.targets`).

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
absret    ``absret`` = abs(r_t)                      percent                    1
sqret     ``sqret`` = r_t ** 2                       variance of percent ret.   1
logrange  ``logrange`` = 100 ln(high_t / low_t)      percent                    0
rv5       ``rv5``: mean of r ** 2 over 5 sessions    variance of percent ret.   5
rv22      ``rv22``: mean of r ** 2 over 22 sessions  variance of percent ret.   22
garch     ``garch``: GARCH(1,1) sigma2_{t+1|t}       variance of percent ret.   1
========  =========================================  =========================  =======

The volatility sets (``absret`` .. ``garch``) use **percent** log returns
``r_t = 100 * ln(close_t / close_{t-1})``, the units of :mod:`lstmfc.volatility.models`.
``rv5`` and ``rv22`` are the zero-mean realised variances of the HAR model's weekly and
monthly terms (Corsi 2009, "A simple approximate long-memory model of realized
volatility", J. Financial Econometrics 7(2)). ``logrange`` needs the high and low
columns (a close-only series refuses it, naming the missing column). ``garch`` is the
one-step conditional variance of a GARCH(1,1) with normal errors (Bollerslev 1986)
whose parameters are fit on the training rows only, the input of the LSTM-GARCH hybrid
(Kim & Won 2018, "Forecasting the volatility of stock price index: A hybrid model
integrating LSTM with multiple GARCH-type models", Expert Systems with Applications
103): ``lstmfc prepare`` fits them (:func:`fit_garch_feature`) on the returns up to the
last training target, stores them in ``prepare.json`` (key ``garch``), and every later
rebuild (``predict``) filters the series with the stored parameters, never refitting.

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

from lstmfc.core.config import DEFAULT_FEATURES
from lstmfc.core.dates import iso_date
from lstmfc.core.errors import DataError
from lstmfc.volatility.garch11 import garch11_one_step
from lstmfc.volatility.series import percent_log_returns, trailing_mean

#: Feature-set name -> the columns it adds, in order.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "close": ("close",),
    "ohlcv": ("open", "high", "low", "close", "volume_log1p"),
    "logret": ("logret",),
    "volume": ("volume_log1p",),
    "rsi": ("rsi_14",),
    "macd": ("macd", "macd_signal", "macd_hist"),
    "bbp": ("bb_pctb",),
    "absret": ("absret",),
    "sqret": ("sqret",),
    "logrange": ("logrange",),
    "rv5": ("rv5",),
    "rv22": ("rv22",),
    "garch": ("garch",),
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
    "absret": "absolute percent log return |r_t|",
    "sqret": "squared percent log return r_t^2",
    "logrange": "log range 100 ln(high/low), percent",
    "rv5": "realised variance: mean r^2 over 5 sessions",
    "rv22": "realised variance: mean r^2 over 22 sessions",
    "garch": "GARCH(1,1) one-step variance, parameters fit on training rows",
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
    "absret": 1,
    "sqret": 1,
    "logrange": 0,
    "rv5": 5,
    "rv22": 22,
    "garch": 1,
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
    "absret": ("close",),
    "sqret": ("close",),
    "logrange": ("high", "low"),
    "rv5": ("close",),
    "rv22": ("close",),
    "garch": ("close",),
}


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


def raw_column(raw: pd.DataFrame, col: str, feature: str) -> np.ndarray:
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
        when = iso_date(raw.index[i])
        raise DataError(f"raw data has an invalid {col} value ({float(values[i])!r}) on {when}")
    return values


def build_features(
    raw: pd.DataFrame,
    features: str | Sequence[str] = DEFAULT_FEATURES,
    *,
    garch: dict | None = None,
) -> tuple[pd.DataFrame, int]:
    """Compute the unscaled feature frame of a raw OHLCV series.

    Parameters
    ----------
    raw : pandas.DataFrame
        Raw OHLCV frame in the layout of :mod:`lstmfc.data.store` (index ``date``,
        increasing; columns ``open high low close volume``, float64).
    features : str or sequence of str
        Feature-set names (see the module docstring), e.g. ``("close", "rsi")``.
    garch : dict, optional
        Parameters of the ``garch`` feature fit on the training rows
        (:func:`fit_garch_feature`, stored in ``prepare.json``); required when
        ``garch`` is among ``features``, ignored otherwise.

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
        non-positive price (negative volume) in a needed column; ``garch`` asked for
        without (valid) parameters.
    """
    import talib

    names = parse_features(features)
    if not raw.index.is_monotonic_increasing or not raw.index.is_unique:
        dates = raw.index.to_numpy()
        i = int(np.argmax(dates[1:] <= dates[:-1])) + 1
        raise DataError(f"raw dates are not strictly increasing (at {iso_date(raw.index[i])})")
    cols: dict[str, np.ndarray] = {}
    for name in names:
        inputs = {c: raw_column(raw, c, name) for c in _NEEDS[name]}
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
        elif name in ("absret", "sqret", "rv5", "rv22", "garch"):
            r = _percent_returns(inputs["close"])
            if name == "absret":
                cols["absret"] = np.abs(r)
            elif name == "sqret":
                cols["sqret"] = r * r
            elif name == "garch":
                cols["garch"] = np.r_[np.nan, garch11_one_step(r[1:], _garch_params(garch))]
            else:
                cols[name] = trailing_mean(r * r, int(name[2:]))
        elif name == "logrange":
            cols["logrange"] = 100.0 * np.log(inputs["high"] / inputs["low"])
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
        raise DataError(f"feature {order[j]!r} is not finite on {iso_date(frame.index[i])}")
    return frame.iloc[warmup:].copy(), warmup


def _percent_returns(close: np.ndarray) -> np.ndarray:
    """Percent log returns per row (:func:`lstmfc.volatility.models.percent_log_returns`),
    NaN in row 0, which has no previous close."""
    r = np.full(close.shape, np.nan)
    if close.size >= 2:
        r[1:] = percent_log_returns(close)
    return r


#: Keys of the ``garch`` feature's stored parameters (``prepare.json`` key ``garch``).
GARCH_KEYS: tuple[str, ...] = ("mu", "omega", "alpha", "beta", "backcast")


def _garch_params(garch: dict | None) -> dict[str, float]:
    """The stored GARCH(1,1) parameters, checked (DataError naming the problem)."""
    if not isinstance(garch, dict):
        raise DataError(
            "feature 'garch' needs GARCH(1,1) parameters fit on the training rows; "
            "`lstmfc prepare` fits them (walk-forward backtests do not offer this feature)"
        )
    out = {}
    for key in GARCH_KEYS:
        v = garch.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise DataError(f"the stored 'garch' feature parameters lack a finite {key!r}")
        out[key] = float(v)
    if out["omega"] <= 0 or out["alpha"] < 0 or out["beta"] < 0 or out["backcast"] <= 0:
        raise DataError("the stored 'garch' feature parameters are not a valid GARCH(1,1)")
    return out
