"""quantiles: quantile forecasts of the next log return, scored, backtested and calibrated.

The numerical core of the quantile head (numpy; scipy imported inside the functions that
use them). Array in, array or JSON-ready dict out; no Keras, no files. One concept per
module:

* :mod:`~lstmfc.quantiles.levels`: default levels, :func:`parse_levels`,
  :func:`check_quantiles`, :func:`monotone_quantiles`;
* :mod:`~lstmfc.quantiles.quantile_function`: the quantile function between levels
  (:func:`quantile_at`) and its partial expectations (:func:`mean_exp_below`);
* :mod:`~lstmfc.quantiles.scoring`: pinball loss, Winkler score, central intervals, CRPS
  from quantiles, the Diebold-Mariano test on pinball losses;
* :mod:`~lstmfc.quantiles.var_es`: VaR and ES from a quantile set;
* :mod:`~lstmfc.quantiles.backtests`: hit sequences, Kupiec, Christoffersen,
  Acerbi-Szekely Z2, McNeil-Frey;
* :mod:`~lstmfc.quantiles.report`: :func:`quantile_report`, all of the above at once;
* :mod:`~lstmfc.quantiles.conformal`: CQR and ACI calibration.

The quantile baselines (historical simulation, EWMA, GARCH, unconditional) are
forecasters: :mod:`lstmfc.forecasters.quantile`.

Conventions
-----------
* ``y``: realised **log return** over the horizon, ``log(close[t+h] / close[t])``, shape
  ``(n,)``. Quantiles, VaR and ES are in the same unit (log return); ``*_loss_pct`` fields are
  ``-100 * value``, a positive loss in **percent log return**.
* ``levels``: quantile levels ``tau`` in (0, 1), strictly increasing; default
  ``DEFAULT_LEVELS``. ``Q``: quantile forecasts, shape ``(n, k)``, column ``j`` the
  ``levels[j]``-quantile of ``y[i]`` made at the forecast origin, non-decreasing across columns.
* VaR at level ``a`` (``a`` = 0.01, 0.025, 0.05) is the ``a``-quantile of the return (usually
  negative); a **hit** (violation) is ``y < VaR_a``. ES at level ``a`` is
  ``ES_a = E[y | y < VaR_a] = (1/a) * int_0^a q(u) du`` (Acerbi & Tasche 2002, J. Banking &
  Finance 26(7)), also a return (more negative than VaR). "ES 97.5 %" is ``a = 0.025``.
* The **quantile function between the given levels** (``quantile_at``): linear in
  ``z = Phi^{-1}(tau)`` between adjacent levels, extended beyond the lowest (highest) level
  along the line through the two lowest (highest) levels. It is exact for every Gaussian
  ``q(tau) = mu + sigma * z``, and it is the one interpolant used by ES, CRPS, ACI and the
  ES backtest simulation.
* Numeric functions raise ``ValueError`` (one line) on bad input; callers wrap it into
  :class:`lstmfc.core.errors.DataError` / ``UsageError``. Undefined values in result dicts are
  ``None`` with a ``note``, never ``nan``, so the result is valid JSON.
"""
