"""Where bundles live: run ids, the runs of a ticker and the ``latest`` pointer.

Every training run gets its own folder ``models/<TICKER>/<run_id>/`` (never
overwritten); ``models/<TICKER>/latest`` is a symlink to the newest one, switched
atomically by :func:`lstmfc.bundles.save.save_bundle`. A run id is a plain folder
name (:func:`validate_run_id`): a user-supplied id or a ``latest`` target can never
name a path outside ``models/<TICKER>/`` (:func:`resolve_run`).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import ArtifactError, UsageError

LATEST = "latest"
"""Name of the symlink to the newest run folder."""
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


def workspace_label(ws: Workspace | None, path: Path) -> str:
    """``path`` relative to the workspace home (``models/SP500/<run_id>``) for messages;
    the full path when it lies outside the home or ``ws`` is None."""
    if ws is not None:
        with contextlib.suppress(ValueError):
            return path.relative_to(ws.home).as_posix()
    return str(path)


def new_run_id(now: datetime | None = None) -> str:
    """A sortable run id: UTC time to the second plus 6 random hex digits.

    Example: ``20250301T143015Z-3fa9c1``. Lexicographic order is chronological order.
    """
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a plain folder name.

    Raises
    ------
    UsageError
        If it contains a path separator, ``..``, starts with a dot or uses other
        characters than letters, digits, ``_ . -``.
    """
    if (
        not isinstance(run_id, str)
        or not _RUN_ID_RE.match(run_id)
        or ".." in run_id
        or run_id == LATEST
    ):
        raise UsageError(
            f"invalid model run id {run_id!r}: use a folder name from models/<TICKER>/ "
            "(letters, digits, _ . -), e.g. 20250301T143015Z-3fa9c1"
        )
    return run_id


def list_runs(ws: Workspace, ticker: str) -> list[str]:
    """Run ids under ``models/<TICKER>/``, oldest first (hidden temporary folders excluded)."""
    root = ws.model_root(ticker)
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.name != LATEST
        and not p.name.startswith(".")
        and p.is_dir()
        and not p.is_symlink()
        and _RUN_ID_RE.match(p.name)
    )


def resolve_run(ws: Workspace, ticker: str, run_id: str | None = None) -> Path:
    """The run folder for ``run_id`` (``None`` or ``"latest"``: the ``latest`` pointer).

    Raises
    ------
    UsageError
        Malformed ``run_id``.
    ArtifactError
        No trained model, unknown run id, or a pointer/folder that leaves
        ``models/<TICKER>/``.
    """
    t = normalize_ticker(ticker)
    root = ws.model_root(t)
    if run_id in (None, "", LATEST):
        link = root / LATEST
        if not link.is_symlink():
            if link.exists():
                raise ArtifactError(f"{workspace_label(ws, link)} is not a symlink; refusing it")
            raise ArtifactError(f"no trained model for {t}; run `lstmfc train {t}`")
        target = os.readlink(link)
        if not _RUN_ID_RE.match(target) or ".." in target or "/" in target:
            raise ArtifactError(
                f"{workspace_label(ws, link)} points to {target!r}, not a run folder inside "
                f"{workspace_label(ws, root)}; refusing it"
            )
        run_id = target
    else:
        validate_run_id(run_id)
    run = root / run_id
    if run.is_symlink():
        raise ArtifactError(
            f"model run folder {workspace_label(ws, run)} is a symlink; refusing it"
        )
    if not run.is_dir():
        known = list_runs(ws, t)
        hint = f"; runs: {', '.join(known[-5:])}" if known else f"; run `lstmfc train {t}`"
        raise ArtifactError(f"no model run {run_id} for {t}{hint}")
    if Path(os.path.realpath(run)).parent != Path(os.path.realpath(root)):
        raise ArtifactError(
            f"model run folder {workspace_label(ws, run)} leaves {workspace_label(ws, root)}"
        )
    return run
