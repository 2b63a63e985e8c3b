"""The quantile function between the levels of a quantile set, and its partial integrals.

A set of ``k >= 2`` quantiles ``q(tau_j)`` is extended to every ``tau`` in (0, 1) by
interpolating **linearly in** ``z = Phi^{-1}(tau)`` between adjacent levels and, beyond
the lowest (highest) level, along the line through the two lowest (highest) levels
(:func:`quantile_at`). The interpolant is exact for every Gaussian set
``q(tau) = mu + sigma * z``; it is the one used by ES (:mod:`lstmfc.quantiles.var_es`),
CRPS (:mod:`lstmfc.quantiles.scoring`), ACI (:mod:`lstmfc.quantiles.conformal`) and the
simulation of the ES backtest (:mod:`lstmfc.quantiles.backtests`). On a piece
``q = A + B z`` integrals against ``phi(z)`` are closed-form: :func:`mean_exp_below` is
``(1/a) int_0^a exp(q(u)) du``, the lognormal partial expectation (ES in currency).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.quantiles.levels import _LEVEL_TOL, check_quantiles


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
