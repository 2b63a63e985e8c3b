"""Rich rendering: consoles, number formats and the width-fitting table (:class:`Grid`)
that every command's renderer draws with.

The renderers themselves are one module per command group
(:mod:`lstmfc.cli.render_data`, :mod:`lstmfc.cli.render_model`,
:mod:`lstmfc.cli.render_daily`, :mod:`lstmfc.cli.render_backtest`); they read the
plain result documents the library returns (the same dicts the ``--json`` output
carries), and what differs by forecast head (metric columns, the validation rows of
``train``, the live track record) comes from the head's view (:mod:`lstmfc.cli.views`).

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

from lstmfc.heads.registry import make_head

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


def head_of(name: str, options: dict | None = None):

    return make_head(name, **(options or {}))


def head_columns(grid: Grid, columns, *, first_rank: int = 1, keep_first: bool = True) -> int:
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


def plain_table(spec: dict) -> Grid:
    """A table from a head's plain table spec (:meth:`lstmfc.heads.Head.extra_tables`)."""
    g = Grid(spec.get("title")).columns_of(spec["columns"])
    for row in spec["rows"]:
        g.row(*row)
    return g
