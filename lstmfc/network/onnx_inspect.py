"""ONNX model files checked against lstmfc's allowlist before anything loads them.

A small walker over the protobuf wire format (protobuf encoding guide, "Message
Structure"; field numbers from ``onnx/onnx.proto``) that reads an ``.onnx`` file's bytes
with no ``onnx`` or ``onnxruntime`` import and refuses what an lstmfc network never
contains (:func:`inspect_onnx`). :mod:`lstmfc.network.onnx_runtime` runs it on every file
before ONNX Runtime sees the bytes; :mod:`lstmfc.network.onnx_export` writes only what it
accepts.

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
accept only the ONNX protobuf format (not ORT's flatbuffer format;
:mod:`lstmfc.network.onnx_runtime`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lstmfc.core.errors import ArtifactError

ALLOWED_OPS = frozenset(
    {
        "Transpose",
        "LSTM",
        "GRU",
        "RNN",
        "Squeeze",
        "Gemm",
        "Sigmoid",
        "Softplus",
        "Exp",
        "Relu",
        "Tanh",
    }
)
"""Every operator :func:`lstmfc.network.onnx_export.onnx_bytes` writes. Anything else is
refused before loading."""

ALLOWED_DOMAINS = frozenset({"", "ai.onnx"})
"""The default ONNX operator domain under both of its spellings."""

MAX_ONNX_BYTES = 1 << 30
"""1 GiB: far above any lstmfc network (the reference one is 0.47 MB)."""


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
