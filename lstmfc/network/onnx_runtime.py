"""Portable inference: an lstmfc network's ONNX graph run with ONNX Runtime (predict side).

:class:`OnnxNetwork` imports only NumPy and ``onnxruntime`` (never Keras, TensorFlow,
PyTorch or the ``onnx`` package, and not :mod:`lstmfc.network.onnx_export`), so the daily
``predict`` of a cron job stays light. It checks the bytes with the protobuf walker of
:mod:`lstmfc.network.onnx_inspect` (:func:`~lstmfc.network.onnx_inspect.inspect_onnx`)
before ONNX Runtime reads them, and runs them in a single-threaded ONNX Runtime session
on the CPU execution provider only, accepting only the ONNX protobuf format (ONNX
Runtime docs, "Thread management", "Tune performance"). The graphs come from
:func:`lstmfc.network.onnx_export.export_onnx`.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from lstmfc.core.errors import ArtifactError
from lstmfc.network.onnx_inspect import inspect_onnx

DEFAULT_THREADS = 1
"""ONNX Runtime intra-op threads: 1. Measured on the reference network (2-core machine):
2 threads were no faster (one window 0.33 ms vs 0.51 ms median; 1,000 windows 0.245 vs
0.260 ms per window), and a cron job should not occupy a second core."""

DEFAULT_BATCH = 256
"""Windows per ``session.run`` call: bounds the LSTM's ``(lookback, batch, units)``
intermediate (60 x 256 x 128 float32 = 7.9 MB)."""


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_dynamic(dim: Any) -> bool:
    return dim is None or isinstance(dim, str)


def _fmt_shape(shape: Any) -> str:
    return "(" + ", ".join("batch" if _is_dynamic(d) else str(d) for d in shape) + ")"


class OnnxNetwork:
    """An lstmfc network loaded from checked ONNX bytes into ONNX Runtime.

    Imports only NumPy and ``onnxruntime`` (never Keras, TensorFlow or PyTorch).

    Parameters
    ----------
    data : bytes
        The ``.onnx`` file's bytes, already checksum-verified by the caller (loading
        from bytes means the file cannot be swapped between the check and the load).
    lookback, n_features : int
        Expected input shape ``(batch, lookback, n_features)`` (from the manifest).
    k : int
        Expected outputs per window (1 for both of lstmfc's heads).
    label : str
        How the file is named in error messages.
    threads : int
        ONNX Runtime intra-op threads (default :data:`DEFAULT_THREADS`).
    batch_size : int
        Windows per ``session.run`` call (default :data:`DEFAULT_BATCH`).

    Session options (ONNX Runtime docs, "Thread management" and "Tune performance"):
    ``intra_op_num_threads=threads``, ``inter_op_num_threads=1``, sequential
    execution, no spin-waiting, CPU execution provider only, ONNX-protobuf format
    only, log severity "error" (nothing on stderr for cron). The CPU memory arena stays
    on (ONNX Runtime's default): measured on the reference network over 5,000 windows
    it gave a lower peak RSS (106-107 MiB against 120-142 MiB without it) and equal
    or better speed.

    Raises
    ------
    ArtifactError
        One line: the bytes fail :func:`inspect_onnx`, ONNX Runtime refuses them,
        or the input / output signature is not ``(batch, lookback, n_features)``
        float32 -> ``(batch, k)`` float32.
    """

    def __init__(
        self,
        data: bytes,
        *,
        lookback: int,
        n_features: int,
        k: int = 1,
        label: str = "model.onnx",
        threads: int = DEFAULT_THREADS,
        batch_size: int = DEFAULT_BATCH,
    ):
        self.label = label
        self.lookback, self.n_features, self.k = int(lookback), int(n_features), int(k)
        self.batch_size = max(1, int(batch_size))
        self.summary = inspect_onnx(data, label)
        self.sha256 = hashlib.sha256(data).hexdigest()
        t0 = time.perf_counter()
        self._session = _open_session(bytes(data), label, max(1, int(threads)))
        self.load_seconds = time.perf_counter() - t0
        self._check_signature()

    @classmethod
    def from_path(cls, path: str | os.PathLike, **kwargs) -> OnnxNetwork:
        """Read ``path`` and build the network (no checksum: for tests and tools).

        Raises
        ------
        ArtifactError
            Unreadable file, or anything :class:`OnnxNetwork` refuses.
        """
        path = Path(path)
        kwargs.setdefault("label", str(path))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"cannot read {path}: {_one_line(exc)}") from None
        return cls(data, **kwargs)

    def _check_signature(self) -> None:
        ins, outs = self._session.get_inputs(), self._session.get_outputs()
        want = f"(batch, {self.lookback}, {self.n_features}) float32 -> (batch, {self.k}) float32"
        got_in = ", ".join(f"{_fmt_shape(i.shape)} {i.type}" for i in ins)
        got_out = ", ".join(f"{_fmt_shape(o.shape)} {o.type}" for o in outs)
        ok = (
            len(ins) == 1
            and len(outs) == 1
            and ins[0].type == "tensor(float)"
            and outs[0].type == "tensor(float)"
            and len(ins[0].shape) == 3
            and len(outs[0].shape) == 2
            and _is_dynamic(ins[0].shape[0])
            and _is_dynamic(outs[0].shape[0])
            and list(ins[0].shape[1:]) == [self.lookback, self.n_features]
            and outs[0].shape[1] == self.k
        )
        if not ok:
            raise ArtifactError(
                f"{self.label} maps {got_in or 'no input'} -> {got_out or 'no output'}, "
                f"but the manifest says {want}"
            )
        self._input, self._output = ins[0].name, outs[0].name

    def predict(self, windows) -> np.ndarray:
        """Run the network on windows.

        Parameters
        ----------
        windows : array_like, shape (n, lookback, n_features)
            Scaled exactly as for the Keras network; cast to float32.

        Returns
        -------
        ndarray, shape (n, k), float64
            Raw network output (scaled price target or P(up), as
            :func:`lstmfc.network.models.predict`).

        Raises
        ------
        ValueError
            ``windows`` has the wrong shape (one line).
        ArtifactError
            ONNX Runtime fails, or returns another shape than ``(n, k)``.
        """
        x = np.asarray(windows, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.lookback, self.n_features):
            raise ValueError(
                f"windows have shape {x.shape}, expected (n, {self.lookback}, {self.n_features})"
            )
        n = len(x)
        out = np.empty((n, self.k), dtype=np.float64)
        for start in range(0, n, self.batch_size):
            chunk = np.ascontiguousarray(x[start : start + self.batch_size])
            try:
                y = self._session.run([self._output], {self._input: chunk})[0]
            except Exception as exc:  # onnxruntime's own exception classes
                raise ArtifactError(
                    f"{self.label}: ONNX Runtime failed ({_one_line(exc)})"
                ) from None
            if getattr(y, "shape", None) != (len(chunk), self.k):
                raise ArtifactError(
                    f"{self.label} returned shape {getattr(y, 'shape', None)} for "
                    f"{len(chunk)} windows, expected ({len(chunk)}, {self.k})"
                )
            out[start : start + len(chunk)] = y
        return out


def _open_session(data: bytes, label: str, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.add_session_config_entry("session.load_model_format", "ONNX")
    try:
        return ort.InferenceSession(data, sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # InvalidGraph, InvalidProtobuf, Fail, NotImplemented, ...
        raise ArtifactError(
            f"{label}: ONNX Runtime refused it ({type(exc).__name__}: {_one_line(exc)})"
        ) from None
