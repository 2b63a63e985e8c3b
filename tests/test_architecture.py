"""The package's shape, checked as CI checks it (docs/architecture.md).

* the layer contracts of ``[tool.importlinter]`` in pyproject.toml hold (``lint-imports``),
  and a lower layer importing a higher one breaks them (shown on a copy of the package);
* ``ruff check`` and ``ruff format --check`` are clean;
* no module over 1,000 lines, no ``# fmt: skip``, no function over 100 lines of code or
  with more than 8 parameters (Typer command signatures excepted);
* lstmfc's own modules are imported at the top of each module, never inside a function.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lstmfc"
BIN = Path(sys.executable).parent
MAX_MODULE_LINES = 1000
MAX_FUNCTION_LINES = 100
MAX_PARAMETERS = 8


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else name


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [_tool("lint-imports"), "--config", str(root / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env=env,
    )


def test_layer_contracts_hold():
    res = _lint_imports(ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "2 kept, 0 broken" in res.stdout


@pytest.mark.parametrize(
    ("module", "upward", "contract"),
    [
        ("core/errors.py", "lstmfc.cli.app", "Each package imports only"),
        ("stats/metrics.py", "lstmfc.heads.base", "Each package imports only"),
        ("volatility/models.py", "lstmfc.quantiles.levels", "Each package imports only"),
    ],
)
def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(
    tmp_path, module, upward, contract
):
    """On a copy of the package: one import from a lower layer (or between independent
    siblings) upwards makes lint-imports fail, naming the contract and the import."""
    shutil.copytree(PACKAGE, tmp_path / "lstmfc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "lstmfc" / module
    target.write_text(target.read_text() + f"\nimport {upward}  # noqa: E402\n")
    res = _lint_imports(tmp_path)
    assert res.returncode != 0
    assert contract in res.stdout and "BROKEN" in res.stdout
    importer = "lstmfc." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {upward}" in res.stdout


def test_ruff_check_and_format_are_clean():
    for args in (["check", "lstmfc", "tests", "benchmarks"], ["format", "--check", "lstmfc"]):
        res = subprocess.run(
            [_tool("ruff"), *args], capture_output=True, text=True, timeout=300, cwd=ROOT
        )
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-1000:]


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def _code_lines(lines: list[str], node: ast.FunctionDef, *, signature: bool = True) -> int:
    """Lines of code of a function: no docstring, comment or blank line counted, and
    without ``signature`` only its body's (a Typer command's signature is its options)."""
    skip: set[int] = set()
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        skip = set(range(body[0].lineno, body[0].end_lineno + 1))
    first = node.lineno if signature else body[0].lineno
    return sum(
        1
        for i in range(first, node.end_lineno + 1)
        if i not in skip and lines[i - 1].strip() and not lines[i - 1].strip().startswith("#")
    )


def _is_command(node: ast.FunctionDef) -> bool:
    """A Typer command: decorated with ``@<app>.command(...)``."""
    for d in node.decorator_list:
        f = d.func if isinstance(d, ast.Call) else d
        if isinstance(f, ast.Attribute) and f.attr == "command":
            return True
    return False


def _parameters(node: ast.FunctionDef) -> int:
    a = node.args
    names = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    n = len(names) + (a.vararg is not None) + (a.kwarg is not None)
    return n - (1 if names and names[0].arg in ("self", "cls") else 0)


def test_size_limits():
    problems = []
    for path in _modules():
        text = path.read_text()
        rel = path.relative_to(ROOT)
        lines = text.splitlines()
        if len(lines) > MAX_MODULE_LINES:
            problems.append(f"{rel}: {len(lines)} lines")
        if "fmt: skip" in text or "fmt: off" in text:
            problems.append(f"{rel}: a ruff format exemption")
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            n_lines = _code_lines(lines, node, signature=not _is_command(node))
            if n_lines > MAX_FUNCTION_LINES:
                problems.append(f"{rel}:{node.lineno} {node.name}: {n_lines} lines of code")
            if _parameters(node) > MAX_PARAMETERS and not _is_command(node):
                problems.append(f"{rel}:{node.lineno} {node.name}: {_parameters(node)} parameters")
    assert not problems, "\n".join(problems)


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def test_lstmfc_modules_are_imported_at_the_top():
    """Imports of lstmfc's own modules sit at module level (``if TYPE_CHECKING`` blocks
    included); only third-party packages may be imported inside a function."""
    late = []
    for path in _modules():
        tree = ast.parse(path.read_text())
        top = set()
        for node in tree.body:
            top.add(id(node))
            if isinstance(node, ast.If) and _type_checking(node):
                top |= {id(n) for n in node.body}
        for node in ast.walk(tree):
            if id(node) in top:
                continue
            name = None
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                name = node.module
            elif isinstance(node, ast.Import):
                name = node.names[0].name
            if name and name.split(".")[0] == "lstmfc":
                late.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not late, "\n".join(late)
