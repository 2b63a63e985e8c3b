"""The train-only MinMax input scaler, scaling, and the out-of-range share.

The MinMaxScaler is fit on the feature rows that feed the training windows only
(:func:`lstmfc.dataset.split.scaler_fit_rows` for ``prepare``, each fit's own rows in
a backtest) and applied unchanged to every later row (values outside ``[0, 1]`` there
are expected and never clipped). Fitting the scaler on all rows would leak the future
into training (Kaufman et al. 2012, "Leakage in data mining", ACM TKDD 6(4)); the
keras-io weather example's ``normalize(data, train_split)`` fits on the training rows
too. Its parameters are stored as JSON (:class:`MinMaxParams`), never as a pickle.

How far later inputs leave the training range is measured by
:func:`out_of_range_share` (recorded per split in ``prepare.json``) and reported by
:func:`out_of_range_warnings` above :data:`OUT_OF_RANGE_WARN`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmfc.core.dates import iso_date
from lstmfc.core.errors import DataError


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


def fit_scaler(
    x: np.ndarray, first: int, last: int, names: Sequence[str], dates=None
) -> MinMaxParams:
    """Fit the MinMax scaler on feature rows ``first .. last`` (inclusive) only.

    The one place where lstmfc fits an input scaler: ``prepare`` calls it with
    :func:`lstmfc.dataset.split.scaler_fit_rows`, each backtest fit with its own
    training rows.

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
            else f"{iso_date(dates[first])} to {iso_date(dates[last])}"
        )
        raise DataError(
            f"feature {names[j]!r} has zero range in the training rows "
            f"({where}, all {fit[0, j]:g}); remove it from --features"
        ) from None


def scale(x: np.ndarray, scaler: MinMaxParams) -> np.ndarray:
    """``x`` ``(n_rows, n_features)`` scaled with ``scaler``, C-contiguous float32."""
    return np.ascontiguousarray(scaler.transform(np.asarray(x, dtype="float64")), dtype="float32")


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


__all__ = [
    "OUT_OF_RANGE_WARN",
    "MinMaxParams",
    "fit_scaler",
    "out_of_range_share",
    "out_of_range_warnings",
    "scale",
]
