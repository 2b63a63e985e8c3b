"""lstmfc.bundles.archive: every file of a bundle is checked against the manifest before
use, and a model file that is not an lstmfc-shaped Keras 3 archive is refused before
Keras reads it (a Lambda layer never runs)."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile

import pytest

from lstmfc.bundles import archive
from lstmfc.bundles.bundle import load_bundle
from lstmfc.bundles.save import save_bundle
from lstmfc.core.atomic import sha256_file
from lstmfc.core.errors import ArtifactError
from lstmfc.network import models
from tests.bundle_helpers import T, fix_checksum, run_dir
from tests.specs import model_spec
from tests.test_models import _lambda_model


def test_tampered_model_file_is_refused(bundle_ws, trained_bundles):
    run = run_dir(bundle_ws, trained_bundles[1])
    p = run / "model.keras"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, run.name)
    assert str(e.value) == (
        f"models/{T}/{run.name}/model.keras fails its sha256 check; "
        "the bundle was modified or is corrupt"
    )


def test_tampered_history_png_is_refused(bundle_ws, trained_bundles):
    run = run_dir(bundle_ws, trained_bundles[1])
    with open(run / "history.png", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ArtifactError, match="history.png has .* bytes, the manifest says"):
        load_bundle(bundle_ws, T, run.name)


def test_missing_listed_file_is_refused(bundle_ws, trained_bundles):
    run = run_dir(bundle_ws, trained_bundles[1])
    (run / "history.png").unlink()
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, run.name)
    assert str(e.value) == f"models/{T}/{run.name}/history.png is missing"


def test_h5_file_named_keras_is_refused(bundle_ws, trained_bundles):
    run = run_dir(bundle_ws, trained_bundles[1])
    m = models.build_model(model_spec(lookback=10, n_features=1, units=(2,), dense=0))
    h5 = run.parent / "legacy.h5"
    m.save(h5)
    shutil.copyfile(h5, run / "model.keras")
    fix_checksum(run, "model.keras")  # a correct manifest: the file type is what refuses it
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, run.name)
    assert str(e.value) == (
        f"models/{T}/{run.name}/model.keras is a legacy HDF5 (.h5) model, "
        "not a Keras 3 .keras file; refusing it"
    )


def test_model_directory_is_refused(bundle_ws, trained_bundles):
    run = run_dir(bundle_ws, trained_bundles[1])
    (run / "model.keras").unlink()
    (run / "model.keras").mkdir()
    (run / "model.keras" / "config.json").write_text("{}")
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, run.name)
    assert str(e.value) == (
        f"models/{T}/{run.name}/model.keras is a directory, not a regular file; refusing it"
    )


def test_symlink_leaving_the_bundle_is_refused(bundle_ws, trained_bundles, tmp_path):
    run = run_dir(bundle_ws, trained_bundles[1])
    outside = tmp_path / "elsewhere.keras"
    shutil.move(run / "model.keras", outside)
    os.symlink(outside, run / "model.keras")  # same bytes, checksum would match
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, run.name)
    assert str(e.value) == (
        f"models/{T}/{run.name}/model.keras is a symlink leaving the bundle "
        f"(to {os.path.realpath(outside)}); refusing it"
    )


def test_zip_with_extra_member_is_refused(bundle_ws, trained_bundles):
    run = run_dir(bundle_ws, trained_bundles[1])
    with zipfile.ZipFile(run / "model.keras", "a") as zf:
        zf.writestr("payload.py", "print('hi')")
    fix_checksum(run, "model.keras")
    with pytest.raises(ArtifactError, match="unexpected zip members \\(payload.py\\)"):
        load_bundle(bundle_ws, T, run.name)


def _keras_zip(config) -> bytes:
    """A .keras-shaped zip whose config.json is ``config``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", "{}")
        zf.writestr("model.weights.h5", b"")
    return buf.getvalue()


def test_config_naming_a_module_outside_keras_is_refused():
    layer = {"class_name": "Dense", "module": "os", "config": {}}
    config = {"class_name": "Functional", "config": {"layers": [layer]}}
    with pytest.raises(ArtifactError) as e:
        archive.check_keras_archive(_keras_zip(config), "m.keras")
    assert str(e.value) == "m.keras refers to module 'os'; refusing it without loading"
    archive.check_keras_archive(_keras_zip({"class_name": "Dense", "module": "keras.layers"}), "x")


def _evil_bundle(ws, trained, marker):
    """A bundle whose model has a file-writing Lambda and a CORRECT manifest."""
    model = _lambda_model(marker)
    good = json.loads((run_dir(ws, trained[1]) / "manifest.json").read_text())
    manifest = {k: v for k, v in good.items() if k not in ("files", "run_id", "model_file")}
    run = save_bundle(ws, T, model, manifest, run_id="evil-run", set_latest=False)
    marker.unlink(missing_ok=True)  # building the graph ran the lambda once, legitimately
    return run


def test_lambda_bundle_with_valid_checksums_is_refused_without_running(
    bundle_ws, trained_bundles, tmp_path
):
    marker = tmp_path / "pwned"
    run = _evil_bundle(bundle_ws, trained_bundles, marker)
    # the checksums are right, so only the content check can refuse it
    m = json.loads((run / "manifest.json").read_text())
    assert m["files"]["model.keras"]["sha256"] == sha256_file(run / "model.keras")
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, "evil-run")
    assert str(e.value) == (
        f"models/{T}/evil-run/model.keras uses 'Lambda', which lstmfc models never "
        "contain; refusing it without loading"
    )
    assert not marker.exists()


def test_lambda_bundle_is_refused_by_keras_safe_mode_too(
    bundle_ws, trained_bundles, tmp_path, monkeypatch
):
    """Even if the class allowlist let Lambda through, safe_mode refuses it unrun."""
    marker = tmp_path / "pwned"
    _evil_bundle(bundle_ws, trained_bundles, marker)
    monkeypatch.setattr(
        archive, "ALLOWED_CLASSES", archive.ALLOWED_CLASSES | {"Lambda", "__lambda__"}
    )
    with pytest.raises(ArtifactError) as e:
        load_bundle(bundle_ws, T, "evil-run")
    msg = str(e.value)
    assert msg.startswith(f"refused models/{T}/evil-run/model.keras: Keras could not load it")
    assert "Lambda" in msg and "\n" not in msg
    assert not marker.exists()
