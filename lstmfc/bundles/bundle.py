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

Writing (:func:`lstmfc.bundles.save.save_bundle`): the run folder is built in a hidden
temporary folder beside it (:func:`lstmfc.core.atomic.atomic_dir`) and renamed into place
only when every file is written and fsynced; only then is ``latest`` switched
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
allowlist in :mod:`lstmfc.bundles.archive`; what runs the networks in
:mod:`lstmfc.bundles.engines` (Keras or ONNX Runtime); writing a bundle and adding ONNX
twins in :mod:`lstmfc.bundles.save` and :mod:`lstmfc.bundles.twins`; the package
versions recorded in :mod:`lstmfc.bundles.provenance`. This module holds the loaded
:class:`Bundle`, :func:`load_bundle` and :func:`check_compatible`: the read side, all
the daily ``predict`` needs.

Targets
-------
The network is trained on a scaled target whose scaling is fitted on the TRAINING
windows' targets only and stored in the manifest (``target``); the forecast head
(:mod:`lstmfc.heads`, recorded as ``head`` and ``head_options``) owns that scaling
and turns network output back into forecasts (:meth:`Bundle.forecast`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstmfc.bundles.archive import verify_bundle
from lstmfc.bundles.engines import ENGINES, auto_engine, engine_module
from lstmfc.bundles.manifest import (
    MANIFEST_FILE,
    member_entries,
    read_manifest,
)
from lstmfc.bundles.runs import (
    resolve_run,
    workspace_label,
)
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import ArtifactError, UsageError
from lstmfc.core.jsonclean import json_clean
from lstmfc.heads.registry import head_from_manifest


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
        engine = engine_module(self.engine)
        return [engine.predict(m, windows) for m in self.models]

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
        See :data:`lstmfc.bundles.engines.ENGINES`. With ``onnx`` (or ``auto`` choosing
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
    load = engine_module(chosen).load
    file_key = "onnx" if chosen == "onnx" else "file"
    nets = [
        load(data, f"{label}/{m[file_key]}", want, head.n_outputs)
        for m, data in zip(members, blobs, strict=True)
    ]
    bundle = Bundle(
        run_id=run.name, path=run, manifest=manifest, models=nets, head=head, engine=chosen
    )
    if prepared_meta is not None:
        check_compatible(bundle, prepared_meta)
    return bundle


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
