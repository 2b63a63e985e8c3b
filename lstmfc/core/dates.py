"""Dates as text: the one ISO spelling of a session date in every JSON document lstmfc
writes (``prepare.json``, the stored ``garch`` feature parameters, ...)."""

from __future__ import annotations

import pandas as pd


def iso_date(ts) -> str:
    """ISO date of a timestamp (``YYYY-MM-DD``; with the time if it is not midnight).

    Parameters
    ----------
    ts : anything :class:`pandas.Timestamp` accepts (a date string, a datetime64)

    Returns
    -------
    str
        ``"2020-01-02"`` for a session date, ``"2020-01-02T15:30:00"`` for an intraday
        timestamp (:meth:`pandas.Timestamp.isoformat`).
    """
    ts = pd.Timestamp(ts)
    if ts == ts.normalize():
        return ts.date().isoformat()
    return ts.isoformat()
