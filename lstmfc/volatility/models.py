"""The variance forecasters: GARCH family, EWMA, HAR, rolling and constant variance.

Every forecaster follows :class:`VolForecaster`: ``fit(returns, train_last, horizon)`` on
the percent log returns of the training window, then ``predict(returns, origins)``, the
variance of the h-session return ``r_{t+1} + ... + r_{t+h}`` for each origin ``t``, %^2
(conventions of :mod:`lstmfc.volatility.series`). The registry of baseline names and the
adapter to close series and window rows live in :mod:`lstmfc.forecasters.vol`.

* **Training.** ``train_last`` is the index of the last return the fit may use: every
  parameter (GARCH coefficients, HAR coefficients, EWMA start value, constant variance)
  is computed from ``returns[: train_last + 1]`` and then held fixed; forecasts for later
  origins filter through realised returns with those fixed parameters. The HAR fit also
  keeps its training targets inside the window (``t + h <= train_last``).
* **No look-ahead.** Besides the fixed parameters, a forecast at ``t`` reads
  ``returns[: t + 1]`` only (checked by tests: changing any later return leaves it
  bit-identical). The parameters themselves use the whole training window, so forecasts
  at origins inside it are in-sample.

Models
------
:class:`GarchForecaster`: GARCH(1,1) (Bollerslev 1986, J. Econometrics 31(3)),
GJR-GARCH(1,1,1) (Glosten, Jagannathan & Runkle 1993, J. Finance 48(5)), EGARCH(1,1) with
the sign term (Nelson 1991, Econometrica 59(2)) -- all with a constant mean, normal or
standardized Student-t errors (Bollerslev 1987, REStat 69(3)), fit by maximum likelihood
with ``arch``; with :func:`garch11_parameters` (the stored parameters of a GARCH(1,1)),
:func:`garch11_one_step` (filtering new returns with them) and
:func:`garch_variance_feature` (the one-step variance as a network input).
:class:`EWMAForecaster` (RiskMetrics, lambda = 0.94, J.P. Morgan/Reuters 1996,
RiskMetrics Technical Document, 4th ed.; :func:`ewma_path`); :class:`HARForecaster` (HAR
on squared returns, Corsi 2009, J. Financial Econometrics 7(2); :func:`har_design`);
:class:`RollingForecaster` (mean squared return over ``w`` sessions);
:class:`ConstantForecaster` (training variance).

Numpy only at import; ``arch`` is imported inside the functions that use it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmfc.stats.checks import check_horizon, vector
from lstmfc.volatility.series import _origins, _train_last, _window_sum, trailing_mean

#: RiskMetrics decay factor for daily data (J.P. Morgan/Reuters 1996, Technical Document).
RISKMETRICS_LAMBDA = 0.94

#: HAR windows: daily, weekly (5 sessions), monthly (22 sessions) (Corsi 2009).
HAR_WINDOWS: tuple[int, int, int] = (1, 5, 22)

#: Forecasts of the moving-window and regression baselines are floored at this fraction
#: of the (h-scaled) training variance so every forecast is positive (QLIKE needs f > 0);
#: the number of floored values is reported in ``VolForecaster.notes_``.
FLOOR_FRACTION = 0.01

#: Fewest training returns a GARCH-family fit accepts (arch's backcast alone uses 75).
MIN_GARCH_TRAIN = 250

_ARCH_SPECS: dict[str, tuple[str, int]] = {
    "garch": ("GARCH", 0),
    "gjr": ("GARCH", 1),
    "egarch": ("EGARCH", 1),
}

#: GARCH-family kinds of :class:`GarchForecaster` (``kind`` argument).
GARCH_KINDS: tuple[str, ...] = tuple(_ARCH_SPECS)

#: Error distributions of :class:`GarchForecaster` (``dist`` argument).
GARCH_DISTS: tuple[str, ...] = ("normal", "t")


# ---------------------------------------------------------------------------
# the interface and the closed-form baselines
# ---------------------------------------------------------------------------


class VolForecaster:
    """Common interface of every baseline: ``fit`` on training returns, ``predict`` origins.

    ``fit(returns, train_last, horizon=1) -> self`` reads ``returns[: train_last + 1]``;
    ``predict(returns, origins) -> (m,)`` variance forecasts of the h-session return, %^2,
    reading ``returns[: max(origins) + 1]`` with the parameters held fixed.

    Attributes
    ----------
    name : str
        Forecaster name (``BASELINES``).
    min_history : int
        Lowest origin the model can forecast from (21 for HAR and rolling22).
    params_ : dict of str -> float
        Fitted, fixed parameters.
    converged_ : bool
        Optimiser success (always ``True`` for closed-form baselines).
    notes_ : list of str
        One-line notes: warnings caught in the fit, then (after ``predict``) how many
        forecasts were floored.
    horizon_, train_last_ : int
    train_var_ : float
        Population variance of the training returns, %^2.

    Subclasses implement ``_fit(train)`` and ``_predict(returns, origins)``.
    """

    name = "base"
    min_history = 0
    min_train = 30

    def __init__(self) -> None:
        self.params_: dict[str, float] | None = None
        self.converged_: bool = True
        self.notes_: list[str] = []
        self.horizon_: int = 1
        self.train_last_: int = -1
        self.train_var_: float = float("nan")
        self._fit_notes: list[str] = []

    def fit(self, returns, train_last: int, horizon: int = 1):
        """Fit on ``returns[: train_last + 1]`` for horizon ``h``; returns ``self``.

        Parameters
        ----------
        returns : array_like, shape (n,)
            Percent log returns (entries after ``train_last`` are not read).
        train_last : int
            Index of the last return the fit may use.
        horizon : int, default 1
            h; forecasts are variances of h-session returns.

        Raises
        ------
        ValueError
            Non-finite training returns, ``train_last`` out of range, too little data.
        """
        r = np.asarray(returns, dtype=np.float64)
        if r.ndim != 1:
            raise ValueError(f"returns must be 1-D, got shape {r.shape}")
        tl = _train_last(train_last, r.size, self.min_train)
        train = vector("training returns", r[: tl + 1])
        self.horizon_ = check_horizon(horizon)
        self.train_last_ = tl
        self.train_var_ = float(np.var(train))
        self.notes_ = []
        self.converged_ = True
        self._fit(train)
        self._fit_notes = list(self.notes_)
        return self

    def predict(self, returns, origins) -> np.ndarray:
        """Variance forecasts of the h-session return for each origin, %^2, shape (m,).

        Reads ``returns[: max(origins) + 1]`` only; a forecast at ``t`` depends on
        ``returns[: t + 1]`` and the fitted parameters.

        Raises
        ------
        ValueError
            Not fitted, origins out of range or before ``min_history``, non-finite
            returns up to the last origin.
        """
        if self.params_ is None:
            raise ValueError(f"{self.name} forecaster is not fitted")
        r = np.asarray(returns, dtype=np.float64)
        if r.ndim != 1:
            raise ValueError(f"returns must be 1-D, got shape {r.shape}")
        o = _origins(origins, r.size, low=self.min_history)
        r = vector("returns", r[: int(o.max()) + 1])
        self.notes_ = list(self._fit_notes)
        f = self._predict(r, o)
        if not np.all(np.isfinite(f)) or np.any(f <= 0):
            first = int(np.flatnonzero(~(np.isfinite(f) & (f > 0)))[0])
            raise ValueError(f"{self.name} produced a non-positive forecast at origin {o[first]}")
        return f

    def _floor(self, f: np.ndarray) -> np.ndarray:
        floor = FLOOR_FRACTION * self.horizon_ * self.train_var_
        low = f < floor
        if low.any():
            self.notes_.append(
                f"{int(low.sum())} forecasts floored at {FLOOR_FRACTION:g} x training variance"
            )
            f = np.where(low, floor, f)
        return f

    def _fit(self, train: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class ConstantForecaster(VolForecaster):
    """Constant forecast: ``h * var(training returns)`` (population variance, ddof 0)."""

    name = "constant"

    def _fit(self, train: np.ndarray) -> None:
        self.params_ = {"variance": self.train_var_}

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        if not self.train_var_ > 0:
            raise ValueError("constant forecaster: training variance is 0")
        return np.full(o.size, self.horizon_ * self.train_var_)


class RollingForecaster(VolForecaster):
    """Rolling realised variance: ``h * mean(r_{t-w+1..t}**2)`` (zero-mean, window ``w``).

    The mean of squared percent returns over the last ``w`` sessions (default 22, one
    trading month), scaled by h (square-root-of-time rule). Forecasts below
    ``FLOOR_FRACTION`` times the h-scaled training variance are floored (reported).
    """

    min_train = 30

    def __init__(self, window: int = 22) -> None:
        super().__init__()
        if int(window) != window or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window}")
        self.window = int(window)
        self.name = f"rolling{self.window}"
        self.min_history = self.window - 1

    def _fit(self, train: np.ndarray) -> None:
        self.params_ = {"window": float(self.window)}

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        rv = trailing_mean(r * r, self.window)
        return self._floor(self.horizon_ * rv[o])


class EWMAForecaster(VolForecaster):
    """RiskMetrics EWMA: ``s_{t+1} = lam * s_t + (1 - lam) * r_t**2``, forecast ``h * s_{t+1}``.

    J.P. Morgan/Reuters (1996), RiskMetrics Technical Document, 4th ed., section 5.2
    (zero mean, ``lam = 0.94`` for daily data). The recursion starts at the first return
    with ``s_0 = var(training returns)`` (ddof 0) and runs through realised returns; the
    h-step forecast is flat (``h * s_{t+1}``), as in RiskMetrics.
    """

    name = "ewma"

    def __init__(self, lam: float = RISKMETRICS_LAMBDA) -> None:
        super().__init__()
        if not 0.0 < lam < 1.0:
            raise ValueError(f"lambda must lie in (0, 1), got {lam}")
        self.lam = float(lam)

    def _fit(self, train: np.ndarray) -> None:
        self.params_ = {"lambda": self.lam, "initial_variance": self.train_var_}

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        s = ewma_path(r, self.lam, self.train_var_)
        return self._floor(self.horizon_ * s[o + 1])


def ewma_path(returns, lam: float, initial_variance: float) -> np.ndarray:
    """RiskMetrics EWMA variance path, %^2.

    ``s[0] = initial_variance``, ``s[t + 1] = lam * s[t] + (1 - lam) * r_t**2``; ``s[t+1]``
    is the one-step forecast made at the close of ``t`` (J.P. Morgan/Reuters 1996).

    Parameters
    ----------
    returns : array_like, shape (n,)
        Percent log returns.
    lam : float
        Decay, in (0, 1).
    initial_variance : float
        ``s[0]``, %^2.

    Returns
    -------
    numpy.ndarray, shape (n + 1,)
    """
    r = np.asarray(returns, dtype=np.float64)
    s = np.empty(r.size + 1)
    s[0] = initial_variance
    w = 1.0 - lam
    prev = float(initial_variance)
    for t, x in enumerate(r.tolist()):
        prev = lam * prev + w * x * x
        s[t + 1] = prev
    return s


def har_design(returns, origins) -> np.ndarray:
    """HAR regressors at each origin: ``[1, RV_d, RV_w, RV_m]``, shape (m, 4), %^2.

    ``RV_d = r_t**2``, ``RV_w = mean(r_{t-4..t}**2)``, ``RV_m = mean(r_{t-21..t}**2)``
    (Corsi 2009, "A simple approximate long-memory model of realized volatility", J.
    Financial Econometrics 7(2) 174-196, eq. 8, with squared daily returns in place of
    intraday realised variance).

    Parameters
    ----------
    returns : array_like, shape (n,)
    origins : array_like, shape (m,), int, each ``>= 21``

    Returns
    -------
    numpy.ndarray, shape (m, 4)

    Raises
    ------
    ValueError
        Origins below 21 or past ``n - 1``, non-finite returns.
    """
    r = vector("returns", returns)
    o = _origins(origins, r.size, low=HAR_WINDOWS[-1] - 1)
    r2 = r * r
    cols = [np.ones(o.size)]
    for w in HAR_WINDOWS:
        cols.append(trailing_mean(r2, w)[o])
    return np.column_stack(cols)


class HARForecaster(VolForecaster):
    """HAR on squared returns, fitted by OLS on training rows; direct regression for h > 1.

    ``sum_{k=1..h} r_{t+k}**2 = b0 + b_d RV_d + b_w RV_w + b_m RV_m + e`` (Corsi 2009,
    J. Financial Econometrics 7(2); the h-session target as in Corsi's eq. 9 with a sum
    of daily squared returns). Training rows are origins ``21 <= t <= train_last - h``,
    so every training target lies inside the training window. OLS by
    ``numpy.linalg.lstsq``. Forecasts below ``FLOOR_FRACTION`` times the h-scaled training
    variance are floored (reported in notes).
    """

    name = "har"
    min_history = HAR_WINDOWS[-1] - 1
    min_train = HAR_WINDOWS[-1] + 50

    def _fit(self, train: np.ndarray) -> None:
        h = self.horizon_
        rows = np.arange(self.min_history, train.size - h, dtype=np.int64)
        if rows.size < 30:
            raise ValueError(f"HAR needs at least 30 training rows, got {rows.size}")
        x = har_design(train, rows)
        y = _window_sum(train * train, rows, h)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        self.coef_ = coef
        self.params_ = dict(
            zip(("const", "beta_d", "beta_w", "beta_m"), map(float, coef), strict=True)
        )
        self.params_["n_train_rows"] = float(rows.size)

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        return self._floor(har_design(r, o) @ self.coef_)


# ---------------------------------------------------------------------------
# the GARCH family (arch)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GarchPath:
    """In-sample/filtered path of a fitted GARCH-family model over a return series.

    Attributes
    ----------
    mean : numpy.ndarray, shape (n,)
        Conditional mean of ``r_t`` (the constant ``mu``), percent.
    variance : numpy.ndarray, shape (n,)
        ``sigma2_t = Var(r_t | returns up to t-1)``, %^2 (index 0 uses arch's backcast).
    std_resid : numpy.ndarray, shape (n,)
        ``(r_t - mu) / sigma_t``.
    one_step : numpy.ndarray, shape (n,)
        ``sigma2_{t+1|t}``, the one-step forecast made at the close of ``t``, %^2.
    """

    mean: np.ndarray
    variance: np.ndarray
    std_resid: np.ndarray
    one_step: np.ndarray


@dataclass(frozen=True)
class GarchPredictive:
    """One-step predictive distribution ``r_{t+1} = mean + sqrt(variance) * z``.

    ``z`` follows the fitted standardized distribution (unit variance): ``"normal"`` or
    ``"t"`` (Student-t rescaled to unit variance, shape ``nu``; arch ``StudentsT``).

    Attributes
    ----------
    origins : numpy.ndarray, shape (m,)
    mean : numpy.ndarray, shape (m,)
        Percent.
    variance : numpy.ndarray, shape (m,)
        %^2.
    dist : str
        ``"normal"`` or ``"t"``.
    shape : dict
        Shape parameters, ``{"nu": ...}`` for ``"t"``, empty for ``"normal"``.
    """

    origins: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    dist: str
    shape: dict[str, float] = field(default_factory=dict)

    def ppf(self, q) -> np.ndarray:
        """Quantiles of the standardized distribution ``z`` at probabilities ``q``
        (:func:`standardised_ppf` with this forecast's ``dist`` and ``shape``)."""
        return standardised_ppf(q, self.dist, self.shape)

    def quantile(self, q: float) -> np.ndarray:
        """Return quantile per origin: ``mean + sqrt(variance) * ppf(q)``, percent, (m,).

        ``quantile(0.01)`` is the negative of the 99 % one-day VaR in percent log return.
        """
        return self.mean + np.sqrt(self.variance) * float(self.ppf(float(q)))


class GarchForecaster(VolForecaster):
    """GARCH-family forecaster (constant mean) estimated with ``arch``.

    ``kind``: ``"garch"`` GARCH(1,1) (Bollerslev 1986), ``"gjr"`` GJR-GARCH(1,1,1)
    (Glosten, Jagannathan & Runkle 1993), ``"egarch"`` EGARCH(1,1) with the sign term
    (Nelson 1991; arch ``EGARCH(p=1, o=1, q=1)``). ``dist``: ``"normal"`` or ``"t"``
    (standardized Student-t). Fit: ``arch_model(returns[:train_last+1], mean="Constant",
    vol=..., p=1, o=..., q=1, dist=..., rescale=False).fit(disp="off")`` (arch docs,
    "Univariate volatility models"). Warnings raised during the fit are caught and
    reported in ``notes_``; ``converged_`` is ``False`` when the optimiser failed.

    Filtering uses arch's own recursions (``VolatilityProcess.forecast`` /
    ``compute_variance``) with the fixed parameters, arch's backcast from the training
    residuals (weighted mean of the first 75 squared residuals) and no data-dependent
    variance bounds, so a forecast at ``t`` reads ``returns[: t + 1]`` only. It equals
    ``arch_model(returns).fix(params).forecast(...)`` whenever arch's loose bounds do not
    bind (they never do on ordinary return data; tests compare).

    h-step forecasts sum the 1..h step variance forecasts (analytic for GARCH and GJR;
    EGARCH uses arch's simulation method with ``simulations`` paths and ``seed``).
    """

    min_train = MIN_GARCH_TRAIN

    def __init__(
        self, kind: str = "garch", dist: str = "normal", *, simulations: int = 1000, seed=0
    ) -> None:
        super().__init__()
        if kind not in _ARCH_SPECS:
            raise ValueError(f"unknown GARCH kind {kind!r}: use {', '.join(_ARCH_SPECS)}")
        if dist not in GARCH_DISTS:
            raise ValueError(f"unknown dist {dist!r}: use 'normal' or 't'")
        self.kind, self.dist = kind, dist
        self.name = f"{kind}_{dist}"
        self.simulations = int(simulations)
        self.seed = seed

    def _fit(self, train: np.ndarray) -> None:
        from arch import arch_model
        from arch.utility.exceptions import ConvergenceWarning

        vol, o = _ARCH_SPECS[self.kind]
        model = arch_model(
            train, mean="Constant", vol=vol, p=1, o=o, q=1, dist=self.dist, rescale=False
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = model.fit(disp="off")
        self.converged_ = int(res.convergence_flag) == 0
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                self.converged_ = False
            self.notes_.append(f"{w.category.__name__}: {' '.join(str(w.message).split())}")
        params = np.asarray(res.params, dtype=np.float64)
        if not np.all(np.isfinite(params)):
            raise ValueError(f"{self.name} fit returned non-finite parameters")
        self._model = model
        self.param_array_ = params
        self.params_ = {str(k): float(v) for k, v in res.params.items()}
        nm, nv = model.num_params, model.volatility.num_params
        self._mu = float(params[0]) if nm else 0.0
        self._vp = params[nm : nm + nv]
        self._dp = params[nm + nv :]
        self._backcast = model.volatility.backcast(train - self._mu)
        self.loglikelihood_ = float(res.loglikelihood)

    @property
    def distribution_shape(self) -> dict[str, float]:
        """``{"nu": ...}`` for Student-t errors, ``{}`` for normal."""
        return {"nu": float(self._dp[0])} if self.dist == "t" else {}

    def _variance_forecasts(self, r: np.ndarray, start: int, h: int) -> np.ndarray:
        """(len(r) - start, h) array of 1..h step variance forecasts from origins start.."""
        resids = r - self._mu
        bounds = np.column_stack([np.zeros(resids.size), np.full(resids.size, np.inf)])
        vol = self._model.volatility
        kwargs: dict[str, Any] = {}
        method = "analytic"
        if h > 1 and self.kind == "egarch":
            method = "simulation"
            dist = type(self._model.distribution)(seed=self.seed)
            kwargs = {"simulations": self.simulations, "rng": dist.simulate(self._dp)}
        fc = vol.forecast(
            self._vp,
            resids,
            self._backcast,
            bounds,
            start=start,
            horizon=h,
            method=method,
            **kwargs,
        )
        return np.asarray(fc.forecasts)

    def _predict(self, r: np.ndarray, o: np.ndarray) -> np.ndarray:
        start = int(o.min())
        fc = self._variance_forecasts(r, start, self.horizon_)
        return fc[o - start].sum(axis=1)

    def path(self, returns) -> GarchPath:
        """Filtered conditional mean/variance path over the whole series (fixed params).

        Parameters
        ----------
        returns : array_like, shape (n,)
            Percent log returns; the first ``train_last + 1`` are the training sample.

        Returns
        -------
        GarchPath
            ``variance[t]`` reads ``returns[:t]``; ``one_step[t]`` reads ``returns[:t+1]``
            (plus arch's backcast from the first 75 training residuals).
        """
        if self.params_ is None:
            raise ValueError(f"{self.name} forecaster is not fitted")
        r = vector("returns", returns)
        resids = np.concatenate([r - self._mu, [0.0]])
        sigma2 = np.zeros(resids.size)
        bounds = np.column_stack([np.zeros(resids.size), np.full(resids.size, np.inf)])
        self._model.volatility.compute_variance(self._vp, resids, sigma2, self._backcast, bounds)
        var = sigma2[:-1].copy()
        return GarchPath(
            mean=np.full(r.size, self._mu),
            variance=var,
            std_resid=(r - self._mu) / np.sqrt(var),
            one_step=sigma2[1:].copy(),
        )

    def predictive(self, returns, origins) -> GarchPredictive:
        """One-step predictive mean, variance and standardized distribution per origin.

        Parameters
        ----------
        returns : array_like, shape (n,)
        origins : array_like, shape (m,), int, ``0 <= t <= n - 1``

        Returns
        -------
        GarchPredictive
            For ``r_{t+1}``; use ``.quantile(q)`` or ``.ppf(q)`` for VaR.
        """
        if self.params_ is None:
            raise ValueError(f"{self.name} forecaster is not fitted")
        r = np.asarray(returns, dtype=np.float64)
        o = _origins(origins, r.size)
        r = vector("returns", r[: int(o.max()) + 1])
        start = int(o.min())
        var = self._variance_forecasts(r, start, 1)[o - start, 0]
        return GarchPredictive(
            origins=o,
            mean=np.full(o.size, self._mu),
            variance=var,
            dist=self.dist,
            shape=self.distribution_shape,
        )


def standardised_ppf(q, dist: str, shape: dict[str, float]) -> np.ndarray:
    """Quantiles ``F^{-1}(q)`` of the unit-variance error distribution of a GARCH fit.

    Parameters
    ----------
    q : float or array_like
        Probabilities in (0, 1).
    dist : {"normal", "t"}
    shape : dict
        ``{"nu": ...}`` for ``"t"`` (:attr:`GarchForecaster.distribution_shape`).

    Returns
    -------
    numpy.ndarray
        Same shape as ``q`` (arch ``Normal.ppf`` / ``StudentsT.ppf``, the standardised
        Student-t of Bollerslev 1987).

    Raises
    ------
    ValueError
        A probability outside (0, 1).
    """
    from arch.univariate import Normal, StudentsT

    qa = np.asarray(q, dtype=np.float64)
    if np.any((qa <= 0) | (qa >= 1)):
        raise ValueError("probabilities must lie in (0, 1)")
    if dist == "t":
        return np.asarray(StudentsT().ppf(qa, np.array([shape["nu"]])))
    return np.asarray(Normal().ppf(qa))


def garch11_parameters(model: GarchForecaster) -> dict[str, Any]:
    """JSON-ready parameters of a fitted GARCH(1,1), for filtering new returns later
    without refitting (:mod:`lstmfc.volatility.garch11`).

    Parameters
    ----------
    model : GarchForecaster
        Fitted, kind ``"garch"``.

    Returns
    -------
    dict
        ``model``, ``dist``, ``mu`` (percent), ``omega`` (%^2), ``alpha``, ``beta``,
        ``backcast`` (%^2: arch's ``GARCH().backcast`` of the demeaned training returns,
        an exponentially weighted mean of the first 75 squared residuals, as the fit
        used it), ``converged`` and, for Student-t errors, ``nu``.

    Raises
    ------
    ValueError
        Not fitted, or not a GARCH(1,1).
    """
    if model.kind != "garch" or model.params_ is None:
        raise ValueError("garch11_parameters needs a fitted GARCH(1,1) (kind 'garch')")
    p = model.params_
    return {
        "model": "GARCH(1,1)",
        "dist": model.dist,
        "mu": float(p["mu"]),
        "omega": float(p["omega"]),
        "alpha": float(p["alpha[1]"]),
        "beta": float(p["beta[1]"]),
        "backcast": float(model._backcast),
        "converged": bool(model.converged_),
        **model.distribution_shape,
    }


def garch_variance_feature(
    returns, train_last: int, *, kind: str = "garch", dist: str = "normal"
) -> np.ndarray:
    """GARCH one-step variance forecast at every close, as a network input, %^2.

    Parameters are fit on ``returns[: train_last + 1]`` only and held fixed; the
    conditional variance is then filtered over the whole series. Element ``t`` is
    ``sigma2_{t+1|t}``, known at the close of ``t`` (reads ``returns[: t + 1]`` and arch's
    backcast from the first 75 training residuals). The LSTM-GARCH hybrid feeds such
    GARCH outputs to the network (Kim & Won 2018, "Forecasting the volatility of stock
    price index: A hybrid model integrating LSTM with multiple GARCH-type models",
    Expert Systems with Applications 103, 25-37).

    Parameters
    ----------
    returns : array_like, shape (n,)
        Percent log returns.
    train_last : int
    kind : {"garch", "gjr", "egarch"}, default "garch"
    dist : {"normal", "t"}, default "normal"

    Returns
    -------
    numpy.ndarray, shape (n,)

    Raises
    ------
    ValueError
        As :meth:`GarchForecaster.fit`.
    """
    model = GarchForecaster(kind, dist).fit(returns, train_last)
    return model.path(returns).one_step
