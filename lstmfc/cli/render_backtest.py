"""Rich tables of ``backtest``: per fold, per ticker and the cross-ticker summary
(primitives and the width rules in :mod:`lstmfc.cli.render`)."""

from __future__ import annotations

from lstmfc.cli.render import (
    RANGE_WIDTH,
    Grid,
    fmt,
    head_columns,
    head_of,
    message,
    plain_table,
    stdout_console,
)
from lstmfc.cli.render_model import metrics_table, path_tables, skill_table, trading_table
from lstmfc.cli.views import view_of
from lstmfc.stats.outcome import outcome_of
from lstmfc.stats.wording import with_verb


# ======================================================================= backtest
def render_backtest(result: dict) -> None:
    """Rich tables of a backtest: per ticker folds and overall, then the summary.

    The same width as every other command (80 columns off a terminal): a cron log or a
    pager shows 80 columns, where a wider table would wrap line by line; ``COLUMNS``
    widens it.
    """
    out = stdout_console()
    head = head_of(result["settings"]["model"]["head"])
    if not result["summary"]["n_ok"]:
        return  # every ticker failed: the errors are on stderr, nothing to tabulate
    for t, r in result["tickers"].items():
        if r.get("ok"):
            _render_backtest_ticker(out, head, t, r, result["settings"]["cost_bps"])
    _render_backtest_summary(out, head, result)


def _fold_grids(head, t: str, r: dict) -> list[Grid]:
    """The fold table, or at a narrow width its dates and its scores as two tables."""
    title = (
        f"{t} — walk-forward, {r['plan']['window']} window, {len(r['folds'])} folds, "
        f"{r['plan']['fits']} fits, horizon {r['horizon']} (dates are target dates)"
    )
    test = f"{_test_abbrev(r)} p"
    bench = f"vs {head.benchmark}"

    def dates(g: Grid) -> Grid:
        g.column("fold", right=True).column("fit", right=True)
        g.column("trained on", min_width=RANGE_WIDTH).column("tested on", min_width=RANGE_WIDTH)
        return g.column("n", right=True)

    def scores(g: Grid) -> Grid:
        for c in view_of(head).fold_columns:
            g.column(c.label, right=True)
        return g.column(test, right=True).column(bench, right=True)

    def date_cells(f: dict) -> list[str]:
        return [
            str(f["fold"]),
            f"{f['fit']}" + ("" if f["refit"] else " (re-used)"),
            f"{f['train_start']} .. {f['train_end']}",
            f"{f['test_start']} .. {f['test_end']}",
            str(f["n"]),
        ]

    def score_cells(f: dict) -> list[str]:
        p = (f.get("skill") or {}).get("p_value")
        return [
            *(fmt(f.get(c.key), c.fmt, c.scale) for c in view_of(head).fold_columns),
            fmt(p, ".3f"),
            "better" if f["beats_benchmark"] else "not better",
        ]

    one = scores(dates(Grid(title)))
    a = dates(Grid(title))
    b = scores(Grid(f"{t} — scores per fold").column("fold", right=True).column("n", right=True))
    for f in r["folds"]:
        one.row(*date_cells(f), *score_cells(f))
        a.row(*date_cells(f))
        b.row(str(f["fold"]), str(f["n"]), *score_cells(f))
    return [one, a, b]


def _render_backtest_ticker(out, head, t: str, r: dict, cost_bps: float) -> None:
    one, dates, scores = _fold_grids(head, t, r)
    for g in [one] if one.fits(out.width) else [dates, scores]:
        g.show(out)
    o = r["overall"]
    metrics_table(
        f"{t} — out-of-sample {o['test_start']} .. {o['test_end']} ({o['n']} forecasts, all folds)",
        head,
        o["metrics"],
    ).show(out)
    skill_table(o["skill_tests"]).show(out)
    if isinstance(o.get("steps"), list):  # a path: every step over all folds
        title = f"{t} — out-of-sample, {r['n_steps']}-step {r['strategy']} path, by step"
        for g in path_tables(title, {"head": r["head"], "steps": o["steps"]}):
            g.show(out)
        skill_table(o["joint_tests"]).show(out)
    for spec in view_of(head).extra_tables(o):
        plain_table(spec).show(out)
    if o.get("trading"):
        trading_table(o["trading"], f"Trading view: long/flat, cost {cost_bps:g} bp").show(out)
    if o.get("verdict"):
        chosen = ", ".join((o.get("best_baseline") or {}).get("chosen_per_fit", []))
        message(out, "Verdict:", f"the LSTM {with_verb(o['verdict'], outcome_of(o.get('skill')))}")
        if chosen:
            message(
                out,
                "Strongest simple baseline",
                f"per fit (chosen on its validation windows): {chosen}",
                markup=False,
            )
    message(out, "Conclusion:", o["conclusion"])
    if r.get("path"):
        message(out, "Saved:", r["path"], markup=False)


def _test_abbrev(r: dict) -> str:
    test = ((r["folds"][0].get("skill") or {}).get("test") or "") if r["folds"] else ""
    return {"diebold-mariano": "DM", "binomial": "binomial"}.get(test, test or "test")


def _table_verdict(row: dict) -> str:
    """A verdict for a table cell: the short line of the ticker's summary row, without
    the clause "X is also the strongest simple baseline on validation" (the full line is
    printed under the ticker's own tables and kept in --json)."""
    return row.get("verdict_short") or row.get("verdict") or "—"


def _render_backtest_summary(out, head, result: dict) -> None:
    s = result["summary"]
    bench = s["benchmark"]
    method = s.get("method", "holm")
    sm = Grid(f"Summary across tickers (skill vs {bench}, alpha {s['alpha']:g})")
    summary_cols = [c for c in view_of(head).fold_columns if c.key != "directional_accuracy"]
    sm.column("ticker").column("n", right=True).column("folds", right=True)
    nxt = head_columns(sm, summary_cols, first_rank=3)
    sm.column("p-value", right=True, drop=nxt).column(f"{method} p", right=True)
    sm.column("verdict").column("Sharpe", right=True, drop=2)
    sm.column("buy & hold Sharpe", right=True, drop=1)
    for row in s["rows"]:
        if not row["ok"]:
            sm.row(row["ticker"], *["—"] * (len(summary_cols) + 4), "failed", "—", "—")
            continue
        sm.row(
            row["ticker"],
            row["n"],
            row["folds"],
            *(fmt(row.get(c.key), c.fmt, c.scale) for c in summary_cols),
            fmt(row["p_value"], ".4f"),
            fmt(row.get("p_value_adjusted"), ".4f"),
            _table_verdict(row),
            fmt(row["sharpe"], ".2f"),
            fmt(row["buy_and_hold_sharpe"], ".2f"),
        )
    sm.show(out)
    message(
        out,
        "Summary:",
        f"{s['n_beat']} of {s['n_ok']} tickers beat {bench} significantly"
        + (f" ({s['n_beat_adjusted']} after the {s['method']} adjustment)" if "method" in s else "")
        + (f"; {s['n_failed']} failed" if s["n_failed"] else "")
        + f" ({result['n_units']} units, {result['seconds']:.0f} s, "
        f"executor {result['executor']['kind']})",
    )
