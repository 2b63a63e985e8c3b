"""The direction head: the probability that the close rises over the next ``h`` sessions.

Target: ``target_direction`` = 1 if ``close[t+h] > close[t]`` else 0 (a flat close
counts as 0), no scaling. Output: one sigmoid unit read as P(up), binary
cross-entropy. Baselines: the training majority class, the sign of the training drift,
the sign of the last daily log return, a logistic regression on the window's log
returns (:mod:`lstmfc.forecasters.price`). A call is "up" when P(up) > 0.5. Headline test:
exact binomial test of the network's accuracy against the majority-class accuracy;
a Diebold-Mariano test on the 0-1 loss against the strongest baseline chosen on
validation; against a coin (0.5) and the Pesaran-Timmermann (1992) test.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.forecasters.direction import DriftSignClassifier, direction_baselines
from lstmfc.heads.base import Head, Scores, log_details
from lstmfc.stats.metrics import direction_metrics
from lstmfc.stats.skill import (
    binomial_test,
    diebold_mariano_differential,
    pesaran_timmermann,
    undefined_test,
)
from lstmfc.stats.trading import buy_and_hold, long_flat_backtest


class DirectionHead(Head):
    """P(close[t+h] > close[t]) (see the module docstring)."""

    name = "direction"
    help = "P(close rises over h sessions); sigmoid output, binary cross-entropy"
    benchmark = "majority"
    headline_label = "Direction calls vs always-up ({test})"
    activation = "sigmoid"
    loss = "binary_crossentropy"
    compile_metrics = ("binary_accuracy",)
    path_loss = "zero_one"
    path_measure = ("accuracy", "difference", "accuracy minus majority's, points")
    forecast_unit = "probability"

    def report_keys(self) -> dict[str, Any]:
        return {"price_target": None}

    # ------------------------------------------------------------------ targets
    def fit_scaling(self, train_targets) -> dict[str, Any]:
        return {"column": "target_direction", "kind": "none"}

    def check_scaling(self, scaling: dict[str, Any]) -> None:
        if scaling.get("kind") != "none" or not isinstance(scaling.get("column"), str):
            raise ValueError("bad 'target' entry")

    def _columns(self) -> list[str]:
        if self.n_outputs == 1:
            return ["target_direction"]
        return ["target_direction", *(f"target_direction_{k}" for k in range(2, self.steps + 1))]

    def encode(self, scaling, targets) -> np.ndarray:
        cols = [np.asarray(targets[c], dtype="float64").astype("float32") for c in self._columns()]
        return cols[0] if len(cols) == 1 else np.stack(cols, axis=1)

    def decode(self, scaling, raw, targets) -> np.ndarray:
        """P(up) per window, ``(n_windows,)`` in [0, 1]; ``(n_windows, steps)`` for a path."""
        raw = np.asarray(raw, dtype="float64")
        return raw.reshape(-1) if self.n_outputs == 1 else raw.reshape(len(raw), -1)

    def truth(self, targets) -> np.ndarray:
        return self.step_targets(targets, "target_direction", "int64")

    # ------------------------------------------------------------------ baselines
    def baselines(self, *, lookback: int, sma_k: int = 20, ema_span: int = 20) -> dict:

        return direction_baselines(lookback=lookback)

    def baseline_forecast(self, baseline, closes, rows) -> np.ndarray:
        return baseline.forecast(closes, rows)

    # ------------------------------------------------------------------ scoring
    selection_criterion = "error rate"

    def selection_loss(self, targets, forecast) -> float:
        """Share of wrong calls (0-1 loss; a call is up when P(up) > 0.5)."""
        calls = (np.asarray(forecast, dtype="float64") > 0.5).astype("int64")
        return float(np.mean(calls != self.truth(targets)))

    def score(
        self, targets, forecasts, *, horizon, cost_bps=0.0, alpha=0.05, trading=True, best=None
    ):
        """Accuracy, balanced accuracy, Brier, log loss, ROC AUC per model; binomial tests
        of the LSTM's calls against the majority-class accuracy and against 0.5; a
        Diebold-Mariano (HLN) test on the 0-1 loss against ``best``; Pesaran-Timmermann;
        long/flat on each model's calls."""

        y = self.truth(targets)
        realised = np.asarray(targets["target_logret"], dtype="float64")
        calls = {name: (p > 0.5).astype("int64") for name, p in forecasts.items()}
        table = {name: direction_metrics(y, p) for name, p in forecasts.items()}
        majority_acc = float(np.mean(calls["majority"] == y))
        tests = []
        for p0, bench in ((majority_acc, "majority"), (0.5, "chance")):
            if 0.0 < p0 < 1.0:
                d = binomial_test(y, calls["lstm"], p0=p0, alpha=alpha, benchmark=bench)
                tests.append({**d.to_dict(), "model": "lstm", "benchmark": bench})
            if bench == "majority" and best and best != "majority" and best in calls:
                wrong = (calls["lstm"] != y).astype("float64")
                d = wrong - (calls[best] != y).astype("float64")
                try:
                    dm = diebold_mariano_differential(
                        d, horizon=horizon, alpha=alpha, benchmark=best, loss="zero-one"
                    )
                    tests.append({**dm.to_dict(), "model": "lstm", "benchmark": best})
                except ValueError as exc:
                    tests.append(undefined_test("diebold-mariano", "lstm", best, len(y), exc))
        try:
            pt = pesaran_timmermann(y, calls["lstm"], alpha=alpha)
            tests.append({**pt.to_dict(), "model": "lstm", "benchmark": "chance"})
        except ValueError as exc:  # e.g. a one-window fold
            tests.append(undefined_test("pesaran-timmermann", "lstm", "chance", len(y), exc))
        trade = None
        if trading:
            trade = {
                name: long_flat_backtest(c, realised, horizon=horizon, cost_bps=cost_bps)
                for name, c in calls.items()
            }
            trade["buy_and_hold"] = buy_and_hold(realised, horizon=horizon, cost_bps=cost_bps)
        return Scores(table, tests, trade)

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
        one = self.step_head()
        y = one.truth(val_targets)
        up_share = float(np.mean(one.truth(train_targets)))
        majority = 1 if up_share >= 0.5 else 0
        p = self.decode(scaling, raw, val_targets)
        p1 = p if p.ndim == 1 else p[:, 0]
        out = {
            "accuracy": float(np.mean((p1 > 0.5).astype("int64") == y)),
            "majority_accuracy": float(np.mean(y == majority)),
        }
        if p.ndim == 2:
            ys = self.truth(val_targets)
            out["steps_accuracy"] = [float(v) for v in np.mean((p > 0.5) == ys, axis=0)]
        return out

    # ------------------------------------------------------------------ forecast log
    def live_baselines(self, closes, train_rows, horizon: int) -> dict[str, Any]:
        """The drift baseline's P(up) (:class:`lstmfc.forecasters.direction.DriftSignClassifier`),
        fit on the training rows, logged next to each forecast."""

        m = DriftSignClassifier().fit(np.asarray(closes, "float64"), train_rows, horizon)
        return {"drift": {"mu": m.mu_, "sigma": m.sigma_, "prob_up": m.up_probability()}}

    def log_values(self, forecast, close_as_of, live=None, horizon=1) -> dict[str, Any]:
        details = {}
        drift = (live or {}).get("drift")
        if drift:
            details["drift_prob_up"] = float(drift["prob_up"])
        return {"forecast_price": None, "prob_up": float(forecast), "details": details}

    def score_logged(self, row, realised_close):
        up = realised_close > row["close_as_of"]
        return {
            "error": None,
            "naive_error": realised_close - row["close_as_of"],
            "direction_correct": int((row["prob_up"] > 0.5) == up),
        }

    def live_summary(self, rows):
        """Directional accuracy of the network and, where logged, of the drift's call."""

        dirs = [r["direction_correct"] for r in rows if r["direction_correct"] is not None]
        out: dict[str, Any] = {
            "n_scored": len(rows),
            "directional_accuracy": float(np.mean(dirs)) if dirs else None,
        }
        drift = [
            int((d["drift_prob_up"] > 0.5) == (r["realised_close"] > r["close_as_of"]))
            for r in rows
            if "drift_prob_up" in (d := log_details(r))
        ]
        if drift:
            out["drift_n"] = len(drift)
            out["drift_accuracy"] = float(np.mean(drift))
        return out
