"""``kill -9`` during fetch, prepare, train and predict: nothing is lost.

Each command is first timed once; then it is killed with SIGKILL, twice at seeded
random moments of that duration and twice in the middle of its write
(seen from outside: the writer's temporary, named with its pid, exists; for predict,
the forecast log's writer lock is held and its WAL is open). Every kill must land: the
process dies by SIGKILL (exit -9), and a write kill must leave the writer's temporary
behind (a process that had already finished its write would have renamed or removed
it). After every kill the workspace must still load (the stored series, the prepared
dataset, the latest bundle, the forecast log with a clean ``PRAGMA integrity_check``),
and after the next normal run of the command no temporary file or folder may remain
anywhere under ``data/`` or ``models/``.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from lstmfc.bundles.bundle import load_bundle
from lstmfc.core.config import Workspace
from lstmfc.data.store import read_raw
from lstmfc.dataset.prepare import load_prepared

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--units", "4", "--dense", "0", "--epochs", "1", "--seed", "1"]
COMMANDS = {
    "fetch": ["fetch", "SP500", "--source", "sample"],
    "prepare": ["prepare", "SP500", "--lookback", "10"],
    "train": ["train", "SP500", *TINY],
    "predict": ["predict", "SP500", "--source", "sample", "--calendar", "weekdays"],
}
#: The folder each command writes its atomic temporary into (predict: see _log_probe).
WRITE_FOLDER = {"fetch": "data/raw", "prepare": "data/prepared", "train": "models/SP500"}
#: A writer's temporary, as documented (docs/architecture.md, lstmfc/atomic.py):
#: ``.<target>.<pid>.<8 random chars><suffix>.tmp`` (``.old``: a folder being replaced).
TEMP_RE = r"^\.(.+)\.{pid}\.[A-Za-z0-9_]{{8}}.*\.(tmp|old)$"
SIGKILLED = -signal.SIGKILL


def _start(home: Path, args: list[str], err) -> subprocess.Popen:
    env = {**os.environ, "LSTMFC_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "lstmfc", *args], env=env, stdout=subprocess.DEVNULL, stderr=err
    )


def _run(home: Path, args: list[str]) -> float:
    """Run to completion (must succeed); return the wall time."""
    t0 = time.perf_counter()
    proc = _start(home, args, subprocess.PIPE)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    return time.perf_counter() - t0


def _kill_after(home: Path, args: list[str], share: float, duration: float, tmp: Path) -> None:
    """SIGKILL ``args`` at ``share`` of its duration; it must still have been running.

    ``duration`` is from an earlier run; where this run is quicker (the CPUs are shared)
    and ends before the kill, it is run again with the kill at ``share`` of the time it
    just took (at most three tries)."""
    for _ in range(3):
        delay = share * duration
        t0 = time.perf_counter()
        with open(tmp / "stderr.txt", "wb") as err:
            proc = _start(home, args, err)
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        if proc.returncode != 0:
            break
        duration = time.perf_counter() - t0
    assert proc.returncode == SIGKILLED, (
        f"{args[0]} ended with exit code {proc.returncode} before the kill at {delay:.2f} s: "
        + (tmp / "stderr.txt").read_text(errors="replace")[-1000:]
    )


def _kill_in_write(home: Path, args: list[str], probe, tmp: Path, prime, tries: int = 5) -> int:
    """SIGKILL ``args`` the moment ``probe(pid)`` reports its write in flight.

    ``probe`` returns the path that shows the write (a temporary of that pid, the
    log's WAL) or None. The process must die by the kill, and that path must still be
    there afterwards: a dead process cannot rename or remove it, so it proves the kill
    fell inside the write. The parent polls every 0.2 ms, but on shared CPUs it can
    miss a write of a few milliseconds (the process then ends normally) or see it just
    as it ends: such a try is repeated (``prime()`` first), at most ``tries`` times.
    Returns the number of tries it took."""
    misses = []
    for attempt in range(1, tries + 1):
        seen = None
        with open(tmp / "stderr.txt", "wb") as err:
            proc = _start(home, args, err)
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline:
                seen = probe(proc.pid)
                if seen is not None:
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.0002)
            else:
                proc.kill()
            proc.wait(timeout=60)
        if seen is not None and os.path.lexists(seen):
            assert proc.returncode == SIGKILLED, f"{args[0]} exit code {proc.returncode}"
            return attempt
        stderr = (tmp / "stderr.txt").read_text(errors="replace")[-500:]
        assert proc.returncode in (0, SIGKILLED), f"{args[0]} failed: {stderr}"
        misses.append("write never seen" if seen is None else f"{seen.name} gone after the kill")
        _loads(home)
        prime()
    raise AssertionError(f"{args[0]}: no kill inside the write in {tries} tries: {misses}")


def _temp_probe(folder: Path, content: bool):
    """A probe for the writer's temporary in ``folder``; with ``content``, only once it
    holds data (a file with bytes, a folder with two entries: a partial write)."""

    def probe(pid: int) -> Path | None:
        pattern = re.compile(TEMP_RE.format(pid=pid))
        try:
            with os.scandir(folder) as it:
                for e in it:
                    if not pattern.match(e.name):
                        continue
                    if not content:
                        return Path(e.path)
                    if e.is_dir(follow_symlinks=False):
                        if len(os.listdir(e.path)) >= 2:
                            return Path(e.path)
                    elif e.stat(follow_symlinks=False).st_size > 0:
                        return Path(e.path)
        except FileNotFoundError:  # folder not made yet, or the temporary just renamed
            return None
        return None

    return probe


def _log_lock_holder(lock: Path) -> int | None:
    """The pid holding the flock on ``lock`` (Linux /proc/locks), or None."""
    try:
        inode = lock.stat().st_ino
    except FileNotFoundError:
        return None
    with open("/proc/locks") as fh:
        for line in fh:
            f = line.split()
            if "->" not in f and f[1] == "FLOCK" and f[5].endswith(f":{inode}"):
                return int(f[4])
    return None


def _log_probe(home: Path):
    """predict's write: it holds the forecast log's writer lock. The insert itself lasts
    about a millisecond, too short to catch reliably on shared CPUs, so the test holds
    SQLite's write lock meanwhile (:func:`_sqlite_write_lock`): predict then waits inside
    its writer, in ``BEGIN IMMEDIATE``, holding the file lock, until it is killed."""
    lock = home / "data" / "forecasts.sqlite.lock"

    def probe(pid: int) -> Path | None:
        return lock if _log_lock_holder(lock) == pid else None

    return probe


@contextlib.contextmanager
def _sqlite_write_lock(home: Path):
    """Hold SQLite's RESERVED lock on the forecast log (a pending write transaction)."""
    con = sqlite3.connect(home / "data" / "forecasts.sqlite", isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        yield
        con.execute("ROLLBACK")
    finally:
        con.close()


def _forecast_rows(home: Path) -> list[tuple]:
    con = sqlite3.connect(home / "data" / "forecasts.sqlite")
    try:
        sql = "SELECT ticker, as_of, target_date, run_id, forecast_price FROM forecasts"
        return con.execute(sql).fetchall()
    finally:
        con.close()  # the last connection: SQLite checkpoints and removes the WAL


def _prime(home: Path, command: str, csv: Path) -> None:
    """Give the next run of ``command`` something to write.

    fetch: store the series from a CSV first (a sample fetch then replaces it; on the
    same sample it would leave the file untouched). predict: empty the forecast log
    (re-logging a forecast already there writes nothing). prepare and train always
    write a new dataset / bundle."""
    if command == "fetch":
        _run(home, ["fetch", "SP500", "--source", "csv", "--path", str(csv)])
    elif command == "predict":
        con = sqlite3.connect(home / "data" / "forecasts.sqlite")
        con.execute("DELETE FROM forecasts")
        con.commit()
        con.close()
        assert not (home / "data" / "forecasts.sqlite-wal").exists()


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


def _write_probe(home: Path, command: str, content: bool):
    if command == "predict":
        return _log_probe(home)
    return _temp_probe(home / WRITE_FOLDER[command], content)


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_kill_9_at_random_moments_and_inside_the_write_loses_nothing(
    tmp_path, good_workspace, command
):
    home = tmp_path / "killed"
    shutil.copytree(good_workspace, home, symlinks=True)
    csv = tmp_path / "sp500.csv"  # the stored series as a Yahoo-style CSV (for fetch)
    frame = pd.read_parquet(home / "data" / "raw" / "SP500.parquet")
    frame.rename(columns={"adj_close": "Adj Close"}).rename(columns=str.title).rename_axis(
        "Date"
    ).to_csv(csv)
    logged = _forecast_rows(home)
    assert len(logged) == 1

    _prime(home, command, csv)
    duration = _run(home, COMMANDS[command])  # how long this command takes here
    rng = random.Random(f"kill-{command}")
    kills = [("moment", rng.uniform(0.1, 0.9)) for _ in range(2)]
    # predict's insert is one transaction: killed while it waits in it (_log_probe)
    kills += [("write", False)] if command == "predict" else [("write", False), ("write", True)]
    for kind, arg in kills:
        _prime(home, command, csv)
        if kind == "moment":
            _kill_after(home, COMMANDS[command], arg, duration, tmp_path)
        else:
            probe = _write_probe(home, command, arg)
            blocked = _sqlite_write_lock(home) if command == "predict" else contextlib.nullcontext()
            with blocked:
                tries = _kill_in_write(
                    home, COMMANDS[command], probe, tmp_path, lambda: _prime(home, command, csv)
                )
            print(
                f"{command}: killed inside the write ({'content' if arg else 'start'}) "
                f"at try {tries}"
            )
        _loads(home)  # the last good artifacts (or the new complete ones) still load
        if command == "predict":  # the killed insert is all there or not there at all
            assert _forecast_rows(home) in ([], logged)
    _run(home, COMMANDS[command])  # the next normal run cleans up after the killed ones
    _loads(home)
    assert _temporaries(home) == []
    assert _forecast_rows(home) == logged
