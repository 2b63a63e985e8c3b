"""Rich renderers of every command's result (the only module that draws tables).

Renderers read the plain result documents the library returns (the same dicts the
``--json`` output carries); what differs by forecast head (metric columns, the
validation rows of ``train``, the live track record) comes from the head's view
(:mod:`lstmfc.cli.views`).

Width
-----
Tables fit the console: the terminal's width, ``$COLUMNS``, or 80 columns when stdout
is not a terminal (a cron log, a pipe), the same for every command. Values are never
cut: every column is at least as wide as its longest word (a date, a ticker, a run id,
a number, a model name), longer text folds onto further lines at spaces, and where
those minimum widths add up to more than the console has, low-priority columns are
left out first (named in the table's caption; ``--json`` has every value). The
walk-forward fold table becomes two tables (dates, then scores) instead.

Plain lines (verdicts, conclusions, paths) are printed whole, one line each, whatever
the width: a log keeps one message per line and a path can be copied. Each begins with
one of :data:`MESSAGE_LABELS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lstmfc.cli.views import view_of
from lstmfc.heads.registry import make_head
from lstmfc.stats.outcome import outcome_of
from lstmfc.stats.wording import verdict_with_p, with_verb

#: Minimum cell widths that keep values whole: an ISO date, a run id.
DATE_WIDTH = 10
RUN_WIDTH = 23
#: A date range ``YYYY-MM-DD .. YYYY-MM-DD`` folds after the ``..``.
RANGE_WIDTH = DATE_WIDTH + 3

#: How every plain (unwrapped) stdout line starts; everything else is a table.
MESSAGE_LABELS = (
    "Verdict:",
    "Strongest simple baseline",
    "Conclusion:",
    "Plot:",
    "Saved:",
    "Scaler:",
    "Data:",
    "Wrote:",
    "File:",
    "Log:",
    "Summary:",
    "Live track record:",
    "Joint test:",
)


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


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for w in str(text).split()), default=0)


def _longest_line(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in str(text).splitlines()), default=0)


def fit_widths(mins: Sequence[int], maxs: Sequence[int], room: int) -> list[int]:
    """Column widths in ``room`` characters: each column's widest line, narrowed one
    character at a time from the widest column that is still above its minimum."""
    w = [max(a, b) for a, b in zip(mins, maxs, strict=True)]
    while sum(w) > room:
        above = [i for i in range(len(w)) if w[i] > mins[i]]
        if not above:
            break
        w[max(above, key=lambda i: (w[i], i))] -= 1
    return w


class Grid:
    """A table's columns and rows, laid out for the console only when printed.

    Parameters
    ----------
    title : str, optional
        Wrapped (at spaces) to the table's width.
    show_header : bool

    Notes
    -----
    Column ``drop`` ranks say which columns may be left out when the columns' minimum
    widths (their longest word, at least ``min_width``) do not fit the console: rank
    1 first, then 2 ...; ``None`` never. Rich's default box adds 3 characters per
    column and 1 at the edge (:meth:`min_total`).
    """

    def __init__(self, title: str | None = None, *, show_header: bool = True) -> None:
        self.title = title
        self.show_header = show_header
        self.columns: list[dict[str, Any]] = []
        self.rows: list[list[str]] = []

    def column(
        self,
        label: str,
        *,
        right: bool = False,
        drop: int | None = None,
        min_width: int | None = None,
        style: str | None = None,
    ) -> Grid:
        self.columns.append(
            {"label": label, "right": right, "drop": drop, "min": min_width or 0, "style": style}
        )
        return self

    def columns_of(self, labels: Sequence[str], *, right: bool = True, **min_width) -> Grid:
        """Add columns: the first left-aligned, the others right-aligned if ``right``."""
        for i, label in enumerate(labels):
            self.column(label, right=right and i > 0, min_width=min_width.get(label))
        return self

    def row(self, *cells: Any) -> Grid:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(["" if c is None else str(c) for c in cells])
        return self

    def _texts(self, i: int) -> list[str]:
        cells = [r[i] for r in self.rows]
        return [self.columns[i]["label"], *cells] if self.show_header else cells

    def min_widths(self, keep: Sequence[int] | None = None) -> list[int]:
        """Per kept column: its longest word (header included), at least ``min_width``."""
        idx = range(len(self.columns)) if keep is None else keep
        return [
            max([self.columns[i]["min"], *(_longest_word(x) for x in self._texts(i))]) for i in idx
        ]

    def max_widths(self, keep: Sequence[int]) -> list[int]:
        """Per kept column: its longest line."""
        return [max([0, *(_longest_line(x) for x in self._texts(i))]) for i in keep]

    def min_total(self, keep: Sequence[int] | None = None) -> int:
        """Narrowest width the kept columns can have without breaking a word."""
        w = self.min_widths(keep)
        return sum(w) + 3 * len(w) + 1

    def fits(self, width: int) -> bool:
        return self.min_total() <= width

    def layout(self, width: int) -> tuple[list[int], list[str]]:
        """Indices of the columns kept at ``width`` and the labels left out."""
        keep = list(range(len(self.columns)))
        ranked = sorted((c["drop"], i) for i, c in enumerate(self.columns) if c["drop"] is not None)
        dropped = []
        for _, i in ranked:
            if self.min_total(keep) <= width:
                break
            keep.remove(i)
            dropped.append(self.columns[i]["label"])
        return keep, dropped

    def table(self, width: int):
        """The rich Table for a console ``width`` columns wide."""
        from rich.markup import escape
        from rich.table import Table
        from rich.text import Text

        keep, dropped = self.layout(width)
        caption = None
        if dropped:
            caption = f"left out at {width} columns: {', '.join(dropped)} (all in --json)"
        widths = fit_widths(self.min_widths(keep), self.max_widths(keep), width - 3 * len(keep) - 1)
        t = Table(
            title=escape(self.title) if self.title else None,
            caption=caption,
            show_header=self.show_header,
        )
        for i, w in zip(keep, widths, strict=True):
            c = self.columns[i]
            t.add_column(
                escape(c["label"]),
                justify="right" if c["right"] else "left",
                overflow="fold",
                width=w,
                style=c["style"],
            )
        for r in self.rows:
            t.add_row(*(Text(r[i]) for i in keep))  # Text: a value is never read as markup
        return t

    def show(self, out) -> None:
        """Print on ``out`` at its width (the title and caption wrap with the table)."""
        out.print(self.table(out.width), soft_wrap=False)


def message(out, label: str, text: str = "", *, markup: bool = True) -> None:
    """One plain line, never wrapped: ``label`` (one of :data:`MESSAGE_LABELS`) + text."""
    if not label.startswith(MESSAGE_LABELS):
        raise ValueError(f"{label!r} is not one of MESSAGE_LABELS")
    bold = f"[bold]{label}[/bold]" if markup else label
    from rich.markup import escape

    out.print(f"{bold} {escape(text)}".rstrip(), soft_wrap=True)


def _head(name: str, options: dict | None = None):

    return make_head(name, **(options or {}))


def _head_columns(grid: Grid, columns, *, first_rank: int = 1, keep_first: bool = True) -> int:
    """Add a head's metric columns; benchmark columns (``naive ...``, ``drift ...``) may
    be left out first, then the others from the right (the first one always stays).
    Returns the next free drop rank."""
    cols = list(columns)
    bench = [c for c in cols if c.label.split()[0] in ("naive", "drift", "majority")]
    rank = {id(c): first_rank + k for k, c in enumerate(bench)}
    nxt = first_rank + len(bench)
    for c in reversed(cols[1:] if keep_first else cols):
        if id(c) not in rank:
            rank[id(c)] = nxt
            nxt += 1
    for c in cols:
        grid.column(c.label, right=True, drop=rank.get(id(c)))
    return nxt


# ======================================================================= data
def render_fetch(results: list[dict]) -> None:
    out = stdout_console()
    g = Grid("Stored daily OHLCV").columns_of(
        ("ticker", "rows", "first", "last", "source", "status"),
        right=False,
        first=DATE_WIDTH,
        last=DATE_WIDTH,
    )
    for r in results:
        status = r["status"] + (f" (+{r['new_rows']})" if r["status"] == "updated" else "")
        if r.get("dropped_missing"):
            status += f", {r['dropped_missing']} missing days dropped"
        if r.get("close_only"):
            status += ", close only"
        g.row(r["ticker"], r["rows"], r["first"], r["last"], r["source"], status)
    g.show(out)
    for r in results:
        message(out, "File:", str(r["path"]))


def render_samples(samples: dict) -> None:
    g = Grid("Bundled samples (lstmfc fetch NAME --source sample)").columns_of(
        ("ticker", "description", "first", "last", "rows", "source"),
        right=False,
        first=DATE_WIDTH,
        last=DATE_WIDTH,
    )
    for name, s in samples.items():
        g.row(name, s["description"], s["first_date"], s["last_date"], s["rows"], s["source"])
    g.show(stdout_console())


def render_prepare(meta: dict, where: str) -> None:
    out = stdout_console()
    t = meta["ticker"]
    g = Grid(
        f"{t}: {meta['n_windows']} windows of {meta['lookback']} rows x "
        f"{len(meta['feature_names'])} features, horizon {meta['horizon']}"
    ).columns_of(
        ("split", "windows", "share", "first target", "last target", "end rows", "out of range"),
        **{"first target": DATE_WIDTH, "last target": DATE_WIDTH},
    )
    for name in ("train", "val", "test"):
        s = meta["split"][name]
        g.row(
            name,
            s["n"],
            f"{100 * s['n'] / meta['n_windows']:.1f}%",
            s["start"],
            s["end"],
            f"{s['first_row']}..{s['last_row']}",
            fmt(s.get("out_of_range_share"), ".1f", 100, "%"),
        )
    g.show(out)
    sc = meta["scaler"]
    message(
        out,
        "Scaler:",
        f"MinMax, fit on the training inputs only: rows {sc['fit_rows'][0]}..{sc['fit_rows'][1]}"
        f" ({sc['fit_start_date']} to {sc['fit_end_date']})",
    )
    st = Grid().columns_of(("feature", "data_min", "data_max"))
    for name, lo, hi in zip(sc["feature_names"], sc["data_min"], sc["data_max"], strict=True):
        st.row(name, f"{lo:.6g}", f"{hi:.6g}")
    st.show(out)
    message(
        out,
        "Data:",
        f"{meta['n_rows']} rows {meta['first_date']} to {meta['last_date']} "
        f"({meta['warmup_rows_dropped']} warm-up rows dropped)",
    )
    message(out, "Wrote:", where)


# ======================================================================= train
def render_train(r: dict) -> None:
    head = _head(r["head"], r.get("head_options"))
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


def plain_table(spec: dict) -> Grid:
    """A table from a head's plain table spec (:meth:`lstmfc.heads.Head.extra_tables`)."""
    g = Grid(spec.get("title")).columns_of(spec["columns"])
    for row in spec["rows"]:
        g.row(*row)
    return g


def metrics_table(title: str, head, metrics: dict) -> Grid:
    """Per-model metrics with the head's columns."""
    g = Grid(title).column("model", style="bold")
    _head_columns(g, view_of(head).metric_columns)
    for name, m in metrics.items():
        g.row(name, *(fmt(m.get(c.key), c.fmt, c.scale) for c in view_of(head).metric_columns))
    return g


def render_evaluation(r: dict) -> None:
    """Rich tables of an evaluation report on stdout."""
    out = stdout_console()
    head = _head(r["head"])
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
    head = _head(r["head"])
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


# ======================================================================= daily
def render_predict(results: list[dict]) -> None:
    g = Grid("Next-session forecasts")
    g.column("ticker").column("as of", drop=3, min_width=DATE_WIDTH)
    g.column("close", drop=2).column("target", min_width=DATE_WIDTH).column("forecast")
    g.column("run", min_width=RUN_WIDTH).column("logged", drop=1)
    for r in results:
        if r["ok"]:
            for k, row in enumerate(r.get("path") or [r]):  # a path: one line per step
                first = k == 0
                g.row(
                    row["ticker"] if first else f"  step {row['step']}",
                    row["as_of"] if first else "",
                    f"{row['close_as_of']:.2f}" if first else "",
                    row["target_date"],
                    view_of(_head(row["head"])).log_display(row),
                    row["run_id"] if first else "",
                    ("new" if r["logged"] else "already") if first else "",
                )
    g.show(stdout_console())


def render_forecasts(rows: list[dict], where: str) -> None:
    out = stdout_console()
    g = Grid(f"Forecast log ({len(rows)} rows)")
    paths = any((r.get("step") or 1) > 1 for r in rows)  # a step column for path models
    g.column("ticker").column("as of", drop=2, min_width=DATE_WIDTH)
    g.column("target", min_width=DATE_WIDTH)
    if paths:
        g.column("step", right=True, drop=1)
    g.column("run", drop=4, min_width=RUN_WIDTH)
    g.column("close", drop=3).column("forecast").column("realised").column("error")
    for r in rows:
        g.row(
            r["ticker"],
            r["as_of"],
            r["target_date"],
            *([r.get("step") or 1] if paths else []),
            r["run_id"],
            f"{r['close_as_of']:.2f}",
            view_of(_head(r["head"])).log_display(r),
            fmt(r["realised_close"], ".2f"),
            fmt(r["error"], "+.2f"),
        )
    g.show(out)
    message(out, "Log:", where)


def render_score(res: dict) -> None:
    out = stdout_console()
    message(
        out, "Live track record:", f"{res['newly_scored']} newly scored, {res['pending']} pending"
    )
    by_head: dict[str, list[tuple[str, dict]]] = {}
    for key, s in res["summary"].items():
        by_head.setdefault(s.get("head", "price"), []).append((key, s))
    for name, items in by_head.items():
        head = _head(name)
        g = Grid(f"{name} head").column("ticker").column("run", min_width=RUN_WIDTH)
        g.column("n", right=True)
        _head_columns(g, view_of(head).live_columns)
        for key, s in items:
            ticker, _, run = key.partition("/")
            g.row(
                ticker,
                run,
                s["n_scored"],
                *(fmt(s.get(c.key), c.fmt, c.scale) for c in view_of(head).live_columns),
            )
        g.show(out)
        for key, s in items:
            if s.get("by_step"):  # a path model: its record step by step
                b = Grid(f"{key}: live record by step").column("step").column("h", right=True)
                b.column("n", right=True)
                _head_columns(b, view_of(head).live_columns)
                for st in s["by_step"]:
                    b.row(
                        st["step"],
                        st["horizon"],
                        st["n_scored"],
                        *(fmt(st.get(c.key), c.fmt, c.scale) for c in view_of(head).live_columns),
                    )
                b.show(out)


# ======================================================================= backtest
def render_backtest(result: dict) -> None:
    """Rich tables of a backtest: per ticker folds and overall, then the summary.

    The same width as every other command (80 columns off a terminal): a cron log or a
    pager shows 80 columns, where a wider table would wrap line by line; ``COLUMNS``
    widens it.
    """
    out = stdout_console()
    head = _head(result["settings"]["model"]["head"])
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
    nxt = _head_columns(sm, summary_cols, first_rank=3)
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


def render_any(doc: Any) -> None:  # pragma: no cover - debugging aid
    stdout_console().print(doc)
