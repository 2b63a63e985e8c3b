"""How each head's results look on a terminal: table columns, extra tables, cells.

A head (:mod:`lstmfc.heads`) is its target, its output and loss, and the forecasters
that judge it; how its numbers are laid out is here, next to the renderer
(:mod:`lstmfc.cli.render`). :func:`view_of` returns the :class:`HeadView` of a head,
registered in :data:`VIEWS` under the head's ``--head`` name; a new head adds its view
there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from lstmfc.heads.base import Head, log_details
from lstmfc.quantiles.levels import level_index


@dataclass(frozen=True)
class Column:
    """One column of a rendered table: header, key into a dict, format, scale.

    ``fmt`` is a format spec (``".2f"``); the value is multiplied by ``scale`` first
    (``100`` shows a fraction as percent). ``None`` values render as a dash.
    """

    label: str
    key: str
    fmt: str = ".4f"
    scale: float = 1.0


def _cell(v, spec: str, scale: float = 1.0) -> str:
    """``v * scale`` formatted with ``spec``; a dash for None."""
    return "—" if v is None else f"{v * scale:{spec}}"


class HeadView:
    """The tables and cells of one head (defaults fit a head without extra sections)."""

    #: Columns of the evaluation metrics table.
    metric_columns: ClassVar[tuple[Column, ...]] = ()
    #: Columns of a backtest's per-fold table (keys of ``Head.fold_summary``).
    fold_columns: ClassVar[tuple[Column, ...]] = ()
    #: Columns of the live track record (keys of ``Head.live_summary``).
    live_columns: ClassVar[tuple[Column, ...]] = ()
    #: Network columns of the per-step table of a path
    #: (:func:`lstmfc.cli.render_model.path_tables`); the first also compares every model
    #: by step.
    path_columns: ClassVar[tuple[Column, ...]] = ()

    def extra_tables(self, report: dict[str, Any]) -> list[dict[str, Any]]:
        """Tables of the head's extra report sections (``Scores.extra``, found at the
        top level of ``report``), as plain data:
        ``{"title": str, "columns": [str, ...], "rows": [[str, ...], ...]}``."""
        return []

    def val_rows(self, val: dict[str, Any]) -> list[tuple[str, str]]:
        """``(label, text)`` rows describing ``Head.val_metrics`` in the train table."""
        return []

    def log_display(self, row: dict[str, Any]) -> str:
        """The logged forecast as one short table cell."""
        raise NotImplementedError


class PriceView(HeadView):
    """Tables and cells of the price head."""

    metric_columns = (
        Column("RMSE", "rmse", ".2f"),
        Column("MAE", "mae", ".2f"),
        Column("MAPE %", "mape", ".3f"),
        Column("dir. acc. %", "directional_accuracy", ".1f", 100),
        Column("Theil's U", "theils_u", ".4f"),
    )
    fold_columns = (
        Column("RMSE", "rmse", ".3f"),
        Column("naive RMSE", "naive_rmse", ".3f"),
        Column("Theil's U", "theils_u", ".4f"),
        Column("dir. acc. %", "directional_accuracy", ".1f", 100),
    )
    path_columns = (
        Column("RMSE", "rmse", ".2f"),
        Column("MAE", "mae", ".2f"),
        Column("MASE", "mase", ".3f"),
        Column("dir. acc. %", "directional_accuracy", ".1f", 100),
    )
    live_columns = (
        Column("MAE", "mae", ".2f"),
        Column("naive MAE", "naive_mae", ".2f"),
        Column("RMSE", "rmse", ".2f"),
        Column("naive RMSE", "naive_rmse", ".2f"),
        Column("drift RMSE", "drift_rmse", ".2f"),
        Column("Theil's U", "theils_u", ".3f"),
        Column("dir. acc. %", "directional_accuracy", ".1f", 100),
    )

    def val_rows(self, val):
        return [
            (
                "val RMSE",
                f"{val['rmse']:.4f} (naive random walk {val['naive_rmse']:.4f}), currency",
            ),
            ("val MAE", f"{val['mae']:.4f}"),
        ]

    def log_display(self, row):
        v = row.get("forecast_price")
        return "—" if v is None else f"{v:.2f}"


class DirectionView(HeadView):
    """Tables and cells of the direction head."""

    metric_columns = (
        Column("accuracy %", "accuracy", ".1f", 100),
        Column("balanced %", "balanced_accuracy", ".1f", 100),
        Column("Brier", "brier", ".4f"),
        Column("log loss", "log_loss", ".4f"),
        Column("ROC AUC", "roc_auc", ".3f"),
    )
    fold_columns = (
        Column("accuracy %", "accuracy", ".1f", 100),
        Column("majority %", "majority_accuracy", ".1f", 100),
    )
    path_columns = (
        Column("accuracy %", "accuracy", ".1f", 100),
        Column("Brier", "brier", ".4f"),
        Column("log loss", "log_loss", ".4f"),
    )
    live_columns = (
        Column("dir. acc. %", "directional_accuracy", ".1f", 100),
        Column("drift acc. %", "drift_accuracy", ".1f", 100),
    )

    def val_rows(self, val):
        return [
            (
                "val accuracy",
                f"{100 * val['accuracy']:.1f}% "
                f"(majority class {100 * val['majority_accuracy']:.1f}%)",
            )
        ]

    def log_display(self, row):
        v = row.get("prob_up")
        return "—" if v is None else f"P(up) {v:.3f}"


class VolView(HeadView):
    """Tables and cells of the vol head."""

    metric_columns = (
        Column("QLIKE", "qlike", ".4f"),
        Column("MSE", "mse", ".3f"),
        Column("MZ R²", "mz_r2", ".3f"),
        Column("MZ slope", "mz_slope", ".3f"),
        Column("MAE vol", "mae_vol", ".4f"),
    )
    fold_columns = (
        Column("QLIKE", "qlike", ".4f"),
        Column("GARCH QLIKE", "garch_qlike", ".4f"),
        Column("MSE", "mse", ".3f"),
    )
    live_columns = (
        Column("QLIKE", "qlike", ".4f"),
        Column("GARCH QLIKE", "garch_qlike", ".4f"),
        Column("MSE", "mse", ".3f"),
        Column("GARCH MSE", "garch_mse", ".3f"),
    )

    def extra_tables(self, report: dict[str, Any]) -> list[dict[str, Any]]:
        """The Model Confidence Set and the Parkinson-proxy scores."""
        out = []
        mcs = report.get("mcs") or {}
        if mcs.get("p_values"):
            inc = set(mcs.get("included") or [])
            out.append(
                {
                    "title": (
                        f"Model Confidence Set on QLIKE, {100 * (1 - mcs['size']):.0f}% "
                        f"({mcs.get('bootstrap')} bootstrap, {mcs.get('reps')} reps, "
                        f"seed {mcs.get('seed')})"
                    ),
                    "columns": ["model", "MCS p-value", "in set"],
                    "rows": [
                        [k, f"{p:.4f}", "yes" if k in inc else "no"]
                        for k, p in mcs["p_values"].items()
                    ],
                }
            )
        elif mcs.get("note"):
            out.append(
                {
                    "title": "Model Confidence Set",
                    "columns": ["note"],
                    "rows": [[mcs["note"]]],
                }
            )
        metrics = report.get("metrics") or {}
        if metrics and all("qlike_parkinson" in m for m in metrics.values()):
            out.append(
                {
                    "title": (
                        "Secondary proxy: Parkinson range variance (high/low only; misses "
                        "overnight moves, so it runs below the squared return)"
                    ),
                    "columns": ["model", "QLIKE", "MSE", "MAE vol"],
                    "rows": [
                        [
                            k,
                            f"{m['qlike_parkinson']:.4f}",
                            f"{m['mse_parkinson']:.3f}",
                            f"{m['mae_vol_parkinson']:.4f}",
                        ]
                        for k, m in metrics.items()
                    ],
                }
            )
        return out

    def val_rows(self, val):
        return [
            (
                "val QLIKE",
                f"{val['qlike']:.4f} (constant training variance {val['constant_qlike']:.4f}); "
                "lower is better",
            ),
            ("val MSE", f"{val['mse']:.4f} (%^2)^2"),
        ]

    def log_display(self, row):
        d = log_details(row)
        v = d.get("variance")
        if v is None:
            return "—"
        return f"var {v:.3f} ({d.get('annualised_vol_pct', float('nan')):.1f}% ann.)"


class QuantileView(HeadView):
    """Tables and cells of the quantile head."""

    metric_columns = (
        Column("pinball bp", "pinball", ".2f", 1e4),
        Column("CRPS bp", "crps", ".2f", 1e4),
        Column("90% cov %", "coverage_90", ".1f", 100),
        Column("90% width %", "width_90", ".2f", 100),
        Column("98% cov %", "coverage_98", ".1f", 100),
        Column("98% width %", "width_98", ".2f", 100),
        Column("Winkler 90 %", "winkler_90", ".2f", 100),
    )
    fold_columns = (
        Column("pinball bp", "pinball", ".2f", 1e4),
        Column("GARCH-t bp", "garch_t_pinball", ".2f", 1e4),
        Column("90% cov %", "coverage_90", ".1f", 100),
        Column("VaR1 hits", "var1_hits", ".0f"),
    )
    live_columns = (
        Column("90% cov %", "coverage_90", ".1f", 100),
        Column("98% cov %", "coverage_98", ".1f", 100),
        Column("VaR1 hits", "var1_hits", ".0f"),
        Column("VaR1 Kupiec p", "var1_kupiec_p", ".3f"),
        Column("VaR5 hits", "var5_hits", ".0f"),
        Column("VaR5 Kupiec p", "var5_kupiec_p", ".3f"),
        Column("pinball bp", "pinball", ".2f", 1e4),
        Column("GARCH-t bp", "garch_t_pinball", ".2f", 1e4),
    )

    def extra_tables(self, report: dict[str, Any]) -> list[dict[str, Any]]:
        """VaR backtests, ES backtests and the per-level calibration of the LSTM."""
        tables = [
            _var_table(report.get("var_backtests") or {}),
            _es_table(report.get("es_backtests") or {}),
            _calibration_table(report.get("calibration") or {}),
        ]
        return [t for t in tables if t is not None]

    def val_rows(self, val):
        rows = [
            (
                "val pinball",
                f"{1e4 * val['pinball']:.3f} bp (unconditional training quantiles "
                f"{1e4 * val['unconditional_pinball']:.3f} bp)",
            )
        ]
        if val.get("coverage_90") is not None:
            rows.append(("val 90% coverage", f"{100 * val['coverage_90']:.1f}% (raw network)"))
        cqr = (val.get("calibration") or {}).get("cqr") or {}
        if cqr:
            shifts = ", ".join(
                f"{t:g}: {100 * s:+.3f}%" for t, s in zip(cqr["levels"], cqr["shifts"], strict=True)
            )
            rows.append(("CQR shifts", f"{shifts} (log return, fit on {cqr['n_cal']} val rows)"))
        return rows

    def log_display(self, row):
        d = log_details(row)
        prices, lv = d.get("prices"), d.get("levels") or []
        if not prices:
            v = row.get("forecast_price")
            return "—" if v is None else f"{v:.2f}"
        lo = level_index(lv, 0.05)
        hi = level_index(lv, 0.95)
        if lo is None or hi is None:
            lo, hi = 0, len(prices) - 1
            width = f"{100 * (lv[-1] - lv[0]):g}%"
        else:
            width = "90%"
        return f"{width} {prices[lo]:.2f}..{prices[hi]:.2f}"


def _var_table(var: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The VaR backtests of every model: hits, Kupiec and Christoffersen p-values."""
    if not var:
        return None
    rows = [
        [
            name,
            f"{100 * r['alpha']:g}%",
            f"{r['hits']}",
            f"{r['expected_hits']:.1f}",
            _cell(r["mean_var_loss_pct"], ".2f"),
            _cell(r["kupiec_p"], ".3f"),
            _cell(r["christoffersen_ind_p"], ".3f"),
            _cell(r["christoffersen_cc_p"], ".3f"),
        ]
        for name, items in var.items()
        for r in items
    ]
    columns = ["model", "VaR", "hits", "expected", "mean VaR %", "Kupiec p", "indep. p"]
    return {
        "title": "VaR backtests: hits vs expected, Kupiec POF, Christoffersen "
        "independence and conditional coverage (p-values)",
        "columns": [*columns, "cond. cov. p"],
        "rows": rows,
    }


def _es_table(es: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The ES backtests of every model: Acerbi-Szekely Z2 and McNeil-Frey."""
    if not es:
        return None
    rows = [
        [
            name,
            f"{100 * (1 - r['alpha']):g}%",
            _cell(r["mean_es_loss_pct"], ".2f"),
            f"{r['hits']}",
            _cell(r["z2"], ".3f"),
            _cell(r["z2_p"], ".3f"),
            _cell(r["mcneil_frey_p"], ".3f"),
        ]
        for name, items in es.items()
        for r in items
    ]
    return {
        "title": "ES backtests: Acerbi-Szekely Z2 (simulated one-sided p) and "
        "McNeil-Frey (bootstrap p); ES from the quantiles below the VaR level",
        "columns": ["model", "ES", "mean ES %", "hits", "Z2", "Z2 p", "McNeil-Frey p"],
        "rows": rows,
    }


def _by_level(doc: dict[str, Any] | None, values: str) -> dict[str, Any]:
    """``{level text: value}`` of a CQR or ACI document's ``levels`` and ``values``."""
    doc = doc or {}
    return dict(zip([f"{v:g}" for v in doc.get("levels", [])], doc.get(values, []), strict=False))


def _calibration_table(cal: dict[str, Any]) -> dict[str, Any] | None:
    """Per level: how often the outcome fell at or below each LSTM quantile, the CQR
    shift fitted on validation and ACI's working level at the end."""
    per = cal.get("frequency_at_or_below") or {}
    if not per:
        return None
    shifts = _by_level(cal.get("cqr"), "shifts")
    final = _by_level(cal.get("aci_final"), "tau_t")
    names = list(next(iter(per.values())))
    rows = [
        [
            lvl,
            *(_cell(per[lvl].get(n), ".1f", 100) for n in names),
            _cell(shifts.get(lvl), "+.3f", 100),
            _cell(final.get(lvl), ".4f"),
        ]
        for lvl in per
    ]
    return {
        "title": "Calibration: share of outcomes at or below each quantile (target: "
        "the level); CQR shift fitted on validation; ACI working level at the end",
        "columns": ["level", *(f"{n} %" for n in names), "CQR shift %", "ACI final level"],
        "rows": rows,
    }


VIEWS: dict[str, HeadView] = {
    "price": PriceView(),
    "direction": DirectionView(),
    "vol": VolView(),
    "quantile": QuantileView(),
}
"""The view of each head, keyed like :data:`lstmfc.heads.registry.HEADS` (so that
showing one head's results imports no other head)."""


def view_of(head: Head) -> HeadView:
    """The view of ``head``.

    Raises
    ------
    KeyError
        No view is registered under the head's name.
    """
    try:
        return VIEWS[head.name]
    except KeyError:
        raise KeyError(f"no view for the {head.name} head") from None
