"""Progress displays for the CLI: training epochs and backtest units.

Library code reports progress through plain hooks (a *reporter* for training,
:func:`lstmfc.network.models.fit`; a *progress* object for backtests,
:func:`lstmfc.backtest.backtest`); these classes render them. On a terminal they are
rich progress bars; otherwise (cron logs, pipes) one plain line per epoch or unit.
"""

from __future__ import annotations

import sys
from typing import IO, Any


def _epoch_line(label: str, epoch: int, epochs: int, logs: dict[str, float], seconds: float):
    parts = [f"{k} {v:.5g}" for k, v in logs.items() if k != "learning_rate"]
    prefix = f"{label} " if label else ""
    return f"{prefix}epoch {epoch}/{epochs}  {'  '.join(parts)}  {seconds:.1f} s"


class LineReporter:
    """One plain line per epoch on ``stream`` (for cron logs and pipes).

    Example line: ``SP500 epoch 3/30  loss 0.01234  val_loss 0.015  4.1 s``.
    """

    wants_batches = False

    def __init__(self, stream: IO[str] | None = None, label: str = ""):
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.epochs = 0

    def on_train_begin(self, epochs: int, steps: int) -> None:
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, logs: dict[str, float], seconds: float) -> None:
        self.stream.write(_epoch_line(self.label, epoch, self.epochs, logs, seconds) + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class RichReporter:
    """A rich progress display for an interactive terminal.

    Two live bars (epochs; batches of the current epoch with time remaining) and,
    scrolling above them, the same one line per finished epoch as
    :class:`LineReporter`.
    """

    wants_batches = True

    def __init__(self, console=None, label: str = ""):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console or Console(stderr=True)
        self.label = label
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._epoch_task = None
        self._batch_task = None
        self._started = False
        self.epochs = 0

    def on_train_begin(self, epochs: int, steps: int) -> None:
        self.epochs = epochs
        self.progress.start()
        self._started = True
        self._epoch_task = self.progress.add_task(f"{self.label} epochs".strip(), total=epochs)
        self._batch_task = self.progress.add_task("  batches", total=steps)

    def on_epoch_begin(self, epoch: int) -> None:
        self.progress.reset(self._batch_task, description=f"  epoch {epoch} batches")

    def on_batch_end(self, step: int) -> None:
        self.progress.update(self._batch_task, completed=step)

    def on_epoch_end(self, epoch: int, logs: dict[str, float], seconds: float) -> None:
        self.progress.update(self._epoch_task, completed=epoch)
        self.progress.console.print(
            _epoch_line(self.label, epoch, self.epochs, logs, seconds), highlight=False
        )

    def on_train_end(self) -> None:
        self.close()

    def close(self) -> None:
        if self._started:
            self.progress.stop()
            self._started = False


def make_train_reporter(stream: IO[str] | None = None, label: str = ""):
    """Rich display if ``stream`` (default stderr) is a terminal, else one line per epoch."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        from rich.console import Console

        return RichReporter(Console(file=stream), label=label)
    return LineReporter(stream, label=label)


class BacktestLines:
    """Plain progress lines on ``stream`` (cron logs, pipes, CliRunner)."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.total = 0
        self.done = 0
        self.per: dict[str, list[int]] = {}

    def _say(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        self._say(text)

    def start(self, total: int, per_ticker: dict[str, int]) -> None:
        self.total = total
        self.per = {t: [0, n] for t, n in per_ticker.items()}
        if total:
            self._say(f"backtest: {total} units of work over {len(per_ticker)} tickers")

    def unit_done(self, ticker: str, fit: int, res) -> None:
        self.done += 1
        self.per[ticker][0] += 1
        what = "ok" if res.ok else "failed"
        secs = res.seconds
        took = f" in {secs:.1f} s" if isinstance(secs, int | float) else ""
        d, n = self.per[ticker]
        self._say(f"[{self.done}/{self.total}] {ticker} fit {fit + 1}/{n} {what}{took}")

    def ticker_done(self, ticker: str, report: dict[str, Any]) -> None:
        self._say(f"{ticker}: done, {report['overall']['skill'].get('verdict', '')}")

    def ticker_failed(self, ticker: str, message: str) -> None:
        self._say(f"Error: {ticker}: {message}")

    def close(self) -> None:
        pass


class BacktestBar(BacktestLines):
    """One rich progress bar over all units, with per-ticker status (terminal only)."""

    def __init__(self, console=None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        super().__init__()
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
        )
        self.task = None
        self.failed: set[str] = set()

    def _say(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def _status(self) -> str:
        parts = []
        for t, (d, n) in self.per.items():
            mark = " ✗" if t in self.failed else (" ✓" if d == n else "")
            parts.append(f"{t} {d}/{n}{mark}")
        text = "  ".join(parts)
        return text if len(text) <= 70 else text[:67] + "..."

    def start(self, total: int, per_ticker: dict[str, int]) -> None:
        self.total = total
        self.per = {t: [0, n] for t, n in per_ticker.items()}
        self.progress.start()
        self.task = self.progress.add_task("units", total=max(total, 1), status=self._status())

    def unit_done(self, ticker: str, fit: int, res) -> None:
        self.done += 1
        self.per[ticker][0] += 1
        if not res.ok:
            self.failed.add(ticker)
        self.progress.update(self.task, completed=self.done, status=self._status())

    def ticker_done(self, ticker: str, report: dict[str, Any]) -> None:
        pass  # the status column shows it; the tables follow on stdout

    def ticker_failed(self, ticker: str, message: str) -> None:
        self.failed.add(ticker)
        if self.task is not None:
            self.progress.update(self.task, status=self._status())
        super().ticker_failed(ticker, message)

    def close(self) -> None:
        self.progress.stop()


def make_backtest_progress(stream: IO[str] | None = None):
    """Rich progress bar if ``stream`` (default stderr) is a terminal, else plain lines."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        from rich.console import Console

        return BacktestBar(Console(file=stream))
    return BacktestLines(stream)
