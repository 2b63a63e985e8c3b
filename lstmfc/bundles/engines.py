"""What runs a bundle's member networks: Keras or ONNX Runtime, and how to choose.

:data:`ENGINES` names them. Each engine is a module of this package with two
functions, ``load(data, label, shape, n_outputs)`` (a verified member's bytes -> a member
network, its input and output shapes checked) and ``predict(member, windows)``
(``(n, lookback, n_features)`` -> raw output ``(n, n_outputs)``, float64):
:mod:`lstmfc.bundles.keras_engine` (Keras, ``.keras`` files) and
:mod:`lstmfc.bundles.onnx_engine` (ONNX Runtime, the ``.onnx`` twins). An engine module is
imported when a bundle first runs on it (:func:`engine_module`, a registry like the
heads'), so the daily ``predict`` on ONNX Runtime never imports Keras, its training
loop or the exporter.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

from lstmfc.bundles.manifest import onnx_files
from lstmfc.core.errors import UsageError

ENGINES = ("keras", "onnx", "auto")
"""How :func:`lstmfc.bundles.bundle.load_bundle` runs the networks: Keras (``.keras``
files), ONNX Runtime (``.onnx`` twins; no Keras, TensorFlow or torch import), or
``auto`` (ONNX when every member has its twin and onnxruntime is installed, else Keras)."""

_MODULES = {"keras": "lstmfc.bundles.keras_engine", "onnx": "lstmfc.bundles.onnx_engine"}


def auto_engine(manifest: dict[str, Any]) -> str:
    """``onnx`` when every member has its ONNX twin and onnxruntime is installed, else
    ``keras`` (what ``engine="auto"`` of :data:`ENGINES` picks for ``manifest``)."""
    if onnx_files(manifest) is None or importlib.util.find_spec("onnxruntime") is None:
        return "keras"
    return "onnx"


def engine_module(engine: str) -> ModuleType:
    """The module of engine ``engine`` (``keras`` or ``onnx``), imported on first use.

    Raises
    ------
    UsageError
        An engine that is not ``keras`` or ``onnx``.
    """
    try:
        return importlib.import_module(_MODULES[engine])
    except KeyError:
        raise UsageError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}") from None
