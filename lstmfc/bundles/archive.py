"""Reading a bundle's files so that nothing unverified or unsafe reaches Keras.

:func:`verify_bundle` reads every file the manifest lists through
:func:`read_verified` (a regular file inside the run folder, of the recorded size and
sha256; a symlink, a directory or anything else is refused) and checks each ``.keras``
member with :func:`check_keras_archive`: a zip of exactly Keras 3's three members,
bounded in size, whose ``config.json`` names only classes in :data:`ALLOWED_CLASSES`
and modules of Keras. The verified bytes are what gets loaded (from a private copy),
so a file cannot be swapped between the check and the load. The allowlist is checked
before Keras sees the file; Keras's own ``safe_mode=True`` (which never deserialises a
Python lambda) is the second line (:func:`lstmfc.network.models.load_model_file`).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

from lstmfc.bundles.manifest import (
    MANIFEST_FILE,
    check_member_name,
    member_entries,
    onnx_files,
    read_manifest,
)
from lstmfc.core.errors import ArtifactError

_KERAS_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}
_MAX_UNZIPPED = 4 << 30  # 4 GiB: far above any lstmfc model, far below a zip bomb
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

#: Every ``class_name`` lstmfc's own models put into ``config.json`` (Keras 3.14-3.15),
#: plus close relatives (Sequential, other dtype policies). Anything else is refused
#: before Keras deserialises the file.
ALLOWED_CLASSES = frozenset(
    {
        "Functional",
        "Sequential",
        "InputLayer",
        "LSTM",
        "GRU",
        "SimpleRNN",
        "Dropout",
        "Dense",
        # path strategies and attention (lstmfc.network.models: seq2seq, attention pooling)
        "RepeatVector",
        "TimeDistributed",
        "Reshape",
        "Softmax",
        "Dot",
        "Attention",
        "Concatenate",
        "DTypePolicy",
        "FloatDTypePolicy",
        "GlorotUniform",
        "Orthogonal",
        "Zeros",
        "Ones",
        "L2",
        "Adam",
        "__keras_tensor__",
    }
)


def read_verified(run: Path, name: str, entry: dict[str, Any], label: str) -> bytes:
    """Bytes of bundle file ``name`` after the regular-file and checksum checks.

    ``entry``: the file's manifest entry, ``{"sha256": hex digest, "bytes": size}``.

    Raises
    ------
    ArtifactError
        ``name`` leaves the folder, the file is missing, a symlink (one leaving the
        bundle is named as such), a directory or not a regular file, or its size or
        sha256 differs from ``entry``.
    """
    check_member_name(name, label)
    path = run / name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ArtifactError(f"{label}/{name} is missing") from None
    if stat.S_ISLNK(st.st_mode):
        real = os.path.realpath(path)
        where = "leaving the bundle" if Path(real).parent != Path(os.path.realpath(run)) else ""
        raise ArtifactError(
            f"{label}/{name} is a symlink{' ' + where if where else ''} (to {real}); refusing it"
        )
    if stat.S_ISDIR(st.st_mode):
        raise ArtifactError(f"{label}/{name} is a directory, not a regular file; refusing it")
    if not stat.S_ISREG(st.st_mode):
        raise ArtifactError(f"{label}/{name} is not a regular file; refusing it")
    if st.st_size != entry["bytes"]:
        raise ArtifactError(
            f"{label}/{name} has {st.st_size} bytes, the manifest says {entry['bytes']}; "
            "the bundle was modified or is corrupt"
        )
    with open(path, "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise ArtifactError(
            f"{label}/{name} fails its sha256 check; the bundle was modified or is corrupt"
        )
    return data


def check_keras_archive(data: bytes, label: str) -> None:
    """Refuse a model file that is not an lstmfc-shaped Keras 3 ``.keras`` zip.

    Checks (before Keras reads anything): a zip (an HDF5/``.h5`` file is named as
    such), only the members ``config.json``, ``metadata.json``,
    ``model.weights.h5``, a bounded uncompressed size, and every ``class_name`` in
    ``config.json`` in :data:`ALLOWED_CLASSES`.

    Raises
    ------
    ArtifactError
    """
    import io

    if data.startswith(_HDF5_MAGIC):
        raise ArtifactError(
            f"{label} is a legacy HDF5 (.h5) model, not a Keras 3 .keras file; refusing it"
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ArtifactError(f"{label} is not a Keras 3 .keras zip archive; refusing it") from None
    with zf:
        infos = zf.infolist()
        names = {i.filename for i in infos}
        extra = sorted(names - _KERAS_MEMBERS)
        if extra or "config.json" not in names or len(names) != len(infos):
            shown = ", ".join(extra[:3]) or "duplicate or missing members"
            raise ArtifactError(f"{label} has unexpected zip members ({shown}); refusing it")
        if sum(i.file_size for i in infos) > _MAX_UNZIPPED:
            raise ArtifactError(f"{label} unpacks to more than 4 GiB; refusing it")
        try:
            config = json.loads(zf.read("config.json"))
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise ArtifactError(f"{label} has an unreadable config.json ({exc})") from None

    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            cls = node.get("class_name")
            if cls is not None and cls not in ALLOWED_CLASSES:
                raise ArtifactError(
                    f"{label} uses {cls!r}, which lstmfc models never contain; "
                    "refusing it without loading"
                )
            module = node.get("module")
            if module is not None and not (
                isinstance(module, str) and (module == "keras" or module.startswith("keras."))
            ):
                raise ArtifactError(
                    f"{label} refers to module {module!r}; refusing it without loading"
                )
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def verify_bundle(
    run: Path, label: str | None = None, engine: str = "keras"
) -> tuple[dict[str, Any], list[bytes]]:
    """Check a run folder and return ``(manifest, verified bytes of each member network)``.

    Every file the manifest lists is read and checked against its size and sha256 (a
    modified ONNX or history file fails the bundle like a modified model file).
    ``engine="keras"`` returns the ``.keras`` members after
    :func:`check_keras_archive`; ``"onnx"`` their ``.onnx`` twins (checked further by
    :class:`lstmfc.network.onnx_runtime.OnnxNetwork` before ONNX Runtime reads them).

    Raises
    ------
    ArtifactError
        One line naming the first problem (see :mod:`lstmfc.bundles.bundle`); for ``"onnx"``
        also a bundle without ONNX twins.
    """
    label = label or str(run)
    manifest = read_manifest(run, label)
    names = [m["file"] for m in member_entries(manifest)]
    for model_name in names:
        check_member_name(model_name, label)
        if not model_name.endswith(".keras"):
            what = (
                "a legacy HDF5 (.h5) model"
                if model_name.endswith((".h5", ".hdf5"))
                else "not a Keras 3 .keras file"
            )
            raise ArtifactError(f"{label}/{model_name} is {what}; refusing it")
        if model_name not in manifest["files"]:
            raise ArtifactError(f"{label}/{MANIFEST_FILE} has no checksum for {model_name}")
    if engine == "onnx":
        wanted = onnx_files(manifest)
        if wanted is None:
            raise ArtifactError(f"{label} has no ONNX files; run `lstmfc export` to add them")
        for name in wanted:
            check_member_name(name, label)
            if not name.endswith(".onnx") or name not in manifest["files"]:
                raise ArtifactError(f"{label}/{MANIFEST_FILE} has no checksum for {name}")
    else:
        wanted = names
    blobs: dict[str, bytes] = {}
    for name, entry in manifest["files"].items():
        blob = read_verified(run, name, entry, label)
        if name in wanted:
            blobs[name] = blob
    if engine != "onnx":
        for name in names:
            check_keras_archive(blobs[name], f"{label}/{name}")
    return manifest, [blobs[name] for name in wanted]
