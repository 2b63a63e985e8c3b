"""README's two set-up commands stay true: CI runs exactly the second one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)[:2]


def test_readme_starts_with_two_setup_commands():
    cmds = _setup_commands()
    assert len(cmds) == 2
    install, tests = cmds
    assert install.startswith("python3 -m venv .venv && .venv/bin/pip install")
    assert ".venv/bin/lstmfc " in install and "--source sample" in install
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _setup_commands()[1] in ci
