"""lstmfc.bundles.runs: run ids, the runs of a ticker and the ``latest`` pointer; a run id
or pointer that could name a path outside ``models/<TICKER>/`` is refused by
:func:`lstmfc.bundles.bundle.load_bundle` before any file is read."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

import pytest

from lstmfc.bundles.bundle import load_bundle
from lstmfc.bundles.runs import list_runs, new_run_id, resolve_run, validate_run_id
from lstmfc.core.config import Workspace
from lstmfc.core.errors import ArtifactError, UsageError
from tests.bundle_helpers import T

RUNS = [f"2025030{d}T120000Z-00000{d}" for d in range(1, 8)]


def _runs_ws(home, runs=RUNS, latest: str | None = RUNS[-1]) -> Workspace:
    """Empty run folders ``runs`` under models/TEST/ and ``latest`` pointing at one."""
    ws = Workspace(home)
    root = ws.model_root(T)
    for name in runs:
        (root / name).mkdir(parents=True)
    if latest is not None:
        os.symlink(latest, root / "latest")
    return ws


def test_new_run_ids_are_utc_seconds_plus_hex_and_sort_by_time():
    t0 = datetime(2025, 3, 1, 14, 30, 15, tzinfo=timezone.utc)
    run_id = new_run_id(t0)
    assert re.fullmatch(r"20250301T143015Z-[0-9a-f]{6}", run_id)
    assert validate_run_id(run_id) == run_id
    later = [new_run_id(t0 + timedelta(seconds=s)) for s in (1, 60, 86400 * 40)]
    assert sorted([*later, run_id]) == [run_id, *later]


@pytest.mark.parametrize("bad", ["../TEST/x", "a/b", "..", ".hidden", "x y", "latest/..", "a..b"])
def test_run_id_with_path_parts_is_a_usage_error(tmp_path, bad):
    ws = _runs_ws(tmp_path)
    with pytest.raises(UsageError, match="invalid model run id"):
        load_bundle(ws, T, bad)


def test_latest_is_no_run_id_of_its_own():
    with pytest.raises(UsageError, match="invalid model run id 'latest'"):
        validate_run_id("latest")  # save_bundle never names a run folder "latest"


def test_list_runs_skips_latest_hidden_files_symlinks_and_odd_names(tmp_path):
    ws = _runs_ws(tmp_path, runs=RUNS[:2])
    root = ws.model_root(T)
    (root / ".20250309T000000Z-aaaaaa.123.abcd1234.tmp").mkdir()  # a temporary run folder
    (root / "notes.txt").write_text("x")
    (root / "odd name").mkdir()
    os.symlink(root / RUNS[0], root / "20250310T000000Z-bbbbbb")
    assert list_runs(ws, T) == RUNS[:2]
    assert list_runs(ws, "NOPE") == []


def test_latest_and_explicit_ids_resolve_to_their_folders(tmp_path):
    ws = _runs_ws(tmp_path, latest=RUNS[2])
    root = ws.model_root(T)
    assert resolve_run(ws, "test") == root / RUNS[2]  # ticker normalised
    assert resolve_run(ws, T, "latest") == root / RUNS[2]
    assert resolve_run(ws, T, RUNS[0]) == root / RUNS[0]


def test_missing_model(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(ArtifactError) as e:
        load_bundle(ws, "NOPE")
    assert str(e.value) == "no trained model for NOPE; run `lstmfc train NOPE`"


def test_unknown_run_id_lists_the_last_five_runs(tmp_path):
    ws = _runs_ws(tmp_path)
    with pytest.raises(ArtifactError) as e:
        load_bundle(ws, T, "20990101T000000Z-000000")
    shown = ", ".join(RUNS[-5:])
    assert str(e.value) == f"no model run 20990101T000000Z-000000 for {T}; runs: {shown}"


def test_latest_that_is_not_a_symlink_is_refused(tmp_path):
    ws = _runs_ws(tmp_path, latest=None)
    (ws.model_root(T) / "latest").mkdir()
    with pytest.raises(ArtifactError) as e:
        load_bundle(ws, T)
    assert str(e.value) == f"models/{T}/latest is not a symlink; refusing it"


@pytest.mark.parametrize("target", ["outside", "../OTHER/" + RUNS[0], ".."])
def test_latest_pointing_outside_is_refused(tmp_path, target):
    ws = _runs_ws(tmp_path, latest=None)
    if target == "outside":
        target = str(tmp_path)
    os.symlink(target, ws.model_root(T) / "latest")
    with pytest.raises(ArtifactError, match="not a run folder inside models/TEST; refusing it"):
        load_bundle(ws, T)


def test_run_folder_symlink_is_refused(tmp_path):
    ws = _runs_ws(tmp_path)
    run = ws.model_root(T) / RUNS[0]
    os.rename(run, tmp_path / "moved")
    os.symlink(tmp_path / "moved", run)
    with pytest.raises(ArtifactError) as e:
        load_bundle(ws, T, RUNS[0])
    assert str(e.value) == f"model run folder models/{T}/{RUNS[0]} is a symlink; refusing it"
