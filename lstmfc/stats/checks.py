"""TODO docstring: moved from lstmfc.forecasters.price."""

from __future__ import annotations

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
