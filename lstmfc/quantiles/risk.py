"""Quantile forecasts of the next log return: scores, VaR/ES, backtests, calibration, baselines.

The numerical core of the quantile head (numpy; scipy and lstmfc.stats.metrics imported inside the
functions that use them). Array in, array or JSON-ready dict out; no Keras, no files.

Conventions
-----------
* ``y``: realised **log return** over the horizon, ``log(close[t+h] / close[t])``, shape
  ``(n,)``. Quantiles, VaR and ES are in the same unit (log return); ``*_loss_pct`` fields are
  ``-100 * value``, a positive loss in **percent log return**.
* ``levels``: quantile levels ``tau`` in (0, 1), strictly increasing; default
  :data:`DEFAULT_LEVELS`. ``Q``: quantile forecasts, shape ``(n, k)``, column ``j`` the
  ``levels[j]``-quantile of ``y[i]`` made at the forecast origin, non-decreasing across columns.
* VaR at level ``a`` (``a`` = 0.01, 0.025, 0.05) is the ``a``-quantile of the return (usually
  negative); a **hit** (violation) is ``y < VaR_a``. ES at level ``a`` is
  ``ES_a = E[y | y < VaR_a] = (1/a) * int_0^a q(u) du`` (Acerbi & Tasche 2002, J. Banking &
  Finance 26(7)), also a return (more negative than VaR). "ES 97.5 %" is ``a = 0.025``.
* The **quantile function between the given levels** (:func:`quantile_at`): linear in
  ``z = Phi^{-1}(tau)`` between adjacent levels, extended beyond the lowest (highest) level
  along the line through the two lowest (highest) levels. It is exact for every Gaussian
  ``q(tau) = mu + sigma * z``, and it is the one interpolant used by ES, CRPS, ACI and the
  ES backtest simulation.
* Numeric functions raise ``ValueError`` (one line) on bad input; callers wrap it into
  :class:`lstmfc.core.errors.DataError` / ``UsageError``. Undefined values in result dicts are
  ``None`` with a ``note``, never ``nan``, so the result is valid JSON.

API summary
-----------
Levels and scores: :func:`parse_levels`, :func:`check_quantiles`, :func:`monotone_quantiles`,
:func:`quantile_at`, :func:`pinball_loss`, :func:`pinball_loss_series`,
:func:`pinball_summary`, :func:`winkler_score`, :func:`central_intervals`,
:func:`crps_from_quantiles`.
Risk measures: :func:`value_at_risk`, :func:`expected_shortfall`.
Backtests: :func:`hit_sequence`, :func:`kupiec_test`, :func:`christoffersen_test`,
:func:`acerbi_szekely_z2`, :func:`mcneil_frey_test`, :func:`quantile_report` (everything at
once).
Calibration: :func:`cqr_fit` -> :class:`CQRCalibration` (``apply``); adaptive conformal
inference :func:`aci_init`, :func:`aci_forecast`, :func:`aci_update` (one day, for predict),
:func:`adaptive_conformal` (a whole test split) -> :class:`ACIResult`.
Baselines: :func:`historical_simulation`, :func:`ewma_volatility`, :func:`ewma_gaussian`,
:func:`unconditional_quantiles`, :func:`parametric_quantiles` (GARCH-n/-t plug-in).
Comparison: :func:`pinball_loss_differential`, :func:`pinball_dm_test`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_LEVELS",
    "ES_LEVELS",
    "VAR_LEVELS",
    "ACIResult",
    "ACIState",
    "CQRCalibration",
    "acerbi_szekely_z2",
    "aci_forecast",
    "aci_init",
    "aci_update",
    "adaptive_conformal",
    "central_intervals",
    "check_quantiles",
    "christoffersen_test",
    "cqr_fit",
    "crps_from_quantiles",
    "ewma_gaussian",
    "ewma_volatility",
    "expected_shortfall",
    "historical_simulation",
    "hit_sequence",
    "kupiec_test",
    "mcneil_frey_test",
    "monotone_quantiles",
    "parametric_quantiles",
    "parse_levels",
    "pinball_dm_test",
    "pinball_loss",
    "pinball_loss_differential",
    "pinball_loss_series",
    "pinball_summary",
    "quantile_at",
    "quantile_report",
    "unconditional_quantiles",
    "value_at_risk",
    "winkler_score",
]

#: Default quantile levels of the quantile head: three VaR levels, the median, and their mirrors.
DEFAULT_LEVELS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.5, 0.95, 0.975, 0.99)
#: VaR levels backtested by default (Basel 99 %, 97.5 % and 95 % VaR).
VAR_LEVELS: tuple[float, ...] = (0.01, 0.025, 0.05)
#: ES levels reported by default: ES 97.5 % (Basel FRTB, BCBS 2019 MAR33) and ES 99 %.
ES_LEVELS: tuple[float, ...] = (0.025, 0.01)
#: Default ACI step size gamma (Gibbs & Candes 2021 use 0.005 in their experiments).
ACI_GAMMA = 0.005
#: Default ACI read-off bound: working levels are read off within [0.001, 0.999] (see
#: :func:`aci_forecast`); ``None`` reads off the exact +-inf of Gibbs & Candes.
ACI_CLIP = 0.001
#: Acerbi & Szekely (2014) Z2 thresholds, 5 % and 0.01 % significance, for T = 250, a = 2.5 %.
Z2_CRITICAL = {"0.05": -0.70, "0.0001": -1.8}

_LEVEL_TOL = 1e-12  # two levels closer than this are the same level


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _vector(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        first = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} has a non-finite value at position {first}")
    return arr


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


def _levels_array(levels: Any, k: int | None = None) -> np.ndarray:
    """Levels matching the columns of ``Q``: strictly increasing, in (0, 1), ``k`` of them."""
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
    lv = _levels_array(levels, q.shape[1])
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
    yv = _vector("y", y)
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
    lv = _levels_array(levels, q.shape[1])
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


# ---------------------------------------------------------------------------
# the quantile function between levels (linear in z = Phi^-1(tau))
# ---------------------------------------------------------------------------


def _pieces(q: np.ndarray, lv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knots ``z`` (k,) and per-row intercept/slope of the k+1 linear pieces in z.

    Piece 0 covers ``z < z_1`` and piece k covers ``z > z_k``; both continue the adjacent
    segment's line. Returns ``(z, A, B)`` with ``A, B`` of shape (n, k+1) and
    ``q(z) = A[:, j] + B[:, j] * z`` on piece ``j``.
    """
    from scipy.special import ndtri

    z = ndtri(lv)
    slope = np.diff(q, axis=1) / np.diff(z)  # (n, k-1)
    b = np.concatenate([slope[:, :1], slope, slope[:, -1:]], axis=1)  # (n, k+1)
    knot = np.concatenate([z[:1], z[:-1], z[-1:]])  # a knot on each piece's line
    qk = np.concatenate([q[:, :1], q[:, :-1], q[:, -1:]], axis=1)
    a = qk - b * knot
    return z, a, b


def mean_exp_below(q: Any, levels: Any, a: float) -> np.ndarray:
    """``(1/a) int_0^a exp(q(u)) du`` per row, exactly, for the quantile function of
    :func:`quantile_at` (linear in ``z = Phi^{-1}(u)`` on each piece).

    ``q`` has shape ``(n, k)`` (log returns at ``levels``, shape ``(k,)``); the result
    has shape ``(n,)``, a gross-return ratio.

    On a piece ``q = A + B z`` between ``z_l`` and ``z_r``: ``int exp(A + B z) phi(z) dz
    = exp(A + B^2/2) (Phi(z_r - B) - Phi(z_l - B))`` (completing the square; the
    lognormal partial expectation). ``close * (1 - this)`` is ES as a currency loss.
    """
    from scipy.special import ndtr, ndtri

    z, A, B = _pieces(np.asarray(q, dtype=np.float64), np.asarray(levels, dtype=np.float64))
    za = float(ndtri(a))
    zl = np.minimum(np.concatenate([[-np.inf], z]), za)
    zr = np.minimum(np.concatenate([z, [np.inf]]), za)
    part = np.exp(A + 0.5 * B * B) * (ndtr(zr - B) - ndtr(zl - B))
    return part.sum(axis=1) / a


def quantile_at(Q: Any, levels: Any, new_levels: Any) -> np.ndarray:
    """Read quantiles at other levels off a quantile set (linear in ``z = Phi^{-1}(tau)``).

    Between two given levels the quantile is linear in ``z``; below the lowest (above the
    highest) level it continues the line through the two lowest (highest) levels. This is
    exact for any Gaussian quantile set ``mu + sigma * Phi^{-1}(tau)``, and for the tails
    it is a Gaussian-shaped extrapolation fitted to the two outermost quantiles. Levels that
    coincide with a given level return that column exactly. ``tau <= 0`` gives ``-inf`` and
    ``tau >= 1`` gives ``+inf`` (the limits of the quantile function), which adaptive
    conformal inference needs.

    Parameters
    ----------
    Q : array_like, shape (n, k)
        Quantile set, non-decreasing rows, ``k >= 2``.
    levels : array_like, shape (k,)
        Its levels, strictly increasing in (0, 1).
    new_levels : array_like, shape (m,) or (n, m)
        Levels to read off: the same for every row, or one set per row.

    Returns
    -------
    numpy.ndarray, shape (n, m)
        Quantiles (unit of ``Q``).

    Raises
    ------
    ValueError
        Bad ``Q`` or levels, fewer than 2 levels, non-finite or mis-shaped ``new_levels``.
    """
    q, lv = check_quantiles(Q, levels)
    if lv.size < 2:
        raise ValueError("interpolating a quantile set needs at least 2 levels")
    return _quantile_at(q, lv, new_levels)


def _quantile_at(q: np.ndarray, lv: np.ndarray, new_levels: Any) -> np.ndarray:
    from scipy.special import ndtri

    n = q.shape[0]
    t = np.asarray(new_levels, dtype=np.float64)
    if t.ndim == 1:
        t = np.broadcast_to(t, (n, t.size))
    if t.ndim != 2 or t.shape[0] != n:
        raise ValueError(f"new_levels must have shape (m,) or ({n}, m), got {t.shape}")
    if np.isnan(t).any():
        raise ValueError("new_levels has a nan")
    z, a, b = _pieces(q, lv)
    inside = (t > 0) & (t < 1)
    zt = ndtri(np.where(inside, t, 0.5))
    piece = np.searchsorted(z, zt, side="right")  # 0..k, piece index per entry
    rows = np.arange(n)[:, None]
    out = a[rows, piece] + b[rows, piece] * zt
    out = np.where(t <= 0, -np.inf, np.where(t >= 1, np.inf, out))
    # exact columns at the given levels
    match = np.abs(t[..., None] - lv) <= _LEVEL_TOL  # (n, m, k)
    hit = match.any(axis=2)
    if hit.any():
        col = match.argmax(axis=2)
        out = np.where(hit, q[rows, col], out)
    return out


# ---------------------------------------------------------------------------
# scores: pinball, intervals, CRPS
# ---------------------------------------------------------------------------


def pinball_loss(y: Any, Q: Any, levels: Any) -> np.ndarray:
    """Pinball (quantile, check) loss per date and level.

    ``rho_tau(u) = u * (tau - 1[u < 0])`` with ``u = y - q_tau`` (Koenker & Bassett 1978,
    "Regression quantiles", Econometrica 46(1) 33-50); equivalently
    ``max(tau * u, (tau - 1) * u)``. Lower is better; the expected loss is minimised by the
    true ``tau``-quantile.

    Parameters
    ----------
    y : array_like, shape (n,)
        Realised log returns.
    Q : array_like, shape (n, k)
        Quantile forecasts (log return).
    levels : array_like, shape (k,)

    Returns
    -------
    numpy.ndarray, shape (n, k)
        Losses in log-return units, >= 0.

    Raises
    ------
    ValueError
        See :func:`check_quantiles`; empty or non-finite ``y``; length mismatch.
    """
    yv, q, lv = _y_and_q(y, Q, levels)
    u = yv[:, None] - q
    return np.maximum(lv * u, (lv - 1.0) * u)


def pinball_loss_series(y: Any, Q: Any, levels: Any, *, level: float | None = None) -> np.ndarray:
    """Per-date pinball loss, the series a Diebold-Mariano test compares.

    Parameters
    ----------
    y, Q, levels
        As :func:`pinball_loss`.
    level : float, optional
        One level of ``levels``: that column's loss. Default: the mean over all levels.

    Returns
    -------
    numpy.ndarray, shape (n,)

    Raises
    ------
    ValueError
        As :func:`pinball_loss`, or ``level`` not among ``levels``.
    """
    loss = pinball_loss(y, Q, levels)
    if level is None:
        return loss.mean(axis=1)
    return loss[:, _column(levels, level)]


def _column(levels: Any, level: float) -> int:
    lv = np.asarray(levels, dtype=np.float64)
    where = np.flatnonzero(np.abs(lv - float(level)) <= _LEVEL_TOL)
    if where.size == 0:
        raise ValueError(f"level {_fmt(level)} is not one of the quantile levels")
    return int(where[0])


def pinball_summary(y: Any, Q: Any, levels: Any) -> dict[str, Any]:
    """Mean pinball loss per level and averaged over levels (JSON-ready).

    Parameters
    ----------
    y, Q, levels
        As :func:`pinball_loss`.

    Returns
    -------
    dict
        ``mean`` (average over dates and levels, log-return units) and ``per_level``
        (``{"0.01": mean loss, ...}``).

    Raises
    ------
    ValueError
        As :func:`pinball_loss`.
    """
    loss = pinball_loss(y, Q, levels)
    lv = np.asarray(levels, dtype=np.float64)
    return {
        "mean": float(loss.mean()),
        "per_level": {_fmt(t): float(v) for t, v in zip(lv, loss.mean(axis=0), strict=True)},
    }


def winkler_score(y: Any, lower: Any, upper: Any, alpha: float) -> np.ndarray:
    """Interval (Winkler) score of central ``(1 - alpha)`` prediction intervals, per date.

    ``S = (u - l) + (2/alpha) (l - y) 1[y < l] + (2/alpha) (y - u) 1[y > u]``, the negative
    of the positively oriented score of Gneiting & Raftery (2007), "Strictly proper scoring
    rules, prediction, and estimation", JASA 102(477) 359-378, eq. (43); Winkler (1972,
    JASA 67). Lower is better; it equals ``(2/alpha)`` times the sum of the pinball losses
    of ``l`` at ``alpha/2`` and ``u`` at ``1 - alpha/2``.

    Parameters
    ----------
    y, lower, upper : array_like, shape (n,)
        Realised log returns and interval bounds (``lower <= upper``).
    alpha : float
        Nominal miss probability in (0, 1): 0.1 for a 90 % interval.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Scores in log-return units.

    Raises
    ------
    ValueError
        Empty, non-finite or mismatched inputs, ``lower > upper``, ``alpha`` outside (0, 1).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    yv, lo, up = _vector("y", y), _vector("lower", lower), _vector("upper", upper)
    if not yv.size == lo.size == up.size:
        raise ValueError(f"length mismatch: y={yv.size}, lower={lo.size}, upper={up.size}")
    if np.any(lo > up):
        raise ValueError(f"lower > upper at position {int(np.flatnonzero(lo > up)[0])}")
    return (
        (up - lo)
        + (2.0 / alpha) * np.maximum(lo - yv, 0.0)
        + (2.0 / alpha) * np.maximum(yv - up, 0.0)
    )


def central_intervals(y: Any, Q: Any, levels: Any) -> list[dict[str, Any]]:
    """Coverage, mean width and interval score of every central interval in the set.

    Each pair of levels ``(tau, 1 - tau)`` with ``tau < 0.5`` present in ``levels`` forms a
    central ``1 - 2 tau`` interval: 98 % from 0.01/0.99, 95 % from 0.025/0.975, 90 % from
    0.05/0.95 with the default levels. Coverage counts ``lower <= y <= upper``.

    Parameters
    ----------
    y, Q, levels
        As :func:`pinball_loss`.

    Returns
    -------
    list of dict
        Widest interval first; each with ``nominal`` (e.g. 0.9), ``lower_level``,
        ``upper_level``, ``coverage`` (fraction), ``below`` / ``above`` (fractions outside
        each side), ``mean_width`` (log return) and ``winkler`` (mean of
        :func:`winkler_score`). Empty when no pair is present.

    Raises
    ------
    ValueError
        As :func:`pinball_loss`.
    """
    yv, q, lv = _y_and_q(y, Q, levels)
    out = []
    for i, tau in enumerate(lv):
        if tau >= 0.5:
            break
        partner = np.flatnonzero(np.abs(lv - (1.0 - tau)) <= 1e-9)
        if partner.size == 0:
            continue
        lo, up = q[:, i], q[:, int(partner[0])]
        out.append(
            {
                "nominal": float(round(1.0 - 2.0 * tau, 12)),
                "lower_level": float(tau),
                "upper_level": float(lv[int(partner[0])]),
                "coverage": float(np.mean((yv >= lo) & (yv <= up))),
                "below": float(np.mean(yv < lo)),
                "above": float(np.mean(yv > up)),
                "mean_width": float(np.mean(up - lo)),
                "winkler": float(np.mean(winkler_score(yv, lo, up, 2.0 * tau))),
            }
        )
    return out


def crps_from_quantiles(y: Any, Q: Any, levels: Any, *, n_grid: int = 200) -> np.ndarray:
    """CRPS of the distribution implied by a quantile set, per date (approximation).

    Uses the quantile decomposition ``CRPS(F, y) = 2 * int_0^1 rho_u(y - F^{-1}(u)) du``
    (Gneiting & Ranjan 2011, "Comparing density forecasts using threshold- and
    quantile-weighted scoring rules", JBES 29(3) 411-422, eq. (9); Laio & Tamea 2007, HESS
    11). **Approximation**: ``F^{-1}`` is the z-space interpolant of :func:`quantile_at`
    (Gaussian-shaped tails beyond the outermost levels), and the integral is the midpoint
    rule on ``u_i = (i - 1/2) / n_grid``. For an exact Gaussian quantile set the result is
    the Gaussian CRPS up to the quadrature error (below 0.1 % of sigma at ``n_grid=200``).

    Parameters
    ----------
    y, Q, levels
        As :func:`pinball_loss`; at least 2 levels.
    n_grid : int, default 200
        Number of midpoint levels.

    Returns
    -------
    numpy.ndarray, shape (n,)
        CRPS in log-return units (lower is better).

    Raises
    ------
    ValueError
        As :func:`pinball_loss`; fewer than 2 levels; ``n_grid < 10``.
    """
    if int(n_grid) < 10:
        raise ValueError(f"n_grid must be >= 10, got {n_grid}")
    yv, q, lv = _y_and_q(y, Q, levels)
    if lv.size < 2:
        raise ValueError("CRPS from quantiles needs at least 2 levels")
    grid = (np.arange(int(n_grid)) + 0.5) / int(n_grid)
    qg = _quantile_at(q, lv, grid)
    u = yv[:, None] - qg
    rho = np.maximum(grid * u, (grid - 1.0) * u)
    return 2.0 * rho.mean(axis=1)


# ---------------------------------------------------------------------------
# VaR and ES from a quantile set
# ---------------------------------------------------------------------------


def _alpha(a: float, what: str = "alpha") -> float:
    a = float(a)
    if not 0.0 < a < 1.0:
        raise ValueError(f"{what} must lie in (0, 1), got {a}")
    return a


def value_at_risk(Q: Any, levels: Any, alpha: float) -> np.ndarray:
    """VaR at level ``alpha``: the ``alpha``-quantile of the return (usually negative).

    The column of ``Q`` when ``alpha`` is one of ``levels``, otherwise read off with
    :func:`quantile_at`. As a positive loss in percent log return: ``-100 * VaR``.

    Parameters
    ----------
    Q : array_like, shape (n, k)
    levels : array_like, shape (k,)
    alpha : float
        Tail probability in (0, 1), e.g. 0.01 for the 99 % VaR.

    Returns
    -------
    numpy.ndarray, shape (n,)
        VaR as a log return.

    Raises
    ------
    ValueError
        Bad inputs; ``alpha`` not a level and fewer than 2 levels.
    """
    q, lv = check_quantiles(Q, levels)
    a = _alpha(alpha)
    hit = np.flatnonzero(np.abs(lv - a) <= _LEVEL_TOL)
    if hit.size:
        return q[:, int(hit[0])].copy()
    if lv.size < 2:
        raise ValueError(f"level {_fmt(a)} is not in the set and 1 level cannot be interpolated")
    return _quantile_at(q, lv, [a])[:, 0]


def expected_shortfall(Q: Any, levels: Any, alpha: float) -> np.ndarray:
    """ES at level ``alpha`` from a quantile set: ``(1/alpha) * int_0^alpha q(u) du``.

    Estimator: ``q(u)`` is the z-space interpolant of :func:`quantile_at` (linear in
    ``z = Phi^{-1}(u)`` between levels, the lowest segment's line below the lowest level),
    integrated **exactly**: on a piece ``q = A + B z`` between ``z_l`` and ``z_r``,
    ``int q(u) du = A (Phi(z_r) - Phi(z_l)) + B (phi(z_l) - phi(z_r))``. For a Gaussian
    quantile set this is the closed form ``mu - sigma * phi(z_alpha) / alpha``; for
    fat-tailed returns it understates the tail beyond the lowest level (the extrapolation
    is Gaussian-shaped), so keep a level at or below ``alpha``.
    Definition of ES: Acerbi & Tasche (2002), J. Banking & Finance 26(7) 1487-1503.

    Parameters
    ----------
    Q : array_like, shape (n, k)
        Quantile set (log return), ``k >= 2``.
    levels : array_like, shape (k,)
    alpha : float
        Tail probability in (0, 1): 0.025 for ES 97.5 %, 0.01 for ES 99 %.

    Returns
    -------
    numpy.ndarray, shape (n,)
        ES as a log return (<= VaR at ``alpha``); positive loss in percent: ``-100 * ES``.

    Raises
    ------
    ValueError
        Bad inputs, fewer than 2 levels, ``alpha`` outside (0, 1).
    """
    q, lv = check_quantiles(Q, levels)
    if lv.size < 2:
        raise ValueError("ES from a quantile set needs at least 2 levels")
    return _es(q, lv, _alpha(alpha))


def _es(q: np.ndarray, lv: np.ndarray, a: float) -> np.ndarray:
    from scipy.special import ndtr, ndtri

    z, A, B = _pieces(q, lv)
    za = float(ndtri(a))
    left = np.concatenate([[-np.inf], z])  # piece j covers [left_j, right_j]
    right = np.concatenate([z, [np.inf]])
    zl = np.minimum(left, za)
    zr = np.minimum(right, za)
    pdf_l = np.exp(-0.5 * zl**2) / math.sqrt(2.0 * math.pi)  # phi(-inf) = 0
    pdf_r = np.exp(-0.5 * zr**2) / math.sqrt(2.0 * math.pi)
    mass = ndtr(zr) - ndtr(zl)
    integral = A * mass + B * (pdf_l - pdf_r)
    return integral.sum(axis=1) / a


# ---------------------------------------------------------------------------
# VaR backtests
# ---------------------------------------------------------------------------


def hit_sequence(y: Any, var: Any) -> np.ndarray:
    """VaR hits (violations): 1 where ``y < VaR``, else 0.

    Parameters
    ----------
    y, var : array_like, shape (n,)
        Realised log returns and VaR forecasts (log return).

    Returns
    -------
    numpy.ndarray, shape (n,), int64

    Raises
    ------
    ValueError
        Empty, non-finite or mismatched inputs.
    """
    yv, v = _vector("y", y), _vector("var", var)
    if yv.size != v.size:
        raise ValueError(f"length mismatch: y={yv.size}, var={v.size}")
    return (yv < v).astype(np.int64)


def _hits(hits: Any) -> np.ndarray:
    h = _vector("hits", hits)
    if not np.all((h == 0) | (h == 1)):
        raise ValueError("hits must contain only 0 and 1")
    return h.astype(np.int64)


def _bernoulli_loglik(x: float, n: float, p: float) -> float:
    """``x log p + (n - x) log(1 - p)`` with ``0 log 0 = 0``."""
    from scipy.special import xlog1py, xlogy

    return float(xlogy(x, p) + xlog1py(n - x, -p))


def kupiec_test(hits: Any, alpha: float) -> dict[str, Any]:
    """Kupiec (1995) proportion-of-failures (unconditional coverage) LR test.

    With ``x`` hits in ``n`` dates and ``pi = x / n``:
    ``LR_POF = -2 [x ln a + (n - x) ln(1 - a) - x ln pi - (n - x) ln(1 - pi)]``, asymptotically
    chi-square(1) under ``H0: P(hit) = a`` (Kupiec 1995, "Techniques for verifying the
    accuracy of risk measurement models", J. Derivatives 3(2) 73-84). With zero hits or all
    hits the ``0 ln 0 = 0`` limit applies: ``LR = -2 n ln(1 - a)`` or ``-2 n ln a``, finite.

    Parameters
    ----------
    hits : array_like, shape (n,)
        0/1 hit sequence (see :func:`hit_sequence`).
    alpha : float
        VaR level (expected hit probability), in (0, 1).

    Returns
    -------
    dict
        ``test``, ``alpha``, ``n``, ``hits``, ``expected_hits`` (``n a``), ``hit_rate``,
        ``statistic`` (LR), ``df`` (1), ``p_value`` (two-sided: too many or too few hits),
        ``note`` (``None`` or a remark on zero/all hits).

    Raises
    ------
    ValueError
        Empty input, values other than 0/1, ``alpha`` outside (0, 1).
    """
    from scipy.stats import chi2

    a = _alpha(alpha)
    h = _hits(hits)
    n, x = h.size, int(h.sum())
    lr = max(0.0, -2.0 * (_bernoulli_loglik(x, n, a) - _bernoulli_loglik(x, n, x / n)))
    note = None
    if x == 0:
        note = "zero hits: LR uses the 0*ln(0) = 0 limit, LR = -2 n ln(1 - a)"
    elif x == n:
        note = "every date is a hit: LR uses the 0*ln(0) = 0 limit, LR = -2 n ln(a)"
    return {
        "test": "kupiec-pof",
        "alpha": a,
        "n": n,
        "hits": x,
        "expected_hits": n * a,
        "hit_rate": x / n,
        "statistic": lr,
        "df": 1,
        "p_value": float(chi2.sf(lr, 1)),
        "note": note,
    }


def christoffersen_test(hits: Any, alpha: float) -> dict[str, Any]:
    """Christoffersen (1998) independence and conditional-coverage LR tests.

    Transition counts ``n_ij`` = number of dates ``t >= 2`` with ``hit[t-1] = i`` and
    ``hit[t] = j``; ``pi01 = n01 / (n00 + n01)``, ``pi11 = n11 / (n10 + n11)``,
    ``pi = (n01 + n11) / (n - 1)``.
    ``LR_ind = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11) / ((1-pi01)^n00 pi01^n01 (1-pi11)^n10
    pi11^n11)]`` ~ chi-square(1) under independence, and ``LR_cc = LR_POF + LR_ind``
    ~ chi-square(2) under correct conditional coverage (Christoffersen 1998, "Evaluating
    interval forecasts", International Economic Review 39(4) 841-862, eqs. for LR_ind and
    LR_cc; ``LR_POF`` from :func:`kupiec_test` on all ``n`` dates, as R rugarch ``VaRTest``).

    Limits: ``0 ln 0 = 0``. When a state is never left (no hit before the last date, or no
    non-hit before it) its transition probability has no data and drops out, so
    ``LR_ind = 0`` and ``note`` says the independence test has no power there.

    Parameters
    ----------
    hits : array_like, shape (n,)
        0/1 hit sequence in date order.
    alpha : float
        VaR level, in (0, 1).

    Returns
    -------
    dict
        ``test``, ``alpha``, ``n``, ``hits``, ``n00``, ``n01``, ``n10``, ``n11``, ``pi01``,
        ``pi11`` (``None`` when their row is empty), ``lr_ind``, ``p_value_ind``,
        ``lr_cc``, ``p_value_cc``, ``note``. With fewer than 2 dates every statistic is
        ``None`` and ``note`` says why.

    Raises
    ------
    ValueError
        Empty input, values other than 0/1, ``alpha`` outside (0, 1).
    """
    from scipy.stats import chi2

    a = _alpha(alpha)
    h = _hits(hits)
    n = h.size
    out: dict[str, Any] = {
        "test": "christoffersen",
        "alpha": a,
        "n": n,
        "hits": int(h.sum()),
        "n00": 0,
        "n01": 0,
        "n10": 0,
        "n11": 0,
        "pi01": None,
        "pi11": None,
        "lr_ind": None,
        "p_value_ind": None,
        "lr_cc": None,
        "p_value_cc": None,
        "note": None,
    }
    if n < 2:
        out["note"] = "Christoffersen tests need at least 2 dates (1 transition)"
        return out
    prev, cur = h[:-1], h[1:]
    n00 = int(np.sum((prev == 0) & (cur == 0)))
    n01 = int(np.sum((prev == 0) & (cur == 1)))
    n10 = int(np.sum((prev == 1) & (cur == 0)))
    n11 = int(np.sum((prev == 1) & (cur == 1)))
    row0, row1 = n00 + n01, n10 + n11
    pi01 = n01 / row0 if row0 else 0.0
    pi11 = n11 / row1 if row1 else 0.0
    pi = (n01 + n11) / (n - 1)
    ll0 = _bernoulli_loglik(n01 + n11, n - 1, pi)
    ll1 = _bernoulli_loglik(n01, row0, pi01) + _bernoulli_loglik(n11, row1, pi11)
    lr_ind = max(0.0, -2.0 * (ll0 - ll1))
    pof = kupiec_test(h, a)
    lr_cc = pof["statistic"] + lr_ind
    notes = []
    if row1 == 0:
        notes.append("no hit before the last date: independence is untestable, LR_ind = 0")
    elif row0 == 0:
        notes.append("no non-hit before the last date: independence is untestable, LR_ind = 0")
    if pof["note"]:
        notes.append(pof["note"])
    out.update(
        n00=n00,
        n01=n01,
        n10=n10,
        n11=n11,
        pi01=pi01 if row0 else None,
        pi11=pi11 if row1 else None,
        lr_ind=lr_ind,
        p_value_ind=float(chi2.sf(lr_ind, 1)),
        lr_cc=lr_cc,
        p_value_cc=float(chi2.sf(lr_cc, 2)),
        note="; ".join(notes) or None,
    )
    return out


# ---------------------------------------------------------------------------
# ES backtests
# ---------------------------------------------------------------------------


def _z2(y: np.ndarray, var: np.ndarray, es: np.ndarray, a: float) -> np.ndarray:
    """Z2 for y of shape (..., n): ``1 - sum(y I / ES) / (n a)`` (our sign convention)."""
    hit = y < var
    return 1.0 - np.sum(np.where(hit, y / es, 0.0), axis=-1) / (y.shape[-1] * a)


def acerbi_szekely_z2(
    y: Any,
    Q: Any,
    levels: Any,
    alpha: float = 0.025,
    *,
    n_sim: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Acerbi & Szekely (2014) ES backtest, statistic Z2, with a simulated p-value.

    In their notation (P&L ``X_t``, positive ``VaR``/``ES``, ``I_t = 1[X_t + VaR_t < 0]``):
    ``Z2 = sum_t X_t I_t / (T a ES_t) + 1``; with this module's signs (``ES_t < 0`` a
    return, ``I_t = 1[y_t < VaR_t]``): ``Z2 = 1 - sum_t (y_t I_t / ES_t) / (T a)``.
    ``E[Z2] = 0`` under correct VaR and ES; ``Z2 < 0`` means more or deeper tail losses than
    forecast. Acerbi & Szekely (2014, "Backtesting expected shortfall", Risk, December)
    report thresholds that are nearly distribution-free for ``T = 250, a = 2.5 %``:
    ``-0.70`` at 5 % and ``-1.8`` at 0.01 % significance (:data:`Z2_CRITICAL`); for other
    ``T`` or ``a`` they do not apply, so a p-value is simulated as they propose: ``n_sim``
    paths ``y*_t = q_t(Phi(Z))``, ``Z ~ N(0, 1)``, drawn from each date's forecast
    distribution (the z-space interpolant of :func:`quantile_at`, whose VaR and ES are
    exactly the ones tested), ``p = (1 + #{Z2* <= Z2}) / (n_sim + 1)`` (one-sided).

    Parameters
    ----------
    y, Q, levels
        As :func:`pinball_loss`; at least 2 levels.
    alpha : float, default 0.025
        ES level (ES 97.5 %).
    n_sim : int, default 2000
        Simulated paths under H0 (0 skips the p-value).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    dict
        ``test``, ``alpha``, ``n``, ``hits``, ``statistic`` (Z2), ``p_value`` (simulated),
        ``critical_values`` (published, for T = 250 and a = 2.5 %),
        ``critical_values_apply`` (True only when ``n == 250`` and ``a == 0.025``),
        ``n_sim``, ``seed``, ``note``. ``statistic``/``p_value`` are ``None`` with a note
        when some ``ES_t >= 0`` (the ratio is meaningless there).

    Raises
    ------
    ValueError
        As :func:`pinball_loss`; ``alpha`` outside (0, 1); ``n_sim < 0``.
    """
    yv, q, lv = _y_and_q(y, Q, levels)
    if lv.size < 2:
        raise ValueError("the Z2 test needs at least 2 levels")
    a = _alpha(alpha)
    if int(n_sim) < 0:
        raise ValueError(f"n_sim must be >= 0, got {n_sim}")
    var = _quantile_at(q, lv, [a])[:, 0]
    es = _es(q, lv, a)
    n = yv.size
    out: dict[str, Any] = {
        "test": "acerbi-szekely-z2",
        "alpha": a,
        "n": n,
        "hits": int(np.sum(yv < var)),
        "statistic": None,
        "p_value": None,
        "critical_values": dict(Z2_CRITICAL),
        "critical_values_apply": bool(n == 250 and abs(a - 0.025) <= _LEVEL_TOL),
        "n_sim": int(n_sim),
        "seed": int(seed),
        "note": None,
    }
    if np.any(es >= 0):
        first = int(np.flatnonzero(es >= 0)[0])
        out["note"] = f"ES forecast is not negative at row {first}: Z2 undefined"
        return out
    out["statistic"] = float(_z2(yv, var, es, a))
    if int(n_sim) > 0:
        from scipy.special import ndtr

        rng = np.random.default_rng(seed)
        below = 0
        done = 0
        chunk = max(1, min(int(n_sim), 2_000_000 // max(n, 1)))
        while done < int(n_sim):
            m = min(chunk, int(n_sim) - done)
            u = ndtr(rng.standard_normal((n, m)))  # u = Phi(Z): one draw per date and path
            ysim = _quantile_at(q, lv, u).T  # (m, n): path i, date t
            below += int(np.sum(_z2(ysim, var, es, a) <= out["statistic"]))
            done += m
        out["p_value"] = (1 + below) / (int(n_sim) + 1)
    if out["hits"] == 0:
        out["note"] = "zero hits: Z2 = 1"
    return out


def mcneil_frey_test(
    y: Any,
    var: Any,
    es: Any,
    *,
    scale: Any = None,
    n_boot: int = 9999,
    seed: int = 0,
) -> dict[str, Any]:
    """McNeil & Frey (2000) exceedance-residual test of ES, bootstrap p-value.

    On the hit dates (``y_t < VaR_t``) the exceedance residuals are
    ``r_t = (y_t - ES_t) / s_t`` (``s_t`` the forecast volatility, or 1 when ``scale`` is
    None: the unstandardised variant; McNeil & Frey 2000, "Estimation of tail-related risk
    measures for heteroscedastic financial time series: an extreme value approach",
    J. Empirical Finance 7(3-4) 271-300, sec. 5). Under correct ES they have mean zero;
    ``H1``: mean < 0 (realised tail returns below ES, ES too optimistic; in their loss
    convention, mean > 0). Test: the bootstrap test of a zero mean of Efron & Tibshirani
    (1993, An Introduction to the Bootstrap, sec. 16.4): ``t = mean(r) / (sd(r)/sqrt(m))``;
    resample the centred residuals ``r - mean(r)`` ``n_boot`` times with replacement,
    ``p = (1 + #{t* <= t}) / (n_boot + 1)``.

    Parameters
    ----------
    y, var, es : array_like, shape (n,)
        Realised log returns, VaR and ES forecasts (log return).
    scale : array_like, shape (n,), optional
        Positive volatility forecasts ``s_t``.
    n_boot : int, default 9999
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    dict
        ``test``, ``n``, ``hits`` (``m``), ``mean_residual``, ``statistic`` (t),
        ``p_value`` (one-sided), ``standardised`` (bool), ``n_boot``, ``seed``, ``note``.
        With fewer than 2 hits, or residuals of zero spread, ``statistic``/``p_value`` are
        ``None`` with a note.

    Raises
    ------
    ValueError
        Empty, non-finite or mismatched inputs; non-positive ``scale``; ``n_boot < 1``.
    """
    yv, v, e = _vector("y", y), _vector("var", var), _vector("es", es)
    if not yv.size == v.size == e.size:
        raise ValueError(f"length mismatch: y={yv.size}, var={v.size}, es={e.size}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    s = np.ones_like(yv) if scale is None else _vector("scale", scale)
    if s.size != yv.size:
        raise ValueError(f"length mismatch: y={yv.size}, scale={s.size}")
    if np.any(s <= 0):
        raise ValueError("scale must be > 0")
    hit = yv < v
    r = (yv[hit] - e[hit]) / s[hit]
    m = int(r.size)
    out: dict[str, Any] = {
        "test": "mcneil-frey",
        "n": int(yv.size),
        "hits": m,
        "mean_residual": float(r.mean()) if m else None,
        "statistic": None,
        "p_value": None,
        "standardised": scale is not None,
        "n_boot": int(n_boot),
        "seed": int(seed),
        "note": None,
    }
    if m < 2:
        out["note"] = f"{m} hit(s): the exceedance-residual test needs at least 2"
        return out
    sd = float(r.std(ddof=1))
    if not sd > 0:
        out["note"] = "exceedance residuals have zero spread: t statistic undefined"
        return out
    t_obs = float(r.mean()) / (sd / math.sqrt(m))
    rng = np.random.default_rng(seed)
    centred = r - r.mean()
    draws = centred[rng.integers(0, m, size=(int(n_boot), m))]
    sd_b = draws.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_b = draws.mean(axis=1) / (sd_b / math.sqrt(m))
    t_b = np.where(sd_b > 0, t_b, 0.0)  # a constant resample has mean 0 -> t* = 0
    out["statistic"] = t_obs
    out["p_value"] = (1 + int(np.sum(t_b <= t_obs))) / (int(n_boot) + 1)
    return out


# ---------------------------------------------------------------------------
# one report
# ---------------------------------------------------------------------------


def quantile_report(
    y: Any,
    Q: Any,
    levels: Any,
    *,
    horizon: int = 1,
    var_levels: Sequence[float] = VAR_LEVELS,
    es_levels: Sequence[float] = ES_LEVELS,
    n_sim: int = 2000,
    n_boot: int = 9999,
    seed: int = 0,
) -> dict[str, Any]:
    """Every score and backtest of one quantile forecaster, JSON-ready.

    Parameters
    ----------
    y : array_like, shape (n,)
        Realised log returns over the horizon.
    Q : array_like, shape (n, k)
        Quantile forecasts (log return), non-decreasing rows; ``k >= 2``.
    levels : array_like, shape (k,)
    horizon : int, default 1
        h; for ``h > 1`` consecutive targets overlap, so hits are autocorrelated even under
        a correct model and the tests (which assume independent dates) over-reject; a note
        says so.
    var_levels, es_levels : sequence of float
        VaR levels to backtest (:func:`kupiec_test`, :func:`christoffersen_test`) and ES
        levels to backtest (:func:`acerbi_szekely_z2`, :func:`mcneil_frey_test`).
    n_sim, n_boot, seed
        Monte Carlo sizes and seed of the ES backtests.

    Returns
    -------
    dict
        ``n``, ``horizon``, ``levels``, ``pinball`` (:func:`pinball_summary`), ``crps``
        (mean of :func:`crps_from_quantiles`), ``intervals`` (:func:`central_intervals`),
        ``var`` (one dict per VaR level: ``alpha``, ``mean_var`` and ``mean_var_loss_pct``,
        ``kupiec``, ``christoffersen``), ``es`` (per ES level: ``alpha``, ``mean_es``,
        ``mean_es_loss_pct``, ``acerbi_szekely``, ``mcneil_frey``), ``notes``.

    Raises
    ------
    ValueError
        As :func:`pinball_loss`; fewer than 2 levels; bad ``horizon`` or levels.
    """
    yv, q, lv = _y_and_q(y, Q, levels)
    if lv.size < 2:
        raise ValueError("a quantile report needs at least 2 levels")
    h = int(horizon)
    if h != horizon or h < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon}")
    notes = []
    if h > 1:
        notes.append(
            f"horizon {h}: overlapping targets make hits autocorrelated under H0; Kupiec, "
            "Christoffersen and ES backtests assume independent dates and over-reject"
        )
    var_rows = []
    for a in var_levels:
        a = _alpha(a, "VaR level")
        var = value_at_risk(q, lv, a)
        hits = hit_sequence(yv, var)
        var_rows.append(
            {
                "alpha": a,
                "mean_var": float(var.mean()),
                "mean_var_loss_pct": float(-100.0 * var.mean()),
                "kupiec": kupiec_test(hits, a),
                "christoffersen": christoffersen_test(hits, a),
            }
        )
    es_rows = []
    for a in es_levels:
        a = _alpha(a, "ES level")
        es = _es(q, lv, a)
        var = value_at_risk(q, lv, a)
        es_rows.append(
            {
                "alpha": a,
                "mean_es": float(es.mean()),
                "mean_es_loss_pct": float(-100.0 * es.mean()),
                "acerbi_szekely": acerbi_szekely_z2(yv, q, lv, a, n_sim=n_sim, seed=seed),
                "mcneil_frey": mcneil_frey_test(yv, var, es, n_boot=n_boot, seed=seed),
            }
        )
    return {
        "n": int(yv.size),
        "horizon": h,
        "levels": [float(t) for t in lv],
        "pinball": pinball_summary(yv, q, lv),
        "crps": float(crps_from_quantiles(yv, q, lv).mean()),
        "intervals": central_intervals(yv, q, lv),
        "var": var_rows,
        "es": es_rows,
        "notes": notes,
    }


# ---------------------------------------------------------------------------
# calibration: split conformal (CQR), one-sided per level
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CQRCalibration:
    """Per-level conformal shifts fitted on the validation rows (see :func:`cqr_fit`).

    Attributes
    ----------
    levels : tuple of float
        Quantile levels, increasing.
    shifts : tuple of float
        Additive shift per level, log-return units.
    ranks : tuple of int
        Order statistic used per level (1 = smallest residual).
    n_cal : int
        Calibration rows.
    rule : str
        ``"tail"`` or ``"ceil"``.
    notes : tuple of str
        Levels where the finite-sample guarantee was unavailable.
    """

    levels: tuple[float, ...]
    shifts: tuple[float, ...]
    ranks: tuple[int, ...]
    n_cal: int
    rule: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def apply(self, Q: Any) -> np.ndarray:
        """Shift each column and make the rows monotone (outward, :func:`monotone_quantiles`).

        Parameters
        ----------
        Q : array_like, shape (n, k)
            Raw quantile forecasts at :attr:`levels` (rows may cross).

        Returns
        -------
        numpy.ndarray, shape (n, k)
            Calibrated, non-decreasing quantile forecasts.

        Raises
        ------
        ValueError
            Wrong number of columns or non-finite values.
        """
        q = np.asarray(Q, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != len(self.levels):
            raise ValueError(f"Q must have shape (n, {len(self.levels)}), got {q.shape}")
        return monotone_quantiles(q + np.asarray(self.shifts), self.levels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (round-trips through :meth:`from_dict`)."""
        return {
            "method": "cqr-one-sided",
            "levels": list(self.levels),
            "shifts": list(self.shifts),
            "ranks": list(self.ranks),
            "n_cal": self.n_cal,
            "rule": self.rule,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CQRCalibration:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            levels=tuple(float(v) for v in data["levels"]),
            shifts=tuple(float(v) for v in data["shifts"]),
            ranks=tuple(int(v) for v in data["ranks"]),
            n_cal=int(data["n_cal"]),
            rule=str(data["rule"]),
            notes=tuple(str(v) for v in data.get("notes", ())),
        )


def cqr_fit(y_cal: Any, Q_cal: Any, levels: Any, *, rule: str = "tail") -> CQRCalibration:
    """Conformalized quantile regression, one-sided per level, on calibration rows.

    For each level ``tau`` the conformity scores are ``e_i = y_i - q_tau(x_i)`` on the ``n``
    calibration (validation) rows, and the calibrated forecast is ``q_tau + e_(r)``, the
    ``r``-th smallest score (Romano, Patterson & Candes 2019, "Conformalized quantile
    regression", NeurIPS 32, sec. 4, applied to one one-sided bound per level). If the test
    score is exchangeable with the calibration scores (and untied), ``P(y <= q + e_(r)) =
    r / (n + 1)`` exactly, marginally over calibration and test. Rank rule:

    * ``"tail"`` (default): ``r = floor((n+1) tau)`` for ``tau < 0.5``, so the hit rate
      ``P(y < q)`` is at most ``tau`` (a conservative VaR), and ``r = ceil((n+1) tau)`` for
      ``tau >= 0.5``, so ``P(y > q)`` is at most ``1 - tau``: both tails are conservative
      by less than ``1/(n+1)``.
    * ``"ceil"``: ``r = ceil((n+1) tau)`` for every level, the usual finite-sample-corrected
      empirical ``tau``-quantile (``P(y <= q) >= tau``).

    When ``r`` falls outside ``1..n`` (fewer than about ``1/tau`` calibration rows) the
    nearest extreme score is used and ``notes`` says the guarantee is lost at that level.
    Only validation rows may be passed here: the test split must stay unseen.

    Parameters
    ----------
    y_cal : array_like, shape (n,)
        Realised log returns of the calibration (validation) rows.
    Q_cal : array_like, shape (n, k)
        Raw quantile forecasts for those rows (rows may cross; only columns are used).
    levels : array_like, shape (k,)
    rule : {"tail", "ceil"}

    Returns
    -------
    CQRCalibration
        Apply it to test forecasts with :meth:`CQRCalibration.apply`, which also makes the
        rows monotone with the outward rule of :func:`monotone_quantiles` (lower columns can
        only go down, upper only up, so each one-sided guarantee is kept).

    Raises
    ------
    ValueError
        Empty or non-finite inputs, length mismatch, bad levels, unknown ``rule``.
    """
    if rule not in ("tail", "ceil"):
        raise ValueError(f"unknown rule {rule!r}: use 'tail' or 'ceil'")
    yv = _vector("y_cal", y_cal)
    q = np.asarray(Q_cal, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != yv.size:
        raise ValueError(f"Q_cal must have shape ({yv.size}, k), got {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("Q_cal has a non-finite value")
    lv = _levels_array(levels, q.shape[1])
    n = yv.size
    scores = np.sort(yv[:, None] - q, axis=0)
    shifts, ranks, notes = [], [], []
    for j, tau in enumerate(lv):
        x = (n + 1) * tau
        r = math.floor(x + 1e-9) if (rule == "tail" and tau < 0.5) else math.ceil(x - 1e-9)
        if r < 1 or r > n:
            notes.append(
                f"level {_fmt(tau)}: {n} calibration rows are too few for the finite-sample "
                f"guarantee (rank {r}); used the {'smallest' if r < 1 else 'largest'} score"
            )
            r = min(max(r, 1), n)
        ranks.append(int(r))
        shifts.append(float(scores[r - 1, j]))
    return CQRCalibration(
        levels=tuple(float(t) for t in lv),
        shifts=tuple(shifts),
        ranks=tuple(ranks),
        n_cal=int(n),
        rule=rule,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------
# adaptive conformal inference (online)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ACIState:
    """State of adaptive conformal inference, one working level per target level.

    Attributes
    ----------
    levels : tuple of float
        Target levels ``tau`` (the columns of the quantile set), increasing.
    tau_t : tuple of float
        Working levels for the next forecast (may leave (0, 1); see :func:`aci_forecast`).
    gamma : float
        Step size.
    n_updates : int
        Outcomes absorbed so far.
    n_hits : tuple of int
        Per level, how many outcomes fell at or below the issued forecast.
    clip : float or None
        Read-off bound: forecasts use ``min(max(tau_t, clip), 1 - clip)``; ``None`` reads
        ``tau_t <= 0`` as ``-inf`` and ``tau_t >= 1`` as ``+inf``.
    """

    levels: tuple[float, ...]
    tau_t: tuple[float, ...]
    gamma: float = ACI_GAMMA
    n_updates: int = 0
    n_hits: tuple[int, ...] = ()
    clip: float | None = ACI_CLIP

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (round-trips through :meth:`from_dict`)."""
        return {
            "method": "aci",
            "levels": list(self.levels),
            "tau_t": list(self.tau_t),
            "gamma": self.gamma,
            "n_updates": self.n_updates,
            "n_hits": list(self.n_hits),
            "clip": self.clip,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ACIState:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            levels=tuple(float(v) for v in data["levels"]),
            tau_t=tuple(float(v) for v in data["tau_t"]),
            gamma=float(data["gamma"]),
            n_updates=int(data["n_updates"]),
            n_hits=tuple(int(v) for v in data["n_hits"]),
            clip=None if data.get("clip") is None else float(data["clip"]),
        )


def aci_init(
    levels: Any = DEFAULT_LEVELS, gamma: float = ACI_GAMMA, clip: float | None = ACI_CLIP
) -> ACIState:
    """Initial ACI state: every working level equals its target, ``tau_1 = tau``.

    Parameters
    ----------
    levels : array_like, shape (k,)
        Target levels (the columns of the quantile set), increasing.
    gamma : float, default 0.005
        Step size > 0 (Gibbs & Candes 2021, NeurIPS 34, sec. 2; 0.005 is their default).
    clip : float or None, default 0.001
        Read-off bound in (0, 0.5) (see :func:`aci_forecast`), or ``None`` for the exact
        +-inf of Gibbs & Candes.

    Returns
    -------
    ACIState

    Raises
    ------
    ValueError
        Bad levels, ``gamma <= 0``, or ``clip`` outside (0, 0.5).
    """
    lv = _levels_array(levels)
    if not (math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if clip is not None and not 0.0 < float(clip) < 0.5:
        raise ValueError(f"clip must lie in (0, 0.5) or be None, got {clip}")
    k = lv.size
    return ACIState(
        levels=tuple(map(float, lv)),
        tau_t=tuple(map(float, lv)),
        gamma=float(gamma),
        n_updates=0,
        n_hits=(0,) * k,
        clip=None if clip is None else float(clip),
    )


def aci_forecast(state: ACIState, q_row: Any) -> np.ndarray:
    """The ACI forecast for the next date: the quantile set read off at the working levels.

    Each level's forecast is the (calibrated) quantile set at ``tau_t`` by the z-space
    interpolation of :func:`quantile_at`. With ``state.clip = None``, ``tau_t <= 0`` gives
    ``-inf`` and ``tau_t >= 1`` gives ``+inf`` (Gibbs & Candes 2021: the trivial set). At
    ``tau = 0.01`` and ``gamma = 0.005`` three hits in a row take ``tau_t`` below 0, and it
    then needs about 100 misses to come back: weeks of ``-inf`` VaR, which no report or
    pinball loss can use. So by default (``clip = 0.001``) the level read off is
    ``min(max(tau_t, clip), 1 - clip)``; the state itself is never clipped, and the
    identity ``mean(err) - tau = (tau_1 - tau_{T+1}) / (gamma T)`` behind their long-run
    coverage bound still holds exactly (``ACIResult.summary`` reports the final
    ``tau_t``). The row is then made monotone with the outward rule of
    :func:`monotone_quantiles`, since working levels of different targets can cross.

    Parameters
    ----------
    state : ACIState
    q_row : array_like, shape (k,)
        One date's quantile set at ``state.levels`` (non-decreasing, log return).

    Returns
    -------
    numpy.ndarray, shape (k,)
        The forecasts to issue (and log: :func:`aci_update` needs them).

    Raises
    ------
    ValueError
        ``q_row`` of the wrong length, crossing or non-finite; fewer than 2 levels.
    """
    q, lv = check_quantiles(np.asarray(q_row, dtype=np.float64)[None, :], state.levels)
    if lv.size < 2:
        raise ValueError("ACI read-off needs at least 2 levels")
    tau = np.asarray(state.tau_t, dtype=np.float64)
    if state.clip is not None:
        tau = np.clip(tau, state.clip, 1.0 - state.clip)
    raw = _quantile_at(q, lv, tau[None, :])
    return _outward(raw, lv)[0]


def aci_update(state: ACIState, y: float, q_issued: Any) -> ACIState:
    """Absorb one realised outcome: ``tau_{t+1} = tau_t + gamma (tau - 1[y_t <= q_t])``.

    Gibbs & Candes (2021, "Adaptive conformal inference under distribution shift", NeurIPS
    34, eq. (2)) written for a one-sided quantile: ``err_t = 1[y_t <= q_t]``, target
    frequency ``tau``. A hit lowers the working level, a miss raises it. Uses only the
    outcome ``y_t`` and the forecast ``q_t`` issued for it (from :func:`aci_forecast`), so
    predict can call it once per day from its forecast log.

    Parameters
    ----------
    state : ACIState
        State the forecast ``q_issued`` was made with.
    y : float
        Realised log return of that date.
    q_issued : array_like, shape (k,)
        The forecasts issued for that date (may hold +-inf).

    Returns
    -------
    ACIState
        The next state (a new object; ``state`` is unchanged).

    Raises
    ------
    ValueError
        Non-finite ``y``, ``q_issued`` of the wrong length or holding nan.
    """
    yv = float(y)
    if not math.isfinite(yv):
        raise ValueError(f"y must be finite, got {y}")
    q = np.asarray(q_issued, dtype=np.float64).ravel()
    if q.size != len(state.levels) or np.isnan(q).any():
        raise ValueError(f"q_issued must hold {len(state.levels)} numbers, got {q.size}")
    err = (yv <= q).astype(np.int64)
    lv, tau_t = np.asarray(state.levels), np.asarray(state.tau_t)
    new_tau = tau_t + state.gamma * (lv - err)
    hits = np.asarray(state.n_hits if state.n_hits else (0,) * lv.size) + err
    return ACIState(
        levels=state.levels,
        tau_t=tuple(map(float, new_tau)),
        gamma=state.gamma,
        n_updates=state.n_updates + 1,
        n_hits=tuple(map(int, hits)),
        clip=state.clip,
    )


@dataclass(frozen=True)
class ACIResult:
    """Output of :func:`adaptive_conformal` on a whole split.

    Attributes
    ----------
    forecasts : numpy.ndarray, shape (n, k)
        Issued forecasts (log return; +-inf only with ``clip=None`` where a working level
        left (0, 1)).
    tau_path : numpy.ndarray, shape (n, k)
        Working level used for each date's forecast.
    hits : numpy.ndarray, shape (n, k), int
        ``1[y_t <= forecast]``.
    state : ACIState
        State after the last outcome: store it for predict.
    """

    forecasts: np.ndarray
    tau_path: np.ndarray
    hits: np.ndarray
    state: ACIState

    def summary(self) -> dict[str, Any]:
        """JSON-ready: per level, realised frequency of ``y <= forecast``, last working
        level, how many dates had a working level outside (0, 1), and how many an
        infinite forecast (only with ``clip=None``)."""
        lv = self.state.levels
        return {
            "gamma": self.state.gamma,
            "clip": self.state.clip,
            "n": int(self.hits.shape[0]),
            "per_level": {
                _fmt(t): {
                    "frequency_at_or_below": float(self.hits[:, j].mean()),
                    "final_tau_t": float(self.state.tau_t[j]),
                    "outside_unit_interval": int(
                        np.sum((self.tau_path[:, j] <= 0) | (self.tau_path[:, j] >= 1))
                    ),
                    "infinite_forecasts": int(np.sum(~np.isfinite(self.forecasts[:, j]))),
                }
                for j, t in enumerate(lv)
            },
            "state": self.state.to_dict(),
        }


def adaptive_conformal(
    y: Any,
    Q: Any,
    levels: Any,
    *,
    gamma: float = ACI_GAMMA,
    clip: float | None = ACI_CLIP,
    state: ACIState | None = None,
) -> ACIResult:
    """Adaptive conformal inference over a split, one date at a time, in date order.

    For ``t = 1..n``: issue :func:`aci_forecast` from the current state and row ``Q[t]``,
    then absorb ``y[t]`` with :func:`aci_update`. The forecast for date ``t`` depends on
    ``y[:t]`` only (outcomes already realised), never on ``y[t:]``.

    Parameters
    ----------
    y : array_like, shape (n,)
        Realised log returns (test rows, in date order).
    Q : array_like, shape (n, k)
        (Calibrated) quantile sets, non-decreasing rows, ``k >= 2``.
    levels : array_like, shape (k,)
    gamma : float, default 0.005
        Step size, used when ``state`` is None.
    clip : float or None, default 0.001
        Read-off bound (see :func:`aci_forecast`), used when ``state`` is None.
    state : ACIState, optional
        Continue from a stored state (its levels must equal ``levels``; its ``gamma`` and
        ``clip`` are used).

    Returns
    -------
    ACIResult

    Raises
    ------
    ValueError
        As :func:`pinball_loss`; a ``state`` with other levels.
    """
    yv, q, lv = _y_and_q(y, Q, levels)
    st = aci_init(lv, gamma, clip) if state is None else state
    if len(st.levels) != lv.size or np.any(np.abs(np.asarray(st.levels) - lv) > _LEVEL_TOL):
        raise ValueError("the ACI state's levels differ from the quantile set's levels")
    n, k = q.shape
    forecasts = np.empty((n, k))
    taus = np.empty((n, k))
    hits = np.empty((n, k), dtype=np.int64)
    for t in range(n):
        taus[t] = st.tau_t
        forecasts[t] = aci_forecast(st, q[t])
        hits[t] = yv[t] <= forecasts[t]
        st = aci_update(st, yv[t], forecasts[t])
    return ACIResult(forecasts=forecasts, tau_path=taus, hits=hits, state=st)


# ---------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------


def _closes(closes: Any) -> np.ndarray:
    c = _vector("closes", closes)
    if np.any(c <= 0):
        first = int(np.flatnonzero(c <= 0)[0])
        raise ValueError(f"closes must be > 0 (row {first}: {c[first]})")
    return c


def _rows(end_rows: Any, n_rows: int, name: str = "end_rows", first: int = 0) -> np.ndarray:
    rows = np.asarray(end_rows)
    if rows.ndim != 1 or rows.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of row indices")
    if not np.issubdtype(rows.dtype, np.integer):
        if not np.all(np.isfinite(rows)) or not np.all(np.mod(rows, 1) == 0):
            raise ValueError(f"{name} must be integer row indices")
    rows = rows.astype(np.int64)
    if rows.min() < first:
        raise ValueError(
            f"{name}: row {int(rows.min())} has too little history (first usable row {first})"
        )
    if rows.max() > n_rows - 1:
        raise ValueError(f"{name}: row {int(rows.max())} is past the last row {n_rows - 1}")
    return rows


def _horizon(horizon: Any) -> int:
    h = int(horizon)
    if h != horizon or h < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon}")
    return h


def parametric_quantiles(
    mean: Any,
    sigma: Any,
    levels: Any = DEFAULT_LEVELS,
    dist: str = "normal",
    nu: Any = None,
) -> np.ndarray:
    """Quantiles of a location-scale forecast: ``mean + sigma * F^{-1}(tau)``.

    ``F`` is the standard normal (``dist="normal"``) or Student's t with ``nu`` degrees of
    freedom **standardised to unit variance**, ``F^{-1}(tau) = t_nu^{-1}(tau) *
    sqrt((nu - 2) / nu)`` (as ``arch.univariate.StudentsT.ppf``; Bollerslev 1987, REStat
    69(3)), so ``sigma`` is the standard deviation of the return in both cases. This is the
    plug-in for GARCH-n / GARCH-t forecasts: pass the conditional mean and volatility of the
    h-step log return (for ``h > 1`` the sum of GARCH-t shocks is not Student t; using t
    for it is an approximation).

    Parameters
    ----------
    mean, sigma : array_like, shape (n,) or scalar
        Mean and standard deviation of the log return (sigma > 0), broadcast together, in
        log-return units: divide a volatility of percent log returns (arch's usual
        scaling, ``lstmfc.volatility.models``) by 100 first.
    levels : array_like, shape (k,)
        Increasing levels in (0, 1).
    dist : {"normal", "t"}
    nu : float or array_like (n,), optional
        Degrees of freedom, > 2; required for ``dist="t"``.

    Returns
    -------
    numpy.ndarray, shape (n, k)
        Quantiles (log return), non-decreasing rows.

    Raises
    ------
    ValueError
        Non-finite inputs, ``sigma <= 0``, bad levels, unknown ``dist``, missing or
        ``nu <= 2``.
    """
    from scipy import stats

    lv = _levels_array(levels)
    m = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    s = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    if m.ndim != 1 or s.ndim != 1:
        raise ValueError("mean and sigma must be scalars or 1-D arrays")
    m, s = np.broadcast_arrays(m, s)
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
        raise ValueError("mean and sigma must be finite")
    if np.any(s <= 0):
        raise ValueError("sigma must be > 0")
    if dist == "normal":
        z = np.broadcast_to(stats.norm.ppf(lv), (m.size, lv.size))
    elif dist == "t":
        if nu is None:
            raise ValueError("dist='t' needs nu (degrees of freedom > 2)")
        v = np.atleast_1d(np.asarray(nu, dtype=np.float64))
        if v.ndim != 1 or not np.all(np.isfinite(v)) or np.any(v <= 2):
            raise ValueError(f"nu must be finite and > 2, got {nu}")
        v = v[:, None]
        z = stats.t.ppf(lv, v) * np.sqrt((v - 2.0) / v)
        z = np.broadcast_to(z, (m.size, lv.size))
    else:
        raise ValueError(f"unknown dist {dist!r}: use 'normal' or 't'")
    return m[:, None] + s[:, None] * z


def historical_simulation(
    closes: Any,
    end_rows: Any,
    *,
    horizon: int = 1,
    levels: Any = DEFAULT_LEVELS,
    window: int = 250,
    method: str = "linear",
) -> np.ndarray:
    """Historical-simulation quantiles: empirical quantiles of the last ``window`` returns.

    At origin ``t`` the sample is the ``window`` most recent h-session log returns ending
    at or before ``t``: ``log(c[s] / c[s-h])`` for ``s = t-window+1 .. t`` (overlapping when
    ``h > 1``; Jorion 2007, Value at Risk, 3rd ed., ch. 10). Quantile definition:
    ``numpy.quantile(..., method=method)``, default ``"linear"`` = Hyndman & Fan (1996,
    Am. Statistician 50(4)) type 7. Nothing is fitted, so no training rows are needed.

    Parameters
    ----------
    closes : array_like, shape (n_rows,)
        Unscaled closes, currency, > 0.
    end_rows : array_like, shape (n,)
        Forecast origins ``t``; each needs ``t >= window + h - 1``.
    horizon : int, default 1
    levels : array_like, shape (k,)
    window : int, default 250
        Sessions in the look-back (about one trading year, Basel).
    method : str, default "linear"
        Any ``numpy.quantile`` method.

    Returns
    -------
    numpy.ndarray, shape (n, k)
        Quantiles of the h-step log return, non-decreasing rows.

    Raises
    ------
    ValueError
        Bad closes, rows, horizon, window (< 2) or levels; too little history.
    """
    c = _closes(closes)
    h = _horizon(horizon)
    w = int(window)
    if w != window or w < 2:
        raise ValueError(f"window must be an integer >= 2, got {window}")
    lv = _levels_array(levels)
    rows = _rows(end_rows, c.size, first=w + h - 1)
    logc = np.log(c)
    ret_h = logc[h:] - logc[:-h]  # ret_h[s - h] = log(c[s] / c[s-h])
    windows = np.lib.stride_tricks.sliding_window_view(ret_h, w)  # [j] = ret_h[j:j+w]
    sample = windows[rows - h - w + 1]  # s = t-w+1..t  ->  ret_h index t-w+1-h .. t-h
    return np.quantile(sample, lv, axis=1, method=method).T


def ewma_volatility(
    closes: Any,
    end_rows: Any,
    train_end_rows: Any,
    *,
    horizon: int = 1,
    lam: float = 0.94,
) -> np.ndarray:
    """RiskMetrics EWMA volatility forecast of the next daily log return at each origin.

    ``v_{s+1} = lam * v_s + (1 - lam) * r_s^2`` over daily log returns
    ``r_s = log(c[s] / c[s-1])`` (J.P. Morgan/Reuters 1996, RiskMetrics Technical Document,
    4th ed., sec. 5.2.1; ``lam = 0.94`` for daily data), started at the first return with
    ``v_1`` = the variance (ddof 0) of the **training** daily log returns, those dated up
    to ``max(train_end_rows) + h`` (the last training target). The forecast at origin ``t``
    is ``sqrt(v_{t+1})``, which uses returns up to ``t`` only.

    Parameters
    ----------
    closes : array_like, shape (n_rows,)
    end_rows : array_like, shape (n,)
        Forecast origins ``t``.
    train_end_rows : array_like, shape (n_train,)
        Origins of the training windows (only their maximum is used).
    horizon : int, default 1
        Only used to locate the last training target.
    lam : float, default 0.94
        Decay in (0, 1).

    Returns
    -------
    numpy.ndarray, shape (n,)
        Daily volatility (standard deviation of a daily log return).

    Raises
    ------
    ValueError
        Bad closes, rows, horizon or ``lam``; fewer than 2 training returns.
    """
    c = _closes(closes)
    h = _horizon(horizon)
    if not 0.0 < lam < 1.0:
        raise ValueError(f"lam must lie in (0, 1), got {lam}")
    rows = _rows(end_rows, c.size)
    last_train = int(_rows(train_end_rows, c.size, "train_end_rows").max()) + h
    if last_train > c.size - 1:
        raise ValueError("the last training target lies past the end of closes")
    r = np.diff(np.log(c))  # r[s-1] = log(c[s] / c[s-1])
    train = r[:last_train]
    if train.size < 2:
        raise ValueError("fewer than 2 training returns to start the EWMA variance")
    v = np.empty(c.size + 1)  # v[s] = variance forecast of r_s, s = 1..n_rows
    v[0] = np.nan
    v[1] = float(np.var(train))
    for s in range(1, c.size):
        v[s + 1] = lam * v[s] + (1.0 - lam) * r[s - 1] ** 2
    return np.sqrt(v[rows + 1])


def ewma_gaussian(
    closes: Any,
    end_rows: Any,
    train_end_rows: Any,
    *,
    horizon: int = 1,
    levels: Any = DEFAULT_LEVELS,
    lam: float = 0.94,
    mean: str = "zero",
) -> np.ndarray:
    """Gaussian quantiles with EWMA volatility (RiskMetrics 1996).

    ``q_tau = h * mu + sqrt(h) * sigma_t * Phi^{-1}(tau)``: ``sigma_t`` from
    :func:`ewma_volatility`, square-root-of-time scaling for ``h > 1`` (RiskMetrics
    Technical Document 1996, sec. 6.3; exact only for i.i.d. returns), and ``mu = 0``
    (``mean="zero"``, RiskMetrics' choice) or the mean training daily log return
    (``mean="train"``).

    Parameters
    ----------
    closes, end_rows, train_end_rows, horizon, lam
        As :func:`ewma_volatility`.
    levels : array_like, shape (k,)
    mean : {"zero", "train"}

    Returns
    -------
    numpy.ndarray, shape (n, k)
        Quantiles of the h-step log return.

    Raises
    ------
    ValueError
        As :func:`ewma_volatility`; unknown ``mean``.
    """
    if mean not in ("zero", "train"):
        raise ValueError(f"unknown mean {mean!r}: use 'zero' or 'train'")
    h = _horizon(horizon)
    sigma = ewma_volatility(closes, end_rows, train_end_rows, horizon=h, lam=lam)
    mu = 0.0
    if mean == "train":
        c = np.log(_closes(closes))
        last_train = int(np.max(np.asarray(train_end_rows))) + h
        mu = float(np.mean(np.diff(c[: last_train + 1])))
    return parametric_quantiles(h * mu, math.sqrt(h) * sigma, levels, dist="normal")


def unconditional_quantiles(
    closes: Any,
    end_rows: Any,
    train_end_rows: Any,
    *,
    horizon: int = 1,
    levels: Any = DEFAULT_LEVELS,
    method: str = "linear",
) -> np.ndarray:
    """Unconditional quantiles: empirical quantiles of the training h-step log returns.

    The sample is the training targets ``log(c[t+h] / c[t])`` for ``t`` in
    ``train_end_rows`` (overlapping for ``h > 1``); every origin gets the same row.
    Quantile definition: ``numpy.quantile(..., method=method)``, default Hyndman & Fan
    (1996) type 7.

    Parameters
    ----------
    closes : array_like, shape (n_rows,)
    end_rows : array_like, shape (n,)
        Forecast origins (only their number is used).
    train_end_rows : array_like, shape (n_train,)
    horizon : int, default 1
    levels : array_like, shape (k,)
    method : str, default "linear"

    Returns
    -------
    numpy.ndarray, shape (n, k)

    Raises
    ------
    ValueError
        Bad closes, rows, horizon or levels; a training target past the series end.
    """
    c = _closes(closes)
    h = _horizon(horizon)
    lv = _levels_array(levels)
    rows = _rows(end_rows, c.size)
    train = _rows(train_end_rows, c.size - h, "train_end_rows")
    sample = np.log(c[train + h] / c[train])
    row = np.quantile(sample, lv, method=method)
    return np.tile(row, (rows.size, 1))


# ---------------------------------------------------------------------------
# comparison: Diebold-Mariano on pinball losses
# ---------------------------------------------------------------------------


def pinball_loss_differential(
    y: Any, Q_model: Any, Q_benchmark: Any, levels: Any, *, level: float | None = None
) -> np.ndarray:
    """Loss differential ``d_t = L_model,t - L_benchmark,t`` of per-date pinball losses.

    ``L`` is :func:`pinball_loss_series` (mean over levels, or one ``level``). Negative
    ``d`` favours the model.

    Parameters
    ----------
    y : array_like, shape (n,)
    Q_model, Q_benchmark : array_like, shape (n, k)
    levels : array_like, shape (k,)
    level : float, optional

    Returns
    -------
    numpy.ndarray, shape (n,)

    Raises
    ------
    ValueError
        As :func:`pinball_loss`.
    """
    return pinball_loss_series(y, Q_model, levels, level=level) - pinball_loss_series(
        y, Q_benchmark, levels, level=level
    )


def pinball_dm_test(
    y: Any,
    Q_model: Any,
    Q_benchmark: Any,
    levels: Any,
    *,
    level: float | None = None,
    horizon: int = 1,
    alpha: float = 0.05,
    benchmark: str = "benchmark",
) -> dict[str, Any]:
    """Diebold-Mariano test (HLN correction) on pinball losses, model vs benchmark.

    The loss differential is :func:`pinball_loss_differential`; the test is
    :func:`lstmfc.stats.skill.diebold_mariano_differential` (Diebold & Mariano 1995, JBES 13(3);
    Harvey, Leybourne & Newbold 1997, IJF 13(2); ``h - 1`` autocovariances). Where that
    function is not available, :func:`lstmfc.stats.skill.diebold_mariano` is called with
    ``y_true = 0``, ``y_pred = L_model``, ``y_benchmark = L_benchmark`` and
    ``loss="absolute"``: pinball losses are >= 0, so ``|0 - L_model| - |0 - L_benchmark|``
    is exactly the same differential and the result is identical.

    Parameters
    ----------
    y : array_like, shape (n,)
    Q_model, Q_benchmark : array_like, shape (n, k)
    levels : array_like, shape (k,)
    level : float, optional
        Compare one level's loss; default the mean over levels.
    horizon : int, default 1
    alpha : float, default 0.05
    benchmark : str
        Benchmark name used in the verdict.

    Returns
    -------
    dict
        ``SkillTest.to_dict()``: ``p_value`` one-sided for "model has lower pinball loss";
        ``details["loss"]`` is ``"pinball"`` and ``details["level"]`` the level or
        ``"mean"``.

    Raises
    ------
    ValueError
        As :func:`pinball_loss` and :func:`lstmfc.stats.skill.diebold_mariano`.
    """
    lm = pinball_loss_series(y, Q_model, levels, level=level)
    lb = pinball_loss_series(y, Q_benchmark, levels, level=level)
    try:
        from lstmfc.stats.skill import diebold_mariano_differential
    except ImportError:  # older lstmfc.stats.metrics: the exact absolute-loss route
        res = _dm_via_absolute_loss(lm, lb, horizon=horizon, alpha=alpha, benchmark=benchmark)
    else:
        res = diebold_mariano_differential(
            lm - lb, horizon=horizon, alpha=alpha, benchmark=benchmark, loss="pinball"
        ).to_dict()
    res["details"]["loss"] = "pinball"
    res["details"]["level"] = "mean" if level is None else float(level)
    return res


def _dm_via_absolute_loss(
    loss_model: np.ndarray, loss_benchmark: np.ndarray, **kwargs: Any
) -> dict[str, Any]:
    """``metrics.diebold_mariano`` on non-negative losses: ``|0 - L_m| - |0 - L_b| = d``."""
    from lstmfc.stats.skill import diebold_mariano

    return diebold_mariano(
        np.zeros_like(loss_model), loss_model, loss_benchmark, loss="absolute", **kwargs
    ).to_dict()
