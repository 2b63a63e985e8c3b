"""TODO docstring: moved from lstmfc.heads.paths."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from lstmfc.dataset.targets import step_frame, step_horizon
from lstmfc.evaluation.plots import plot_path_report


def joint_test(y_true: np.ndarray, forecasts: np.ndarray, benchmark: np.ndarray, *, horizon: int,
               alpha: float, name: str, loss: str = "squared") -> dict[str, Any]:  # fmt: skip
    """Diebold-Mariano (HLN) on the loss averaged over the path's steps.

    ``d_t = mean_k L(y_t,k - f_t,k) - mean_k L(y_t,k - b_t,k)`` with the HLN correction
    at the path's last horizon (the averaged errors overlap for that many sessions).

    Parameters
    ----------
    y_true, forecasts, benchmark : ndarray, shape (n, K)
        Realised values and the two forecasts of each step.
    horizon : int
        Horizon of the last step, ``h + K - 1``.
    """
    from lstmfc.stats import metrics

    e1 = np.asarray(y_true, "float64") - np.asarray(forecasts, "float64")
    e0 = np.asarray(y_true, "float64") - np.asarray(benchmark, "float64")
    lossf = np.square if loss == "squared" else np.abs
    d = lossf(e1).mean(axis=1) - lossf(e0).mean(axis=1)
    test = metrics.diebold_mariano_differential(
        d, horizon=horizon, alpha=alpha, benchmark=name, loss=f"{loss}, averaged over steps"
    )
    return {**test.to_dict(), "model": "lstm", "benchmark": name, "scope": "path"}


# ---------------------------------------------------------------- evaluation of a path
def naive_mae_scale(closes: np.ndarray, rows: np.ndarray, horizon: int) -> float:
    """MASE denominator: the training-period MAE of the naive forecast at ``horizon``,
    ``mean |close[t+h] - close[t]|`` over the (purged) training window ends ``rows``
    (Hyndman & Koehler 2006: in-sample naive errors at the same horizon)."""
    rows = np.asarray(rows)
    return float(np.mean(np.abs(closes[rows + horizon] - closes[rows])))


def evaluate_path(ws, t: str, prepared, bundle, *, sma_k: int, ema_span: int, cost_bps: float,
                  alpha: float, write: bool) -> dict[str, Any]:  # fmt: skip
    """The test-split report of a path model: one section per step, a joint test.

    Called by :func:`lstmfc.evaluation.evaluate.evaluate` for a bundle of ``steps > 1``. Step
    ``k`` is scored by the one-step head (:meth:`lstmfc.heads.Head.step_head`) at
    horizon ``h + k - 1`` against baselines fitted for that horizon on the purged
    training rows, with the strongest chosen on the purged validation rows for that
    step. The top-level ``metrics``, ``skill``, ``skill_tests``, ``best_baseline``,
    ``verdict`` and ``trading`` are step 1's (what a one-step report holds), ``steps``
    is the list of per-step sections (``step``, ``horizon``, ``metrics``, ``skill_tests``,
    ``best_baseline``, ``verdict``), ``n_steps`` its length, ``joint_tests`` the
    Diebold-Mariano tests on the loss averaged over the path against naive (the head's
    benchmark) and against the baseline with the lowest average validation loss over
    the path.
    """
    from lstmfc.core.atomic import atomic_write_text
    from lstmfc.core.jsonclean import json_clean
    from lstmfc.dataset.prepare import out_of_range_share, out_of_range_warnings
    from lstmfc.evaluation.evaluate import EVALUATION_FILE, PLOT_FILE, report_header
    from lstmfc.forecasters.base import fit_baselines

    head, one = bundle.head, bundle.head.step_head()
    h, steps = prepared.horizon, head.steps
    tt = prepared.split_targets("test")
    closes = prepared.targets["close"].to_numpy(dtype="float64")
    test_rows = prepared.split_rows("test")
    train_rows, val_rows = prepared.fit_rows("train"), prepared.fit_rows("val")
    val_tt = prepared.fit_targets("val")
    x_test = prepared.windows("test")
    path = np.asarray(bundle.forecast(x_test, tt))  # (n, K)
    sections, per_model, val_losses = [], {}, {}
    for k in range(1, steps + 1):
        hk = step_horizon(h, k)
        tt_k, val_k = step_frame(tt, k), step_frame(val_tt, k)
        baselines = fit_baselines(
            one.baselines(lookback=prepared.lookback, sma_k=sma_k, ema_span=ema_span),
            closes,
            train_rows,
            hk,
        )
        fc = {"lstm": path[:, k - 1]}
        val_fc = {}
        for name, b in baselines.items():
            fc[name] = one.baseline_forecast(b, closes, test_rows)
            val_fc[name] = one.baseline_forecast(b, closes, val_rows)
        best = one.choose_best(val_k, val_fc)
        for name, loss in best["validation"].items():
            val_losses.setdefault(name, []).append(loss)
        scores = one.score(
            tt_k, fc, horizon=hk, cost_bps=cost_bps, alpha=alpha, trading=(k == 1),
            best=best["name"],
        )  # fmt: skip
        # e.g. MASE for prices (the training-period naive MAE at this horizon)
        one.step_metrics(scores.metrics, one.truth(tt_k), fc, closes, train_rows, hk)
        for name, f in fc.items():
            per_model.setdefault(name, []).append(f)
        sections.append(
            {
                "step": k,
                "horizon": hk,
                "test_start": str(np.asarray(tt_k["target_date"].to_numpy(), "datetime64[D]")[0]),
                "metrics": scores.metrics,
                "skill": scores.tests[0],
                "skill_tests": scores.tests,
                "best_baseline": best,
                "verdict": one.verdict_line(scores.tests, best["name"]),
                "trading": scores.trading,
            }
        )
    joint_best = min(val_losses, key=lambda n: (float(np.mean(val_losses[n])), n))
    joint = path_joint_tests(one, tt, steps, per_model, head.benchmark, joint_best, h, alpha)
    first = sections[0]
    share = out_of_range_share(x_test)
    report: dict[str, Any] = {
        **report_header(t, bundle, head, prepared, tt),
        "n_steps": steps,
        "strategy": head.strategy,
        "attention": bool(bundle.manifest.get("hyperparameters", {}).get("attention")),
        "metrics": first["metrics"],
        "skill": first["skill"],
        "skill_tests": first["skill_tests"],
        "best_baseline": first["best_baseline"],
        "verdict": first["verdict"],
        "trading": first["trading"],
        "steps": sections,
        "joint_tests": joint,
        "cost_bps": cost_bps,
        "alpha": alpha,
        "out_of_range_share": share,
        "warnings": out_of_range_warnings(t, "test windows'", share),
    }
    report["conclusion"] = _path_conclusion(one, sections, joint)
    if write:
        plot_path = bundle.path / PLOT_FILE
        title = f"{t} test split, {steps}-step {head.strategy} path, run {bundle.run_id}"
        plot_path_report(plot_path, one, tt, per_model, sections, closes, test_rows, h, title)
        report["plot"] = str(plot_path)
        atomic_write_text(
            bundle.path / EVALUATION_FILE, json.dumps(json_clean(report), indent=2) + "\n"
        )
    return json_clean(report)


def path_joint_tests(one, tt, steps, per_model, benchmark, best, h, alpha) -> list[dict[str, Any]]:
    """DM (HLN) on the loss averaged over the path: squared error of prices, or 0-1 loss
    of direction calls, against the head's benchmark and the jointly best baseline."""
    truth = np.stack([one.truth(step_frame(tt, k)) for k in range(1, steps + 1)], axis=1)
    f = {n: np.stack(v, axis=1) for n, v in per_model.items()}
    out = []
    for name in dict.fromkeys((benchmark, best)):
        if name not in f:
            continue
        if one.path_loss == "zero_one":  # 0-1 loss of the calls: errors are 0/1 indicators
            y = np.zeros_like(truth, dtype="float64")
            model_err = ((f["lstm"] > 0.5).astype(int) != truth).astype("float64")
            bench_err = ((f[name] > 0.5).astype(int) != truth).astype("float64")
            test = joint_test(y, model_err, bench_err, horizon=step_horizon(h, steps),
                              alpha=alpha, name=name, loss="absolute")  # fmt: skip
            test["details"]["loss"] = "zero-one, averaged over steps"
        else:
            test = joint_test(truth, f["lstm"], f[name], horizon=step_horizon(h, steps),
                              alpha=alpha, name=name)  # fmt: skip
        out.append(test)
    return out


def _path_conclusion(one, sections, joint) -> str:
    from lstmfc.heads.base import verdict_with_p, with_verb

    lines = [
        "over the whole path the LSTM "
        + with_verb(verdict_with_p(test["verdict"], test.get("p_value")))
        for test in joint
    ]
    beat = [s["step"] for s in sections if str(s["skill"].get("verdict", "")).startswith("beats")]
    steps = len(sections)
    if beat:
        at = "step" if len(beat) == 1 else "steps"
        lines.append(f"step by step it beats {one.benchmark} at {at} {', '.join(map(str, beat))}")
    else:
        lines.append(f"at no step of {steps} does it beat {one.benchmark} significantly")
    text = "; ".join(lines)
    return text[0].upper() + text[1:] + "."
