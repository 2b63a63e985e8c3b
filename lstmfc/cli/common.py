"""Helpers shared by the command modules: ticker lists, per-ticker loops and their exit
codes (the root app, its options and the error contract are in
:mod:`lstmfc.cli.app`)."""

from __future__ import annotations

from pathlib import Path

import typer

from lstmfc.core.errors import LstmfcError
from lstmfc.data.universe import merge_tickers


def ticker_names(
    tickers: list[str] | str | None, tickers_file: Path | None, *, strict: bool = True
) -> list[str]:
    """The ``TICKER...`` arguments plus those of ``--tickers-file`` (each once).

    Raises
    ------
    UsageError
        No ticker at all, or (``strict``) a malformed one.
    DataError
        An unreadable or invalid tickers file.
    """

    if isinstance(tickers, str):
        tickers = [tickers]
    return merge_tickers(tickers, tickers_file, strict=strict)


def ticker_error(res: dict) -> None:
    """One stderr line for a failed ticker of a multi-ticker command."""
    msg = res["error"]
    if not msg.upper().startswith(str(res["ticker"]).upper()):
        msg = f"{res['ticker']}: {msg}"
    typer.echo(f"Error: {' '.join(msg.split())}", err=True)


def each_ticker(names: list[str], work) -> list[dict]:
    """Run ``work(ticker)`` per ticker; a failure is one stderr line, the others go on."""
    results = []
    for t in names:
        try:
            results.append({"ok": True, "ticker": t, "result": work(t)})
        except LstmfcError as exc:
            res = {"ticker": t, "ok": False, "error": str(exc), "exit_code": exc.exit_code}
            ticker_error(res)
            results.append(res)
    return results


def multi_exit(results: list[dict]) -> None:
    """Exit 0 if all ok; 75 if only temporary failures; 2 if only usage errors; else 1."""
    codes = {r["exit_code"] for r in results if not r.get("ok")}
    if not codes:
        return
    raise typer.Exit(codes.pop() if len(codes) == 1 and codes <= {2, 75} else 1)
