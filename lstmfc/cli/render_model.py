"""Rich tables of the model commands: ``train``, ``evaluate`` (one ticker, a path, a
universe, ``--compare``) and ``run``: metrics, skill tests, the trading view, the
verdict (primitives and the width rules in :mod:`lstmfc.cli.render`)."""

from __future__ import annotations

from lstmfc.cli.render import Grid, fmt, head_columns, head_of, message, plain_table, stdout_console
from lstmfc.cli.views import view_of
from lstmfc.stats.outcome import outcome_of
from lstmfc.stats.wording import verdict_with_p, with_verb


# ======================================================================= train
def render_train(r: dict) -> None:
    head = head_of(r["head"], r.get("head_options"))
    hp = r["hyperparameters"]
    arch = "-".join(str(u) for u in hp["units"])
    if hp["dense"]:
        arch += f" + dense {hp['dense']}"
    n = r.get("ensemble", 1)
    what = head.describe()
    g = Grid(
        f"{r['ticker']}: trained {r['cell'].upper()} {arch}, {what} head"
        + (f", ensemble of {n}" if n > 1 else ""),
        show_header=False,
    )
    g.column("item", style="bold").column("value")
    stop = "early stop" if r["stopped_early"] else "epoch limit"
    rows = [
        ("run id", r["run_id"]),
        ("bundle", r["path"] + ("  (latest)" if r["latest"] else "")),
        ("windows", f"{r['n_train']} train, {r['n_val']} validation"),
        ("epochs", f"{r['epochs_run']} run ({stop}), best {r['best_epoch']}"),
        ("best val loss", f"{r['best_val_loss']:.6g}"),
        *view_of(head).val_rows(r["val"]),
        ("training time", f"{r['train_seconds']:.1f} s ({r['windows_per_second']:.0f} windows/s)"),
        ("seed", f"{r['seed']}" + (" (deterministic)" if r["deterministic"] else "")),
    ]
    for k, val in rows:
        g.row(k, val)
    g.show(stdout_console())


# ======================================================================= evaluate
def skill_table(tests: list[dict]) -> Grid:
    """Skill tests (evaluate and backtest); the statistic is left out first when narrow."""
    g = Grid("Skill tests (one-sided: model better than benchmark)")
    g.column("model").column("benchmark").column("test")
    g.column("statistic", drop=1).column("p-value").column("verdict")
    for test in tests:
        g.row(
            test.get("model", "lstm"),
            test.get("benchmark") or "—",
            test["test"],
            fmt(test.get("statistic"), ".3f"),
            fmt(test.get("p_value"), ".4f"),
            test["verdict"],
        )
    return g


def trading_table(trading: dict, title: str) -> Grid:
    """The long/flat trading view (evaluate and backtest)."""
    g = Grid(title).columns_of(
        ("strategy", "ann. return %", "Sharpe", "max drawdown %", "hit rate %", "trades")
    )
    for name, m in trading.items():
        g.row(
            name,
            fmt(m.get("annualised_return"), ".2f", 100),
            fmt(m.get("sharpe"), ".2f"),
            fmt(m.get("max_drawdown"), ".2f", 100),
            fmt(m.get("hit_rate"), ".1f", 100),
            m.get("n_trades", "—"),
        )
    return g


def metrics_table(title: str, head, metrics: dict) -> Grid:
    """Per-model metrics with the head's columns."""
    g = Grid(title).column("model", style="bold")
    head_columns(g, view_of(head).metric_columns)
    for name, m in metrics.items():
        g.row(name, *(fmt(m.get(c.key), c.fmt, c.scale) for c in view_of(head).metric_columns))
    return g


def render_evaluation(r: dict) -> None:
    """Rich tables of an evaluation report on stdout."""
    out = stdout_console()
    head = head_of(r["head"])
    title = (
        f"{r['ticker']} — {r['head']} head, run {r['run_id']} — test split "
        f"{r['test_start']} .. {r['test_end']} ({r['n_test']} forecasts, horizon {r['horizon']})"
    )
    if isinstance(r.get("steps"), list):  # a path: one row per step (lstmfc.heads.paths)
        title += f" — {r['n_steps']}-step {r['strategy']} path" + (
            " with attention" if r.get("attention") else ""
        )
        for g in path_tables(title, r):
            g.show(out)
        skill_table(r["joint_tests"]).show(out)
    else:
        metrics_table(title, head, r["metrics"]).show(out)
        skill_table(r["skill_tests"]).show(out)
    for spec in view_of(head).extra_tables(r):
        plain_table(spec).show(out)
    if r.get("trading"):
        trading_table(
            r["trading"],
            f"Trading view: long/flat on the signal, cost {r['cost_bps']:g} bp per trade",
        ).show(out)
    _print_verdict(out, r)
    message(out, "Conclusion:", r["conclusion"])
    if r.get("plot"):
        message(out, "Plot:", r["plot"], markup=False)


def _step_p(section: dict, benchmark: str) -> str:
    test = next(
        (
            t
            for t in section["skill_tests"]
            if t.get("model", "lstm") == "lstm" and t.get("benchmark") == benchmark
        ),
        None,
    )
    return fmt(test.get("p_value") if test else None, ".3f")


def path_tables(title: str, r: dict) -> list[Grid]:
    """A path report's tables, one row per step: the network's metrics (the head's
    ``path_columns``) with the DM (HLN) p-values against the head's benchmark and the
    step's strongest simple baseline (chosen on validation), then every model's first
    path column (price: RMSE; direction: accuracy)."""
    steps = r["steps"]
    head = head_of(r["head"])
    bench = head.benchmark
    cols = [
        c
        for c in view_of(head).path_columns
        if any(s["metrics"]["lstm"].get(c.key) is not None for s in steps)
    ]  # MASE is left out where it was not computed (backtests)
    g = Grid(title).column("step").column("h", right=True)
    for k, c in enumerate(cols):  # the first always stays; then from the right
        g.column(c.label, right=True, drop=None if k == 0 else len(cols) - k + 1)
    g.column(f"p vs {bench}", right=True).column("best baseline").column("p vs best", right=True)
    for s in steps:
        m = s["metrics"]["lstm"]
        best = s["best_baseline"]["name"]
        g.row(
            s["step"],
            s["horizon"],
            *(fmt(m.get(c.key), c.fmt, c.scale) for c in cols),
            _step_p(s, bench),
            best,
            "—" if best == bench else _step_p(s, best),
        )
    models = list(steps[0]["metrics"])
    first = cols[0]
    b = Grid(f"{first.label} by step, every model fitted for that step's horizon")
    b.column("step")
    for name in models:
        b.column(name, right=True, drop=None if name in ("lstm", bench) else 1)
    for s in steps:
        b.row(
            s["step"],
            *(fmt(s["metrics"][n].get(first.key), first.fmt, first.scale) for n in models),
        )
    return [g, b]


def render_comparison(c: dict) -> None:
    """``evaluate --compare``: one row per step, one column per run, then each run's
    joint test over the path."""
    out = stdout_console()
    ratio = c["measure"]["mode"] == "ratio"
    what = c["measure"]["label"]
    g = Grid(f"{c['ticker']} — {c['head']} head: {what} by step (test split)").column("step")
    for run in c["runs"]:
        g.column(run["label"], right=True)
    n = max(run["n_steps"] for run in c["runs"])
    for k in range(n):
        cells = []
        for run in c["runs"]:
            v = run["values"][k] if k < len(run["values"]) else None
            cells.append(fmt(v, ".4f") if ratio else fmt(v, "+.1f", 100))
        g.row(k + 1, *cells)
    g.show(out)
    for run in c["runs"]:
        for j in run["joint_tests"]:
            message(
                out,
                "Joint test:",
                f"{run['label']} over the path vs {j['benchmark']}: " + verdict_with_p(j),
                markup=False,
            )
    if c.get("plot"):
        message(out, "Plot:", c["plot"], markup=False)


def _print_verdict(out, r: dict) -> None:
    """The one-line verdict and how the strongest simple baseline was chosen."""
    best = r.get("best_baseline") or {}
    if r.get("verdict"):
        message(out, "Verdict:", f"the LSTM {with_verb(r['verdict'], outcome_of(r.get('skill')))}")
    if best.get("validation"):
        losses = ", ".join(f"{k} {v:.4g}" for k, v in best["validation"].items())
        message(
            out,
            "Strongest simple baseline:",
            f"{best['name']}, chosen on the validation split by {best['criterion']} "
            f"({losses}); the test split was not used to choose it.",
            markup=False,
        )


def render_universe(summary: dict) -> None:
    """Across tickers: the headline test and the test against the strongest simple
    baseline per ticker, raw and multiple-testing adjusted p-values (the raw ones are
    left out first when narrow)."""
    method = summary["method"]
    g = Grid(f"Across tickers: skill (test split; adjusted p-values: {method})")
    g.column("ticker").column("test", drop=3).column("p-value", drop=1)
    g.column(f"{method} p").column("best baseline").column("p vs best", drop=2)
    g.column(f"{method} p vs best").column("verdict")
    for r in summary["rows"]:
        if not r["ok"]:
            g.row(r["ticker"], "—", "—", "—", "—", "—", "—", "failed")
            continue
        g.row(
            r["ticker"],
            r["test"] or "—",
            fmt(r.get("p_value"), ".4f"),
            fmt(r.get("p_value_adjusted"), ".4f"),
            r.get("best_baseline") or "—",
            fmt(r.get("p_value_best"), ".4f"),
            fmt(r.get("p_value_best_adjusted"), ".4f"),
            r.get("verdict") or "—",
        )
    out = stdout_console()
    g.show(out)
    message(
        out,
        "Summary:",
        f"{summary['n_beat']} of {summary['n_ok']} tickers beat their benchmark significantly "
        f"(alpha {summary['alpha']:g}); {summary['n_beat_adjusted']} after the {method} "
        f"adjustment; {summary['n_beat_best_adjusted']} beat the strongest simple baseline "
        "after it.",
    )
