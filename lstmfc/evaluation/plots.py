"""The evaluation plots (PNG): one per head for a one-step test split, the path plots,
and the plot of ``evaluate --compare``; every file is written atomically.

The one-step plot of a head is :func:`plot_test_split`, dispatched on the head's class
(``functools.singledispatch``): a new head registers its own function here. All plots
use matplotlib's Agg canvas (:func:`lstmfc.core.plotting.pyplot`); matplotlib is imported
only when a plot is drawn. Where skill comes from is shown as the cumulative loss
difference of a benchmark minus the network over the test period, rising when the
network wins (Goyal & Welch 2008, "A comprehensive look at the empirical performance
of equity premium prediction", RFS 21(4), Fig. 1).
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any

import numpy as np

from lstmfc.core.plotting import pyplot, save_figure
from lstmfc.dataset.targets import step_horizon
from lstmfc.heads.base import Head
from lstmfc.heads.direction import DirectionHead
from lstmfc.heads.price import PriceHead
from lstmfc.heads.quantile import QuantileHead
from lstmfc.heads.vol import VolHead
from lstmfc.quantiles.levels import level_index
from lstmfc.quantiles.var_es import value_at_risk
from lstmfc.volatility.scoring import qlike_losses


def plot_evaluation(path, head: Head, judgement, data, report: dict[str, Any]) -> None:
    """The evaluation plot of a judged test split, written to ``path``.

    ``judgement`` is :func:`lstmfc.evaluation.judge.judge`'s; ``data`` is ``(targets,
    closes, test_rows)`` (the test target rows, the close series in currency and the
    test origins); ``report`` the evaluation report (title, sections). A path gets
    :func:`plot_path_report`, one step :func:`plot_test_split`.
    """
    targets, closes, test_rows = data
    run = f"run {report['run_id']}"
    if len(judgement.steps) > 1:
        per_model = {
            n: [s.forecasts[n] for s in judgement.steps] for n in judgement.first.forecasts
        }
        path_kind = f"{report['n_steps']}-step {report['strategy']} path"
        title = f"{report['ticker']} test split, {path_kind}, {run}"
        plot_path_report(
            path, head, (per_model, closes, test_rows, report["horizon"]), report["steps"], title
        )
        return
    first = judgement.first
    title = f"{report['ticker']} test split ({report['test_start']} .. {report['test_end']}), {run}"
    plot_test_split(head, path, targets, first.forecasts, title, first.best)


@singledispatch
def plot_test_split(head: Head, path, targets, forecasts, title, best=None) -> None:
    """Write the one-step evaluation plot of ``head``'s test split to ``path``.

    ``targets``: the test target rows; ``forecasts``: model name -> forecasts in the
    head's units; ``best``: the strongest simple baseline (drawn as a benchmark too).

    Raises
    ------
    NotImplementedError
        No plot is registered for the head's class.
    """
    raise NotImplementedError(f"no evaluation plot for the {head.name} head")


@plot_test_split.register
def _price(head: PriceHead, path, targets, forecasts, title, best=None):
    """Three panels: where skill comes from, not lines lying on top of each other.

    (a) The cumulative squared-error difference of the LSTM against naive and against
    drift (and the strongest simple baseline) over the test period: a rising line
    means the LSTM is winning, a falling one losing (Goyal & Welch 2008, "A
    comprehensive look at the empirical performance of equity premium prediction",
    RFS 21(4), Fig. 1). (b) Forecast against realised log return with the 45-degree
    line. (c) Levels over the last 60 test sessions only.
    """
    plt = pyplot()
    dates = np.asarray(targets["target_date"].to_numpy(), dtype="datetime64[ns]")
    y = head.truth(targets)
    close = np.asarray(targets["close"], dtype="float64")
    fig, ax_a, ax_b, ax_c = _three_panels(plt)
    se = {name: (y - f) ** 2 for name, f in forecasts.items()}
    _loss_gap_panel(ax_a, dates, se, ("naive", "drift", best), "SE", f"{title}\n(a)")

    f_ret = np.log(forecasts["lstm"] / close)
    r = np.log(y / close)
    ax_b.scatter(f_ret, r, s=4, alpha=0.5, color="tab:blue")
    lim = float(np.nanmax(np.abs(np.r_[r, f_ret]))) or 1.0
    ax_b.plot([-lim, lim], [-lim, lim], color="grey", lw=0.8, ls="--", label="45-degree line")
    ax_b.set_xlim(-lim, lim)
    ax_b.set_ylim(-lim, lim)
    corr = np.corrcoef(f_ret, r)[0, 1] if np.std(f_ret) > 0 else float("nan")
    ax_b.text(
        0.98,
        0.02,
        f"sd forecast {np.std(f_ret):.2e}, sd realised {np.std(r):.2e}, corr {corr:.3f}",
        transform=ax_b.transAxes,
        ha="right",
        fontsize=8,
    )
    ax_b.set_xlabel("LSTM forecast log return")
    ax_b.set_ylabel("realised log return")
    ax_b.set_title("(b) forecast vs realised", fontsize=10)
    ax_b.legend(loc="upper left", fontsize=8)

    last = slice(max(0, len(y) - 60), len(y))
    ax_c.plot(dates[last], y[last], color="black", lw=1.2, label="actual close")
    ax_c.plot(dates[last], forecasts["lstm"][last], color="tab:blue", lw=1.0, label="LSTM")
    ax_c.plot(
        dates[last], forecasts["naive"][last], color="tab:orange", lw=0.8, ls="--", label="naive"
    )
    if "drift" in forecasts:
        ax_c.plot(
            dates[last], forecasts["drift"][last], color="tab:green", lw=0.8, ls=":", label="drift"
        )
    _finish_last_sessions(fig, path, ax_a, ax_c)


@plot_test_split.register
def _direction(head: DirectionHead, path, targets, forecasts, title, best=None):
    """(a) Cumulative wrong calls of the benchmarks minus the LSTM's (rising = LSTM
    winning), (b) P(up) against the realised log return, (c) the last 60 test
    sessions' closes with the LSTM's calls."""
    plt = pyplot()
    dates = np.asarray(targets["target_date"].to_numpy(), dtype="datetime64[ns]")
    y = head.truth(targets)
    wrong = {n: ((p > 0.5).astype("int64") != y).astype("float64") for n, p in forecasts.items()}
    fig, ax_a, ax_b, ax_c = _three_panels(plt)
    benches = ("majority", "drift", best)
    _loss_gap_panel(ax_a, dates, wrong, benches, "wrong calls", f"{title}\n(a)")

    r = np.asarray(targets["target_logret"], dtype="float64")
    prob = forecasts["lstm"]
    ax_b.scatter(prob, r, s=4, alpha=0.5, color="tab:blue")
    ax_b.axvline(0.5, color="grey", lw=0.8)
    ax_b.axhline(0.0, color="grey", lw=0.8)
    ax_b.set_xlabel("LSTM P(up)")
    ax_b.set_ylabel("realised log return")
    ax_b.set_title("(b) P(up) vs realised", fontsize=10)

    last = slice(max(0, len(y) - 60), len(y))
    close = np.asarray(targets["close"], dtype="float64")
    up = prob[last] > 0.5
    ax_c.plot(dates[last], close[last], color="black", lw=1.0, label="close at t")
    ax_c.scatter(dates[last][up], close[last][up], s=10, color="tab:green", label="call up")
    ax_c.scatter(dates[last][~up], close[last][~up], s=10, color="tab:red", label="call down")
    _finish_last_sessions(fig, path, ax_a, ax_c)


@plot_test_split.register
def _vol(head: VolHead, path, targets, forecasts, title, best=None):
    """(a) The test period's proxy ``|R|`` (percent) with the LSTM's, GARCH's and
    EWMA's volatility forecasts; (b) the cumulative QLIKE difference of GARCH (and
    EWMA, the strongest baseline) minus the LSTM: rising = LSTM winning (the
    cumulative-loss-difference plot of Goyal & Welch 2008, RFS 21(4), Fig. 1)."""
    plt = pyplot()
    dates = np.asarray(targets["target_date"].to_numpy(), dtype="datetime64[ns]")
    y = head.truth(targets)
    fig, (ax_a, ax_b) = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    ax_a.plot(dates, np.sqrt(y), color="lightgrey", lw=0.8, label="|R| (proxy)")
    styles = {"lstm": ("tab:blue", 1.2), "garch": ("tab:red", 1.0), "ewma": ("tab:green", 0.9)}
    for name, (color, lw) in styles.items():
        if name in forecasts:
            ax_a.plot(
                dates, np.sqrt(forecasts[name]), color=color, lw=lw, label=f"{name} volatility"
            )
    ax_a.set_ylabel("percent")
    ax_a.set_title(f"{title}\n(a) realised |return| and forecast volatility", fontsize=10)
    ax_a.legend(loc="upper left", fontsize=8)
    ql = {n: qlike_losses(y, np.asarray(f, "float64")) for n, f in forecasts.items()}
    _loss_gap_panel(ax_b, dates, ql, (head.benchmark, "ewma", best), "QLIKE", "(b)")
    ax_b.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    save_figure(fig, path)


@plot_test_split.register
def _quantile(head: QuantileHead, path, targets, forecasts, title, best=None):
    """Fan charts of the test period: realised log returns, the 90 % and 98 % bands and
    the median, VaR 1 % and 5 % breaches marked; (a) the LSTM's issued forecasts (ACI
    when present), (b) GARCH-t."""
    plt = pyplot()
    dates = np.asarray(targets["target_date"].to_numpy(), dtype="datetime64[ns]")
    y = head.truth(targets)
    show = [n for n in ("lstm_aci" if "lstm_aci" in forecasts else "lstm", head.benchmark)]
    show = [n for n in show if n in forecasts]
    fig, axes = plt.subplots(len(show), 1, figsize=(12, 4 * len(show)), sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    lv = head.levels
    for ax, name in zip(axes, show, strict=True):
        q = np.asarray(forecasts[name])
        for lo_t, hi_t, alpha_fill, label in (
            (0.01, 0.99, 0.18, "98%"),
            (0.05, 0.95, 0.35, "90%"),
        ):
            lo, hi = level_index(lv, lo_t), level_index(lv, hi_t)
            if lo is not None and hi is not None:
                ax.fill_between(
                    dates,
                    q[:, lo],
                    q[:, hi],
                    step="mid",
                    alpha=alpha_fill,
                    color="tab:blue",
                    lw=0,
                    label=f"{label} band",
                )
        m = level_index(lv, 0.5)
        if m is not None:
            ax.plot(dates, q[:, m], color="tab:blue", lw=0.6, label="median")
        ax.plot(dates, y, ".", color="black", ms=2, label="realised log return")
        for a, color, marker in ((0.05, "tab:orange", "o"), (0.01, "tab:red", "x")):
            var = value_at_risk(q, lv, a)
            hit = y < var
            ax.scatter(
                dates[hit],
                y[hit],
                s=18,
                color=color,
                marker=marker,
                zorder=3,
                label=f"VaR {100 * a:g}% breach ({int(hit.sum())})",
            )
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_ylabel("log return")
        ax.set_title(f"{name}", fontsize=10)
        ax.legend(loc="lower left", fontsize=7, ncol=3)
    axes[0].set_title(f"{title}\n{show[0]}", fontsize=10)
    axes[-1].tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def _three_panels(plt):
    """A 12 x 8 inch figure: panel (a) across the top, (b) and (c) side by side below.

    Returns ``(figure, ax_a, ax_b, ax_c)``.
    """
    fig = plt.figure(figsize=(12, 8))
    grid = fig.add_gridspec(2, 2, height_ratios=[1.1, 1])
    return (
        fig,
        fig.add_subplot(grid[0, :]),
        fig.add_subplot(grid[1, 0]),
        fig.add_subplot(grid[1, 1]),
    )


def _loss_gap_panel(ax, dates, losses: dict, benchmarks, measure: str, title: str) -> None:
    """The cumulative loss of each benchmark minus the LSTM's over the test period.

    ``losses`` maps forecaster name to its per-session loss, shape ``(n_test,)``, in the
    unit of ``measure``; benchmarks absent from it (or ``None``) are skipped, repeats
    drawn once. A rising line means the LSTM is winning (Goyal & Welch 2008, Fig. 1).
    """
    for b in dict.fromkeys(x for x in benchmarks if x and x in losses):
        ax.plot(dates, np.cumsum(losses[b] - losses["lstm"]), lw=1.0, label=f"vs {b}")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_ylabel(f"cumulative {measure}(benchmark) - {measure}(LSTM)")
    ax.set_title(f"{title} rising = LSTM winning, falling = LSTM losing", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)


def _finish_last_sessions(fig, path, ax_a, ax_c) -> None:
    """Label panel (c), the closes of the last 60 test sessions in currency, rotate the
    date ticks of the date panels and write the figure atomically to ``path``."""
    ax_c.set_ylabel("price (currency)")
    ax_c.set_title("(c) last 60 test sessions", fontsize=10)
    ax_c.legend(loc="upper left", fontsize=8)
    for ax in (ax_a, ax_c):
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_path_report(path, one, data, sections, title) -> None:
    """(a) the head's measure against its benchmark by step (price: RMSE relative to
    naive; direction: accuracy minus the majority's) for the LSTM and each baseline, on
    a scale set by the LSTM, the benchmark, drift and OLS (baselines far off it are
    named in the legend); (b) forecast paths from every tenth of the last 60 test
    origins drawn over the realised closes (forecasts in currency) or by step
    (probabilities).

    ``data`` is ``(per_model, closes, test_rows, h)``: each model's forecasts per step
    (lists of ``(n,)`` arrays), the close series ``(n_rows,)`` (currency), the test
    origins ``(n,)`` and the horizon of step 1; ``sections`` the report's steps."""
    per_model, closes, test_rows, h = data
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
        ax_a.plot(ks, vals, marker="o", ms=3, label=name + (" (off scale)" if off else ""), **style)
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
            ax_b.plot(
                xs,
                [closes[r], *lstm[i]],
                color="tab:blue",
                lw=1.2,
                marker=".",
                label="forecast path" if j == 0 else None,
            )
        ax_b.set_xlabel("sessions since the start of the last 60 test origins")
        ax_b.set_ylabel("close (currency)")
        ax_b.legend(fontsize=7)
    else:
        for i in picks:
            ax_b.plot(range(1, steps + 1), lstm[i], marker=".", lw=0.8)
        ax_b.set_xlabel("step")
        ax_b.set_ylabel(f"forecast ({one.forecast_unit})")
    ax_b.set_title(
        "(b) forecast paths (blue) over realised closes"
        if currency
        else "(b) forecasts by step for a few origins",
        fontsize=10,
    )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def measure_by_step(one, sections, name: str) -> list[float]:
    """The head's :attr:`~lstmfc.heads.Head.path_measure` of model ``name`` at every
    step: its metric divided by (``ratio``) or minus (``difference``) the benchmark's."""
    key, mode, _ = one.path_measure
    ref = one.benchmark
    if mode == "ratio":
        return [s["metrics"][name][key] / s["metrics"][ref][key] for s in sections]
    return [s["metrics"][name][key] - s["metrics"][ref][key] for s in sections]


def plot_compare(path, comparison: dict[str, Any]) -> None:
    """One line per run: the head's measure against its benchmark by step; written
    atomically to ``path``."""
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
