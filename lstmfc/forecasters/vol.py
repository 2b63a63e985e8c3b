"""Volatility baselines: variance forecasts of the h-session percent log return, %^2.

The registry of the vol head's baselines and the adapter that puts the return-based
forecasters of :mod:`lstmfc.volatility.models` behind the protocol of
:mod:`lstmfc.forecasters.base` (``fit`` on training rows of a close series,
``forecast(closes, rows) -> (n_windows,)``):

* :data:`BASELINE_NAMES` (report name -> model name) and :data:`BASELINES` (model names),
  :func:`make_forecaster` (a fresh forecaster by model name);
* :class:`VolBaseline` (one forecaster on closes and window rows) and
  :func:`vol_baselines` (all of them, unfitted, keyed by report name).

Models: ``garch``, ``garch_t`` (GARCH(1,1), Bollerslev 1986, J. Econometrics 31(3)),
``gjr``, ``gjr_t`` (GJR-GARCH(1,1,1), Glosten, Jagannathan & Runkle 1993, J. Finance
48(5)), ``egarch``, ``egarch_t`` (EGARCH(1,1) with the sign term, Nelson 1991,
Econometrica 59(2)) -- all with a constant mean, normal or standardized Student-t errors
(``_t``; Bollerslev 1987, REStat 69(3)), fit by maximum likelihood with ``arch``;
``ewma`` (RiskMetrics, lambda = 0.94, J.P. Morgan/Reuters 1996, RiskMetrics Technical
Document, 4th ed.); ``har`` (HAR on squared returns, Corsi 2009, J. Financial
Econometrics 7(2)); ``rolling22`` (mean squared return over 22 sessions); ``constant``
(training variance).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.forecasters.base import Forecaster
from lstmfc.stats.checks import check_closes, check_rows
from lstmfc.volatility.models import (
    GARCH_DISTS,
    GARCH_KINDS,
    ConstantForecaster,
    EWMAForecaster,
    GarchForecaster,
    HARForecaster,
    RollingForecaster,
    VolForecaster,
)
from lstmfc.volatility.series import percent_log_returns

#: Report name -> model name (:func:`make_forecaster`), in report order.
BASELINE_NAMES: dict[str, str] = {
    "garch": "garch_normal",
    "garch_t": "garch_t",
    "gjr": "gjr_normal",
    "gjr_t": "gjr_t",
    "egarch": "egarch_normal",
    "egarch_t": "egarch_t",
    "ewma": "ewma",
    "har": "har",
    "rolling22": "rolling22",
    "constant": "constant",
}

#: Model names understood by :func:`make_forecaster`, in report order.
BASELINES: tuple[str, ...] = tuple(BASELINE_NAMES.values())


def make_forecaster(name: str, *, seed=0) -> VolForecaster:
    """A fresh, unfitted forecaster by model name (see ``BASELINES``).

    Also accepts ``rolling<w>`` for any window ``w`` (e.g. ``rolling66``).

    Raises
    ------
    ValueError
        Unknown name.
    """
    if name in ("ewma",):
        return EWMAForecaster()
    if name == "har":
        return HARForecaster()
    if name == "constant":
        return ConstantForecaster()
    if name.startswith("rolling") and name[7:].isdigit():
        return RollingForecaster(int(name[7:]))
    kind, _, dist = name.partition("_")
    if kind in GARCH_KINDS and dist in GARCH_DISTS:
        return GarchForecaster(kind, dist, seed=seed)
    raise ValueError(f"unknown volatility baseline {name!r}: use {', '.join(BASELINES)}")


class VolBaseline(Forecaster):
    """A :mod:`lstmfc.volatility.models` forecaster behind the protocol of
    :mod:`lstmfc.forecasters.base`.

    ``closes`` ``(n_rows,)`` currency; rows are the origins ``t`` (the windows' last
    closes). Percent log returns ``r_j = 100 ln(c[s+j+1] / c[s+j])`` start at ``s =
    max(0, min(train_end_rows) - lookback + 1)``, the first row of the first training
    window's inputs (row 0 for ``prepare``'s split). :meth:`fit` (the base class's)
    reads ``closes[: max(train_end_rows) + h + 1]`` (up to the last training target);
    the model is fit on the returns of ``closes[s : max(train_end_rows) + h + 1]`` and
    its parameters are then held fixed. A forecast at row ``t`` filters returns up to
    ``t`` (origin ``t - s - 1`` of
    :meth:`lstmfc.volatility.models.VolForecaster.predict`) and is the variance of the
    h-session percent log return after ``t``, %^2.

    Parameters
    ----------
    name : str
        A model name of :data:`BASELINES` (``garch_normal``, ``ewma`` ...); also
        ``name`` and ``vol_name`` of the instance.
    lookback : int
        Rows per input window of the network (sets the start of the returns).

    Attributes
    ----------
    model : lstmfc.volatility.models.VolForecaster
        The forecaster, fitted by :meth:`fit`.
    min_history : int
        ``model.min_history + 1``: a forecast at row ``t`` needs the return ending at
        ``t`` and the model's own history.
    start_, last_ : int
        First and last close row of the fit's sample (``None`` before :meth:`fit`).
    """

    def __init__(self, name: str, lookback: int = 1) -> None:
        super().__init__()
        self.name = self.vol_name = name
        self.lookback = max(1, int(lookback))
        self.model = make_forecaster(name)
        self.min_history = int(self.model.min_history) + 1
        self.start_: int | None = None
        self.last_: int | None = None

    def _fit(self, closes: np.ndarray, rows: np.ndarray, h: int) -> None:
        """Fit the model on the returns from row ``s`` to the last training target.

        Raises
        ------
        ValueError
            A fit that fails (too few returns ...).
        """
        start = max(0, int(rows.min()) - self.lookback + 1)
        r = percent_log_returns(closes[start:])
        self.model.fit(r, r.size - 1, h)
        self.start_, self.last_ = start, int(closes.size) - 1

    def forecast(self, closes, rows) -> np.ndarray:
        """Variance forecasts ``(n_windows,)`` of the h-session percent log return, %^2.

        Parameters
        ----------
        closes : array_like, shape (n_rows,)
            Unscaled closes, currency, > 0; ``closes[: t + 1]`` is read for origin ``t``.
        rows : array_like, shape (n_windows,)
            Origins ``t``, each ``>= start_ + min_history``.

        Raises
        ------
        ValueError
            Not fitted, bad closes, or a row before the fit's start plus the model's
            history.
        """
        if self.start_ is None:
            raise ValueError(f"{self.vol_name} baseline is not fitted: call fit() first")
        c = check_closes(closes)
        rows = check_rows(rows, c.size, first=self.start_ + self.min_history)
        r = percent_log_returns(c[self.start_ : int(rows.max()) + 1])
        return self.model.predict(r, rows - self.start_ - 1)

    def get_params(self) -> dict[str, Any]:
        """Fitted parameters (held fixed), optimiser convergence, notes and fit rows."""
        return {
            "model": self.vol_name,
            "params": dict(self.model.params_ or {}),
            "converged": bool(self.model.converged_),
            "notes": list(self.model.notes_),
            "fit_rows": [self.start_, self.last_],
        }


def vol_baselines(lookback: int = 1) -> dict[str, VolBaseline]:
    """Unfitted baselines keyed by report name (:data:`BASELINE_NAMES`)."""
    return {k: VolBaseline(v, lookback) for k, v in BASELINE_NAMES.items()}
