"""Storage of raw daily OHLCV series: ``data/raw/<TICKER>.parquet``.

Frame layout (the one contract every module relies on)
------------------------------------------------------
* index: ``DatetimeIndex`` named ``date``, tz-naive, normalised to midnight (exchange
  session dates), strictly increasing, unique;
* columns, in this order: ``open``, ``high``, ``low``, ``close`` (float64, currency of
  the listing), ``volume`` (float64, shares or contracts; 0 is valid) and, when the
  source has it, ``adj_close`` (float64).

Provenance (source, fetch time, yfinance version, whether prices are adjusted ...) is
stored as JSON in the Parquet schema metadata under the key ``lstmfc``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lstmfc.atomic import atomic_path
from lstmfc.errors import DataError

OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS = ("adj_close",)
_META_KEY = b"lstmfc"


def write_raw(path: str | Path, frame, provenance: dict[str, Any]) -> None:
    """Write a validated OHLCV frame and its provenance to ``path`` atomically.

    Parameters
    ----------
    path : Path
        Target ``.parquet`` file; its folder is created.
    frame : pandas.DataFrame
        OHLCV frame in the layout described in the module docstring.
    provenance : dict
        JSON-serialisable facts about where the data came from.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=True)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps(provenance, sort_keys=True, default=str).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_raw(path: str | Path):
    """Read a stored OHLCV series.

    Returns
    -------
    (pandas.DataFrame, dict)
        The frame (layout in the module docstring) and its provenance.

    Raises
    ------
    DataError
        If the file does not exist or cannot be read as Parquet.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no stored data at {path}")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"cannot read {path}: {exc}") from exc
    meta = table.schema.metadata or {}
    provenance = json.loads(meta[_META_KEY]) if _META_KEY in meta else {}
    frame = table.to_pandas()
    frame.index.name = "date"
    return frame, provenance


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (streams, so any size)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
