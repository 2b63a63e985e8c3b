"""The Keras engine of a bundle (:mod:`lstmfc.bundles.engines`): ``.keras`` members.

A member is loaded from a private copy of its verified bytes with ``safe_mode=True``
and ``compile=False`` (:func:`lstmfc.network.models.load_model_file`), so the file
cannot be swapped between the checksum check and the load; its input and output shapes
must be those of the manifest.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from lstmfc.bundles.manifest import MODEL_FILE
from lstmfc.core.errors import ArtifactError
from lstmfc.network import models


def load(data: bytes, label: str, shape: tuple, n_outputs: int):
    """A verified ``.keras`` member, loaded and its shapes checked.

    Parameters
    ----------
    data : bytes
        The member file's verified bytes.
    label : str
        The file as named in messages.
    shape : tuple
        ``(None, lookback, n_features)``, the manifest's input shape.
    n_outputs : int
        The head's outputs per window.

    Raises
    ------
    ArtifactError
        Keras refuses the file, or its shapes differ from the manifest's.
    """
    with tempfile.TemporaryDirectory(prefix="lstmfc-load-") as d:
        private = Path(d) / MODEL_FILE
        private.write_bytes(data)
        try:
            model = models.load_model_file(private)
        except ArtifactError as exc:
            raise ArtifactError(str(exc).replace(str(private), label)) from None
    got = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    out = (None, n_outputs)
    if got != shape or tuple(model.output_shape) != out:
        raise ArtifactError(
            f"{label} has input {got} / output {model.output_shape}, "
            f"but the manifest says {shape} / {out}"
        )
    return model


def predict(member, windows) -> np.ndarray:
    """Raw output ``(n, n_outputs)`` of a Keras member (:func:`lstmfc.network.models.predict`)."""
    return models.predict(member, windows)
