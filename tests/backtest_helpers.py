"""Helpers shared by the tests that compare two backtests of the same data and seed
(tests/test_backtest_dask.py, tests/test_e2e_cli.py): the same work on two executors
must give the same report, timings, ids and paths apart."""

from __future__ import annotations

from typing import Any

#: Keys whose values differ between two identical backtests: timings, files written,
#: which executor ran them.
VARYING = {"seconds", "unit_seconds", "train_seconds", "model_sha256", "model_files", "executor"}


def comparable(doc: Any) -> Any:
    """``doc`` (a backtest report, or a part of one) without :data:`VARYING`,
    ``backtest_id`` and ``path``, at any depth; everything else must be identical."""
    if isinstance(doc, dict):
        return {
            k: comparable(v)
            for k, v in doc.items()
            if k not in VARYING and k not in ("backtest_id", "path")
        }
    if isinstance(doc, list):
        return [comparable(v) for v in doc]
    return doc
