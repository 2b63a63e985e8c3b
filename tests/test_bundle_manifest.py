"""lstmfc.bundles.manifest: a missing, unparsable, inconsistent or foreign
``manifest.json`` fails the bundle with one line naming the problem."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstmfc.bundles.bundle import load_bundle
from lstmfc.bundles.manifest import manifest_text, member_file, onnx_files
from lstmfc.core.errors import ArtifactError
from tests.bundle_helpers import T, rewrite_manifest, run_dir


def test_member_file_names():
    assert [member_file(i) for i in range(3)] == ["model.keras", "model-2.keras", "model-3.keras"]
    assert member_file(1, ".onnx") == "model-2.onnx"


def test_onnx_files_only_when_every_member_has_its_twin():
    both = {"model_file": "model.keras", "members": [{"onnx": "model.onnx"}, {"onnx": "b.onnx"}]}
    assert onnx_files(both) == ["model.onnx", "b.onnx"]
    one = {"model_file": "model.keras", "members": [{"onnx": "model.onnx"}, {"onnx": None}]}
    assert onnx_files(one) is None
    assert onnx_files({"model_file": "model.keras"}) is None  # schema 1: one network


@pytest.mark.parametrize(
    "damage,msg",
    [
        (lambda p: p.write_text("{not json"), "manifest.json is malformed (Expecting"),
        (lambda p: p.write_text("[1, 2]"), "manifest.json is malformed (not a JSON object)"),
        (lambda p: p.unlink(), "has no manifest.json; it is not a complete bundle"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00"), "manifest.json is malformed"),
    ],
)
def test_malformed_manifest_is_refused(bundle_ws, trained_bundles, damage, msg):
    run = run_dir(bundle_ws, trained_bundles[1])
    damage(run / "manifest.json")
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, run.name)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_manifest_symlink_is_refused(bundle_ws, trained_bundles, tmp_path):
    run = run_dir(bundle_ws, trained_bundles[1])
    (run / "manifest.json").rename(tmp_path / "manifest.json")
    (run / "manifest.json").symlink_to(tmp_path / "manifest.json")
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, run.name)
    assert str(e.value) == f"models/{T}/{run.name}/manifest.json is a symlink; refusing it"


@pytest.mark.parametrize(
    "edit,msg",
    [
        (lambda d: d.pop("files"), "('files' missing or not dict)"),
        (lambda d: d.update(schema=True), "('schema' missing or not int)"),
        (lambda d: d.update(schema=99), "has schema 99"),
        (lambda d: d.update(run_id="other"), "belongs to run 'other'"),
        (lambda d: d["target"].update(kind="magic"), "(bad 'target' entry)"),
        (lambda d: d["files"].update({"../x": {"sha256": "0", "bytes": 1}}), "outside the bundle"),
        (lambda d: d["files"]["model.keras"].pop("sha256"), "needs sha256 and bytes"),
        (
            lambda d: d.update(model_file="model.h5", members=[{"file": "model.h5"}]),
            "is a legacy HDF5 (.h5) model",
        ),
        (
            lambda d: d.update(model_file="model.pkl", members=[{"file": "model.pkl"}]),
            "is not a Keras 3 .keras file",
        ),
        (lambda d: d.update(members=[{"file": "model-2.keras"}]), "not the first member"),
        (lambda d: d.update(members=[]), "(bad 'members' entry)"),
        (lambda d: d["members"][0].update(onnx=3), "(bad 'onnx' entry)"),
        (lambda d: d.update(head="volatility"), "(unknown head 'volatility')"),
    ],
)
def test_inconsistent_manifest_is_refused(bundle_ws, trained_bundles, edit, msg):
    run = run_dir(bundle_ws, trained_bundles[1])
    rewrite_manifest(run, edit)
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, run.name)
    assert msg in str(e.value)


def test_manifest_text_is_strict_json():
    doc = {"a": float("nan"), "b": (np.float64(2.5), np.int64(3)), 4: [float("-inf"), "x"]}
    text = manifest_text(doc)
    assert text.endswith("}\n") and "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [2.5, 3], "4": [None, "x"]}
