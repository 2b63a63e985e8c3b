"""Reference computations for the end-to-end ``evaluate`` tests, written with numpy and
scipy only (never lstmfc's metric or test functions), and the network's own test-split
forecasts to feed them.

A test recomputes a report's row of the network from the forecasts and targets, checks
it against the report (:func:`mismatches` is empty), and then scores every target
against the NEXT window's forecast (:func:`one_window_late`): every recomputed value
must then disagree with the report, which shows that the check catches a misalignment
of forecasts to targets.

Formulas: Diebold & Mariano (1995, JBES 13(3)) with the Harvey, Leybourne & Newbold
(1997, IJF 13(2)) correction at ``h = 1`` (R ``forecast::dm.test``; statsmodels
``diebold_mariano_test(..., lags=0, harvey_adj=True)``); the pinball loss of Koenker &
Bassett (1978, Econometrica 46(1)); QLIKE ``log f + y / f`` (Patton 2011, J.
Econometrics 160(1)).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from lstmfc.bundles.bundle import load_bundle
from lstmfc.dataset.prepare import load_prepared


def network_test_forecasts(ws, ticker: str, doc: dict):
    """``(test targets, forecasts)`` of the report's run, forecast here from the saved
    bundle and the prepared test windows with the engine the report names, so the
    numbers are the ones ``evaluate`` scored: ``(n,)`` prices, probabilities or
    variances, ``(n, k)`` quantiles."""
    prepared = load_prepared(ws, ticker)
    bundle = load_bundle(
        ws, ticker, doc["run_id"], prepared_meta=prepared.meta, engine=doc["engine"]
    )
    tt = prepared.split_targets("test")
    forecasts = np.asarray(bundle.forecast(prepared.windows("test"), tt), dtype="float64")
    return prepared, tt, forecasts


def one_window_late(forecasts: np.ndarray) -> np.ndarray:
    """Forecasts misaligned by one window: target ``i`` gets window ``i + 1``'s forecast
    (the last one is repeated so the length stays)."""
    f = np.asarray(forecasts)
    return np.concatenate([f[1:], f[-1:]])


def dm_hln(d) -> tuple[float, float]:
    """Diebold-Mariano statistic (HLN-corrected, ``h = 1``) of the loss differential
    ``d = loss_model - loss_benchmark`` and its one-sided p-value for "the model has
    the lower loss": ``DM = mean(d) / sqrt(gamma0 / n)`` with ``gamma0`` the variance of
    ``d`` (divisor ``n``), times ``sqrt((n + 1 - 2h + h (h - 1) / n) / n)``;
    ``p = P(T <= DM*)``, ``T`` Student's t with ``n - 1`` degrees of freedom."""
    d = np.asarray(d, dtype="float64")
    n, h = d.size, 1
    gamma0 = float(np.mean((d - d.mean()) ** 2))
    dm = float(d.mean()) / math.sqrt(gamma0 / n)
    stat = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return stat, float(stats.t.cdf(stat, n - 1))


def pinball(y, q, levels) -> np.ndarray:
    """Pinball loss ``(n, k)``: ``tau u`` for ``u = y - q >= 0``, ``(tau - 1) u`` below."""
    u = np.asarray(y, dtype="float64")[:, None] - np.asarray(q, dtype="float64")
    tau = np.asarray(levels, dtype="float64")[None, :]
    return np.where(u >= 0, tau * u, (tau - 1.0) * u)


def qlike(y, f) -> np.ndarray:
    """Per-date QLIKE ``log f + y / f`` (%^2 proxy ``y``, variance forecast ``f``)."""
    return np.log(f) + np.asarray(y, dtype="float64") / f


def arch_garch_test_variances(prepared, dist: str = "normal") -> tuple[np.ndarray, dict]:
    """GARCH(1,1) (constant mean) one-step variance forecasts (%^2) for the test
    origins, with ``arch`` called directly: fit on the percent log returns up to the
    last training target, then filtered with the fixed parameters; the forecast made at
    prepared row ``t`` reads returns up to ``t`` (arch docs, "Forecasting"). Returns the
    ``(n_test,)`` variances and the fitted parameters."""
    from arch import arch_model

    c = prepared.targets["close"].to_numpy(dtype="float64")
    r = 100.0 * np.diff(np.log(c))  # r[j] ends at prepared row j + 1
    last_target = prepared.meta["split"]["train"]["last_row"] + 1
    spec = dict(mean="Constant", vol="GARCH", p=1, q=1, dist=dist, rescale=False)
    params = arch_model(r[:last_target], **spec).fit(disp="off").params
    fixed = arch_model(r, **spec).fix(params)
    var = fixed.forecast(horizon=1, start=0, reindex=False).variance.to_numpy()[:, 0]
    return var[prepared.split_rows("test") - 1], {str(k): float(v) for k, v in params.items()}


def mismatches(reported: dict, expected: dict, rel: float = 1e-9) -> list[str]:
    """Keys whose reported value differs from the recomputed one by more than ``rel``
    (relative, no absolute slack)."""
    return [
        key
        for key, want in expected.items()
        if not math.isclose(reported[key], want, rel_tol=rel, abs_tol=0.0)
    ]


def z_read_off(q_row, levels, tau) -> np.ndarray:
    """A quantile set ``(k,)`` read off at other levels ``tau`` ``(m,)``: linear in
    ``z = Phi^{-1}(level)`` between the given levels, continued through the two
    outermost ones beyond them, ``tau`` kept within [0.001, 0.999] (the ACI read-off
    of Gibbs & Candes 2021 with lstmfc's documented clip)."""
    q = np.asarray(q_row, dtype="float64")
    z = stats.norm.ppf(np.asarray(levels, dtype="float64"))
    zt = stats.norm.ppf(np.clip(np.asarray(tau, dtype="float64"), 0.001, 0.999))
    out = np.interp(zt, z, q)
    below, above = zt < z[0], zt > z[-1]
    out[below] = q[0] + (zt[below] - z[0]) * (q[1] - q[0]) / (z[1] - z[0])
    out[above] = q[-1] + (zt[above] - z[-1]) * (q[-1] - q[-2]) / (z[-1] - z[-2])
    return out
