"""The ONNX Runtime engine of a bundle (:mod:`lstmfc.bundles.engines`): ``.onnx`` twins.

A member is an :class:`lstmfc.network.onnx_runtime.OnnxNetwork` built from the twin's
verified bytes (checked against an operator, domain and external-data allowlist before
ONNX Runtime reads them); nothing imports Keras, TensorFlow or torch.
"""

from __future__ import annotations

import numpy as np

from lstmfc.network.onnx_runtime import OnnxNetwork


def load(data: bytes, label: str, shape: tuple, n_outputs: int) -> OnnxNetwork:
    """A verified ``.onnx`` twin as a network of input ``shape`` = ``(None, lookback,
    n_features)`` and ``n_outputs`` outputs.

    Raises
    ------
    ArtifactError
        The bytes fail the allowlist, or the graph's signature differs from ``shape``.
    """
    return OnnxNetwork(data, lookback=shape[1], n_features=shape[2], k=n_outputs, label=label)


def predict(member: OnnxNetwork, windows) -> np.ndarray:
    """Raw output ``(n, n_outputs)`` of an ONNX member."""
    return member.predict(windows)
