"""The price head: the close ``h`` sessions ahead, in currency.

Target (``--price-target``)
---------------------------
* ``logret`` (default): the network learns ``z = (r - mean) / std`` with
  ``r = log(close[t+h] / close[t])`` and ``mean``, ``std`` of the TRAINING windows'
  log returns; a prediction becomes ``close[t] * exp(mean + std * z)`` (currency).
  The forecast stays anchored at the last close like the random walk.
* ``level`` (the classic tutorial model): the close ``close[t+h]``
  min-max scaled with the training targets' min and max,
  ``y = (p - min) / (max - min)``; a prediction becomes ``min + y * (max - min)``.
  It extrapolates badly once prices leave the training range.

Output: one linear unit, mean squared error. Baselines: naive (random walk), drift
(random walk with the training drift), SMA, EMA, OLS on the window's log returns
(:mod:`lstmfc.forecasters.price`). Headline test: Diebold-Mariano (HLN) against naive on
squared errors; a second test against the strongest baseline chosen on validation.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from lstmfc.core.errors import ArtifactError, UsageError
from lstmfc.forecasters.base import training_drift
from lstmfc.forecasters.price import price_baselines
from lstmfc.heads.base import (
    Head,
    Scores,
    log_details,
)
from lstmfc.heads.paths import recursive_log_returns
from lstmfc.stats.metrics import naive_mae_scale, price_metrics
from lstmfc.stats.skill import diebold_mariano, undefined_test
from lstmfc.stats.trading import buy_and_hold, long_flat_backtest, price_to_signal

PRICE_TARGETS = ("logret", "level")
DEFAULT_PRICE_TARGET = "logret"
"""``--price-target`` default: the log return, standardised (module docstring)."""


class PriceHead(Head):
    """Forecast of ``close[t+h]`` in currency (see the module docstring)."""

    name = "price"
    help = "close h sessions ahead (currency); linear output, MSE"
    OPTIONS: ClassVar[tuple[str, ...]] = ("price_target",)
    benchmark = "naive"
    headline_label = "Diebold-Mariano vs the random walk"
    subject = "the LSTM's price forecasts"
    benchmark_label = "'tomorrow = today'"
    activation = None
    loss = "mean_squared_error"
    path_loss = "squared"
    recursive = True
    path_measure = ("rmse", "ratio", "RMSE / naive RMSE")
    forecast_unit = "currency"

    def __init__(self, price_target: str | None = DEFAULT_PRICE_TARGET) -> None:
        super().__init__()
        price_target = price_target or DEFAULT_PRICE_TARGET
        if price_target not in PRICE_TARGETS:
            raise UsageError(f"--price-target must be logret or level, not {price_target!r}")
        self.price_target = price_target

    def report_keys(self) -> dict[str, Any]:
        return {"price_target": self.price_target}

    def configure_path(self, steps: int, strategy: str = "mimo"):
        """As :meth:`Head.configure_path`; the recursive strategy needs the log-return
        target (it feeds back forecast log returns).

        Raises
        ------
        UsageError
            ``--strategy recursive`` with ``--price-target level``.
        """
        if int(steps) > 1 and strategy == "recursive" and self.price_target != "logret":
            raise UsageError("--strategy recursive needs --price-target logret")
        return super().configure_path(steps, strategy)

    def describe(self) -> str:
        return f"price ({self.price_target})"

    def step_metrics(self, metrics, truth, forecasts, closes, train_rows, horizon) -> None:
        """MASE: MAE divided by the training-period naive MAE at ``horizon`` (Hyndman &
        Koehler 2006, "Another look at measures of forecast accuracy", IJF 22(4))."""

        scale = naive_mae_scale(closes, train_rows, horizon)
        for name, m in metrics.items():
            m["mase"] = float(np.mean(np.abs(truth - forecasts[name]))) / scale

    # ------------------------------------------------------------------ targets
    def _columns(self, base: str) -> list[str]:
        """Target columns the network learns: ``base`` and, for a MIMO or seq2seq path,
        each later step's (``base_2`` ...; :func:`lstmfc.dataset.targets.path_columns`)."""
        if self.n_outputs == 1:
            return [base]
        return [base, *(f"{base}_{k}" for k in range(2, self.steps + 1))]

    def fit_scaling(self, train_targets) -> dict[str, Any]:
        """``standard`` (log-return target) or ``minmax`` (level target) scaling, fit on
        the training rows; for a path one per step (step 1 at the top level, later steps
        in ``"path"``).

        Raises
        ------
        ArtifactError
            The training targets are constant or not finite (nothing to learn).
        """

        def one(column: str) -> dict[str, Any]:
            v = np.asarray(train_targets[column], dtype="float64")
            if self.price_target == "logret":
                mean, std = float(np.mean(v)), float(np.std(v))
                if not (np.all(np.isfinite(v)) and std > 0):
                    raise ArtifactError(
                        "training log returns are constant or not finite; nothing to learn"
                    )
                return {"column": column, "kind": "standard", "mean": mean, "std": std}
            lo, hi = float(np.min(v)), float(np.max(v))
            if not (np.all(np.isfinite(v)) and hi > lo):
                raise ArtifactError("training target prices are constant or not finite")
            return {"column": column, "kind": "minmax", "min": lo, "max": hi}

        base = "target_logret" if self.price_target == "logret" else "target_price"
        cols = self._columns(base)
        out = one(cols[0])
        if len(cols) > 1:
            out["path"] = [one(c) for c in cols[1:]]
        return out

    def check_scaling(self, scaling: dict[str, Any]) -> None:
        for entry in (scaling, *scaling.get("path", [])):
            need = {"standard": ("mean", "std"), "minmax": ("min", "max")}.get(entry.get("kind"))
            if need is None or not isinstance(entry.get("column"), str):
                raise ValueError("bad 'target' entry")
            for key in need:
                if not isinstance(entry.get(key), int | float) or isinstance(entry[key], bool):
                    raise ValueError(f"target {key!r} missing")

    @staticmethod
    def _entries(scaling: dict[str, Any]) -> list[dict[str, Any]]:
        return [scaling, *scaling.get("path", [])]

    def encode(self, scaling: dict[str, Any], targets) -> np.ndarray:
        cols = []
        for e in self._entries(scaling):
            v = np.asarray(targets[e["column"]], dtype="float64")
            if e["kind"] == "standard":
                v = (v - e["mean"]) / e["std"]
            else:
                v = (v - e["min"]) / (e["max"] - e["min"])
            cols.append(v.astype("float32"))
        return cols[0] if len(cols) == 1 else np.stack(cols, axis=1)

    def decode(self, scaling: dict[str, Any], raw, targets) -> np.ndarray:
        """Predicted close at ``t + h`` (currency), ``(n_windows,)``; for a path the
        close of every step, ``(n_windows, steps)``.

        ``targets`` may also be the closes at ``t`` themselves (an array ``(n,)``).
        """
        entries = self._entries(scaling)
        raw = np.asarray(raw, dtype="float64").reshape(-1, len(entries))
        out = np.empty(raw.shape)
        for j, e in enumerate(entries):
            if e["kind"] == "standard":
                closes_t = _closes(targets)
                if closes_t.shape != raw[:, j].shape:
                    raise ValueError(
                        f"closes_t has shape {closes_t.shape}, expected {raw[:, j].shape}"
                    )
                out[:, j] = closes_t * np.exp(e["mean"] + e["std"] * raw[:, j])
            else:
                out[:, j] = e["min"] + raw[:, j] * (e["max"] - e["min"])
        return out[:, 0] if len(entries) == 1 else out

    def forecast(self, scaling, predict_raw, windows, targets, prepare_meta) -> np.ndarray:
        """The network's forecasts; a ``recursive`` path feeds the one-step network its
        own forecast log returns (:func:`lstmfc.heads.paths.recursive_log_returns`) and returns
        the close of every step, ``(n_windows, steps)``."""
        if self.steps == 1 or self.strategy != "recursive":
            return self.decode(scaling, predict_raw(windows), targets)

        closes_t = _closes(targets)
        if scaling["kind"] == "standard":

            def one_step(raw):
                return scaling["mean"] + scaling["std"] * np.asarray(raw)[:, 0]

        else:  # a level target: the forecast close against the current close

            def one_step(raw):  # pragma: no cover - recursive level targets are refused
                raise ValueError("the recursive strategy needs --price-target logret")

        path = recursive_log_returns(predict_raw, windows, prepare_meta, self.steps, one_step)
        return closes_t[:, None] * np.exp(path)

    def truth(self, targets) -> np.ndarray:
        return self.step_targets(targets, "target_price", "float64")

    # ------------------------------------------------------------------ baselines
    def baselines(self, *, lookback: int, sma_k: int = 20, ema_span: int = 20) -> dict:

        return price_baselines(lookback=lookback, sma_k=sma_k, ema_span=ema_span)

    def baseline_forecast(self, baseline, closes, rows) -> np.ndarray:
        return baseline.forecast(closes, rows)

    # ------------------------------------------------------------------ scoring
    selection_criterion = "MSE"

    def selection_loss(self, targets, forecast) -> float:
        """Mean squared error of the price forecast (currency squared), the loss of the
        Diebold-Mariano tests."""
        return float(np.mean((self.truth(targets) - np.asarray(forecast, dtype="float64")) ** 2))

    def score(
        self, targets, forecasts, *, horizon, cost_bps=0.0, alpha=0.05, trading=True, best=None
    ):
        """RMSE/MAE/MAPE/directional accuracy/Theil's U per model; Diebold-Mariano (HLN,
        squared errors) of the LSTM against naive and against ``best``, and of every
        baseline against naive; long/flat on each model's direction."""

        y_true = self.truth(targets)
        last_close = _closes(targets)
        realised = np.asarray(targets["target_logret"], dtype="float64")
        naive = forecasts["naive"]
        table = {
            name: price_metrics(y_true, p, last_close, y_naive=naive)
            for name, p in forecasts.items()
        }
        pairs = [("lstm", "naive")]
        if best and best != "naive" and best in forecasts:
            pairs.append(("lstm", best))
        pairs += [(n, "naive") for n in forecasts if n not in ("naive", "lstm")]
        tests = []
        for name, bench in pairs:
            if name not in forecasts:
                continue
            try:
                d = diebold_mariano(
                    y_true,
                    forecasts[name],
                    forecasts[bench],
                    horizon=horizon,
                    alpha=alpha,
                    benchmark=bench,
                )
                tests.append({**d.to_dict(), "model": name, "benchmark": bench})
            except ValueError as exc:  # e.g. a one-window fold
                tests.append(undefined_test("diebold-mariano", name, bench, len(y_true), exc))
        trade = None
        if trading:
            trade = {
                name: long_flat_backtest(
                    price_to_signal(p, last_close),
                    realised,
                    horizon=horizon,
                    cost_bps=cost_bps,
                )
                for name, p in forecasts.items()
                if name != "naive"  # a random walk predicts no change: never long
            }
            trade["buy_and_hold"] = buy_and_hold(realised, horizon=horizon, cost_bps=cost_bps)
        return Scores(table, tests, trade)

    def fold_summary(self, metrics):
        m = metrics["lstm"]
        summary = {
            "rmse": m["rmse"],
            "naive_rmse": metrics["naive"]["rmse"],
            "theils_u": m["theils_u"],
            "directional_accuracy": m["directional_accuracy"],
        }
        return summary, bool(m["rmse"] < metrics["naive"]["rmse"])

    def summary_row(self, metrics):
        m = metrics["lstm"]
        return {
            "rmse": m["rmse"],
            "naive_rmse": metrics["naive"]["rmse"],
            "theils_u": m["theils_u"],
        }

    def forecast_table(self, targets, forecasts):
        return {"actual": self.truth(targets), **forecasts}

    # ------------------------------------------------------------------ training
    def val_metrics(self, scaling, raw, val_targets, train_targets) -> dict[str, float]:
        """RMSE and MAE of the predicted price (currency) and, for scale, the RMSE of
        the random-walk (naive) forecast ``price[t+h] = close[t]``; for a MIMO or
        seq2seq path those of step 1 plus ``steps_rmse`` / ``steps_naive_rmse`` per
        step."""
        close_t = _closes(val_targets)
        pred = self.decode(scaling, raw, val_targets)
        actual = self.truth(val_targets) if pred.ndim == 2 else self.step_head().truth(val_targets)
        if actual.ndim == 2 and pred.ndim == 1:  # a recursive network: its step 1
            actual = actual[:, 0]
        err = (pred - actual).reshape(len(close_t), -1)
        naive = (close_t[:, None] - actual.reshape(len(close_t), -1)) ** 2
        out = {
            "rmse": float(np.sqrt(np.mean(err[:, 0] ** 2))),
            "mae": float(np.mean(np.abs(err[:, 0]))),
            "naive_rmse": float(np.sqrt(np.mean(naive[:, 0]))),
        }
        if err.shape[1] > 1:
            out["steps_rmse"] = [float(v) for v in np.sqrt(np.mean(err**2, axis=0))]
            out["steps_naive_rmse"] = [float(v) for v in np.sqrt(np.mean(naive, axis=0))]
        return out

    # ------------------------------------------------------------------ forecast log
    def live_baselines(self, closes, train_rows, horizon: int) -> dict[str, Any]:
        """Parameters of the baselines ``predict`` logs next to each forecast, fit on the
        training rows (stored in the manifest): the drift ``mu`` (and ``sigma``) of
        :func:`lstmfc.forecasters.base.training_drift`."""

        mu, sigma = training_drift(np.asarray(closes, "float64"), np.asarray(train_rows), horizon)
        return {"drift": {"mu": mu, "sigma": sigma}}

    def log_values(self, forecast, close_as_of, live=None, horizon=1) -> dict[str, Any]:
        details = {}
        drift = (live or {}).get("drift")
        if drift:
            details["drift_price"] = float(close_as_of * np.exp(horizon * drift["mu"]))
        return {"forecast_price": float(forecast), "prob_up": None, "details": details}

    def score_logged(self, row, realised_close):
        up = realised_close > row["close_as_of"]
        return {
            "error": realised_close - row["forecast_price"],
            "naive_error": realised_close - row["close_as_of"],
            "direction_correct": int((row["forecast_price"] > row["close_as_of"]) == up),
        }

    def live_summary(self, rows):
        """MAE, RMSE (currency) of the model, the random walk and the random walk with
        drift (from the logged drift forecast, where logged), Theil's U, direction."""
        err = np.array([r["error"] for r in rows], dtype="float64")
        naive = np.array([r["naive_error"] for r in rows], dtype="float64")
        out: dict[str, Any] = {"n_scored": len(rows), "directional_accuracy": None}
        dirs = [r["direction_correct"] for r in rows if r["direction_correct"] is not None]
        if dirs:
            out["directional_accuracy"] = float(np.mean(dirs))
        if err.size:
            out.update(
                mae=float(np.mean(np.abs(err))),
                rmse=float(np.sqrt(np.mean(err**2))),
                naive_mae=float(np.mean(np.abs(naive))),
                naive_rmse=float(np.sqrt(np.mean(naive**2))),
            )
            out["theils_u"] = out["rmse"] / out["naive_rmse"] if out["naive_rmse"] > 0 else None
            out["beats_naive_rmse"] = bool(out["rmse"] < out["naive_rmse"])
            drift = [
                r["realised_close"] - d["drift_price"]
                for r in rows
                if "drift_price" in (d := log_details(r))
            ]
            if drift:
                out["drift_n"] = len(drift)
                out["drift_rmse"] = float(np.sqrt(np.mean(np.square(drift))))
        return out


def _closes(targets) -> np.ndarray:
    """Close at each window's end ``t`` from target rows (or an array of closes)."""
    if hasattr(targets, "columns"):
        return np.asarray(targets["close"], dtype="float64").reshape(-1)
    return np.asarray(targets, dtype="float64").reshape(-1)
