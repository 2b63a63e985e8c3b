"""Value at Risk and Expected Shortfall from a quantile set.

VaR at level ``a`` is the ``a``-quantile of the log return (usually negative), read off
the set with :func:`lstmfc.quantiles.quantile_function.quantile_at` when ``a`` is not a
level. ES at level ``a`` is ``ES_a = E[y | y < VaR_a] = (1/a) int_0^a q(u) du`` (Acerbi &
Tasche 2002, "On the coherence of expected shortfall", J. Banking & Finance 26(7)
1487-1503), integrated exactly over the z-space interpolant of
:mod:`lstmfc.quantiles.quantile_function`; "ES 97.5 %" is ``a = 0.025``. Both are log
returns; as a positive loss in percent, ``-100 * value``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lstmfc.quantiles.levels import _LEVEL_TOL, _fmt, check_quantiles
from lstmfc.quantiles.quantile_function import _pieces, _quantile_at

#: What the reports say about the ES estimator (:func:`expected_shortfall`).
ES_ESTIMATOR = (
    "ES_a = (1/a) * integral_0^a q(u) du, q(u) the quantile set linear in Phi^-1(u) "
    "between levels and Gaussian-shaped below the lowest "
    "(lstmfc.quantiles.var_es.expected_shortfall)"
)


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
