"""Quantile baselines: forecasts of the h-session log return's quantiles, ``(n_windows, k)``.

The simple quantile forecasters the quantile head (:mod:`lstmfc.heads.quantile`) is judged
against, behind the protocol of :mod:`lstmfc.forecasters.base` (``fit(closes,
train_rows, horizon)`` on the training rows only, ``forecast(closes, rows) -> (n_windows,
k)`` log-return quantiles at the levels given to the constructor, reading
``closes[: t + 1]`` for the forecast at origin ``t``; ``get_params()``; ``min_history``):

* ``hs250`` :class:`HistoricalSimulationQuantiles`, empirical quantiles of the last 250
  sessions (:func:`historical_simulation`; Jorion 2007, Value at Risk, 3rd ed., ch. 10);
* ``ewma`` :class:`EWMAGaussianQuantiles`, Gaussian with RiskMetrics EWMA(0.94) volatility
  (:func:`ewma_gaussian`; J.P. Morgan/Reuters 1996, RiskMetrics Technical Document), the
  EWMA recursion being :func:`lstmfc.volatility.models.ewma_path`;
* ``garch_n`` / ``garch_t`` :class:`GarchQuantiles`, GARCH(1,1) with normal / standardised
  Student-t errors (Bollerslev 1986, 1987) estimated with ``arch`` through
  :class:`lstmfc.volatility.models.GarchForecaster`, quantiles ``mu + sigma * F^{-1}(tau)``
  with ``F^{-1}`` the fitted distribution's ``ppf``; :func:`garch_live_quantiles` is the
  same forecast from stored parameters (``predict`` logs it);
* ``unconditional`` :class:`UnconditionalQuantiles`, the empirical quantiles of the
  training h-session log returns (:func:`unconditional_quantiles`).

:func:`quantile_baselines` builds them all (``garch_t`` is the head's benchmark).
:func:`parametric_quantiles` is the location-scale plug-in ``mean + sigma * F^{-1}(tau)``.
Units: closes in currency; quantiles in log return (``log(close[t+h] / close[t])``);
arch works on percent log returns, converted back by dividing by 100. Functions raise
``ValueError`` with a one-line message on bad input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lstmfc.forecasters.base import Forecaster
from lstmfc.forecasters.vol import VolBaseline
from lstmfc.quantiles.levels import DEFAULT_LEVELS, check_levels
from lstmfc.stats.checks import check_closes, check_horizon, check_rows
from lstmfc.volatility.garch11 import garch11_forecast
from lstmfc.volatility.models import (
    RISKMETRICS_LAMBDA,
    ewma_path,
    garch11_parameters,
    standardised_ppf,
)
from lstmfc.volatility.series import percent_log_returns


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

    lv = check_levels(levels)
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
    c = check_closes(closes)
    h = check_horizon(horizon)
    w = int(window)
    if w != window or w < 2:
        raise ValueError(f"window must be an integer >= 2, got {window}")
    lv = check_levels(levels)
    rows = check_rows(end_rows, c.size, first=w + h - 1)
    logc = np.log(c)
    ret_h = logc[h:] - logc[:-h]  # ret_h[s - h] = log(c[s] / c[s-h])
    windows = np.lib.stride_tricks.sliding_window_view(ret_h, w)  # [j] = ret_h[j:j+w]
    sample = windows[rows - h - w + 1]  # s = t-w+1..t  ->  ret_h index t-w+1-h .. t-h
    return np.quantile(sample, lv, axis=1, method=method).T


def ewma_gaussian(
    closes: Any,
    end_rows: Any,
    train_end_rows: Any,
    *,
    horizon: int = 1,
    levels: Any = DEFAULT_LEVELS,
    lam: float = RISKMETRICS_LAMBDA,
    mean: str = "zero",
) -> np.ndarray:
    """Gaussian quantiles with RiskMetrics EWMA volatility (J.P. Morgan/Reuters 1996).

    Volatility: ``s_{t+1} = lam * s_t + (1 - lam) * r_t^2`` over the daily percent log
    returns ``r_t = 100 log(c[t+1] / c[t])`` (RiskMetrics Technical Document, 4th ed.,
    sec. 5.2.1; ``lam = 0.94`` for daily data), the one EWMA of the package,
    :func:`lstmfc.volatility.models.ewma_path`. It starts at the first return with the
    population variance (ddof 0) of the **training** daily returns, those up to the last
    training target ``max(train_end_rows) + h``; the forecast at origin ``t`` is
    ``sigma_t = sqrt(s)/100`` of the variance made at the close of ``t`` (returns up to
    ``t`` only).

    Quantiles: ``q_tau = h * mu + sqrt(h) * sigma_t * Phi^{-1}(tau)``, square-root-of-time
    scaling for ``h > 1`` (RiskMetrics Technical Document 1996, sec. 6.3; exact only for
    i.i.d. returns), and ``mu = 0`` (``mean="zero"``, RiskMetrics' choice) or the mean
    training daily log return (``mean="train"``).

    Parameters
    ----------
    closes : array_like, shape (n_rows,)
        Unscaled closes, currency, > 0.
    end_rows : array_like, shape (n,)
        Forecast origins ``t``.
    train_end_rows : array_like, shape (n_train,)
        Origins of the training windows (only their maximum is used).
    horizon : int, default 1
    levels : array_like, shape (k,)
    lam : float, default 0.94
        Decay in (0, 1) (:data:`lstmfc.volatility.models.RISKMETRICS_LAMBDA`).
    mean : {"zero", "train"}

    Returns
    -------
    numpy.ndarray, shape (n, k)
        Quantiles of the h-step log return.

    Raises
    ------
    ValueError
        Bad closes, rows, horizon, levels or ``lam``; a training target past the end of
        ``closes``; fewer than 2 training returns; unknown ``mean``.
    """
    if mean not in ("zero", "train"):
        raise ValueError(f"unknown mean {mean!r}: use 'zero' or 'train'")
    if not 0.0 < lam < 1.0:
        raise ValueError(f"lam must lie in (0, 1), got {lam}")
    c = check_closes(closes)
    h = check_horizon(horizon)
    rows = check_rows(end_rows, c.size)
    last_train = int(check_rows(train_end_rows, c.size, last=c.size - 1 - h).max()) + h
    r = 100.0 * np.diff(np.log(c))  # r[t] = 100 log(c[t+1] / c[t]), percent
    train = r[:last_train]
    if train.size < 2:
        raise ValueError("fewer than 2 training returns to start the EWMA variance")
    s = ewma_path(r, lam, float(np.var(train)))  # s[t]: made at the close of t, %^2
    sigma = np.sqrt(s[rows]) / 100.0
    mu = 0.0
    if mean == "train":
        mu = float(np.mean(np.diff(np.log(c[: last_train + 1]))))
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
    c = check_closes(closes)
    h = check_horizon(horizon)
    lv = check_levels(levels)
    rows = check_rows(end_rows, c.size)
    train = check_rows(train_end_rows, c.size, last=c.size - 1 - h)
    sample = np.log(c[train + h] / c[train])
    row = np.quantile(sample, lv, method=method)
    return np.tile(row, (rows.size, 1))


class _QuantileBaseline(Forecaster):
    """A quantile forecaster with the baselines interface (:mod:`lstmfc.forecasters.price`):
    ``fit`` reads closes up to the last training target only (``Forecaster.fit``),
    ``forecast(closes, rows)`` returns ``(n, k)`` log-return quantiles and reads
    ``closes[: t + 1]`` for the forecast at row ``t``."""

    def __init__(self, levels) -> None:
        super().__init__()
        self.levels = tuple(float(v) for v in levels)

    def forecast(self, closes, rows) -> np.ndarray:
        c, rows = self._prepare(closes, rows)
        return self._predict(c, rows)

    def _predict(self, c: np.ndarray, rows: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class HistoricalSimulationQuantiles(_QuantileBaseline):
    """Empirical quantiles of the last ``window`` h-session log returns
    (:func:`historical_simulation`; nothing is fitted)."""

    name = "hs250"

    def __init__(self, levels, window: int = 250) -> None:
        super().__init__(levels)
        self.window = int(window)
        self.min_history = self.window

    def get_params(self) -> dict[str, Any]:
        return {"window": self.window}

    def _predict(self, c, rows):
        return historical_simulation(
            c, rows, horizon=self.horizon_, levels=self.levels, window=self.window
        )


class EWMAGaussianQuantiles(_QuantileBaseline):
    """Gaussian quantiles with RiskMetrics EWMA volatility, zero mean, square-root-of-time
    for ``h > 1`` (:func:`ewma_gaussian`); the EWMA starts at the variance of the training
    daily log returns."""

    name = "ewma"

    def __init__(self, levels, lam: float = 0.94) -> None:
        super().__init__(levels)
        self.lam = float(lam)

    def get_params(self) -> dict[str, Any]:
        return {"lambda": self.lam, "mean": "zero"}

    def _fit(self, closes, rows, h):
        self.train_rows_ = np.asarray(rows, dtype=np.int64)

    def _predict(self, c, rows):
        return ewma_gaussian(
            c, rows, self.train_rows_, horizon=self.horizon_, levels=self.levels, lam=self.lam
        )


class GarchQuantiles(_QuantileBaseline):
    """GARCH(1,1) with a constant mean and normal or standardised Student-t errors.

    The variance is the volatility baseline of the same model
    (:class:`lstmfc.forecasters.vol.VolBaseline`, fitted with ``arch`` on the PERCENT
    log returns from row 0 to the last training target; the forecast at row ``t``
    filters returns up to ``t`` with the fixed parameters). Quantile: ``(h mu + sqrt(V_h)
    F^{-1}(tau)) / 100`` (log return) with ``V_h`` the variance of the h-session return
    (sum of the 1..h step forecasts) and ``F^{-1}`` the fitted standardised
    distribution's ``ppf`` (:func:`lstmfc.volatility.models.standardised_ppf`); for
    ``h > 1`` keeping the one-day shape is an approximation.
    """

    min_history = 1

    def __init__(self, levels, dist: str = "normal") -> None:
        super().__init__(levels)
        self.dist = dist
        self.name = "garch_n" if dist == "normal" else "garch_t"
        self.variance_: VolBaseline | None = None

    def get_params(self) -> dict[str, Any]:
        if self.variance_ is None:
            return {"dist": self.dist}
        f = self.variance_.model
        return {
            "dist": self.dist,
            "params": dict(f.params_),
            "converged": bool(f.converged_),
            "notes": list(f._fit_notes),
        }

    def _fit(self, closes, rows, h):
        variance = VolBaseline(f"garch_{self.dist}", lookback=int(rows.min()) + 1)
        self.variance_ = variance.fit(closes, rows, h)

    def _predict(self, c, rows):
        var = self.variance_.forecast(c, rows)  # variance of the h-session return, %^2
        f = self.variance_.model
        z = standardised_ppf(self.levels, self.dist, f.distribution_shape)
        mu = f.params_.get("mu", 0.0)
        return (self.horizon_ * mu + np.sqrt(var)[:, None] * z[None, :]) / 100.0


class UnconditionalQuantiles(_QuantileBaseline):
    """Empirical quantiles of the training windows' h-session log returns, the same row
    for every origin (:func:`unconditional_quantiles`)."""

    name = "unconditional"

    def get_params(self) -> dict[str, Any]:
        row = getattr(self, "row_", None)
        return {"quantiles": None if row is None else [float(v) for v in row]}

    def _fit(self, closes, rows, h):
        self.row_ = unconditional_quantiles(closes, rows[:1], rows, horizon=h, levels=self.levels)[
            0
        ]

    def _predict(self, c, rows):
        return np.tile(self.row_, (rows.size, 1))


def quantile_baselines(levels) -> dict[str, _QuantileBaseline]:
    """Unfitted quantile baselines keyed by report name (``garch_t`` is the benchmark)."""
    return {
        "hs250": HistoricalSimulationQuantiles(levels),
        "ewma": EWMAGaussianQuantiles(levels),
        "garch_n": GarchQuantiles(levels, "normal"),
        "garch_t": GarchQuantiles(levels, "t"),
        "unconditional": UnconditionalQuantiles(levels),
    }


def garch_live_params(closes, train_rows, horizon: int, levels) -> dict[str, Any]:
    """The GARCH(1,1)-t baseline fitted on the training rows, as JSON for the manifest.

    :class:`GarchQuantiles` (``dist="t"``) fitted on ``closes`` up to the last training
    target; :func:`garch_live_quantiles` forecasts from these parameters without refitting.

    Parameters
    ----------
    closes : array_like, shape (n_rows,)
        Unscaled closes, currency, > 0.
    train_rows : array_like, shape (n_train,)
        Origins of the training windows.
    horizon : int
    levels : sequence of float

    Returns
    -------
    dict
        :func:`lstmfc.volatility.models.garch11_parameters`: ``model``, ``dist``
        (``"t"``), ``mu`` (percent), ``omega`` (%^2), ``alpha``, ``beta``, ``backcast``
        (%^2, arch's), ``converged`` and ``nu``.

    Raises
    ------
    ValueError
        As :meth:`lstmfc.forecasters.base.Forecaster.fit`.
    """
    b = GarchQuantiles(levels, "t").fit(np.asarray(closes, "float64"), train_rows, horizon)
    return garch11_parameters(b.variance_.model)


def garch_live_quantiles(params: dict[str, Any], closes, levels, horizon: int) -> np.ndarray:
    """GARCH(1,1) quantiles ``(k,)`` of the next h-session log return from the last close.

    The variance recursion of arch's GARCH(1,1) with fixed parameters (``sigma2_0 = omega
    + (alpha + beta) * backcast``, ``sigma2_t = omega + alpha e_{t-1}^2 + beta
    sigma2_{t-1}``, ``e = r - mu``, percent returns), the one of the ``garch`` input
    feature (:func:`lstmfc.volatility.garch11.garch11_one_step`), then the analytic h-step sum
    ``f_1 = omega + alpha e_T^2 + beta sigma2_T``, ``f_k = omega + (alpha + beta)
    f_{k-1}`` (Bollerslev 1986); quantiles as :class:`GarchQuantiles`.
    ``tests/test_quantile_baselines.py`` checks it against
    :class:`lstmfc.volatility.models.GarchForecaster`.

    Parameters
    ----------
    params : dict
        ``mu``, ``omega``, ``alpha``, ``beta``, ``backcast`` (percent units), ``dist``
        and ``nu`` for Student-t, as :func:`garch_live_params` stores them.
    closes : array_like, shape (n,)
        Closes from the first close of the fitted series to the forecast origin (currency).
    levels : sequence of float
    horizon : int

    Returns
    -------
    numpy.ndarray, shape (k,)
        Log-return quantiles.
    """
    total = garch11_forecast(percent_log_returns(closes), params, int(horizon))  # %^2
    shape = {"nu": params["nu"]} if params.get("dist") == "t" else {}
    z = standardised_ppf(levels, params.get("dist", "normal"), shape)
    return (int(horizon) * params["mu"] + math.sqrt(total) * z) / 100.0
