"""``kill -9`` at random moments of fetch, prepare, train and predict: nothing is lost.

Each command is first timed once; then it is killed with SIGKILL at seeded random
moments across that duration. After every kill the workspace must still load (the
stored series, the prepared dataset, the latest bundle, the forecast log with a clean
``PRAGMA integrity_check``), and after the next normal run of the command no
temporary file or folder may remain anywhere under ``data/`` or ``models/``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lstmfc.bundles.bundle import load_bundle
from lstmfc.core.config import Workspace
from lstmfc.data.store import read_raw
from lstmfc.dataset.prepare import load_prepared

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--units", "4", "--dense", "0", "--epochs", "3", "--seed", "1"]
COMMANDS = {
    "fetch": ["fetch", "SP500", "--source", "sample"],
    "prepare": ["prepare", "SP500", "--lookback", "10"],
    "train": ["train", "SP500", *TINY],
    "predict": ["predict", "SP500", "--source", "sample", "--calendar", "weekdays"],
}


def _run(home: Path, args: list[str], kill_after: float | None = None) -> float:
    env = {**os.environ, "LSTMFC_HOME": str(home), "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmfc", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if kill_after is None:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    else:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        proc.stderr.close()
    return time.perf_counter() - t0


def _temporaries(home: Path) -> list[Path]:
    out = []
    for sub in ("data", "models"):
        for p in (home / sub).rglob(".*"):
            if p.name.endswith((".tmp", ".old")):
                out.append(p)
    return out


def _loads(home: Path) -> None:
    """Everything the workspace held still loads and checks out."""
    ws = Workspace(home)
    read_raw(ws.raw_path("SP500"))
    prepared = load_prepared(ws, "SP500")
    load_bundle(ws, "SP500", prepared_meta=prepared.meta)
    if ws.forecast_db.exists():
        con = sqlite3.connect(ws.forecast_db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.execute("SELECT COUNT(*) FROM forecasts").fetchone()
        con.close()


@pytest.fixture(scope="module")
def good_workspace(tmp_path_factory) -> Path:
    """A complete, good workspace: fetched, prepared, trained, one forecast logged."""
    home = tmp_path_factory.mktemp("good") / "ws"
    for step in ("fetch", "prepare", "train", "predict"):
        _run(home, COMMANDS[step])
    _loads(home)
    return home


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_kill_9_at_random_moments_loses_nothing(tmp_path, good_workspace, command):
    home = tmp_path / "killed"
    shutil.copytree(good_workspace, home, symlinks=True)
    duration = _run(home, COMMANDS[command])  # how long this command takes here
    rng = random.Random(f"kill-{command}")
    moments = sorted(rng.uniform(0.15, 1.0) * duration for _ in range(3)) + [0.97 * duration]
    for t in moments:
        _run(home, COMMANDS[command], kill_after=t)
        _loads(home)  # the last good artifacts (or the new complete ones) still load
    _run(home, COMMANDS[command])  # the next normal run cleans up after the killed ones
    _loads(home)
    assert _temporaries(home) == []
