"""ONNX export of lstmfc's networks (training side, Keras already loaded).

:func:`onnx_bytes` translates a network built by :func:`lstmfc.network.models.build_model`
layer by layer into an ONNX graph made of ONNX's own recurrent operators (``LSTM``,
``GRU``, ``RNN``; ONNX Operators specification, https://onnx.ai/onnx/operators/) and
``Gemm`` / ``Sigmoid`` (and the other Dense activations of :data:`DENSE_ACTIVATIONS`) for
the Dense head, and writes it with the ``onnx`` package; :func:`export_onnx` checks its
output against the Keras network on probe windows (through
:class:`lstmfc.network.onnx_runtime.OnnxNetwork`, after
:func:`lstmfc.network.onnx_inspect.inspect_onnx`) before it is kept. Every operator it
writes is one of :data:`lstmfc.network.onnx_inspect.ALLOWED_OPS`.

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
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from lstmfc.core.errors import ArtifactError
from lstmfc.network.backend import keras_module
from lstmfc.network.onnx_inspect import ALLOWED_OPS, inspect_onnx
from lstmfc.network.onnx_runtime import OnnxNetwork

OPSET = 17
"""Default-domain opset the exporter writes (ONNX 1.12+, ONNX Runtime 1.12+)."""

IR_VERSION = 8
"""ONNX IR version the exporter writes (that of ONNX 1.12, which introduced opset 17;
ONNX "Versioning" docs)."""

INPUT_NAME = "window"
OUTPUT_NAME = "output"

#: Keras Dense activations the exporter writes, and the ONNX operator of each.
DENSE_ACTIVATIONS = {
    "linear": None,
    "sigmoid": "Sigmoid",
    "softplus": "Softplus",
    "exponential": "Exp",
    "relu": "Relu",
    "tanh": "Tanh",
}


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


class _Flow(NamedTuple):
    """The tensor the next layer reads: its graph name, whether it is a sequence
    ``(time, batch, width)`` (else ``(batch, width)``), and its width."""

    name: str
    sequences: bool
    width: int


class _Graph:
    """Nodes and initializers of the ONNX graph being written, under unique names
    (``prefix_0``, ``prefix_1``, ... in order of creation)."""

    def __init__(self):
        self.nodes: list = []
        self.inits: list = []
        self._counter = itertools.count()

    def name(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter)}"

    def init(self, prefix: str, array) -> str:
        """Add ``array`` as an initializer; returns its name."""
        from onnx import numpy_helper

        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def node(self, op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        """Append one ``op`` node (only operators the inspector accepts)."""
        from onnx import helper

        if op not in ALLOWED_OPS:  # the exporter and the inspector's allowlist disagree
            raise ArtifactError(f"cannot export to ONNX: operator {op!r} is not in ALLOWED_OPS")
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))


def _input_shape(model) -> tuple[int, int]:
    """``(lookback, n_features)`` of a one-input, one-output model; raises ArtifactError."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ArtifactError("cannot export to ONNX: the model must have one input and one output")
    in_shape = tuple(model.inputs[0].shape)
    if len(in_shape) != 3 or None in in_shape[1:]:
        raise ArtifactError(f"cannot export to ONNX: input shape {in_shape} is not (batch, t, f)")
    return in_shape[1], in_shape[2]


def _chained_layers(model):
    """Yield the model's layers after its ``InputLayer``, each checked to be fed by the
    layer before it (refused with ArtifactError otherwise)."""
    prev = None
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
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
        yield layer


def _recurrent_node(graph: _Graph, keras, layer, flow: _Flow) -> _Flow:
    """One ``LSTM`` / ``GRU`` / ``RNN`` node (+ ``Squeeze``) for a Keras recurrent layer."""
    cls = type(layer).__name__
    if not flow.sequences:
        _refuse(layer, "the layer before it does not return sequences")
    _check_rnn_config(keras, layer, cls)
    units = int(layer.units)
    w, r, b = _rnn_weights(layer, cls)
    if w.shape[-1] != flow.width:
        _refuse(layer, f"kernel expects {w.shape[-1]} inputs, got {flow.width}")
    y, y_h = graph.name(f"{layer.name}_y"), graph.name(f"{layer.name}_yh")
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
        flow.name,
        graph.init(f"{layer.name}_W", w),
        graph.init(f"{layer.name}_R", r),
        graph.init(f"{layer.name}_B", b),
    ]
    graph.node(_CELL_OPS[cls], ins, [y if seqs else "", y_h], **attrs)
    out = graph.name(f"{layer.name}_out")
    if seqs:  # Y (time, 1, batch, units) -> (time, batch, units)
        axes = graph.init("axes", np.array([1], dtype=np.int64))
        graph.node("Squeeze", [y, axes], [out])
    else:  # Y_h (1, batch, units) -> (batch, units)
        axes = graph.init("axes", np.array([0], dtype=np.int64))
        graph.node("Squeeze", [y_h, axes], [out])
    return _Flow(out, seqs, units)


def _dense_node(graph: _Graph, keras, layer, flow: _Flow) -> _Flow:
    """``Gemm`` (+ its activation's node, :data:`DENSE_ACTIVATIONS`) for a Keras Dense."""
    if flow.sequences:
        _refuse(layer, "Dense after a layer that returns sequences")
    act = _activation_name(keras, layer.activation)
    if act not in DENSE_ACTIVATIONS:
        _refuse(layer, f"activation {act!r} (only {', '.join(DENSE_ACTIVATIONS)})")
    ws = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
    kernel = ws[0]
    bias = ws[1] if layer.use_bias else np.zeros(kernel.shape[1], np.float32)
    if kernel.shape[0] != flow.width:
        _refuse(layer, f"kernel expects {kernel.shape[0]} inputs, got {flow.width}")
    out = graph.name(f"{layer.name}_out")
    ins = [
        flow.name,
        graph.init(f"{layer.name}_kernel", kernel),
        graph.init(f"{layer.name}_bias", bias),
    ]
    graph.node("Gemm", ins, [out])
    op = DENSE_ACTIVATIONS[act]
    if op is not None:
        activated = graph.name(f"{layer.name}_{act}")
        graph.node(op, [out], [activated])
        out = activated
    return _Flow(out, False, int(kernel.shape[1]))


def _model_proto(graph: _Graph, model, flow: _Flow, lookback: int, n_features: int):
    """The checked ``onnx.ModelProto``: the last node's output renamed :data:`OUTPUT_NAME`,
    input :data:`INPUT_NAME` with a dynamic batch, IR :data:`IR_VERSION`, opset
    :data:`OPSET`."""
    import onnx
    from onnx import TensorProto, helper

    if flow.sequences:
        raise ArtifactError("cannot export to ONNX: the last recurrent layer returns sequences")
    if tuple(model.outputs[0].shape[1:]) != (flow.width,):
        raise ArtifactError(
            f"cannot export to ONNX: model output {tuple(model.outputs[0].shape)} is not "
            f"(batch, {flow.width})"
        )
    for node in graph.nodes:  # the last node produces the graph output under its fixed name
        node.output[:] = [OUTPUT_NAME if o == flow.name else o for o in node.output]
    onnx_graph = helper.make_graph(
        graph.nodes,
        f"lstmfc_{model.name}",
        [
            helper.make_tensor_value_info(
                INPUT_NAME, TensorProto.FLOAT, ["batch", lookback, n_features]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", flow.width])],
        initializer=graph.inits,
    )
    onnx_model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="lstmfc.network.onnx_export",
    )
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def onnx_bytes(model) -> bytes:
    """Translate an lstmfc network into a serialized ONNX model.

    Supports the layer chain :func:`lstmfc.network.models.build_model` writes: ``InputLayer``
    -> one or more ``LSTM`` / ``GRU`` / ``SimpleRNN`` (tanh / sigmoid, GRU with
    ``reset_after=True``; every layer but the last returns sequences) with optional
    ``Dropout`` -> ``Dense`` layers (activations of :data:`DENSE_ACTIVATIONS`). Weight
    layouts: see the module docstring.

    Parameters
    ----------
    model : keras.Model

    Returns
    -------
    bytes
        ONNX IR :data:`IR_VERSION`, opset :data:`OPSET`; input ``window``
        ``(batch, lookback, n_features)`` float32, output ``output`` ``(batch, k)``
        float32; operators only from :data:`lstmfc.network.onnx_inspect.ALLOWED_OPS`.

    Raises
    ------
    ArtifactError
        A layer, activation or topology outside that chain (one line).
    """
    keras = keras_module()
    lookback, n_features = _input_shape(model)
    graph = _Graph()
    seq = graph.name("x_tbf")  # (time, batch, features): ONNX recurrent ops' layout=0
    graph.node("Transpose", [INPUT_NAME], [seq], perm=[1, 0, 2])
    flow = _Flow(seq, True, int(n_features))
    for layer in _chained_layers(model):
        cls = type(layer).__name__
        if cls == "Dropout":
            continue
        if cls in _CELL_OPS:
            flow = _recurrent_node(graph, keras, layer, flow)
        elif cls == "Dense":
            flow = _dense_node(graph, keras, layer, flow)
        else:
            _refuse(layer, "lstmfc exports only InputLayer, LSTM, GRU, SimpleRNN, Dropout, Dense")
    return _model_proto(graph, model, flow, lookback, n_features).SerializeToString()


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
    whatever backend and kernels :func:`lstmfc.network.backend.keras_module` set up.
    """
    keras = keras_module()
    y = model(np.asarray(x, dtype=np.float32), training=False)
    return np.asarray(keras.ops.convert_to_numpy(y), dtype=np.float64)
