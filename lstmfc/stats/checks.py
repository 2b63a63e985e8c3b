"""The one set of input checks of the numerical code: vectors, closes, rows, horizons.

Every metric, skill test, forecaster and volatility or quantile routine checks its
inputs here and raises ``ValueError`` with a one-line message (wrong shape, empty,
non-finite or non-positive values, rows out of range, a bad horizon); the callers at
the library's edge turn it into :class:`lstmfc.core.errors.DataError`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_closes(closes: Any) -> np.ndarray:
    arr = np.asarray(closes, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"closes must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("closes is empty")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"closes must be finite and > 0 (row {first}: {arr[first]})")
    return arr


def check_rows(end_rows: Any, n_rows: int, *, first: int = 0, last: int | None = None):
    rows = np.asarray(end_rows)
    if rows.ndim != 1:
        raise ValueError(f"end_rows must be 1-D, got shape {rows.shape}")
    if rows.size == 0:
        raise ValueError("end_rows is empty")
    if not np.issubdtype(rows.dtype, np.integer):
        if not np.all(np.equal(np.mod(rows, 1), 0)):
            raise ValueError("end_rows must be integer row indices")
    rows = rows.astype(np.int64)
    last = n_rows - 1 if last is None else last
    if rows.min() < first:
        raise ValueError(
            f"end row {int(rows.min())} has too little history: the first usable row is {first}"
        )
    if rows.max() > last:
        raise ValueError(f"end row {int(rows.max())} is past the last usable row {last}")
    return rows


def check_horizon(horizon: Any) -> int:
    h = int(horizon)
    if h != horizon or h < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon}")
    return h


def vector(name: str, values: Any, *, finite: bool = True, min_size: int = 1) -> np.ndarray:
    """``values`` as a 1-D float64 array of at least ``min_size`` values (finite unless
    ``finite`` is False).

    Raises
    ------
    ValueError
        Naming ``name``: not 1-D, too short (``"... is empty"`` for none), or a
        non-finite value (its position).
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_size:
        if arr.size == 0 and min_size == 1:
            raise ValueError(f"{name} is empty")
        raise ValueError(f"{name} needs at least {min_size} values, got {arr.size}")
    if finite and not np.all(np.isfinite(arr)):
        first = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} has a non-finite value at position {first}")
    return arr


def vectors(**named: Any) -> list[np.ndarray]:
    """Each named array as :func:`vector`, all of one length.

    Raises
    ------
    ValueError
        As :func:`vector`, or ``"length mismatch: a=3, b=2"``.
    """
    arrays = [vector(name, values) for name, values in named.items()]
    lengths = {name: arr.size for name, arr in zip(named, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ValueError(f"length mismatch: {desc}")
    return arrays


def pair(name_a: str, a: Any, name_b: str, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays of one length (:func:`vectors` with the names given positionally)."""
    x, y = vectors(**{name_a: a, name_b: b})
    return x, y


def binary(name: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` as 0/1 int64 (``ValueError`` naming ``name`` and the first other value)."""
    if not np.all((arr == 0) | (arr == 1)):
        first = int(np.flatnonzero((arr != 0) & (arr != 1))[0])
        raise ValueError(f"{name} must contain only 0 and 1 (position {first}: {arr[first]})")
    return arr.astype(np.int64)


def probabilities(name: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` if every value lies in [0, 1] (``ValueError`` naming the first other)."""
    if np.any((arr < 0) | (arr > 1)):
        first = int(np.flatnonzero((arr < 0) | (arr > 1))[0])
        raise ValueError(f"{name} must lie in [0, 1] (position {first}: {arr[first]})")
    return arr


def finite_or_none(value: float) -> float | None:
    """A float for JSON: ``None`` for nan/inf."""
    value = float(value)
    return value if math.isfinite(value) else None
