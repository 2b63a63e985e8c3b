"""Generate ``docs/cli.md``, the command-line reference, from the Typer app itself.

Regenerate after changing a command, an option or a help text::

    python -m lstmfc.cli.reference > docs/cli.md

``tests/test_cli_reference.py`` fails while ``docs/cli.md`` differs from what this
prints. The text comes from click's command objects (``typer.main.get_command(app)``:
names, parameters, defaults, help strings), never from rich's help rendering, so it
does not depend on the terminal's width or on rich's version.
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from pathlib import Path
from typing import Any

import typer._click as click
from typer.main import get_command

from lstmfc.cli.app import app, load_command
from lstmfc.core import errors

REGENERATE = "python -m lstmfc.cli.reference > docs/cli.md"

_TYPE_NAMES = {int: "INTEGER", float: "FLOAT", str: "TEXT", bool: "BOOLEAN", Path: "PATH"}


def _inner(annotation: Any) -> tuple[Any, bool]:
    """``(element type, variadic)`` of an annotation (``X | None``, ``list[X]``)."""
    variadic = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else str
        elif origin in (list, tuple):
            variadic = True
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation, variadic


def _type_name(param) -> str:
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if annotation is None:  # a plain click parameter
        return str(getattr(getattr(param, "type", None), "name", "text")).upper()
    inner, variadic = _inner(annotation)
    name = _TYPE_NAMES.get(inner, getattr(inner, "__name__", "TEXT").upper())
    lo, hi = getattr(param, "min", None), getattr(param, "max", None)
    if lo is not None or hi is not None:
        name += f" ({'' if lo is None else lo}..{'' if hi is None else hi})"
    return name + (" ..." if variadic else "")


def _cell(text: Any) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(param) -> str:
    if getattr(param, "is_flag", False) and getattr(param, "secondary_opts", None):
        return f"`{param.opts[0] if param.default else param.secondary_opts[0]}`"
    if getattr(param, "is_flag", False):
        return "off" if not param.default else "on"
    if param.show_default is False or param.default is None:
        return ""
    if isinstance(param.default, list | tuple):
        return " ".join(str(v) for v in param.default)
    return f"`{param.default}`"


def _usage(name: str, command) -> str:
    pieces = [f"lstmfc {name}"]
    if any(not _is_argument(p) for p in command.params):
        pieces.append("[OPTIONS]")
    for p in command.params:
        if _is_argument(p):
            metavar = p.name.upper() + ("..." if p.nargs == -1 else "")
            pieces.append(metavar if p.required else f"[{metavar}]")
    return " ".join(pieces)


def _is_argument(param) -> bool:
    return param.param_type_name == "argument"


def _help_text(command) -> tuple[str, str]:
    """Summary line and the rest of a command's docstring (dedented)."""
    text = inspect.cleandoc(command.help or "")
    head, _, rest = text.partition("\n")
    return head.strip(), rest.strip("\n")


def _option_names(param) -> str:
    names = [*param.opts, *param.secondary_opts]
    return ", ".join(f"`{n}`" for n in names)


def _command_section(name: str, command) -> list[str]:
    summary, body = _help_text(command)
    out = [f"## `lstmfc {name}`", "", summary, "", "```text", _usage(name, command), "```", ""]
    if body:
        out += ["```text", body, "```", ""]
    args = [p for p in command.params if _is_argument(p)]
    opts = [p for p in command.params if not _is_argument(p) and not p.hidden]
    if args:
        out += ["| argument | type | required | description |", "| --- | --- | --- | --- |"]
        for p in args:
            out.append(
                f"| `{p.name.upper()}` | {_type_name(p)} | {'yes' if p.required else 'no'} "
                f"| {_cell(getattr(p, 'help', '') or '')} |"
            )
        out.append("")
    if opts:
        out += ["| option | type | default | description |", "| --- | --- | --- | --- |"]
        for p in opts:
            kind = "flag" if getattr(p, "is_flag", False) else _type_name(p)
            desc = getattr(p, "help", "") or ""
            if p.envvar:
                desc += f" Environment variable: `{p.envvar}`."
            out.append(f"| {_option_names(p)} | {kind} | {_default(p)} | {_cell(desc)} |")
        out.append("")
    return out


def _exit_codes() -> list[str]:

    rows = [("0", "success")]
    for cls in (errors.DataError, errors.ArtifactError, errors.UsageError):
        doc = (cls.__doc__ or "").split("(exit code")[0].strip()
        rows.append((str(cls.exit_code), f"{cls.__name__}: {doc}"))
    tf = errors.TemporaryFailure
    rows.append(
        (str(tf.exit_code), f"{tf.__name__}: {(tf.__doc__ or '').split('(exit')[0].strip()}")
    )
    rows.append(("130", "interrupted (Ctrl-C); nothing was left half-written"))
    return ["| exit code | meaning |", "| --- | --- |", *(f"| {c} | {_cell(m)} |" for c, m in rows)]


def render() -> str:
    """The whole of ``docs/cli.md``."""
    group = get_command(app)
    ctx = click.Context(group, info_name="lstmfc")
    names = group.list_commands(ctx)
    lines = [
        "# Command-line reference",
        "",
        f"<!-- generated by `{REGENERATE}`; do not edit by hand -->",
        "",
        _cell(group.help or ""),
        "",
        "```text",
        "lstmfc [--version] [-h | --help] COMMAND [ARGS]...",
        "```",
        "",
        "Commands: " + ", ".join(f"[`{n}`](#lstmfc-{n})" for n in names) + ".",
        "",
        "Every command takes `-h`/`--help`. Errors are one line on stderr starting with "
        "`Error: `, with these exit codes (a multi-ticker command exits 1 if any ticker "
        "failed, unless all failures share one of the codes 2 or 75):",
        "",
        *_exit_codes(),
        "",
        "Numeric options are bounded; a value outside the range in its description is "
        "refused before any work starts (exit 2), or, where the bound depends on the data "
        "(training memory, backtest fits, `--folds` against the test windows), before any "
        "network is built (exit 1). Tables fit the terminal, or 80 columns when stdout is "
        "not a terminal; `COLUMNS` overrides it.",
        "",
    ]
    for name in names:
        lines += _command_section(name, load_command(name))
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    """Print the reference on stdout (``python -m lstmfc.cli.reference``)."""
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
