"""Score a trained model on the **test split** next to baselines on the same target dates.

Everything here is in real units: forecasts are turned back into prices (currency)
before any error is computed, never scored on scaled values. Baselines are fitted on
the training windows only (:mod:`lstmfc.baselines`); the LSTM was trained on them too.

Report (``evaluation.json`` in the bundle folder, and the ``--json`` document)
-------------------------------------------------------------------------------
``ticker``, ``run_id``, ``head``, ``n_test``, ``test_start``, ``test_end`` (ISO dates of
the test targets), ``metrics`` keyed by model name (``lstm`` and each baseline), ``skill``
(the headline test: name, statistic, p-value, verdict), ``skill_tests`` (all tests),
``trading`` (long/flat strategy per model and buy-and-hold), ``conclusion`` (one plain
sentence), ``plot`` (path of the PNG), ``baselines`` (their parameters).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lstmfc.atomic import atomic_path, atomic_write_text
from lstmfc.config import Workspace, normalize_ticker
from lstmfc.errors import DataError

EVALUATION_FILE = "evaluation.json"
PLOT_FILE = "evaluation.png"


def fit_baselines(baselines: dict, closes: np.ndarray, train_rows: np.ndarray, horizon: int):
    """Fit each baseline on the training windows it has enough history for.

    A baseline that needs ``min_history`` past rows (OLS and the logistic regression
    read ``lookback`` log returns, i.e. ``lookback + 1`` closes) skips the first training
    window(s), whose inputs start at row 0.
    """
    for name, b in baselines.items():
        rows = train_rows[train_rows >= b.min_history]
        if rows.size == 0:
            raise DataError(
                f"baseline {name} needs {b.min_history} rows of history before "
                "its first training window; prepare a longer series"
            )
        try:
            b.fit(closes, rows, horizon)
        except ValueError as exc:
            raise DataError(f"baseline {name}: {exc}") from exc
    return baselines


def undefined_test(test: str, model: str, n: int, exc: Exception) -> dict[str, Any]:
    """A skill-test entry for a test that cannot be computed on this data (e.g. n = 1)."""
    return {
        "test": test,
        "statistic": None,
        "p_value": None,
        "p_value_two_sided": None,
        "n": n,
        "verdict": "undefined",
        "note": str(exc),
        "details": {},
        "model": model,
    }


def score_price(y_true, preds, last_close, realised, h, cost_bps, alpha, trading=True):
    """Price-head report pieces from plain forecast series (used by evaluate and backtest).

    Parameters
    ----------
    y_true : ndarray, shape (n,)
        Realised close at ``t + h`` (currency).
    preds : dict[str, ndarray]
        Forecasts of ``close[t+h]`` (currency) keyed by model name; must hold ``naive``.
    last_close : ndarray, shape (n,)
        Close at ``t`` (currency).
    realised : ndarray, shape (n,)
        Realised log return ``log(close[t+h] / close[t])``.
    h : int
        Horizon (sessions).
    cost_bps, alpha : float
        Trading cost per position change (basis points); significance level.
    trading : bool
        Also compute the long/flat trading view.

    Returns
    -------
    (dict, list, dict or None)
        Metrics per model (:func:`lstmfc.metrics.price_metrics`), Diebold-Mariano (HLN)
        tests of every non-naive model against naive, and the trading view (long/flat
        on each model's direction and buy-and-hold).
    """
    from lstmfc import metrics

    naive = preds["naive"]
    table = {
        name: metrics.price_metrics(y_true, p, last_close, y_naive=naive)
        for name, p in preds.items()
    }
    tests = []
    for name in (n for n in preds if n != "naive"):
        try:
            d = metrics.diebold_mariano(y_true, preds[name], naive, horizon=h, alpha=alpha)
            tests.append({**d.to_dict(), "model": name})
        except ValueError as exc:  # e.g. a one-window fold
            tests.append(undefined_test("diebold-mariano", name, len(y_true), exc))
    trade = None
    if trading:
        trade = {
            name: metrics.long_flat_backtest(
                metrics.price_to_signal(p, last_close), realised, horizon=h, cost_bps=cost_bps
            )
            for name, p in preds.items()
            if name != "naive"  # a random walk predicts no change: never long
        }
        trade["buy_and_hold"] = metrics.buy_and_hold(realised, horizon=h, cost_bps=cost_bps)
    return table, tests, trade


def score_direction(y, probas, realised, h, cost_bps, alpha, trading=True):
    """Direction-head report pieces from plain probability series (evaluate and backtest).

    Parameters
    ----------
    y : ndarray, shape (n,)
        Realised direction, 1 if ``close[t+h] > close[t]`` else 0.
    probas : dict[str, ndarray]
        P(up) keyed by model name; must hold ``lstm`` and ``majority``.
    realised, h, cost_bps, alpha, trading
        As in :func:`score_price`.

    Returns
    -------
    (dict, list, dict or None, float)
        Metrics per model (:func:`lstmfc.metrics.direction_metrics`); binomial tests of
        the LSTM's calls against the majority-class accuracy and against 0.5, and the
        Pesaran-Timmermann test; the trading view; the majority-class accuracy.
    """
    from lstmfc import metrics

    calls = {name: (p > 0.5).astype("int64") for name, p in probas.items()}
    table = {name: metrics.direction_metrics(y, p) for name, p in probas.items()}
    majority_acc = float(np.mean(calls["majority"] == y))
    tests = []
    for p0, bench in ((majority_acc, "majority"), (0.5, "chance")):
        if 0.0 < p0 < 1.0:
            d = metrics.binomial_test(y, calls["lstm"], p0=p0, alpha=alpha, benchmark=bench)
            tests.append({**d.to_dict(), "model": "lstm"})
    try:
        pt = metrics.pesaran_timmermann(y, calls["lstm"], alpha=alpha)
        tests.append({**pt.to_dict(), "model": "lstm"})
    except ValueError as exc:  # e.g. a one-window fold
        tests.append(undefined_test("pesaran-timmermann", "lstm", len(y), exc))
    trade = None
    if trading:
        trade = {
            name: metrics.long_flat_backtest(c, realised, horizon=h, cost_bps=cost_bps)
            for name, c in calls.items()
        }
        trade["buy_and_hold"] = metrics.buy_and_hold(realised, horizon=h, cost_bps=cost_bps)
    return table, tests, trade, majority_acc


def _price_report(bundle, prepared, sma_k: int, ema_span: int, cost_bps: float, alpha: float):
    from lstmfc import artifacts
    from lstmfc.baselines import price_baselines

    h = prepared.horizon
    tt = prepared.split_targets("test")
    closes = prepared.targets["close"].to_numpy(dtype="float64")
    test_rows = prepared.split_rows("test")
    last_close = tt["close"].to_numpy(dtype="float64")
    y_true = tt["target_price"].to_numpy(dtype="float64")
    realised_logret = tt["target_logret"].to_numpy(dtype="float64")

    preds = {"lstm": artifacts.predict_prices(bundle, prepared.windows("test"), last_close)}
    baselines = fit_baselines(
        price_baselines(lookback=prepared.lookback, sma_k=sma_k, ema_span=ema_span),
        closes,
        prepared.split_rows("train"),
        h,
    )
    for name, b in baselines.items():
        preds[name] = b.predict(closes, test_rows)
    table, tests, trading = score_price(
        y_true, preds, last_close, realised_logret, h, cost_bps, alpha
    )
    naive = preds["naive"]
    series = {"actual": y_true, "lstm": preds["lstm"], "naive": naive}
    return table, tests, trading, baselines, series


def _direction_report(bundle, prepared, cost_bps: float, alpha: float):
    from lstmfc import artifacts
    from lstmfc.baselines import direction_baselines

    h = prepared.horizon
    tt = prepared.split_targets("test")
    closes = prepared.targets["close"].to_numpy(dtype="float64")
    test_rows = prepared.split_rows("test")
    y = tt["target_direction"].to_numpy(dtype="int64")
    realised_logret = tt["target_logret"].to_numpy(dtype="float64")

    probas = {"lstm": artifacts.predict_proba(bundle, prepared.windows("test"))}
    baselines = fit_baselines(
        direction_baselines(lookback=prepared.lookback), closes, prepared.split_rows("train"), h
    )
    for name, b in baselines.items():
        probas[name] = b.predict_proba(closes, test_rows)
    table, tests, trading, _ = score_direction(y, probas, realised_logret, h, cost_bps, alpha)
    series = {"close": tt["close"].to_numpy(dtype="float64"), "prob_up": probas["lstm"], "up": y}
    return table, tests, trading, baselines, series


def conclusion(head: str, skill: dict[str, Any], trading: dict[str, Any]) -> str:
    verdict = skill.get("verdict", "")
    model_sharpe = (trading.get("lstm") or {}).get("sharpe")
    bh_sharpe = (trading.get("buy_and_hold") or {}).get("sharpe")
    if head == "price":
        lead = f"Diebold-Mariano vs the random walk: {verdict}"
        if verdict.startswith("worse"):
            lead += " — the LSTM's price forecasts are significantly worse than 'tomorrow = today'."
        elif not verdict.startswith("beats"):
            lead += (
                " — the LSTM's price forecasts are not significantly better than "
                "'tomorrow = today'."
            )
        else:
            lead += "."
    else:
        lead = f"Direction calls vs always-up ({skill.get('test')}): {verdict}."
    model_trades = (trading.get("lstm") or {}).get("n_trades")
    if model_trades == 0:
        lead += " Its signal was never long in the test period (no trades)."
    elif model_sharpe is not None and bh_sharpe is not None:
        lead += (
            f" Long/flat on its signal: Sharpe {model_sharpe:.2f} vs buy-and-hold {bh_sharpe:.2f}."
        )
    return lead


def _plot(path: Path, head: str, dates, series: dict[str, np.ndarray], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if head == "price":
        fig, ax = plt.subplots(figsize=(11, 5))
        ax.plot(dates, series["actual"], label="actual close", color="black", lw=1.2)
        ax.plot(dates, series["lstm"], label="LSTM forecast", color="tab:blue", lw=1.0)
        ax.plot(
            dates, series["naive"], label="naive (random walk)", color="tab:orange", lw=0.8, ls="--"
        )
        ax.set_ylabel("price (currency)")
    else:
        fig, (ax, ax2) = plt.subplots(
            2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
        )
        ax.plot(dates, series["close"], color="black", lw=1.0, label="close at t")
        ax.set_ylabel("price (currency)")
        up = series["up"].astype(bool)
        ax2.scatter(
            np.asarray(dates)[up],
            series["prob_up"][up],
            s=4,
            color="tab:green",
            label="realised up",
        )
        ax2.scatter(
            np.asarray(dates)[~up],
            series["prob_up"][~up],
            s=4,
            color="tab:red",
            label="realised down",
        )
        ax2.axhline(0.5, color="grey", lw=0.8)
        ax2.set_ylabel("LSTM P(up)")
        ax2.legend(loc="upper left", fontsize=8)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def evaluate(
    ws: Workspace,
    ticker: str,
    run_id: str | None = None,
    *,
    sma_k: int = 20,
    ema_span: int = 20,
    cost_bps: float = 0.0,
    alpha: float = 0.05,
    write: bool = True,
) -> dict[str, Any]:
    """Score a model bundle on the test split against the baselines.

    Parameters
    ----------
    ws : Workspace
    ticker : str
    run_id : str, optional
        Bundle run id; default the ticker's ``latest``.
    sma_k, ema_span : int
        Moving-average window and EMA span of the baselines (trading days).
    cost_bps : float
        Transaction cost per position change, basis points, for the trading view.
    alpha : float
        Significance level of the skill verdicts.
    write : bool
        Write ``evaluation.json`` and ``evaluation.png`` into the bundle folder.

    Returns
    -------
    dict
        The report described in the module docstring.

    Raises
    ------
    ArtifactError
        No prepared data, no model, or a bundle that fails its checks or does not
        match the prepared data.
    DataError
        A baseline cannot be fitted (series too short).
    UsageError
        Bad option values.
    """
    from lstmfc.artifacts import json_clean, load_bundle
    from lstmfc.errors import UsageError
    from lstmfc.windows import load_prepared

    if sma_k < 1 or ema_span < 1:
        raise UsageError("--sma and --ema must be >= 1")
    if not 0.0 <= cost_bps < 10_000:
        raise UsageError(f"--cost-bps must be in [0, 10000), got {cost_bps}")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")
    t = normalize_ticker(ticker)
    prepared = load_prepared(ws, t)
    bundle = load_bundle(ws, t, run_id, prepared_meta=prepared.meta)

    if bundle.head == "price":
        table, tests, trading, baselines, series = _price_report(
            bundle, prepared, sma_k, ema_span, cost_bps, alpha
        )
    else:
        table, tests, trading, baselines, series = _direction_report(
            bundle, prepared, cost_bps, alpha
        )
    tt = prepared.split_targets("test")
    target_dates = np.asarray(tt["target_date"].to_numpy(), dtype="datetime64[ns]")
    skill = tests[0]
    report: dict[str, Any] = {
        "ticker": t,
        "run_id": bundle.run_id,
        "head": bundle.head,
        "price_target": bundle.price_target if bundle.head == "price" else None,
        "cell": bundle.manifest.get("hyperparameters", {}).get("cell"),
        "horizon": prepared.horizon,
        "lookback": prepared.lookback,
        "n_test": int(len(tt)),
        "test_start": str(target_dates[0])[:10],
        "test_end": str(target_dates[-1])[:10],
        "metrics": table,
        "skill": skill,
        "skill_tests": tests,
        "trading": trading,
        "cost_bps": cost_bps,
        "alpha": alpha,
        "baselines": {name: b.get_params() for name, b in baselines.items()},
    }
    report["conclusion"] = conclusion(bundle.head, skill, trading)
    if write:
        plot_path = bundle.path / PLOT_FILE
        _plot(
            plot_path,
            bundle.head,
            target_dates,
            series,
            f"{t} test split ({report['test_start']} .. {report['test_end']}), run {bundle.run_id}",
        )
        report["plot"] = str(plot_path)
        atomic_write_text(
            bundle.path / EVALUATION_FILE, json.dumps(json_clean(report), indent=2) + "\n"
        )
    return json_clean(report)
