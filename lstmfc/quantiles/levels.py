"""Quantile levels and quantile sets: the default levels, their validation, non-crossing.

A quantile set is ``Q`` of shape ``(n, k)`` (log return), column ``j`` the
``levels[j]``-quantile, levels strictly increasing in (0, 1) and rows non-decreasing
(conventions: :mod:`lstmfc.quantiles`). :func:`parse_levels` reads a user's list (the
``--quantiles`` option), :func:`check_levels` and :func:`check_quantiles` validate what
the other modules of the package receive, and :func:`monotone_quantiles` repairs crossing
rows (outward running max/min, or the monotone rearrangement of Chernozhukov,
Fernandez-Val & Galichon 2010, Econometrica 78(3)). Default levels: :data:`DEFAULT_LEVELS`
(the Basel VaR levels 1 %, 2.5 %, 5 %, the median and their mirrors), with the levels
backtested (:data:`VAR_LEVELS`) and the ES levels reported (:data:`ES_LEVELS`, BCBS 2019
MAR33). Errors are ``ValueError`` with a one-line message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from lstmfc.stats.checks import vector

#: Default quantile levels of the quantile head: three VaR levels, the median, and their mirrors.
DEFAULT_LEVELS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.5, 0.95, 0.975, 0.99)
#: VaR levels backtested by default (Basel 99 %, 97.5 % and 95 % VaR).
VAR_LEVELS: tuple[float, ...] = (0.01, 0.025, 0.05)
#: ES levels reported by default: ES 97.5 % (Basel FRTB, BCBS 2019 MAR33) and ES 99 %.
ES_LEVELS: tuple[float, ...] = (0.025, 0.01)

_LEVEL_TOL = 1e-12  # two levels closer than this are the same level


def _fmt(tau: float) -> str:
    """A level as a stable JSON key: ``0.025`` -> ``"0.025"``."""
    return f"{float(tau):.10g}"


def parse_levels(levels: str | Iterable[float] | None = None) -> tuple[float, ...]:
    """Validate a list of quantile levels and return it sorted increasing.

    Parameters
    ----------
    levels : str, iterable of float, or None
        ``"0.01,0.05,0.5"`` (commas and/or spaces), a sequence of floats, or ``None`` for
        :data:`DEFAULT_LEVELS`. Order does not matter.

    Returns
    -------
    tuple of float
        Distinct levels in (0, 1), strictly increasing (the column order of ``Q``).

    Raises
    ------
    ValueError
        Empty list, a value that is not a number, a level outside the open interval (0, 1),
        or a duplicate level (one line naming it).
    """
    if levels is None:
        return DEFAULT_LEVELS
    if isinstance(levels, str):
        items: list[Any] = [p for p in levels.replace(",", " ").split() if p]
    else:
        items = list(np.asarray(list(levels), dtype=object).ravel())
    if not items:
        raise ValueError("quantile levels are empty")
    values = []
    for item in items:
        try:
            tau = float(item)
        except (TypeError, ValueError):
            raise ValueError(f"quantile level {item!r} is not a number") from None
        if not (math.isfinite(tau) and 0.0 < tau < 1.0):
            raise ValueError(f"quantile level {item} is outside (0, 1)")
        values.append(tau)
    values.sort()
    for a, b in zip(values, values[1:], strict=False):
        if b - a <= _LEVEL_TOL:
            raise ValueError(f"quantile level {_fmt(a)} is given twice")
    return tuple(values)


def check_levels(levels: Any, k: int | None = None) -> np.ndarray:
    """Validate levels matching the columns of ``Q`` (unlike :func:`parse_levels`, no sorting).

    Parameters
    ----------
    levels : array_like, shape (k,)
        Quantile levels, strictly increasing (two levels closer than 1e-12 count as one).
    k : int, optional
        Required number of levels (the columns of ``Q``).

    Returns
    -------
    numpy.ndarray, shape (k,), float64

    Raises
    ------
    ValueError
        Empty, outside (0, 1), not strictly increasing, or not ``k`` of them.
    """
    lv = np.asarray(levels, dtype=np.float64).ravel()
    if lv.size == 0:
        raise ValueError("quantile levels are empty")
    if not np.all(np.isfinite(lv) & (lv > 0) & (lv < 1)):
        raise ValueError("quantile levels must lie in (0, 1)")
    if np.any(np.diff(lv) <= _LEVEL_TOL):
        raise ValueError(
            "levels must be strictly increasing to match the columns of Q (use parse_levels)"
        )
    if k is not None and lv.size != k:
        raise ValueError(f"{lv.size} levels for {k} quantile columns")
    return lv


def check_quantiles(Q: Any, levels: Any, *, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate a quantile set and its levels.

    Parameters
    ----------
    Q : array_like, shape (n, k)
        Quantile forecasts (log return), columns in increasing level order.
    levels : array_like, shape (k,)
        Strictly increasing levels in (0, 1).
    n : int, optional
        Required number of rows (the length of ``y``).

    Returns
    -------
    (numpy.ndarray (n, k), numpy.ndarray (k,))
        ``Q`` as float64 and the levels.

    Raises
    ------
    ValueError
        Not 2-D, empty, non-finite values, wrong number of rows or columns, unsorted or
        out-of-range levels, or crossing quantiles (a column below the one before it by more
        than 1e-12 relative; repair with :func:`monotone_quantiles`).
    """
    q = np.asarray(Q, dtype=np.float64)
    if q.ndim == 1:
        raise ValueError(f"Q must be 2-D (n, k), got shape {q.shape}")
    if q.ndim != 2 or q.shape[0] == 0 or q.shape[1] == 0:
        raise ValueError(f"Q must be a non-empty 2-D array (n, k), got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        row, col = (int(v[0]) for v in np.nonzero(~np.isfinite(q)))
        raise ValueError(f"Q has a non-finite value at row {row}, column {col}")
    lv = check_levels(levels, q.shape[1])
    if n is not None and q.shape[0] != n:
        raise ValueError(f"length mismatch: y={n}, Q rows={q.shape[0]}")
    if q.shape[1] > 1:
        step = np.diff(q, axis=1)
        tol = 1e-12 * np.maximum(1.0, np.abs(q[:, 1:]))
        bad = step < -tol
        if bad.any():
            row, col = (int(v[0]) for v in np.nonzero(bad))
            raise ValueError(
                f"quantile forecasts cross at row {row}: level {_fmt(lv[col + 1])} is below "
                f"level {_fmt(lv[col])} (repair with monotone_quantiles)"
            )
    return q, lv


def _y_and_q(y: Any, Q: Any, levels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yv = vector("y", y)
    q, lv = check_quantiles(Q, levels, n=yv.size)
    return yv, q, lv


def monotone_quantiles(Q: Any, levels: Any, *, method: str = "outward") -> np.ndarray:
    """Repair crossing quantiles so each row is non-decreasing across levels.

    * ``"outward"`` (default): the anchor is the column whose level is closest to 0.5 (the
      lower one on a tie) and stays unchanged; columns above it take the running maximum
      going up from the anchor, columns below it the running minimum going down. A lower
      quantile can only move down and an upper one only up, so neither tail's exceedance
      rate can rise: a VaR that was conservative stays conservative.
    * ``"sort"``: sort each row (the monotone rearrangement of Chernozhukov, Fernandez-Val &
      Galichon 2010, Econometrica 78(3), which never increases the distance to the true
      quantile function).

    Parameters
    ----------
    Q : array_like, shape (n, k)
        Quantile forecasts (finite), columns in increasing level order.
    levels : array_like, shape (k,)
    method : {"outward", "sort"}

    Returns
    -------
    numpy.ndarray, shape (n, k)
        Non-decreasing rows; rows that did not cross are returned unchanged.

    Raises
    ------
    ValueError
        Bad shape, non-finite values, bad levels or unknown ``method``.
    """
    q = np.array(Q, dtype=np.float64)
    if q.ndim != 2 or q.size == 0:
        raise ValueError(f"Q must be a non-empty 2-D array (n, k), got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("Q has a non-finite value")
    lv = check_levels(levels, q.shape[1])
    if method == "sort":
        return np.sort(q, axis=1)
    if method != "outward":
        raise ValueError(f"unknown method {method!r}: use 'outward' or 'sort'")
    return _outward(q, lv)


def _outward(q: np.ndarray, lv: np.ndarray) -> np.ndarray:
    """Outward running max/min from the column nearest the median (works with +-inf)."""
    c = int(np.argmin(np.abs(lv - 0.5)))
    out = q.copy()
    out[:, c:] = np.maximum.accumulate(q[:, c:], axis=1)
    out[:, : c + 1] = np.minimum.accumulate(q[:, c::-1], axis=1)[:, ::-1]
    return out


def level_index(levels, tau: float) -> int | None:
    """Position of level ``tau`` in ``levels`` (within 1e-9), or None when absent."""
    lv = np.asarray(levels, dtype=np.float64)
    hit = np.flatnonzero(np.abs(lv - tau) <= 1e-9)
    return int(hit[0]) if hit.size else None
