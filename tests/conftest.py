"""Shared fixtures: a temporary workspace for every test and a synthetic OHLCV series."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Hypothesis: derandomised (the same examples every run) in CI, exploring locally.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    """Point LSTMFC_HOME at a fresh folder so no test touches the real workspace."""
    home = tmp_path / "ws"
    home.mkdir()
    monkeypatch.setenv("LSTMFC_HOME", str(home))
    monkeypatch.delenv("LSTMFC_DEBUG", raising=False)
    return home


def make_ohlcv(n: int = 400, start: str = "2020-01-01", seed: int = 0) -> pd.DataFrame:
    """A valid synthetic daily OHLCV frame in the raw-store layout (business days)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n, name="date")
    logret = rng.normal(0.0003, 0.01, n)
    close = 100.0 * np.exp(np.cumsum(logret))
    open_ = close * np.exp(rng.normal(0, 0.003, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, n)))
    volume = rng.integers(1_000_000, 5_000_000, n).astype("float64")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=dates,
    )


@pytest.fixture
def ohlcv() -> pd.DataFrame:
    return make_ohlcv()
