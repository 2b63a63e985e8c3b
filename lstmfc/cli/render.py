"""Rich renderers of every command's result (the only module that draws tables).

Renderers read the plain result documents the library returns (the same dicts the
``--json`` output carries); what differs by forecast head (metric columns, the
validation rows of ``train``, the live track record) comes from the head's
presentation attributes (:class:`lstmfc.heads.Column`).

Values are never cut: off a terminal (cron logs) rich assumes 80 columns, so tables
fold long cells onto a second line instead of ending them in an ellipsis, and dates,
tickers, run ids and numbers are given a minimum width so that they stay whole.
"""

from __future__ import annotations

import sys
from typing import Any

#: Minimum cell widths that keep values whole: an ISO date, a run id.
DATE_WIDTH = 10
RUN_WIDTH = 23


def stdout_console():
    """Rich console on stdout (result tables); plain lines are never wrapped mid-value."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def stderr_console():
    """Rich console on stderr (progress, messages); plain text when not a terminal."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def fmt(v, spec: str = ".4f", scale: float = 1.0, suffix: str = "") -> str:
    """A number for a table cell; ``None`` renders as a dash."""
    if v is None:
        return "—"
    return f"{v * scale:{spec}}{suffix}"


def new_table(title: str | None = None, **kwargs):
    """A rich Table whose cells fold instead of being cut with an ellipsis."""
    from rich.table import Table

    return Table(title=title, **kwargs)


def add_columns(table, names, *, right: bool = True, min_width: dict | None = None) -> None:
    """Add columns (numbers right-aligned); every column folds rather than truncates."""
    min_width = min_width or {}
    for i, name in enumerate(names):
        table.add_column(
            name,
            justify="right" if right and i > 0 else "left",
            overflow="fold",
            min_width=min_width.get(name),
        )


def _head(name: str):
    from lstmfc.heads import make_head

    return make_head(name)


# ======================================================================= data
def render_fetch(results: list[dict]) -> None:
    t = new_table("Stored daily OHLCV")
    add_columns(
        t,
        ("ticker", "rows", "first", "last", "source", "status", "path"),
        right=False,
        min_width={"first": DATE_WIDTH, "last": DATE_WIDTH},
    )
    for r in results:
        status = r["status"] + (f" (+{r['new_rows']})" if r["status"] == "updated" else "")
        if r.get("dropped_missing"):
            status += f", {r['dropped_missing']} missing days dropped"
        if r.get("close_only"):
            status += ", close only"
        t.add_row(
            r["ticker"], str(r["rows"]), r["first"], r["last"], r["source"], status, r["path"]
        )
    stdout_console().print(t)


def render_samples(samples: dict) -> None:
    t = new_table("Bundled samples (lstmfc fetch NAME --source sample)")
    add_columns(
        t,
        ("ticker", "description", "first", "last", "rows", "source"),
        right=False,
        min_width={"first": DATE_WIDTH, "last": DATE_WIDTH},
    )
    for name, s in samples.items():
        t.add_row(
            name, s["description"], s["first_date"], s["last_date"], str(s["rows"]), s["source"]
        )
    stdout_console().print(t)


def render_prepare(meta: dict, where: str) -> None:
    out = stdout_console()
    t = meta["ticker"]
    table = new_table(
        f"{t}: {meta['n_windows']} windows of {meta['lookback']} rows x "
        f"{len(meta['feature_names'])} features, horizon {meta['horizon']}"
    )
    add_columns(
        table,
        ("split", "windows", "share", "first target", "last target", "end rows", "out of range"),
        min_width={"first target": DATE_WIDTH, "last target": DATE_WIDTH},
    )
    for name in ("train", "val", "test"):
        s = meta["split"][name]
        table.add_row(
            name,
            str(s["n"]),
            f"{100 * s['n'] / meta['n_windows']:.1f}%",
            s["start"],
            s["end"],
            f"{s['first_row']}..{s['last_row']}",
            fmt(s.get("out_of_range_share"), ".1f", 100, "%"),
        )
    out.print(table)
    sc = meta["scaler"]
    out.print(
        f"MinMax scaler fit on the training inputs only: rows "
        f"{sc['fit_rows'][0]}..{sc['fit_rows'][1]} ({sc['fit_start_date']} to {sc['fit_end_date']})"
    )
    st = new_table()
    add_columns(st, ("feature", "data_min", "data_max"))
    for name, lo, hi in zip(sc["feature_names"], sc["data_min"], sc["data_max"], strict=True):
        st.add_row(name, f"{lo:.6g}", f"{hi:.6g}")
    out.print(st)
    out.print(
        f"{meta['n_rows']} rows {meta['first_date']} to {meta['last_date']} "
        f"({meta['warmup_rows_dropped']} warm-up rows dropped); wrote {where}"
    )


# ======================================================================= train
def render_train(r: dict) -> None:
    head = _head(r["head"])
    hp = r["hyperparameters"]
    arch = "-".join(str(u) for u in hp["units"])
    if hp["dense"]:
        arch += f" + dense {hp['dense']}"
    n = r.get("ensemble", 1)
    what = head.describe() if hasattr(head, "describe") else r["head"]
    if r.get("price_target") and r["head"] == "price":
        what = f"price ({r['price_target']})"
    table = new_table(
        f"{r['ticker']}: trained {r['cell'].upper()} {arch}, {what} head"
        + (f", ensemble of {n}" if n > 1 else ""),
        show_header=False,
    )
    table.add_column("item", style="bold")
    table.add_column("value", overflow="fold")
    stop = "early stop" if r["stopped_early"] else "epoch limit"
    rows = [
        ("run id", r["run_id"]),
        ("bundle", r["path"] + ("  (latest)" if r["latest"] else "")),
        ("windows", f"{r['n_train']} train, {r['n_val']} validation"),
        ("epochs", f"{r['epochs_run']} run ({stop}), best {r['best_epoch']}"),
        ("best val loss", f"{r['best_val_loss']:.6g}"),
        *head.val_rows(r["val"]),
        ("training time", f"{r['train_seconds']:.1f} s ({r['windows_per_second']:.0f} windows/s)"),
        ("seed", f"{r['seed']}" + (" (deterministic)" if r["deterministic"] else "")),
    ]
    for k, val in rows:
        table.add_row(k, val)
    stdout_console().print(table)


# ======================================================================= evaluate
def skill_table(tests: list[dict]):
    """Rich table of skill tests (evaluate and backtest)."""
    t = new_table("Skill tests (one-sided: model better than benchmark)")
    add_columns(t, ("model", "benchmark", "test", "statistic", "p-value", "verdict"), right=False)
    for test in tests:
        t.add_row(
            test.get("model", "lstm"),
            test.get("benchmark") or "—",
            test["test"],
            fmt(test.get("statistic"), ".3f"),
            fmt(test.get("p_value"), ".4f"),
            test["verdict"],
        )
    return t


def trading_table(trading: dict, title: str):
    """Rich table of the long/flat trading view (evaluate and backtest)."""
    t = new_table(title)
    add_columns(
        t, ("strategy", "ann. return %", "Sharpe", "max drawdown %", "hit rate %", "trades")
    )
    for name, m in trading.items():
        t.add_row(
            name,
            fmt(m.get("annualised_return"), ".2f", 100),
            fmt(m.get("sharpe"), ".2f"),
            fmt(m.get("max_drawdown"), ".2f", 100),
            fmt(m.get("hit_rate"), ".1f", 100),
            str(m.get("n_trades", "—")),
        )
    return t


def metrics_table(title: str, head, metrics: dict):
    """Rich table of per-model metrics with the head's columns."""
    t = new_table(title)
    t.add_column("model", style="bold", overflow="fold")
    for c in head.metric_columns:
        t.add_column(c.label, justify="right", overflow="fold")
    for name, m in metrics.items():
        t.add_row(name, *(fmt(m.get(c.key), c.fmt, c.scale) for c in head.metric_columns))
    return t


def render_evaluation(r: dict) -> None:
    """Rich tables of an evaluation report on stdout."""
    out = stdout_console()
    head = _head(r["head"])
    title = (
        f"{r['ticker']} — {r['head']} head, run {r['run_id']} — test split "
        f"{r['test_start']} .. {r['test_end']} ({r['n_test']} forecasts, horizon {r['horizon']})"
    )
    out.print(metrics_table(title, head, r["metrics"]))
    out.print(skill_table(r["skill_tests"]))
    out.print(
        trading_table(
            r["trading"],
            f"Trading view: long/flat on the signal, cost {r['cost_bps']:g} bp per trade",
        )
    )
    _print_verdict(out, r)
    out.print(f"[bold]Conclusion:[/bold] {r['conclusion']}")
    if r.get("plot"):
        out.print(f"Plot: {r['plot']}")


def _print_verdict(out, r: dict) -> None:
    """The one-line verdict and how the strongest simple baseline was chosen."""
    best = r.get("best_baseline") or {}
    if r.get("verdict"):
        out.print(f"[bold]Verdict:[/bold] LSTM {r['verdict']}")
    if best.get("validation"):
        losses = ", ".join(f"{k} {v:.4g}" for k, v in best["validation"].items())
        out.print(
            f"Strongest simple baseline: {best['name']}, chosen on the validation split by "
            f"{best['criterion']} ({losses}); the test split was not used to choose it."
        )


def render_universe(summary: dict) -> None:
    """Across tickers: the headline test and the test against the strongest simple
    baseline per ticker, raw and multiple-testing adjusted p-values."""
    method = summary["method"]
    t = new_table(f"Across tickers: skill (test split; adjusted p-values: {method})")
    add_columns(
        t,
        ("ticker", "test", "p-value", f"{method} p", "best baseline", "p vs best",
         f"{method} p vs best", "verdict"),
        right=False,
    )  # fmt: skip
    for r in summary["rows"]:
        if not r["ok"]:
            t.add_row(r["ticker"], "—", "—", "—", "—", "—", "—", "failed")
            continue
        t.add_row(
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
    out.print(t)
    out.print(
        f"{summary['n_beat']} of {summary['n_ok']} tickers beat their benchmark significantly "
        f"(alpha {summary['alpha']:g}); {summary['n_beat_adjusted']} after the {method} "
        f"adjustment; {summary['n_beat_best_adjusted']} beat the strongest simple baseline "
        "after it."
    )


# ======================================================================= daily
def render_predict(results: list[dict]) -> None:
    t = new_table("Next-session forecasts")
    add_columns(
        t,
        ("ticker", "as of", "close", "target", "forecast", "run", "logged"),
        right=False,
        min_width={"as of": DATE_WIDTH, "target": DATE_WIDTH, "run": RUN_WIDTH},
    )
    for r in results:
        if r["ok"]:
            t.add_row(
                r["ticker"],
                r["as_of"],
                f"{r['close_as_of']:.2f}",
                r["target_date"],
                _head(r["head"]).log_display(r),
                r["run_id"],
                "new" if r["logged"] else "already",
            )
    stdout_console().print(t)


def render_forecasts(rows: list[dict], where: str) -> None:
    t = new_table(f"Forecast log {where} ({len(rows)} rows)")
    add_columns(
        t,
        ("ticker", "as of", "target", "run", "close", "forecast", "realised", "error"),
        right=False,
        min_width={"as of": DATE_WIDTH, "target": DATE_WIDTH, "run": RUN_WIDTH},
    )
    for r in rows:
        t.add_row(
            r["ticker"],
            r["as_of"],
            r["target_date"],
            r["run_id"],
            f"{r['close_as_of']:.2f}",
            _head(r["head"]).log_display(r),
            fmt(r["realised_close"], ".2f"),
            fmt(r["error"], "+.2f"),
        )
    stdout_console().print(t)


def render_score(res: dict) -> None:
    out = stdout_console()
    out.print(f"Live track record: {res['newly_scored']} newly scored, {res['pending']} pending")
    by_head: dict[str, list[tuple[str, dict]]] = {}
    for key, s in res["summary"].items():
        by_head.setdefault(s.get("head", "price"), []).append((key, s))
    for name, items in by_head.items():
        head = _head(name)
        t = new_table(f"{name} head")
        t.add_column("ticker/run", overflow="fold", min_width=RUN_WIDTH)
        t.add_column("n", justify="right")
        for c in head.live_columns:
            t.add_column(c.label, justify="right", overflow="fold")
        for key, s in items:
            t.add_row(
                key,
                str(s["n_scored"]),
                *(fmt(s.get(c.key), c.fmt, c.scale) for c in head.live_columns),
            )
        out.print(t)


# ======================================================================= backtest
def render_backtest(result: dict) -> None:
    """Rich tables of a backtest: per ticker folds and overall, then the summary."""
    from rich.console import Console

    # wide enough for the fold table when piped (rich assumes 80 columns off a terminal)
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    head = _head(result["settings"]["model"]["head"])
    for t, r in result["tickers"].items():
        if r.get("ok"):
            _render_backtest_ticker(out, head, t, r, result["settings"]["cost_bps"])
    _render_backtest_summary(out, head, result)


def _render_backtest_ticker(out, head, t: str, r: dict, cost_bps: float) -> None:
    ft = new_table(
        f"{t} — walk-forward, {r['plan']['window']} window, {len(r['folds'])} folds, "
        f"{r['plan']['fits']} fits, horizon {r['horizon']} (dates are target dates)"
    )
    cols = ["fold", "fit", "trained on", "tested on", "n"]
    cols += [c.label for c in head.fold_columns] + [f"{_test_abbrev(r)} p", f"vs {head.benchmark}"]
    for c in cols:
        dates = c in ("trained on", "tested on")
        ft.add_column(c, justify="left" if dates else "right", no_wrap=dates)
    for f in r["folds"]:
        p = (f.get("skill") or {}).get("p_value")
        ft.add_row(
            str(f["fold"]),
            f"{f['fit']}" + ("" if f["refit"] else " (re-used)"),
            f"{f['train_start']} .. {f['train_end']}",
            f"{f['test_start']} .. {f['test_end']}",
            str(f["n"]),
            *(fmt(f.get(c.key), c.fmt, c.scale) for c in head.fold_columns),
            fmt(p, ".3f"),
            "better" if f["beats_benchmark"] else "not better",
        )
    out.print(ft)
    o = r["overall"]
    out.print(
        metrics_table(
            f"{t} — out-of-sample {o['test_start']} .. {o['test_end']} "
            f"({o['n']} forecasts, all folds)",
            head,
            o["metrics"],
        )
    )
    out.print(skill_table(o["skill_tests"]))
    out.print(trading_table(o["trading"], f"Trading view: long/flat, cost {cost_bps:g} bp"))
    if o.get("verdict"):
        chosen = ", ".join((o.get("best_baseline") or {}).get("chosen_per_fit", []))
        out.print(f"[bold]Verdict:[/bold] LSTM {o['verdict']}")
        if chosen:
            out.print(
                f"Strongest simple baseline per fit (chosen on its validation windows): {chosen}"
            )
    out.print(f"[bold]Conclusion:[/bold] {o['conclusion']}")
    if r.get("path"):
        out.print(f"Saved: {r['path']}")


def _test_abbrev(r: dict) -> str:
    test = ((r["folds"][0].get("skill") or {}).get("test") or "") if r["folds"] else ""
    return {"diebold-mariano": "DM", "binomial": "binomial"}.get(test, test or "test")


def _render_backtest_summary(out, head, result: dict) -> None:
    s = result["summary"]
    bench = s["benchmark"]
    sm = new_table(f"Summary across tickers (skill vs {bench}, alpha {s['alpha']:g})")
    summary_cols = [c for c in head.fold_columns if c.key != "directional_accuracy"]
    cols = ["ticker", "n", "folds", *(c.label for c in summary_cols)]
    cols += ["p-value", f"{s.get('method', 'holm')} p", "verdict", "Sharpe", "buy & hold Sharpe"]
    for c in cols:
        sm.add_column(c, justify="left" if c in ("ticker", "verdict") else "right", overflow="fold")
    for row in s["rows"]:
        if not row["ok"]:
            sm.add_row(row["ticker"], *["—"] * (len(cols) - 4), "failed", "—", "—", "—")
            continue
        sm.add_row(
            row["ticker"],
            str(row["n"]),
            str(row["folds"]),
            *(fmt(row.get(c.key), c.fmt, c.scale) for c in summary_cols),
            fmt(row["p_value"], ".4f"),
            fmt(row.get("p_value_adjusted"), ".4f"),
            row["verdict"] or "—",
            fmt(row["sharpe"], ".2f"),
            fmt(row["buy_and_hold_sharpe"], ".2f"),
        )
    out.print(sm)
    out.print(
        f"{s['n_beat']} of {s['n_ok']} tickers beat {bench} significantly"
        + (f" ({s['n_beat_adjusted']} after the {s['method']} adjustment)" if "method" in s else "")
        + (f"; {s['n_failed']} failed" if s["n_failed"] else "")
        + f" ({result['n_units']} units, {result['seconds']:.0f} s, "
        f"executor {result['executor']['kind']})"
    )


def render_any(doc: Any) -> None:  # pragma: no cover - debugging aid
    stdout_console().print(doc)
