"""The direction head: the probability that the close rises over the next ``h`` sessions.

Target: ``target_direction`` = 1 if ``close[t+h] > close[t]`` else 0 (a flat close
counts as 0), no scaling. Output: one sigmoid unit read as P(up), binary
cross-entropy. Baselines: the training majority class, the sign of the last daily
log return, a logistic regression on the window's log returns
(:mod:`lstmfc.baselines`). A call is "up" when P(up) > 0.5. Headline test: exact
binomial test of the network's accuracy against the majority-class accuracy; also
against a coin (0.5) and the Pesaran-Timmermann (1992) test of independence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.heads.base import Column, Head, Scores, pyplot, save_figure, undefined_test


class DirectionHead(Head):
    """P(close[t+h] > close[t]) (see the module docstring)."""

    name = "direction"
    help = "P(close rises over h sessions); sigmoid output, binary cross-entropy"
    benchmark = "majority"
    activation = "sigmoid"
    loss = "binary_crossentropy"
    compile_metrics = ("binary_accuracy",)
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
    live_columns = (Column("dir. acc. %", "directional_accuracy", ".1f", 100),)

    def report_keys(self) -> dict[str, Any]:
        return {"price_target": None}

    # ------------------------------------------------------------------ targets
    def fit_scaling(self, train_targets) -> dict[str, Any]:
        return {"column": "target_direction", "kind": "none"}

    def check_scaling(self, scaling: dict[str, Any]) -> None:
        if scaling.get("kind") != "none" or not isinstance(scaling.get("column"), str):
            raise ValueError("bad 'target' entry")

    def encode(self, scaling, targets) -> np.ndarray:
        return np.asarray(targets[scaling["column"]], dtype="float64").astype("float32")

    def decode(self, scaling, raw, targets) -> np.ndarray:
        """P(up) per window, ``(n_windows,)`` in [0, 1]."""
        return np.asarray(raw, dtype="float64").reshape(-1)

    def truth(self, targets) -> np.ndarray:
        return np.asarray(targets["target_direction"], dtype="int64")

    # ------------------------------------------------------------------ baselines
    def baselines(self, *, lookback: int, sma_k: int = 20, ema_span: int = 20) -> dict:
        from lstmfc.baselines import direction_baselines

        return direction_baselines(lookback=lookback)

    def baseline_forecast(self, baseline, closes, rows) -> np.ndarray:
        return baseline.predict_proba(closes, rows)

    # ------------------------------------------------------------------ scoring
    def score(self, targets, forecasts, *, horizon, cost_bps=0.0, alpha=0.05, trading=True):
        """Accuracy, balanced accuracy, Brier, log loss, ROC AUC per model; binomial
        tests of the LSTM's calls against the majority-class accuracy and against 0.5,
        and Pesaran-Timmermann; long/flat on each model's calls."""
        from lstmfc import metrics

        y = self.truth(targets)
        realised = np.asarray(targets["target_logret"], dtype="float64")
        calls = {name: (p > 0.5).astype("int64") for name, p in forecasts.items()}
        table = {name: metrics.direction_metrics(y, p) for name, p in forecasts.items()}
        majority_acc = float(np.mean(calls["majority"] == y))
        tests = []
        for p0, bench in ((majority_acc, "majority"), (0.5, "chance")):
            if 0.0 < p0 < 1.0:
                d = metrics.binomial_test(y, calls["lstm"], p0=p0, alpha=alpha, benchmark=bench)
                tests.append({**d.to_dict(), "model": "lstm", "benchmark": bench})
        try:
            pt = metrics.pesaran_timmermann(y, calls["lstm"], alpha=alpha)
            tests.append({**pt.to_dict(), "model": "lstm", "benchmark": "chance"})
        except ValueError as exc:  # e.g. a one-window fold
            tests.append(undefined_test("pesaran-timmermann", "lstm", "chance", len(y), exc))
        trade = None
        if trading:
            trade = {
                name: metrics.long_flat_backtest(c, realised, horizon=horizon, cost_bps=cost_bps)
                for name, c in calls.items()
            }
            trade["buy_and_hold"] = metrics.buy_and_hold(
                realised, horizon=horizon, cost_bps=cost_bps
            )
        return Scores(table, tests, trade)

    def verdict_sentence(self, skill: dict[str, Any]) -> str:
        return f"Direction calls vs always-up ({skill.get('test')}): {skill.get('verdict', '')}."

    def fold_summary(self, metrics):
        maj = metrics["majority"]["accuracy"]
        acc = metrics["lstm"]["accuracy"]
        return {"accuracy": acc, "majority_accuracy": maj}, bool(acc > maj)

    def forecast_table(self, targets, forecasts):
        return {"up": self.truth(targets), **{f"p_up_{n}": p for n, p in forecasts.items()}}

    # ------------------------------------------------------------------ training
    def val_metrics(self, scaling, raw, val_targets, train_targets) -> dict[str, float]:
        """Directional accuracy at threshold 0.5 and the accuracy of always predicting
        the training split's majority direction."""
        y = self.truth(val_targets)
        up_share = float(np.mean(self.truth(train_targets)))
        majority = 1 if up_share >= 0.5 else 0
        p = self.decode(scaling, raw, val_targets)
        return {
            "accuracy": float(np.mean((p > 0.5).astype("int64") == y)),
            "majority_accuracy": float(np.mean(y == majority)),
        }

    def val_rows(self, val):
        return [
            (
                "val accuracy",
                f"{100 * val['accuracy']:.1f}% "
                f"(majority class {100 * val['majority_accuracy']:.1f}%)",
            )
        ]

    # ------------------------------------------------------------------ forecast log
    def log_values(self, forecast: float, close_as_of: float) -> dict[str, Any]:
        return {"forecast_price": None, "prob_up": float(forecast)}

    def log_display(self, row):
        v = row.get("prob_up")
        return "—" if v is None else f"P(up) {v:.3f}"

    def score_logged(self, row, realised_close):
        up = realised_close > row["close_as_of"]
        return {
            "error": None,
            "naive_error": realised_close - row["close_as_of"],
            "direction_correct": int((row["prob_up"] > 0.5) == up),
        }

    def live_summary(self, rows):
        dirs = [r["direction_correct"] for r in rows if r["direction_correct"] is not None]
        return {
            "n_scored": len(rows),
            "directional_accuracy": float(np.mean(dirs)) if dirs else None,
        }

    # ------------------------------------------------------------------ plot
    def plot(self, path, targets, forecasts, title):
        plt = pyplot()
        dates = np.asarray(targets["target_date"].to_numpy(), dtype="datetime64[ns]")
        up = self.truth(targets).astype(bool)
        prob = forecasts["lstm"]
        fig, (ax, ax2) = plt.subplots(
            2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
        )
        ax.plot(dates, np.asarray(targets["close"]), color="black", lw=1.0, label="close at t")
        ax.set_ylabel("price (currency)")
        ax2.scatter(dates[up], prob[up], s=4, color="tab:green", label="realised up")
        ax2.scatter(dates[~up], prob[~up], s=4, color="tab:red", label="realised down")
        ax2.axhline(0.5, color="grey", lw=0.8)
        ax2.set_ylabel("LSTM P(up)")
        ax2.legend(loc="upper left", fontsize=8)
        ax.set_title(title)
        ax.legend(loc="upper left", fontsize=8)
        fig.autofmt_xdate()
        fig.tight_layout()
        save_figure(fig, path)
