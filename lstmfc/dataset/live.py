"""Live input windows for ``predict``: rebuilt from a (possibly newer) raw series.

``predict`` rebuilds the stored feature sets
(:func:`lstmfc.dataset.features.build_features`, the ``garch`` feature with its stored
parameters) on the raw series it is given and scales them with the STORED train-only
scaler (:class:`lstmfc.dataset.scaling.MinMaxParams`, never refit). The features are
causal, so a window ending at ``t`` equals the prepared one whenever the two series
agree from their first row up to ``t``. The stored keys come from ``prepare.json`` (or
a bundle manifest carrying them): ``features``, ``feature_names``, ``lookback``,
``scaler`` and ``garch``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lstmfc.core.errors import DataError
from lstmfc.dataset.features import build_features, warmup_rows
from lstmfc.dataset.scaling import MinMaxParams, scale
from lstmfc.dataset.windows import cut_windows


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
        ``features``, ``feature_names``, ``lookback``, ``scaler``, ``garch``).

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
    x = scale(frame.to_numpy(dtype="float64")[-lookback:], scaler)
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
    x = scale(frame.to_numpy(dtype="float64"), scaler)
    ends = np.arange(lookback - 1, len(frame))
    ends = ends[frame.index[ends] >= pd.Timestamp(first_end)]  # a suffix: dates increase
    if ends.size == 0:
        return np.empty((0, lookback, x.shape[1]), dtype="float32"), frame.index[:0]
    out = np.ascontiguousarray(cut_windows(x, lookback, int(ends[0]), int(ends[-1])))
    return out, frame.index[ends]


__all__ = ["window_from_raw", "windows_from_raw"]
