"""The chronological train/val/test split of the windows, in feature-frame rows.

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
validation target before the first test target. The input scaler is fit on rows
``0 .. R`` only (:func:`scaler_fit_rows`; why: :mod:`lstmfc.dataset.scaling`).
With ``--steps K`` a window's target path reads ``h + K - 1`` rows after its end, and
``h`` above stands for that reach (:mod:`lstmfc.dataset.targets`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lstmfc.core.errors import DataError, UsageError
from lstmfc.core.limits import MIN_SPLIT_FRACTION

#: The splits, in date order.
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: Default train/val/test fractions of the windows.
DEFAULT_SPLIT: tuple[float, float, float] = (0.70, 0.15, 0.15)
_EPS = 1e-9  # floor(n * f + _EPS): 0.15 * 20 is 3.0000000000000004 or 2.9999999999999996


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
        k = split_index(split)
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
    monkeypatch ``lstmfc.dataset.prepare.scaler_fit_rows``, the name ``prepare`` calls,
    to prove the leakage test fails when fit on all rows.)
    """
    return 0, plan.end_rows("train")[1]


def split_index(split: str) -> int:
    """Position of ``split`` in :data:`SPLITS` (0 train, 1 val, 2 test).

    Raises
    ------
    UsageError
        An unknown split name (the message lists the three).
    """
    try:
        return SPLITS.index(split)
    except ValueError:
        raise UsageError(f"unknown split {split!r}; use train, val or test") from None


__all__ = [
    "DEFAULT_SPLIT",
    "SPLITS",
    "SplitPlan",
    "min_windows",
    "parse_split",
    "plan_split",
    "scaler_fit_rows",
    "split_counts",
    "split_index",
]
