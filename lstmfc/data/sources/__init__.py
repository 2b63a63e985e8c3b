"""The data sources and what a fetch asks of them: :data:`SOURCES`, :class:`FetchRequest`.

Each reader returns ``(frame, provenance)``: a frame checked by
:func:`lstmfc.data.validate.validate_ohlcv` in the layout of :mod:`lstmfc.data.store`,
and a JSON-serialisable dict saying where it came from.

* ``yahoo`` (:mod:`~lstmfc.data.sources.yahoo`): daily bars from Yahoo Finance through
  yfinance (``Ticker.history``); the only module that touches the network;
* ``sample`` (:mod:`~lstmfc.data.sources.sample`): real daily OHLCV bundled in the
  package (``lstmfc/samples``), offline;
* ``csv`` (:mod:`~lstmfc.data.sources.csvfile`): a file in the Yahoo Finance export
  layout ``Date,Open,High,Low,Close,Adj Close,Volume`` (``Adj Close`` optional, names
  case-insensitive), or a close-only series: dates plus ``Close`` and/or ``Adj Close``
  (optionally ``Volume``), or a FRED export (a date column and one value column); see
  :func:`lstmfc.data.sources.csvfile.parse_price_csv`.

:func:`read_source` sends a :class:`FetchRequest` to its reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from lstmfc.core.errors import UsageError
from lstmfc.data.sources import csvfile, sample, yahoo

#: The source names, in the order messages list them.
SOURCES = ("yahoo", "sample", "csv")


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch for a ticker: the source, its file, the dates and Yahoo's options.

    Attributes
    ----------
    source : {"yahoo", "sample", "csv"}
        See :data:`SOURCES`.
    path : str, optional
        The CSV file (``source="csv"`` only).
    start, end : str, optional
        Inclusive ISO dates (``YYYY-MM-DD``).
    auto_adjust : bool
        yfinance ``auto_adjust`` (yahoo only; recorded in the provenance).
    refresh : bool
        Yahoo: ignore the stored file and download the whole range again.
    timing : lstmfc.data.sources.yahoo.YahooTiming
        Yahoo's backoff, deadline and clock (tests make retries instant).
    """

    source: str = "yahoo"
    path: str | None = None
    start: str | None = None
    end: str | None = None
    auto_adjust: bool = False
    refresh: bool = False
    timing: yahoo.YahooTiming = field(default_factory=yahoo.YahooTiming)


def check_source(source: str, path: str | None) -> None:
    """Raise UsageError for an unknown source or a --path that does not fit it."""
    if source not in SOURCES:
        raise UsageError(f"unknown --source {source!r}; use one of {', '.join(SOURCES)}")
    if source == "csv" and not path:
        raise UsageError("--source csv needs --path FILE.csv")
    if source != "csv" and path:
        raise UsageError("--path is only used with --source csv")


def read_source(ticker: str, request: FetchRequest) -> tuple[pd.DataFrame, dict]:
    """Read ``ticker`` from ``request.source`` over ``request.start`` .. ``request.end``.

    Parameters
    ----------
    ticker : str
        The bundled sample's name, the Yahoo symbol, or (``csv``) unused.
    request : FetchRequest
        ``refresh`` is not read here (it is :mod:`lstmfc.data.fetch`'s choice).

    Returns
    -------
    (pandas.DataFrame, dict)
        The validated frame and its provenance (see each reader).

    Raises
    ------
    UsageError, DataError, TemporaryFailure
        See :func:`check_source` and the readers.
    """
    check_source(request.source, request.path)
    if request.source == "sample":
        return sample.read_sample(ticker, request.start, request.end)
    if request.source == "csv":
        return csvfile.read_csv(request.path, request.start, request.end)
    return yahoo.read_yahoo(
        ticker,
        request.start,
        request.end,
        auto_adjust=request.auto_adjust,
        timing=request.timing,
    )
