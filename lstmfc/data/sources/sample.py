"""The ``sample`` source: real daily OHLCV bundled in the package (``lstmfc/samples``), offline.

``lstmfc/samples/samples.json`` lists them (ticker -> file and origin); each file is a
Yahoo-export CSV read by :func:`lstmfc.data.sources.csvfile.parse_price_csv`.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from lstmfc.core.atomic import sha256_file
from lstmfc.core.clock import utc_now_iso
from lstmfc.core.errors import DataError
from lstmfc.data.sources.csvfile import parse_price_csv
from lstmfc.data.sources.dates import clip_dates


def list_samples() -> dict[str, dict[str, Any]]:
    """The bundled samples, keyed by ticker (from ``lstmfc/samples/samples.json``)."""
    text = resources.files("lstmfc").joinpath("samples/samples.json").read_text("utf-8")
    return json.loads(text)


def read_sample(ticker: str, start: str | None = None, end: str | None = None):
    """Read a bundled sample (real prices, offline).

    Parameters
    ----------
    ticker : str
        A key of :func:`list_samples` (e.g. ``SP500``).
    start, end : str, optional
        Inclusive ISO date bounds.

    Returns
    -------
    (pandas.DataFrame, dict)

    Raises
    ------
    DataError
        Unknown sample name (the message lists the bundled ones).
    """
    samples = list_samples()
    info = samples.get(ticker.upper())
    if info is None:
        raise DataError(
            f"no bundled sample named {ticker}; available: {', '.join(sorted(samples))}"
        )
    ref = resources.files("lstmfc").joinpath(f"samples/{info['file']}")
    with resources.as_file(ref) as path:
        frame, _facts = parse_price_csv(path, label=f"sample {ticker.upper()}")
        sha = sha256_file(path)
    frame = clip_dates(frame, start, end, ticker.upper())
    return frame, {
        "source": "sample",
        "sample": ticker.upper(),
        "origin": info["source"],
        "file_sha256": sha,
        "auto_adjust": False,
        "adjusted": False,
        "fetched_at": utc_now_iso(),
    }
