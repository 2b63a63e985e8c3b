"""Wall-clock stamps written into provenance and logs: UTC, ISO 8601, whole seconds."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now_iso() -> str:
    """Current UTC time, ISO 8601 with seconds (e.g. ``2024-01-02T21:15:00+00:00``)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
