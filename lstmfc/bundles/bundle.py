"""Model bundles: ``models/<TICKER>/<run_id>/`` with ``model.keras``, ``manifest.json``
and ``history.png``; checksums, an atomic ``latest`` pointer and safe loading.

Layout::

    models/<TICKER>/
        20250301T143015Z-3fa9c1/      one training run (never overwritten)
            model.keras               Keras 3 zip: config.json, metadata.json, model.weights.h5
            manifest.json             everything needed to trust and reuse the run (below)
            history.png               loss / val_loss per epoch
        latest -> 20250301T143015Z-3fa9c1   symlink, switched atomically

Writing (:func:`save_bundle`): the run folder is built in a hidden temporary folder
beside it (:func:`lstmfc.core.atomic.atomic_dir`) and renamed into place only when every
file is written and fsynced; only then is ``latest`` switched
(:func:`lstmfc.core.atomic.atomic_symlink`). An interruption (Ctrl-C, a kill, a full disk)
at any moment leaves the previous ``latest`` bundle untouched and usable.

Reading (:func:`load_bundle`) refuses, with one line each:

* a run id with path separators, ``..`` or other odd characters; a ``latest`` that is
  not a symlink to a run folder directly inside ``models/<TICKER>/``; a run folder
  that is a symlink;
* a missing, unparsable or incomplete ``manifest.json``;
* a model file that is not a regular ``.keras`` file inside the bundle: an ``.h5``
  (also an HDF5 file renamed ``.keras``), a directory, any symlink (one leaving the
  bundle is named as such), a zip with members other than Keras's three;
* a file whose sha256 or size differs from the manifest;
* a model config using any layer, initializer, regularizer or optimizer class that
  lstmfc never writes (an allowlist, checked before Keras sees the file), e.g. a
  ``Lambda`` layer;
* anything Keras itself refuses with ``safe_mode=True`` (which never deserialises a
  Python lambda) - Keras's message is squeezed onto one line.

The model is loaded from a private copy of the bytes whose checksum was verified, so
the file cannot be swapped between the check and the load.

Targets
-------
The network is trained on a scaled target whose scaling is fitted on the TRAINING
windows' targets only and stored in the manifest (``target``); the forecast head
(:mod:`lstmfc.heads`, recorded as ``head`` and ``head_options``) owns that scaling
and turns network output back into forecasts (:meth:`Bundle.forecast`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lstmfc.core.atomic import atomic_dir, atomic_symlink, sha256_file
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import ArtifactError, UsageError

MODEL_FILE = "model.keras"
MANIFEST_FILE = "manifest.json"
HISTORY_FILE = "history.png"
LATEST = "latest"
MANIFEST_SCHEMA = 2
"""Schema written now. 2 adds ``members`` (seed ensembles) and ``head_options``."""
READABLE_SCHEMAS = (1, 2)
"""Schemas this lstmfc reads (1: one network, ``price_target`` at the top level)."""

_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
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


# ------------------------------------------------------------------ helpers
def _rel(ws: Workspace | None, path: Path) -> str:
    if ws is not None:
        with contextlib.suppress(ValueError):
            return path.relative_to(ws.home).as_posix()
    return str(path)


def json_clean(obj: Any) -> Any:
    """``obj`` with NaN/inf floats turned into None and tuples into lists (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # NumPy scalars
        return json_clean(obj.item())
    return obj


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


# ------------------------------------------------------------------ history plot
def write_history_png(history: dict[str, list[float]], path: Path, title: str) -> None:
    """Plot loss and val_loss per epoch (matplotlib's Agg canvas, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for key, label in (("loss", "training loss"), ("val_loss", "validation loss")):
        values = history.get(key) or []
        if values:
            ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=label)
    val = [v for v in history.get("val_loss") or [] if v is not None and math.isfinite(v)]
    if val:
        best = history["val_loss"].index(min(val)) + 1
        ax.axvline(best, color="grey", ls="--", lw=1, label=f"best epoch {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})


# ------------------------------------------------------------------ writing
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
        Default :func:`new_run_id`.
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
    from lstmfc.network import models

    t = normalize_ticker(ticker)
    root = ws.model_root(t)
    run_id = validate_run_id(run_id or new_run_id())
    final = root / run_id
    if final.exists() or final.is_symlink():
        raise ArtifactError(f"model run {run_id} already exists in {_rel(ws, root)}")
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
            onnx_name = _export_member(net, tmp, i, member)
            if onnx_name:
                written.append(onnx_name)
        write_history_png(
            history,
            tmp / HISTORY_FILE,
            f"{t} {manifest.get('cell', '')} {manifest.get('head', '')} - {run_id}",
        )
        files = {
            name: {"sha256": sha256_file(tmp / name), "bytes": (tmp / name).stat().st_size}
            for name in (*written, HISTORY_FILE)
        }
        doc = {
            "schema": MANIFEST_SCHEMA,
            "run_id": run_id,
            "ticker": t,
            **{k: v for k, v in manifest.items() if k not in ("schema", "run_id", "ticker")},
            "members": members,
            "model_file": MODEL_FILE,
            "files": files,
        }
        text = json.dumps(json_clean(doc), indent=2, allow_nan=False) + "\n"
        (tmp / MANIFEST_FILE).write_text(text, encoding="utf-8")
    if set_latest:
        atomic_symlink(root / LATEST, run_id)
    return final


# ------------------------------------------------------------------ reading
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
                raise ArtifactError(f"{_rel(ws, link)} is not a symlink; refusing it")
            raise ArtifactError(f"no trained model for {t}; run `lstmfc train {t}`")
        target = os.readlink(link)
        if not _RUN_ID_RE.match(target) or ".." in target or "/" in target:
            raise ArtifactError(
                f"{_rel(ws, link)} points to {target!r}, not a run folder inside "
                f"{_rel(ws, root)}; refusing it"
            )
        run_id = target
    else:
        validate_run_id(run_id)
    run = root / run_id
    if run.is_symlink():
        raise ArtifactError(f"model run folder {_rel(ws, run)} is a symlink; refusing it")
    if not run.is_dir():
        known = list_runs(ws, t)
        hint = f"; runs: {', '.join(known[-5:])}" if known else f"; run `lstmfc train {t}`"
        raise ArtifactError(f"no model run {run_id} for {t}{hint}")
    if Path(os.path.realpath(run)).parent != Path(os.path.realpath(root)):
        raise ArtifactError(f"model run folder {_rel(ws, run)} leaves {_rel(ws, root)}")
    return run


def _read_manifest(run: Path, label: str) -> dict[str, Any]:
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
    from lstmfc.heads.registry import head_from_manifest

    try:
        head_from_manifest(doc).check_scaling(doc["target"])
    except ValueError as exc:
        raise ArtifactError(f"{label}/{MANIFEST_FILE} is malformed ({exc})") from None
    members = doc.get("members", [{"file": doc["model_file"]}])
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


def _check_member_name(name: str, label: str) -> None:
    if name in ("", ".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise ArtifactError(f"{label}/{MANIFEST_FILE} names file {name!r} outside the bundle")


def _read_verified(run: Path, name: str, entry: dict[str, Any], label: str) -> bytes:
    """Bytes of bundle file ``name`` after the regular-file and checksum checks."""
    _check_member_name(name, label)
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


def member_file(i: int, suffix: str = ".keras") -> str:
    """File name of ensemble member ``i`` (0-based): ``model.keras``, ``model-2.keras`` ...
    (``suffix=".onnx"``: its ONNX twin)."""
    return f"model{suffix}" if i == 0 else f"model-{i + 1}{suffix}"


def _export_member(net, folder: Path, i: int, member: dict[str, Any]) -> str | None:
    """Write member ``i``'s ONNX twin into ``folder`` and record it in ``member``.

    A network the exporter does not cover (:func:`lstmfc.network.onnx_export.onnx_bytes`) gets
    ``onnx: None`` and the reason; ``predict`` then falls back to Keras for it.
    """
    from lstmfc.network.onnx_export import export_onnx

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


@dataclass
class Bundle:
    """A verified, loaded model bundle.

    Attributes
    ----------
    run_id : str
    path : Path
        The run folder.
    manifest : dict
        ``manifest.json``.
    models : list of keras.Model or lstmfc.network.onnx_runtime.OnnxNetwork
        The member networks (one unless trained with ``--ensemble N``): Keras models
        loaded with ``safe_mode=True, compile=False``, or their ONNX twins.
    head : lstmfc.heads.Head
        The forecast head the bundle was trained with (decodes its output).
    engine : {"keras", "onnx"}
        What runs the networks.
    """

    run_id: str
    path: Path
    manifest: dict[str, Any]
    models: list[Any]
    head: Any
    engine: str = "keras"

    @property
    def model(self):
        """The first (or only) member network."""
        return self.models[0]

    @property
    def ticker(self) -> str:
        return self.manifest["ticker"]

    @property
    def lookback(self) -> int:
        return int(self.manifest["prepare"]["lookback"])

    @property
    def horizon(self) -> int:
        return int(self.manifest["prepare"]["horizon"])

    @property
    def target(self) -> dict[str, Any]:
        """Target scaling fitted on the training windows (:meth:`Head.fit_scaling`)."""
        return self.manifest["target"]

    def member_raw(self, windows) -> list:
        """Each member's output ``(n, n_outputs)`` for ``windows`` ``(n, lookback, n_features)``."""
        if self.engine == "onnx":
            return [m.predict(windows) for m in self.models]
        from lstmfc.network import models

        return [models.predict(m, windows) for m in self.models]

    def predict_raw(self, windows):
        """The ensemble's output: the mean of the members' outputs, ``(n, n_outputs)``.

        Averaging happens in the network's output units (a standardised log return,
        a probability ...), so a seed ensemble of a price head forecasts
        ``close[t] * exp(mean + std * mean_i z_i)`` (Lakshminarayanan, Pritzel &
        Blundell 2017 average ensemble members' predictions the same way).
        """
        import numpy as np

        outs = self.member_raw(windows)
        return outs[0] if len(outs) == 1 else np.mean(np.stack(outs), axis=0)

    def forecast(self, windows, targets):
        """Forecasts in the head's natural units (currency, P(up) ...) for ``windows``:
        ``(n,)``, or ``(n, steps)`` for a path (:meth:`lstmfc.heads.Head.forecast`).

        ``targets``: the windows' target rows (only their ``close`` at ``t`` is read).
        """
        return self.head.forecast(
            self.target, self.predict_raw, windows, targets, self.manifest["prepare"]
        )


ENGINES = ("keras", "onnx", "auto")
"""How :func:`load_bundle` runs the networks: Keras (``.keras`` files), ONNX Runtime
(``.onnx`` twins; no Keras, TensorFlow or torch import), or ``auto`` (ONNX when every
member has its twin and onnxruntime is installed, else Keras)."""


def onnx_files(manifest: dict[str, Any]) -> list[str] | None:
    """The members' ONNX file names, or ``None`` if any member has none (older bundles)."""
    members = manifest.get("members") or [{}]
    names = [m.get("onnx") for m in members]
    return names if all(isinstance(n, str) for n in names) else None


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
        One line naming the first problem (see the module docstring); for ``"onnx"``
        also a bundle without ONNX twins.
    """
    label = label or str(run)
    manifest = _read_manifest(run, label)
    names = [m["file"] for m in manifest.get("members", [{"file": manifest["model_file"]}])]
    for model_name in names:
        _check_member_name(model_name, label)
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
            _check_member_name(name, label)
            if not name.endswith(".onnx") or name not in manifest["files"]:
                raise ArtifactError(f"{label}/{MANIFEST_FILE} has no checksum for {name}")
    else:
        wanted = names
    blobs: dict[str, bytes] = {}
    for name, entry in manifest["files"].items():
        blob = _read_verified(run, name, entry, label)
        if name in wanted:
            blobs[name] = blob
    if engine != "onnx":
        for name in names:
            check_keras_archive(blobs[name], f"{label}/{name}")
    return manifest, [blobs[name] for name in wanted]


def _auto_engine(manifest: dict[str, Any]) -> str:
    """``onnx`` when every member has its ONNX twin and onnxruntime is installed."""
    import importlib.util

    if onnx_files(manifest) is None or importlib.util.find_spec("onnxruntime") is None:
        return "keras"
    return "onnx"


def load_bundle(
    ws: Workspace,
    ticker: str,
    run_id: str | None = None,
    prepared_meta: dict[str, Any] | None = None,
    engine: str = "keras",
) -> Bundle:
    """Resolve, verify and load a bundle (used by evaluate and predict).

    Parameters
    ----------
    ws : Workspace
    ticker : str
    run_id : str, optional
        A run folder name; default (or ``"latest"``) the ``latest`` pointer.
    prepared_meta : dict, optional
        The current ``prepare.json``; if given, :func:`check_compatible` is applied.
    engine : {"keras", "onnx", "auto"}
        See :data:`ENGINES`. With ``onnx`` (or ``auto`` choosing it) nothing imports
        Keras, TensorFlow or torch.

    Returns
    -------
    Bundle
        ``engine`` says which one runs its networks.

    Raises
    ------
    ArtifactError
        Missing, tampered, malformed, unsafe or incompatible bundle (one line).
    UsageError
        Malformed ``run_id`` or engine.
    """
    from lstmfc.heads.registry import head_from_manifest

    t = normalize_ticker(ticker)
    run = resolve_run(ws, t, run_id)
    label = _rel(ws, run)
    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    chosen = _auto_engine(_read_manifest(run, label)) if engine == "auto" else engine
    manifest, blobs = verify_bundle(run, label, chosen)
    if normalize_ticker(manifest["ticker"]) != t:
        raise ArtifactError(f"{label} was trained for {manifest['ticker']}, not {t}")
    head = head_from_manifest(manifest)  # checked by verify_bundle
    prep = manifest["prepare"]
    try:
        want = (None, int(prep["lookback"]), len(prep["feature_names"]))
    except (KeyError, TypeError, ValueError):
        raise ArtifactError(f"{label}/{MANIFEST_FILE} is malformed (prepare entry)") from None
    members = manifest.get("members", [{"file": manifest["model_file"]}])
    if chosen == "onnx":
        from lstmfc.network.onnx_runtime import OnnxNetwork

        nets = [
            OnnxNetwork(
                data,
                lookback=want[1],
                n_features=want[2],
                k=head.n_outputs,
                label=f"{label}/{m['onnx']}",
            )
            for m, data in zip(members, blobs, strict=True)
        ]
    else:
        nets = [
            _load_keras(data, f"{label}/{m['file']}", want, head.n_outputs)
            for m, data in zip(members, blobs, strict=True)
        ]
    bundle = Bundle(
        run_id=run.name, path=run, manifest=manifest, models=nets, head=head, engine=chosen
    )
    if prepared_meta is not None:
        check_compatible(bundle, prepared_meta)
    return bundle


def _load_keras(data: bytes, label: str, want: tuple, n_outputs: int):
    """A verified ``.keras`` member loaded from a private copy, its shapes checked."""
    from lstmfc.network import models

    with tempfile.TemporaryDirectory(prefix="lstmfc-load-") as d:
        private = Path(d) / MODEL_FILE
        private.write_bytes(data)
        try:
            model = models.load_model_file(private)
        except ArtifactError as exc:
            raise ArtifactError(str(exc).replace(str(private), label)) from None
    got = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    out = (None, n_outputs)
    if got != want or tuple(model.output_shape) != out:
        raise ArtifactError(
            f"{label} has input {got} / output {model.output_shape}, "
            f"but the manifest says {want} / {out}"
        )
    return model


def export_bundle(ws: Workspace, ticker: str, run_id: str | None = None) -> dict[str, Any]:
    """Add the ONNX twin of every member network to an existing bundle.

    Loads the bundle with Keras (all checks), exports each member
    (:func:`lstmfc.network.onnx_export.export_onnx`, checked against Keras on probe windows),
    writes each ``.onnx`` file atomically, then the re-hashed manifest atomically: an
    interruption leaves the old manifest in force (an unlisted file is never read).
    A bundle that already has its ONNX twins is left as it is.

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
    from lstmfc.core.atomic import atomic_path, atomic_write_text
    from lstmfc.network.onnx_export import export_onnx

    bundle = load_bundle(ws, ticker, run_id)
    manifest = json.loads(json.dumps(bundle.manifest))
    out = {"ticker": bundle.ticker, "run_id": bundle.run_id, "path": _rel(ws, bundle.path)}
    if onnx_files(manifest) is not None:
        names = onnx_files(manifest)
        return {
            **out,
            "status": "already exported",
            "files": {n: manifest["files"][n] for n in names},
        }
    members = manifest.get("members") or [{"file": manifest["model_file"]}]
    for i, (net, member) in enumerate(zip(bundle.models, members, strict=True)):
        name = member_file(i, ".onnx")
        with atomic_path(bundle.path / name) as tmp:
            export_onnx(net, tmp)
        member["onnx"] = name
        member.pop("onnx_note", None)
        manifest["files"][name] = {
            "sha256": sha256_file(bundle.path / name),
            "bytes": (bundle.path / name).stat().st_size,
        }
    manifest["members"] = members
    text = json.dumps(json_clean(manifest), indent=2, allow_nan=False) + "\n"
    atomic_write_text(bundle.path / MANIFEST_FILE, text)
    names = [m["onnx"] for m in members]
    return {**out, "status": "exported", "files": {n: manifest["files"][n] for n in names}}


def check_compatible(bundle: Bundle | dict[str, Any], prepared_meta: dict[str, Any]) -> None:
    """Refuse a model trained on differently prepared data.

    Compares lookback, horizon, feature sets, feature names and the train-only
    scaler (feature names, ``data_min``, ``data_max``, ``feature_range``) of the
    manifest's ``prepare`` entry with ``prepared_meta`` (the current ``prepare.json``).

    Raises
    ------
    ArtifactError
        Naming the first difference and the fix.
    """
    manifest = bundle.manifest if isinstance(bundle, Bundle) else bundle
    was = manifest.get("prepare") or {}
    run_id = manifest.get("run_id", "?")
    t = manifest.get("ticker", prepared_meta.get("ticker", "?"))

    def norm(v):
        return json.loads(json.dumps(json_clean(v)))

    checks = [(k, was.get(k), prepared_meta.get(k)) for k in ("lookback", "horizon")]
    checks += [(k, was.get(k), prepared_meta.get(k)) for k in ("features", "feature_names")]
    s_was, s_now = was.get("scaler") or {}, prepared_meta.get("scaler") or {}
    for k in ("feature_names", "data_min", "data_max", "feature_range"):
        checks.append((f"scaler {k}", s_was.get(k), s_now.get(k)))
    for key, a, b in checks:
        if norm(a) != norm(b):
            raise ArtifactError(
                f"model {run_id} was trained with {key} {_short(a)} but the prepared data for "
                f"{t} has {_short(b)}; retrain with `lstmfc train {t}` (or re-run "
                f"`lstmfc prepare {t}` with the model's settings)"
            )


def _short(v: Any) -> str:
    if isinstance(v, list):
        body = ",".join(f"{x:.6g}" if isinstance(x, float) else str(x) for x in v[:4])
        return f"[{body}{',...' if len(v) > 4 else ''}]"
    return str(v)
