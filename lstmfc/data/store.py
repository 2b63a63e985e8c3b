"""Storage of raw daily OHLCV series: ``data/raw/<TICKER>.parquet``.

Frame layout (the one contract every module relies on)
------------------------------------------------------
* index: ``DatetimeIndex`` named ``date``, tz-naive, normalised to midnight (exchange
  session dates), strictly increasing, unique;
* columns, in this order, each present or absent as a whole (never NaN-filled):

  - ``open``, ``high``, ``low``: float64, currency of the listing; all three or none;
  - ``close``: float64, currency; always present;
  - ``volume``: float64, shares or contracts (0 is valid); always present with
    ``open/high/low``, optional without them;
  - ``adj_close``: float64, currency, when the source has it.

  Two shapes result: *OHLCV bars* (``open high low close volume [adj_close]``: Yahoo,
  the bundled samples, a Yahoo-export CSV) and *close-only series* (``close
  [volume] [adj_close]``: a CSV of dates and closes, e.g. a FRED export). Features
  that need ``open/high/low`` or ``volume`` refuse a series without them
  (:func:`lstmfc.dataset.features.build_features`).

Provenance (source, fetch time, yfinance version, whether prices are adjusted ...) is
stored as JSON in the Parquet schema metadata under the key ``lstmfc``; a CSV import
also records ``layout``, ``columns`` (stored columns), ``close_only`` and
``dropped_missing`` (rows without a price that were dropped, see
:func:`lstmfc.data.sources.csvfile.parse_price_csv`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lstmfc.core.atomic import atomic_path
from lstmfc.core.errors import DataError

#: Every column of OHLCV bars, in stored order.
OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")
#: Columns stored after :data:`OHLCV_COLUMNS` when the source has them.
OPTIONAL_COLUMNS = ("adj_close",)
#: The bar columns a close-only series lacks (all three present, or none).
BAR_COLUMNS = ("open", "high", "low")
#: The columns of a close-only series, in stored order (only ``close`` is required).
CLOSE_ONLY_COLUMNS = ("close", "volume", "adj_close")
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
        If the file does not exist, cannot be read as Parquet, or its provenance
        metadata is not a JSON object.
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
    try:
        provenance = json.loads(meta[_META_KEY]) if _META_KEY in meta else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"cannot read {path}: its provenance metadata is not JSON ({exc}); "
            "fetch the series again"
        ) from None
    if not isinstance(provenance, dict):
        raise DataError(f"cannot read {path}: its provenance metadata is not a JSON object")
    frame = table.to_pandas()
    frame.index.name = "date"
    return frame, provenance
