"""Commands that bring data in and prepare it: ``fetch``, ``samples``, ``prepare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lstmfc.cli.app import (
    DebugOpt,
    FeaturesOpt,
    HomeOpt,
    JsonOpt,
    StepsOpt,
    TickersFileOpt,
    emit_json,
    handle_errors,
)
from lstmfc.cli.common import multi_exit, ticker_error, ticker_names
from lstmfc.cli.render_data import render_fetch, render_prepare, render_samples
from lstmfc.core.config import DEFAULT_FEATURES, Workspace
from lstmfc.core.limits import MAX_HORIZON, MAX_LOOKBACK, MIN_SPLIT_FRACTION
from lstmfc.data.fetch import fetch_many, fetch_named
from lstmfc.data.sources import FetchRequest
from lstmfc.data.sources.sample import list_samples
from lstmfc.dataset.prepare import DEFAULT_HORIZON, DEFAULT_LOOKBACK, prepare
from lstmfc.dataset.split import DEFAULT_SPLIT

SourceOpt = Annotated[
    str, typer.Option("--source", help="yahoo (network), sample (bundled) or csv (--path).")
]
PathOpt = Annotated[
    Path | None,
    typer.Option(
        "--path",
        help="CSV file (--source csv): a Yahoo export (Date,Open,High,Low,Close,Volume), "
        "dates and closes, or a FRED export.",
        show_default=False,
    ),
]


commands = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
"""The commands of this module (registered with the root app by :data:`lstmfc.cli.app.COMMANDS`)."""


@commands.command("fetch")
@handle_errors
def fetch_cmd(
    tickers: Annotated[
        list[str] | None,
        typer.Argument(help="Tickers, e.g. AAPL MSFT, or SP500 with --source sample."),
    ] = None,
    source: SourceOpt = "yahoo",
    path: PathOpt = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First date, YYYY-MM-DD.", show_default=False)
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Last date (inclusive), YYYY-MM-DD.", show_default=False),
    ] = None,
    auto_adjust: Annotated[
        bool,
        typer.Option(
            "--auto-adjust/--no-auto-adjust",
            help="Yahoo: dividend-adjust OHLC (recorded in the provenance).",
        ),
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Yahoo: re-download everything, not just new days.")
    ] = False,
    tickers_file: TickersFileOpt = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Fetch daily OHLCV into data/raw/TICKER.parquet (only new days if already stored).

    Examples:
      lstmfc fetch SP500 --source sample
      lstmfc fetch AAPL MSFT --start 2015-01-01
      lstmfc fetch MYCO --source csv --path MYCO.csv
    """

    ws = Workspace.resolve(home)
    names = ticker_names(tickers, tickers_file, strict=False)
    request = FetchRequest(
        source=source,
        path=str(path) if path else None,
        start=start,
        end=end,
        auto_adjust=auto_adjust,
        refresh=refresh,
    )
    if len(names) == 1:  # one ticker: an error is the command's error (handle_errors)
        results = [{**fetch_named(ws, names[0], request), "ok": True}]
    else:  # several: each on its own, one stderr line per failure, a list in --json

        def report(res: dict) -> None:
            if not res["ok"]:
                ticker_error(res)

        results = fetch_many(ws, names, request, on_result=report)
    ok = [r for r in results if r["ok"]]
    if json_out:
        if len(names) == 1:
            emit_json({k: v for k, v in ok[0].items() if k != "ok"})
        else:
            emit_json(results)
    elif ok:
        render_fetch(ok)
    multi_exit(results)


@commands.command("samples")
@handle_errors
def samples_cmd(
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the real daily OHLCV samples bundled with lstmfc (usable offline).

    Example: lstmfc samples; then lstmfc fetch SP500 --source sample
    """

    samples = list_samples()
    if json_out:
        emit_json(samples)
        return

    render_samples(samples)


@commands.command("prepare")
@handle_errors
def prepare_cmd(
    ticker: Annotated[str, typer.Argument(help="Ticker fetched before, e.g. SP500.")],
    lookback: Annotated[
        int,
        typer.Option(
            "--lookback",
            min=1,
            max=MAX_LOOKBACK,
            help=f"Rows per input window, 1 to {MAX_LOOKBACK}.",
        ),
    ] = DEFAULT_LOOKBACK,
    horizon: Annotated[
        int,
        typer.Option(
            "--horizon",
            min=1,
            max=MAX_HORIZON,
            help=f"Rows ahead of a window's last row, 1 to {MAX_HORIZON}.",
        ),
    ] = DEFAULT_HORIZON,
    steps: StepsOpt = 1,
    features: FeaturesOpt = ",".join(DEFAULT_FEATURES),
    split: Annotated[
        str,
        typer.Option(
            "--split",
            help="Train,val,test fractions of the windows, summing to 1, each at least "
            f"{MIN_SPLIT_FRACTION}.",
        ),
    ] = ",".join(f"{f:.2f}" for f in DEFAULT_SPLIT),
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Build features, targets, a chronological split and a train-only scaler.

    Writes data/prepared/TICKER/ (scaled features, targets, prepare.json); windows
    are built later as views.

    Example: lstmfc prepare SP500 --lookback 60 --features logret,rsi
    """

    ws = Workspace.resolve(home)
    meta = prepare(
        ws, ticker, lookback=lookback, horizon=horizon, features=features, split=split, steps=steps
    )
    if json_out:
        emit_json(meta)
        return

    render_prepare(meta, str(ws.prepared_path(meta["ticker"])))
