"""One JSON-ready report of a quantile forecaster: every score and backtest at once.

:func:`quantile_report` combines :mod:`lstmfc.quantiles.scoring` (pinball loss, CRPS,
central intervals), :mod:`lstmfc.quantiles.var_es` and :mod:`lstmfc.quantiles.backtests`
(Kupiec, Christoffersen, Acerbi-Szekely Z2, McNeil-Frey) for the quantile head's
``score``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lstmfc.quantiles.backtests import (
    acerbi_szekely_z2,
    christoffersen_test,
    hit_sequence,
    kupiec_test,
    mcneil_frey_test,
)
from lstmfc.quantiles.levels import ES_LEVELS, VAR_LEVELS, _y_and_q
from lstmfc.quantiles.scoring import central_intervals, crps_from_quantiles, pinball_summary
from lstmfc.quantiles.var_es import _alpha, _es, value_at_risk


@dataclass(frozen=True)
class ReportOptions:
    """Which levels :func:`quantile_report` backtests, and the Monte Carlo of its ES tests.

    Attributes
    ----------
    var_levels : tuple of float
        VaR levels to backtest (:func:`kupiec_test`, :func:`christoffersen_test`).
    es_levels : tuple of float
        ES levels to backtest (:func:`acerbi_szekely_z2`, :func:`mcneil_frey_test`).
    n_sim : int
        Simulated paths of the Z2 p-value.
    n_boot : int
        Bootstrap draws of the McNeil-Frey p-value.
    seed : int
        Seed of both.
    """

    var_levels: tuple[float, ...] = VAR_LEVELS
    es_levels: tuple[float, ...] = ES_LEVELS
    n_sim: int = 2000
    n_boot: int = 9999
    seed: int = 0


def quantile_report(
    y: Any,
    Q: Any,
    levels: Any,
    *,
    horizon: int = 1,
    options: ReportOptions = ReportOptions(),
) -> dict[str, Any]:
    """Every score and backtest of one quantile forecaster, JSON-ready.

    Parameters
    ----------
    y : array_like, shape (n,)
        Realised log returns over the horizon.
    Q : array_like, shape (n, k)
        Quantile forecasts (log return), non-decreasing rows; ``k >= 2``.
    levels : array_like, shape (k,)
    horizon : int, default 1
        h; for ``h > 1`` consecutive targets overlap, so hits are autocorrelated even under
        a correct model and the tests (which assume independent dates) over-reject; a note
        says so.
    options : ReportOptions
        VaR and ES levels to backtest, Monte Carlo sizes and seed of the ES backtests.

    Returns
    -------
    dict
        ``n``, ``horizon``, ``levels``, ``pinball`` (:func:`pinball_summary`), ``crps``
        (mean of :func:`crps_from_quantiles`), ``intervals`` (:func:`central_intervals`),
        ``var`` (one dict per VaR level: ``alpha``, ``mean_var`` and ``mean_var_loss_pct``,
        ``kupiec``, ``christoffersen``), ``es`` (per ES level: ``alpha``, ``mean_es``,
        ``mean_es_loss_pct``, ``acerbi_szekely``, ``mcneil_frey``), ``notes``.

    Raises
    ------
    ValueError
        As :func:`pinball_loss`; fewer than 2 levels; bad ``horizon`` or levels.
    """
    yv, q, lv = _y_and_q(y, Q, levels)
    if lv.size < 2:
        raise ValueError("a quantile report needs at least 2 levels")
    h = int(horizon)
    if h != horizon or h < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon}")
    notes = []
    if h > 1:
        notes.append(
            f"horizon {h}: overlapping targets make hits autocorrelated under H0; Kupiec, "
            "Christoffersen and ES backtests assume independent dates and over-reject"
        )
    var_rows = []
    for a in options.var_levels:
        a = _alpha(a, "VaR level")
        var = value_at_risk(q, lv, a)
        hits = hit_sequence(yv, var)
        var_rows.append(
            {
                "alpha": a,
                "mean_var": float(var.mean()),
                "mean_var_loss_pct": float(-100.0 * var.mean()),
                "kupiec": kupiec_test(hits, a),
                "christoffersen": christoffersen_test(hits, a),
            }
        )
    es_rows = []
    for a in options.es_levels:
        a = _alpha(a, "ES level")
        es = _es(q, lv, a)
        var = value_at_risk(q, lv, a)
        es_rows.append(
            {
                "alpha": a,
                "mean_es": float(es.mean()),
                "mean_es_loss_pct": float(-100.0 * es.mean()),
                "acerbi_szekely": acerbi_szekely_z2(
                    yv, q, lv, a, n_sim=options.n_sim, seed=options.seed
                ),
                "mcneil_frey": mcneil_frey_test(
                    yv, var, es, n_boot=options.n_boot, seed=options.seed
                ),
            }
        )
    return {
        "n": int(yv.size),
        "horizon": h,
        "levels": [float(t) for t in lv],
        "pinball": pinball_summary(yv, q, lv),
        "crps": float(crps_from_quantiles(yv, q, lv).mean()),
        "intervals": central_intervals(yv, q, lv),
        "var": var_rows,
        "es": es_rows,
        "notes": notes,
    }
