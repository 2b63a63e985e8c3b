"""The ``lstmfc`` command line: parse options, call the library, render with rich.

Layout: :mod:`lstmfc.cli.app` (the Typer app, shared options, the error contract),
one module per command group (:mod:`~lstmfc.cli.data`: fetch, samples, prepare;
:mod:`~lstmfc.cli.model`: train, evaluate, run; :mod:`~lstmfc.cli.daily`: predict,
forecasts, score; :mod:`~lstmfc.cli.backtest`), :mod:`~lstmfc.cli.render` (every rich
table), :mod:`~lstmfc.cli.progress` (progress displays) and :mod:`~lstmfc.cli.reference`
(generates docs/cli.md). Commands stay thin: they parse options, call the library and
render its result.
"""

import importlib

from lstmfc.cli.app import app, main

# register the commands, in the order --help lists them
for _group in ("data", "model", "daily", "backtest"):
    importlib.import_module(f"lstmfc.cli.{_group}")

__all__ = ["app", "main"]
