"""Rich tables of the daily commands: ``predict``, ``forecasts`` and ``score``
(primitives and the width rules in :mod:`lstmfc.cli.render`)."""

from __future__ import annotations

from lstmfc.cli.render import (
    DATE_WIDTH,
    RUN_WIDTH,
    Grid,
    fmt,
    head_columns,
    head_of,
    message,
    stdout_console,
)
from lstmfc.cli.views import view_of


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
                    view_of(head_of(row["head"])).log_display(row),
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
            view_of(head_of(r["head"])).log_display(r),
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
        head = head_of(name)
        g = Grid(f"{name} head").column("ticker").column("run", min_width=RUN_WIDTH)
        g.column("n", right=True)
        head_columns(g, view_of(head).live_columns)
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
                head_columns(b, view_of(head).live_columns)
                for st in s["by_step"]:
                    b.row(
                        st["step"],
                        st["horizon"],
                        st["n_scored"],
                        *(fmt(st.get(c.key), c.fmt, c.scale) for c in view_of(head).live_columns),
                    )
                b.show(out)
