"""TODO docstring: moved from lstmfc.heads.paths."""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.dataset.targets import step_horizon


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
