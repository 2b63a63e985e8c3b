"""Scoring rules of quantile forecasts and the Diebold-Mariano test on them.

Pinball (check) loss per date and level (Koenker & Bassett 1978, Econometrica 46(1)), its
per-date series and summary; the interval (Winkler) score of central intervals
(Winkler 1972, JASA 67; Gneiting & Raftery 2007, JASA 102(477), eq. 43) and coverage of
every central interval in the set; CRPS approximated from the quantiles (Gneiting &
Ranjan 2011, JBES 29(3), eq. 9). :func:`pinball_dm_test` compares two quantile
forecasters by their pinball losses with the Diebold-Mariano test and the Harvey,
Leybourne & Newbold correction of :func:`lstmfc.stats.metrics.diebold_mariano_differential`.
All losses are in log-return units, lower is better.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.quantiles.levels import _LEVEL_TOL, _fmt, _y_and_q
from lstmfc.quantiles.quantile_function import _quantile_at
from lstmfc.stats.checks import vector
from lstmfc.stats.skill import diebold_mariano_differential


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
    yv, lo, up = vector("y", y), vector("lower", lower), vector("upper", upper)
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
    :func:`lstmfc.stats.metrics.diebold_mariano_differential` (Diebold & Mariano 1995,
    JBES 13(3); Harvey, Leybourne & Newbold 1997, IJF 13(2); ``h - 1`` autocovariances).

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
        As :func:`pinball_loss` and
        :func:`lstmfc.stats.metrics.diebold_mariano_differential`.
    """
    lm = pinball_loss_series(y, Q_model, levels, level=level)
    lb = pinball_loss_series(y, Q_benchmark, levels, level=level)
    res = diebold_mariano_differential(
        lm - lb, horizon=horizon, alpha=alpha, benchmark=benchmark, loss="pinball"
    ).to_dict()
    res["details"]["loss"] = "pinball"
    res["details"]["level"] = "mean" if level is None else float(level)
    return res
