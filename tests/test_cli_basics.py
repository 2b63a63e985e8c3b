"""CLI contract: fast paths never import TensorFlow; errors are one line; --version."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from lstmfc import __version__
from lstmfc.cli import app

runner = CliRunner()

PROBE = """
import sys
from typer.testing import CliRunner
from lstmfc.cli import app
r = CliRunner()
for args in (["--help"], ["fetch", "SP500", "--source", "sample"], ["prepare", "SP500"],
             ["samples"], ["forecasts"]):
    res = r.invoke(app, args)
    assert res.exit_code == 0, (args, res.output)
heavy = [m for m in ("tensorflow", "keras", "torch", "jax") if m in sys.modules]
print(",".join(heavy) or "none")
"""


def test_help_fetch_prepare_do_not_import_tensorflow(workspace):
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip() == "none"


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"lstmfc {__version__}"


def test_python_dash_m_entry_point(workspace):
    out = subprocess.run(
        [sys.executable, "-m", "lstmfc", "samples", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and '"SP500"' in out.stdout


def test_errors_are_one_line_without_traceback_and_debug_shows_it(workspace):
    res = runner.invoke(app, ["prepare", "NOPE"])
    assert res.exit_code == 1
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "lstmfc fetch NOPE" in res.stderr
    dbg = runner.invoke(app, ["prepare", "NOPE", "--debug"])
    assert dbg.exit_code == 1 and dbg.exception is not None
