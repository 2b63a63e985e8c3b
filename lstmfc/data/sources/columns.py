"""Source headers -> stored column names (the layout of :mod:`lstmfc.data.store`).

Yahoo Finance names its columns ``Date, Open, High, Low, Close, Adj Close, Volume``
both in ``Ticker.history`` output and in its CSV export; FRED names the date column
``observation_date`` (fredgraph.csv) or ``DATE`` (older exports). Headers are compared
after :func:`header_key` (lower case, single spaces, no byte-order mark), so the match
is case- and spacing-insensitive.
"""

from __future__ import annotations

from typing import Any

#: Normalised header -> stored column (``date`` is the index, not a stored column).
STORED_NAME = {
    "date": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adj close": "adj_close",
    "adj_close": "adj_close",
    "adjclose": "adj_close",
    "volume": "volume",
}
#: Headers (normalised) taken as the date column: Yahoo's ``Date`` and FRED's
#: ``observation_date`` (fredgraph.csv) / ``DATE`` (older exports).
DATE_NAMES = ("date", "observation_date")


def header_key(name: Any) -> str:
    """A header normalised for matching: stripped, no BOM, lower case, single spaces."""
    return " ".join(str(name).strip().lstrip("\ufeff").lower().split())


def stored_name(name: Any) -> str | None:
    """The stored column a source header means (``date`` for a date column), or None."""
    key = header_key(name)
    return "date" if key in DATE_NAMES else STORED_NAME.get(key)
