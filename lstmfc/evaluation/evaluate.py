"""Score a trained model on the **test split** next to baselines on the same target dates.

Everything here is in real units: the forecast head (:mod:`lstmfc.heads`) turns the
network's output back into forecasts (currency, probability ...) before any error is
computed, never on scaled values. Baselines are fitted on the training windows only
(:mod:`lstmfc.forecasters.price`); the network was trained on them too.

Report (``evaluation.json`` in the bundle folder, and the ``--json`` document)
-------------------------------------------------------------------------------
``ticker``, ``run_id``, ``head``, ``head_options``, ``cell``, ``horizon``,
``lookback``, ``n_test``, ``test_start``, ``test_end`` (ISO dates of the test
targets), ``metrics`` keyed by model name (``lstm`` and each baseline), ``skill`` (the
headline test), ``skill_tests`` (all tests, each with ``model`` and ``benchmark``),
``best_baseline`` (the strongest simple baseline, chosen on the VALIDATION split by the
head's criterion, never on the test split: ``name``, ``criterion``, each baseline's
validation loss), ``verdict`` (one line: against the headline benchmark and against
the strongest baseline), ``trading`` (long/flat strategy per model and buy-and-hold),
``conclusion`` (plain sentences), ``engine`` (what ran the network: ``keras``, or
``onnx`` when Keras was not loaded in this process and the bundle has ONNX twins),
``plot`` (path of the PNG), ``baselines`` (their
parameters), ``out_of_range_share`` (share of the test windows' scaled inputs outside
the training range) and ``warnings``, plus the head's own keys (``price_target``).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from lstmfc.core.atomic import atomic_write_text
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import DataError, UsageError
from lstmfc.core.limits import MAX_BASELINE_WINDOW
from lstmfc.forecasters.base import fit_baselines

EVALUATION_FILE = "evaluation.json"
PLOT_FILE = "evaluation.png"


def check_options(sma_k: int, ema_span: int, cost_bps: float, alpha: float) -> None:
    """Validate the scoring options shared by ``evaluate`` and ``backtest``.

    ``--sma`` and ``--ema`` are integers from 1 to :data:`MAX_BASELINE_WINDOW`,
    ``--cost-bps`` in [0, 10000) basis points, ``--alpha`` in (0, 1).

    Raises
    ------
    UsageError
        One line naming the option.
    """
    for name, v in (("--sma", sma_k), ("--ema", ema_span)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise UsageError(f"{name} must be an integer, got {v!r}")
        if not 1 <= v <= MAX_BASELINE_WINDOW:
            raise UsageError(f"{name} must be from 1 to {MAX_BASELINE_WINDOW} sessions, got {v}")
    for name, v in (("--cost-bps", cost_bps), ("--alpha", alpha)):
        if isinstance(v, bool) or not isinstance(v, int | float | np.floating):
            raise UsageError(f"{name} must be a number, got {v!r}")
    if not 0.0 <= cost_bps < 10_000:
        raise UsageError(f"--cost-bps must be in [0, 10000), got {cost_bps}")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")


def report_header(t: str, bundle, head, prepared, tt) -> dict[str, Any]:
    """The keys every evaluation report starts with: what was scored and on which
    test targets.

    Parameters
    ----------
    t : str
        Ticker.
    bundle : lstmfc.bundles.bundle.Bundle
        The loaded model bundle.
    head : lstmfc.heads.base.Head
        The bundle's head.
    prepared : lstmfc.dataset.prepare.Prepared
        The prepared data the bundle was trained on.
    tt : pandas.DataFrame
        The test targets, one row per scored window, with ``target_date``.

    Returns
    -------
    dict
        ``ticker``, ``run_id``, ``head``, ``head_options``, the head's
        :meth:`~lstmfc.heads.base.Head.report_keys`, ``cell``, ``ensemble``,
        ``engine``, ``horizon``, ``lookback``, ``n_test``, ``test_start`` and
        ``test_end`` (ISO dates of the first and last test target).
    """
    dates = np.asarray(tt["target_date"].to_numpy(), dtype="datetime64[D]")
    return {
        "ticker": t,
        "run_id": bundle.run_id,
        "head": head.name,
        "head_options": head.options,
        **head.report_keys(),
        "cell": bundle.manifest.get("hyperparameters", {}).get("cell"),
        "ensemble": len(bundle.models),
        "engine": bundle.engine,
        "horizon": int(prepared.horizon),
        "lookback": prepared.lookback,
        "n_test": int(len(tt)),
        "test_start": str(dates[0]),
        "test_end": str(dates[-1]),
    }


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
    """Score a model bundle on the test split against the head's baselines.

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
    from lstmfc.bundles.bundle import load_bundle
    from lstmfc.core.jsonclean import json_clean
    from lstmfc.dataset.prepare import load_prepared, out_of_range_share, out_of_range_warnings

    check_options(sma_k, ema_span, cost_bps, alpha)
    t = normalize_ticker(ticker)
    prepared = load_prepared(ws, t)
    # ONNX Runtime when Keras is not loaded yet (seconds saved); Keras when it is (run)
    engine = "keras" if "keras" in sys.modules else "auto"
    bundle = load_bundle(ws, t, run_id, prepared_meta=prepared.meta, engine=engine)
    head = bundle.head
    if head.steps > 1:  # a path: one report section per step (lstmfc.heads.paths)
        from lstmfc.evaluation.paths import evaluate_path

        return evaluate_path(
            ws, t, prepared, bundle, sma_k=sma_k, ema_span=ema_span, cost_bps=cost_bps,
            alpha=alpha, write=write,
        )  # fmt: skip

    h = prepared.horizon
    tt = prepared.split_targets("test")
    closes = prepared.targets["close"].to_numpy(dtype="float64")
    x_test = prepared.windows("test")
    forecasts = {"lstm": bundle.forecast(x_test, tt)}
    # e.g. quantile: split-conformal (validation) and online ACI; nothing for most heads
    forecasts.update(head.calibrated_forecasts(bundle.manifest, tt, forecasts["lstm"], horizon=h))
    baselines = fit_baselines(
        head.baselines(lookback=prepared.lookback, sma_k=sma_k, ema_span=ema_span),
        closes,
        prepared.split_rows("train"),
        h,
    )
    val_rows = prepared.split_rows("val")
    val_forecasts = {}
    for name, b in baselines.items():
        forecasts[name] = head.baseline_forecast(b, closes, prepared.split_rows("test"))
        val_forecasts[name] = head.baseline_forecast(b, closes, val_rows)
    best = head.choose_best(prepared.split_targets("val"), val_forecasts)
    try:
        scores = head.score(
            tt, forecasts, horizon=h, cost_bps=cost_bps, alpha=alpha, best=best["name"]
        )
    except ValueError as exc:
        raise DataError(f"{t}: {exc}") from None
    share = out_of_range_share(x_test)

    report: dict[str, Any] = {
        **report_header(t, bundle, head, prepared, tt),
        "metrics": scores.metrics,
        "skill": scores.tests[0],
        "skill_tests": scores.tests,
        "best_baseline": best,
        "verdict": head.verdict_line(scores.tests, best["name"]),
        "trading": scores.trading,
        "cost_bps": cost_bps,
        "alpha": alpha,
        "baselines": {name: b.get_params() for name, b in baselines.items()},
        "out_of_range_share": share,
        "warnings": out_of_range_warnings(t, "test windows'", share),
        **scores.extra,
    }
    report["conclusion"] = head.conclusion(scores.tests, scores.trading, best["name"])
    if write:
        plot_path = bundle.path / PLOT_FILE
        head.plot(
            plot_path,
            tt,
            forecasts,
            f"{t} test split ({report['test_start']} .. {report['test_end']}), run {bundle.run_id}",
            best=best["name"],
        )
        report["plot"] = str(plot_path)
        atomic_write_text(
            bundle.path / EVALUATION_FILE, json.dumps(json_clean(report), indent=2) + "\n"
        )
    return json_clean(report)


def skill_summary(docs: dict[str, dict[str, Any] | None], alpha: float) -> dict[str, Any]:
    """Skill across a universe of tickers, with multiple-testing adjusted p-values.

    Parameters
    ----------
    docs : dict
        Ticker -> its scoring document (an ``evaluate`` report or a backtest's
        ``overall``: ``skill``, ``skill_tests``, ``best_baseline``, ``verdict``), or
        ``None`` for a ticker that failed.
    alpha : float
        Significance level.

    Returns
    -------
    dict
        ``method`` (:data:`lstmfc.stats.metrics.MULTIPLE_TESTING_METHOD`), ``alpha``,
        ``rows`` (per ticker: ``test``, ``statistic``, ``p_value`` and
        ``p_value_adjusted`` of the headline test, ``best_baseline``, ``p_value_best``
        and ``p_value_best_adjusted`` of the test against it, ``verdict``,
        ``beats_benchmark`` / ``beats_benchmark_adjusted``), ``n_ok``, ``n_beat``,
        ``n_beat_adjusted``, ``n_beat_best_adjusted``. Each family (headline tests;
        tests against the strongest baseline) is adjusted on its own.
    """
    from lstmfc.stats.metrics import MULTIPLE_TESTING_METHOD, adjust_p_values

    rows = []
    for t, doc in docs.items():
        if doc is None:
            rows.append({"ticker": t, "ok": False})
            continue
        sk = doc["skill"]
        best = (doc.get("best_baseline") or {}).get("name")
        vs_best = next(
            (
                x
                for x in doc.get("skill_tests", [])
                if x.get("model") == "lstm" and x.get("benchmark") == best
            ),
            sk if best == sk.get("benchmark") else None,
        )
        rows.append(
            {
                "ticker": t,
                "ok": True,
                "test": sk.get("test"),
                "statistic": sk.get("statistic"),
                "p_value": sk.get("p_value"),
                "best_baseline": best,
                "p_value_best": (vs_best or {}).get("p_value"),
                "verdict": doc.get("verdict") or sk.get("verdict"),
            }
        )
    ok = [r for r in rows if r["ok"]]
    for key in ("p_value", "p_value_best"):
        for r, adj in zip(ok, adjust_p_values([r[key] for r in ok]), strict=True):
            r[f"{key}_adjusted"] = adj
    for r in ok:
        r["beats_benchmark"] = r["p_value"] is not None and r["p_value"] < alpha
        r["beats_benchmark_adjusted"] = (
            r["p_value_adjusted"] is not None and r["p_value_adjusted"] < alpha
        )
        r["beats_best_adjusted"] = (
            r["p_value_best_adjusted"] is not None and r["p_value_best_adjusted"] < alpha
        )
    return {
        "method": MULTIPLE_TESTING_METHOD,
        "alpha": alpha,
        "rows": rows,
        "n_ok": len(ok),
        "n_beat": sum(r["beats_benchmark"] for r in ok),
        "n_beat_adjusted": sum(r["beats_benchmark_adjusted"] for r in ok),
        "n_beat_best_adjusted": sum(r["beats_best_adjusted"] for r in ok),
    }
