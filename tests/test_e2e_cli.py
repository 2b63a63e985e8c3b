"""End to end through the command line only (``lstmfc.cli.app`` with Typer's CliRunner):
fetch the bundled SP500 sample, prepare, train a tiny network, then

* ``predict --engine keras`` and ``--engine onnx`` log the same forecast;
* ``export TICKER --model RUN`` gives an older bundle (no ONNX twin) its twin, and
  predict then runs it;
* ``predict`` with the default exchange calendar (XNYS) targets the next session, which
  after the sample's last date (Monday 2018-12-31) skips New Year's Day;
* ``backtest --executor dask`` on a scheduler started here and on the default local
  cluster gives the local executor's result;
* the GARCH(1,1)-normal VaR/ES row of docs/quantiles.md is reproduced by the command it
  was measured with.

Known answers come from elsewhere: the Keras engine for the ONNX one, exchange_calendars
called directly (and the holiday by hand) for the target date, the local executor for
Dask, the numbers written in docs/quantiles.md for the GARCH row. No network: data come
from ``--source sample`` or a CSV written here.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmfc.cli import app
from tests.backtest_helpers import comparable
from tests.conftest import make_ohlcv

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
TINY = ["--units", "4", "--dense", "0", "--epochs", "1", "--batch-size", "256", "--patience", "1"]
PREDICT = ["predict", "SP500", "--source", "sample"]  # never Yahoo: the sample is the source


def cli(home: Path, *args: str, code: int = 0):
    """Run ``lstmfc ARGS`` with ``--home`` = ``home``; check the exit code."""
    res = runner.invoke(app, [*args, "--home", str(home)], env={"LSTMFC_DEBUG": ""})
    assert res.exit_code == code, f"lstmfc {' '.join(args)}: exit {res.exit_code}\n{res.output}"
    return res


def cli_json(home: Path, *args: str, code: int = 0):
    return json.loads(cli(home, *args, "--json", code=code).stdout)


def logged(home: Path) -> list[dict]:
    """The forecast log as ``lstmfc forecasts --json`` lists it."""
    return cli_json(home, "forecasts")


@pytest.fixture(scope="module")
def sp500(tmp_path_factory) -> dict:
    """A workspace with the SP500 sample fetched, prepared (lookback 10) and one tiny
    network trained; each test works on a copy."""
    home = tmp_path_factory.mktemp("e2e") / "ws"
    home.mkdir()
    cli(home, "fetch", "SP500", "--source", "sample")
    cli(home, "prepare", "SP500", "--lookback", "10")
    run = cli_json(home, "train", "SP500", *TINY, "--seed", "1")
    last = pd.read_parquet(home / "data" / "raw" / "SP500.parquet").index.max()
    return {"home": home, "run_id": run["run_id"], "last": last}


def _copy(sp500, tmp_path, name="copy") -> Path:
    dst = tmp_path / name
    shutil.copytree(sp500["home"], dst, symlinks=True)
    return dst


# ------------------------------------------------------------------ engines
def test_keras_and_onnx_engines_log_the_same_forecast(sp500, tmp_path):
    rows, reports = {}, {}
    for engine in ("keras", "onnx"):
        home = _copy(sp500, tmp_path, engine)  # one log each: a re-run would not re-log
        (reports[engine],) = cli_json(home, *PREDICT, "--engine", engine)
        (rows[engine],) = logged(home)
    for engine in ("keras", "onnx"):
        assert reports[engine]["engine"] == engine and reports[engine]["logged"] is True
        assert rows[engine]["run_id"] == sp500["run_id"]
        assert rows[engine]["forecast_price"] == reports[engine]["forecast_price"]
    k, o = rows["keras"], rows["onnx"]
    same = ("ticker", "as_of", "target_date", "horizon", "step", "run_id", "close_as_of")
    assert {c: k[c] for c in same} == {c: o[c] for c in same}
    # the network's output is a float32 log return; the forecast is close * exp(it)
    rk, ro = (np.log(r["forecast_price"] / r["close_as_of"]) for r in (k, o))
    assert abs(rk - ro) <= 1e-6 * max(abs(rk), 1e-3)
    assert k["forecast_price"] != k["close_as_of"]  # a real forecast, not the naive one


# ------------------------------------------------------------------ export --model
def _strip_onnx(run: Path) -> None:
    """Make ``run`` look like a bundle written before lstmfc wrote ONNX twins."""
    manifest = json.loads((run / "manifest.json").read_text())
    for member in manifest["members"]:
        (run / member.pop("onnx")).unlink()
    manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.endswith(".onnx")}
    (run / "manifest.json").write_text(json.dumps(manifest))


def test_export_gives_the_chosen_older_bundle_its_onnx_twin(sp500, tmp_path):
    home = _copy(sp500, tmp_path)
    old = sp500["run_id"]
    new = cli_json(home, "train", "SP500", *TINY, "--seed", "2")["run_id"]  # now latest
    root = home / "models" / "SP500"
    _strip_onnx(root / old)
    new_manifest = (root / new / "manifest.json").read_bytes()
    keras_run = cli(home, *PREDICT, "--model", old, "--json")
    (before,) = json.loads(keras_run.stdout)
    assert before["engine"] == "keras"
    assert "has no ONNX file" in keras_run.stderr and "lstmfc export SP500" in keras_run.stderr

    doc = cli_json(home, "export", "SP500", "--model", old)
    assert doc["status"] == "exported"
    assert sorted(p.name for p in (root / old).glob("*.onnx")) == ["model.onnx"]
    assert (root / new / "manifest.json").read_bytes() == new_manifest  # latest untouched
    onnx_run = cli(home, *PREDICT, "--model", old, "--json")
    (after,) = json.loads(onnx_run.stdout)
    assert after["engine"] == "onnx" and after["run_id"] == old
    assert "ONNX" not in onnx_run.stderr
    assert after["logged"] is False  # the same forecast is already in the log
    rk, ro = (np.log(d["forecast_price"] / d["close_as_of"]) for d in (before, after))
    assert abs(rk - ro) <= 1e-6 * max(abs(rk), 1e-3)
    assert cli_json(home, "export", "SP500", "--model", old)["status"] == "already exported"


# ------------------------------------------------------------------ exchange calendar
def test_default_calendar_targets_the_next_xnys_session(sp500, tmp_path):
    import exchange_calendars as xc

    home = _copy(sp500, tmp_path)
    (doc,) = cli_json(home, *PREDICT)  # no --calendar: XNYS
    last = sp500["last"]
    want = xc.get_calendar("XNYS").next_session(last.strftime("%Y-%m-%d"))
    # by hand: the sample ends on Monday 2018-12-31; 2019-01-01 (New Year's Day) is an
    # NYSE holiday, so the next session is Wednesday 2019-01-02
    assert (last.strftime("%Y-%m-%d"), last.day_name()) == ("2018-12-31", "Monday")
    assert want.strftime("%Y-%m-%d") == "2019-01-02"
    (row,) = logged(home)
    assert (row["as_of"], row["target_date"]) == ("2018-12-31", "2019-01-02")
    assert doc["target_date"] == "2019-01-02"
    home2 = _copy(sp500, tmp_path, "weekdays")  # the check above is not what weekdays give
    (row2,) = cli_json(home2, *PREDICT, "--calendar", "weekdays")
    assert row2["target_date"] == "2019-01-01"


# ------------------------------------------------------------------ Dask
BT = ["backtest", "SYN", "--lookback", "10", *TINY, "--seed", "5", "--folds", "2"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, dict]:
    """A workspace with a 200-session synthetic series (fetched from a CSV) and its
    local-executor backtest."""
    home = tmp_path_factory.mktemp("bt") / "ws"
    home.mkdir()
    csv = home.parent / "syn.csv"
    make_ohlcv(200, seed=11).reset_index().rename(columns=str.title).to_csv(csv, index=False)
    cli(home, "fetch", "SYN", "--source", "csv", "--path", str(csv))
    local = cli_json(home, *BT, "--executor", "local")
    assert local["executor"]["kind"] == "local"
    return home, local


def _same_as_local(home: Path, local: dict, dask: dict) -> None:
    assert dask["n_units"] == local["n_units"] == 2
    assert dask["tickers"]["SYN"]["ok"] is True
    assert comparable(dask) == comparable(local)
    a = (home / local["tickers"]["SYN"]["path"] / "forecasts.csv").read_bytes()
    b = (home / dask["tickers"]["SYN"]["path"] / "forecasts.csv").read_bytes()
    assert a == b
    fits = dask["tickers"]["SYN"]["fits"]
    assert len({f["weights_sha256"] for f in fits}) == 2  # two fits, each as the local one


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_backtest_on_a_dask_scheduler_equals_the_local_executor(synthetic, monkeypatch):
    from dask.distributed import LocalCluster

    home, local = synthetic
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,  # the worker is a thread of this process: no second Keras import
        protocol="tcp://",  # an address the CLI takes (tcp://HOST:PORT), not inproc://
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster:
        addr = cluster.scheduler_address
        res = cli(home, *BT, "--executor", "dask", "--scheduler", addr, "--json")
    dask = json.loads(res.stdout)
    assert dask["executor"] == {"kind": "dask", "jobs": 1, "scheduler": addr}
    assert f"Dask scheduler {addr}: 1 workers" in res.stderr
    _same_as_local(home, local, dask)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_backtest_on_the_default_local_dask_cluster_equals_the_local_executor(
    synthetic, monkeypatch
):
    home, local = synthetic
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    # --jobs 1 as the local run: bit-identical needs the same backend threads per unit
    # (cores // jobs; docs/backtests.md, executors)
    res = cli(home, *BT, "--executor", "dask", "--json")
    dask = json.loads(res.stdout)
    assert dask["executor"]["kind"] == "dask" and dask["executor"]["jobs"] == 1
    assert "starting a local Dask cluster: 1 worker processes on 127.0.0.1" in res.stderr
    _same_as_local(home, local, dask)


# ------------------------------------------------------------------ docs/quantiles.md
def _doc_row(model: str) -> list[str]:
    """The ``model`` row of the VaR/ES table under the SP500 seed 1 heading."""
    text = (ROOT / "docs" / "quantiles.md").read_text()
    head = "#### SP500: lookback 60, features logret,absret,logrange, LSTM(32), dense 0, seed 1"
    section = text[text.index(head) :].split("\n#### ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith(f"| {model} |")]
    var_rows = [r for r in rows if "(7.5)" in r]  # the VaR/ES table, not the scores one
    assert len(var_rows) == 1, rows
    return [c.strip() for c in var_rows[0].strip("|").split("|")][1:]


def _shown(value: float, text: str) -> bool:
    """``value`` rounds to ``text`` at the precision shown (``0.125``, ``5.7e-04``)."""
    if "e" in text:
        digits = len(text.split("e")[0].split(".")[1])
        return f"{value:.{digits}e}" == text
    digits = len(text.split(".")[1]) if "." in text else 0
    return f"{value:+.{digits}f}".lstrip("+") == text.lstrip("+")


@pytest.mark.slow
def test_garch_normal_var_row_of_docs_quantiles_is_reproduced(tmp_path):
    """docs/quantiles.md: the SP500 seed-1 row of garch_n, measured with
    ``lstmfc run SP500 --source sample --head quantile --lookback 60 --features
    logret,absret,logrange --units 32 --dense 0 --seed 1``. The GARCH baseline is fit on
    the training rows only, so the network (here tiny, 1 epoch) does not change it."""
    cells = _doc_row("garch_n")
    # VaR 1%: hits (exp.) | Kupiec p | indep. p | cond. cov. p | VaR 2.5%: hits | Kupiec p |
    # VaR 5%: hits (exp.) | Kupiec p | indep. p | cond. cov. p | ES 97.5% Z2 (p) | ES 99% Z2 (p)
    assert cells[0] == "12 (7.5)" and cells[6] == "22 (37.3)"  # issue 15's reference figures
    args = ["run", "SP500", "--source", "sample", "--head", "quantile", "--lookback", "60",
            "--features", "logret,absret,logrange", "--units", "4", "--dense", "0",
            "--epochs", "1", "--batch-size", "512", "--seed", "1"]  # fmt: skip
    ev = cli_json(tmp_path, *args)["evaluation"]
    assert (ev["n_test"], ev["test_start"], ev["test_end"]) == (746, "2016-01-14", "2018-12-31")
    v1, v25, v5 = ev["var_backtests"]["garch_n"]
    assert (v1["alpha"], v25["alpha"], v5["alpha"]) == (0.01, 0.025, 0.05)
    es = {e["alpha"]: e for e in ev["es_backtests"]["garch_n"]}

    def hits(v, text):
        m = re.fullmatch(r"(\d+) \(([\d.]+)\)", text)
        return v["hits"] == int(m[1]) and _shown(v["expected_hits"], m[2])

    def z2(e, text):
        m = re.fullmatch(r"([+-][\d.]+) \(([\d.e-]+)\)", text)
        return _shown(e["z2"], m[1]) and _shown(e["z2_p"], m[2])

    got = [
        hits(v1, cells[0]),
        _shown(v1["kupiec_p"], cells[1]),
        _shown(v1["christoffersen_ind_p"], cells[2]),
        _shown(v1["christoffersen_cc_p"], cells[3]),
        hits(v25, cells[4]),
        _shown(v25["kupiec_p"], cells[5]),
        hits(v5, cells[6]),
        _shown(v5["kupiec_p"], cells[7]),
        _shown(v5["christoffersen_ind_p"], cells[8]),
        _shown(v5["christoffersen_cc_p"], cells[9]),
        z2(es[0.025], cells[10]),
        z2(es[0.01], cells[11]),
    ]
    assert all(got), list(zip(cells, got, strict=True))
