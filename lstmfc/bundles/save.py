"""Writing a bundle: a complete run folder, atomically, and ONNX twins added later.

:func:`save_bundle` builds ``models/<TICKER>/<run_id>/`` in a hidden temporary folder
beside it (:func:`lstmfc.core.atomic.atomic_dir`): every member's ``.keras`` file and its
ONNX twin (:func:`lstmfc.bundles.twins.export_member`), ``history.png``, and the
manifest with the sha256 and size of every file; the folder is renamed into place only
when all of it is written and fsynced, and only then is ``latest`` switched
(:func:`lstmfc.core.atomic.atomic_symlink`). :func:`export_bundle` adds the twins to an
older bundle. Reading is :mod:`lstmfc.bundles.bundle`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lstmfc.bundles.bundle import load_bundle
from lstmfc.bundles.manifest import (
    HISTORY_FILE,
    MANIFEST_FILE,
    MANIFEST_SCHEMA,
    MODEL_FILE,
    file_entry,
    manifest_text,
    member_file,
    onnx_files,
)
from lstmfc.bundles.runs import LATEST, new_run_id, validate_run_id, workspace_label
from lstmfc.bundles.twins import add_twins, export_member
from lstmfc.core.atomic import atomic_dir, atomic_symlink
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import ArtifactError
from lstmfc.core.plotting import write_history_png
from lstmfc.network import models


def save_bundle(
    ws: Workspace,
    ticker: str,
    model,
    manifest: dict[str, Any],
    *,
    run_id: str | None = None,
    set_latest: bool = True,
) -> Path:
    """Write a complete bundle atomically and (by default) point ``latest`` at it.

    Parameters
    ----------
    ws : Workspace
    ticker : str
    model : keras.Model or list of keras.Model
        The network, or the members of a seed ensemble (``model.keras``,
        ``model-2.keras`` ...; the forecast is the decoded mean of their outputs).
    manifest : dict
        Everything but ``run_id``, ``schema``, ``model_file`` and ``files``, which are
        filled in here; ``members`` (one dict per network, e.g. its seed and training
        figures) gets each member's ``file``. ``manifest["training"]["history"]`` (the
        first member's) is plotted.
    run_id : str, optional
        Default :func:`lstmfc.bundles.runs.new_run_id`.
    set_latest : bool

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    ArtifactError
        If the run folder already exists.
    """
    t = normalize_ticker(ticker)
    root = ws.model_root(t)
    run_id = validate_run_id(run_id or new_run_id())
    final = root / run_id
    if final.exists() or final.is_symlink():
        raise ArtifactError(f"model run {run_id} already exists in {workspace_label(ws, root)}")
    root.mkdir(parents=True, exist_ok=True)
    history = (manifest.get("training") or {}).get("history") or {}
    nets = list(model) if isinstance(model, list | tuple) else [model]
    members = [dict(m) for m in manifest.get("members") or [{} for _ in nets]]
    if len(members) != len(nets):
        raise ValueError(f"{len(nets)} networks but {len(members)} member entries")
    names = [member_file(i) for i in range(len(nets))]
    with atomic_dir(final) as tmp:
        written = []
        for i, (net, name, member) in enumerate(zip(nets, names, members, strict=True)):
            models.save_model(net, tmp / name)
            member["file"] = name
            written.append(name)
            onnx_name = export_member(net, tmp, i, member)
            if onnx_name:
                written.append(onnx_name)
        write_history_png(
            history,
            tmp / HISTORY_FILE,
            f"{t} {manifest.get('cell', '')} {manifest.get('head', '')} - {run_id}",
        )
        files = {name: file_entry(tmp / name) for name in (*written, HISTORY_FILE)}
        doc = {
            "schema": MANIFEST_SCHEMA,
            "run_id": run_id,
            "ticker": t,
            **{k: v for k, v in manifest.items() if k not in ("schema", "run_id", "ticker")},
            "members": members,
            "model_file": MODEL_FILE,
            "files": files,
        }
        (tmp / MANIFEST_FILE).write_text(manifest_text(doc), encoding="utf-8")
    if set_latest:
        atomic_symlink(root / LATEST, run_id)
    return final


def export_bundle(ws: Workspace, ticker: str, run_id: str | None = None) -> dict[str, Any]:
    """Add the ONNX twin of every member network to an existing bundle.

    Loads the bundle with Keras (all checks), then :func:`lstmfc.bundles.twins.add_twins`
    exports each member (:func:`lstmfc.network.onnx_export.export_onnx`, checked against Keras
    on probe windows), writes each ``.onnx`` file atomically, then the re-hashed
    manifest atomically: an interruption leaves the old manifest in force (an unlisted
    file is never read). A bundle that already has its ONNX twins is left as it is.

    Returns
    -------
    dict
        ``ticker``, ``run_id``, ``path``, ``files`` (the ONNX files with sha256 and
        size), ``status`` (``exported`` or ``already exported``).

    Raises
    ------
    ArtifactError
        The bundle fails its checks, or a member's architecture cannot be exported.
    """
    bundle = load_bundle(ws, ticker, run_id)
    out = {
        "ticker": bundle.ticker,
        "run_id": bundle.run_id,
        "path": workspace_label(ws, bundle.path),
    }
    names = onnx_files(bundle.manifest)
    if names is not None:
        files = {n: bundle.manifest["files"][n] for n in names}
        return {**out, "status": "already exported", "files": files}
    files = add_twins(bundle.path, bundle.manifest, bundle.models)
    return {**out, "status": "exported", "files": files}
