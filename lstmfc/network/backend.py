"""Keras backend plumbing: which backend, importing Keras, seeding, threads.

The one home of everything lstmfc does to the Keras runtime itself, so that the model
code (:mod:`lstmfc.network.models`), the lean training loop (:mod:`lstmfc.network.fastfit`) and the
backtest units (:mod:`lstmfc.backtest.unit`) share one implementation, and so that no
module but this one and :mod:`lstmfc.network.fastrnn` reaches into ``keras.src``.

Nothing here imports Keras, TensorFlow or torch at module import: ``lstmfc --help`` and
the numeric modules stay cheap. :func:`keras_module` imports Keras on the backend
chosen by :func:`backend_choice`.

Backend choice (``LSTMFC_BACKEND``, else ``KERAS_BACKEND``, else automatic): torch
when PyTorch is installed and the installed Keras is one the fused CPU kernels
(:mod:`lstmfc.network.fastrnn`) and the lean loop (:mod:`lstmfc.network.fastfit`) were checked
against, because that path trains the reference network 2-3x as fast as TensorFlow
on a CPU (docs/performance.md); otherwise TensorFlow, which is faster than Keras's
stock torch path on a CPU. When training would run on a slow fallback anyway (the
user forced torch on an unchecked Keras, or switched a fast part off),
:func:`fast_path_warning` names why and how to switch, and ``lstmfc train`` prints it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from lstmfc.core.errors import UsageError
from lstmfc.network import fastrnn

BACKENDS = ("torch", "tensorflow", "jax")
"""Keras 3 backends lstmfc can run on (``LSTMFC_BACKEND``; see :func:`backend_choice`)."""


# ------------------------------------------------------------------ choosing
def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _installed_keras_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keras")
    except PackageNotFoundError:  # pragma: no cover - keras is a dependency
        return None


def fast_keras_ok(keras_version: str | None = None) -> bool:
    """Whether this Keras version is one the fused kernels and lean loop were checked on."""
    v = keras_version or _installed_keras_version()
    if not v:
        return False
    lo, hi = fastrnn.SUPPORTED_KERAS
    return lo <= fastrnn._version_tuple(v)[:2] < hi


def backend_choice() -> str:
    """The Keras backend lstmfc will load, decided before Keras is first imported.

    ``LSTMFC_BACKEND`` (``torch``, ``tensorflow`` or ``jax``) wins; else an explicit
    ``KERAS_BACKEND``; else ``torch`` when PyTorch is installed and the installed Keras
    is in :data:`lstmfc.network.fastrnn.SUPPORTED_KERAS` (fused CPU kernels + lean loop, the
    fastest path measured on a CPU: docs/performance.md), else ``tensorflow`` (faster
    than Keras's stock torch path), else ``torch``.

    Raises
    ------
    UsageError
        ``LSTMFC_BACKEND`` names an unknown or uninstalled backend.
    """
    want = os.environ.get("LSTMFC_BACKEND", "").strip().lower()
    if want:
        if want not in BACKENDS:
            raise UsageError(f"LSTMFC_BACKEND must be one of {', '.join(BACKENDS)}, not {want!r}")
        if not installed(want):
            raise UsageError(
                f"LSTMFC_BACKEND={want} but the {want} package is not installed "
                f"(pip install {want}, or unset LSTMFC_BACKEND)"
            )
        return want
    explicit = os.environ.get("KERAS_BACKEND", "").strip().lower()
    if explicit:
        return explicit
    if installed("torch") and fast_keras_ok():
        return "torch"
    if installed("tensorflow"):
        return "tensorflow"
    return "torch"


def select_backend(name: str | None) -> str:
    """Pick the backend for this process (``--backend``); must run before Keras loads.

    ``None`` or ``""`` keeps :func:`backend_choice`'s default.

    Raises
    ------
    UsageError
        Unknown / uninstalled backend, or Keras already loaded with another one.
    """
    if name:
        name = name.strip().lower()
        if name not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {name!r}")
        if "keras" in sys.modules:
            current = sys.modules["keras"].backend.backend()
            if current != name:
                raise UsageError(
                    f"--backend {name}: Keras is already loaded with the {current} backend "
                    "in this process"
                )
        os.environ["LSTMFC_BACKEND"] = name
    return backend_choice()


def cpu_count() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# ------------------------------------------------------------------ importing
@contextlib.contextmanager
def _native_stderr_captured():
    """Send file descriptor 2 to a temporary file while TensorFlow loads.

    TensorFlow's C++ libraries print start-up notices ("Could not find cuda drivers
    ...") straight to fd 2 before any log level applies, which would clutter cron
    logs and ``--json`` runs. They are dropped on success and replayed if the import
    fails. ``LSTMFC_DEBUG=1`` leaves stderr alone.
    """
    if os.environ.get("LSTMFC_DEBUG", "") not in ("", "0"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            tmp.seek(0)
            os.write(2, tmp.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


_KERAS_READY: dict[str, bool] = {}


def keras_module():
    """Import and return :mod:`keras` on the backend of :func:`backend_choice`.

    * ``KERAS_BACKEND`` is set from :func:`backend_choice` before the first import
      (Keras reads it once per process);
    * torch backend: ``torch.set_num_threads`` to the usable cores and the fused CPU
      recurrent kernels of :mod:`lstmfc.network.fastrnn` are switched on;
    * tensorflow backend: TensorFlow's C++ start-up chatter is silenced
      (``TF_CPP_MIN_LOG_LEVEL=3`` unless already set).

    Raises
    ------
    UsageError
        ``LSTMFC_BACKEND`` is invalid (:func:`backend_choice`).
    """
    keras = sys.modules.get("keras")
    if keras is not None and _KERAS_READY.get("done"):
        return keras
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend_choice()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_captured():
        import keras

        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA probing happens here, also on fd 2
            tf.get_logger().setLevel("ERROR")  # e.g. retracing notices when loading many models
    if backend == "torch":
        import torch

        if torch.get_num_threads() != cpu_count():
            torch.set_num_threads(cpu_count())
        fastrnn.install()
    _KERAS_READY["done"] = True
    return keras


def backend_name() -> str:
    """The Keras backend in use (loads Keras)."""
    return keras_module().backend.backend()


def fast_path_warning() -> str | None:
    """One line when training will take a slow fallback path, else ``None`` (loads Keras).

    On the torch backend on a CPU, training is fast only with the fused kernels
    (:func:`lstmfc.network.fastrnn.status`): without them Keras's stock torch path trains the
    reference network at about half the speed of the TensorFlow backend; with them,
    ``Model.fit`` alone (lean loop switched off) still runs at about twice TensorFlow's
    speed (docs/performance.md), so only the missing kernels earn a warning.
    """
    keras = keras_module()
    if keras.backend.backend() != "torch":
        return None
    why = fastrnn.status()
    if why == "active":  # with the fused kernels even Model.fit beats TensorFlow here
        return None
    return (
        f"training on Keras's stock torch path ({why}), about half as fast as the "
        "TensorFlow backend on a CPU; set LSTMFC_BACKEND=tensorflow to switch"
    )


# ------------------------------------------------------------------ seeding
@contextlib.contextmanager
def tensorflow_left_unloaded():
    """Keep Keras from importing TensorFlow only to ask whether it is installed.

    Keras 3.15 tests ``tf.available`` (a lazy module that imports TensorFlow) in
    ``keras.utils.set_random_seed`` and whenever it serialises a config
    (``get_compile_config``, ``Model.save``; ``keras/src/saving/serialization_lib.py``)
    to seed TensorFlow or to recognise TensorFlow objects. On the torch and JAX
    backends that import costs ~470 MiB of memory and seconds of start-up for
    nothing: while TensorFlow is not imported no TensorFlow object can exist and
    nothing of ours draws from its generator. Inside this block the lazy module reads
    as unavailable if TensorFlow is not imported yet; outside it nothing changes.
    """
    try:
        from keras.src.utils import module_utils
    except ImportError:  # private layout changed: leave Keras as it is
        yield
        return
    lazy = getattr(module_utils, "tensorflow", None)
    if (
        "tensorflow" in sys.modules
        or lazy is None
        or getattr(lazy, "module", 1) is not None
        or getattr(lazy, "_available", 1) is not None
    ):
        yield
        return
    lazy._available = False
    try:
        yield
    finally:
        lazy._available = None


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and the backend (``keras.utils.set_random_seed``).

    With ``deterministic`` the same seed on the same CPU gives bit-identical weights:

    * torch backend: ``torch.use_deterministic_algorithms(True)`` (switched back off
      by a later call with ``deterministic=False``; PyTorch docs, "Reproducibility");
    * tensorflow backend: ``tf.config.experimental.enable_op_determinism()`` (cannot
      be switched off again in the same process; TensorFlow docs, "Determinism").

    On the torch and JAX backends TensorFlow is seeded only if something already
    imported it (:func:`tensorflow_left_unloaded`).
    """
    keras = keras_module()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        keras.utils.set_random_seed(int(seed))
    else:
        with tensorflow_left_unloaded():
            keras.utils.set_random_seed(int(seed))
    if backend == "torch":
        import torch

        torch.use_deterministic_algorithms(bool(deterministic))
    elif deterministic and backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def private_python_rng(seed: int):
    """Give Keras's default-seed draws a private ``random.Random(seed)`` while building.

    Keras draws the seed of every initializer and dropout layer created without an
    explicit seed from Python's process-global ``random`` module
    (``keras.src.random.seed_generator.make_default_seed``). On a Dask worker the
    event-loop thread draws from that same global generator (timer jitter, work
    stealing) while a backtest unit runs in an executor thread, so the weights would
    depend on timing. A private generator seeded with the unit's seed makes them a
    function of the seed alone.
    """
    import random

    try:
        from keras.src.random import seed_generator as sg
    except ImportError:  # pragma: no cover - other Keras layouts: keep the global one
        yield
        return
    saved = sg.python_random
    sg.python_random = random.Random(seed)
    try:
        yield
    finally:
        sg.python_random = saved


# ------------------------------------------------------------------ threads
def set_threads(n: int | None) -> None:
    """Use ``n`` CPU threads for the backend's intra-op work (``None``: all cores).

    torch: ``torch.set_num_threads``; tensorflow: intra/inter-op pools (only
    effective before TensorFlow runs its first op; later calls are ignored).
    """
    keras = keras_module()
    n = cpu_count() if not n else max(1, int(n))
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        torch.set_num_threads(n)
    elif backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except RuntimeError:  # TF already initialised in this process: keep its pools
            pass


def limit_threads(n: int | None) -> None:
    """Cap the backend's (and OpenMP's) CPU threads in a worker process.

    The environment variables only take effect before the backend starts its pools;
    :func:`set_threads` then sets torch's or TensorFlow's thread count.
    """
    if not n:
        return
    n = max(1, int(n))
    if "tensorflow" not in sys.modules and "torch" not in sys.modules:
        for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            os.environ[var] = str(n)
    set_threads(n)


def clear_session() -> None:
    """Free the backend's global state between independent models (``clear_session``)."""
    keras = keras_module()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # "N out of the last M calls ... retracing": noise
    keras.backend.clear_session()
