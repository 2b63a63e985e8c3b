"""The volatility head: the variance of the percent log return over the next h sessions.

Target and proxies
------------------
``R = 100 * target_logret = 100 * ln(close[t+h] / close[t])``, the h-session percent log
return (for ``h = 1`` the next session's). The network forecasts its conditional
variance (variance of percent returns, %^2) and is scored against the **squared
return** ``R**2``, the main proxy: conditionally unbiased for that variance, so QLIKE
and MSE rank forecasts as the true variance would (Patton 2011, "Volatility forecast
comparison using imperfect volatility proxies", J. Econometrics 160(1) 246-256). The
live ``score`` sees exactly this proxy (the realised close against the close at
``as_of``). Reported alongside, never trained on: **Parkinson's range variance**
``(100 ln(H/L))**2 / (4 ln 2)`` summed over the target sessions (``target_parkinson``,
:func:`lstmfc.dataset.targets.target_frame`; only when the series has high and low). It
measures trading-hours variance from the high/low only (no open is needed; in the
bundled S&P 500 sample the open equals the previous close on most rows before 2006)
and misses overnight moves, so it runs below the squared close-to-close return.

Scaling and output
------------------
The network learns ``y = R**2 / s`` with ``s`` the mean squared return of the TRAINING
windows (:meth:`VolHead.fit_scaling`), so targets are O(1). The output is one Dense
unit with an **exponential** activation, ``f = exp(z)``: a positive variance whose
logarithm is linear in the last hidden layer, as in EGARCH and log-HAR models (lstmfc's
lean training loop and the ONNX exporter both handle it; the recurrent layers' outputs
are bounded, so ``z`` is too). With it QLIKE is ``z + y exp(-z)``, convex in ``z``;
a softplus output trained on log returns alone collapsed to a constant forecast in our
runs (docs/volatility.md). A forecast is ``s * output`` in %^2, floored at ``1e-8 * s``.
Loss ``--loss qlike`` (default), ``mean(log f + y / f)`` (Patton 2011;
:func:`lstmfc.heads.losses.qlike`; scaling ``y`` and ``f`` by ``s`` shifts QLIKE by the
constant ``log s`` and leaves its minimiser unchanged), or ``--loss mse``.

Baselines (:class:`VolBaseline`, fitted on the training windows only and then held
fixed, like the network)
-------------------------------------------------------------------------------------
``garch`` GARCH(1,1) (Bollerslev 1986, J. Econometrics 31(3)), ``gjr`` GJR-GARCH(1,1,1)
(Glosten, Jagannathan & Runkle 1993, J. Finance 48(5)), ``egarch`` EGARCH(1,1) (Nelson
1991, Econometrica 59(2)), each with normal errors and with standardized Student-t
errors (``_t``; Bollerslev 1987, REStat 69(3); a t likelihood gives other parameters,
hence other variance forecasts), all fit by maximum likelihood with ``arch``; ``ewma``
(RiskMetrics, lambda 0.94); ``har`` (HAR on squared returns, Corsi 2009); ``rolling22``
(mean squared return over 22 sessions); ``constant`` (training variance). See
:mod:`lstmfc.forecasters.vol`.

Scores
------
QLIKE and MSE on the variance and MAE on the volatility (both proxies),
Mincer-Zarnowitz intercept, slope and R^2 (Mincer & Zarnowitz 1969; HAC standard
errors). Headline test: Diebold-Mariano with the Harvey-Leybourne-Newbold correction
on the QLIKE differential of the LSTM against ``garch`` (:data:`VolHead.benchmark`);
then against ``ewma`` and against the strongest baseline chosen on validation by
QLIKE; then every baseline against ``garch``. The Model Confidence Set over all models
(Hansen, Lunde & Nason 2011, Econometrica 79(2); ``arch.bootstrap.MCS``, size 0.10,
range statistic, stationary bootstrap, 1000 replications, seed 0) on QLIKE losses is
``Scores.extra["mcs"]``. No trading view.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from lstmfc.core.errors import ArtifactError, UsageError
from lstmfc.forecasters.vol import VolBaseline, vol_baselines
from lstmfc.heads import losses as keras_losses
from lstmfc.heads.base import (
    Head,
    Scores,
    log_details,
)
from lstmfc.stats.skill import undefined_test
from lstmfc.volatility import scoring as vol
from lstmfc.volatility.garch11 import garch11_forecast
from lstmfc.volatility.models import garch11_parameters
from lstmfc.volatility.proxies import squared_return
from lstmfc.volatility.scoring import mse, qlike
from lstmfc.volatility.series import percent_log_returns

VOL_LOSSES = ("qlike", "mse")

#: Model Confidence Set settings (Hansen, Lunde & Nason 2011; size 0.10 as in their
#: applications: a 90 % set).
MCS_SIZE = 0.10
MCS_REPS = 1000
MCS_SEED = 0

#: Sessions per year for annualised volatility (``sqrt(252 * daily variance)``).
SESSIONS_PER_YEAR = 252

#: Lowest forecast, as a fraction of the training mean squared return (QLIKE needs > 0).
FORECAST_FLOOR = 1e-8


class VolHead(Head):
    """Variance of the h-session percent log return (see the module docstring)."""

    name = "vol"
    help = "variance of the h-session percent log return; exponential output, QLIKE"
    OPTIONS: ClassVar[tuple[str, ...]] = ("loss",)
    benchmark = "garch"
    headline_label = "Diebold-Mariano (HLN) on QLIKE vs GARCH(1,1)"
    subject = "the LSTM's variance forecasts"
    benchmark_label = "GARCH's"
    also_against = (("ewma", "EWMA (RiskMetrics)"),)
    activation = "exponential"

    def __init__(self, loss: str | None = "qlike") -> None:
        super().__init__()
        loss = loss or "qlike"
        if loss not in VOL_LOSSES:
            raise UsageError(f"--loss must be qlike or mse for the vol head, not {loss!r}")
        #: ``qlike`` or ``mse`` (the head option; recorded as the manifest's loss).
        self.loss = loss

    def report_keys(self) -> dict[str, Any]:
        return {"price_target": None}

    def describe(self) -> str:
        return f"vol ({self.loss})"

    def make_loss(self, keras):
        """QLIKE (:func:`lstmfc.heads.losses.qlike`) or Keras's mean squared error."""
        if self.loss == "qlike":
            return keras_losses.qlike(keras.ops)
        return "mean_squared_error"

    # ------------------------------------------------------------------ targets
    def fit_scaling(self, train_targets) -> dict[str, Any]:
        """``s`` = mean squared h-session percent log return of the TRAINING windows.

        Raises
        ------
        ArtifactError
            The training returns are all zero or not finite (nothing to learn).
        """

        y = self._proxy(train_targets)
        s = float(np.mean(y)) if y.size else float("nan")
        if not (np.all(np.isfinite(y)) and s > 0):
            raise ArtifactError("training returns are all zero or not finite; nothing to learn")
        return {
            "column": "target_logret",
            "kind": "variance_ratio",
            "proxy": "squared percent log return",
            "scale": s,
            "units": "variance of percent log returns (%^2)",
        }

    def check_scaling(self, scaling: dict[str, Any]) -> None:
        if scaling.get("kind") != "variance_ratio" or not isinstance(scaling.get("column"), str):
            raise ValueError("bad 'target' entry")
        s = scaling.get("scale")
        if isinstance(s, bool) or not isinstance(s, int | float) or not s > 0:
            raise ValueError("target 'scale' missing or not positive")

    @staticmethod
    def _proxy(targets) -> np.ndarray:
        """Squared h-session percent log return ``(100 * target_logret)**2``, %^2
        (:func:`lstmfc.volatility.proxies.squared_return`)."""

        return squared_return(100.0 * np.asarray(targets["target_logret"], dtype="float64"))

    def encode(self, scaling: dict[str, Any], targets) -> np.ndarray:
        return (self._proxy(targets) / scaling["scale"]).astype("float32")

    def decode(self, scaling: dict[str, Any], raw, targets) -> np.ndarray:
        """Variance forecast ``(n_windows,)`` of the h-session percent log return, %^2.

        ``targets`` is not read (the forecast does not depend on the close level).
        """
        s = float(scaling["scale"])
        v = s * np.asarray(raw, dtype="float64").reshape(-1)
        return np.maximum(v, FORECAST_FLOOR * s)

    def truth(self, targets) -> np.ndarray:
        return self._proxy(targets)

    @staticmethod
    def parkinson(targets) -> np.ndarray | None:
        """The Parkinson proxy of the windows, %^2, or None where the data lacks it."""
        if not hasattr(targets, "columns") or "target_parkinson" not in targets.columns:
            return None
        pk = np.asarray(targets["target_parkinson"], dtype="float64")
        return pk if pk.size and np.all(np.isfinite(pk)) else None

    # ------------------------------------------------------------------ baselines
    def baselines(self, *, lookback: int, sma_k: int = 20, ema_span: int = 20) -> dict:
        return vol_baselines(lookback)

    def baseline_forecast(self, baseline, closes, rows) -> np.ndarray:
        return baseline.forecast(closes, rows)

    # ------------------------------------------------------------------ scoring
    selection_criterion = "QLIKE"

    def selection_loss(self, targets, forecast) -> float:
        """Mean QLIKE against the squared return (the loss of the skill tests)."""

        return qlike(self.truth(targets), np.asarray(forecast, dtype="float64"))

    def score(
        self, targets, forecasts, *, horizon, cost_bps=0.0, alpha=0.05, trading=True, best=None
    ):
        """QLIKE, MSE, MAE (volatility) and Mincer-Zarnowitz per model on both proxies;
        Diebold-Mariano (HLN) on QLIKE differentials of the LSTM against ``garch``,
        ``ewma`` and ``best``, and of every baseline against ``garch``; the Model
        Confidence Set of all models on QLIKE (``extra["mcs"]``). No trading view."""

        y = self.truth(targets)
        pk = self.parkinson(targets)
        f = {name: np.asarray(v, dtype="float64").reshape(-1) for name, v in forecasts.items()}
        table = {}
        for name, v in f.items():
            m = vol.volatility_metrics(y, v, horizon=horizon)
            mz = m["mincer_zarnowitz"]
            entry = {
                "qlike": m["qlike"],
                "mse": m["mse"],
                "mae_vol": m["mae_vol"],
                "mz_intercept": mz["intercept"],
                "mz_slope": mz["slope"],
                "mz_r2": mz["r2"],
                "mz_wald_p_value": mz["wald_p_value"],
                "mean_variance": float(np.mean(v)),
                "n": m["n"],
                "mincer_zarnowitz": mz,
            }
            if pk is not None:
                entry.update(
                    qlike_parkinson=vol.qlike(pk, v),
                    mse_parkinson=vol.mse(pk, v),
                    mae_vol_parkinson=vol.mae_vol(pk, v),
                )
            table[name] = entry
        losses = {name: vol.qlike_losses(y, v) for name, v in f.items()}
        pairs = [("lstm", self.benchmark), ("lstm", "ewma")]
        if best and best in f and best not in (self.benchmark, "ewma"):
            pairs.append(("lstm", best))
        pairs += [(n, self.benchmark) for n in f if n not in ("lstm", self.benchmark)]
        tests = []
        for name, bench in pairs:
            if name not in f or bench not in f:
                continue
            try:
                d = vol.dm_on_losses(
                    losses[name], losses[bench], horizon, alpha=alpha, benchmark=bench
                )
                tests.append({**d.to_dict(), "model": name, "benchmark": bench})
            except ValueError as exc:  # e.g. a one-window fold
                tests.append(undefined_test("diebold-mariano", name, bench, len(y), exc))
        try:
            mcs = vol.model_confidence_set(losses, size=MCS_SIZE, reps=MCS_REPS, seed=MCS_SEED)
            mcs.update(loss="qlike", proxy="squared return")
        except ValueError as exc:
            mcs = {"included": None, "p_values": None, "size": MCS_SIZE, "note": str(exc)}
        return Scores(table, tests, None, extra={"mcs": mcs})

    def fold_summary(self, metrics):
        m = metrics["lstm"]
        g = metrics[self.benchmark]
        summary = {"qlike": m["qlike"], "garch_qlike": g["qlike"], "mse": m["mse"]}
        return summary, bool(m["qlike"] < g["qlike"])

    def forecast_table(self, targets, forecasts):
        """The squared-return proxy and each model's variance forecast (%^2)."""
        out = {"proxy_sq_return": self.truth(targets)}
        pk = self.parkinson(targets)
        if pk is not None:
            out["proxy_parkinson"] = pk
        return {**out, **forecasts}

    # ------------------------------------------------------------------ training
    def val_metrics(self, scaling, raw, val_targets, train_targets) -> dict[str, float]:
        """QLIKE and MSE of the network on the validation windows, and the QLIKE of the
        constant training variance (``scale``) for reference."""

        y = self.truth(val_targets)
        f = self.decode(scaling, raw, val_targets)
        return {
            "qlike": qlike(y, f),
            "mse": mse(y, f),
            "constant_qlike": qlike(y, np.full(y.size, float(scaling["scale"]))),
        }

    # ------------------------------------------------------------------ forecast log
    def live_baselines(self, closes, train_rows, horizon: int) -> dict[str, Any]:
        """The GARCH(1,1) baseline (normal errors) fit at train time on the training rows
        (from row 0 to the last training target, the sample ``evaluate`` fits it on),
        stored in the manifest: ``mu``, ``omega``, ``alpha``, ``beta`` and arch's
        backcast. ``predict`` filters the stored series with them (:meth:`filter_live`)."""

        rows = np.asarray(train_rows)
        b = VolBaseline("garch_normal", lookback=int(rows.min()) + 1)
        b.fit(np.asarray(closes, "float64"), rows, horizon)
        return {
            "garch": {
                **garch11_parameters(b.model),
                "horizon": int(horizon),
                "fit_rows": [b.start_, b.last_],
            }
        }

    def live_inputs(self, bundle, raw, as_of, log) -> dict[str, Any] | None:
        """The stored live baselines with the GARCH(1,1) forecast filtered through the
        stored closes up to ``as_of`` (:meth:`filter_live`)."""
        return self.filter_live(
            bundle.manifest.get("live_baselines"),
            raw["close"].loc[:as_of],
            bundle.manifest.get("prepare"),
        )

    def filter_live(self, live, closes, meta=None) -> dict[str, Any] | None:
        """``live`` with the logged GARCH(1,1) forecast made at the last close of ``closes``.

        Parameters
        ----------
        live : dict or None
            The manifest's ``live_baselines``.
        closes : pandas.Series
            Stored closes up to ``as_of`` (currency, indexed by date).
        meta : dict, optional
            The bundle's ``prepare`` document: returns are filtered from its
            ``first_date`` (the first close of the fit's sample), as ``evaluate`` does.

        Returns
        -------
        dict or None
            ``live`` plus ``garch.variance``: the GARCH(1,1) variance of the h-session
            percent log return after ``as_of`` (%^2), from the stored parameters
            (never refit): the one-step variance of the filtered recursion, then
            ``sum_{k=1..h} vbar + (alpha + beta)**(k-1) * (sigma2_{t+1} - vbar)`` with
            ``vbar = omega / (1 - alpha - beta)`` (Bollerslev 1986; arch's analytic
            forecast).
        """
        g = (live or {}).get("garch")
        if not g:
            return live

        s = closes
        first = (meta or {}).get("first_date")
        if first is not None and hasattr(s, "index"):
            import pandas as pd

            s = s.loc[s.index >= pd.Timestamp(first)]
        c = np.asarray(s, dtype="float64")
        if c.size < 2:
            return live
        variance = garch11_forecast(percent_log_returns(c), g, int(g.get("horizon", 1)))
        return {**live, "garch": {**g, "variance": variance}}

    def log_values(self, forecast, close_as_of, live=None, horizon=1) -> dict[str, Any]:
        """The variance forecast (%^2), its volatility and annualised volatility (%)
        in ``details``, with the logged GARCH(1,1) forecast where available."""
        v = float(forecast)
        details = {
            "variance": v,
            "volatility_pct": math.sqrt(v),
            "annualised_vol_pct": _annualised(v, horizon),
            "horizon": int(horizon),
        }
        g = (live or {}).get("garch") or {}
        if g.get("variance") is not None:
            details["garch_variance"] = float(g["variance"])
            details["garch_annualised_vol_pct"] = _annualised(g["variance"], horizon)
        return {"forecast_price": None, "prob_up": None, "details": details}

    def score_logged(self, row, realised_close):
        """``error`` = squared realised h-session percent return minus the variance
        forecast (%^2); no naive error or direction."""
        v = log_details(row).get("variance")
        y = (100.0 * math.log(realised_close / row["close_as_of"])) ** 2
        return {
            "error": None if v is None else y - float(v),
            "naive_error": None,
            "direction_correct": None,
        }

    def live_summary(self, rows):
        """QLIKE and MSE of the logged variance forecasts against the squared realised
        return, and of the logged GARCH(1,1) forecasts where logged."""

        out: dict[str, Any] = {"n_scored": len(rows)}
        pairs = []
        for r in rows:
            d = log_details(r)
            if d.get("variance") is None or r.get("realised_close") is None:
                continue
            y = (100.0 * math.log(r["realised_close"] / r["close_as_of"])) ** 2
            pairs.append((y, float(d["variance"]), d.get("garch_variance")))
        if pairs:
            y = np.array([p[0] for p in pairs])
            f = np.array([p[1] for p in pairs])
            out.update(qlike=qlike(y, f), mse=mse(y, f))
            both = [(a, b, g) for a, b, g in pairs if g is not None]
            if both:
                yg = np.array([p[0] for p in both])
                out.update(
                    garch_n=len(both),
                    garch_qlike=qlike(yg, np.array([p[2] for p in both])),
                    garch_mse=mse(yg, np.array([p[2] for p in both])),
                    qlike_same_rows=qlike(yg, np.array([p[1] for p in both])),
                )
                out["beats_garch_qlike"] = bool(out["qlike_same_rows"] < out["garch_qlike"])
        return out


def _annualised(variance: float, horizon: int) -> float:
    """Annualised volatility in percent of an h-session variance: ``sqrt(252 v / h)``."""
    return math.sqrt(SESSIONS_PER_YEAR * float(variance) / max(1, int(horizon)))
