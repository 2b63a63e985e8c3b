"""The date range every reader takes: inclusive ``--start`` / ``--end`` in ``YYYY-MM-DD``."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from lstmfc.core.errors import DataError, UsageError


def parse_day(value: str | None, what: str) -> pd.Timestamp | None:
    """``YYYY-MM-DD`` -> midnight Timestamp (None stays None).

    Raises
    ------
    UsageError
        Any other form; ``what`` names the option (e.g. ``--start``) in the message.
    """
    if value in (None, ""):
        return None
    try:
        return pd.Timestamp(datetime.strptime(str(value), "%Y-%m-%d"))
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date in YYYY-MM-DD form") from None


def parse_range(
    start: str | None, end: str | None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``--start`` and ``--end`` as midnight Timestamps (either may be None).

    Raises
    ------
    UsageError
        A bound not in ``YYYY-MM-DD`` form, or ``start`` after ``end``.
    """
    s, e = parse_day(start, "--start"), parse_day(end, "--end")
    if s is not None and e is not None and s > e:
        raise UsageError(f"--start {start} is after --end {end}")
    return s, e


def in_range(index: pd.DatetimeIndex, start: str | None, end: str | None):
    """Boolean mask, shape ``(len(index),)``: ``start <= date <= end`` (inclusive).

    Raises
    ------
    UsageError
        As :func:`parse_range`.
    """
    s, e = parse_range(start, end)
    keep = np.ones(len(index), dtype=bool)
    if s is not None:
        keep &= index >= s
    if e is not None:
        keep &= index <= e
    return keep


def clip_dates(frame: pd.DataFrame, start: str | None, end: str | None, label: str):
    """Rows with ``start <= date <= end`` (both inclusive; ISO dates or None).

    Raises
    ------
    UsageError
        A bound not in ``YYYY-MM-DD`` form, or ``start`` after ``end``.
    DataError
        No row in the range.
    """
    frame = frame.loc[in_range(frame.index, start, end)]
    if len(frame) == 0:
        raise DataError(f"{label}: no rows between {start or 'the start'} and {end or 'the end'}")
    return frame
