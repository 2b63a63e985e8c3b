"""lstmfc.network.onnx_export, onnx_inspect and onnx_runtime: ONNX export of lstmfc networks
and Keras-free inference.

The reference is Keras itself (``lstmfc.network.models.predict``, and Keras's stock step loop
via ``fastrnn.stock_keras()``), never the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime  # noqa: F401  (required dependency: a missing one must fail, not skip)
import pytest

from lstmfc.core.errors import ArtifactError
from lstmfc.network import onnx_export as onnxnet
from tests.specs import model_spec

ROOT = Path(__file__).resolve().parents[1]

LOOKBACK, N_FEATURES = 10, 2
CASES = [(c, h) for c in ("lstm", "gru", "rnn") for h in ("price", "direction")]


def _set_seed(seed: int) -> None:
    from lstmfc.network import backend

    backend.set_seed(seed)


def _build(cell: str, head: str, seed: int = 7):
    from lstmfc.network import models

    _set_seed(seed)
    spec = model_spec(
        lookback=LOOKBACK, n_features=N_FEATURES, cell=cell, head=head, units=(8, 4), dense=5
    )
    return models.build_model(spec)


def _windows(n: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.5, 0.5, (n, LOOKBACK, N_FEATURES)).astype("f4")


def _keras(model, x) -> np.ndarray:
    from lstmfc.network import models

    return np.asarray(models.predict(model, x), dtype="f8").reshape(len(x), -1)


def _assert_close(got, ref):
    """Equal to 1e-5 relative to the output scale (elementwise, plus a floor at 1e-5 * max)."""
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(ref))))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = {}
    folder = tmp_path_factory.mktemp("onnx")
    for cell, head in CASES:
        model = _build(cell, head)
        info = onnxnet.export_onnx(model, folder / f"{cell}_{head}.onnx")
        out[cell, head] = (model, info)
    return out


def _net(info, **kw):
    kw = {"lookback": LOOKBACK, "n_features": N_FEATURES, **kw}
    return onnxnet.OnnxNetwork(info.path.read_bytes(), **kw)


def _one_line_refusal(excinfo, *fragments):
    msg = str(excinfo.value)
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


# ------------------------------------------------------------------ equivalence
@pytest.mark.parametrize("cell,head", CASES)
def test_onnxruntime_matches_keras(exported, cell, head):
    model, info = exported[cell, head]
    x = _windows(37)
    net = _net(info, batch_size=16)  # 3 session.run calls: chunking is exercised too
    got = net.predict(x)
    assert got.dtype == np.float64 and got.shape == (37, 1)
    _assert_close(got, _keras(model, x))
    if head == "direction":
        assert np.all((got > 0) & (got < 1))
    # dynamic batch: one window alone gives the same number as inside the batch
    _assert_close(net.predict(x[5:6]), got[5:6])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_matches_keras_stock_step_loop(exported, cell):
    """Also against Keras's own per-step loop, not only lstmfc's fused torch kernels."""
    from lstmfc.network import models

    keras = models.keras_module()
    model, info = exported[cell, "price"]
    x = _windows(9, seed=11)
    if keras.backend.backend() == "torch":
        from lstmfc.network import fastrnn

        with fastrnn.stock_keras():
            ref = np.asarray(model.predict(x, verbose=0), dtype="f8")
    else:
        ref = np.asarray(model.predict(x, verbose=0), dtype="f8")
    _assert_close(_net(info).predict(x), ref)


def test_graph_uses_only_allowlisted_default_domain_ops(exported):
    for (cell, head), (_, info) in exported.items():
        proto = onnx.load(str(info.path))
        ops = {n.op_type for n in proto.graph.node}
        rnn_op = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[cell]
        want = {"Transpose", rnn_op, "Squeeze", "Gemm"} | (
            {"Sigmoid"} if head == "direction" else set()
        )
        assert ops == want
        assert ops <= onnxnet.ALLOWED_OPS
        assert {n.domain for n in proto.graph.node} == {""}
        assert [(o.domain, o.version) for o in proto.opset_import] == [("", onnxnet.OPSET)]
        assert [i.name for i in proto.graph.input] == ["window"]
        assert [o.name for o in proto.graph.output] == ["output"]
        assert info.ops == onnxnet.inspect_onnx(info.path.read_bytes()).ops
        assert info.max_abs_diff < 1e-5


_EXPORT_NO_TF = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    from lstmfc.network import backend, models
    from lstmfc.network import onnx_export as onnxnet
    from tests.specs import model_spec

    backend.set_seed(2)
    lookback, n_features = int(sys.argv[2]), int(sys.argv[3])
    spec = model_spec(lookback=lookback, n_features=n_features, cell="gru",
                            head="direction", units=(8, 4), dense=5)
    info = onnxnet.export_onnx(models.build_model(spec), Path(sys.argv[1]))
    print(json.dumps({
        "backend": models.keras_module().backend.backend(),
        "written": info.path.is_file() and info.path.stat().st_size > 0,
        "loaded": sorted(m for m in ("keras", "torch", "onnx", "tensorflow") if m in sys.modules),
    }))
    """
)


def test_export_does_not_import_tensorflow(tmp_path):
    """On the torch backend exporting must not drag in TensorFlow (~470 MiB).

    Run in a fresh process: in a full test run another test file has loaded TensorFlow
    into this one long before, so ``sys.modules`` here says nothing about the export."""
    env = {**os.environ, "LSTMFC_BACKEND": "torch", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _EXPORT_NO_TF, str(tmp_path / "m.onnx"),
         str(LOOKBACK), str(N_FEATURES)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["backend"] == "torch" and got["written"] is True
    # keras, torch and onnx are seen by the same check, so "tensorflow" missing means it
    # was never imported, not that the check looks in the wrong place
    assert got["loaded"] == ["keras", "onnx", "torch"]


def test_empty_and_misshapen_windows(exported):
    net = _net(exported["lstm", "price"][1])
    assert net.predict(np.empty((0, LOOKBACK, N_FEATURES))).shape == (0, 1)
    with pytest.raises(ValueError, match=r"expected \(n, 10, 2\)"):
        net.predict(np.zeros((3, LOOKBACK, N_FEATURES + 1)))


# ------------------------------------------------------------------ no Keras at inference
def test_inference_process_never_imports_keras_tensorflow_or_torch(exported, tmp_path):
    model, info = exported["gru", "direction"]
    x = _windows(6, seed=5)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(
        f"""
        import atexit, sys
        import numpy as np

        HEAVY = ("keras", "tensorflow", "torch", "jax", "onnx")

        def report():
            print("LOADED", ",".join(m for m in HEAVY if m in sys.modules) or "-")

        atexit.register(report)
        from lstmfc.network.onnx_runtime import OnnxNetwork
        net = OnnxNetwork.from_path(
            {str(info.path)!r}, lookback={LOOKBACK}, n_features={N_FEATURES}
        )
        np.save({str(tmp_path / "y.npy")!r}, net.predict(np.load({str(tmp_path / "x.npy")!r})))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "LOADED -"
    _assert_close(np.load(tmp_path / "y.npy"), _keras(model, x))


# ------------------------------------------------------------------ refusals
def _mutated(info, edit) -> bytes:
    proto = onnx.load(str(info.path))
    edit(proto)
    return proto.SerializeToString()


def _swap_last_op(op_type: str, domain: str = ""):
    def edit(proto):
        node = proto.graph.node[-1]
        node.op_type = op_type
        node.domain = domain
        del node.attribute[:]

    return edit


@pytest.mark.parametrize(
    "op_type,domain,fragment",
    [
        ("Conv", "", "operator 'Conv'"),  # a real ONNX op, just not one lstmfc writes
        ("Gemm", "com.microsoft", "domain 'com.microsoft'"),  # contrib-op domain
        ("PyOp", "ai.onnx.contrib", "operator 'PyOp'"),  # onnxruntime-extensions Python op
    ],
)
def test_unexpected_operator_is_refused_before_loading(exported, op_type, domain, fragment):
    data = _mutated(exported["lstm", "price"][1], _swap_last_op(op_type, domain))
    with pytest.raises(ArtifactError) as exc:
        onnxnet.OnnxNetwork(data, lookback=LOOKBACK, n_features=N_FEATURES, label="m.onnx")
    _one_line_refusal(exc, "m.onnx", fragment, "refusing it")


def test_foreign_opset_import_and_functions_are_refused(exported):
    info = exported["lstm", "price"][1]

    def add_opset(proto):
        proto.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))

    with pytest.raises(ArtifactError) as exc:
        onnxnet.inspect_onnx(_mutated(info, add_opset), "m.onnx")
    _one_line_refusal(exc, "domain 'com.microsoft'")

    def add_function(proto):
        fn = onnx.helper.make_function(
            "", "Gemm", ["a"], ["b"], [onnx.helper.make_node("Relu", ["a"], ["b"])], []
        )
        proto.functions.append(fn)

    with pytest.raises(ArtifactError) as exc:
        onnxnet.inspect_onnx(_mutated(info, add_function), "m.onnx")
    _one_line_refusal(exc, "model-local functions")


def test_subgraph_attributes_and_training_info_are_refused(exported):
    info = exported["gru", "direction"][1]

    def add_subgraph(proto):
        body = onnx.helper.make_graph([], "body", [], [])
        proto.graph.node[-1].attribute.append(onnx.helper.make_attribute("body", body))

    with pytest.raises(ArtifactError) as exc:
        onnxnet.inspect_onnx(_mutated(info, add_subgraph), "m.onnx")
    _one_line_refusal(exc, "a Sigmoid node with a subgraph")

    def add_training_info(proto):
        proto.training_info.add()

    with pytest.raises(ArtifactError) as exc:
        onnxnet.inspect_onnx(_mutated(info, add_training_info), "m.onnx")
    _one_line_refusal(exc, "training info")


def test_external_data_is_refused(exported, tmp_path):
    from onnx.external_data_helper import convert_model_to_external_data

    proto = onnx.load(str(exported["lstm", "price"][1].path))
    convert_model_to_external_data(proto, location="weights.bin", size_threshold=0)
    onnx.save(proto, str(tmp_path / "m.onnx"))
    with pytest.raises(ArtifactError) as exc:
        onnxnet.OnnxNetwork.from_path(tmp_path / "m.onnx", lookback=LOOKBACK, n_features=N_FEATURES)
    _one_line_refusal(exc, "external data")


@pytest.mark.parametrize(
    "kw,fragment",
    [
        ({"lookback": LOOKBACK + 1}, "(batch, 11, 2) float32"),
        ({"n_features": 3}, "(batch, 10, 3) float32"),
        ({"k": 2}, "(batch, 2) float32"),
    ],
)
def test_signature_mismatch_is_refused(exported, kw, fragment):
    with pytest.raises(ArtifactError) as exc:
        _net(exported["gru", "price"][1], label="m.onnx", **kw)
    msg = _one_line_refusal(exc, "m.onnx maps (batch, 10, 2) tensor(float)", fragment)
    assert "manifest says" in msg


def test_fixed_batch_dimension_is_refused(exported):
    def fix_batch(proto):
        proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1

    data = _mutated(exported["rnn", "price"][1], fix_batch)
    with pytest.raises(ArtifactError) as exc:
        onnxnet.OnnxNetwork(data, lookback=LOOKBACK, n_features=N_FEATURES, label="m.onnx")
    _one_line_refusal(exc, "maps (1, 10, 2)")


def test_files_onnxruntime_refuses_give_one_line(exported):
    info = exported["lstm", "direction"][1]

    def dangling_input(proto):
        proto.graph.node[-1].input[0] = "no_such_tensor"

    with pytest.raises(ArtifactError) as exc:
        onnxnet.OnnxNetwork(
            _mutated(info, dangling_input), lookback=LOOKBACK, n_features=N_FEATURES
        )
    _one_line_refusal(exc, "ONNX Runtime refused it")

    data = info.path.read_bytes()
    for bad in (b"", b"not an onnx file at all", data[: len(data) // 2], b"\x89HDF\r\n\x1a\n"):
        with pytest.raises(ArtifactError) as exc:
            onnxnet.OnnxNetwork(bad, lookback=LOOKBACK, n_features=N_FEATURES, label="m.onnx")
        _one_line_refusal(exc, "m.onnx")


# ------------------------------------------------------------------ export guards
def test_export_refuses_layers_it_cannot_translate(tmp_path):
    from lstmfc.network import models

    keras = models.keras_module()
    inp = keras.Input(shape=(LOOKBACK, N_FEATURES))
    x = keras.layers.LSTM(4, activation="relu")(inp)
    model = keras.Model(inp, keras.layers.Dense(1)(x))
    with pytest.raises(ArtifactError) as exc:
        onnxnet.export_onnx(model, tmp_path / "m.onnx")
    _one_line_refusal(exc, "activation 'relu'")

    x = keras.layers.Conv1D(3, 2)(inp)
    x = keras.layers.GRU(4)(x)
    model = keras.Model(inp, keras.layers.Dense(1)(x))
    with pytest.raises(ArtifactError) as exc:
        onnxnet.export_onnx(model, tmp_path / "m.onnx")
    _one_line_refusal(exc, "Conv1D")
    assert not (tmp_path / "m.onnx").exists()


def test_export_check_catches_a_wrong_translation(tmp_path, monkeypatch):
    """The probe-window check must fail when the gate order is wrong (here: Keras's)."""
    model = _build("lstm", "price", seed=1)
    real = onnxnet._rnn_weights

    def keras_gate_order(layer, kind):
        w, r, b = real(layer, kind)
        perm = [0, 2, 3, 1]  # ONNX [i, o, f, c] back to Keras [i, f, c, o]

        def undo(a):
            blocks = np.split(a, 4, axis=1)
            return np.concatenate([blocks[j] for j in perm], axis=1)

        rb, bb = np.split(b, 2, axis=1)
        return undo(w), undo(r), np.concatenate([undo(rb), undo(bb)], axis=1)

    monkeypatch.setattr(onnxnet, "_rnn_weights", keras_gate_order)
    with pytest.raises(ArtifactError) as exc:
        onnxnet.export_onnx(model, tmp_path / "m.onnx")
    _one_line_refusal(exc, "differs from Keras")
    assert not (tmp_path / "m.onnx").exists()
