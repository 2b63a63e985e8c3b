"""Model bundles: ``models/<TICKER>/<run_id>/`` with ``model.keras``, ``manifest.json``
and ``history.png``; checksums, an atomic ``latest`` pointer and safe loading.

Layout::

    models/<TICKER>/
        20250301T143015Z-3fa9c1/      one training run (never overwritten)
            model.keras               Keras 3 zip: config.json, metadata.json, model.weights.h5
            model.onnx                its ONNX twin (lstmfc.bundles.twins), where exportable
            manifest.json             everything needed to trust and reuse the run (manifest.py)
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

The parts live beside this module: run ids, listing and the ``latest`` pointer in
:mod:`lstmfc.bundles.runs`; the manifest's schema and checks in
:mod:`lstmfc.bundles.manifest`; checksum-verified reading and the ``.keras`` class
allowlist in :mod:`lstmfc.bundles.archive`; the ONNX twins and the engine choice in
:mod:`lstmfc.bundles.twins`; the package versions recorded in
:mod:`lstmfc.bundles.provenance`. This module holds the loaded :class:`Bundle`,
:func:`save_bundle`, :func:`load_bundle`, :func:`export_bundle` and
:func:`check_compatible`.

Targets
-------
The network is trained on a scaled target whose scaling is fitted on the TRAINING
windows' targets only and stored in the manifest (``target``); the forecast head
(:mod:`lstmfc.heads`, recorded as ``head`` and ``head_options``) owns that scaling
and turns network output back into forecasts (:meth:`Bundle.forecast`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstmfc.bundles.archive import verify_bundle
from lstmfc.bundles.manifest import (
    HISTORY_FILE,
    MANIFEST_FILE,
    MANIFEST_SCHEMA,
    MODEL_FILE,
    file_entry,
    manifest_text,
    member_entries,
    member_file,
    onnx_files,
    read_manifest,
)
from lstmfc.bundles.runs import (
    LATEST,
    new_run_id,
    resolve_run,
    validate_run_id,
    workspace_label,
)
from lstmfc.bundles.twins import ENGINES, add_twins, auto_engine, export_member
from lstmfc.core.atomic import atomic_dir, atomic_symlink
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import ArtifactError, UsageError
from lstmfc.core.jsonclean import json_clean
from lstmfc.core.plotting import write_history_png
from lstmfc.heads.registry import head_from_manifest
from lstmfc.network import models
from lstmfc.network.onnx_runtime import OnnxNetwork


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
        return [models.predict(m, windows) for m in self.models]

    def predict_raw(self, windows):
        """The ensemble's output: the mean of the members' outputs, ``(n, n_outputs)``.

        Averaging happens in the network's output units (a standardised log return,
        a probability ...), so a seed ensemble of a price head forecasts
        ``close[t] * exp(mean + std * mean_i z_i)`` (Lakshminarayanan, Pritzel &
        Blundell 2017 average ensemble members' predictions the same way).
        """
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
        See :data:`lstmfc.bundles.twins.ENGINES`. With ``onnx`` (or ``auto`` choosing
        it) nothing imports Keras, TensorFlow or torch.

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
    t = normalize_ticker(ticker)
    run = resolve_run(ws, t, run_id)
    label = workspace_label(ws, run)
    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    chosen = auto_engine(read_manifest(run, label)) if engine == "auto" else engine
    manifest, blobs = verify_bundle(run, label, chosen)
    if normalize_ticker(manifest["ticker"]) != t:
        raise ArtifactError(f"{label} was trained for {manifest['ticker']}, not {t}")
    head = head_from_manifest(manifest)  # checked by verify_bundle
    prep = manifest["prepare"]
    try:
        want = (None, int(prep["lookback"]), len(prep["feature_names"]))
    except (KeyError, TypeError, ValueError):
        raise ArtifactError(f"{label}/{MANIFEST_FILE} is malformed (prepare entry)") from None
    members = member_entries(manifest)
    if chosen == "onnx":
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
