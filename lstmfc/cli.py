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
from typing import Annotated, Any, Optional

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
    Optional[Path],
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
                f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
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

# ===================================================================== prepare
# (section: prepare — issue 3)

# ======================================================================= train
# (section: train — issue 4)

# ============================================================ evaluate/predict
# (section: evaluate / predict / forecasts / score / run — issue 5)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="lstmfc")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
