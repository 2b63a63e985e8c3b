"""Provenance of a bundle: the versions of the packages it was trained with.

Recorded in the manifest (``versions``) so that a bundle loaded years later says which
Python, Keras backend, training loop and library versions produced it.
"""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from lstmfc.network import fastfit, fastrnn


def package_versions() -> dict[str, str]:
    """Versions of the packages a bundle depends on (recorded in the manifest).

    Returns ``python``, each package's version (or ``not installed``) and, once Keras is
    imported, its backend (``keras_backend``), the training loop (``training_loop``)
    and, on torch, whether the fused CPU RNN kernels are active (``fused_cpu_rnn``).
    """
    out = {"python": platform.python_version()}
    keras = sys.modules.get("keras")
    if keras is not None:
        out["keras_backend"] = keras.backend.backend()
        if out["keras_backend"] == "torch":
            out["fused_cpu_rnn"] = fastrnn.status()
        loop = fastfit.status()
        out["training_loop"] = (
            "lstmfc.network.fastfit" if loop == "active" else f"Model.fit ({loop})"
        )
    for name in (
        "lstmfc",
        "keras",
        "tensorflow",
        "torch",
        "jax",
        "numpy",
        "pandas",
        "scikit-learn",
        "h5py",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
