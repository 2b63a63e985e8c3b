"""docs/cli.md is the reference generated from the Typer app, and it is up to date."""

from __future__ import annotations

from pathlib import Path

import typer._click as click
from typer.main import get_command

from lstmfc.cli import app
from lstmfc.cli.reference import REGENERATE, render

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_docs_cli_md_is_up_to_date():
    fresh = render()
    stored = DOC.read_bytes() if DOC.is_file() else b""
    assert stored == fresh.encode("utf-8"), (
        f"docs/cli.md is stale (a command, option or help text changed); regenerate it "
        f"with `{REGENERATE}` and commit it"
    )


def test_the_reference_lists_every_command_and_option_from_click():
    """Checked against click's own command objects, not the generator's loops."""
    text = render()
    group = get_command(app)
    ctx = click.Context(group, info_name="lstmfc")
    for name in group.list_commands(ctx):
        assert f"## `lstmfc {name}`" in text
        section = text.split(f"## `lstmfc {name}`", 1)[1].split("\n## ", 1)[0]
        command = group.get_command(ctx, name)
        for p in command.params:
            if p.param_type_name == "argument":
                assert f"| `{p.name.upper()}` |" in section, (name, p.name)
            else:
                for opt in [*p.opts, *p.secondary_opts]:
                    assert f"`{opt}`" in section, (name, opt)
                assert " ".join((p.help or "").split())[:40] in section, (name, p.name)


def test_the_reference_states_the_option_bounds():
    text = render()
    for bound in (
        "Maximum epochs (per network), 1 to 10000.",
        "at most 20,000,000 weights in all",
        "Rows per input window, 1 to 2520.",
        "Networks per fit (1 to 50)",
        "each at least 0.01",
        "at most 500 fits per ticker",
        "1 to 4 x the machine's cores",
    ):
        assert bound in text, bound


def test_the_reference_is_stable_text():
    a, b = render(), render()
    assert a == b and a.endswith("\n") and not a.endswith("\n\n")
    assert "\x1b[" not in a  # no terminal escape codes: not rich's help rendering
