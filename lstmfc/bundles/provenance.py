"""Provenance of a bundle: the versions of the packages it was trained with.

Recorded in the manifest (``versions``) so that a bundle loaded years later says which
Python, Keras backend, training loop and library versions produced it.
"""

from __future__ import annotations

import sys


def package_versions() -> dict[str, str]:
    """Versions of the packages a bundle depends on (recorded in the manifest)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    keras = sys.modules.get("keras")
    if keras is not None:
        out["keras_backend"] = keras.backend.backend()
        if out["keras_backend"] == "torch":
            from lstmfc.network import fastrnn

            out["fused_cpu_rnn"] = fastrnn.status()
        from lstmfc.network import fastfit

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
