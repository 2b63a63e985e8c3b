"""Fitting the ``garch`` input feature: GARCH(1,1) on the training returns only.

``lstmfc prepare`` fits it once (:func:`fit_garch_feature`) on the returns up to the last
training target and stores the parameters in ``prepare.json`` (key ``garch``); the
feature itself, the one-step variance at every close from those parameters, is
computed by :func:`lstmfc.dataset.features.build_features` (never refit).
"""

from __future__ import annotations

import pandas as pd

from lstmfc.core.dates import iso_date
from lstmfc.core.errors import DataError
from lstmfc.dataset.features import raw_column
from lstmfc.volatility.models import GarchForecaster, garch11_parameters
from lstmfc.volatility.series import percent_log_returns


def fit_garch_feature(raw: pd.DataFrame, last_row: int) -> dict:
    """Fit the ``garch`` feature's GARCH(1,1) on raw closes ``0 .. last_row`` only.

    Maximum likelihood with ``arch`` (constant mean, normal errors, through
    :class:`lstmfc.volatility.models.GarchForecaster`) on the percent log returns ending at
    raw rows ``1 .. last_row``; ``prepare`` passes the raw row of the last training
    target, so no validation or test return reaches the parameters. The backcast is
    arch's (``arch.univariate.GARCH().backcast``: an exponentially weighted mean of
    the first 75 squared residuals).

    Parameters
    ----------
    raw : pandas.DataFrame
        Raw series with a ``close`` column (currency).
    last_row : int
        Last raw row the fit may read.

    Returns
    -------
    dict
        JSON-ready: :data:`GARCH_KEYS` plus ``model``, ``dist``, ``converged``,
        ``loglikelihood``, ``fit_rows`` (raw rows), ``fit_start_date``,
        ``fit_end_date``.

    Raises
    ------
    DataError
        Invalid closes, too few training returns (arch needs at least 250 here), or a
        failed fit.
    """
    close = raw_column(raw, "close", "garch")[: int(last_row) + 1]
    try:
        r = percent_log_returns(close)
        model = GarchForecaster("garch", "normal").fit(r, r.size - 1)
    except ValueError as exc:
        raise DataError(f"feature 'garch': {exc}") from None
    return {
        **garch11_parameters(model),
        "loglikelihood": float(model.loglikelihood_),
        "fit_rows": [0, int(last_row)],
        "fit_start_date": iso_date(raw.index[0]),
        "fit_end_date": iso_date(raw.index[int(last_row)]),
    }
