"""Helpers shared by the bundle tests (tests/test_bundle*.py): the ticker, a tiny
network and edits of a bundle on disk. The trained workspace itself is the
``trained_bundles`` fixture of tests/conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

from lstmfc.bundles.manifest import MANIFEST_FILE
from lstmfc.core.atomic import sha256_file
from lstmfc.core.config import Workspace

T = "TEST"
TINY = dict(units=(4, 2), dense=3, epochs=2, batch_size=32, patience=5)


def run_dir(ws: Workspace, result: dict) -> Path:
    """The run folder of a ``train`` result inside ``ws``."""
    return ws.home / result["path"]


def rewrite_manifest(run: Path, edit) -> None:
    """Apply ``edit(doc)`` to ``run``'s manifest (its checksums are left as they were)."""
    path = run / MANIFEST_FILE
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def fix_checksum(run: Path, name: str) -> None:
    """Record the current sha256 and size of ``run/name`` in the manifest."""

    def edit(doc):
        doc["files"][name] = {
            "sha256": sha256_file(run / name),
            "bytes": (run / name).stat().st_size,
        }

    rewrite_manifest(run, edit)
