"""VaR and ES backtests of quantile forecasts.

VaR: the hit (violation) sequence ``1[y < VaR]``, Kupiec (1995) proportion-of-failures
test of unconditional coverage, Christoffersen (1998) independence and conditional
coverage tests. ES: Acerbi & Szekely (2014) Z2 with a p-value simulated from the
forecast distributions, and McNeil & Frey (2000) exceedance-residual test with a
bootstrap p-value. Results are JSON-ready dicts; undefined values are ``None`` with a
``note``, never ``nan``. All tests assume independent dates (``h = 1``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lstmfc.quantiles.levels import _LEVEL_TOL, _y_and_q
from lstmfc.quantiles.quantile_function import _quantile_at
from lstmfc.quantiles.var_es import _alpha, _es
from lstmfc.stats.checks import vector

#: Acerbi & Szekely (2014) Z2 thresholds, 5 % and 0.01 % significance, for T = 250, a = 2.5 %.
Z2_CRITICAL = {"0.05": -0.70, "0.0001": -1.8}


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
    yv, v = vector("y", y), vector("var", var)
    if yv.size != v.size:
        raise ValueError(f"length mismatch: y={yv.size}, var={v.size}")
    return (yv < v).astype(np.int64)


def _hits(hits: Any) -> np.ndarray:
    h = vector("hits", hits)
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
    yv, v, e = vector("y", y), vector("var", var), vector("es", es)
    if not yv.size == v.size == e.size:
        raise ValueError(f"length mismatch: y={yv.size}, var={v.size}, es={e.size}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    s = np.ones_like(yv) if scale is None else vector("scale", scale)
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
