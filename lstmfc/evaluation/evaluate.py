"""``lstmfc evaluate``: score a trained model on the **test split** against the head's
baselines fitted on the same training rows.

Everything is in real units: the forecast head (:mod:`lstmfc.heads`) turns the network's
output back into forecasts (currency, probability, variance, quantiles) before any error
is computed, never on scaled values. The judging itself is
:mod:`lstmfc.evaluation.judge` (baselines fit on training rows, the strongest chosen on
validation, everything scored on the test rows); the report's keys are listed in
:mod:`lstmfc.evaluation.report`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from lstmfc.bundles.bundle import load_bundle
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.jsonclean import json_clean
from lstmfc.dataset.prepare import load_prepared
from lstmfc.dataset.scaling import out_of_range_share, out_of_range_warnings
from lstmfc.evaluation.judge import ScoringOptions, fit_benchmarks, joint_best, judge
from lstmfc.evaluation.plots import plot_evaluation
from lstmfc.evaluation.report import PLOT_FILE, judged_report, report_header, write_evaluation


def evaluate(
    ws: Workspace,
    ticker: str,
    run_id: str | None = None,
    *,
    options: ScoringOptions | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Score a model bundle on the test split against the head's baselines.

    Parameters
    ----------
    ws : Workspace
    ticker : str
    run_id : str, optional
        Bundle run id; default the ticker's ``latest``.
    options : ScoringOptions, optional
        Baseline windows, trading cost and significance level (defaults: SMA and EMA 20
        sessions, 0 bps, alpha 0.05).
    write : bool
        Write ``evaluation.json`` and ``evaluation.png`` into the bundle folder.

    Returns
    -------
    dict
        The report (:mod:`lstmfc.evaluation.report`).

    Raises
    ------
    ArtifactError
        No prepared data, no model, or a bundle that fails its checks or does not
        match the prepared data.
    DataError
        A baseline cannot be fitted (series too short) or a metric is undefined.
    UsageError
        Bad option values.
    """
    options = (options or ScoringOptions()).validate()
    t = normalize_ticker(ticker)
    prepared = load_prepared(ws, t)
    # ONNX Runtime when Keras is not loaded yet (seconds saved); Keras when it is (run)
    engine = "keras" if "keras" in sys.modules else "auto"
    bundle = load_bundle(ws, t, run_id, prepared_meta=prepared.meta, engine=engine)
    head = bundle.head
    one = head.step_head()  # a path is scored step by step by the one-step head
    h, steps = prepared.horizon, head.steps
    tt = prepared.split_targets("test")
    closes = prepared.targets["close"].to_numpy(dtype="float64")
    test_rows, train_rows = prepared.split_rows("test"), prepared.fit_rows("train")
    x_test = prepared.windows("test")
    network = np.asarray(bundle.forecast(x_test, tt))  # (n,), (n, K) path or (n, k) quantiles
    benchmarks = fit_benchmarks(
        one,
        closes,
        (train_rows, prepared.fit_rows("val")),
        prepared.fit_targets("val"),
        lookback=prepared.lookback,
        horizon=h,
        steps=steps,
        options=options,
    )
    forecasts = []
    for b in benchmarks:
        own = network[:, b.step - 1] if steps > 1 else network
        fc = {"lstm": own}
        if b.step == 1:  # e.g. quantile: split-conformal (validation) and online ACI
            fc.update(head.calibrated_forecasts(bundle.manifest, tt, own, horizon=h))
        fc.update(b.forecasts(closes, test_rows))
        forecasts.append(fc)
    context = {"label": t, "mase": (closes, train_rows)}
    if steps > 1:
        context["joint_best"] = joint_best(benchmarks)
    judgement = judge(
        one,
        tt,
        forecasts,
        [b.best for b in benchmarks],
        horizon=h,
        options=options,
        context=context,
    )
    share = out_of_range_share(x_test)
    report: dict[str, Any] = report_header(t, bundle, head, prepared, tt)
    if steps > 1:
        hyper = bundle.manifest.get("hyperparameters", {})
        report.update(n_steps=steps, strategy=head.strategy, attention=bool(hyper.get("attention")))
    report.update(judged_report(one, judgement, benchmarks, tt))
    report.update(
        cost_bps=options.cost_bps,
        alpha=options.alpha,
        out_of_range_share=share,
        warnings=out_of_range_warnings(t, "test windows'", share),
    )
    if write:
        plot_path = bundle.path / PLOT_FILE
        plot_evaluation(plot_path, one, judgement, (tt, closes, test_rows), report)
        report["plot"] = str(plot_path)
        write_evaluation(bundle.path, report)
    return json_clean(report)
