"""ONNX twins of a bundle's networks: exported when it is written, or added later.

Each member network ``model.keras`` (``model-2.keras`` ...) gets an ONNX twin
``model.onnx`` (``model-2.onnx`` ...) when the bundle is written
(:func:`export_member`), or later with ``lstmfc export`` (:func:`add_twins`). The
twin is exported by :func:`lstmfc.network.onnx_export.export_onnx` and checked there against
Keras on probe windows; the daily ``predict`` can then run on ONNX Runtime without
importing Keras, TensorFlow or torch (:mod:`lstmfc.bundles.engines`). A twin is listed in the
manifest (``members[i]["onnx"]`` and ``files``) like every other file, so a modified
``.onnx`` file fails the bundle's checks (:func:`lstmfc.bundles.archive.verify_bundle`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lstmfc.bundles.manifest import (
    MANIFEST_FILE,
    file_entry,
    manifest_text,
    member_entries,
    member_file,
)
from lstmfc.core.atomic import atomic_path, atomic_write_text
from lstmfc.core.errors import ArtifactError
from lstmfc.network.onnx_export import export_onnx


def export_member(net, folder: Path, i: int, member: dict[str, Any]) -> str | None:
    """Write member ``i``'s ONNX twin into ``folder`` and record it in ``member``.

    A network the exporter does not cover (:func:`lstmfc.network.onnx_export.onnx_bytes`) gets
    ``onnx: None`` and the reason; ``predict`` then falls back to Keras for it.

    Returns
    -------
    str or None
        The twin's file name (``model.onnx``, ``model-2.onnx`` ...), or None.
    """
    name = member_file(i, ".onnx")
    try:
        export_onnx(net, folder / name)
    except ArtifactError as exc:
        member["onnx"] = None
        member["onnx_note"] = str(exc)
        (folder / name).unlink(missing_ok=True)
        return None
    member["onnx"] = name
    return name


def add_twins(run: Path, manifest: dict[str, Any], nets: list) -> dict[str, dict[str, Any]]:
    """Add the ONNX twin of every member network to the verified bundle in ``run``.

    Each ``.onnx`` file is written atomically, then the re-hashed manifest atomically:
    an interruption leaves the old manifest in force (an unlisted file is never read).
    ``manifest`` itself is not changed.

    Parameters
    ----------
    run : Path
        The run folder.
    manifest : dict
        Its verified manifest (:func:`lstmfc.bundles.archive.verify_bundle`).
    nets : list of keras.Model
        Its member networks, in the manifest's order.

    Returns
    -------
    dict
        Twin file name -> ``{"sha256", "bytes"}``, in member order.

    Raises
    ------
    ArtifactError
        A member's architecture cannot be exported.
    """
    doc = json.loads(json.dumps(manifest))
    members = member_entries(doc)
    for i, (net, member) in enumerate(zip(nets, members, strict=True)):
        name = member_file(i, ".onnx")
        with atomic_path(run / name) as tmp:
            export_onnx(net, tmp)
        member["onnx"] = name
        member.pop("onnx_note", None)
        doc["files"][name] = file_entry(run / name)
    doc["members"] = members
    atomic_write_text(run / MANIFEST_FILE, manifest_text(doc))
    return {m["onnx"]: doc["files"][m["onnx"]] for m in members}
