"""Portable inference: lstmfc's networks as ONNX graphs, run with ONNX Runtime.

Two halves with different import costs:

* **Export** (:func:`onnx_bytes`, :func:`export_onnx`; training side, Keras already
  loaded): translates a network built by :func:`lstmfc.network.models.build_model` layer by
  layer into an ONNX graph made of ONNX's own recurrent operators (``LSTM``, ``GRU``,
  ``RNN``; ONNX Operators specification, https://onnx.ai/onnx/operators/) and
  ``Gemm`` / ``Sigmoid`` for the Dense head, writes it with the ``onnx`` package and
  checks its output against the Keras network on probe windows before it is kept.
* **Inference** (:class:`OnnxNetwork`; predict side): imports only NumPy and
  ``onnxruntime`` (never Keras, TensorFlow or PyTorch), checks the bytes with a small
  protobuf walker (:func:`inspect_onnx`, no ``onnx`` import either) and runs them in
  a single-threaded ONNX Runtime session.

Why not ``keras.Model.export(format="onnx")``
---------------------------------------------
It works on the torch backend with a dynamic batch (``input_signature`` with a
``None`` batch; Keras 3.15 then uses the TorchScript ``torch.onnx.export`` with
``dynamic_axes``, ``keras/src/export/onnx.py``; no ``onnxscript`` needed), and
:mod:`lstmfc.network.fastrnn` does not get in its way (it steps aside while torch traces).
But the tracer records Keras's per-time-step Python loop, so the reference network
(LSTM 128,64 -> Dense 25 -> Dense 1, lookback 60) becomes 4,666 nodes (GRU 6,468;
SimpleRNN 2,353) of ``Slice``/``Mul``/``Cast``/``Gather``/... with an auto-generated
output name: 0.85 MB, 2.4-6 s to export, 0.35-0.65 s to open in ONNX Runtime and
1.7-4 ms per window (measured with ``benchmarks/import_profile.py``). The graph
written here has 7-8 nodes with fixed names ``window`` / ``output``; it exports in
25-150 ms (check included), opens in 2-6 ms and runs one window in ~0.3 ms, and it
needs neither torch nor ``onnxscript`` (only ``onnx`` at export time), on any Keras
backend.

Weight layouts (Keras 3.15 source, ``keras/src/layers/rnn/{lstm,gru,simple_rnn}.py``,
against the ONNX operator definitions, opset 14-22 ``LSTM`` / ``GRU`` / ``RNN``):

* LSTM: Keras gates ``[i, f, c, o]`` in ``kernel (in, 4u)``, ``recurrent_kernel
  (u, 4u)``, ``bias (4u,)``; ONNX wants ``[i, o, f, c]`` in ``W (1, 4u, in)``,
  ``R (1, 4u, u)``, ``B (1, 8u) = [Wb, Rb]``. Default activations (sigmoid, tanh,
  tanh), no peepholes, ``input_forget=0``: Hochreiter & Schmidhuber (1997) with the
  forget gate of Gers, Schmidhuber & Cummins (2000, Neural Computation), as in Keras.
* GRU (Keras ``reset_after=True``, its default): gates ``[z, r, h]`` in both;
  ``bias (2, 3u)`` = input and recurrent bias -> ``B = [bias[0], bias[1]]``;
  ``linear_before_reset=1`` is exactly Keras's ``reset_after`` (reset applied after
  the recurrent matmul, Cho et al. 2014 with the cuDNN variant). Both compute
  ``h_t = z * h_{t-1} + (1 - z) * hh``.
* SimpleRNN: ``h_t = tanh(x_t W + b + h_{t-1} R)`` -> ``RNN`` with ``B = [b, 0]``.
* Dense: ``Gemm(h, kernel, bias)``; ``Dropout`` is the identity at inference.

Safety
------
ONNX is data, not code: ONNX Runtime executes only the kernels compiled into it
(or into libraries the *caller* registers with
``SessionOptions.register_custom_ops_library``, which lstmfc never does); the PyPI
wheels have no Python-op support (ONNX Runtime docs, "Custom operators"; checked
with onnxruntime 1.32: a ``PyOp`` node in the ``""``, ``ai.onnx.contrib`` or
``com.microsoft`` domain is refused as unregistered). Only the CPU execution
provider is requested (the wheel also ships ``AzureExecutionProvider``, which
calls remote endpoints through ``com.microsoft`` operators). What a
file can still do is name operators from other domains (e.g. ``com.microsoft``
contrib ops, ``EPContext`` nodes pointing at external files) or point tensors at
external data files (ONNX "External Data" docs: ``data_location = EXTERNAL``),
which would make ONNX Runtime read a path of the file's choosing. :func:`inspect_onnx`
therefore refuses, before ONNX Runtime sees the bytes: any operator outside
:data:`ALLOWED_OPS` or outside the default domain (:data:`ALLOWED_DOMAINS`), opset
imports of any other domain, model-local functions, training info, subgraph
attributes, sparse tensors and external data. The session is additionally told to
accept only the ONNX protobuf format (not ORT's flatbuffer format).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lstmfc.core.errors import ArtifactError

OPSET = 17
"""Default-domain opset the exporter writes (ONNX 1.12+, ONNX Runtime 1.12+)."""

IR_VERSION = 8
"""ONNX IR version the exporter writes (that of ONNX 1.12, which introduced opset 17;
ONNX "Versioning" docs)."""

INPUT_NAME = "window"
OUTPUT_NAME = "output"

ALLOWED_OPS = frozenset(
    {"Transpose", "LSTM", "GRU", "RNN", "Squeeze", "Gemm", "Sigmoid", "Softplus", "Exp", "Relu",
     "Tanh"}
)  # fmt: skip

#: Keras Dense activations the exporter writes, and the ONNX operator of each.
DENSE_ACTIVATIONS = {
    "linear": None,
    "sigmoid": "Sigmoid",
    "softplus": "Softplus",
    "exponential": "Exp",
    "relu": "Relu",
    "tanh": "Tanh",
}
"""Every operator :func:`onnx_bytes` writes. Anything else is refused before loading."""

ALLOWED_DOMAINS = frozenset({"", "ai.onnx"})
"""The default ONNX operator domain under both of its spellings."""

MAX_ONNX_BYTES = 1 << 30
"""1 GiB: far above any lstmfc network (the reference one is 0.47 MB)."""

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


# ------------------------------------------------------------------ checking (no onnx import)
class _WireError(ValueError):
    pass


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise _WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _WireError("varint too long")


def _fields(buf: memoryview):
    """Yield ``(field_number, wire_type, value)`` of one protobuf message.

    ``value`` is an int for varint / fixed fields and a memoryview for
    length-delimited ones (protobuf encoding guide, "Message Structure").
    """
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _WireError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise _WireError("truncated fixed64")
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise _WireError("truncated length-delimited field")
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            if pos + 4 > end:
                raise _WireError("truncated fixed32")
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise _WireError(f"unsupported wire type {wire}")
        yield number, wire, value


def _text(value: Any) -> str:
    if not isinstance(value, memoryview):
        raise _WireError("string field with a numeric wire type")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise _WireError("string field is not UTF-8") from None


def _sub(value: Any) -> memoryview:
    if not isinstance(value, memoryview):
        raise _WireError("message field with a numeric wire type")
    return value


@dataclass
class OnnxSummary:
    """What :func:`inspect_onnx` found in a model file.

    Attributes
    ----------
    ir_version : int
    opsets : dict of str -> int
        Imported operator sets, domain (``""`` = default) -> version.
    ops : collections.Counter
        Operator type -> number of nodes.
    n_initializers : int
    """

    ir_version: int = 0
    opsets: dict[str, int] = field(default_factory=dict)
    ops: Counter = field(default_factory=Counter)
    n_initializers: int = 0


# Field numbers from onnx/onnx.proto (ONNX 1.17): ModelProto, GraphProto, NodeProto,
# AttributeProto, TensorProto, OperatorSetIdProto.
_MODEL_IR, _MODEL_GRAPH, _MODEL_OPSET = 1, 7, 8
_MODEL_REFUSED = {20: "training info", 25: "model-local functions"}
_GRAPH_NODE, _GRAPH_INIT, _GRAPH_SPARSE_INIT = 1, 5, 15
_NODE_OP, _NODE_ATTR, _NODE_DOMAIN = 4, 5, 7
_ATTR_T, _ATTR_TENSORS = 5, 10
_ATTR_REFUSED = {6: "a subgraph", 11: "subgraphs", 22: "a sparse tensor", 23: "sparse tensors"}
_TENSOR_EXTERNAL, _TENSOR_LOCATION = 13, 14


class _Refused(Exception):
    """An allowlist violation; :func:`inspect_onnx` adds the file's label."""


def _check_tensor(buf: memoryview) -> None:
    for number, _, value in _fields(buf):
        if number == _TENSOR_EXTERNAL or (number == _TENSOR_LOCATION and value != 0):
            raise _Refused("stores tensors as external data files")


def _walk_graph(buf: memoryview, summary: OnnxSummary) -> None:
    for number, _, value in _fields(buf):
        if number == _GRAPH_NODE:
            op = None
            attrs = []
            for n2, _, v2 in _fields(_sub(value)):
                if n2 == _NODE_OP:
                    op = _text(v2)
                    if op not in ALLOWED_OPS:
                        raise _Refused(
                            f"uses ONNX operator {op!r}, which lstmfc networks never contain"
                        )
                elif n2 == _NODE_DOMAIN:
                    domain = _text(v2)
                    if domain not in ALLOWED_DOMAINS:
                        raise _Refused(
                            f"uses operator domain {domain!r} (only the default ONNX domain "
                            "is allowed)"
                        )
                elif n2 == _NODE_ATTR:
                    attrs.append(_sub(v2))
            if op is None:
                raise _WireError("node without an operator type")
            for attr in attrs:
                for n3, _, v3 in _fields(attr):
                    if n3 in _ATTR_REFUSED:
                        raise _Refused(f"has a {op} node with {_ATTR_REFUSED[n3]}")
                    if n3 in (_ATTR_T, _ATTR_TENSORS):
                        _check_tensor(_sub(v3))
            summary.ops[op] += 1
        elif number == _GRAPH_INIT:
            _check_tensor(_sub(value))
            summary.n_initializers += 1
        elif number == _GRAPH_SPARSE_INIT:
            raise _Refused("has sparse initializers")


def inspect_onnx(data: bytes, label: str = "model.onnx") -> OnnxSummary:
    """Check ONNX model bytes against lstmfc's allowlist without loading them.

    Parses the protobuf wire format directly (protobuf encoding guide; field numbers
    from ``onnx/onnx.proto``), with no ``onnx`` or ``onnxruntime`` import, and
    refuses, naming the first problem on one line:

    * bytes that are not a well-formed ``ModelProto`` or larger than
      :data:`MAX_ONNX_BYTES`;
    * an operator type outside :data:`ALLOWED_OPS`, a node domain or an imported
      opset domain outside :data:`ALLOWED_DOMAINS`;
    * model-local functions, training info, subgraph attributes (``If``/``Loop``
      bodies), sparse tensors, and any tensor stored as external data (which would
      make ONNX Runtime open a file path named inside the model).

    Parameters
    ----------
    data : bytes
        The whole ``.onnx`` file.
    label : str
        How the file is named in error messages.

    Returns
    -------
    OnnxSummary

    Raises
    ------
    ArtifactError
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ArtifactError(f"{label}: expected the ONNX file's bytes, got {type(data).__name__}")
    if len(data) > MAX_ONNX_BYTES:
        raise ArtifactError(f"{label} is larger than 1 GiB; refusing it")
    summary = OnnxSummary()
    graphs = 0
    try:
        for number, _, value in _fields(memoryview(bytes(data))):
            if number == _MODEL_IR:
                summary.ir_version = int(value)
            elif number == _MODEL_OPSET:
                domain, version = "", 0
                for n2, _, v2 in _fields(_sub(value)):
                    if n2 == 1:
                        domain = _text(v2)
                    elif n2 == 2:
                        version = int(v2)
                if domain not in ALLOWED_DOMAINS:
                    raise _Refused(
                        f"imports operator domain {domain!r} (only the default ONNX domain "
                        "is allowed)"
                    )
                summary.opsets[domain] = version
            elif number == _MODEL_GRAPH:
                graphs += 1
                _walk_graph(_sub(value), summary)
            elif number in _MODEL_REFUSED:
                raise _Refused(f"has {_MODEL_REFUSED[number]}")
    except _WireError as exc:
        raise ArtifactError(f"{label} is not a valid ONNX model ({exc}); refusing it") from None
    except _Refused as exc:
        raise ArtifactError(f"{label} {exc}; refusing it without loading") from None
    if graphs == 0 or summary.ir_version <= 0 or not summary.ops:
        raise ArtifactError(f"{label} is not a valid ONNX model (no graph); refusing it")
    return summary


# ------------------------------------------------------------------ inference
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


# ------------------------------------------------------------------ export (Keras side)
_CELL_OPS = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}


def _refuse(layer, why: str):
    raise ArtifactError(
        f"cannot export layer {layer.name!r} ({type(layer).__name__}) to ONNX: {why}"
    )


def _rnn_weights(layer, kind: str):
    """(W, R, B) in ONNX layout for one Keras recurrent layer (see the module docstring)."""
    units = int(layer.units)
    ws = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
    kernel, recurrent = ws[0], ws[1]
    n_gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[kind]
    if layer.use_bias:
        bias = ws[2]
    else:
        bias = np.zeros((2, 3 * units) if kind == "GRU" else (n_gates * units,), np.float32)
    if kind == "LSTM":  # Keras [i, f, c, o] -> ONNX [i, o, f, c]
        order = [0, 3, 1, 2]

        def reorder(a):
            blocks = np.split(a, 4, axis=-1)
            return np.concatenate([blocks[j] for j in order], axis=-1)

        kernel, recurrent, bias = reorder(kernel), reorder(recurrent), reorder(bias)
        b = np.concatenate([bias, np.zeros_like(bias)])
    elif kind == "GRU":  # same [z, r, h] order; bias = [input bias; recurrent bias]
        b = np.concatenate([bias[0], bias[1]])
    else:
        b = np.concatenate([bias, np.zeros_like(bias)])
    return kernel.T[None].copy(), recurrent.T[None].copy(), b[None].copy()


def _activation_name(keras, fn) -> str:
    """``"tanh"`` / ``"sigmoid"`` / ``"linear"`` if ``fn`` is Keras's own function, else its name.

    Compares with ``keras.activations.get(name)`` by identity instead of reading
    ``layer.get_config()``: Keras 3.15 serialising a config asks whether TensorFlow is
    available, which imports it (~470 MiB) on the torch backend.
    """
    for name in ("tanh", "sigmoid", "linear", "softplus", "exponential", "relu"):
        if fn is keras.activations.get(name):
            return name
    return str(getattr(fn, "__name__", fn))


def _check_rnn_config(keras, layer, kind: str) -> None:
    act = _activation_name(keras, layer.activation)
    if act != "tanh":
        _refuse(layer, f"activation {act!r} (only tanh is exported)")
    if kind != "SimpleRNN":
        rec = _activation_name(keras, layer.recurrent_activation)
        if rec != "sigmoid":
            _refuse(layer, f"recurrent_activation {rec!r} (only sigmoid is exported)")
    if kind == "GRU" and not layer.reset_after:
        _refuse(layer, "reset_after=False (only Keras's default reset_after=True)")
    for flag in ("go_backwards", "stateful", "return_state"):
        if getattr(layer, flag, False):
            _refuse(layer, f"{flag}=True")


def onnx_bytes(model) -> bytes:
    """Translate an lstmfc network into a serialized ONNX model.

    Supports the layer chain :func:`lstmfc.network.models.build_model` writes: ``InputLayer``
    -> one or more ``LSTM`` / ``GRU`` / ``SimpleRNN`` (tanh / sigmoid, GRU with
    ``reset_after=True``; every layer but the last returns sequences) with optional
    ``Dropout`` -> ``Dense`` layers (linear or sigmoid). Weight layouts: see the
    module docstring.

    Parameters
    ----------
    model : keras.Model

    Returns
    -------
    bytes
        ONNX IR :data:`IR_VERSION`, opset :data:`OPSET`; input ``window``
        ``(batch, lookback, n_features)`` float32, output ``output`` ``(batch, k)``
        float32; operators only from :data:`ALLOWED_OPS`.

    Raises
    ------
    ArtifactError
        A layer, activation or topology outside that chain (one line).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from lstmfc.network import models

    keras = models.keras_module()
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ArtifactError("cannot export to ONNX: the model must have one input and one output")
    in_shape = tuple(model.inputs[0].shape)
    if len(in_shape) != 3 or None in in_shape[1:]:
        raise ArtifactError(f"cannot export to ONNX: input shape {in_shape} is not (batch, t, f)")
    _, lookback, n_features = in_shape
    nodes, inits = [], []
    counter = iter(range(1_000_000))

    def name(prefix: str) -> str:
        return f"{prefix}_{next(counter)}"

    def init(prefix: str, array) -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    seq = name("x_tbf")  # (time, batch, features): ONNX recurrent ops' layout=0
    nodes.append(helper.make_node("Transpose", [INPUT_NAME], [seq], perm=[1, 0, 2]))
    cur, cur_is_seq, width = seq, True, int(n_features)
    prev = None
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "InputLayer":
            prev = layer
            continue
        if prev is not None:
            try:
                linked = layer.input is prev.output
            except (AttributeError, ValueError):  # layer never called / called twice
                linked = False
            if not linked:
                _refuse(layer, "the model is not a simple chain of layers")
        prev = layer
        if cls == "Dropout":
            continue
        if cls in _CELL_OPS:
            if not cur_is_seq:
                _refuse(layer, "the layer before it does not return sequences")
            _check_rnn_config(keras, layer, cls)
            units = int(layer.units)
            w, r, b = _rnn_weights(layer, cls)
            if w.shape[-1] != width:
                _refuse(layer, f"kernel expects {w.shape[-1]} inputs, got {width}")
            y, y_h = name(f"{layer.name}_y"), name(f"{layer.name}_yh")
            attrs: dict[str, Any] = {"hidden_size": units}
            if cls == "LSTM":
                attrs["activations"] = ["Sigmoid", "Tanh", "Tanh"]
            elif cls == "GRU":
                attrs["activations"] = ["Sigmoid", "Tanh"]
                attrs["linear_before_reset"] = 1
            else:
                attrs["activations"] = ["Tanh"]
            seqs = bool(layer.return_sequences)
            ins = [
                cur,
                init(f"{layer.name}_W", w),
                init(f"{layer.name}_R", r),
                init(f"{layer.name}_B", b),
            ]
            nodes.append(helper.make_node(_CELL_OPS[cls], ins, [y if seqs else "", y_h], **attrs))
            out = name(f"{layer.name}_out")
            if seqs:  # Y (time, 1, batch, units) -> (time, batch, units)
                axes = init("axes", np.array([1], dtype=np.int64))
                nodes.append(helper.make_node("Squeeze", [y, axes], [out]))
            else:  # Y_h (1, batch, units) -> (batch, units)
                axes = init("axes", np.array([0], dtype=np.int64))
                nodes.append(helper.make_node("Squeeze", [y_h, axes], [out]))
            cur, cur_is_seq, width = out, seqs, units
            continue
        if cls == "Dense":
            if cur_is_seq:
                _refuse(layer, "Dense after a layer that returns sequences")
            act = _activation_name(keras, layer.activation)
            if act not in DENSE_ACTIVATIONS:
                _refuse(layer, f"activation {act!r} (only {', '.join(DENSE_ACTIVATIONS)})")
            ws = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
            kernel = ws[0]
            bias = ws[1] if layer.use_bias else np.zeros(kernel.shape[1], np.float32)
            if kernel.shape[0] != width:
                _refuse(layer, f"kernel expects {kernel.shape[0]} inputs, got {width}")
            out = name(f"{layer.name}_out")
            ins = [cur, init(f"{layer.name}_kernel", kernel), init(f"{layer.name}_bias", bias)]
            nodes.append(helper.make_node("Gemm", ins, [out]))
            op = DENSE_ACTIVATIONS[act]
            if op is not None:
                activated = name(f"{layer.name}_{act}")
                nodes.append(helper.make_node(op, [out], [activated]))
                out = activated
            cur, width = out, int(kernel.shape[1])
            continue
        _refuse(layer, "lstmfc exports only InputLayer, LSTM, GRU, SimpleRNN, Dropout, Dense")
    if cur_is_seq:
        raise ArtifactError("cannot export to ONNX: the last recurrent layer returns sequences")
    if tuple(model.outputs[0].shape[1:]) != (width,):
        raise ArtifactError(
            f"cannot export to ONNX: model output {tuple(model.outputs[0].shape)} is not "
            f"(batch, {width})"
        )
    for node in nodes:  # the last node produces the graph output under its fixed name
        node.output[:] = [OUTPUT_NAME if o == cur else o for o in node.output]
    graph = helper.make_graph(
        nodes,
        f"lstmfc_{model.name}",
        [
            helper.make_tensor_value_info(
                INPUT_NAME, TensorProto.FLOAT, ["batch", lookback, n_features]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", width])],
        initializer=inits,
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="lstmfc.network.onnx",
    )
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model.SerializeToString()


@dataclass
class ExportInfo:
    """What :func:`export_onnx` wrote.

    Attributes
    ----------
    path : Path
    sha256 : str
    n_bytes : int
    ops : dict of str -> int
        Operator type -> node count.
    max_abs_diff : float
        Largest |ONNX Runtime - Keras| over the probe windows (network output units).
    seconds : float
        Wall-clock time of translation + check + write.
    """

    path: Path
    sha256: str
    n_bytes: int
    ops: dict[str, int]
    max_abs_diff: float
    seconds: float


def export_onnx(
    model, path: str | os.PathLike, *, check: bool = True, n_probe: int = 32
) -> ExportInfo:
    """Write ``model`` as an ONNX file and check it against Keras.

    Parameters
    ----------
    model : keras.Model
        From :func:`lstmfc.network.models.build_model` (trained or not).
    path : str or path-like
        Where to write (the caller makes the bundle folder atomic).
    check : bool
        Run ``n_probe`` probe windows (uniform on [0, 1), like min-max scaled
        features, fixed seed) through both Keras and ONNX Runtime and refuse the
        export unless ``|onnx - keras| <= 1e-4 * max(1, |keras|)`` everywhere: a
        translation error would show up as O(1e-1) differences, float32 rounding as
        O(1e-7).
    n_probe : int

    Returns
    -------
    ExportInfo

    Raises
    ------
    ArtifactError
        Unsupported layer/topology (:func:`onnx_bytes`) or the check fails.
    """
    t0 = time.perf_counter()
    data = onnx_bytes(model)
    summary = inspect_onnx(data, str(path))
    worst = float("nan")
    if check:
        _, lookback, n_features = tuple(model.inputs[0].shape)
        k = int(model.outputs[0].shape[-1])
        rng = np.random.default_rng(20240601)
        x = rng.random((int(n_probe), lookback, n_features), dtype=np.float32)
        ref = keras_outputs(model, x)
        net = OnnxNetwork(data, lookback=lookback, n_features=n_features, k=k, label=str(path))
        got = net.predict(x)
        diff = np.abs(got - ref)
        worst = float(np.max(diff)) if diff.size else 0.0
        if not np.all(diff <= 1e-4 * np.maximum(1.0, np.abs(ref))):
            raise ArtifactError(
                f"ONNX export of {model.name} differs from Keras by up to {worst:.3g} on probe "
                "windows; not writing it"
            )
    path = Path(path)
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return ExportInfo(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        n_bytes=len(data),
        ops=dict(summary.ops),
        max_abs_diff=worst,
        seconds=time.perf_counter() - t0,
    )


def keras_outputs(model, x) -> np.ndarray:
    """The Keras network's output for ``x`` ``(n, lookback, n_features)`` -> ``(n, k)`` float64.

    Calls the model directly in inference mode (``training=False``; Dropout off), on
    whatever backend and kernels :func:`lstmfc.network.models.keras_module` set up.
    """
    from lstmfc.network import models

    keras = models.keras_module()
    y = model(np.asarray(x, dtype=np.float32), training=False)
    return np.asarray(keras.ops.convert_to_numpy(y), dtype=np.float64)
