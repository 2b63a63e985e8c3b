"""Multi-step path forecasts: the path of ``K`` sessions after each forecast origin.

With ``--steps K`` (a property of the prepared dataset, like the horizon) the forecast
made at the close of ``t`` is the path ``t+h, t+h+1, ..., t+h+K-1``: step ``k`` lies
``h + k - 1`` sessions ahead (:func:`step_horizon`; with the default ``h = 1`` the
path is ``t+1 .. t+K``). Three strategies (``--strategy``; Ben Taieb, Bontempi,
Atiya & Sorjamaa 2012, "A review and comparison of strategies for multi-step ahead time
series forecasting based on the NN5 forecasting competition", Expert Systems with
Applications 39(8)):

* ``mimo``: one network with one output per step (multiple-input multiple-output);
* ``seq2seq``: an encoder-decoder network with one decoder step per path step
  (:func:`lstmfc.network.models.build_model`);
* ``recursive``: the one-step network fed its own forecasts: the forecast log return
  becomes the next input row, ``K`` times (:func:`recursive_log_returns`); only for
  inputs that are functions of the close alone (``logret``, ``close``) and the price
  head.

Leakage with paths
------------------
A training window's path reaches ``K - 1`` sessions beyond its step-1 target, so the
last ``K - 1`` training windows' paths end after the first validation origins, and the
last ``K - 1`` validation windows' after the first test origins. Those windows are
left out of fitting, target scaling, baseline fitting and baseline selection
(:func:`purged_rows`): every target any fit sees is known at the close of the first
origin it is then judged on. The test windows are all scored.

Per-step evaluation
-------------------
Step ``k`` is scored like a one-step forecast at horizon ``h + k - 1``: the head's
metrics and skill tests on that step's targets, baselines fitted for that horizon on
the (purged) training rows, the strongest chosen on the (purged) validation rows for
that step, MASE scaled by the training-period naive MAE at that horizon (Hyndman &
Koehler 2006), and one joint test over the path: Diebold-Mariano (HLN) on the loss
averaged over the steps (:func:`joint_test`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from lstmfc.core.errors import UsageError
from lstmfc.core.limits import MAX_STEPS

STRATEGIES = ("mimo", "seq2seq", "recursive")
"""``--strategy`` choices (module docstring)."""


def path_heads() -> list[str]:
    """Heads that forecast paths (a ``path_loss``; the vol and quantile heads forecast
    one horizon)."""
    from lstmfc.heads import HEADS, head_class

    return [name for name in HEADS if head_class(name).path_loss]


RECURSIVE_FEATURES = ("logret", "close")
"""Feature sets the recursive strategy can extend from its own forecast close."""


def step_horizon(horizon: int, k: int) -> int:
    """Sessions between the origin and step ``k`` (1-based) of the path: ``h + k - 1``."""
    return int(horizon) + int(k) - 1


def check_path_options(steps: Any, strategy: str, head: str) -> int:
    """Validate ``--steps`` / ``--strategy`` for ``head``; returns ``steps``.

    Raises
    ------
    UsageError
        One line naming the option.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise UsageError(f"--steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}")
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    from lstmfc.heads import head_class

    cls = head_class(head)
    if steps > 1 and not cls.path_loss:
        raise UsageError(
            f"--steps {steps}: the {head} head forecasts one horizon; paths need the "
            f"{' or '.join(path_heads())} head"
        )
    if steps > 1 and strategy == "recursive" and not cls.recursive:
        raise UsageError(
            f"--strategy recursive cannot feed back the {head} head's forecasts: use "
            + " or ".join(f"--head {n}" for n in path_heads() if head_class(n).recursive)
        )
    return steps


def check_recursive_features(features) -> None:
    """The recursive strategy extends a window from its own forecast: inputs must be
    computable from the close alone.

    Raises
    ------
    UsageError
        A feature set outside :data:`RECURSIVE_FEATURES`.
    """
    bad = [f for f in features if f not in RECURSIVE_FEATURES]
    if bad:
        raise UsageError(
            f"--strategy recursive cannot extend feature set {bad[0]!r} from a forecast "
            f"close; use --features {' or '.join(RECURSIVE_FEATURES)}"
        )


def path_columns(k: int) -> tuple[str, ...]:
    """Target columns of step ``k >= 2`` in the prepared targets (step 1: the base ones)."""
    return (f"target_date_{k}", f"target_price_{k}", f"target_logret_{k}",
            f"target_direction_{k}")  # fmt: skip


def add_path_targets(targets, horizon: int, steps: int) -> None:
    """Add the columns of steps ``2 .. K`` to a prepared target frame, in place.

    Step ``k`` of the window ending at row ``t`` is row ``t + h + k - 1``: its date,
    close (``target_price_k``, currency), ``log(close[t+h+k-1] / close[t])`` and
    direction (1 if above ``close[t]``). Rows without a full path hold NaN / ``<NA>``
    there (they end no window). Like every target these read rows after ``t`` and are
    only ever targets.
    """
    import pandas as pd

    c = targets["close"].to_numpy(dtype="float64")
    dates = pd.Series(targets.index, index=targets.index)
    n = len(c)
    for k in range(2, int(steps) + 1):
        hk = step_horizon(horizon, k)
        future = np.full(n, np.nan)
        future[: max(n - hk, 0)] = c[hk:]
        with np.errstate(invalid="ignore", divide="ignore"):
            logret = np.log(future / c)
        direction = pd.array((future > c).astype("int8"), dtype="Int8")
        direction[np.isnan(future)] = pd.NA
        d, p, r, u = path_columns(k)
        targets[d] = dates.shift(-hk).to_numpy()
        targets[p] = future
        targets[r] = logret
        targets[u] = direction


def step_frame(targets, k: int):
    """Target rows for step ``k`` under the base column names (step 1: unchanged), so
    that a one-step head scores step ``k`` as it scores a single forecast."""
    if k == 1:
        return targets
    d, p, r, u = path_columns(k)
    out = targets[["close", d, p, r, u]].copy()
    out.columns = ["close", "target_date", "target_price", "target_logret", "target_direction"]
    out["target_direction"] = out["target_direction"].astype("int8")
    return out


def purged_rows(rows: np.ndarray, steps: int) -> np.ndarray:
    """``rows`` without the last ``steps - 1`` (their paths reach into the next split)."""
    rows = np.asarray(rows)
    cut = int(steps) - 1
    return rows[: len(rows) - cut] if cut > 0 else rows


def recursive_log_returns(predict_one, windows, meta: dict[str, Any], steps: int, decode_one):
    """Path of log returns from the one-step network fed its own forecasts.

    Parameters
    ----------
    predict_one : callable
        ``windows (n, L, F) -> raw output (n, 1)`` of the one-step network.
    windows : ndarray, shape (n, lookback, n_features)
        Scaled input windows (the stored train-only scaler).
    meta : dict
        The ``prepare.json`` document of the windows (features, scaler).
    steps : int
        ``K``.
    decode_one : callable
        ``raw (n, 1) -> forecast one-session log return (n,)`` (the head's scaling).

    Returns
    -------
    ndarray, shape (n, K)
        Forecast log return from the origin to each step (cumulative sums).

    Notes
    -----
    Each forecast log return ``r`` becomes the next input row: the ``logret`` feature
    is ``r`` itself, the ``close`` feature the last close times ``exp(r)``, both scaled
    with the stored scaler; the oldest row drops out. Step ``k`` is thus forecast from
    ``k - 1`` forecasts instead of realised values, the recursive strategy of Ben
    Taieb et al. (2012).
    """
    from lstmfc.dataset.prepare import MinMaxParams

    check_recursive_features(meta["features"])
    scaler = MinMaxParams.from_json(meta["scaler"])
    names = list(meta["feature_names"])
    x = np.array(windows, dtype="float64", copy=True)
    close_col = names.index("close") if "close" in names else None
    last_close = None
    if close_col is not None:  # unscaled close of the window's last row
        last_close = scaler.inverse_transform(x[:, -1, :])[:, close_col]
    out = np.zeros((len(x), int(steps)))
    total = np.zeros(len(x))
    for k in range(int(steps)):
        r = np.asarray(decode_one(predict_one(x.astype("float32"))), dtype="float64")
        total = total + r
        out[:, k] = total
        row = np.zeros((len(x), len(names)))
        for j, name in enumerate(names):
            if name == "logret":
                row[:, j] = r
            elif name == "close":
                last_close = last_close * np.exp(r)
                row[:, j] = last_close
        x = np.concatenate([x[:, 1:, :], scaler.transform(row)[:, None, :]], axis=1)
    return out


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
    from lstmfc.bundles.bundle import json_clean
    from lstmfc.core.atomic import atomic_write_text
    from lstmfc.dataset.prepare import out_of_range_share, out_of_range_warnings
    from lstmfc.evaluation.evaluate import EVALUATION_FILE, PLOT_FILE, fit_baselines, report_header

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


def measure_by_step(one, sections, name: str) -> list[float]:
    """The head's :attr:`~lstmfc.heads.Head.path_measure` of model ``name`` at every
    step: its metric divided by (``ratio``) or minus (``difference``) the benchmark's."""
    key, mode, _ = one.path_measure
    ref = one.benchmark
    if mode == "ratio":
        return [s["metrics"][name][key] / s["metrics"][ref][key] for s in sections]
    return [s["metrics"][name][key] - s["metrics"][ref][key] for s in sections]


def plot_path_report(path, one, tt, per_model, sections, closes, test_rows, h, title) -> None:
    """(a) the head's measure against its benchmark by step (price: RMSE relative to
    naive; direction: accuracy minus the majority's) for the LSTM and each baseline, on
    a scale set by the LSTM, the benchmark, drift and OLS (baselines far off it are
    named in the legend); (b) forecast paths from every tenth of the last 60 test
    origins drawn over the realised closes (forecasts in currency) or by step
    (probabilities)."""
    from lstmfc.heads.base import pyplot, save_figure

    plt = pyplot()
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(12, 4.8))
    ks = [s["step"] for s in sections]
    ratio = one.path_measure[1] == "ratio"
    ref = one.benchmark
    lines = {name: measure_by_step(one, sections, name) for name in per_model}
    core = [v for n in ("lstm", ref, "drift", "ols") if n in lines for v in lines[n]]
    lo, hi = min(core), max(core)
    pad = max(hi - lo, 1e-3) * 0.25
    lo, hi = lo - pad, hi + pad
    for name, vals in lines.items():
        off = min(vals) > hi or max(vals) < lo
        style = {"lw": 2.0, "color": "tab:blue"} if name == "lstm" else {"lw": 0.9}
        ax_a.plot(ks, vals, marker="o", ms=3, label=name + (" (off scale)" if off else ""),
                  **style)  # fmt: skip
    ax_a.set_ylim(lo, hi)
    ax_a.axhline(1.0 if ratio else 0.0, color="grey", lw=0.8)
    ax_a.set_xticks(ks)
    ax_a.set_xlabel(f"step k (forecast {h} + k - 1 sessions ahead)")
    ax_a.set_ylabel(one.path_measure[2])
    ax_a.set_title(f"(a) by step, against {ref}", fontsize=10)
    ax_a.legend(fontsize=7)
    lstm = np.stack(per_model["lstm"], axis=1)
    n = len(test_rows)
    steps = len(sections)
    last = np.arange(max(n - 60, 0), n)
    picks = last[:: max(1, min(10, len(last)))][:6]
    currency = one.forecast_unit == "currency"
    if currency:
        r0, r1 = (
            test_rows[last[0]],
            min(test_rows[last[-1]] + step_horizon(h, steps), len(closes) - 1),
        )
        seg = np.arange(r0, r1 + 1)
        ax_b.plot(seg - r0, closes[seg], color="black", lw=0.9, label="realised close")
        for j, i in enumerate(picks):
            r = test_rows[i]
            xs = [r - r0, *(r - r0 + step_horizon(h, k) for k in range(1, steps + 1))]
            ax_b.plot(xs, [closes[r], *lstm[i]], color="tab:blue", lw=1.2, marker=".",
                      label="forecast path" if j == 0 else None)  # fmt: skip
        ax_b.set_xlabel("sessions since the start of the last 60 test origins")
        ax_b.set_ylabel("close (currency)")
        ax_b.legend(fontsize=7)
    else:
        for i in picks:
            ax_b.plot(range(1, steps + 1), lstm[i], marker=".", lw=0.8)
        ax_b.set_xlabel("step")
        ax_b.set_ylabel(f"forecast ({one.forecast_unit})")
    ax_b.set_title("(b) forecast paths (blue) over realised closes" if currency
                   else "(b) forecasts by step for a few origins", fontsize=10)  # fmt: skip
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


COMPARE_PLOT = "compare.png"
"""File name of the ``evaluate --compare`` plot, in ``models/<TICKER>/``."""


def run_label(rep: dict[str, Any]) -> str:
    """Short label of a run in a comparison: strategy, ``+att``, and the id's suffix."""
    if not isinstance(rep.get("steps"), list):
        kind = "one-step"
    else:
        kind = str(rep.get("strategy")) + ("+att" if rep.get("attention") else "")
    return f"{kind} {str(rep['run_id'])[-6:]}"


def compare_runs(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Several evaluation reports of one ticker side by side, step by step.

    For each run: the head's :attr:`~lstmfc.heads.Head.path_measure` at every step
    (price: the LSTM's RMSE relative to naive; direction: its accuracy minus the
    majority's) and the joint-test verdicts. A one-step run contributes its step 1 only.

    Raises
    ------
    UsageError
        Fewer than two reports, or runs of several heads or of a head without paths.
    """
    from lstmfc.heads import make_head

    if len(reports) < 2:
        raise UsageError("--compare needs at least two run ids, separated by commas")
    heads = sorted({r["head"] for r in reports})
    if len(heads) > 1 or heads[0] not in path_heads():
        raise UsageError(
            f"--compare needs runs of one head, {' or '.join(path_heads())}; got "
            + ", ".join(heads)
        )
    one = make_head(heads[0])
    rows = []
    for rep in reports:
        sections = rep.get("steps")
        if not isinstance(sections, list):  # a one-step report
            sections = [{"step": 1, "horizon": rep["horizon"], "metrics": rep["metrics"]}]
        rows.append(
            {
                "run_id": rep["run_id"],
                "label": run_label(rep),
                "strategy": rep.get("strategy") if isinstance(rep.get("steps"), list) else None,
                "attention": bool(rep.get("attention", False)),
                "cell": rep.get("cell"),
                "n_steps": len(sections),
                "test_start": rep["test_start"],
                "n_test": rep["n_test"],
                "values": measure_by_step(one, sections, "lstm"),
                "joint_tests": [
                    {k: j.get(k) for k in ("benchmark", "p_value", "verdict")}
                    for j in rep.get("joint_tests", [])
                ],
            }
        )
    key, mode, label = one.path_measure
    return {
        "ticker": reports[0]["ticker"],
        "head": one.name,
        "benchmark": one.benchmark,
        "measure": {"key": key, "mode": mode, "label": label},
        "runs": rows,
    }


def plot_compare(path, comparison: dict[str, Any]) -> None:
    """One line per run: the head's measure against its benchmark by step; written
    atomically to ``path``."""
    from lstmfc.heads.base import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in comparison["runs"]:
        ks = range(1, len(run["values"]) + 1)
        ax.plot(ks, run["values"], marker="o", ms=3, label=run["label"])
    m = comparison["measure"]
    ax.axhline(1.0 if m["mode"] == "ratio" else 0.0, color="grey", lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel(m["label"])
    ax.set_title(
        f"{comparison['ticker']}: runs compared by step, against {comparison['benchmark']}",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def compare(ws, ticker: str, run_ids: list[str], *, write: bool = True, **options: Any) -> dict:
    """Evaluate each run of ``ticker`` (:func:`lstmfc.evaluation.evaluate.evaluate` with
    ``options``) and put them side by side (:func:`compare_runs`); with ``write``, each
    run's evaluation files and ``models/<TICKER>/compare.png``.

    Returns ``{"comparison": ..., "reports": [...]}``.

    Raises
    ------
    UsageError, ArtifactError, DataError
        As :func:`compare_runs` and :func:`lstmfc.evaluation.evaluate.evaluate`.
    """
    from lstmfc.evaluation.evaluate import evaluate

    ids = [r.strip() for r in run_ids if r.strip()]
    if len(ids) < 2 or len(set(ids)) != len(ids):
        raise UsageError("--compare needs at least two different run ids, separated by commas")
    reports = [evaluate(ws, ticker, rid, write=write, **options) for rid in ids]
    comparison = compare_runs(reports)
    if write:
        plot = ws.model_root(ticker) / COMPARE_PLOT
        plot_compare(plot, comparison)
        comparison["plot"] = str(plot)
    return {"comparison": comparison, "reports": reports}
