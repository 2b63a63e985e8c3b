"""The quantile head: quantiles of the h-session log return, VaR, ES and calibrated intervals.

Target
------
``r = log(close[t+h] / close[t])``, the log return over the horizon. The network learns
the standardised return ``z = (r - mean) / std`` (``mean``, ``std`` of the TRAINING
windows' returns) through the pinball loss averaged over the levels
(:func:`lstmfc.heads.losses.pinball`; Koenker & Bassett 1978, Econometrica 46(1)); the encoded
target has shape ``(n, 1)`` and the loss broadcasts it against the ``(n, k)`` output, on
the lean loop (:mod:`lstmfc.network.fastfit`) and on Keras's ``Model.fit`` alike. A forecast is
``q_tau = mean + std * z_tau`` (log return, ``(n, k)``); price quantiles are
``close[t] * exp(q_tau)`` (currency). Levels: ``--quantiles``, default
0.01, 0.025, 0.05, 0.5, 0.95, 0.975, 0.99 (:data:`lstmfc.quantiles.levels.DEFAULT_LEVELS`).

Non-crossing by construction
----------------------------
The output is two Dense layers (a chain :mod:`lstmfc.network.fastfit` and the ONNX exporter
run): ``Dense(k + 1, softplus)`` gives ``u = [a, b, d_1 .. d_{k-1}] > 0`` and a FIXED,
non-trainable ``Dense(k, use_bias=False)`` (:func:`assembly_matrix`) turns it into the
median ``a - b`` (the level nearest 0.5) and cumulative sums of the increments ``d``
above and below it, so ``q_{j+1} - q_j = d_j >= 0`` for any weights: the quantiles never
cross, with no sorting after the fact (the monotone-network idea of e.g. Cannon 2018,
"Non-crossing nonlinear regression quantiles by monotone composite quantile regression
neural network", SERRA 32(11)). The increments' biases start at the softplus inverse of
the standard-normal quantile gaps, so an untrained network already forecasts roughly
the training distribution.

Calibration
-----------
(:mod:`lstmfc.quantiles.conformal`.) **CQR** (Romano, Patterson & Candes 2019), one-sided
per level, fitted at train time on the VALIDATION rows only (``cqr_fit``, rank rule
``tail``) and stored in the manifest (``training.val.cqr``); backtests fit it per fit on
that fit's validation windows. **ACI** (Gibbs & Candes 2021) on top of the CQR forecasts
(``gamma = 0.005``, read-off bound 0.001): ``evaluate`` and ``backtest`` walk it through
the test forecasts one session at a time using only outcomes already realised (the
outcome of the forecast made at ``t`` is absorbed once ``t + h`` has passed:
``aci_walk``); ``predict`` carries the state in the forecast log's ``details`` and
updates it from realised closes before each new forecast (:meth:`QuantileHead.live_context`).
The report shows three LSTM forecasts: ``lstm`` (raw network), ``lstm_cqr``, ``lstm_aci``.

Risk measures
-------------
VaR at 1 %, 2.5 %, 5 %: the quantile at that level (log return; as a loss in percent
``-100 q``, in currency ``close (1 - exp(q))``). ES at 97.5 % and 99 % (``alpha`` = 0.025,
0.01): ``ES_a = (1/a) int_0^a q(u) du`` with ``q(u)`` the quantile set interpolated
linearly in ``Phi^{-1}(u)`` and integrated exactly (:mod:`lstmfc.quantiles.var_es`;
Acerbi & Tasche 2002, J. Banking & Finance 26(7)); in currency, ``(1/a) int_0^a close
(1 - exp(q(u))) du``, also exactly (:func:`lstmfc.quantiles.quantile_function.mean_exp_below`).

Baselines (fitted on the training rows only)
--------------------------------------------
``hs250``, ``ewma``, ``garch_n``, ``garch_t`` and ``unconditional``
(:mod:`lstmfc.forecasters.quantile`). Headline benchmark: ``garch_t``.

Scores and tests
----------------
(:func:`lstmfc.quantiles.report.quantile_report`.) Pinball loss per level and on average,
CRPS approximated from the quantiles, coverage, mean width and Winkler score of the 90 %
and 98 % central intervals; VaR backtests (hits against the expected number, Kupiec 1995
POF, Christoffersen 1998 independence and conditional coverage) and ES backtests (Acerbi
& Szekely 2014 Z2 with a simulated p-value; McNeil & Frey 2000) in ``Scores.extra``;
Diebold-Mariano (HLN) on the mean pinball loss of each LSTM forecast against ``garch_t``
and against the strongest baseline chosen on validation.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from lstmfc.core.errors import ArtifactError, UsageError
from lstmfc.dataset.live import windows_from_raw
from lstmfc.forecasters.quantile import garch_live_params, garch_live_quantiles, quantile_baselines
from lstmfc.heads.base import (
    Head,
    Scores,
    log_details,
)
from lstmfc.heads.losses import pinball
from lstmfc.quantiles.backtests import hit_sequence, kupiec_test
from lstmfc.quantiles.conformal import (
    ACIState,
    CQRCalibration,
    aci_forecast,
    aci_init,
    aci_update,
    aci_walk,
    cqr_fit,
)
from lstmfc.quantiles.levels import (
    DEFAULT_LEVELS,
    ES_LEVELS,
    VAR_LEVELS,
    level_index,
    monotone_quantiles,
    parse_levels,
)
from lstmfc.quantiles.quantile_function import mean_exp_below, quantile_at
from lstmfc.quantiles.report import ReportOptions, quantile_report
from lstmfc.quantiles.scoring import pinball_dm_test, pinball_loss
from lstmfc.quantiles.var_es import ES_ESTIMATOR, expected_shortfall, value_at_risk
from lstmfc.stats.skill import undefined_test

#: The three LSTM forecasts the head reports: raw network, split-conformal, ACI.
LSTM_VARIANTS = ("lstm", "lstm_cqr", "lstm_aci")
#: Monte Carlo paths of the Acerbi-Szekely Z2 p-value and bootstrap draws of McNeil-Frey.
REPORT_OPTIONS = ReportOptions(n_sim=2000, n_boot=2000, seed=0)


# ---------------------------------------------------------------------------
# the non-crossing output layer
# ---------------------------------------------------------------------------


def median_column(levels) -> int:
    """Column of the level nearest 0.5 (the lower one on a tie): the anchor of the chain."""
    lv = np.asarray(levels, dtype=np.float64)
    return int(np.argmin(np.abs(lv - 0.5)))


def assembly_matrix(levels) -> np.ndarray:
    """The fixed weights ``(k + 1, k)`` turning ``[a, b, d_1 .. d_{k-1}]`` into quantiles.

    Column ``m`` (:func:`median_column`) is ``a - b``; column ``j > m`` adds
    ``d_m .. d_{j-1}`` (0-based gap ``i`` sits between columns ``i`` and ``i + 1`` and is
    input ``2 + i``), column ``j < m`` subtracts ``d_j .. d_{m-1}``. Hence
    ``q_{j+1} - q_j = d_j`` for every ``j``: non-negative increments give non-decreasing
    quantiles.

    Returns
    -------
    numpy.ndarray, shape (k + 1, k), float32
    """
    k = len(levels)
    m = median_column(levels)
    w = np.zeros((k + 1, k), dtype=np.float32)
    w[0, :] = 1.0
    w[1, :] = -1.0
    for j in range(k):
        if j > m:
            w[2 + m : 2 + j, j] = 1.0
        elif j < m:
            w[2 + j : 2 + m, j] = -1.0
    return w


def initial_bias(levels) -> np.ndarray:
    """Biases ``(k + 1,)`` of the softplus layer: ``a = b = softplus^{-1}(1)`` (median 0)
    and each increment ``softplus^{-1}(Phi^{-1}(tau_{j+1}) - Phi^{-1}(tau_j))``, the
    standard-normal quantile gap (the standardised target starts near N(0, 1))."""
    from scipy.special import ndtri

    gaps = np.diff(ndtri(np.asarray(levels, dtype=np.float64)))
    target = np.concatenate([[1.0, 1.0], gaps])
    return np.log(np.expm1(target)).astype(np.float32)  # inverse softplus


# ---------------------------------------------------------------------------
# the head
# ---------------------------------------------------------------------------


class QuantileHead(Head):
    """Quantiles of ``log(close[t+h] / close[t])`` (see the module docstring)."""

    name = "quantile"
    help = "quantiles of the h-session log return (VaR, ES, intervals); pinball loss"
    OPTIONS: ClassVar[tuple[str, ...]] = ("quantiles",)
    benchmark = "garch_t"
    headline_label = "Diebold-Mariano (HLN) on the mean pinball loss vs GARCH(1,1)-t"
    subject = "the LSTM's quantiles"
    benchmark_label = "GARCH-t's"
    calibrates = True
    n_outputs = len(DEFAULT_LEVELS)
    activation = "softplus"
    loss = "pinball"

    def __init__(self, quantiles=None) -> None:
        super().__init__()
        try:
            levels = parse_levels(quantiles)
        except ValueError as exc:
            raise UsageError(f"--quantiles: {exc}") from None
        if len(levels) < 2:
            raise UsageError("--quantiles needs at least 2 levels (e.g. 0.05,0.5,0.95)")
        self.levels = levels
        self.quantiles = [float(v) for v in levels]
        self.n_outputs = len(levels)
        self._calibration_doc: dict[str, Any] | None = None

    def report_keys(self) -> dict[str, Any]:
        return {"price_target": None}

    def describe(self) -> str:
        return f"quantile ({','.join(f'{v:g}' for v in self.levels)})"

    # ------------------------------------------------------------------ network
    def make_loss(self, keras):

        return pinball(keras.ops, self.levels)

    def build_output(self, keras, x, regularizer=None):
        """``Dense(k + 1, softplus)`` then the fixed ``Dense(k)`` of :func:`assembly_matrix`
        (non-trainable, no bias): quantiles that cannot cross, in a plain Dense chain."""
        k = self.n_outputs
        inc = keras.layers.Dense(
            k + 1,
            activation="softplus",
            kernel_regularizer=regularizer,
            name="quantile_increments",
        )
        h = inc(x)
        inc.set_weights([inc.get_weights()[0], initial_bias(self.levels)])
        fixed = keras.layers.Dense(k, use_bias=False, trainable=False, name=self.name)
        out = fixed(h)
        fixed.set_weights([assembly_matrix(self.levels)])
        return out

    # ------------------------------------------------------------------ targets
    def fit_scaling(self, train_targets) -> dict[str, Any]:
        """Mean and std of the training windows' log returns (``standard`` scaling).

        Raises
        ------
        ArtifactError
            The training log returns are constant or not finite.
        """

        r = np.asarray(train_targets["target_logret"], dtype="float64")
        mean, std = float(np.mean(r)), float(np.std(r))
        if not (np.all(np.isfinite(r)) and std > 0):
            raise ArtifactError("training log returns are constant or not finite; nothing to learn")
        return {
            "column": "target_logret",
            "kind": "standard",
            "mean": mean,
            "std": std,
            "levels": list(self.levels),
        }

    def check_scaling(self, scaling: dict[str, Any]) -> None:
        if scaling.get("kind") != "standard" or not isinstance(scaling.get("column"), str):
            raise ValueError("bad 'target' entry")
        for key in ("mean", "std"):
            if not isinstance(scaling.get(key), int | float) or isinstance(scaling[key], bool):
                raise ValueError(f"target {key!r} missing")
        if list(scaling.get("levels") or []) != list(self.levels):
            raise ValueError("target 'levels' do not match the head's quantile levels")

    def encode(self, scaling: dict[str, Any], targets) -> np.ndarray:
        """Standardised log return, ``(n, 1)`` float32 (the pinball loss broadcasts it
        over the ``k`` outputs)."""
        r = np.asarray(targets[scaling["column"]], dtype="float64")
        return ((r - scaling["mean"]) / scaling["std"]).astype("float32").reshape(-1, 1)

    def decode(self, scaling: dict[str, Any], raw, targets) -> np.ndarray:
        """Log-return quantiles ``(n, k)``: ``mean + std * raw``.

        The network's columns are non-decreasing by construction; float32 rounding of
        the fixed layer's sums can leave a column one ulp below its neighbour when an
        increment underflows, which the outward running max/min of
        :func:`lstmfc.quantiles.levels.monotone_quantiles` removes (it changes nothing else).
        """
        raw = np.asarray(raw, dtype="float64")
        if raw.ndim != 2 or raw.shape[1] != self.n_outputs:
            raise ValueError(
                f"network output has shape {raw.shape}, expected (n, {self.n_outputs})"
            )
        q = scaling["mean"] + scaling["std"] * raw
        return monotone_quantiles(q, self.levels) if len(q) else q

    def truth(self, targets) -> np.ndarray:
        return np.asarray(targets["target_logret"], dtype="float64")

    # ------------------------------------------------------------------ calibration
    def fit_calibration(self, val_targets, val_forecast) -> dict[str, Any]:
        """CQR shifts fitted on VALIDATION rows and the initial ACI state (JSON).

        Parameters
        ----------
        val_targets : DataFrame
            Target rows of the validation windows.
        val_forecast : ndarray, shape (n_val, k)
            The network's decoded quantiles for them.
        """
        cqr = cqr_fit(self.truth(val_targets), val_forecast, self.levels)
        return {"cqr": cqr.to_dict(), "aci": aci_init(self.levels).to_dict()}

    def calibrate(
        self, calibration: dict[str, Any], targets, forecast, *, rows=None, horizon=1, carry=None
    ) -> tuple[dict[str, np.ndarray], Any]:
        """The split-conformal and ACI forecasts of the raw LSTM quantiles.

        Parameters
        ----------
        calibration : dict
            :meth:`fit_calibration` output (stored in the manifest's ``training.val``).
        targets : DataFrame
            Target rows of the forecasts, in date order (ACI reads each realised log
            return only once it is known: :func:`aci_walk`).
        forecast : ndarray, shape (n, k)
        rows : array_like, shape (n,), optional
            Origin rows (session numbers); default consecutive.
        horizon : int
        carry : tuple, optional
            ``(ACIState, pending)`` from an earlier segment (backtest fits).

        Returns
        -------
        (dict, tuple)
            ``{"lstm_cqr": (n, k), "lstm_aci": (n, k)}`` and the ``carry`` to pass on.
        """
        cqr = CQRCalibration.from_dict(calibration["cqr"])
        q_cqr = cqr.apply(forecast)
        if carry is None:
            state, pending = ACIState.from_dict(calibration["aci"]), []
        else:
            state, pending = carry
        rows = np.arange(len(q_cqr)) if rows is None else np.asarray(rows)
        q_aci, state, pending = aci_walk(
            self.truth(targets), q_cqr, self.levels, rows, int(horizon), state, pending
        )
        if carry is None:
            self._calibration_doc = {"cqr": calibration["cqr"], "aci_final": state.to_dict()}
        else:  # a later backtest fit: each fit has its own CQR shifts (fits[].calibration)
            self._calibration_doc = {"cqr_note": "fitted per fit", "aci_final": state.to_dict()}
        return {"lstm_cqr": q_cqr, "lstm_aci": q_aci}, (state, pending)

    def calibrated_forecasts(self, manifest: dict[str, Any], targets, forecast, horizon=1) -> dict:
        """:meth:`calibrate` with the calibration stored in a bundle manifest (evaluate)."""
        cal = ((manifest.get("training") or {}).get("val") or {}).get("calibration")
        if not cal:
            return {}
        out, _ = self.calibrate(cal, targets, forecast, horizon=horizon)
        return out

    # ------------------------------------------------------------------ baselines
    def baselines(self, *, lookback: int, sma_k: int = 20, ema_span: int = 20) -> dict:
        return quantile_baselines(self.levels)

    def baseline_forecast(self, baseline, closes, rows) -> np.ndarray:
        return baseline.forecast(closes, rows)

    # ------------------------------------------------------------------ scoring
    selection_criterion = "mean pinball loss"

    def selection_loss(self, targets, forecast) -> float:
        """Mean pinball loss over dates and levels (log-return units)."""
        return float(pinball_loss(self.truth(targets), forecast, self.levels).mean())

    def score(
        self, targets, forecasts, *, horizon, cost_bps=0.0, alpha=0.05, trading=True, best=None
    ):
        """Scores, VaR/ES backtests and Diebold-Mariano tests on the pinball loss.

        ``metrics`` per model: ``pinball`` (mean), ``pinball_per_level``, ``crps``,
        ``coverage_90``/``width_90``/``winkler_90`` and the same for 98 %, VaR hits at 1 %
        and 5 %. ``tests``: DM (HLN) on the mean pinball loss of the LSTM against
        ``garch_t`` (the headline), against ``best``, then of ``lstm_cqr``/``lstm_aci``
        and every other baseline against ``garch_t``. ``extra``: ``var_backtests``,
        ``es_backtests``, ``calibration``, ``es_estimator``, ``quantile_levels``.
        No trading view (``trading`` is None).
        """
        y = self.truth(targets)
        lv = self.levels
        reports = {
            name: quantile_report(y, q, lv, horizon=horizon, options=REPORT_OPTIONS)
            for name, q in forecasts.items()
        }
        metrics = {name: _metrics(rep) for name, rep in reports.items()}
        bench = self.benchmark
        pairs = []
        if "lstm" in forecasts and bench in forecasts:
            pairs.append(("lstm", bench))
        if best and best != bench and best in forecasts:
            pairs.append(("lstm", best))
        for name in ("lstm_cqr", "lstm_aci"):
            if name in forecasts:
                pairs.append((name, bench))
                if best and best != bench and best in forecasts:
                    pairs.append((name, best))
        pairs += [(n, bench) for n in forecasts if n not in (*LSTM_VARIANTS, bench)]
        tests = []
        for name, b in pairs:
            if b not in forecasts:
                continue
            try:
                t = pinball_dm_test(
                    y, forecasts[name], forecasts[b], lv, horizon=horizon, alpha=alpha, benchmark=b
                )
                tests.append({**t, "model": name, "benchmark": b})
            except ValueError as exc:
                tests.append(undefined_test("diebold-mariano", name, b, len(y), exc))
        extra = {
            "quantile_levels": list(lv),
            "var_backtests": {n: _var_rows(rep) for n, rep in reports.items()},
            "es_backtests": {n: _es_rows(rep) for n, rep in reports.items()},
            "es_estimator": ES_ESTIMATOR,
            "calibration": self._calibration_summary(y, forecasts),
        }
        if horizon > 1:
            extra["notes"] = reports[next(iter(reports))]["notes"]
        extra["calibration_check"] = _calibration_check(metrics, extra["var_backtests"])
        return Scores(metrics, tests, None, extra)

    def _calibration_summary(self, y, forecasts) -> dict[str, Any]:
        """Per level, how often ``y <= q`` for each LSTM forecast (target: the level), and
        the CQR/ACI documents of the last :meth:`calibrate` call."""
        per = {}
        for j, tau in enumerate(self.levels):
            per[f"{tau:g}"] = {
                n: float(np.mean(y <= forecasts[n][:, j])) for n in LSTM_VARIANTS if n in forecasts
            }
        out: dict[str, Any] = {"frequency_at_or_below": per}
        if self._calibration_doc is not None and "lstm_cqr" in forecasts:
            out.update(self._calibration_doc)
        return out

    def fold_summary(self, metrics):
        m = metrics["lstm"]
        g = (metrics.get(self.benchmark) or {}).get("pinball")
        summary = {
            "pinball": m["pinball"],
            "garch_t_pinball": g,
            "coverage_90": m.get("coverage_90"),
            "var1_hits": m.get("var1_hits"),
        }
        return summary, bool(g is not None and m["pinball"] < g)

    def forecast_table(self, targets, forecasts):
        out: dict[str, Any] = {"realised_logret": self.truth(targets)}
        for name, q in forecasts.items():
            for j, tau in enumerate(self.levels):
                out[f"{name}_q{tau:g}"] = np.asarray(q)[:, j]
        return out

    # ------------------------------------------------------------------ training
    def val_metrics(self, scaling, raw, val_targets, train_targets) -> dict[str, Any]:
        """Validation pinball loss of the kept weights and of the training unconditional
        quantiles (for scale), raw 90 % coverage, and the calibration fitted on these
        validation rows (``calibration``: CQR shifts and the initial ACI state)."""
        y = self.truth(val_targets)
        q = self.decode(scaling, raw, val_targets)
        uncond = np.quantile(self.truth(train_targets), self.levels)
        out = {
            "pinball": float(pinball_loss(y, q, self.levels).mean()),
            "unconditional_pinball": float(
                pinball_loss(y, np.tile(uncond, (len(y), 1)), self.levels).mean()
            ),
            "coverage_90": _coverage(y, q, self.levels, 0.05, 0.95),
            "calibration": self.fit_calibration(val_targets, q),
        }
        return out

    # ------------------------------------------------------------------ forecast log
    def live_baselines(self, closes, train_rows, horizon: int) -> dict[str, Any]:
        """GARCH(1,1)-t fitted on the training rows (:func:`garch_live_params`), logged
        next to each forecast by :func:`garch_live_quantiles`."""
        return {"garch_t": garch_live_params(closes, train_rows, horizon, self.levels)}

    def live_inputs(self, bundle, raw, as_of, log) -> dict[str, Any] | None:
        """:meth:`live_context` from the ticker's rows of the forecast log."""
        ticker = bundle.manifest.get("ticker")
        return self.live_context(bundle, raw, log.rows(ticker), as_of)

    def live_context(self, bundle, raw, log_rows, as_of) -> dict[str, Any]:
        """What ``predict`` needs besides the network: the calibration, the ACI state
        updated from every logged forecast of this run whose outcome is now realised, and
        the live GARCH-t quantiles.

        The state comes from the latest earlier log row of this ticker and run (its
        ``details.aci_state`` absorbed outcomes up to ``details.aci_absorbed_as_of``);
        then each later row whose target session is in ``raw`` is absorbed in date order
        with the ACI forecast it issued (:func:`lstmfc.quantiles.conformal.aci_update`).
        Without earlier rows (the run's first ``predict``) the walk is replayed from the manifest's
        initial state at the first test window through every session whose outcome is
        realised by ``as_of`` (:meth:`replay_aci`), so the first live forecast is
        calibrated like ``evaluate``'s ``lstm_aci`` at the end of its walk.
        """
        import pandas as pd

        manifest = bundle.manifest
        cal = ((manifest.get("training") or {}).get("val") or {}).get("calibration") or {
            "cqr": None,
            "aci": aci_init(self.levels).to_dict(),
        }
        h = int(bundle.horizon)
        day = pd.Timestamp(as_of).strftime("%Y-%m-%d")
        mine = sorted(
            (
                r
                for r in log_rows
                if r.get("run_id") == bundle.run_id
                and r.get("head") == self.name
                and r.get("as_of") < day
            ),
            key=lambda r: r["as_of"],
        )
        state = ACIState.from_dict(cal["aci"])
        absorbed = None
        for r in reversed(mine):
            d = log_details(r)
            if "aci_state" in d:
                state = ACIState.from_dict(d["aci_state"])
                absorbed = d.get("aci_absorbed_as_of")
                break
        else:  # no logged state: the run's first predict
            state, absorbed = self.replay_aci(bundle, raw, as_of, cal, state)
        closes = raw["close"]
        for r in mine:
            if absorbed is not None and r["as_of"] <= absorbed:
                continue
            after = closes.loc[closes.index > pd.Timestamp(r["as_of"])]
            if len(after) < h or after.index[h - 1] > pd.Timestamp(as_of):
                break  # later rows are not realised either
            issued = log_details(r).get("aci")
            if issued is None:
                continue
            y = math.log(float(after.iloc[h - 1]) / float(r["close_as_of"]))
            state = aci_update(state, y, np.asarray(issued, dtype=np.float64))
            absorbed = r["as_of"]
        live: dict[str, Any] = {
            "calibration": cal,
            "aci_state": state.to_dict(),
            "aci_absorbed_as_of": absorbed,
        }
        g = (manifest.get("live_baselines") or {}).get("garch_t")
        start = (manifest.get("prepare") or {}).get("first_date")
        if g and start:
            c = closes.loc[pd.Timestamp(start) : pd.Timestamp(as_of)].to_numpy(dtype="float64")
            if c.size >= 2:
                live["garch_t"] = [float(v) for v in garch_live_quantiles(g, c, self.levels, h)]
        return live

    def replay_aci(self, bundle, raw, as_of, cal, state) -> tuple[ACIState, str | None]:
        """ACI walked from ``state`` (the manifest's, at the first test window) through
        every window from the first test window end to the last one whose outcome is
        realised by ``as_of``, with the network's CQR-shifted forecasts of those windows
        (:func:`aci_walk`, then the outcomes still pending are absorbed too).

        Reads ``raw`` up to ``as_of`` only. Returns the state and the date of the last
        window absorbed (``None``, with ``state`` unchanged, when there is none: e.g. a
        bundle without the split in its manifest).
        """
        import pandas as pd

        meta = bundle.manifest.get("prepare") or {}
        start = ((meta.get("split") or {}).get("test") or {}).get("first_window_end")
        if not start:
            return state, None
        h = int(bundle.horizon)
        upto = raw.loc[: pd.Timestamp(as_of)]
        x, ends = windows_from_raw(upto, meta, start)
        closes = upto["close"].to_numpy(dtype=np.float64)
        pos = upto.index.get_indexer(ends)
        keep = pos + h <= len(upto) - 1  # the outcome's session is on or before as_of
        if not keep.any():
            return state, None
        x, pos, ends = x[keep], pos[keep], ends[keep]
        q = np.asarray(bundle.forecast(x, closes[pos]), dtype=np.float64)
        if cal.get("cqr"):
            q = CQRCalibration.from_dict(cal["cqr"]).apply(q)
        y = np.log(closes[pos + h] / closes[pos])
        _, state, pending = aci_walk(y, q, self.levels, pos, h, state)
        for _, yy, issued in pending:  # realised by as_of as well
            state = aci_update(state, yy, issued)
        return state, ends[-1].strftime("%Y-%m-%d")

    def log_values(self, forecast, close_as_of, live=None, horizon=1) -> dict[str, Any]:
        """Log columns of one forecast: ``forecast_price`` is the ACI median price;
        ``details`` holds the levels, the raw, CQR and ACI quantiles (log return), the
        ACI price quantiles, VaR and ES (loss in percent log return and in currency),
        the ACI state the forecast was issued with, and GARCH-t's quantiles."""
        q_raw = np.asarray(forecast, dtype=np.float64).reshape(1, -1)
        live = live or {}
        cal = live.get("calibration") or {}
        q_cqr = q_raw
        if cal.get("cqr"):
            q_cqr = CQRCalibration.from_dict(cal["cqr"]).apply(q_raw)
        state = (
            ACIState.from_dict(live["aci_state"])
            if live.get("aci_state")
            else aci_init(self.levels)
        )
        q_aci = aci_forecast(state, q_cqr[0])[None, :]
        close = float(close_as_of)
        lv = self.levels
        var = {
            f"{a:g}": {
                "logret": float(v),
                "loss_pct": float(-100.0 * v),
                "loss": float(close * (1.0 - math.exp(v))),
            }
            for a in VAR_LEVELS
            for v in [float(value_at_risk(q_aci, lv, a)[0])]
        }
        es = {}
        for a in ES_LEVELS:
            e = float(expected_shortfall(q_aci, lv, a)[0])
            es[f"{a:g}"] = {
                "logret": e,
                "loss_pct": -100.0 * e,
                "loss": float(close * (1.0 - mean_exp_below(q_aci, lv, a)[0])),
            }
        median = float(quantile_at(q_aci, lv, [0.5])[0, 0])
        details: dict[str, Any] = {
            "levels": list(lv),
            "horizon": int(horizon),
            "raw": [float(v) for v in q_raw[0]],
            "cqr": [float(v) for v in q_cqr[0]],
            "aci": [float(v) for v in q_aci[0]],
            "prices": [float(close * math.exp(v)) for v in q_aci[0]],
            "var": var,
            "es": es,
            "aci_state": state.to_dict(),
            "aci_absorbed_as_of": live.get("aci_absorbed_as_of"),
        }
        if live.get("garch_t") is not None:
            details["garch_t"] = list(live["garch_t"])
        return {
            "forecast_price": close * math.exp(median),
            "prob_up": None,
            "details": details,
        }

    def score_logged(self, row, realised_close):
        up = realised_close > row["close_as_of"]
        f = row.get("forecast_price")
        return {
            "error": None if f is None else realised_close - f,
            "naive_error": realised_close - row["close_as_of"],
            "direction_correct": None if f is None else int((f > row["close_as_of"]) == up),
        }

    def live_summary(self, rows):
        """Realised coverage of the issued (ACI) 90 % and 98 % intervals, VaR 1 % and 5 %
        hits with the Kupiec p-value, and the mean pinball loss of the issued quantiles and
        of the logged GARCH-t quantiles (same rows), over the scored log so far."""
        out: dict[str, Any] = {"n_scored": len(rows)}
        ys, qs, gs, lv = [], [], [], None
        for r in rows:
            d = log_details(r)
            if not d.get("aci") or r.get("realised_close") is None:
                continue
            if lv is None:
                lv = tuple(d["levels"])
            if tuple(d["levels"]) != lv:
                continue
            ys.append(math.log(r["realised_close"] / r["close_as_of"]))
            qs.append(d["aci"])
            gs.append(d.get("garch_t"))
        if not ys:
            return out
        y, q = np.asarray(ys), np.asarray(qs, dtype=np.float64)
        out["n_quantile"] = len(ys)
        out["coverage_90"] = _coverage(y, q, lv, 0.05, 0.95)
        out["coverage_98"] = _coverage(y, q, lv, 0.01, 0.99)
        for a, key in ((0.01, "var1"), (0.05, "var5")):
            var = value_at_risk(q, lv, a)
            k = kupiec_test(hit_sequence(y, var), a)
            out[f"{key}_hits"] = k["hits"]
            out[f"{key}_expected"] = k["expected_hits"]
            out[f"{key}_kupiec_p"] = k["p_value"]
        out["pinball"] = float(pinball_loss(y, q, lv).mean())
        if all(g is not None for g in gs):
            out["garch_t_pinball"] = float(pinball_loss(y, np.asarray(gs), lv).mean())
        return out


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _coverage(y, q, levels, lo_t: float, hi_t: float) -> float | None:
    lo, hi = level_index(levels, lo_t), level_index(levels, hi_t)
    if lo is None or hi is None:
        return None
    return float(np.mean((y >= q[:, lo]) & (y <= q[:, hi])))


def _metrics(rep: dict[str, Any]) -> dict[str, Any]:
    """The metrics row of one :func:`lstmfc.quantiles.report.quantile_report`."""
    out: dict[str, Any] = {
        "pinball": rep["pinball"]["mean"],
        "pinball_per_level": rep["pinball"]["per_level"],
        "crps": rep["crps"],
    }
    for iv in rep["intervals"]:
        pct = int(round(100 * iv["nominal"]))
        out[f"coverage_{pct}"] = iv["coverage"]
        out[f"width_{pct}"] = iv["mean_width"]
        out[f"winkler_{pct}"] = iv["winkler"]
    for v in rep["var"]:
        key = {0.01: "var1", 0.025: "var2_5", 0.05: "var5"}.get(round(v["alpha"], 6))
        if key:
            out[f"{key}_hits"] = v["kupiec"]["hits"]
            out[f"{key}_kupiec_p"] = v["kupiec"]["p_value"]
    return out


def _var_rows(rep: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "alpha": v["alpha"],
            "n": v["kupiec"]["n"],
            "hits": v["kupiec"]["hits"],
            "expected_hits": v["kupiec"]["expected_hits"],
            "hit_rate": v["kupiec"]["hit_rate"],
            "mean_var_loss_pct": v["mean_var_loss_pct"],
            "kupiec_lr": v["kupiec"]["statistic"],
            "kupiec_p": v["kupiec"]["p_value"],
            "christoffersen_ind_lr": v["christoffersen"]["lr_ind"],
            "christoffersen_ind_p": v["christoffersen"]["p_value_ind"],
            "christoffersen_cc_lr": v["christoffersen"]["lr_cc"],
            "christoffersen_cc_p": v["christoffersen"]["p_value_cc"],
            "note": v["christoffersen"]["note"],
        }
        for v in rep["var"]
    ]


def _es_rows(rep: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "alpha": e["alpha"],
            "mean_es_loss_pct": e["mean_es_loss_pct"],
            "hits": e["acerbi_szekely"]["hits"],
            "test": "acerbi-szekely-z2",
            "z2": e["acerbi_szekely"]["statistic"],
            "z2_p": e["acerbi_szekely"]["p_value"],
            "mcneil_frey_t": e["mcneil_frey"]["statistic"],
            "mcneil_frey_p": e["mcneil_frey"]["p_value"],
            "note": e["acerbi_szekely"]["note"] or e["mcneil_frey"]["note"],
        }
        for e in rep["es"]
    ]


def _calibration_check(metrics, var) -> list[dict[str, Any]]:
    """Per LSTM forecast (raw, CQR, ACI): the 90 % interval's coverage and the VaR levels
    (1 %, 5 %) whose hits pass Kupiec and both Christoffersen tests at 5 %, for the
    conclusion (:func:`lstmfc.stats.wording.calibration_sentence`)."""
    out = []
    for n in LSTM_VARIANTS:
        if n not in metrics:
            continue
        vr = {row["alpha"]: row for row in var.get(n, [])}
        passing = [
            a
            for a in (0.01, 0.05)
            if a in vr
            and (vr[a]["kupiec_p"] or 0) >= 0.05
            and (vr[a]["christoffersen_ind_p"] or 0) >= 0.05
            and (vr[a]["christoffersen_cc_p"] or 0) >= 0.05
        ]
        out.append({"name": n, "coverage_90": metrics[n].get("coverage_90"), "passing": passing})
    return out
