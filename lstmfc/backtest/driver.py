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
(:func:`lstmfc.forecasters.base.fit_all`, the same as ``evaluate``) and forecast the
same test windows as the network; the head (:mod:`lstmfc.heads`) scores them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lstmfc.backtest.config import BacktestConfig
from lstmfc.backtest.executors import Execution, execute_units
from lstmfc.backtest.plan import FoldPlan, check_fit_count, plan_folds
from lstmfc.backtest.scoring import check_baseline_history, score_ticker, summarise
from lstmfc.backtest.unit import Unit, UnitResult
from lstmfc.bundles.runs import new_run_id
from lstmfc.core.atomic import atomic_dir, sha256_file
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import ArtifactError, DataError, LstmfcError, UsageError
from lstmfc.core.jsonclean import json_clean
from lstmfc.data.fetch import fetch_ticker
from lstmfc.data.sources import FetchRequest
from lstmfc.data.store import read_raw
from lstmfc.dataset.features import build_features, warmup_rows

BACKTESTS_DIR = "backtests"
BACKTEST_FILE = "backtest.json"
FORECASTS_FILE = "forecasts.csv"


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
    plan = plan_folds(len(frame), cfg.lookback, cfg.horizon, cfg.plan, cfg.steps)
    check_fit_count(plan, cfg.model.ensemble)
    names = tuple(frame.columns)
    opts = cfg.model.validate(
        lookback=plan.lookback,
        n_features=len(names),
        n_windows=max(f.last_end - f.first_end + 1 for f in plan.fits),
    )
    x = frame.to_numpy(dtype="float64")
    close = raw["close"].iloc[warmup:].to_numpy(dtype="float64")
    check_baseline_history(plan, cfg, close)
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


def _iso(ts) -> str:
    import pandas as pd

    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _write_backtest(ws: Workspace, doc, forecasts, results, backtest_id: str) -> Path:
    import json

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

    path = ws.raw_path(t)
    if not path.is_file():
        if source == "sample":
            fetch_ticker(ws, t, FetchRequest(source="sample"))
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


def _check_source(source: str | None) -> None:
    """``backtest`` reads stored series; ``--source sample`` may fetch a bundled one.

    Raises
    ------
    UsageError
        Any other source.
    """
    if source not in (None, "sample"):
        raise UsageError(
            f"backtest reads stored data; run `lstmfc fetch TICKER --source {source}` first "
            "(--source sample alone is accepted: it fetches a bundled sample if missing)"
        )


def backtest(
    ws: Workspace,
    tickers: Sequence[str],
    cfg: BacktestConfig | None = None,
    *,
    source: str | None = None,
    execution: Execution | None = None,
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
    execution : Execution, optional
        Executor, jobs and scheduler (:class:`lstmfc.backtest.executors.Execution`;
        default one local worker).
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

    t0 = time.perf_counter()
    cfg = (cfg or BacktestConfig()).validate()
    _check_source(source)
    ex = (execution or Execution()).checked()
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
                ex,
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
        "executor": {"kind": ex.executor, "jobs": ex.jobs, "scheduler": ex.scheduler},
        "n_units": len(run.units),
        "seconds": round(time.perf_counter() - t0, 2),
        "tickers": ordered,
        "summary": summarise(ordered, cfg.model.make_head(), cfg.scoring.alpha),
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
