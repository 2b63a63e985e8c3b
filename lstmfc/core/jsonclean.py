"""Strict JSON values: the one place lstmfc turns Python and NumPy values into JSON.

Every report, manifest and ``--json`` output goes through :func:`json_clean` before
``json.dumps(..., allow_nan=False)``: JSON (RFC 8259, section 6) has no NaN or
Infinity, so a non-finite float becomes ``null``; NumPy scalars become Python
scalars; tuples become lists; mapping keys become strings.
"""

from __future__ import annotations

import math
from typing import Any


def json_clean(obj: Any) -> Any:
    """``obj`` with NaN/inf floats turned into None and tuples into lists (strict JSON).

    Dicts, lists and tuples are cleaned recursively (dict keys turned into ``str``);
    anything with a callable ``item()`` (NumPy scalars) is replaced by ``item()``'s
    value; other values are returned as they are.
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # NumPy scalars
        return json_clean(obj.item())
    return obj
