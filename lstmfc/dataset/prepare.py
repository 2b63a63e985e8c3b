"""Chronological split, train-only MinMax scaling and sliding windows (views).

This module turns ``data/raw/<TICKER>.parquet`` into ``data/prepared/<TICKER>/``, the
supervised dataset that ``train``, ``evaluate`` and ``predict`` read, and gives them
the windows back as read-only NumPy views (:class:`Prepared`).

Window and split arithmetic
---------------------------
Rows ``r = 0 .. N-1`` are the rows of the feature frame (the raw rows after the
warm-up rows were dropped). With lookback ``L`` and horizon ``h`` the window ending
at row ``r`` covers rows ``r-L+1 .. r`` and its target is at row ``r+h``::

    row            0   1   2  ...  L-1   L  ...   r-L+1 ... r  ...  r+h  ...  N-1
    window 0      [0 ............. L-1]  -> target row L-1+h
    window i                              [ i ......... i+L-1] -> target row i+L-1+h

Valid window ends are ``r = L-1 .. N-1-h``, so there are ``n = N - L - h + 1``
windows, ordered by date. The split is chronological on the windows (hence on their
target dates), never shuffled: the cuts are at ``floor(n * f_train)`` and
``floor(n * (f_train + f_val))`` windows, so each split is within one window of its
share, and each must hold at least one window. With
``R`` the end row of the last training window::

    feature rows   0 ................................ R | R+1 ........... V | V+1 ... N-1
    train ends              L-1 ..................... R |                   |
    train targets                 L-1+h ............. R+h                   |
    val ends                                            R+1 ............. V |
    val targets                                             R+1+h ......... V+h
    scaler fit     0 ................................ R   (inputs of training windows)

A window's inputs may reach back across a split boundary (that is the past), but
every training target is dated before the first validation target, and every
validation target before the first test target. The MinMaxScaler is fit on rows
``0 .. R`` only, the rows that feed the training windows, and applied unchanged to
every later row (values outside ``[0, 1]`` there are expected and never clipped).
Fitting the scaler on all rows would leak the future into training (Kaufman et al.
2012, "Leakage in data mining", ACM TKDD 6(4)); the keras-io weather example's
``normalize(data, train_split)`` fits on the training rows too.

Memory
------
Only the scaled feature frame, ``(N, n_features)`` float32, and the targets are
stored. :meth:`Prepared.windows` returns ``numpy.lib.stride_tricks.sliding_window_view``
slices of it, shape ``(n_windows, lookback, n_features)``: no copy, so memory stays
O(rows x features) instead of O(rows x lookback x features).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import ArtifactError, DataError, UsageError
from lstmfc.core.limits import MIN_SPLIT_FRACTION
from lstmfc.dataset.features import (
    DEFAULT_FEATURES,
    _iso,
    build_features,
    build_targets,
    feature_columns,
    fit_garch_feature,
    parse_features,
    warmup_rows,
)
from lstmfc.dataset.targets import check_steps, path_columns, purged_rows

SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_LOOKBACK = 60
DEFAULT_HORIZON = 1
DEFAULT_SPLIT: tuple[float, float, float] = (0.70, 0.15, 0.15)
FEATURES_FILE = "features.parquet"
TARGETS_FILE = "targets.parquet"
META_FILE = "prepare.json"
TARGET_COLUMNS = ("close", "target_date", "target_price", "target_logret", "target_direction")
#: Target columns present only when the raw series has them (high/low for Parkinson).
OPTIONAL_TARGET_COLUMNS = ("target_parkinson",)
_EPS = 1e-9  # floor(n * f + _EPS): 0.15 * 20 is 3.0000000000000004 or 2.9999999999999996


# ------------------------------------------------------------------ the scaler
@dataclass(frozen=True)
class MinMaxParams:
    """Parameters of a fitted MinMaxScaler, stored as JSON (never a pickle).

    Same math as :class:`sklearn.preprocessing.MinMaxScaler`:
    ``scale = (hi - lo) / (data_max - data_min)``, ``min = lo - data_min * scale``,
    ``transform(x) = x * scale + min`` in float64, so the result is bit-identical to
    scikit-learn's.

    Attributes
    ----------
    feature_names : tuple of str
        Column names, in order.
    data_min, data_max : tuple of float
        Per-feature minimum and maximum over the training rows (feature units).
    feature_range : tuple of float
        ``(lo, hi)``, default ``(0, 1)``.
    """

    feature_names: tuple[str, ...]
    data_min: tuple[float, ...]
    data_max: tuple[float, ...]
    feature_range: tuple[float, float] = (0.0, 1.0)
    _scale: np.ndarray = field(init=False, repr=False, compare=False)
    _min: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.feature_names)
        dmin = tuple(float(v) for v in self.data_min)
        dmax = tuple(float(v) for v in self.data_max)
        lo, hi = (float(v) for v in self.feature_range)
        if not (len(names) == len(dmin) == len(dmax)) or not names:
            raise ValueError("feature_names, data_min and data_max must have one entry each")
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(self, "data_min", dmin)
        object.__setattr__(self, "data_max", dmax)
        object.__setattr__(self, "feature_range", (lo, hi))
        data_min = np.array(dmin, dtype="float64")
        data_range = np.array(dmax, dtype="float64") - data_min
        for name, rng in zip(names, data_range, strict=True):
            if not rng > 0:
                raise DataError(
                    f"feature {name!r} has zero range in the training rows; "
                    "remove it from --features or use a longer history"
                )
        scale = (hi - lo) / data_range
        object.__setattr__(self, "_scale", scale)
        object.__setattr__(self, "_min", lo - data_min * scale)

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        feature_names: Sequence[str],
        feature_range: tuple[float, float] = (0.0, 1.0),
    ) -> MinMaxParams:
        """Fit scikit-learn's MinMaxScaler on ``x`` (shape ``(rows, n_features)``).

        Raises
        ------
        DataError
            If a feature has zero range in ``x`` (the message names it).
        """
        from sklearn.preprocessing import MinMaxScaler

        x = np.asarray(x, dtype="float64")
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != len(feature_names):
            raise ValueError(f"expected shape (rows, {len(feature_names)}), got {x.shape}")
        sk = MinMaxScaler(feature_range=feature_range).fit(x)
        return cls.from_sklearn(sk, feature_names)

    @classmethod
    def from_sklearn(cls, scaler, feature_names: Sequence[str]) -> MinMaxParams:
        """Parameters of a fitted ``sklearn.preprocessing.MinMaxScaler``."""
        return cls(
            tuple(feature_names),
            tuple(scaler.data_min_.tolist()),
            tuple(scaler.data_max_.tolist()),
            tuple(float(v) for v in scaler.feature_range),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``feature_names``, ``data_min``, ``data_max``, ``feature_range``."""
        return {
            "feature_names": list(self.feature_names),
            "data_min": list(self.data_min),
            "data_max": list(self.data_max),
            "feature_range": list(self.feature_range),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MinMaxParams:
        """Inverse of :meth:`to_json` (extra keys such as ``fit_rows`` are ignored)."""
        return cls(
            tuple(d["feature_names"]),
            tuple(d["data_min"]),
            tuple(d["data_max"]),
            tuple(d.get("feature_range", (0.0, 1.0))),
        )

    @property
    def scale(self) -> np.ndarray:
        """Per-feature multiplier, shape ``(n_features,)`` (sklearn's ``scale_``)."""
        return self._scale.copy()

    @property
    def offset(self) -> np.ndarray:
        """Per-feature offset, shape ``(n_features,)`` (sklearn's ``min_``)."""
        return self._min.copy()

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype="float64", copy=True)
        if x.shape[-1:] != (len(self.feature_names),):
            raise ValueError(
                f"expected last axis of {len(self.feature_names)} features, got shape {x.shape}"
            )
        return x

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` (shape ``(..., n_features)``, feature units) -> float64."""
        x = self._check(x)
        x *= self._scale
        x += self._min
        return x

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform` (shape ``(..., n_features)``) -> float64 feature units."""
        x = self._check(x)
        x -= self._min
        x /= self._scale
        return x

    def _index(self, name: str) -> int:
        try:
            return self.feature_names.index(name)
        except ValueError:
            raise DataError(
                f"feature {name!r} is not among the scaled features "
                f"({', '.join(self.feature_names)})"
            ) from None

    def transform_column(self, values: np.ndarray, name: str) -> np.ndarray:
        """Scale values of one feature, e.g. target prices with the ``close`` column."""
        i = self._index(name)
        return np.asarray(values, dtype="float64") * self._scale[i] + self._min[i]

    def inverse_transform_column(self, values: np.ndarray, name: str) -> np.ndarray:
        """Back to feature units (e.g. scaled price predictions -> currency)."""
        i = self._index(name)
        return (np.asarray(values, dtype="float64") - self._min[i]) / self._scale[i]


# ------------------------------------------------------- split arithmetic
def parse_split(spec: str | Sequence[float]) -> tuple[float, float, float]:
    """Validate train/val/test fractions (``"0.70,0.15,0.15"`` or a sequence).

    Raises
    ------
    UsageError
        If a value is not a number, or a fraction is below :data:`MIN_SPLIT_FRACTION`.
    DataError
        If there are not three values, one is not positive (it would leave a split
        empty) or they do not sum to 1 (within 1e-6).
    """
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise UsageError(
                f"--split {spec!r} is not a comma list of numbers (e.g. 0.70,0.15,0.15)"
            ) from None
    else:
        values = [float(v) for v in spec]
    text = ",".join(f"{v:g}" for v in values)
    if len(values) != 3:
        raise DataError(f"split {text} needs three fractions: train,val,test (e.g. 0.70,0.15,0.15)")
    if not all(math.isfinite(v) for v in values):
        raise DataError(f"split {text} has a non-finite fraction")
    for name, v in zip(SPLITS, values, strict=True):
        if v <= 0:
            raise DataError(f"split {text} leaves the {name} split empty")
    if min(values) < MIN_SPLIT_FRACTION:
        raise UsageError(
            f"--split fractions must each be at least {MIN_SPLIT_FRACTION} (1 % of the "
            f"windows), got {text}"
        )
    total = sum(values)
    if abs(total - 1.0) > 1e-6:
        raise DataError(f"split fractions {text} sum to {total:g}, not 1")
    return values[0], values[1], values[2]


def split_counts(n_windows: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Windows per split, cut at ``floor(n*f_train)`` and ``floor(n*(f_train+f_val))``.

    Train gets ``floor(n * f_train)`` windows, val up to the second cut, test the
    rest. Cutting the cumulative fractions keeps every split within one window of
    its share (flooring train and val separately could hand test almost two extra).
    """
    cut1 = math.floor(n_windows * fractions[0] + _EPS)
    cut2 = max(cut1, math.floor(n_windows * (fractions[0] + fractions[1]) + _EPS))
    return cut1, cut2 - cut1, n_windows - cut2


def min_windows(fractions: Sequence[float]) -> int:
    """Smallest number of windows that leaves at least one in every split."""
    n = 3
    while min(split_counts(n, fractions)) < 1:
        n += 1
    return n


@dataclass(frozen=True)
class SplitPlan:
    """Where each split's windows end, in feature-frame rows (see the module docstring).

    Attributes
    ----------
    n_rows, lookback, horizon : int
        ``N``, ``L``, ``h``.
    fractions : tuple of float
        Train, val, test fractions.
    counts : tuple of int
        Windows in train, val, test (sum ``n_windows``).
    """

    n_rows: int
    lookback: int
    horizon: int
    fractions: tuple[float, float, float]
    counts: tuple[int, int, int]

    @property
    def n_windows(self) -> int:
        """``N - L - h + 1``."""
        return sum(self.counts)

    def end_rows(self, split: str) -> tuple[int, int]:
        """First and last window END row of ``split`` (inclusive)."""
        k = _split_index(split)
        first = self.lookback - 1 + sum(self.counts[:k])
        return first, first + self.counts[k] - 1

    def target_rows(self, split: str) -> tuple[int, int]:
        """First and last TARGET row of ``split`` (end rows + horizon)."""
        a, b = self.end_rows(split)
        return a + self.horizon, b + self.horizon


def plan_split(
    n_rows: int, lookback: int, horizon: int, fractions: Sequence[float]
) -> SplitPlan | None:
    """The split of ``n_rows`` feature rows, or None if some split would be empty."""
    n = n_rows - lookback - horizon + 1
    if n < 1:
        return None
    counts = split_counts(n, fractions)
    if min(counts) < 1:
        return None
    return SplitPlan(n_rows, lookback, horizon, tuple(fractions), counts)


def scaler_fit_rows(plan: SplitPlan) -> tuple[int, int]:
    """Feature rows the scaler is fit on: ``0 .. R``, R = last training window end.

    These are exactly the rows that feed the training windows' inputs. (Tests
    monkeypatch this to prove the leakage test fails when fit on all rows.)
    """
    return 0, plan.end_rows("train")[1]


def _split_index(split: str) -> int:
    try:
        return SPLITS.index(split)
    except ValueError:
        raise UsageError(f"unknown split {split!r}; use train, val or test") from None


def _check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


# ------------------------------------------------- scaling and windows (shared)
def fit_scaler(
    x: np.ndarray, first: int, last: int, names: Sequence[str], dates=None
) -> MinMaxParams:
    """Fit the MinMax scaler on feature rows ``first .. last`` (inclusive) only.

    The one place where lstmfc fits an input scaler: ``prepare`` calls it with
    :func:`scaler_fit_rows`, each backtest fit with its own training rows.

    Parameters
    ----------
    x : ndarray, shape (n_rows, n_features)
        Unscaled features (feature units).
    first, last : int
        Rows the scaler may see (the rows feeding the training windows).
    names : sequence of str
        Feature names (messages, the stored parameters).
    dates : sequence of dates, shape (n_rows,), or None
        Row dates (messages); None names row numbers instead.

    Raises
    ------
    DataError
        A feature has zero range in those rows (the message names it, the dates and
        its constant value).
    """
    fit = np.asarray(x[first : last + 1], dtype="float64")
    try:
        return MinMaxParams.fit(fit, names)
    except DataError:
        j = int(np.argmin(fit.max(axis=0) - fit.min(axis=0)))
        where = (
            f"rows {first} to {last}"
            if dates is None
            else f"{_iso(dates[first])} to {_iso(dates[last])}"
        )
        raise DataError(
            f"feature {names[j]!r} has zero range in the training rows "
            f"({where}, all {fit[0, j]:g}); remove it from --features"
        ) from None


def scale(x: np.ndarray, scaler: MinMaxParams) -> np.ndarray:
    """``x`` ``(n_rows, n_features)`` scaled with ``scaler``, C-contiguous float32."""
    return np.ascontiguousarray(scaler.transform(np.asarray(x, dtype="float64")), dtype="float32")


def cut_windows(values: np.ndarray, lookback: int, first_end: int, last_end: int) -> np.ndarray:
    """Windows ending at rows ``first_end .. last_end`` of ``values`` (a read-only view).

    Window ``i`` is ``values[r-L+1 : r+1]`` with ``r = first_end + i``; the result has
    shape ``(last_end - first_end + 1, lookback, n_features)`` and shares memory with
    ``values`` (``numpy.lib.stride_tricks.sliding_window_view``): no copy.
    """
    view = np.lib.stride_tricks.sliding_window_view(values, lookback, axis=0)
    # view[k] covers rows k .. k+L-1, shape (n_features, L) -> (L, n_features)
    return view[first_end - lookback + 1 : last_end - lookback + 2].transpose(0, 2, 1)


def out_of_range_share(scaled: np.ndarray, eps: float = 1e-6) -> float | None:
    """Share of scaled input values outside the training range ``[0, 1]``.

    ``scaled``: any array of MinMax-scaled values (rows x features, or windows).
    Values beyond ``1 + eps`` or below ``-eps`` count (``eps`` absorbs float32
    rounding of the training extremes). ``None`` for an empty array. A large share
    means the network is asked to extrapolate, the "raw price saturation" failure of
    level inputs once prices leave their training range.
    """
    a = np.asarray(scaled)
    if a.size == 0:
        return None
    return float(np.mean((a > 1.0 + eps) | (a < -eps)))


#: Share of scaled inputs outside the training range above which a warning is printed.
OUT_OF_RANGE_WARN = 0.01


def out_of_range_warnings(ticker: str, what: str, share: float | None) -> list[str]:
    """One warning line when more than 1 % of the scored inputs left the training range.

    ``share`` comes from :func:`out_of_range_share`; ``what`` names the inputs (e.g.
    ``"test windows'"``). Used by ``evaluate``, ``predict`` and ``backtest``.
    """
    if share is None or share <= OUT_OF_RANGE_WARN:
        return []
    return [
        f"{ticker}: {100 * share:.1f}% of the {what} scaled inputs lie outside the training "
        "range [0, 1], so the network extrapolates (level inputs such as --features close "
        "leave it once prices trend; log returns do not)"
    ]


def target_frame(close, horizon: int, high=None, low=None):
    """The prepared target rows of a close series: ``close`` plus :func:`build_targets`.

    Parameters
    ----------
    close : pandas.Series
        Closes (currency) indexed by date, increasing.
    horizon : int
    high, low : array_like, shape (n_rows,), optional
        Session highs and lows aligned with ``close`` (currency). When given, the
        column ``target_parkinson`` is added: Parkinson's range variance
        ``(100 ln(high/low))**2 / (4 ln 2)`` summed over rows ``t+1 .. t+h``, variance
        of percent returns (Parkinson 1980, "The extreme value method for estimating
        the variance of the rate of return", J. Business 53(1)); the secondary proxy of
        the volatility head. Like every target it reads rows after ``t`` and is only
        ever a target.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TARGET_COLUMNS` (plus ``target_parkinson``), one row per input
        row (the last ``horizon`` rows have no target).
    """
    targets = build_targets(close, horizon)
    targets.insert(0, "close", close.to_numpy(dtype="float64"))
    if high is not None and low is not None:
        pv = (100.0 * np.log(np.asarray(high, "float64") / np.asarray(low, "float64"))) ** 2
        pv /= 4.0 * math.log(2.0)
        h, n = int(horizon), len(pv)
        summed = np.full(n, np.nan)
        if n > h:
            csum = np.concatenate([[0.0], np.cumsum(pv)])
            summed[: n - h] = csum[1 + h : n + 1] - csum[1 : n - h + 1]
        targets["target_parkinson"] = summed
    return targets


# ------------------------------------------------------------------ prepare
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from lstmfc import __version__

    out = {"lstmfc": __version__}
    for dist in ("numpy", "pandas", "scikit-learn", "pyarrow", "TA-Lib"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover
            out[dist] = "unknown"
    return out


def _fsync_tree(folder: Path) -> None:
    for p in folder.iterdir():
        if p.is_file():
            with open(p, "rb+") as fh:
                os.fsync(fh.fileno())


def prepare(
    ws: Workspace,
    ticker: str,
    lookback: int = DEFAULT_LOOKBACK,
    horizon: int = DEFAULT_HORIZON,
    features: str | Sequence[str] = DEFAULT_FEATURES,
    split: str | Sequence[float] = DEFAULT_SPLIT,
    steps: int = 1,
) -> dict[str, Any]:
    """Build ``data/prepared/<TICKER>/`` from ``data/raw/<TICKER>.parquet``.

    Parameters
    ----------
    ws : Workspace
        The workspace (``--home``).
    ticker : str
        Ticker whose raw series was stored by ``lstmfc fetch``.
    lookback : int
        ``L``, rows per window (default 60, about a quarter of sessions).
    horizon : int
        ``h``, rows between a window's last row and its target (default 1).
    features : str or sequence of str
        Feature-set names (:data:`lstmfc.dataset.features.FEATURE_SETS`), default
        :data:`lstmfc.dataset.features.DEFAULT_FEATURES`.
    split : str or sequence of float
        Train/val/test fractions of the windows, default 0.70/0.15/0.15.
    steps : int
        ``K``, sessions in each window's target path (default 1; :mod:`lstmfc.heads.paths`):
        step ``k`` is ``h + k - 1`` rows after the window's end, so every window needs
        ``h + K - 1`` rows after it and the split counts windows with a full path.

    Returns
    -------
    dict
        The ``prepare.json`` document (docs/preparing.md lists every key). Besides the
        split, scaler and provenance it records, per split, ``out_of_range_share``: the
        share of the split's scaled input values outside the training range [0, 1].

    Raises
    ------
    DataError
        Ticker never fetched; unknown feature; bad split fractions; history too short
        for one window in each split ("need at least N rows, got M"); a feature with
        zero range in the training rows. Nothing is written then.
    UsageError
        ``lookback``/``horizon`` below 1, a malformed ticker or ``--split``.

    Notes
    -----
    The folder is built in a temporary folder beside it and swapped in whole with
    :func:`lstmfc.core.atomic.replace_dir`: readers see the old or the new dataset, never
    a mix, and a failure leaves the old one in place.
    """
    from lstmfc.core.atomic import sha256_file
    from lstmfc.data.store import read_raw

    t = normalize_ticker(ticker)
    lookback = _check_int("lookback", lookback)
    horizon = _check_int("horizon", horizon)
    steps = check_steps(steps)
    reach = horizon + steps - 1  # rows after a window's end that its path reads
    feats = parse_features(features)
    fractions = parse_split(split)
    names = feature_columns(feats)

    raw_path = ws.raw_path(t)
    if not raw_path.is_file():
        raise DataError(f"no data for {t}; run `lstmfc fetch {t}` first")
    raw_sha = sha256_file(raw_path)
    raw, _prov = read_raw(raw_path)

    warm = warmup_rows(feats)
    need = warm + lookback + reach + min_windows(fractions) - 1
    if len(raw) < need:
        raise DataError(_too_short(t, need, len(raw), lookback, reach, warm, fractions))
    garch = None
    if "garch" in feats:  # fit on raw rows up to the last training target only
        plan0 = plan_split(len(raw) - warm, lookback, reach, fractions)
        garch = fit_garch_feature(raw, warm + plan0.target_rows("train")[1])
    frame, warmup = build_features(raw, feats, garch=garch)
    plan = plan_split(len(frame), lookback, reach, fractions)
    if plan is None:  # only if the warm-up was longer than the static lookbacks say
        raise DataError(
            _too_short(t, need + warmup - warm, len(raw), lookback, horizon, warmup, fractions)
        )
    if garch is not None and warmup != warm:
        raise DataError(f"{t}: {warmup - warm} rows with undefined features after the warm-up")

    fit_first, fit_last = scaler_fit_rows(plan)
    x = frame.to_numpy(dtype="float64")
    scaler = fit_scaler(x, fit_first, fit_last, names, frame.index)
    scaled = pd.DataFrame(scale(x, scaler), index=frame.index, columns=names)
    scaled.index.name = "date"
    hl = [raw[c].iloc[warmup:] for c in ("high", "low") if c in raw.columns]
    targets = target_frame(raw["close"].iloc[warmup:], horizon, *(hl if len(hl) == 2 else ()))
    if steps > 1:
        from lstmfc.dataset.targets import add_path_targets

        add_path_targets(targets, horizon, steps)

    meta: dict[str, Any] = {
        "ticker": t,
        "lookback": lookback,
        "horizon": horizon,
        "steps": steps,
        "features": list(feats),
        "feature_names": names,
        "split_fractions": list(fractions),
        "n_windows": plan.n_windows,
        "split": _split_doc(plan, frame.index, scaled.to_numpy(), horizon),
        "scaler": {
            **scaler.to_json(),
            "fit_rows": [fit_first, fit_last],
            "fit_start_date": _iso(frame.index[fit_first]),
            "fit_end_date": _iso(frame.index[fit_last]),
        },
        **({"garch": garch} if garch is not None else {}),
        "warmup_rows_dropped": warmup,
        "n_rows": len(frame),
        "first_date": _iso(frame.index[0]),
        "last_date": _iso(frame.index[-1]),
        "raw": {
            "path": raw_path.relative_to(ws.home).as_posix(),
            "sha256": raw_sha,
            "rows": len(raw),
            "first_date": _iso(raw.index[0]),
            "last_date": _iso(raw.index[-1]),
        },
        "versions": _versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    _write_prepared(ws.prepared_path(t), scaled, targets, meta)
    return meta


def _split_doc(plan: SplitPlan, dates, scaled: np.ndarray, horizon: int) -> dict[str, Any]:
    """``prepare.json``'s ``split`` entry: counts, (step-1) target dates, end rows, and
    the share of each split's scaled input values (rows ``first - L + 1 .. last``)
    outside the training range (:func:`out_of_range_share`)."""
    out = {}
    h, lb = horizon, plan.lookback
    for name in SPLITS:
        first, last = plan.end_rows(name)
        out[name] = {
            "n": plan.counts[SPLITS.index(name)],
            "start": _iso(dates[first + h]),
            "end": _iso(dates[last + h]),
            "first_row": first,
            "last_row": last,
            "first_window_end": _iso(dates[first]),
            "last_window_end": _iso(dates[last]),
            "out_of_range_share": out_of_range_share(scaled[first - lb + 1 : last + 1]),
        }
    return out


def _write_prepared(target: Path, scaled, targets, meta: dict[str, Any]) -> None:
    """Write the three files into a temporary folder and swap it in at ``target``."""
    from lstmfc.core.atomic import replace_dir, sha256_file, sweep_stale, temp_prefix

    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    build = Path(
        tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent)
    )
    try:
        scaled.to_parquet(build / FEATURES_FILE, engine="pyarrow")
        targets.to_parquet(build / TARGETS_FILE, engine="pyarrow")
        meta["files"] = {
            FEATURES_FILE: sha256_file(build / FEATURES_FILE),
            TARGETS_FILE: sha256_file(build / TARGETS_FILE),
        }
        (build / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _fsync_tree(build)
        replace_dir(target, build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise


def _too_short(t, need, got, lookback, horizon, warm, fractions) -> str:
    n_min = min_windows(fractions)
    fr = "/".join(f"{f:.2f}" for f in fractions)
    return (
        f"{t}: need at least {need} rows, got {got} (lookback {lookback}, horizon {horizon}, "
        f"{warm} warm-up rows, {n_min} windows for a {fr} split)"
    )


# ------------------------------------------------------------- the dataset
class Prepared:
    """A prepared dataset: scaled features, targets and ``prepare.json``.

    Attributes
    ----------
    meta : dict
        The ``prepare.json`` document.
    features : pandas.DataFrame
        Scaled features, shape ``(n_rows, n_features)``, float32, index ``date``.
    targets : pandas.DataFrame
        Index ``date`` (= ``t``, same rows as ``features``); columns ``close`` (close
        at ``t``, currency), ``target_date``, ``target_price`` (currency),
        ``target_logret`` (log return), ``target_direction`` (0/1; ``<NA>`` in the
        last ``horizon`` rows, which end no window), and ``target_parkinson``
        (:func:`target_frame`) when the raw series has high and low.
    """

    def __init__(self, meta: dict[str, Any], features: pd.DataFrame, targets: pd.DataFrame):
        self.meta = meta
        self.features = features
        self.targets = targets
        values = np.ascontiguousarray(features.to_numpy(dtype="float32"))
        values.flags.writeable = False
        self._values = values

    @property
    def ticker(self) -> str:
        return self.meta["ticker"]

    @property
    def lookback(self) -> int:
        return int(self.meta["lookback"])

    @property
    def horizon(self) -> int:
        return int(self.meta["horizon"])

    @property
    def steps(self) -> int:
        """Sessions in each window's target path (1 for datasets prepared before paths)."""
        return int(self.meta.get("steps", 1))

    @property
    def feature_names(self) -> list[str]:
        return list(self.meta["feature_names"])

    @property
    def n_features(self) -> int:
        return len(self.meta["feature_names"])

    @property
    def scaler(self) -> MinMaxParams:
        """The train-only scaler's parameters."""
        return MinMaxParams.from_json(self.meta["scaler"])

    @property
    def values(self) -> np.ndarray:
        """Scaled features as a read-only ``(n_rows, n_features)`` float32 array."""
        return self._values

    def split_rows(self, split: str) -> np.ndarray:
        """Window END row indices of ``split`` (into ``features``), shape ``(n,)`` int64."""
        s = self.meta["split"][SPLITS[_split_index(split)]]
        return np.arange(s["first_row"], s["last_row"] + 1, dtype="int64")

    def fit_rows(self, split: str) -> np.ndarray:
        """End rows of the windows a fit may use from ``split``: all of them for a
        single forecast; for a path of ``K`` steps the last ``K - 1`` are left out, since
        their paths reach past the next split's first origins
        (:func:`lstmfc.dataset.targets.purged_rows`)."""

        return purged_rows(self.split_rows(split), self.steps)

    def fit_targets(self, split: str) -> pd.DataFrame:
        """:meth:`split_targets` of :meth:`fit_rows` (all rows for a single forecast)."""
        return self.split_targets(split).iloc[: len(self.fit_rows(split))]

    def fit_windows(self, split: str) -> np.ndarray:
        """:meth:`windows` of :meth:`fit_rows` (all windows for a single forecast)."""
        return self.windows(split)[: len(self.fit_rows(split))]

    def windows(self, split: str) -> np.ndarray:
        """Input windows of ``split``: shape ``(n, lookback, n_features)`` float32.

        A read-only view of :attr:`values` (``sliding_window_view``); window ``i``
        is ``values[r-L+1 : r+1]`` with ``r = split_rows(split)[i]``. Copy it
        (``np.array(w)``) only if you need a writeable array.
        """
        s = self.meta["split"][SPLITS[_split_index(split)]]
        return cut_windows(self._values, self.lookback, s["first_row"], s["last_row"])

    def split_targets(self, split: str) -> pd.DataFrame:
        """Target rows aligned 1:1 with :meth:`windows` (index = window end date ``t``).

        ``target_direction`` is plain ``int8`` here (every window has a target).
        """
        rows = self.split_rows(split)
        out = self.targets.iloc[rows].copy()
        for k in range(1, self.steps + 1):
            col = "target_direction" if k == 1 else f"target_direction_{k}"
            out[col] = out[col].astype("int8")
        return out

    def is_stale(self, ws: Workspace) -> bool:
        """True if ``data/raw/<TICKER>.parquet`` changed since this dataset was made."""
        from lstmfc.core.atomic import sha256_file

        path = ws.home / self.meta["raw"]["path"]
        return not path.is_file() or sha256_file(path) != self.meta["raw"]["sha256"]


def load_prepared(ws: Workspace, ticker: str) -> Prepared:
    """Load ``data/prepared/<TICKER>/`` and check it against ``prepare.json``.

    Raises
    ------
    ArtifactError
        If the folder is missing ("run `lstmfc prepare TICKER`"), or a file is
        missing, unreadable, fails its sha256 or does not match ``prepare.json``.
    """
    from lstmfc.core.atomic import sha256_file

    t = normalize_ticker(ticker)
    folder = ws.prepared_path(t)
    if not (folder / META_FILE).is_file():
        raise ArtifactError(f"no prepared data for {t}; run `lstmfc prepare {t}`")

    def corrupt(reason: str) -> ArtifactError:
        return ArtifactError(
            f"prepared data for {t} is corrupt ({reason}); run `lstmfc prepare {t}` again"
        )

    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        lookback, horizon = int(meta["lookback"]), int(meta["horizon"])
        names = list(meta["feature_names"])
        n_rows = int(meta["n_rows"])
        for s in SPLITS:
            meta["split"][s]["first_row"], meta["split"][s]["last_row"]  # noqa: B018
        MinMaxParams.from_json(meta["scaler"])
        checksums = dict(meta.get("files", {}))
    except (OSError, ValueError, KeyError, TypeError, DataError) as exc:
        raise corrupt(f"{META_FILE}: {type(exc).__name__}: {exc}") from None

    frames = {}
    for name in (FEATURES_FILE, TARGETS_FILE):
        path = folder / name
        if not path.is_file():
            raise corrupt(f"{name} missing")
        if name in checksums and sha256_file(path) != checksums[name]:
            raise corrupt(f"{name} checksum mismatch")
        try:
            frames[name] = pd.read_parquet(path, engine="pyarrow")
        except Exception as exc:  # pyarrow raises several types
            raise corrupt(f"{name}: {exc}") from None
    features, targets = frames[FEATURES_FILE], frames[TARGETS_FILE]
    if list(features.columns) != names or len(features) != n_rows:
        raise corrupt(f"{FEATURES_FILE} does not match {META_FILE}")
    if not all(str(d) == "float32" for d in features.dtypes):
        raise corrupt(f"{FEATURES_FILE} is not float32")

    steps = int(meta.get("steps", 1))
    path = [c for k in range(2, steps + 1) for c in path_columns(k)]
    cols = [c for c in targets.columns if c not in path]
    if (
        cols not in (list(TARGET_COLUMNS), [*TARGET_COLUMNS, *OPTIONAL_TARGET_COLUMNS])
        or not set(path) <= set(targets.columns)
        or not targets.index.equals(features.index)
    ):
        raise corrupt(f"{TARGETS_FILE} does not match {FEATURES_FILE}")
    last = meta["split"]["test"]["last_row"]
    reach = horizon + steps - 1
    if meta["split"]["train"]["first_row"] != lookback - 1 or last + reach > n_rows - 1:
        raise corrupt(f"{META_FILE}: split rows out of range")
    return Prepared(meta, features, targets)


def window_from_raw(raw: pd.DataFrame, meta: dict[str, Any]) -> tuple[np.ndarray, pd.Timestamp]:
    """The latest input window of a (possibly newer) raw series, for ``predict``.

    Features are rebuilt with the stored feature sets (the ``garch`` feature with the
    stored GARCH parameters, key ``garch``) and scaled with the STORED train-only
    scaler (never refit; values outside ``[0, 1]`` are kept as they are).

    Parameters
    ----------
    raw : pandas.DataFrame
        Raw OHLCV frame (layout of :mod:`lstmfc.data.store`).
    meta : dict
        A ``prepare.json`` document (or a model manifest carrying its keys
        ``features``, ``feature_names``, ``lookback``, ``scaler``).

    Returns
    -------
    (numpy.ndarray, pandas.Timestamp)
        The window, shape ``(1, lookback, n_features)`` float32, and the date of its
        last row (the forecast is for ``horizon`` rows after it).

    Raises
    ------
    DataError
        If the series is too short for one window or its feature columns differ from
        the stored ones.
    """
    lookback = int(meta["lookback"])
    frame = _stored_features(raw, meta)
    scaler = MinMaxParams.from_json(meta["scaler"])
    x = scaler.transform(frame.to_numpy(dtype="float64")[-lookback:]).astype("float32")
    return x[np.newaxis], frame.index[-1]


def _stored_features(raw: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """The stored feature sets rebuilt on ``raw``, checked against the stored names and
    long enough for one window (:func:`window_from_raw`)."""
    lookback = int(meta["lookback"])
    frame, _ = build_features(raw, meta["features"], garch=meta.get("garch"))
    if list(frame.columns) != list(meta["feature_names"]):
        raise DataError(
            f"features {', '.join(frame.columns)} do not match the prepared "
            f"{', '.join(meta['feature_names'])}"
        )
    if len(frame) < lookback:
        need = lookback + warmup_rows(meta["features"])
        raise DataError(f"need at least {need} rows for one {lookback}-step window, got {len(raw)}")
    return frame


def windows_from_raw(
    raw: pd.DataFrame, meta: dict[str, Any], first_end
) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Every input window of ``raw`` whose last row is dated ``first_end`` or later,
    built and scaled as :func:`window_from_raw` builds the latest one (stored features,
    STORED train-only scaler).

    Used by ``predict`` to replay an online calibration (the quantile head's ACI) over
    the sessions since the test split began; each window reads rows up to its own last
    date only.

    Returns
    -------
    (numpy.ndarray, pandas.DatetimeIndex)
        Windows, shape ``(n_windows, lookback, n_features)`` float32 (``n_windows`` may
        be 0), and the date of each window's last row.

    Raises
    ------
    DataError
        As :func:`window_from_raw`.
    """
    lookback = int(meta["lookback"])
    frame = _stored_features(raw, meta)
    scaler = MinMaxParams.from_json(meta["scaler"])
    x = scaler.transform(frame.to_numpy(dtype="float64")).astype("float32")
    ends = np.arange(lookback - 1, len(frame))
    ends = ends[frame.index[ends] >= pd.Timestamp(first_end)]
    if ends.size == 0:
        return np.empty((0, lookback, x.shape[1]), dtype="float32"), frame.index[:0]
    view = np.lib.stride_tricks.sliding_window_view(x, lookback, axis=0)  # (m, F, L)
    out = np.ascontiguousarray(view[ends - lookback + 1].transpose(0, 2, 1))
    return out, frame.index[ends]


__all__ = [
    "MinMaxParams",
    "Prepared",
    "SplitPlan",
    "SPLITS",
    "load_prepared",
    "min_windows",
    "parse_split",
    "plan_split",
    "prepare",
    "scaler_fit_rows",
    "split_counts",
    "window_from_raw",
    "windows_from_raw",
]
