"""Scoring a ticker's walk-forward backtest with the one judging routine.

For every fit, :func:`lstmfc.evaluation.judge.fit_benchmarks` fits the head's baselines
on that fit's training windows (purged of paths reaching validation) and chooses the
strongest on its validation windows, for every step of the path; every fold the fit
serves is then judged (:func:`lstmfc.evaluation.judge.judge`, step 1, no trading view),
and the folds' forecasts are concatenated into one out-of-sample series per step that is
judged once more (metrics, skill tests, trading view, joint tests of a path).

The strongest simple baseline is chosen per fit. When every fit chose the same one, the
network is tested against it by name; otherwise against :data:`BEST`, the series of each
fold's chosen baseline (a forecast that, like every other here, used no test data to
pick).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lstmfc.backtest.config import BacktestConfig
from lstmfc.backtest.unit import UnitResult
from lstmfc.core.errors import DataError
from lstmfc.dataset.scaling import out_of_range_warnings
from lstmfc.dataset.targets import add_path_targets, target_frame
from lstmfc.evaluation.judge import StepBenchmarks, fit_benchmarks, judge
from lstmfc.evaluation.summary import skill_summary
from lstmfc.forecasters.base import fit_all
from lstmfc.stats import wording

BEST = "best_simple"
"""Name of the series of each fold's strongest simple baseline (chosen per fit on its
validation windows) when the fits chose different ones."""


def _iso(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


@dataclass
class _Series:
    """The out-of-sample series of every step, fold after fold: per step, model name ->
    list of fold arrays, and the baseline each fold's fit chose."""

    steps: int
    parts: list[dict[str, list[np.ndarray]]] = field(default_factory=list)
    chosen: list[list[str]] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.parts = [{} for _ in range(self.steps)]
        self.chosen = [[] for _ in range(self.steps)]

    def add(self, k: int, forecasts: dict[str, np.ndarray], best: str) -> None:
        for name, arr in forecasts.items():
            self.parts[k].setdefault(name, []).append(arr)
        self.parts[k].setdefault(BEST, []).append(forecasts[best])
        self.chosen[k].append(best)

    def concatenated(self) -> tuple[list[dict[str, np.ndarray]], list[str]]:
        """Per step, the concatenated series (with :data:`BEST` only where the fits
        chose different baselines, or where step 1's test is against it) and the name
        the network is tested against."""
        out, best = [], []
        mixed_first = len(set(self.chosen[0])) > 1
        for k, (parts, chosen) in enumerate(zip(self.parts, self.chosen, strict=True)):
            cat = {name: np.concatenate(p) for name, p in parts.items()}
            names = list(dict.fromkeys(chosen))
            # a later step keeps BEST when step 1 needs it for the joint test
            if len(names) == 1 and not (k > 0 and mixed_first):
                cat.pop(BEST)
            best.append(names[0] if len(names) == 1 else BEST)
            out.append(cat)
        return out, best


@dataclass
class _Fit:
    """One fit's scoring context: its benchmarks, network forecasts and calibration."""

    fit: Any
    result: UnitResult
    benchmarks: list[StepBenchmarks]
    forecast: np.ndarray
    path: np.ndarray | None
    offset: int
    calibrated: dict[str, np.ndarray]
    calibrated_rows: np.ndarray | None


def score_ticker(job, results, cfg: BacktestConfig) -> tuple[dict[str, Any], pd.DataFrame]:
    """Per-fold rows and the overall out-of-sample report of one ticker.

    Parameters
    ----------
    job : lstmfc.backtest.driver.TickerJob
    results : sequence of UnitResult
        One per fit, in fit order, all ``ok``.
    cfg : BacktestConfig

    Returns
    -------
    (dict, pandas.DataFrame)
        The report (``folds``, ``fits``, ``overall`` ...; keys in docs/backtests.md) and
        the forecasts table (one row per test window).

    Raises
    ------
    DataError
        A baseline cannot be fitted or a metric is undefined for the data.
    """
    plan, h, closes = job.plan, job.plan.horizon, job.close
    path_head = cfg.model.make_head(plan.steps)
    head = path_head.step_head()  # a path is scored step by step by the one-step head
    targets = target_frame(pd.Series(closes, index=job.dates), h)
    if plan.steps > 1:
        add_path_targets(targets, h, plan.steps)
        targets = targets.iloc[: plan.folds[-1].test_last + 1]  # every row with a full path
    series = _Series(plan.steps)
    fold_rows, fits_doc, frames = [], [], []
    carry = None  # online calibration state (ACI) carried from fit to fit
    ctx = None
    for fit, res in zip(plan.fits, results, strict=True):
        ctx, carry, fit_doc = _prepare_fit(job, cfg, head, (fit, res), targets, carry)
        fits_doc.append(fit_doc)
        for k in fit.folds:
            frame, fold_row = _score_fold(job, cfg, head, ctx, (k, targets, series))
            frames.append(frame)
            fold_rows.append(fold_row)
    overall = _overall(job, cfg, head, targets, series)
    overall["baselines"] = ctx.benchmarks[0].params()  # the last fit's
    shares = [r.out_of_range_share for r in results]
    n_test = [sum(plan.folds[k].n for k in fit.folds) for fit in plan.fits]
    overall["out_of_range_share"] = (
        float(np.average(shares, weights=n_test)) if None not in shares else None
    )
    doc = _ticker_doc(job, cfg, (head, path_head), (fold_rows, fits_doc), overall)
    return doc, pd.concat(frames, ignore_index=True)


def _prepare_fit(job, cfg, head, fit_res, targets, carry):
    """The benchmarks of one fit (every step) and its calibrated forecasts; its
    ``fits`` entry."""
    fit, res = fit_res
    plan, h, closes = job.plan, job.plan.horizon, job.close
    # purged like the network's training windows: no path reaches validation
    train_rows = np.arange(fit.first_end, fit.train_last + 1 - (plan.steps - 1))
    val_rows = np.arange(fit.train_last + 1, fit.last_end + 1)
    benchmarks = fit_benchmarks(
        head,
        closes,
        (train_rows, val_rows),
        targets.iloc[val_rows],
        lookback=plan.lookback,
        horizon=h,
        steps=plan.steps,
        options=cfg.scoring,
    )
    fit_doc = {**_fit_doc(job, fit, res), "best_baseline": benchmarks[0].choice}
    offset = job.units[fit.index].test_first
    forecast = np.asarray(res.forecast, dtype="float64")
    path = forecast if plan.steps > 1 and forecast.ndim == 2 else None  # (n, k) quantiles
    if path is not None:
        forecast = path[:, 0]
    calibrated: dict[str, np.ndarray] = {}
    fit_rows = None
    if head.calibrates:  # fit on this fit's validation windows only
        cal = head.fit_calibration(targets.iloc[val_rows], forecast[val_rows - offset])
        fit_doc["calibration"] = cal
        blocks = [
            np.arange(plan.folds[k].test_first, plan.folds[k].test_last + 1) for k in fit.folds
        ]
        fit_rows = np.concatenate(blocks)
        calibrated, carry = head.calibrate(
            cal,
            targets.iloc[fit_rows],
            forecast[fit_rows - offset],
            rows=fit_rows,
            horizon=h,
            carry=carry,
        )
    ctx = _Fit(fit, res, benchmarks, forecast, path, offset, calibrated, fit_rows)
    return ctx, carry, fit_doc


def _score_fold(job, cfg, head, ctx: _Fit, fold):
    """Judge one fold (step 1, no trading view); add every step's forecasts to the
    out-of-sample series. Returns the fold's rows of the forecasts table and its row of
    the report's ``folds`` list."""
    k, targets, series = fold
    plan, h, dates, closes = job.plan, job.plan.horizon, job.dates, job.close
    fd = plan.folds[k]
    rows = np.arange(fd.test_first, fd.test_last + 1)
    per_step = []
    for b in ctx.benchmarks:
        own = (
            ctx.forecast[rows - ctx.offset]
            if b.step == 1
            else ctx.path[rows - ctx.offset, b.step - 1]
        )
        fc = {"lstm": own}
        if b.step == 1 and ctx.calibrated:  # right after the network's own forecast
            pos = np.searchsorted(ctx.calibrated_rows, rows)
            fc.update({n: v[pos] for n, v in ctx.calibrated.items()})
        fc.update(b.forecasts(closes, rows))
        series.add(b.step - 1, fc, b.best)
        per_step.append(fc)
    tt = targets.iloc[rows]
    first = ctx.benchmarks[0]
    judged = judge(
        head,
        tt,
        per_step[:1],
        [first.best],
        horizon=h,
        options=cfg.scoring,
        trading=False,
        context={"label": f"fold {k + 1}"},
    ).first
    series.rows.append(rows)
    summary, better = head.fold_summary(judged.scores.metrics)
    tests = judged.scores.tests
    frame = pd.DataFrame(
        {
            "fold": k + 1,
            "fit": ctx.fit.index + 1,
            "date": dates[rows],
            "target_date": dates[rows + h],
            "close": closes[rows],
            **head.forecast_table(tt, per_step[0]),
            **_path_columns(ctx, rows, plan.steps),
        }
    )
    fold_row = {
        "fold": k + 1,
        "fit": ctx.fit.index + 1,
        "refit": k == ctx.fit.folds[0],
        "train_start": _iso(dates[ctx.fit.first_end + h]),
        "train_end": _iso(dates[ctx.fit.last_end + h]),
        "test_start": _iso(dates[fd.test_first + h]),
        "test_end": _iso(dates[fd.test_last + h]),
        "test_rows": [fd.test_first, fd.test_last],
        "n": fd.n,
        **summary,
        "beats_benchmark": bool(better),
        "skill": tests[0] if tests else None,
        "best_baseline": first.best,
        "verdict": wording.verdict_line(tests, head.benchmark, first.best),
        "metrics": judged.scores.metrics,
    }
    return frame, fold_row


def _path_columns(ctx: _Fit, rows: np.ndarray, steps: int) -> dict[str, np.ndarray]:
    """The network's forecasts of steps 2 .. K for the forecasts table."""
    if ctx.path is None:
        return {}
    return {f"lstm_step{j + 1}": ctx.path[rows - ctx.offset, j] for j in range(1, steps)}


def _overall(job, cfg, head, targets, series: _Series) -> dict[str, Any]:
    """The out-of-sample report over every fold's forecasts, concatenated: step 1's
    judgement at the top level and, for a path, ``steps`` and ``joint_tests``."""
    rows = np.concatenate(series.rows)
    cat, best = series.concatenated()
    judgement = judge(
        head,
        targets.iloc[rows],
        cat,
        best,
        horizon=job.plan.horizon,
        options=cfg.scoring,
        context={"label": "out-of-sample series"},
    )
    sections = []
    for s, chosen in zip(judgement.steps, series.chosen, strict=True):
        scores = s.scores
        sections.append(
            {
                "step": s.step,
                "horizon": s.horizon,
                "n": int(rows.size),
                "test_start": _iso(job.dates[rows[0] + s.horizon]),
                "test_end": _iso(job.dates[rows[-1] + s.horizon]),
                "metrics": scores.metrics,
                "skill": scores.tests[0],
                "skill_tests": scores.tests,
                "best_baseline": {
                    "name": s.best,
                    "chosen_per_fit": chosen,
                    "chosen_on": "validation",
                },
                "verdict": wording.verdict_line(scores.tests, head.benchmark, s.best),
                "trading": scores.trading,
            }
        )
    first = judgement.first.scores
    overall = {k: v for k, v in sections[0].items() if k not in ("step", "horizon")}
    overall["conclusion"] = wording.conclusion(
        head, first.tests, first.trading, judgement.first.best, first.extra
    )
    overall.update(first.extra)
    if len(sections) > 1:
        overall.update(steps=sections, joint_tests=judgement.joint)
    return overall


def _fit_doc(job, fit, res: UnitResult) -> dict[str, Any]:
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


def _ticker_doc(job, cfg, heads, rows, overall) -> dict[str, Any]:
    """One ticker's backtest report: settings, plan, per-fold and per-fit rows and the
    overall out-of-sample scores (``backtest.json``; keys in docs/backtests.md,
    "Output")."""
    head, path_head = heads
    fold_rows, fits_doc = rows
    plan, dates, steps = job.plan, job.dates, job.plan.steps
    return {
        "ticker": job.ticker,
        "ok": True,
        "head": head.name,
        "head_options": head.options,
        **head.report_keys(),
        "cell": cfg.model.cell,
        "lookback": plan.lookback,
        "horizon": plan.horizon,
        "n_steps": steps,
        "strategy": path_head.strategy if steps > 1 else None,
        "attention": bool(cfg.model.attention),
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


def summarise(reports: dict[str, dict[str, Any]], head, alpha: float) -> dict[str, Any]:
    """Summary across tickers: skill vs the head's benchmark and vs the strongest simple
    baseline per ticker, with Holm-adjusted p-values
    (:func:`lstmfc.evaluation.summary.skill_summary`).

    Returns
    -------
    dict
        ``rows`` (one per ticker), ``n_tickers``, ``n_ok``, ``n_failed``, ``n_beat``
        (significantly better than the benchmark at ``alpha``), ``n_beat_adjusted``
        (after the multiple-testing adjustment), ``n_beat_best_adjusted``,
        ``benchmark``, ``method``, ``alpha``.
    """
    skills = skill_summary(
        {t: (r["overall"] if r.get("ok") else None) for t, r in reports.items()}, alpha
    )
    rows = []
    for (t, r), sk in zip(reports.items(), skills["rows"], strict=True):
        if not r.get("ok"):
            rows.append({"ticker": t, "ok": False, "error": r.get("error")})
            continue
        o = r["overall"]
        trading = o["trading"] or {}
        rows.append(
            {
                **sk,
                "n": o["n"],
                "folds": len(r["folds"]),
                "test_start": o["test_start"],
                "test_end": o["test_end"],
                "sharpe": (trading.get("lstm") or {}).get("sharpe"),
                "buy_and_hold_sharpe": (trading.get("buy_and_hold") or {}).get("sharpe"),
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


def check_baseline_history(plan, cfg: BacktestConfig, close: np.ndarray) -> None:
    """Refuse before any network is trained a baseline that some fit cannot fit.

    Two checks, both of which :func:`lstmfc.evaluation.judge.fit_benchmarks` would
    otherwise raise only after the units ran: a baseline's ``min_history`` (``--sma``)
    against the first training window, and a dry fit of every baseline on the training
    rows of the fit with the fewest of them (the GARCH family needs 250 training
    returns; a one-class direction split cannot fit the logistic baseline). The dry fit
    reads only that fit's training closes, as the real one does.

    Raises
    ------
    DataError
        Naming the baseline, the fit, and the option to change.
    """
    first = min(f.train_last for f in plan.fits)
    head = cfg.model.make_head()
    s = cfg.scoring
    bl = head.baselines(lookback=plan.lookback, sma_k=s.sma_k, ema_span=s.ema_span)
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
        fit_all(bl, close, rows, plan.horizon)
    except DataError as exc:
        raise DataError(
            f"fit {fit.index + 1} ({rows.size} training windows): {exc}; use "
            + ("a larger --train-size, " if plan.window == "rolling" else "")
            + "fewer --folds or a longer history"
        ) from None
