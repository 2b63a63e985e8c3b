"""The ``lstmfc`` command line: parse options, call the library, render with rich.

Layout: :mod:`lstmfc.cli.app` (the Typer app, the lazily loaded command list, shared
options, the error contract),
one module per command group (:mod:`~lstmfc.cli.data`: fetch, samples, prepare;
:mod:`~lstmfc.cli.model`: train, evaluate, run; :mod:`~lstmfc.cli.daily`: predict,
forecasts, score; :mod:`~lstmfc.cli.backtest`), :mod:`~lstmfc.cli.render` (every rich
table), :mod:`~lstmfc.cli.progress` (progress displays) and :mod:`~lstmfc.cli.reference`
(generates docs/cli.md). Commands stay thin: they parse options, call the library and
render its result.
"""

from lstmfc.cli.app import app, main

__all__ = ["app", "main"]
