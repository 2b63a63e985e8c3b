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


def test_root_help_lists_every_command_without_importing_the_library():
    """``lstmfc --help`` lists the commands from :data:`COMMANDS` alone: in a fresh
    process it loads no command module, no lstmfc library package and not NumPy."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from lstmfc.cli import app\n"
        "res = CliRunner().invoke(app, ['--help'])\n"
        "assert res.exit_code == 0, res.output\n"
        "print(sorted(m for m in sys.modules if m.startswith(('lstmfc', 'numpy'))))\n"
        "print(res.output)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded, _, shown = out.stdout.partition("\n")
    cli_only = ["lstmfc", "lstmfc.cli", "lstmfc.cli.app", "lstmfc.core"]
    assert loaded == str([*cli_only, "lstmfc.core.errors", "lstmfc.core.limits"])
    flat = " ".join(shown.replace("│", " ").split())
    from lstmfc.cli.app import COMMANDS

    for name in COMMANDS:
        assert f" {name} " in flat


def test_each_listed_help_line_is_the_commands_own_docstring():
    import inspect

    from lstmfc.cli.app import COMMANDS, load_command

    for name, (_module, line) in COMMANDS.items():
        cmd = load_command(name)
        first = " ".join(inspect.cleandoc(cmd.help).split("\n\n")[0].split())
        assert first == line, name
