"""The Typer application, its shared options and the error contract of every command.

Errors: library errors (:mod:`lstmfc.core.errors`) are caught here only and become one line
on stderr plus the exit code of their kind (1 user-fixable, 2 usage, 75 temporary);
``--debug`` shows the traceback instead. Typer's own usage errors (an unknown option,
``--lookback abc``, a value outside an option's range) are one line too, exit 2,
instead of click's boxed multi-line message (:class:`OneLineErrors`). With ``--json``
stdout carries exactly one JSON document and everything else goes to stderr.

No Keras, TensorFlow or torch at import time: ``lstmfc --help`` starts fast. The
option bounds shown in ``--help`` come from the library's constants
(:data:`lstmfc.workflows.train.MAX_LOOKBACK`, :data:`lstmfc.network.models.MAX_PARAMS` ...), so help
text and checks cannot drift apart.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command

from lstmfc import __version__
from lstmfc.core.errors import LstmfcError
from lstmfc.core.limits import (
    MAX_BASELINE_WINDOW,
    MAX_BATCH,
    MAX_ENSEMBLE,
    MAX_EPOCHS,
    MAX_HORIZON,
    MAX_LOOKBACK,
    MAX_PARAMS,
    MAX_STEPS,
    MAX_TRAIN_BYTES,
)

#: Every command, in the order ``--help`` lists them: name -> (the module defining it,
#: its one-line help). A command's module is imported only when the command runs or
#: shows its own help, so ``lstmfc --help`` imports none of the library
#: (``tests/test_cli_basics.py`` checks that each line equals the command's docstring).
COMMANDS: dict[str, tuple[str, str]] = {
    "fetch": (
        "lstmfc.cli.data",
        "Fetch daily OHLCV into data/raw/TICKER.parquet (only new days if already stored).",
    ),
    "samples": (
        "lstmfc.cli.data",
        "List the real daily OHLCV samples bundled with lstmfc (usable offline).",
    ),
    "prepare": (
        "lstmfc.cli.data",
        "Build features, targets, a chronological split and a train-only scaler.",
    ),
    "train": (
        "lstmfc.cli.model",
        "Train the reference stacked LSTM (or GRU / SimpleRNN) and save a model bundle.",
    ),
    "evaluate": (
        "lstmfc.cli.model",
        "Score a model on the test split against the head's baselines, with skill tests.",
    ),
    "run": ("lstmfc.cli.model", "The main job: fetch, prepare, train and evaluate in one go."),
    "export": (
        "lstmfc.cli.model",
        "Add the ONNX twin of a bundle's networks (bundles trained before lstmfc wrote them).",
    ),
    "predict": (
        "lstmfc.cli.daily",
        "Forecast the next session and append it to data/forecasts.sqlite (cron entry point).",
    ),
    "forecasts": ("lstmfc.cli.daily", "List the forecast log (oldest first)."),
    "score": (
        "lstmfc.cli.daily",
        "Fill in realised closes of past forecasts and summarise the live record vs naive.",
    ),
    "backtest": (
        "lstmfc.cli.backtest",
        "Walk-forward backtest: refit scaler and network before each test block, score them all.",
    ),
}


def load_command(name: str):
    """The click command ``name``, built from the Typer app of its module (imported now).

    Raises
    ------
    KeyError
        An unknown command name.
    """
    module = importlib.import_module(COMMANDS[name][0])
    group = get_command(module.commands)
    return group.commands[name] if hasattr(group, "commands") else group


class OneLineErrors(TyperGroup):
    """The command group: commands loaded lazily, click's usage errors as one line.

    ``lstmfc --help`` lists :data:`COMMANDS` from their one-line help without importing
    any command's module; a command is built when it runs or shows its own help
    (click's documented pattern of lazily loaded subcommands). Click and Typer print a
    usage line, a hint and a boxed message for a bad option (``--lookback 0``); a cron
    log or a script wants the one line every other lstmfc error is, exit 2. ``lstmfc``
    with no arguments still shows the help.
    """

    def list_commands(self, ctx) -> list[str]:
        return [*COMMANDS, *(n for n in self.commands if n not in COMMANDS)]

    def get_command(self, ctx, cmd_name: str):
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        # a placeholder for listings (the root help): name and one-line help only
        return TyperCommand(cmd_name, help=COMMANDS[cmd_name][1])

    def resolve_command(self, ctx, args):
        if args and args[0] in COMMANDS and args[0] not in self.commands:
            self.commands[args[0]] = load_command(args[0])
        return super().resolve_command(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        from typer import _click

        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except _click.exceptions.NoArgsIsHelpError:
            sys.exit(0)  # Typer has printed the help already
        except _click.exceptions.ClickException as exc:
            where = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None and ctx.command_path:
                where = f" (see `{ctx.command_path} --help`)"
            typer.echo("Error: " + " ".join(exc.format_message().split()) + where, err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:  # Typer's own (its vendored click has no exceptions.Abort)
            typer.echo("Error: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="lstmfc",
    cls=OneLineErrors,
    help="Forecast daily financial time series with Keras LSTM networks, "
    "scored honestly against simple baselines.",
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
TickersFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--tickers-file",
        help="File with one ticker per line (# comments, blank lines ignored).",
        show_default=False,
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="Run id of the bundle (default: latest).", show_default=False),
]

# ------------------------------------------------ model options (train, run, backtest)
# Every numeric option is bounded (the library checks it; the bound is in the help):
# values that would make time or memory explode are refused with one line, exit 2
# (or exit 1 where the bound depends on the data, e.g. the training memory).
HeadOpt = Annotated[
    str,
    typer.Option(
        "--head",
        help="What the network forecasts: price (close h sessions ahead), direction "
        "(P(up)), vol (variance of the h-session return, vs GARCH) or quantile (return "
        "quantiles: VaR, ES, intervals).",
    ),
]
CellOpt = Annotated[str, typer.Option("--cell", help="Recurrent layer: lstm, gru or rnn.")]
UnitsOpt = Annotated[
    str,
    typer.Option(
        "--units",
        help="Units per stacked recurrent layer, comma list: 1 to 8 layers of 1 to 4096 "
        f"units, at most {MAX_PARAMS:,} weights in all (the estimate is checked first).",
    ),
]
DropoutOpt = Annotated[
    float, typer.Option("--dropout", help="Dropout after each recurrent layer, [0, 1).")
]
DenseOpt = Annotated[
    int, typer.Option("--dense", help="Hidden Dense units before the output, 0 (none) to 4096.")
]
EpochsOpt = Annotated[
    int, typer.Option("--epochs", help=f"Maximum epochs (per network), 1 to {MAX_EPOCHS}.")
]
BatchOpt = Annotated[
    int,
    typer.Option(
        "--batch-size",
        help=f"Mini-batch size, 1 to {MAX_BATCH}; training memory (batch x lookback x "
        f"units) may be at most {MAX_TRAIN_BYTES // 2**30} GiB.",
    ),
]
LrOpt = Annotated[float, typer.Option("--lr", help="Adam learning rate, > 0.")]
ClipOpt = Annotated[
    float, typer.Option("--clipnorm", help="Clip gradients by global norm, >= 0 (0 = off).")
]
L2Opt = Annotated[float, typer.Option("--l2", help="L2 penalty on all kernels, >= 0 (0 = off).")]
PatienceOpt = Annotated[
    int,
    typer.Option(
        "--patience", help=f"Early-stopping patience (epochs, on val_loss), 0 to {MAX_EPOCHS}."
    ),
]
EnsembleOpt = Annotated[
    int,
    typer.Option(
        "--ensemble",
        help=f"Networks per fit (1 to {MAX_ENSEMBLE}), seeds seed..seed+N-1; the forecast is "
        "their mean.",
    ),
]
StepsOpt = Annotated[
    int,
    typer.Option(
        "--steps",
        help=f"Sessions in the forecast path, 1 to {MAX_STEPS} (step k is horizon + k - 1 "
        "sessions ahead).",
    ),
]
StrategyOpt = Annotated[
    str,
    typer.Option(
        "--strategy",
        help="How a path is forecast: mimo (one output per step), seq2seq "
        "(encoder-decoder) or recursive (the one-step network fed its own forecasts).",
    ),
]
AttentionOpt = Annotated[
    bool,
    typer.Option(
        "--attention/--no-attention",
        help="Attention over the recurrent states (seq2seq: the decoder attends to the "
        "encoder; otherwise attention pooling instead of the last state).",
    ),
]
SeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed",
        help="Random seed, 0 to 2**32 - 1 - ensemble (default: drawn and recorded).",
        show_default=False,
    ),
]
LossOpt = Annotated[
    str | None,
    typer.Option(
        "--loss",
        help="Volatility head: qlike (default) or mse.",
        show_default=False,
    ),
]
QuantilesOpt = Annotated[
    str | None,
    typer.Option(
        "--quantiles",
        help="Quantile head: comma list of levels (default 0.01,0.025,0.05,0.5,0.95,0.975,0.99).",
        show_default=False,
    ),
]
PriceTargetOpt = Annotated[
    str,
    typer.Option(
        "--price-target",
        help="Price head target: logret (next log return) or level (scaled price).",
    ),
]
FeaturesOpt = Annotated[
    str,
    typer.Option(
        "--features",
        help="Comma list of feature sets: logret, close, ohlcv, volume, rsi, macd, bbp, "
        "absret, sqret, logrange, rv5, rv22, garch.",
    ),
]
LookbackOpt = Annotated[
    int,
    typer.Option("--lookback", help=f"Rows (sessions) per input window, 1 to {MAX_LOOKBACK}."),
]
HorizonOpt = Annotated[
    int, typer.Option("--horizon", help=f"Sessions ahead of a window's end, 1 to {MAX_HORIZON}.")
]
SmaOpt = Annotated[
    int,
    typer.Option(
        "--sma", help=f"Moving-average baseline window (sessions), 1 to {MAX_BASELINE_WINDOW}."
    ),
]
EmaOpt = Annotated[
    int, typer.Option("--ema", help=f"EMA baseline span (sessions), 1 to {MAX_BASELINE_WINDOW}.")
]
CostOpt = Annotated[
    float,
    typer.Option("--cost-bps", help="Trading view: cost per position change, bp, [0, 10000)."),
]
AlphaOpt = Annotated[float, typer.Option("--alpha", help="Significance level of verdicts, (0, 1).")]


# ---------------------------------------------------------------- output helpers
def emit_json(doc: Any) -> None:
    """Print ``doc`` as the single JSON document on stdout."""
    typer.echo(json.dumps(doc, indent=2, sort_keys=False, default=str))


def fail(message: str, code: int = 1) -> None:
    """One line on stderr, then exit with ``code``."""
    typer.echo("Error: " + " ".join(str(message).split()), err=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """One ``Warning:`` line on stderr."""
    typer.echo("Warning: " + " ".join(str(message).split()), err=True)


def handle_errors(fn):
    """Map library errors to one stderr line + exit code (traceback only with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = bool(kwargs.get("debug")) or os.environ.get("LSTMFC_DEBUG", "") not in ("", "0")
        try:
            fn(*args, **kwargs)
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


def main() -> None:
    """Console-script entry point."""
    app(prog_name="lstmfc")
