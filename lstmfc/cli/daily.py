"""The daily commands: ``predict`` (the cron job), ``forecasts`` and ``score``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lstmfc.cli.app import (
    DebugOpt,
    HomeOpt,
    JsonOpt,
    ModelOpt,
    TickersFileOpt,
    emit_json,
    handle_errors,
    warn,
)
from lstmfc.cli.common import multi_exit, ticker_error, ticker_names
from lstmfc.cli.render_daily import render_forecasts, render_predict, render_score
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.data.forecastlog import COLUMNS, ForecastLog
from lstmfc.data.sources import FetchRequest
from lstmfc.workflows.daily import predict, score

commands = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
"""The commands of this module (registered with the root app by :data:`lstmfc.cli.app.COMMANDS`)."""


@commands.command("predict")
@handle_errors
def predict_cmd(
    tickers: Annotated[
        list[str] | None, typer.Argument(help="One or more tickers with a model.")
    ] = None,
    model: ModelOpt = None,
    source: Annotated[
        str, typer.Option("--source", help="Data update source: yahoo, sample or csv.")
    ] = "yahoo",
    path: Annotated[
        Path | None, typer.Option("--path", help="CSV file for --source csv.", show_default=False)
    ] = None,
    update: Annotated[
        bool, typer.Option("--update/--no-update", help="Fetch new bars before forecasting.")
    ] = True,
    calendar: Annotated[
        str,
        typer.Option("--calendar", help="Exchange calendar for the target date (or 'weekdays')."),
    ] = "XNYS",
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="What runs the networks: auto (ONNX Runtime when the bundle has ONNX "
            "files, else Keras), onnx or keras.",
        ),
    ] = "auto",
    tickers_file: TickersFileOpt = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Forecast the next session and append it to data/forecasts.sqlite (cron entry point).

    Example (crontab, 22:30 on weekdays):
      30 22 * * 1-5  lstmfc predict SP500 AAPL --home /srv/lstmfc >> /srv/lstmfc/predict.log 2>&1
    """

    ws = Workspace.resolve(home)
    names = ticker_names(tickers, tickers_file, strict=False)

    def report(res: dict) -> None:
        if not res["ok"]:
            ticker_error(res)
        for w in res.get("warnings", []):
            warn(w)

    results = predict(
        ws,
        names,
        run_id=model,
        update=FetchRequest(source=source, path=str(path) if path else None) if update else None,
        calendar=calendar,
        on_result=report,
        engine=engine,
    )
    if json_out:
        emit_json(results)
    elif any(r["ok"] for r in results):
        render_predict(results)
    multi_exit(results)


@commands.command("forecasts")
@handle_errors
def forecasts_cmd(
    ticker: Annotated[str | None, typer.Argument(help="Only this ticker.")] = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the forecast log (oldest first).

    Example: lstmfc forecasts SP500 --csv > sp500_forecasts.csv
    """

    ws = Workspace.resolve(home)
    rows = ForecastLog(ws.forecast_db).rows(normalize_ticker(ticker) if ticker else None)
    if json_out:
        emit_json(rows)
    elif csv_out:
        import csv

        w = csv.DictWriter(sys.stdout, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    else:
        render_forecasts(rows, str(ws.forecast_db))


@commands.command("score")
@handle_errors
def score_cmd(
    ticker: Annotated[str | None, typer.Argument(help="Only this ticker.")] = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Fill in realised closes of past forecasts and summarise the live record vs naive.

    Example: lstmfc score SP500
    """

    ws = Workspace.resolve(home)
    res = score(ws, ticker)
    if json_out:
        emit_json(res)
        return

    render_score(res)
