"""The ``lstmfc`` command line: parse options, call the library, render with rich.

This module stays thin (DESIGN.md): no pandas/NumPy/TensorFlow at import time, so
``lstmfc --help`` starts fast. Library errors (:mod:`lstmfc.errors`) are caught here
only and become one line on stderr plus the exit code of their kind; ``--debug``
shows the traceback instead. With ``--json`` stdout carries exactly one JSON document
and everything else goes to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lstmfc import __version__
from lstmfc.errors import LstmfcError

app = typer.Typer(
    name="lstmfc",
    help="Forecast daily financial time series with Keras LSTM networks, "
    "scored honestly against naive baselines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# ---------------------------------------------------------------- shared options
HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="LSTMFC_HOME",
        help="Workspace folder holding data/ and models/ (default: current directory).",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout; messages go to stderr.")
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Show the full traceback on errors.", envvar="LSTMFC_DEBUG")
]


# ------------------------------------------------ model options (train, backtest)
HeadOpt = Annotated[
    str, typer.Option("--head", help="price (linear output, MSE) or direction (sigmoid, P(up)).")
]
CellOpt = Annotated[str, typer.Option("--cell", help="Recurrent layer: lstm, gru or rnn.")]
UnitsOpt = Annotated[
    str, typer.Option("--units", help="Units per stacked recurrent layer, comma list.")
]
DropoutOpt = Annotated[
    float, typer.Option("--dropout", help="Dropout after each recurrent layer, [0, 1).")
]
DenseOpt = Annotated[
    int, typer.Option("--dense", help="Hidden Dense units before the output (0 = none).")
]
EpochsOpt = Annotated[int, typer.Option("--epochs", help="Maximum epochs (per fit).")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Mini-batch size.")]
LrOpt = Annotated[float, typer.Option("--lr", help="Adam learning rate.")]
ClipOpt = Annotated[
    float, typer.Option("--clipnorm", help="Clip gradients by global norm (0 = off).")
]
L2Opt = Annotated[float, typer.Option("--l2", help="L2 penalty on all kernels (0 = off).")]
PatienceOpt = Annotated[
    int, typer.Option("--patience", help="Early-stopping patience (epochs, on val_loss).")
]
SeedOpt = Annotated[
    int | None,
    typer.Option("--seed", help="Random seed (default: drawn and recorded).", show_default=False),
]
PriceTargetOpt = Annotated[
    str,
    typer.Option(
        "--price-target",
        help="Price head target: logret (next log return) or level (scaled price, seed).",
    ),
]


def stderr_console():
    """Rich console on stderr (progress, messages); plain text when not a terminal."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def stdout_console():
    """Rich console on stdout (result tables)."""
    from rich.console import Console

    return Console(highlight=False)


def emit_json(doc: Any) -> None:
    """Print ``doc`` as the single JSON document on stdout."""
    typer.echo(json.dumps(doc, indent=2, sort_keys=False, default=str))


def fail(message: str, code: int = 1) -> None:
    """One line on stderr, then exit with ``code``."""
    typer.echo("Error: " + " ".join(str(message).split()), err=True)
    raise typer.Exit(code)


def handle_errors(fn):
    """Map library errors to one stderr line + exit code (traceback only with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = bool(kwargs.get("debug")) or os.environ.get("LSTMFC_DEBUG", "") not in ("", "0")
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except LstmfcError as exc:
            if debug:
                raise
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            if debug:
                raise
            fail("interrupted; nothing was left half-written", 130)
        except Exception as exc:  # an internal error must still be one line
            if debug:
                raise
            fail(
                f"internal error: {type(exc).__name__}: {exc} "
                "(rerun with --debug for the traceback)",
                1,
            )

    return wrapper


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"lstmfc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Forecast daily financial time series with Keras LSTM networks."""


# ======================================================================= fetch
# (section: fetch / samples — issue 2)
@app.command("fetch")
@handle_errors
def fetch_cmd(
    tickers: Annotated[
        list[str] | None,
        typer.Argument(help="Tickers, e.g. AAPL MSFT, or SP500 with --source sample."),
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="yahoo (network), sample (bundled) or csv (--path).")
    ] = "yahoo",
    path: Annotated[
        Path | None,
        typer.Option(
            "--path", help="CSV file in Yahoo export layout (--source csv).", show_default=False
        ),
    ] = None,
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
    tickers_file: Annotated[
        Path | None,
        typer.Option("--tickers-file", help="File with one ticker per line.", show_default=False),
    ] = None,
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
    from lstmfc.config import Workspace
    from lstmfc.fetch import fetch_many

    ws = Workspace.resolve(home)
    names = list(tickers or [])
    if tickers_file is not None:
        from lstmfc.universe import read_tickers_file

        names += [t for t in read_tickers_file(tickers_file) if t not in names]
    if not names:
        fail("no tickers given (name them or use --tickers-file)", 2)

    options = dict(
        source=source,
        path=str(path) if path else None,
        start=start,
        end=end,
        auto_adjust=auto_adjust,
        refresh=refresh,
    )
    if len(names) == 1:  # one ticker: an error is the command's error (handle_errors)
        from lstmfc.fetch import fetch_named

        results = [{**fetch_named(ws, names[0], **options), "ok": True}]
    else:  # several: each on its own, one stderr line per failure, a list in --json

        def report(res: dict) -> None:
            if not res["ok"]:
                _ticker_error(res)

        results = fetch_many(ws, names, on_result=report, **options)
    ok = [r for r in results if r["ok"]]
    if json_out:
        if len(names) == 1:
            emit_json({k: v for k, v in ok[0].items() if k != "ok"})
        else:
            emit_json(results)
    elif ok:
        from rich.table import Table

        t = Table(title="Stored daily OHLCV")
        for c in ("ticker", "rows", "first", "last", "source", "status", "path"):
            t.add_column(c)
        for r in ok:
            t.add_row(
                r["ticker"],
                str(r["rows"]),
                r["first"],
                r["last"],
                r["source"],
                r["status"] + (f" (+{r['new_rows']})" if r["status"] == "updated" else ""),
                r["path"],
            )
        stdout_console().print(t)
    _multi_exit(results)


@app.command("samples")
@handle_errors
def samples_cmd(
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the real daily OHLCV samples bundled with lstmfc (usable offline).

    Example: lstmfc samples; then lstmfc fetch SP500 --source sample
    """
    from lstmfc.sources import list_samples

    samples = list_samples()
    if json_out:
        emit_json(samples)
        return
    from rich.table import Table

    t = Table(title="Bundled samples (lstmfc fetch NAME --source sample)")
    for c in ("ticker", "description", "first", "last", "rows", "source"):
        t.add_column(c)
    for name, s in samples.items():
        t.add_row(
            name, s["description"], s["first_date"], s["last_date"], str(s["rows"]), s["source"]
        )
    stdout_console().print(t)


# ===================================================================== prepare
# (section: prepare — issue 3)
@app.command("prepare")
@handle_errors
def prepare_cmd(
    ticker: Annotated[str, typer.Argument(help="Ticker fetched before, e.g. SP500.")],
    lookback: Annotated[int, typer.Option("--lookback", min=1, help="Rows per input window.")] = 60,
    horizon: Annotated[
        int, typer.Option("--horizon", min=1, help="Rows ahead of a window's last row.")
    ] = 1,
    features: Annotated[
        str,
        typer.Option(
            "--features",
            help="Comma list of feature sets: close, ohlcv, logret, volume, rsi, macd, bbp.",
        ),
    ] = "close",
    split: Annotated[
        str, typer.Option("--split", help="Train,val,test fractions of the windows.")
    ] = "0.70,0.15,0.15",
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Build features, targets, a chronological split and a train-only scaler.

    Writes data/prepared/TICKER/ (scaled features, targets, prepare.json); windows
    are built later as views.

    Example: lstmfc prepare SP500 --lookback 60 --features close,logret,rsi
    """
    from lstmfc.config import Workspace
    from lstmfc.windows import prepare

    ws = Workspace.resolve(home)
    meta = prepare(ws, ticker, lookback=lookback, horizon=horizon, features=features, split=split)
    if json_out:
        emit_json(meta)
        return
    _render_prepare(meta, ws)


def _render_prepare(meta: dict, ws) -> None:
    from rich.table import Table

    out = stdout_console()
    t = meta["ticker"]
    table = Table(
        title=f"{t}: {meta['n_windows']} windows of {meta['lookback']} rows x "
        f"{len(meta['feature_names'])} features, horizon {meta['horizon']}"
    )
    for col, just in (
        ("split", "left"),
        ("windows", "right"),
        ("share", "right"),
        ("first target", "left"),
        ("last target", "left"),
        ("window end rows", "right"),
    ):
        table.add_column(col, justify=just)
    for name in ("train", "val", "test"):
        s = meta["split"][name]
        table.add_row(
            name,
            str(s["n"]),
            f"{100 * s['n'] / meta['n_windows']:.1f}%",
            s["start"],
            s["end"],
            f"{s['first_row']}..{s['last_row']}",
        )
    out.print(table)
    sc = meta["scaler"]
    out.print(
        f"MinMax scaler fit on the training inputs only: rows "
        f"{sc['fit_rows'][0]}..{sc['fit_rows'][1]} ({sc['fit_start_date']} to {sc['fit_end_date']})"
    )
    st = Table()
    st.add_column("feature")
    st.add_column("data_min", justify="right")
    st.add_column("data_max", justify="right")
    for name, lo, hi in zip(sc["feature_names"], sc["data_min"], sc["data_max"], strict=True):
        st.add_row(name, f"{lo:.6g}", f"{hi:.6g}")
    out.print(st)
    out.print(
        f"{meta['n_rows']} rows {meta['first_date']} to {meta['last_date']} "
        f"({meta['warmup_rows_dropped']} warm-up rows dropped); "
        f"wrote {ws.prepared_path(t)}"
    )


# ======================================================================= train
# (section: train — issue 4)
@app.command("train")
@handle_errors
def train_cmd(
    ticker: Annotated[
        str | None, typer.Argument(help="Ticker prepared before, e.g. SP500.")
    ] = None,
    head: HeadOpt = "price",
    cell: CellOpt = "lstm",
    units: UnitsOpt = "128,64",
    dropout: DropoutOpt = 0.2,
    dense: DenseOpt = 25,
    epochs: EpochsOpt = 30,
    batch_size: BatchOpt = 32,
    lr: LrOpt = 0.001,
    clipnorm: ClipOpt = 5.0,
    l2: L2Opt = 0.0,
    patience: PatienceOpt = 5,
    seed: SeedOpt = None,
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic", help="Deterministic kernels (torch or TF): bit-identical reruns."
        ),
    ] = False,
    price_target: PriceTargetOpt = "logret",
    tickers_file: Annotated[
        Path | None,
        typer.Option("--tickers-file", help="File with one ticker per line.", show_default=False),
    ] = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train the reference stacked LSTM (or GRU / SimpleRNN) and save a model bundle.

    Writes models/TICKER/RUN_ID/ (model.keras, manifest.json, history.png),
    then points models/TICKER/latest at it. Progress goes to stderr.

    Example: lstmfc train SP500 --head direction --epochs 20 --seed 7
    """
    from lstmfc.config import Workspace
    from lstmfc.train import make_reporter, train

    ws = Workspace.resolve(home)
    names = _ticker_names(ticker, tickers_file)

    def work(t: str) -> dict:
        result = train(
            ws,
            t,
            head=head,
            cell=cell,
            units=units,
            dropout=dropout,
            dense=dense,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            clipnorm=clipnorm,
            l2=l2,
            patience=patience,
            seed=seed,
            deterministic=deterministic,
            price_target=price_target,
            reporter=make_reporter(sys.stderr),
        )
        for w in result["warnings"]:
            typer.echo(f"Warning: {w}", err=True)
        if not json_out:
            _render_train(result)
        return result

    if len(names) == 1 and tickers_file is None:
        result = work(names[0])
        if json_out:
            emit_json(result)
        return
    results = _each_ticker(names, work)
    if json_out:
        emit_json(results)
    _multi_exit(results)


def _render_train(r: dict) -> None:
    from rich.table import Table

    hp = r["hyperparameters"]
    arch = "-".join(str(u) for u in hp["units"])
    if hp["dense"]:
        arch += f" + dense {hp['dense']}"
    what = r["head"] + (f" ({r['price_target']})" if r["price_target"] else "")
    table = Table(
        title=f"{r['ticker']}: trained {r['cell'].upper()} {arch}, {what} head", show_header=False
    )
    table.add_column("item", style="bold")
    table.add_column("value")
    stop = "early stop" if r["stopped_early"] else "epoch limit"
    rows = [
        ("run id", r["run_id"]),
        ("bundle", r["path"] + ("  (latest)" if r["latest"] else "")),
        ("windows", f"{r['n_train']} train, {r['n_val']} validation"),
        ("epochs", f"{r['epochs_run']} run ({stop}), best {r['best_epoch']}"),
        ("best val loss", f"{r['best_val_loss']:.6g}"),
    ]
    v = r["val"]
    if r["head"] == "price":
        rows.append(
            ("val RMSE", f"{v['rmse']:.4f} (naive random walk {v['naive_rmse']:.4f}), currency")
        )
        rows.append(("val MAE", f"{v['mae']:.4f}"))
    else:
        rows.append(
            (
                "val accuracy",
                f"{100 * v['accuracy']:.1f}% (majority class {100 * v['majority_accuracy']:.1f}%)",
            )
        )
    rows += [
        ("training time", f"{r['train_seconds']:.1f} s ({r['windows_per_second']:.0f} windows/s)"),
        ("seed", f"{r['seed']}" + (" (deterministic)" if r["deterministic"] else "")),
    ]
    for k, val in rows:
        table.add_row(k, val)
    stdout_console().print(table)


# ============================================================ evaluate/predict
# (section: evaluate / predict / forecasts / score / run — issue 5)
@app.command("evaluate")
@handle_errors
def evaluate_cmd(
    ticker: Annotated[
        str | None, typer.Argument(help="Ticker with a trained model, e.g. SP500.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Run id of the bundle (default: latest).", show_default=False),
    ] = None,
    sma: Annotated[int, typer.Option("--sma", help="Moving-average baseline window (days).")] = 20,
    ema: Annotated[int, typer.Option("--ema", help="EMA baseline span (days).")] = 20,
    cost_bps: Annotated[
        float, typer.Option("--cost-bps", help="Trading view: cost per position change, bp.")
    ] = 0.0,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of verdicts.")] = 0.05,
    tickers_file: Annotated[
        Path | None,
        typer.Option("--tickers-file", help="File with one ticker per line.", show_default=False),
    ] = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Score a model on the test split against naive, SMA, EMA and OLS baselines.

    Writes evaluation.json and evaluation.png into the model's bundle folder.

    Example: lstmfc evaluate SP500 --cost-bps 5
    """
    from lstmfc.config import Workspace
    from lstmfc.evaluate import evaluate

    ws = Workspace.resolve(home)
    names = _ticker_names(ticker, tickers_file)

    def work(t: str) -> dict:
        report = evaluate(ws, t, model, sma_k=sma, ema_span=ema, cost_bps=cost_bps, alpha=alpha)
        if not json_out:
            render_evaluation(report)
        return report

    if len(names) == 1 and tickers_file is None:
        report = work(names[0])
        if json_out:
            emit_json(report)
        return
    results = _each_ticker(names, work)
    if json_out:
        emit_json(results)
    else:
        _render_universe(results, alpha)
    _multi_exit(results)


def _render_universe(results: list[dict], alpha: float) -> None:
    """Summary across tickers: skill vs naive per ticker, how many beat it."""
    from rich.table import Table

    t = Table(title="Across tickers: skill over the naive baseline (test split)")
    for c in ("ticker", "run", "head", "headline test", "p-value", "verdict"):
        t.add_column(c)
    beat = 0
    ok = [r for r in results if r["ok"]]
    for r in results:
        if not r["ok"]:
            t.add_row(r["ticker"], "—", "—", "—", "—", "error: " + r["error"][:60])
            continue
        rep = r["result"]
        sk = rep["skill"]
        beat += sk["verdict"].startswith("beats")
        t.add_row(
            rep["ticker"],
            rep["run_id"],
            rep["head"],
            sk["test"],
            _fmt(sk.get("p_value"), ".4f"),
            sk["verdict"],
        )
    out = stdout_console()
    out.print(t)
    out.print(f"{beat} of {len(ok)} tickers beat their benchmark significantly (alpha {alpha:g}).")


def _fmt(v, spec: str = ".4f", scale: float = 1.0, suffix: str = "") -> str:
    if v is None:
        return "—"
    return f"{v * scale:{spec}}{suffix}"


def skill_table(tests: list[dict]):
    """Rich table of skill tests (evaluate and backtest)."""
    from rich.table import Table

    t = Table(title="Skill tests (one-sided: model better than benchmark)")
    for c in ("model", "test", "statistic", "p-value", "verdict"):
        t.add_column(c)
    for test in tests:
        t.add_row(
            test.get("model", "lstm"),
            test["test"],
            _fmt(test.get("statistic"), ".3f"),
            _fmt(test.get("p_value"), ".4f"),
            test["verdict"],
        )
    return t


def trading_table(trading: dict, title: str):
    """Rich table of the long/flat trading view (evaluate and backtest)."""
    from rich.table import Table

    t = Table(title=title)
    for c in ("strategy", "ann. return %", "Sharpe", "max drawdown %", "hit rate %", "trades"):
        t.add_column(c, justify="left" if c == "strategy" else "right")
    for name, m in trading.items():
        t.add_row(
            name,
            _fmt(m.get("annualised_return"), ".2f", 100),
            _fmt(m.get("sharpe"), ".2f"),
            _fmt(m.get("max_drawdown"), ".2f", 100),
            _fmt(m.get("hit_rate"), ".1f", 100),
            str(m.get("n_trades", "—")),
        )
    return t


def render_evaluation(r: dict) -> None:
    """Rich tables of an evaluation report on stdout."""
    from rich.table import Table

    out = stdout_console()
    title = (
        f"{r['ticker']} — {r['head']} head, run {r['run_id']} — test split "
        f"{r['test_start']} .. {r['test_end']} ({r['n_test']} forecasts, horizon {r['horizon']})"
    )
    t = Table(title=title)
    t.add_column("model", style="bold")
    if r["head"] == "price":
        for c in ("RMSE", "MAE", "MAPE %", "dir. acc. %", "Theil's U"):
            t.add_column(c, justify="right")
        for name, m in r["metrics"].items():
            t.add_row(
                name,
                _fmt(m.get("rmse"), ".2f"),
                _fmt(m.get("mae"), ".2f"),
                _fmt(m.get("mape"), ".3f"),
                _fmt(m.get("directional_accuracy"), ".1f", 100),
                _fmt(m.get("theils_u"), ".4f"),
            )
    else:
        for c in ("accuracy %", "balanced %", "Brier", "log loss", "ROC AUC"):
            t.add_column(c, justify="right")
        for name, m in r["metrics"].items():
            t.add_row(
                name,
                _fmt(m.get("accuracy"), ".1f", 100),
                _fmt(m.get("balanced_accuracy"), ".1f", 100),
                _fmt(m.get("brier"), ".4f"),
                _fmt(m.get("log_loss"), ".4f"),
                _fmt(m.get("roc_auc"), ".3f"),
            )
    out.print(t)

    out.print(skill_table(r["skill_tests"]))
    out.print(
        trading_table(
            r["trading"],
            f"Trading view: long/flat on the signal, cost {r['cost_bps']:g} bp per trade",
        )
    )
    out.print(f"[bold]Conclusion:[/bold] {r['conclusion']}")
    if r.get("plot"):
        out.print(f"Plot: {r['plot']}")


def _ticker_error(res: dict) -> None:
    """One stderr line for a failed ticker of a multi-ticker command."""
    msg = res["error"]
    if not msg.upper().startswith(str(res["ticker"]).upper()):
        msg = f"{res['ticker']}: {msg}"
    typer.echo(f"Error: {msg}", err=True)


def _ticker_names(ticker: str | None, tickers_file: Path | None) -> list[str]:
    """The ticker argument plus those of --tickers-file (duplicates dropped)."""
    names = [ticker] if ticker else []
    if tickers_file is not None:
        from lstmfc.universe import read_tickers_file

        names += [t for t in read_tickers_file(tickers_file) if t not in names]
    if not names:
        fail("no ticker given (name one or use --tickers-file)", 2)
    return names


def _each_ticker(names: list[str], work) -> list[dict]:
    """Run ``work(ticker)`` per ticker; a failure is one stderr line, the others go on."""
    from lstmfc.errors import LstmfcError

    results = []
    for t in names:
        try:
            results.append({"ok": True, "ticker": t, "result": work(t)})
        except LstmfcError as exc:
            res = {"ticker": t, "ok": False, "error": str(exc), "exit_code": exc.exit_code}
            _ticker_error(res)
            results.append(res)
    return results


def _multi_exit(results: list[dict]) -> None:
    """Exit 0 if all ok; 75 if only temporary failures; 2 if only usage errors; else 1."""
    codes = {r["exit_code"] for r in results if not r.get("ok")}
    if not codes:
        return
    raise typer.Exit(codes.pop() if len(codes) == 1 and codes <= {2, 75} else 1)


@app.command("predict")
@handle_errors
def predict_cmd(
    tickers: Annotated[
        list[str] | None, typer.Argument(help="One or more tickers with a model.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Run id of the bundle (default: latest).", show_default=False),
    ] = None,
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
    tickers_file: Annotated[
        Path | None,
        typer.Option("--tickers-file", help="File with one ticker per line.", show_default=False),
    ] = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Forecast the next session and append it to data/forecasts.sqlite (cron entry point).

    Example (crontab, 22:30 on weekdays):
      30 22 * * 1-5  lstmfc predict SP500 AAPL --home /srv/lstmfc >> /srv/lstmfc/predict.log 2>&1
    """
    from lstmfc.config import Workspace
    from lstmfc.forecast import predict

    ws = Workspace.resolve(home)

    def report(res: dict) -> None:
        if not res["ok"]:
            _ticker_error(res)

    names = list(tickers or [])
    if tickers_file is not None:
        from lstmfc.universe import read_tickers_file

        names += [t for t in read_tickers_file(tickers_file) if t not in names]
    if not names:
        fail("no tickers given", 2)
    results = predict(
        ws,
        names,
        run_id=model,
        source=source,
        path=str(path) if path else None,
        update=update,
        calendar=calendar,
        on_result=report,
    )
    if json_out:
        emit_json(results)
    else:
        from rich.table import Table

        t = Table(title="Next-session forecasts")
        for c in ("ticker", "as of", "close", "target date", "forecast", "P(up)", "run", "logged"):
            t.add_column(c)
        for r in results:
            if r["ok"]:
                t.add_row(
                    r["ticker"],
                    r["as_of"],
                    f"{r['close_as_of']:.2f}",
                    r["target_date"],
                    _fmt(r["forecast_price"], ".2f"),
                    _fmt(r["prob_up"], ".3f"),
                    r["run_id"],
                    "new" if r["logged"] else "already logged",
                )
        stdout_console().print(t)
    _multi_exit(results)


@app.command("forecasts")
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
    from lstmfc.config import Workspace, normalize_ticker
    from lstmfc.forecastlog import COLUMNS, ForecastLog

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
        from rich.table import Table

        t = Table(title=f"Forecast log {ws.forecast_db} ({len(rows)} rows)")
        for c in (
            "ticker",
            "as of",
            "target",
            "run",
            "close",
            "forecast",
            "P(up)",
            "realised",
            "error",
        ):
            t.add_column(c)
        for r in rows:
            t.add_row(
                r["ticker"],
                r["as_of"],
                r["target_date"],
                r["run_id"],
                f"{r['close_as_of']:.2f}",
                _fmt(r["forecast_price"], ".2f"),
                _fmt(r["prob_up"], ".3f"),
                _fmt(r["realised_close"], ".2f"),
                _fmt(r["error"], "+.2f"),
            )
        stdout_console().print(t)


@app.command("score")
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
    from lstmfc.config import Workspace
    from lstmfc.forecast import score

    ws = Workspace.resolve(home)
    res = score(ws, ticker)
    if json_out:
        emit_json(res)
        return
    from rich.table import Table

    t = Table(
        title=f"Live track record ({res['newly_scored']} newly scored, {res['pending']} pending)"
    )
    for c in (
        "ticker/run",
        "n",
        "MAE",
        "naive MAE",
        "RMSE",
        "naive RMSE",
        "Theil's U",
        "dir. acc. %",
    ):
        t.add_column(c)
    for k, s in res["summary"].items():
        t.add_row(
            k,
            str(s["n_scored"]),
            _fmt(s.get("mae"), ".2f"),
            _fmt(s.get("naive_mae"), ".2f"),
            _fmt(s.get("rmse"), ".2f"),
            _fmt(s.get("naive_rmse"), ".2f"),
            _fmt(s.get("theils_u"), ".3f"),
            _fmt(s.get("directional_accuracy"), ".1f", 100),
        )
    stdout_console().print(t)


@app.command("run")
@handle_errors
def run_cmd(
    ticker: Annotated[str, typer.Argument(help="Ticker, e.g. SP500 (bundled sample) or AAPL.")],
    source: Annotated[
        str, typer.Option("--source", help="Data source: yahoo, sample or csv.")
    ] = "yahoo",
    path: Annotated[
        Path | None, typer.Option("--path", help="CSV file for --source csv.", show_default=False)
    ] = None,
    head: HeadOpt = "price",
    cell: CellOpt = "lstm",
    units: UnitsOpt = "128,64",
    epochs: EpochsOpt = 30,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First date of data to use, YYYY-MM-DD.", show_default=False),
    ] = None,
    lookback: Annotated[int, typer.Option("--lookback", help="Lookback window (days).")] = 60,
    horizon: Annotated[int, typer.Option("--horizon", help="Forecast horizon (days).")] = 1,
    features: Annotated[
        str, typer.Option("--features", help="Feature sets, comma list (see prepare).")
    ] = "close",
    seed: SeedOpt = None,
    cost_bps: Annotated[
        float, typer.Option("--cost-bps", help="Trading view: cost per position change, bp.")
    ] = 0.0,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The main job: fetch, prepare, train and evaluate in one go.

    Ends with the evaluation tables and the path of the plot.

    Example: lstmfc run SP500 --source sample
    """
    from lstmfc.config import Workspace, normalize_ticker
    from lstmfc.evaluate import evaluate
    from lstmfc.fetch import fetch_ticker
    from lstmfc.train import make_reporter, train
    from lstmfc.windows import prepare

    ws = Workspace.resolve(home)
    t = normalize_ticker(ticker)
    say = stderr_console()
    say.print(f"[1/4] fetch {t} from {source}")
    fetched = fetch_ticker(ws, t, source=source, path=str(path) if path else None, start=start)
    say.print(f"      {fetched['rows']} rows, {fetched['first']} .. {fetched['last']}")
    say.print(f"[2/4] prepare: lookback {lookback}, horizon {horizon}, features {features}")
    meta = prepare(ws, t, lookback=lookback, horizon=horizon, features=features.split(","))
    sp = meta["split"]
    say.print(
        f"      windows: {sp['train']['n']} train, {sp['val']['n']} val, {sp['test']['n']} test"
    )
    say.print(f"[3/4] train {cell} {head} head (up to {epochs} epochs)")
    trained = train(
        ws,
        t,
        head=head,
        cell=cell,
        units=units,
        epochs=epochs,
        seed=seed,
        reporter=make_reporter(sys.stderr),
    )
    say.print(
        f"      run {trained['run_id']}: {trained['epochs_run']} epochs, "
        f"{trained['train_seconds']:.0f} s"
    )
    say.print("[4/4] evaluate on the test split")
    report = evaluate(ws, t, trained["run_id"], cost_bps=cost_bps)
    if json_out:
        emit_json({"fetch": fetched, "prepare": meta, "train": trained, "evaluation": report})
        return
    render_evaluation(report)


# ==================================================================== backtest
# (section: backtest — issue 7)
@app.command("backtest")
@handle_errors
def backtest_cmd(
    tickers: Annotated[
        list[str] | None,
        typer.Argument(
            help="Tickers with stored data (or use --tickers-file).", show_default=False
        ),
    ] = None,
    tickers_file: Annotated[
        Path | None,
        typer.Option(
            "--tickers-file",
            help="File with one ticker per line (# comments, blank lines ignored).",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="'sample': fetch a bundled sample first if it is not stored yet.",
            show_default=False,
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option("--folds", help="Consecutive test blocks (default 5).", show_default=False),
    ] = None,
    step: Annotated[
        int | None,
        typer.Option("--step", help="Trading days per test block.", show_default=False),
    ] = None,
    test_size: Annotated[
        int | None,
        typer.Option(
            "--test-size",
            help="Trading days tested in all (default: the last 30% of windows).",
            show_default=False,
        ),
    ] = None,
    retrain_every: Annotated[
        int | None,
        typer.Option(
            "--retrain-every",
            help="Refit only after this many trading days (default: before every fold).",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", help="Training window: expanding or rolling.")
    ] = "expanding",
    train_size: Annotated[
        int | None,
        typer.Option(
            "--train-size",
            help="Rolling window: windows per fit (default: as many as fold 1 has).",
            show_default=False,
        ),
    ] = None,
    val_fraction: Annotated[
        float, typer.Option("--val-fraction", help="Share of each fit's windows for early stop.")
    ] = 0.15,
    lookback: Annotated[int, typer.Option("--lookback", help="Rows per input window.")] = 60,
    horizon: Annotated[int, typer.Option("--horizon", help="Rows ahead of a window's end.")] = 1,
    features: Annotated[
        str, typer.Option("--features", help="Comma list of feature sets (as prepare).")
    ] = "close",
    head: HeadOpt = "price",
    cell: CellOpt = "lstm",
    units: UnitsOpt = "128,64",
    dropout: DropoutOpt = 0.2,
    dense: DenseOpt = 25,
    epochs: EpochsOpt = 30,
    batch_size: BatchOpt = 32,
    lr: LrOpt = 0.001,
    clipnorm: ClipOpt = 5.0,
    l2: L2Opt = 0.0,
    patience: PatienceOpt = 5,
    seed: SeedOpt = None,
    price_target: PriceTargetOpt = "logret",
    sma: Annotated[int, typer.Option("--sma", help="Moving-average baseline window.")] = 20,
    ema: Annotated[int, typer.Option("--ema", help="EMA baseline span.")] = 20,
    cost_bps: Annotated[
        float, typer.Option("--cost-bps", help="Trading view: cost per position change, bp.")
    ] = 0.0,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of verdicts.")] = 0.05,
    executor: Annotated[
        str, typer.Option("--executor", help="local (joblib processes) or dask.")
    ] = "local",
    jobs: Annotated[
        int, typer.Option("--jobs", help="Parallel worker processes (local, or a local Dask).")
    ] = 1,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler tcp://HOST:PORT (default: $DASK_SCHEDULER_ADDRESS, "
            "else a local cluster of --jobs workers).",
            show_default=False,
        ),
    ] = None,
    save_models: Annotated[
        bool, typer.Option("--save-models/--no-save-models", help="Keep each fit's network.")
    ] = True,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Walk-forward backtest: refit scaler and network before each test block, score them all.

    Writes data/backtests/TICKER/ID/ (backtest.json, forecasts.csv, models/).
    Exit code 1 if any ticker failed (the others still finish).

    Example: lstmfc backtest SP500 --source sample --folds 5 --units 8 --epochs 2

    On a Dask cluster: lstmfc backtest --tickers-file universe.txt --executor dask
    --scheduler tcp://10.0.0.5:8786
    """
    from lstmfc.backtest import BacktestConfig, backtest, make_progress
    from lstmfc.config import Workspace
    from lstmfc.universe import merge_tickers

    names = merge_tickers(tickers, tickers_file)
    cfg = BacktestConfig(
        lookback=lookback,
        horizon=horizon,
        features=features,
        folds=folds,
        step=step,
        test_size=test_size,
        retrain_every=retrain_every,
        window=window,
        train_size=train_size,
        val_fraction=val_fraction,
        head=head,
        cell=cell,
        units=units,
        dropout=dropout,
        dense=dense,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        clipnorm=clipnorm,
        l2=l2,
        patience=patience,
        seed=seed,
        price_target=price_target,
        sma_k=sma,
        ema_span=ema,
        cost_bps=cost_bps,
        alpha=alpha,
        save_models=save_models,
    )
    ws = Workspace.resolve(home)
    result = backtest(
        ws,
        names,
        cfg,
        source=source,
        executor=executor,
        jobs=jobs,
        scheduler=scheduler,
        progress=make_progress(sys.stderr),
    )
    if json_out:
        emit_json(result)
    else:
        render_backtest(result)
    if result["summary"]["n_failed"]:
        raise typer.Exit(1)


def render_backtest(result: dict) -> None:
    """Rich tables of a backtest: per ticker folds and overall, then the summary."""
    from rich.console import Console
    from rich.table import Table

    # wide enough for the fold table when piped (rich assumes 80 columns off a terminal)
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    price = result["settings"]["model"]["head"] == "price"
    for t, r in result["tickers"].items():
        if not r.get("ok"):
            continue
        ft = Table(
            title=f"{t} — walk-forward, {r['plan']['window']} window, {len(r['folds'])} folds, "
            f"{r['plan']['fits']} fits, horizon {r['horizon']} (dates are target dates)"
        )
        cols = ["fold", "fit", "trained on", "tested on", "n"]
        cols += (
            ["RMSE", "naive RMSE", "Theil's U", "dir. acc. %", "DM p", "vs naive"]
            if price
            else ["accuracy %", "majority %", "binomial p", "vs majority"]
        )
        for c in cols:
            dates = c in ("trained on", "tested on")
            ft.add_column(c, justify="left" if dates else "right", no_wrap=dates)
        for f in r["folds"]:
            p = (f.get("skill") or {}).get("p_value")
            row = [
                str(f["fold"]),
                f"{f['fit']}" + ("" if f["refit"] else " (re-used)"),
                f"{f['train_start']} .. {f['train_end']}",
                f"{f['test_start']} .. {f['test_end']}",
                str(f["n"]),
            ]
            if price:
                row += [
                    _fmt(f["rmse"], ".3f"),
                    _fmt(f["naive_rmse"], ".3f"),
                    _fmt(f["theils_u"], ".4f"),
                    _fmt(f["directional_accuracy"], ".1f", 100),
                    _fmt(p, ".3f"),
                    "better" if f["beats_benchmark"] else "worse",
                ]
            else:
                row += [
                    _fmt(f["accuracy"], ".1f", 100),
                    _fmt(f["majority_accuracy"], ".1f", 100),
                    _fmt(p, ".3f"),
                    "better" if f["beats_benchmark"] else "not better",
                ]
            ft.add_row(*row)
        out.print(ft)

        o = r["overall"]
        mt = Table(
            title=f"{t} — out-of-sample {o['test_start']} .. {o['test_end']} "
            f"({o['n']} forecasts, all folds)"
        )
        mt.add_column("model", style="bold")
        keys = (
            [
                ("RMSE", "rmse", ".3f", 1),
                ("MAE", "mae", ".3f", 1),
                ("MAPE %", "mape", ".3f", 1),
                ("dir. acc. %", "directional_accuracy", ".1f", 100),
                ("Theil's U", "theils_u", ".4f", 1),
            ]
            if price
            else [
                ("accuracy %", "accuracy", ".1f", 100),
                ("balanced %", "balanced_accuracy", ".1f", 100),
                ("Brier", "brier", ".4f", 1),
                ("log loss", "log_loss", ".4f", 1),
                ("ROC AUC", "roc_auc", ".3f", 1),
            ]
        )
        for label, *_ in keys:
            mt.add_column(label, justify="right")
        for name, m in o["metrics"].items():
            mt.add_row(name, *(_fmt(m.get(k), s, sc) for _, k, s, sc in keys))
        out.print(mt)
        out.print(skill_table(o["skill_tests"]))
        out.print(
            trading_table(
                o["trading"], f"Trading view: long/flat, cost {result['settings']['cost_bps']:g} bp"
            )
        )
        out.print(f"[bold]Conclusion:[/bold] {o['conclusion']}")
        if r.get("path"):
            out.print(f"Saved: {r['path']}")

    s = result["summary"]
    bench = s["benchmark"]
    sm = Table(title=f"Summary across tickers (skill vs {bench}, alpha {s['alpha']:g})")
    cols = ["ticker", "n", "folds"]
    cols += ["RMSE", "naive RMSE", "Theil's U"] if price else ["accuracy %", "majority %"]
    cols += ["p-value", "verdict", "Sharpe", "buy & hold Sharpe"]
    for c in cols:
        sm.add_column(c, justify="left" if c in ("ticker", "verdict") else "right")
    for row in s["rows"]:
        if not row["ok"]:
            sm.add_row(row["ticker"], *["—"] * (len(cols) - 3), "failed", "—", "—")
            continue
        vals = [row["ticker"], str(row["n"]), str(row["folds"])]
        vals += (
            [
                _fmt(row["rmse"], ".3f"),
                _fmt(row["naive_rmse"], ".3f"),
                _fmt(row["theils_u"], ".4f"),
            ]
            if price
            else [
                _fmt(row["accuracy"], ".1f", 100),
                _fmt(row["majority_accuracy"], ".1f", 100),
            ]
        )
        vals += [
            _fmt(row["p_value"], ".4f"),
            row["verdict"] or "—",
            _fmt(row["sharpe"], ".2f"),
            _fmt(row["buy_and_hold_sharpe"], ".2f"),
        ]
        sm.add_row(*vals)
    out.print(sm)
    out.print(
        f"{s['n_beat']} of {s['n_ok']} tickers beat {bench} significantly"
        + (f"; {s['n_failed']} failed" if s["n_failed"] else "")
        + f" ({result['n_units']} units, {result['seconds']:.0f} s, "
        f"executor {result['executor']['kind']})"
    )


def main() -> None:
    """Console-script entry point."""
    app(prog_name="lstmfc")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
