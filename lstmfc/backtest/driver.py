"""The backtest driver: read each ticker, plan its folds, run the units, score, write.

Output
------
``data/backtests/<TICKER>/<backtest_id>/`` (built in a temporary folder and renamed
into place, so it is complete or absent): ``backtest.json`` (the ticker's report),
``forecasts.csv`` (one row per test window: fold, fit, forecast origin date, target
date, close, realised value and every model's forecast) and, unless
``--no-save-models``, ``models/fit-NN.keras`` (each fit's network;
``fit-NN-M.keras`` for ensemble member M > 1; scaler and target scaling are in
``backtest.json``, sha256 too).

Baselines are fit per fit on its training windows only
(:func:`lstmfc.forecasters.base.fit_baselines`, the same as ``evaluate``) and forecast the
same test windows as the network; the head (:mod:`lstmfc.heads`) scores them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lstmfc.backtest.executors import EXECUTORS, check_jobs, execute_units, scheduler_address
from lstmfc.backtest.plan import (
    DEFAULT_VAL_FRACTION,
    FoldPlan,
    _pos_int,
    check_fit_count,
    check_plan_options,
    plan_folds,
)
from lstmfc.backtest.unit import Unit, UnitResult
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import ArtifactError, DataError, LstmfcError, UsageError
from lstmfc.dataset.features import DEFAULT_FEATURES

BACKTESTS_DIR = "backtests"
BEST = "best_simple"
"""Name of the series of each fold's strongest simple baseline (chosen per fit on its
validation windows) when the fits chose different ones."""
BACKTEST_FILE = "backtest.json"
FORECASTS_FILE = "forecasts.csv"


@dataclass
class BacktestConfig:
    """All options of ``lstmfc backtest`` (defaults as ``prepare``/``train``/``evaluate``).

    The network, head and fitting options are those of ``lstmfc train``
    (:class:`lstmfc.workflows.train.TrainOptions`, from :meth:`train_options`); the plan options
    are checked by :func:`lstmfc.backtest.plan.check_plan_options`; the scoring
    options by :func:`lstmfc.evaluation.evaluate.check_options`.
    """

    lookback: int = 60
    horizon: int = 1
    steps: int = 1
    strategy: str = "mimo"
    attention: bool = False
    features: Any = DEFAULT_FEATURES
    folds: int | None = None
    step: int | None = None
    test_size: int | None = None
    retrain_every: int | None = None
    window: str = "expanding"
    train_size: int | None = None
    val_fraction: float = DEFAULT_VAL_FRACTION
    head: str = "price"
    cell: str = "lstm"
    units: Any = (128, 64)
    dropout: float = 0.2
    dense: int = 25
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    clipnorm: float = 5.0
    l2: float = 0.0
    patience: int = 5
    ensemble: int = 1
    seed: int | None = None
    price_target: str = "logret"
    loss: str | None = None
    quantiles: Any = None
    sma_k: int = 20
    ema_span: int = 20
    cost_bps: float = 0.0
    alpha: float = 0.05
    save_models: bool = True
    _validated: bool = field(default=False, repr=False)

    def train_options(self):
        """The :class:`lstmfc.workflows.train.TrainOptions` of every fit."""
        from lstmfc.workflows.train import TrainOptions

        return TrainOptions(
            head=self.head,
            head_options={
                "price_target": self.price_target,
                "loss": self.loss,
                "quantiles": self.quantiles,
            },
            cell=self.cell,
            units=self.units,
            dropout=self.dropout,
            dense=self.dense,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            clipnorm=self.clipnorm,
            l2=self.l2,
            patience=self.patience,
            ensemble=self.ensemble,
            strategy=self.strategy,
            attention=self.attention,
        )

    def validate(self) -> BacktestConfig:
        """Check every option (before any data is read); draw the seed if None.

        Constant time whatever the values: nothing is planned or built here.

        Raises
        ------
        UsageError / DataError
            One line naming the option.
        """
        from lstmfc.dataset.features import parse_features
        from lstmfc.evaluation.evaluate import check_options
        from lstmfc.heads.registry import check_path_options

        self.features = parse_features(self.features)
        self.units = self.train_options().validate().units
        self.steps = check_path_options(self.steps, self.strategy, self.head)
        self.train_options().path_head(self.steps, self.features)  # e.g. recursive + level
        check_plan_options(
            self.lookback,
            self.horizon,
            folds=self.folds,
            step=self.step,
            test_size=self.test_size,
            window=self.window,
            train_size=self.train_size,
            retrain_every=self.retrain_every,
            val_fraction=self.val_fraction,
        )
        check_options(self.sma_k, self.ema_span, self.cost_bps, self.alpha)
        if self.seed is None:
            self.seed = secrets.randbelow(2**31)
        self.seed = _pos_int("--seed", self.seed, minimum=0)
        if self.seed > 2**32 - 1 - self.ensemble:
            raise UsageError(f"--seed must be below 2**32 - --ensemble, got {self.seed}")
        self._validated = True
        return self

    def to_json(self) -> dict[str, Any]:
        """Settings as recorded in ``backtest.json``."""
        return {
            "lookback": self.lookback,
            "horizon": self.horizon,
            "steps": self.steps,
            "features": list(self.features),
            "folds": self.folds,
            "step": self.step,
            "test_size": self.test_size,
            "retrain_every": self.retrain_every,
            "window": self.window,
            "train_size": self.train_size,
            "val_fraction": self.val_fraction,
            "model": self.train_options().to_json(),
            "seed": self.seed,
            "deterministic": True,
            "sma": self.sma_k,
            "ema": self.ema_span,
            "cost_bps": self.cost_bps,
            "alpha": self.alpha,
        }


@dataclass
class TickerJob:
    """One ticker's series, plan and units (built by :func:`prepare_ticker`).

    Attributes
    ----------
    ticker : str
    dates : pandas.DatetimeIndex
        Dates of the feature rows, ``(N,)``.
    x : ndarray, shape (N, n_features), float64
        Unscaled features.
    close : ndarray, shape (N,), float64
        Close of each feature row (currency).
    feature_names : list of str
    warmup : int
        Raw rows dropped before the first feature row.
    plan : FoldPlan
    units : list of Unit
        One per fit, inputs of :func:`lstmfc.backtest.unit.run_unit`.
    raw_info : dict
        Where the series came from (path, sha256, rows, dates).
    """

    ticker: str
    dates: Any
    x: np.ndarray
    close: np.ndarray
    feature_names: list[str]
    warmup: int
    plan: FoldPlan
    units: list[Unit]
    raw_info: dict[str, Any] = field(default_factory=dict)


def prepare_ticker(ticker: str, raw, cfg: BacktestConfig) -> TickerJob:
    """Features, fold plan and units of one ticker (driver side, no Keras).

    Parameters
    ----------
    ticker : str
    raw : pandas.DataFrame
        Stored OHLCV frame (layout of :mod:`lstmfc.data.store`).
    cfg : BacktestConfig
        Options (validated here if they were not).

    Returns
    -------
    TickerJob

    Raises
    ------
    DataError
        Invalid raw data or a series too short for the plan.
    """
    from lstmfc.dataset.features import build_features, warmup_rows

    t = normalize_ticker(ticker)
    if not cfg._validated:
        cfg.validate()
    warm = warmup_rows(cfg.features)
    if len(raw) <= warm + cfg.lookback + cfg.horizon + cfg.steps - 1:
        raise DataError(
            f"{len(raw)} rows are too few for lookback {cfg.lookback}, horizon {cfg.horizon} "
            + (f", {cfg.steps} steps " if cfg.steps > 1 else "")
            + f"and {warm} warm-up rows"
        )
    frame, warmup = build_features(raw, cfg.features)
    plan = plan_folds(
        len(frame),
        cfg.lookback,
        cfg.horizon,
        folds=cfg.folds,
        step=cfg.step,
        test_size=cfg.test_size,
        window=cfg.window,
        train_size=cfg.train_size,
        retrain_every=cfg.retrain_every,
        val_fraction=cfg.val_fraction,
        steps=cfg.steps,
    )
    check_fit_count(plan, cfg.ensemble)
    names = tuple(frame.columns)
    opts = cfg.train_options().validate(
        lookback=plan.lookback,
        n_features=len(names),
        n_windows=max(f.last_end - f.first_end + 1 for f in plan.fits),
    )
    x = frame.to_numpy(dtype="float64")
    close = raw["close"].iloc[warmup:].to_numpy(dtype="float64")
    _check_baseline_history(plan, cfg, opts, close)
    units = []
    # heads calibrated on the validation split (quantile: CQR) need the network's
    # validation forecasts too: their units forecast from the first validation window on
    calibrates = opts.make_head().calibrates
    for fit in plan.fits:
        fds = [plan.folds[k] for k in fit.folds]
        a, b = fds[0].test_first, fds[-1].test_last
        if calibrates:
            a = fit.train_last + 1
        units.append(
            Unit(
                ticker=t,
                fit=fit.index,
                folds=tuple(fit.folds),
                lookback=plan.lookback,
                horizon=plan.horizon,
                feature_names=names,
                x=np.ascontiguousarray(x[: b + 1]),  # nothing after the last forecast origin
                close=np.ascontiguousarray(close[: b + 1]),
                first_end=fit.first_end,
                train_last=fit.train_last,
                last_end=fit.last_end,
                test_first=a,
                test_last=b,
                options=opts,
                seed=int(cfg.seed),
                steps=plan.steps,
                save_model=bool(cfg.save_models),
            )
        )
    return TickerJob(t, frame.index, x, close, list(names), warmup, plan, units)


def _check_baseline_history(plan: FoldPlan, cfg: BacktestConfig, opts, close) -> None:
    """Refuse before any network is trained a baseline that some fit cannot fit.

    Two checks, both of which :func:`lstmfc.forecasters.base.fit_baselines` would otherwise
    raise only after the units ran: a baseline's ``min_history`` (``--sma``) against the
    first training window, and a dry fit of every baseline on the training rows of the
    fit with the fewest of them (the GARCH family needs 250 training returns; a
    one-class direction split cannot fit the logistic baseline). The dry fit reads
    only that fit's training closes, as the real one does.

    Raises
    ------
    DataError
        Naming the baseline, the fit, and the option to change.
    """
    from lstmfc.forecasters.base import fit_baselines

    first = min(f.train_last for f in plan.fits)
    head = opts.make_head()
    bl = head.baselines(lookback=plan.lookback, sma_k=cfg.sma_k, ema_span=cfg.ema_span)
    for name, b in bl.items():
        need = getattr(b, "min_history", 0)
        if need > first:
            opt = {"sma": "a smaller --sma, ", "ema": "a smaller --ema, "}.get(name, "")
            raise DataError(
                f"baseline {name} needs {need} rows of history before its first training "
                f"window, fit 1 trains on windows ending by row {first}; use {opt}fewer "
                "--folds or a longer history"
            )
    # the same training rows as score_ticker: purged of paths reaching validation
    fit = min(plan.fits, key=lambda f: (f.train_last - f.first_end, f.index))
    rows = np.arange(fit.first_end, fit.train_last + 1 - (plan.steps - 1))
    try:
        fit_baselines(bl, close, rows, plan.horizon)
    except DataError as exc:
        raise DataError(
            f"fit {fit.index + 1} ({rows.size} training windows): {exc}; use "
            + ("a larger --train-size, " if plan.window == "rolling" else "")
            + "fewer --folds or a longer history"
        ) from None


def _iso(ts) -> str:
    import pandas as pd

    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _fit_doc(job: TickerJob, fit, res: UnitResult) -> dict[str, Any]:
    """The ``fits`` entry of one fit: its rows, dates, scaler, target and training."""
    dates, h = job.dates, job.plan.horizon
    return {
        "fit": fit.index + 1,
        "folds": [k + 1 for k in fit.folds],
        "train_start": _iso(dates[fit.first_end + h]),
        "train_end": _iso(dates[fit.train_last + h]),
        "val_start": _iso(dates[fit.train_last + 1 + h]),
        "val_end": _iso(dates[fit.last_end + h]),
        "train_rows": [fit.first_end, fit.train_last],
        "val_rows": [fit.train_last + 1, fit.last_end],
        "n_train": res.n_train,
        "n_val": res.n_val,
        "scaler": {
            **res.scaler,
            "fit_start_date": _iso(dates[res.scaler["fit_rows"][0]]),
            "fit_end_date": _iso(dates[res.scaler["fit_rows"][1]]),
        },
        "target": res.target,
        "epochs_run": res.epochs_run,
        "best_epoch": res.best_epoch,
        "best_val_loss": res.best_val_loss,
        "stopped_early": res.stopped_early,
        "members": res.members,
        "train_seconds": round(float(res.train_seconds), 3),
        "unit_seconds": round(float(res.seconds), 3),
        "weights_sha256": res.fingerprints["weights"],
        "fingerprints": res.fingerprints,
    }


def _forecasts(head, bl: dict, lstm: np.ndarray, closes: np.ndarray, rows: np.ndarray) -> dict:
    """The network's and every fitted baseline's forecasts for window end ``rows``."""
    return {"lstm": lstm, **{n: head.baseline_forecast(b, closes, rows) for n, b in bl.items()}}


def score_ticker(
    job: TickerJob, results: Sequence[UnitResult], cfg: BacktestConfig
) -> tuple[dict[str, Any], Any]:
    """Per-fold rows and the overall out-of-sample report of one ticker.

    Parameters
    ----------
    job : TickerJob
    results : sequence of UnitResult
        One per fit, in fit order, all ``ok``.
    cfg : BacktestConfig

    Returns
    -------
    (dict, pandas.DataFrame)
        The report (``folds``, ``fits``, ``overall`` ...) and the forecasts table
        (one row per test window).

    Raises
    ------
    DataError
        A baseline cannot be fitted or a metric is undefined for the data.
    """
    import pandas as pd

    from lstmfc.dataset.prepare import target_frame
    from lstmfc.forecasters.base import fit_baselines

    plan, h, dates, closes = job.plan, job.plan.horizon, job.dates, job.close
    steps = plan.steps
    # a path is scored step by step by the one-step head (lstmfc.heads.paths); step 1 fills
    # the fold rows and the top-level report, ``overall["steps"]`` holds every step
    path_head = cfg.train_options().make_head(steps)
    head = path_head.step_head() if steps > 1 else path_head
    targets = target_frame(pd.Series(closes, index=dates), h)
    if steps > 1:
        from lstmfc.dataset.targets import add_path_targets

        add_path_targets(targets, h, steps)
    step_series: dict[int, dict[str, list[np.ndarray]]] = {k: {} for k in range(2, steps + 1)}
    step_chosen: dict[int, list[str]] = {k: [] for k in range(2, steps + 1)}
    fold_rows: list[dict[str, Any]] = []
    fits_doc: list[dict[str, Any]] = []
    frames = []
    series: dict[str, list[np.ndarray]] = {}
    chosen: list[str] = []
    all_rows = []
    params = {}
    carry = None  # online calibration state (ACI) carried from fit to fit
    for fit, res in zip(plan.fits, results, strict=True):
        # purged like the network's training windows: no path reaches validation
        train_rows = np.arange(fit.first_end, fit.train_last + 1 - (steps - 1))
        bl = head.baselines(lookback=plan.lookback, sma_k=cfg.sma_k, ema_span=cfg.ema_span)
        bl = fit_baselines(bl, closes, train_rows, h)
        params = {name: b.get_params() for name, b in bl.items()}
        val_rows = np.arange(fit.train_last + 1, fit.last_end + 1)
        best = head.choose_best(
            targets.iloc[val_rows],
            {n: head.baseline_forecast(b, closes, val_rows) for n, b in bl.items()},
        )
        fits_doc.append({**_fit_doc(job, fit, res), "best_baseline": best})
        offset = job.units[fit.index].test_first
        forecast = np.asarray(res.forecast, dtype="float64")
        path = forecast if steps > 1 and forecast.ndim == 2 else None  # (n, k) quantiles: no path
        if path is not None:
            forecast = path[:, 0]
            _score_steps(job, cfg, head, fit, offset, path, train_rows, val_rows, targets,
                         step_series, step_chosen)  # fmt: skip
        calibrated: dict[str, np.ndarray] = {}
        fit_rows = None
        if head.calibrates:  # fit on this fit's validation windows only
            cal = head.fit_calibration(targets.iloc[val_rows], forecast[val_rows - offset])
            fits_doc[-1]["calibration"] = cal
            fit_rows = np.concatenate(
                [np.arange(plan.folds[k].test_first, plan.folds[k].test_last + 1)
                 for k in fit.folds]
            )  # fmt: skip
            calibrated, carry = head.calibrate(
                cal, targets.iloc[fit_rows], forecast[fit_rows - offset], rows=fit_rows,
                horizon=h, carry=carry,
            )  # fmt: skip
        for k in fit.folds:
            rows, fc, frame, fold_row = _score_fold(
                job, cfg, head, k, fit, fits_doc[-1], bl, best, targets, forecast, path,
                offset, calibrated, fit_rows,
            )  # fmt: skip
            for name, arr in fc.items():
                series.setdefault(name, []).append(arr)
            series.setdefault(BEST, []).append(fc[best["name"]])
            chosen.append(best["name"])
            all_rows.append(rows)
            frames.append(frame)
            fold_rows.append(fold_row)
    rows_all = np.concatenate(all_rows)
    overall = _overall(head, targets, rows_all, series, chosen, dates, h, cfg)
    if steps > 1:
        overall.update(
            _overall_steps(head, path_head, targets, rows_all, series, step_series,
                           step_chosen, overall, dates, h, cfg)
        )  # fmt: skip
    overall["baselines"] = params
    shares = [r.out_of_range_share for r in results]
    n_test = [sum(plan.folds[k].n for k in fit.folds) for fit in plan.fits]
    overall["out_of_range_share"] = (
        float(np.average(shares, weights=n_test)) if None not in shares else None
    )
    doc = _ticker_doc(job, cfg, head, path_head, fold_rows, fits_doc, overall)
    return doc, pd.concat(frames, ignore_index=True)


def _score_fold(job, cfg, head, k, fit, fit_doc, bl, best, targets, forecast, path, offset,
                calibrated, fit_rows):  # fmt: skip
    """Score fold ``k`` of ``fit``: the network's forecasts next to the fitted baselines
    (and the calibrated variants), with the head's metrics and skill tests.

    Returns
    -------
    (ndarray, dict, pandas.DataFrame, dict)
        The fold's window end rows, ``(n,)``; the forecasts by model name, natural units;
        its rows of the forecasts table; its row of the report's ``folds`` list.

    Raises
    ------
    DataError
        A metric or test is undefined for this fold's data.
    """
    import pandas as pd

    plan, h, dates, closes = job.plan, job.plan.horizon, job.dates, job.close
    fd = plan.folds[k]
    rows = np.arange(fd.test_first, fd.test_last + 1)
    tt = targets.iloc[rows]
    fc = _forecasts(
        head, bl, forecast[fd.test_first - offset : fd.test_last - offset + 1], closes, rows
    )
    if calibrated:  # right after the network's own forecast
        fc = {
            "lstm": fc.pop("lstm"),
            **{n: v[np.searchsorted(fit_rows, rows)] for n, v in calibrated.items()},
            **fc,
        }
    try:
        scores = head.score(
            tt, fc, horizon=h, cost_bps=cfg.cost_bps, alpha=cfg.alpha, trading=False,
            best=best["name"],
        )  # fmt: skip
    except ValueError as exc:
        raise DataError(f"fold {k + 1}: {exc}") from None
    summary, better = head.fold_summary(scores.metrics)
    frame = pd.DataFrame(
        {
            "fold": k + 1,
            "fit": fit.index + 1,
            "date": dates[rows],
            "target_date": dates[rows + h],
            "close": closes[rows],
            **head.forecast_table(tt, fc),
            **{
                f"lstm_step{j + 1}": path[rows - offset, j]
                for j in range(1, plan.steps)
                if path is not None
            },
        }
    )
    fold_row = {
        "fold": k + 1,
        "fit": fit.index + 1,
        "refit": k == fit.folds[0],
        "train_start": fit_doc["train_start"],
        "train_end": fit_doc["val_end"],
        "test_start": _iso(dates[fd.test_first + h]),
        "test_end": _iso(dates[fd.test_last + h]),
        "test_rows": [fd.test_first, fd.test_last],
        "n": fd.n,
        **summary,
        "beats_benchmark": bool(better),
        "skill": scores.tests[0] if scores.tests else None,
        "best_baseline": best["name"],
        "verdict": head.verdict_line(scores.tests, best["name"]),
        "metrics": scores.metrics,
    }
    return rows, fc, frame, fold_row


def _ticker_doc(job, cfg, head, path_head, fold_rows, fits_doc, overall) -> dict[str, Any]:
    """One ticker's backtest report: settings, plan, per-fold and per-fit rows and the
    overall out-of-sample scores (``backtest.json``; keys in docs/backtests.md,
    "Output")."""
    from lstmfc.dataset.prepare import out_of_range_warnings

    plan, dates, steps = job.plan, job.dates, job.plan.steps
    return {
        "ticker": job.ticker,
        "ok": True,
        "head": head.name,
        "head_options": head.options,
        **head.report_keys(),
        "cell": cfg.cell,
        "lookback": plan.lookback,
        "horizon": plan.horizon,
        "n_steps": steps,
        "strategy": path_head.strategy if steps > 1 else None,
        "attention": bool(cfg.attention),
        "features": list(cfg.features),
        "feature_names": job.feature_names,
        "n_rows": int(len(dates)),
        "first_date": _iso(dates[0]),
        "last_date": _iso(dates[-1]),
        "warmup_rows_dropped": job.warmup,
        "raw": job.raw_info,
        "plan": {
            "window": plan.window,
            "n_windows": plan.n_windows,
            "test_size": plan.test_size,
            "folds": len(plan.folds),
            "fits": len(plan.fits),
            "train_size": plan.train_size,
            "val_fraction": plan.val_fraction,
            "retrain_every": plan.retrain_every,
        },
        "seed": cfg.seed,
        "folds": fold_rows,
        "fits": fits_doc,
        "overall": overall,
        "warnings": out_of_range_warnings(
            job.ticker, "test windows'", overall["out_of_range_share"]
        ),
    }


def _score_steps(job, cfg, head, fit, offset, path, train_rows, val_rows, targets,
                 step_series, step_chosen) -> None:  # fmt: skip
    """Steps ``2 .. K`` of one fit's path forecasts: baselines fitted for each step's
    horizon on the fit's (purged) training rows, the strongest chosen on its validation
    windows for that step, and every fold's forecasts appended to ``step_series``."""
    from lstmfc.dataset.targets import step_frame, step_horizon
    from lstmfc.forecasters.base import fit_baselines

    plan = job.plan
    targets = targets.iloc[: plan.folds[-1].test_last + 1]  # every row with a full path
    for k in range(2, plan.steps + 1):
        hk = step_horizon(plan.horizon, k)
        bl = head.baselines(lookback=plan.lookback, sma_k=cfg.sma_k, ema_span=cfg.ema_span)
        bl = fit_baselines(bl, job.close, train_rows, hk)
        best = head.choose_best(
            step_frame(targets, k).iloc[val_rows],
            {n: head.baseline_forecast(b, job.close, val_rows) for n, b in bl.items()},
        )
        for j in fit.folds:
            fd = plan.folds[j]
            rows = np.arange(fd.test_first, fd.test_last + 1)
            fc = _forecasts(head, bl, path[rows - offset, k - 1], job.close, rows)
            for name, arr in fc.items():
                step_series[k].setdefault(name, []).append(arr)
            step_series[k].setdefault(BEST, []).append(fc[best["name"]])
            step_chosen[k].append(best["name"])


def _overall_steps(head, path_head, targets, rows, series, step_series, step_chosen, first,
                   dates, h, cfg) -> dict[str, Any]:  # fmt: skip
    """``steps`` (one section per step, as ``lstmfc evaluate`` reports a path) and
    ``joint_tests`` (Diebold-Mariano on the loss averaged over the path, against naive
    and against step 1's strongest simple baseline) of a path backtest."""
    from lstmfc.dataset.targets import step_frame, step_horizon
    from lstmfc.evaluation.paths import path_joint_tests

    targets = targets.iloc[: int(rows.max()) + 1]  # every row with a full path
    sections = [{"step": 1, "horizon": h, **first}]
    per_model = {name: [np.concatenate(parts)] for name, parts in series.items()}
    for k in range(2, path_head.steps + 1):
        hk = step_horizon(h, k)
        rep = _overall(head, step_frame(targets, k), rows, step_series[k], step_chosen[k],
                       dates, hk, cfg)  # fmt: skip
        sections.append({"step": k, "horizon": hk, **rep})
        for name, parts in step_series[k].items():
            if name in per_model:
                per_model[name].append(np.concatenate(parts))
    per_model = {n: v for n, v in per_model.items() if len(v) == path_head.steps}
    best = first["best_baseline"]["name"]
    joint = path_joint_tests(head, targets.iloc[rows], path_head.steps, per_model, head.benchmark,
                         best, h, cfg.alpha)  # fmt: skip
    for sec in sections:
        for key in ("baselines", "conclusion", "steps", "joint_tests"):
            sec.pop(key, None)
    return {"steps": sections, "joint_tests": joint}


def _overall(head, targets, rows, series, chosen, dates, h, cfg) -> dict[str, Any]:
    """The out-of-sample report over every fold's forecasts, concatenated.

    The strongest simple baseline is chosen per fit on that fit's validation windows.
    When every fit chose the same one, the network is tested against it by name;
    otherwise against :data:`BEST`, the series of each fold's chosen baseline (a
    forecast that, like every other here, used no test data to pick).
    """
    cat = {name: np.concatenate(parts) for name, parts in series.items()}
    names = list(dict.fromkeys(chosen))
    if len(names) == 1:
        cat.pop(BEST)
        best = names[0]
    else:
        best = BEST
    try:
        scores = head.score(
            targets.iloc[rows],
            cat,
            horizon=h,
            cost_bps=cfg.cost_bps,
            alpha=cfg.alpha,
            best=best,
        )
    except ValueError as exc:
        raise DataError(f"out-of-sample series: {exc}") from None
    return {
        "n": int(rows.size),
        "test_start": _iso(dates[rows[0] + h]),
        "test_end": _iso(dates[rows[-1] + h]),
        "metrics": scores.metrics,
        "skill": scores.tests[0],
        "skill_tests": scores.tests,
        "best_baseline": {"name": best, "chosen_per_fit": chosen, "chosen_on": "validation"},
        "verdict": head.verdict_line(scores.tests, best),
        "trading": scores.trading,
        "conclusion": head.conclusion(scores.tests, scores.trading, best),
        **scores.extra,
    }


def _write_backtest(ws: Workspace, doc, forecasts, results, backtest_id: str) -> Path:
    import json

    from lstmfc.core.atomic import atomic_dir, sha256_file
    from lstmfc.core.jsonclean import json_clean

    final = ws.data_dir / BACKTESTS_DIR / doc["ticker"] / backtest_id
    if final.exists():
        raise ArtifactError(f"backtest {backtest_id} already exists in {final.parent}")
    with atomic_dir(final) as tmp:
        out = forecasts.copy()
        for col in ("date", "target_date"):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
        out.to_csv(tmp / FORECASTS_FILE, index=False, float_format="%.10g")
        for res, fit_doc in zip(results, doc["fits"], strict=True):
            for i, blob in enumerate(res.model_bytes):
                suffix = "" if i == 0 else f"-{i + 1}"
                rel = f"models/fit-{fit_doc['fit']:02d}{suffix}.keras"
                (tmp / "models").mkdir(exist_ok=True)
                (tmp / rel).write_bytes(blob)
                fit_doc.setdefault("model_files", []).append(
                    {"file": rel, "sha256": sha256_file(tmp / rel)}
                )
                if i == 0:
                    fit_doc["model_file"] = rel
                    fit_doc["model_sha256"] = sha256_file(tmp / rel)
        doc["forecasts_file"] = FORECASTS_FILE
        text = json.dumps(json_clean(doc), indent=2, allow_nan=False) + "\n"
        (tmp / BACKTEST_FILE).write_text(text, encoding="utf-8")
    return final


def _load_raw(ws: Workspace, t: str, source: str | None):
    from lstmfc.core.atomic import sha256_file
    from lstmfc.data.store import read_raw

    path = ws.raw_path(t)
    if not path.is_file():
        if source == "sample":
            from lstmfc.data.fetch import fetch_ticker

            fetch_ticker(ws, t, source="sample")
        else:
            raise DataError(f"no data for {t}; run `lstmfc fetch {t}` first")
    raw, _prov = read_raw(path)
    info = {
        "path": path.relative_to(ws.home).as_posix() if path.is_relative_to(ws.home) else str(path),
        "sha256": sha256_file(path),
        "rows": int(len(raw)),
        "first_date": _iso(raw.index[0]) if len(raw) else None,
        "last_date": _iso(raw.index[-1]) if len(raw) else None,
    }
    return raw, info


def summarise(reports: dict[str, dict[str, Any]], head, alpha: float) -> dict[str, Any]:
    """Summary across tickers: skill vs the head's benchmark and vs the strongest simple
    baseline per ticker, with Holm-adjusted p-values
    (:func:`lstmfc.evaluation.evaluate.skill_summary`).

    Returns
    -------
    dict
        ``rows`` (one per ticker), ``n_tickers``, ``n_ok``, ``n_failed``, ``n_beat``
        (significantly better than the benchmark at ``alpha``), ``n_beat_adjusted``
        (after the multiple-testing adjustment), ``n_beat_best_adjusted``,
        ``benchmark``, ``method``, ``alpha``.
    """
    from lstmfc.evaluation.evaluate import skill_summary

    skills = skill_summary(
        {t: (r["overall"] if r.get("ok") else None) for t, r in reports.items()}, alpha
    )
    rows = []
    for (t, r), sk in zip(reports.items(), skills["rows"], strict=True):
        if not r.get("ok"):
            rows.append({"ticker": t, "ok": False, "error": r.get("error")})
            continue
        o = r["overall"]
        rows.append(
            {
                **sk,
                "n": o["n"],
                "folds": len(r["folds"]),
                "test_start": o["test_start"],
                "test_end": o["test_end"],
                "sharpe": ((o["trading"] or {}).get("lstm") or {}).get("sharpe"),
                "buy_and_hold_sharpe": ((o["trading"] or {}).get("buy_and_hold") or {}).get(
                    "sharpe"
                ),
                **head.summary_row(o["metrics"]),
            }
        )
    return {
        "benchmark": head.benchmark,
        "method": skills["method"],
        "alpha": alpha,
        "n_tickers": len(rows),
        "n_ok": skills["n_ok"],
        "n_failed": len(rows) - skills["n_ok"],
        "n_beat": skills["n_beat"],
        "n_beat_adjusted": skills["n_beat_adjusted"],
        "n_beat_best_adjusted": skills["n_beat_best_adjusted"],
        "rows": rows,
    }


def _check_run_options(source, executor, jobs, scheduler):
    if source not in (None, "sample"):
        raise UsageError(
            f"backtest reads stored data; run `lstmfc fetch TICKER --source {source}` first "
            "(--source sample alone is accepted: it fetches a bundled sample if missing)"
        )
    if executor not in EXECUTORS:
        raise UsageError(f"--executor must be local or dask, not {executor!r}")
    if executor == "dask":
        scheduler = scheduler_address(scheduler)
    elif scheduler:
        raise UsageError("--scheduler needs --executor dask")
    jobs = check_jobs(jobs, remote=executor == "dask" and scheduler is not None)
    return jobs, scheduler


def backtest(
    ws: Workspace,
    tickers: Sequence[str],
    cfg: BacktestConfig | None = None,
    *,
    source: str | None = None,
    executor: str = "local",
    jobs: int = 1,
    scheduler: str | None = None,
    progress=None,
    write: bool = True,
    unit_fn: Callable[[Unit], UnitResult] | None = None,
) -> dict[str, Any]:
    """Walk-forward backtest of several tickers (:mod:`lstmfc.backtest`).

    Parameters
    ----------
    ws : Workspace
    tickers : sequence of str
        Tickers with stored data (``lstmfc fetch``).
    cfg : BacktestConfig, optional
        Options; default :class:`BacktestConfig()`.
    source : {None, "sample"}
        ``sample`` fetches a bundled sample series first when it is not stored yet.
    executor, jobs, scheduler
        See :func:`lstmfc.backtest.executors.execute_units`.
    progress : object, optional
        Progress display (``lstmfc.cli.progress.make_backtest_progress``): hooks
        ``note(text)``, ``start(total, per_ticker)``, ``unit_done(ticker, fit, res)``,
        ``ticker_done(ticker, report)``, ``ticker_failed(ticker, message)``, ``close()``.
    write : bool
        Write ``data/backtests/<TICKER>/<backtest_id>/`` for each ticker.
    unit_fn : callable, optional
        Replacement unit function (tests).

    Returns
    -------
    dict
        ``backtest_id``, ``settings``, ``executor``, ``tickers`` (ticker -> report, or
        ``{"ok": False, "error": ...}``), ``summary`` (:func:`summarise`),
        ``n_units``, ``seconds``.

    Raises
    ------
    UsageError
        Invalid options (before anything runs).
    TemporaryFailure
        The Dask scheduler cannot be reached.
    """
    from lstmfc.bundles.runs import new_run_id

    t0 = time.perf_counter()
    cfg = (cfg or BacktestConfig()).validate()
    jobs, scheduler = _check_run_options(source, executor, jobs, scheduler)
    names = list(dict.fromkeys(normalize_ticker(t) for t in tickers))
    if not names:
        raise UsageError("give at least one TICKER or --tickers-file FILE")

    backtest_id = new_run_id()
    reports: dict[str, dict[str, Any]] = {}
    jobs_by_ticker: dict[str, TickerJob] = {}
    for t in names:
        try:
            raw, info = _load_raw(ws, t, source)
            job = prepare_ticker(t, raw, cfg)
            job.raw_info = info
            jobs_by_ticker[t] = job
        except LstmfcError as exc:  # this ticker only; the others go on
            reports[t] = {"ticker": t, "ok": False, "error": str(exc)}
            if progress is not None:
                progress.ticker_failed(t, str(exc))

    run = _Run(ws, cfg, backtest_id, jobs_by_ticker, reports, progress, write)
    try:
        if run.units:
            execute_units(
                run.units,
                executor=executor,
                jobs=jobs,
                scheduler=scheduler,
                on_result=run.on_result,
                fn=unit_fn,
                notify=(progress.note if progress is not None else None),
            )
    finally:
        if progress is not None:
            progress.close()

    ordered = {
        t: reports.get(t, {"ticker": t, "ok": False, "error": "not run (interrupted)"})
        for t in names
    }
    return {
        "backtest_id": backtest_id,
        "settings": cfg.to_json(),
        "executor": {
            "kind": executor,
            "jobs": jobs,
            "scheduler": scheduler if executor == "dask" else None,
        },
        "n_units": len(run.units),
        "seconds": round(time.perf_counter() - t0, 2),
        "tickers": ordered,
        "summary": summarise(ordered, cfg.train_options().make_head(), cfg.alpha),
    }


class _Run:
    """Collects unit results per ticker and scores a ticker once all its units are in."""

    def __init__(self, ws, cfg, backtest_id, jobs_by_ticker, reports, progress, write):
        self.ws, self.cfg, self.backtest_id = ws, cfg, backtest_id
        self.jobs, self.reports, self.progress, self.write = (
            jobs_by_ticker,
            reports,
            progress,
            write,
        )
        self.units: list[Unit] = [u for job in jobs_by_ticker.values() for u in job.units]
        self.results: dict[str, list[UnitResult | None]] = {
            t: [None] * len(j.units) for t, j in jobs_by_ticker.items()
        }
        if progress is not None:
            progress.start(len(self.units), {t: len(j.units) for t, j in jobs_by_ticker.items()})

    def on_result(self, i: int, res: UnitResult) -> None:
        unit = self.units[i]
        self.results[unit.ticker][unit.fit] = res
        if self.progress is not None:
            self.progress.unit_done(unit.ticker, unit.fit, res)
        if all(r is not None for r in self.results[unit.ticker]):
            self.finish(unit.ticker)

    def finish(self, t: str) -> None:
        from lstmfc.core.jsonclean import json_clean

        job, res = self.jobs[t], self.results[t]
        bad = [r for r in res if not r.ok]
        try:
            if bad:
                raise DataError(bad[0].error)
            doc, forecasts = score_ticker(job, res, self.cfg)
            doc["backtest_id"] = self.backtest_id
            if self.write:
                path = _write_backtest(self.ws, doc, forecasts, res, self.backtest_id)
                doc["path"] = path.relative_to(self.ws.home).as_posix()
            self.reports[t] = json_clean(doc)
            if self.progress is not None:
                self.progress.ticker_done(t, self.reports[t])
        except Exception as exc:  # reported for this ticker; the others go on
            msg = (
                str(exc)
                if isinstance(exc, LstmfcError)
                else f"internal error: {type(exc).__name__}: {exc}"
            )
            self.reports[t] = {"ticker": t, "ok": False, "error": msg}
            if self.progress is not None:
                self.progress.ticker_failed(t, msg)
