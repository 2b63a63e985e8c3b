"""The ``csv`` source: a file of daily prices in one of three layouts (see :func:`parse_price_csv`).

* the Yahoo Finance export ``Date,Open,High,Low,Close,Adj Close,Volume`` (``Adj Close``
  optional, names case-insensitive);
* a close-only series: dates plus ``Close`` and/or ``Adj Close`` (optionally ``Volume``);
* a FRED export (https://fred.stlouisfed.org, "Download Data", CSV): a date column and
  one value column.

The parser reads the file as text cells, maps the header onto stored names, decides the
layout, parses the dates, cleans the cells (drops a close-only row without a price) and
hands the frame to :func:`lstmfc.data.validate.validate_ohlcv`, the one validation of a
raw frame.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lstmfc.core.atomic import sha256_file
from lstmfc.core.clock import utc_now_iso
from lstmfc.core.errors import DataError
from lstmfc.data.sources.columns import stored_name
from lstmfc.data.sources.dates import clip_dates, in_range
from lstmfc.data.store import BAR_COLUMNS, CLOSE_ONLY_COLUMNS
from lstmfc.data.validate import validate_ohlcv

#: Cells taken as "no value" in a close-only file (compared lower-case, stripped):
#: FRED writes ``.`` for a day without an observation, newer FRED downloads and
#: spreadsheets leave the cell empty, Yahoo writes ``null``.
_MISSING_CELLS = frozenset({"", ".", "null", "nan", "na", "n/a", "#n/a"})
#: Cells a Yahoo export (``ohlcv`` layout) writes for a missing value.
_YAHOO_MISSING = {"null": np.nan, "": np.nan, "NaN": np.nan, "nan": np.nan}
_CLOSE_ONLY_HINT = "a close-only file has Date, Close and/or Adj Close, and optionally Volume"
#: Leading bytes of files that are not text: Parquet, zip (xlsx), PNG, gzip without .gz.
_BINARY_MAGIC = (b"PAR1", b"PK\x03\x04", b"\x89PNG", b"\x1f\x8b")
_READ_ERRORS = (
    UnicodeDecodeError,
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    OSError,
    EOFError,
    zlib.error,
)


@dataclass(frozen=True)
class Header:
    """What a file's header says.

    Attributes
    ----------
    columns : dict
        Stored name (``date``, ``open`` ... ``adj_close``) -> the file's header.
    unknown : tuple of str
        Headers that name no stored column (empty filler columns excluded).
    """

    columns: dict[str, str]
    unknown: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """The layout of a file: ``ohlcv``, ``close`` or ``fred``, and the column that is the close.

    ``close_from`` is the file's header that becomes ``close`` (None for an ``ohlcv``
    file without ``Close``, which validation then refuses).
    """

    name: str
    close_from: str | None

    @property
    def close_only(self) -> bool:
        """Whether the file has no Open/High/Low (stored as a close-only series)."""
        return self.name != "ohlcv"


def parse_price_csv(path: str | Path, label: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Parse a CSV of daily prices into a validated frame (layout of :mod:`lstmfc.data.store`).

    Three layouts are recognised from the header (names case-insensitive, any column
    order; dates ``YYYY-MM-DD`` or ``M/D/YYYY``; a ``.gz`` file is decompressed):

    ``ohlcv``
        The Yahoo Finance export ``Date,Open,High,Low,Close,Adj Close,Volume``
        (``Adj Close`` optional). Any of ``Open/High/Low`` makes the file this layout,
        so all of ``Open, High, Low, Close, Volume`` are then required (a file with
        Open and Close only is refused naming ``high``). Other columns are ignored, and
        a missing value (``null``, empty) is refused with its column and date.
    ``close``
        A date column and ``Close`` and/or ``Adj Close``, optionally ``Volume``, none of
        ``Open/High/Low``: a close-only series. With ``Adj Close`` alone, it becomes
        the ``close`` column (dividend-adjusted; recorded). Any other column is refused.
    ``fred``
        A date column (``DATE``, ``observation_date``, ``Date``) and exactly one
        other column of any name (``SP500``, ``DEXUSEU``), as FRED exports a series
        (https://fred.stlouisfed.org, "Download Data", CSV); it becomes ``close``.
        Two or more such columns are refused, listing them.

    In a close-only file (``close`` and ``fred`` layouts), a row whose prices are all
    missing (``.`` as FRED writes a holiday, an empty cell as newer FRED downloads and
    spreadsheets write it, ``null``, ``NaN``, ``NA``, ``#N/A``) is dropped and counted:
    such a day simply has no observation, like a weekend, and the count is reported
    and stored in the provenance. A file with no price left is refused.

    Parameters
    ----------
    path : str or Path
        The CSV (or ``.csv.gz``) file.
    label : str, optional
        Name used in messages; default the file name.

    Returns
    -------
    (pandas.DataFrame, dict)
        The validated frame (OHLCV bars, or close-only ``close [volume] [adj_close]``),
        and facts about the file: ``layout`` (``ohlcv`` | ``close`` | ``fred``),
        ``close_only`` (bool), ``close_from`` (the header the ``close`` column came
        from) and ``dropped_dates`` (``DatetimeIndex`` of the rows dropped as missing).

    Raises
    ------
    DataError
        Missing file, binary or non-CSV content, no date column, unparseable dates,
        a layout that fits none of the above, no price left after dropping missing
        rows, or any rule of :func:`lstmfc.data.validate.validate_ohlcv` (a file
        without data rows among them); one line.
    """
    path = Path(path)
    label = label or path.name
    cells = _read_cells(path, label)
    header = _map_header(cells, label)
    layout = _layout(header, label)
    frame = _stored_columns(cells, header, layout)
    frame = _index_by_date(frame, label)
    frame, dropped = _clean_cells(frame, layout, label)
    names = {}
    if layout.close_only and layout.close_from != header.columns.get("close"):
        names["close"] = layout.close_from  # messages name the file's column
    frame = validate_ohlcv(frame, label, names)
    return frame, {
        "layout": layout.name,
        "close_only": layout.close_only,
        "close_from": layout.close_from,
        "dropped_dates": dropped,
    }


def _read_cells(path: Path, label: str) -> pd.DataFrame:
    """The file as a frame of text cells (pandas' header row, no NA conversion).

    Raises
    ------
    DataError
        Missing or empty file, binary content, or content pandas cannot read as CSV.
    """
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{label}: empty file (no header, no rows)")
    if path.suffix != ".gz":
        with open(path, "rb") as fh:
            head = fh.read(8192)
        if b"\x00" in head or head.startswith(_BINARY_MAGIC):
            raise DataError(f"{label}: not a CSV file (binary content)")
    try:
        return pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except _READ_ERRORS as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{label}: not a readable CSV file ({reason})") from None


def _blank_filler(name: object, values: pd.Series) -> bool:
    """A column pandas named ``Unnamed: N`` (empty header) with only empty cells.

    Spreadsheets write one when every line ends in a comma; it carries no data.
    """
    return str(name).startswith("Unnamed:") and bool((values.str.strip() == "").all())


def _map_header(cells: pd.DataFrame, label: str) -> Header:
    """Map the file's headers onto stored names (:mod:`lstmfc.data.sources.columns`).

    Raises
    ------
    DataError
        Two headers mean the same stored column, or there is no date column.
    """
    columns: dict[str, str] = {}
    unknown: list[str] = []
    for c in cells.columns:
        name = stored_name(c)
        if name is None:
            if not _blank_filler(c, cells[c]):
                unknown.append(str(c))
        elif name in columns:
            raise DataError(f"{label}: columns {columns[name]!r} and {c!r} both mean {name!r}")
        else:
            columns[name] = str(c)
    if "date" not in columns:
        raise DataError(
            f"{label}: missing required column 'Date' (expected the Yahoo export layout "
            "Date,Open,High,Low,Close,Adj Close,Volume)"
        )
    return Header(columns, tuple(unknown))


def _layout(header: Header, label: str) -> Layout:
    """Decide the layout from the header (rules in :func:`parse_price_csv`).

    Raises
    ------
    DataError
        A close-only file with an unrecognised column, no price column at all, or
        more than one value column in a FRED-style file.
    """
    columns, unknown = header.columns, header.unknown
    if any(c in columns for c in BAR_COLUMNS):
        return Layout("ohlcv", columns.get("close"))
    if "close" in columns or "adj_close" in columns:
        if unknown:
            cols = ", ".join(repr(c) for c in unknown)
            s = "s" if len(unknown) > 1 else ""
            raise DataError(f"{label}: unrecognised column{s} {cols} ({_CLOSE_ONLY_HINT})")
        return Layout("close", columns.get("close", columns.get("adj_close")))
    if not unknown:
        raise DataError(
            f"{label}: no price column (expected Close, Adj Close, Open/High/Low/Close, "
            "or one value column as in a FRED export)"
        )
    if len(unknown) > 1:
        cols = ", ".join(repr(c) for c in unknown)
        raise DataError(
            f"{label}: {len(unknown)} unrecognised value columns {cols} (a close-only "
            "file needs a Close or Adj Close column, or exactly one value column as in "
            "a FRED export)"
        )
    return Layout("fred", unknown[0])


def _stored_columns(cells: pd.DataFrame, header: Header, layout: Layout) -> pd.DataFrame:
    """The cells under stored names; a close-only file keeps only ``date`` and
    :data:`~lstmfc.data.store.CLOSE_ONLY_COLUMNS` (``Adj Close`` alone becomes ``close``)."""
    frame = cells.rename(columns={v: k for k, v in header.columns.items()})
    if layout.name == "fred":
        frame = frame.rename(columns={layout.close_from: "close"})
    if layout.close_only:
        frame = frame[[c for c in CLOSE_ONLY_COLUMNS + ("date",) if c in frame.columns]]
        if "close" not in frame.columns:  # Adj Close alone: it is the close
            frame = frame.rename(columns={"adj_close": "close"})
    return frame


def _index_by_date(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Move the ``date`` column into a ``DatetimeIndex`` (``YYYY-MM-DD`` or ``M/D/YYYY``).

    Raises
    ------
    DataError
        A date in neither form, naming its line (header = line 1).
    """
    raw_dates = frame["date"].astype(str).str.strip()
    dates = pd.to_datetime(raw_dates, format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        alt = pd.to_datetime(raw_dates, format="%m/%d/%Y", errors="coerce")
        dates = dates.fillna(alt) if dates.notna().any() else alt
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(
            f"{label}: row {i + 2} has an unreadable date {raw_dates.iloc[i]!r} (use YYYY-MM-DD)"
        )
    frame = frame.drop(columns=["date"])
    frame.index = pd.DatetimeIndex(dates.to_numpy(), name="date")
    return frame


def _clean_cells(
    frame: pd.DataFrame, layout: Layout, label: str
) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """Missing-value cells -> NaN; a close-only row without any price is dropped.

    Returns
    -------
    (pandas.DataFrame, pandas.DatetimeIndex)
        The frame (text cells, NaN where missing) and the dates of the dropped rows
        (empty for the ``ohlcv`` layout, whose missing values validation refuses).

    Raises
    ------
    DataError
        A close-only file whose every price is missing.
    """
    dropped = pd.DatetimeIndex([], name="date")
    if not layout.close_only:
        return frame.replace(_YAHOO_MISSING), dropped
    if len(frame) == 0:  # no data rows: validation says so
        return frame, dropped
    blank = frame.apply(lambda col: col.str.strip().str.lower().isin(_MISSING_CELLS))
    prices = [c for c in ("close", "adj_close") if c in frame.columns]
    gone = blank[prices].all(axis=1).to_numpy()
    if gone.all():
        raise DataError(
            f"{label}: every {layout.close_from} value is missing ({len(frame)} rows of '.' or "
            "empty cells); no prices to import"
        )
    return frame.loc[~gone].mask(blank.loc[~gone]), frame.index[gone]


def read_csv(path: str | Path, start: str | None = None, end: str | None = None):
    """Read a CSV of daily prices (layouts of :func:`parse_price_csv`).

    Parameters
    ----------
    path : str or Path
    start, end : str, optional
        Inclusive ISO date bounds.

    Returns
    -------
    (pandas.DataFrame, dict)
        Provenance: ``source`` = ``csv``, the file name, path and sha256; ``layout``
        (``ohlcv`` | ``close`` | ``fred``); ``columns`` (the stored columns);
        ``close_only``; ``close_from`` (the file's column that became ``close``);
        ``dropped_missing`` (rows between ``start`` and ``end`` dropped because their
        price was missing, 0 for the ``ohlcv`` layout); ``adjusted``: False (the OHLC
        columns of a Yahoo export are not dividend-adjusted; ``Adj Close`` is kept),
        True when the close came from ``Adj Close`` alone.

    Raises
    ------
    DataError, UsageError
        As :func:`parse_price_csv` and :func:`~lstmfc.data.sources.dates.clip_dates`.
    """
    path = Path(path)
    frame, info = parse_price_csv(path)
    frame = clip_dates(frame, start, end, path.name)
    dropped = in_range(info["dropped_dates"], start, end)
    return frame, {
        "source": "csv",
        "file": path.name,
        "file_path": str(path.resolve()),
        "file_sha256": sha256_file(path),
        "auto_adjust": False,
        "adjusted": stored_name(info["close_from"] or "") == "adj_close",
        "layout": info["layout"],
        "columns": list(frame.columns),
        "close_only": info["close_only"],
        "close_from": info["close_from"],
        "dropped_missing": int(dropped.sum()),
        "fetched_at": utc_now_iso(),
    }
