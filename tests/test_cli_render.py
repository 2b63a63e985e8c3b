"""Every table of every command at 80 columns, as a cron log sees it (issue 13, 5b).

Off a terminal rich lays tables out for 80 columns (``COLUMNS=80`` is also set). For
each command's output this checks that no table line is wider than 80 characters (the
plain message lines, each starting with one of :data:`lstmfc.cli.render.MESSAGE_LABELS`,
are printed whole on purpose), that no cell ends in an ellipsis, and that every date,
ticker and run id printed appears whole on one line: a fragment of a date
(``2018-06`` at the end of a line) or of a run id is a failure.

One workspace is built once for the module (tiny networks: 4 units, 1 epoch,
lookback 10).
"""

from __future__ import annotations

import json
import re

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.cli.render import MESSAGE_LABELS, Grid, fit_widths
from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from tests.conftest import make_ohlcv

pytestmark = pytest.mark.slow

runner = CliRunner()
TINY = ["--units", "4", "--dense", "0", "--epochs", "1", "--seed", "1", "--patience", "1"]
WIDTH = 80
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_START = re.compile(r"(?<![\d])\d{4}-\d")  # anything that begins like a date
RUN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
RUN_START = re.compile(r"(?<![\d])\d{8}T")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """``{name: (CliRunner result, JSON document or None)}`` for every command."""
    home = tmp_path_factory.mktemp("render") / "ws"
    home.mkdir()
    env = {"LSTMFC_HOME": str(home), "COLUMNS": str(WIDTH), "LSTMFC_DEBUG": ""}
    ws = Workspace.resolve(home)
    full = make_ohlcv(200)
    for t in ("PRC", "DIR"):
        write_raw(ws.raw_path(t), full.iloc[:-3], {"source": "test"})
    universe = home / "universe.txt"
    universe.write_text("PRC\nDIR\nNOPE\n")
    csv = home / "runt.csv"
    full.reset_index().rename(columns=str.title).to_csv(csv, index=False)
    out: dict[str, tuple] = {}

    def call(name: str, *args: str, code: int = 0, json_doc: bool = False) -> None:
        res = runner.invoke(app, list(args), env=env)
        assert res.exit_code == code, (name, res.output)
        doc = None
        if json_doc:
            j = runner.invoke(app, [*args, "--json"], env=env)
            doc = json.loads(j.stdout)
        out[name] = (res, doc)

    call("samples", "samples")
    call("fetch", "fetch", "SP500", "--source", "sample", json_doc=True)
    call("prepare", "prepare", "PRC", "--lookback", "10", json_doc=True)
    runner.invoke(app, ["prepare", "DIR", "--lookback", "10"], env=env)
    call("train price", "train", "PRC", *TINY)
    call("train direction", "train", "DIR", "--head", "direction", *TINY)
    call("evaluate price", "evaluate", "PRC", json_doc=True)
    call("evaluate direction", "evaluate", "DIR")
    call("evaluate tickers-file", "evaluate", "--tickers-file", str(universe), code=1)
    call("predict", "predict", "PRC", "DIR", "--no-update", "--calendar", "weekdays", json_doc=True)
    for t in ("PRC", "DIR"):  # time passes: the target sessions arrive
        write_raw(ws.raw_path(t), full, {"source": "test"})
    call("forecasts before score", "forecasts")
    call("score", "score")
    call("forecasts", "forecasts", json_doc=True)
    bt = ["--lookback", "10", "--folds", "2", "--no-save-models", *TINY]
    call("backtest price", "backtest", "PRC", *bt)
    # one fit for both folds: the fold table shows "1 (re-used)"
    call(
        "backtest direction",
        "backtest",
        "DIR",
        "--head",
        "direction",
        *bt,
        "--retrain-every",
        "999",
    )
    call("run", *["run", "RUNT", "--source", "csv", "--path", str(csv), "--lookback", "10", *TINY])
    return out


COMMANDS = [
    "samples",
    "fetch",
    "prepare",
    "train price",
    "train direction",
    "evaluate price",
    "evaluate direction",
    "evaluate tickers-file",
    "predict",
    "forecasts before score",
    "score",
    "forecasts",
    "backtest price",
    "backtest direction",
    "run",
]


def _message(line: str) -> bool:
    return line.startswith(MESSAGE_LABELS)


@pytest.mark.parametrize("name", COMMANDS)
def test_tables_fit_80_columns_and_keep_values_whole(outputs, name):
    res, _ = outputs[name]
    lines = res.stdout.splitlines()
    assert lines, f"{name}: nothing on stdout"
    assert "…" not in res.stdout, f"{name}: a cell ends in an ellipsis"
    for line in lines:
        if _message(line):
            assert not re.search(r"[\u2500-\u257f]", line)  # never part of a table
            continue
        assert cell_len(line) <= WIDTH, f"{name}: {cell_len(line)} columns: {line!r}"
        for m in DATE_START.finditer(line):  # a date is whole where it starts
            assert DATE.match(line, m.start()), f"{name}: cut date in {line!r}"
        for m in RUN_START.finditer(line):
            assert RUN.match(line, m.start()), f"{name}: cut run id in {line!r}"


def _whole(value: str, res) -> bool:
    """``value`` on one line, not part of a longer word."""
    pattern = rf"(?<![\w-]){re.escape(value)}(?![\w-])"
    return any(re.search(pattern, ln) for ln in res.stdout.splitlines())


def test_run_ids_dates_and_tickers_of_the_daily_commands_are_printed_whole(outputs):
    res, doc = outputs["predict"]
    for r in doc:
        for v in (r["ticker"], r["run_id"], r["as_of"], r["target_date"]):
            assert _whole(v, res), v
    res, doc = outputs["forecasts"]
    assert len(doc) == 2
    for r in doc:
        for v in (r["ticker"], r["run_id"], r["target_date"]):
            assert _whole(v, res), v
    res, _ = outputs["score"]
    for r in doc:  # the live record: ticker and run on one line (was "SP500/20…")
        assert any(
            re.search(rf"\b{r['ticker']}\b.*\b{re.escape(r['run_id'])}\b", ln)
            for ln in res.stdout.splitlines()
        ), r["run_id"]


def test_evaluate_and_prepare_print_their_dates_and_run_id_whole(outputs):
    res, doc = outputs["evaluate price"]
    for v in (doc["ticker"], doc["run_id"], doc["test_start"], doc["test_end"]):
        assert _whole(v, res), v
    res, doc = outputs["prepare"]
    for s in doc["split"].values():
        assert _whole(s["start"], res) and _whole(s["end"], res)
    res, doc = outputs["fetch"]
    assert _whole(doc["first"], res) and _whole(doc["last"], res)
    assert any(ln == f"File: {doc['path']}" for ln in res.stdout.splitlines())
    res, doc = outputs["evaluate tickers-file"]
    for t in ("PRC", "DIR", "NOPE"):
        assert _whole(t, res)


def test_backtest_uses_80_columns_too_and_splits_the_fold_table(outputs):
    res, _ = outputs["backtest price"]
    out = res.stdout
    assert "scores per fold" in out  # the fold table did not fit 80 columns: two tables
    assert "trained on" in out and "tested on" in out
    res, _ = outputs["backtest direction"]
    assert "1 (re-used)" in " ".join(res.stdout.split())
    assert max(cell_len(ln) for ln in out.splitlines() if not _message(ln)) <= WIDTH


def test_a_wide_console_keeps_the_fold_table_whole(tmp_path):
    ws = Workspace.resolve(tmp_path)
    write_raw(ws.raw_path("AAA"), make_ohlcv(200), {"source": "test"})
    env = {"LSTMFC_HOME": str(tmp_path), "COLUMNS": "200"}
    args = ["backtest", "AAA", "--lookback", "10", "--folds", "2", "--retrain-every", "999"]
    args += ["--no-save-models", *TINY]
    res = runner.invoke(app, args, env=env)
    assert res.exit_code == 0, res.output
    assert "scores per fold" not in res.stdout and "left out at" not in res.stdout
    header = next(ln for ln in res.stdout.splitlines() if "trained on" in ln)
    assert "DM p" in header and "vs naive" in header  # one table: dates and scores


# ------------------------------------------------------------ the layout rules
def test_fit_widths_narrows_the_widest_column_but_never_below_its_longest_word():
    # room 20 for widest lines 12, 10, 4 (longest words 5, 8, 4), by hand: the 12 goes
    # to 10, then the two 10s lose one each in turn (later column first) down to 8, 8
    assert fit_widths([5, 8, 4], [12, 10, 4], 20) == [8, 8, 4]
    # room 17: the second column stops at its word (8), the first goes on down to 5
    assert fit_widths([5, 8, 4], [12, 10, 4], 17) == [5, 8, 4]
    # too narrow: the minimums stay (the caller leaves columns out instead)
    assert fit_widths([5, 8, 4], [12, 10, 4], 10) == [5, 8, 4]


def test_grid_leaves_out_columns_by_rank_and_names_them():
    g = Grid("t").column("ticker").column("date", min_width=10).column("note", drop=2)
    g.column("extra", drop=1)
    g.row("AAA", "2020-01-02", "a-rather-long-word", "another-long-word")
    # minimum widths 6, 10, 18, 17: 51 + 3 * 4 + 1 = 64 columns
    assert g.min_total() == 64
    assert g.layout(64) == ([0, 1, 2, 3], [])
    assert g.layout(63) == ([0, 1, 2], ["extra"])  # 34 + 10 = 44
    assert g.layout(43) == ([0, 1], ["extra", "note"])
    import io

    from rich.console import Console

    con = Console(width=44, record=True, file=io.StringIO())
    g.show(con)
    text = con.export_text()
    assert "left out at 44 columns: extra" in " ".join(text.split())
    assert "a-rather-long-word" in text and "2020-01-02" in text
    assert max(cell_len(ln) for ln in text.splitlines()) <= 44


def test_summary_table_verdict_drops_only_the_also_strongest_clause():
    """The cross-ticker table's verdict cell is the summary's short line: without the
    clause naming the benchmark as the strongest baseline, every other clause kept."""
    from lstmfc.cli.render_backtest import _table_verdict
    from lstmfc.evaluation.summary import skill_summary
    from lstmfc.stats.outcome import Outcome
    from lstmfc.stats.skill import SkillTest

    def test(bench, outcome, p):
        doc = SkillTest("diebold-mariano", 1.0, p, None, 50, outcome, bench).to_dict()
        return {**doc, "model": "lstm", "benchmark": bench}

    same = [test("majority", Outcome.NO_SKILL, 0.511)]
    both = [test("naive", Outcome.BEATS, 0.008), test("drift", Outcome.NO_SKILL, 0.41)]
    docs = {
        "A": {"skill": same[0], "skill_tests": same, "best_baseline": {"name": "majority"}},
        "B": {"skill": both[0], "skill_tests": both, "best_baseline": {"name": "drift"}},
    }
    rows = skill_summary(docs, 0.05)["rows"]
    assert _table_verdict(rows[0]) == "no skill over majority (p=0.511)"
    assert _table_verdict(rows[1]) == "beats naive (p=0.008) but not drift (p=0.41)"
    assert _table_verdict({}) == "—"
