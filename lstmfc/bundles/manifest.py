"""The bundle manifest (``manifest.json``): file names, the schema and its checks.

``manifest.json`` is everything needed to trust and reuse a run (docs/models.md, "The
bundle", lists its keys): identity (``schema``, ``run_id``, ``ticker``), what was
trained (``head``, ``head_options``, ``cell``, ``hyperparameters``), the head's target
scaling fit on the training windows (``target``), the complete ``prepare.json``
(``prepare``), one entry per ensemble member (``members``: its ``.keras`` file, its
ONNX twin or ``None``, its seed), and the sha256 and size of every file (``files``).

:func:`read_manifest` refuses, with one line each, a manifest that is missing, a
symlink, unparsable, of an unreadable schema, of another run, or inconsistent (a
required key missing or of the wrong type, a target scaling the head does not accept,
bad ``members`` or ``files`` entries). The files it lists are checked by
:func:`lstmfc.bundles.archive.verify_bundle`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lstmfc.core.atomic import sha256_file
from lstmfc.core.errors import ArtifactError
from lstmfc.core.jsonclean import json_clean
from lstmfc.heads.registry import head_from_manifest

MODEL_FILE = "model.keras"
"""The first (or only) member network's file."""
MANIFEST_FILE = "manifest.json"
HISTORY_FILE = "history.png"
"""Loss and validation loss per epoch of the first member (:mod:`lstmfc.core.plotting`)."""
MANIFEST_SCHEMA = 2
"""Schema written now. 2 adds ``members`` (seed ensembles) and ``head_options``."""
READABLE_SCHEMAS = (1, 2)
"""Schemas this lstmfc reads (1: one network, ``price_target`` at the top level)."""

_REQUIRED = {
    "schema": int,
    "run_id": str,
    "ticker": str,
    "head": str,
    "cell": str,
    "model_file": str,
    "files": dict,
    "hyperparameters": dict,
    "target": dict,
    "prepare": dict,
    "training": dict,
}


def read_manifest(run: Path, label: str) -> dict[str, Any]:
    """``run``'s ``manifest.json`` after the checks of the module docstring.

    Parameters
    ----------
    run : Path
        The run folder (its name must be the manifest's ``run_id``).
    label : str
        How messages name the folder (e.g. ``models/SP500/<run_id>``).

    Raises
    ------
    ArtifactError
        One line naming the first problem.
    """
    path = run / MANIFEST_FILE
    if path.is_symlink():
        raise ArtifactError(f"{label}/{MANIFEST_FILE} is a symlink; refusing it")
    if not path.is_file():
        raise ArtifactError(f"{label} has no {MANIFEST_FILE}; it is not a complete bundle")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise ArtifactError(f"{label}/{MANIFEST_FILE} is malformed ({reason})") from None
    if not isinstance(doc, dict):
        raise ArtifactError(f"{label}/{MANIFEST_FILE} is malformed (not a JSON object)")
    for key, kind in _REQUIRED.items():
        if not isinstance(doc.get(key), kind) or isinstance(doc.get(key), bool):
            raise ArtifactError(
                f"{label}/{MANIFEST_FILE} is malformed ({key!r} missing or not {kind.__name__})"
            )
    if doc["schema"] not in READABLE_SCHEMAS:
        raise ArtifactError(
            f"{label}/{MANIFEST_FILE} has schema {doc['schema']}; this lstmfc reads "
            f"schemas {', '.join(map(str, READABLE_SCHEMAS))} (upgrade lstmfc)"
        )
    if doc["run_id"] != run.name:
        raise ArtifactError(
            f"{label}/{MANIFEST_FILE} belongs to run {doc['run_id']!r}, not {run.name!r}"
        )
    try:
        head_from_manifest(doc).check_scaling(doc["target"])
    except ValueError as exc:
        raise ArtifactError(f"{label}/{MANIFEST_FILE} is malformed ({exc})") from None
    members = member_entries(doc)
    if (
        not isinstance(members, list)
        or not members
        or not all(isinstance(m, dict) and isinstance(m.get("file"), str) for m in members)
    ):
        raise ArtifactError(f"{label}/{MANIFEST_FILE} is malformed (bad 'members' entry)")
    if not all(m.get("onnx") is None or isinstance(m.get("onnx"), str) for m in members):
        raise ArtifactError(f"{label}/{MANIFEST_FILE} is malformed (bad 'onnx' entry)")
    if members[0]["file"] != doc["model_file"]:
        raise ArtifactError(
            f"{label}/{MANIFEST_FILE} is malformed (model_file is not the first member)"
        )
    for name, entry in doc["files"].items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("bytes"), int)
        ):
            raise ArtifactError(
                f"{label}/{MANIFEST_FILE} is malformed (files[{name!r}] needs sha256 and bytes)"
            )
    return doc


def member_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's ``members`` (one dict per network: ``file``, ``onnx``, ``seed`` ...);
    for a schema-1 manifest (one network, no ``members``) ``[{"file": model_file}]``."""
    return manifest.get("members", [{"file": manifest["model_file"]}])


def check_member_name(name: str, label: str) -> None:
    """Refuse a file name from the manifest that could leave the run folder.

    Raises
    ------
    ArtifactError
        ``name`` is empty, ``.`` or ``..``, contains a path separator or starts with a dot.
    """
    if name in ("", ".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise ArtifactError(f"{label}/{MANIFEST_FILE} names file {name!r} outside the bundle")


def member_file(i: int, suffix: str = ".keras") -> str:
    """File name of ensemble member ``i`` (0-based): ``model.keras``, ``model-2.keras`` ...
    (``suffix=".onnx"``: its ONNX twin)."""
    return f"model{suffix}" if i == 0 else f"model-{i + 1}{suffix}"


def onnx_files(manifest: dict[str, Any]) -> list[str] | None:
    """The members' ONNX file names, or ``None`` if any member has none (older bundles)."""
    names = [m.get("onnx") for m in member_entries(manifest)]
    return names if all(isinstance(n, str) for n in names) else None


def manifest_text(doc: dict[str, Any]) -> str:
    """``doc`` as the text of ``manifest.json``: strict JSON (:func:`json_clean`: NaN and
    inf become ``null``), indented by 2, ending in a newline.

    Raises
    ------
    TypeError
        A value JSON cannot represent.
    """
    return json.dumps(json_clean(doc), indent=2, allow_nan=False) + "\n"


def file_entry(path: Path) -> dict[str, Any]:
    """The manifest's ``files`` entry of ``path``: ``{"sha256": hex digest, "bytes": size}``."""
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}
