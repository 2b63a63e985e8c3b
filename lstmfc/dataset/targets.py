"""Target columns of the prepared dataset beyond the first step: the forecast path.

With ``--steps K`` the forecast made at the close of ``t`` is the path ``t+h, ...,
t+h+K-1``: step ``k`` lies ``h + k - 1`` sessions ahead (:func:`step_horizon`). The
columns of steps ``2 .. K`` (:func:`add_path_targets`) are targets only, and the last
``K - 1`` windows of the training and validation splits are left out of every fit
(:func:`purged_rows`), since their paths reach past the next split's first origin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.core.errors import UsageError
from lstmfc.core.limits import MAX_STEPS


def step_horizon(horizon: int, k: int) -> int:
    """Sessions between the origin and step ``k`` (1-based) of the path: ``h + k - 1``."""
    return int(horizon) + int(k) - 1


def path_columns(k: int) -> tuple[str, ...]:
    """Target columns of step ``k >= 2`` in the prepared targets (step 1: the base ones)."""
    return (f"target_date_{k}", f"target_price_{k}", f"target_logret_{k}",
            f"target_direction_{k}")  # fmt: skip


def add_path_targets(targets, horizon: int, steps: int) -> None:
    """Add the columns of steps ``2 .. K`` to a prepared target frame, in place.

    Step ``k`` of the window ending at row ``t`` is row ``t + h + k - 1``: its date,
    close (``target_price_k``, currency), ``log(close[t+h+k-1] / close[t])`` and
    direction (1 if above ``close[t]``). Rows without a full path hold NaN / ``<NA>``
    there (they end no window). Like every target these read rows after ``t`` and are
    only ever targets.
    """
    import pandas as pd

    c = targets["close"].to_numpy(dtype="float64")
    dates = pd.Series(targets.index, index=targets.index)
    n = len(c)
    for k in range(2, int(steps) + 1):
        hk = step_horizon(horizon, k)
        future = np.full(n, np.nan)
        future[: max(n - hk, 0)] = c[hk:]
        with np.errstate(invalid="ignore", divide="ignore"):
            logret = np.log(future / c)
        direction = pd.array((future > c).astype("int8"), dtype="Int8")
        direction[np.isnan(future)] = pd.NA
        d, p, r, u = path_columns(k)
        targets[d] = dates.shift(-hk).to_numpy()
        targets[p] = future
        targets[r] = logret
        targets[u] = direction


def step_frame(targets, k: int):
    """Target rows for step ``k`` under the base column names (step 1: unchanged), so
    that a one-step head scores step ``k`` as it scores a single forecast."""
    if k == 1:
        return targets
    d, p, r, u = path_columns(k)
    out = targets[["close", d, p, r, u]].copy()
    out.columns = ["close", "target_date", "target_price", "target_logret", "target_direction"]
    out["target_direction"] = out["target_direction"].astype("int8")
    return out


def purged_rows(rows: np.ndarray, steps: int) -> np.ndarray:
    """``rows`` without the last ``steps - 1`` (their paths reach into the next split)."""
    rows = np.asarray(rows)
    cut = int(steps) - 1
    return rows[: len(rows) - cut] if cut > 0 else rows


def check_steps(steps: Any) -> int:
    """``steps`` if it is an integer from 1 to :data:`lstmfc.core.limits.MAX_STEPS`.

    Raises
    ------
    UsageError
        One line naming ``--steps`` and its range.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise UsageError(f"--steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}")
    return steps
