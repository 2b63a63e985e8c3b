"""Shared fixtures: a temporary workspace for every test, a synthetic OHLCV series and a
workspace with trained bundles (the bundle tests)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from lstmfc.dataset.prepare import prepare
from lstmfc.workflows.train import train
from tests.bundle_helpers import TINY, T

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


def prepared_workspace(home) -> Workspace:
    """A workspace with 260 synthetic sessions of ticker TEST, prepared with lookback 10."""
    ws = Workspace(home)
    write_raw(ws.raw_path(T), make_ohlcv(260, seed=3), {"source": "test"})
    prepare(ws, T, lookback=10)
    return ws


@pytest.fixture(scope="session")
def trained_bundles(tmp_path_factory):
    """``(ws, price, direction)``: a workspace with a price run (older) and a direction
    run (``latest``), trained once per session; tests must not change it."""
    ws = prepared_workspace(tmp_path_factory.mktemp("trained"))
    price = train(ws, T, head="price", seed=1, **TINY)
    direction = train(ws, T, head="direction", cell="gru", seed=2, **TINY)
    return ws, price, direction


@pytest.fixture
def bundle_ws(trained_bundles, tmp_path):
    """A private copy of the trained workspace (tests may damage it)."""
    src, _, _ = trained_bundles
    dst = tmp_path / "copy"
    shutil.copytree(src.home, dst, symlinks=True)
    return Workspace(dst)
