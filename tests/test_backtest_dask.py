"""The Dask executor on a LocalCluster started here on loopback (2 worker processes).

* ``local`` and ``dask`` give identical reports and forecasts (2 tickers x 2 folds);
* a worker killed while it runs a unit has that unit retried by Dask, with the same
  result as an in-process run.

Each worker process imports TensorFlow once (~10 s on a small machine), so these
tests are marked slow.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from lstmfc import backtest as bt
from lstmfc.backtest import BacktestConfig
from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from tests.backtest_helpers import comparable
from tests.conftest import make_ohlcv

# a Dask cluster that stops answering must fail this file, not hang CI (pytest-timeout)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TINY = dict(lookback=10, units="4", dense=0, epochs=1, batch_size=32, patience=1, seed=5)


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as c:
        yield c


def test_local_and_dask_give_identical_results(workspace, cluster):
    ws = Workspace.resolve(workspace)
    for i, t in enumerate(("AAA", "BBB")):
        write_raw(ws.raw_path(t), make_ohlcv(200, seed=10 + i), {"source": "test"})
    cfg = BacktestConfig.build(**TINY, folds=2)
    local = bt.backtest(ws, ["AAA", "BBB"], cfg, execution=bt.Execution("local", 1))
    dask = bt.backtest(
        ws, ["AAA", "BBB"], cfg, execution=bt.Execution("dask", scheduler=cluster.scheduler_address)
    )
    assert dask["executor"] == {"kind": "dask", "jobs": 1, "scheduler": cluster.scheduler_address}
    assert local["n_units"] == dask["n_units"] == 4
    assert all(r["ok"] for r in dask["tickers"].values())
    assert comparable(local) == comparable(dask)
    for t in ("AAA", "BBB"):
        a = (workspace / local["tickers"][t]["path"] / "forecasts.csv").read_bytes()
        b = (workspace / dask["tickers"][t]["path"] / "forecasts.csv").read_bytes()
        assert a == b
        w = [f["weights_sha256"] for f in dask["tickers"][t]["fits"]]
        assert len(set(w)) == 2  # two different fits, each bit-identical to the local one


def kill_first_attempt(unit, marker_dir):
    """Kill this worker process the first time a unit runs; run it normally after."""
    marker = Path(marker_dir) / f"{unit.ticker}-{unit.fit}"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return {"result": bt.run_unit(unit), "pid": os.getpid()}


def test_a_killed_worker_has_its_unit_retried(cluster, tmp_path):
    cfg = BacktestConfig.build(**TINY, folds=2, retrain_every=10_000, save_models=False).validate()
    job = bt.prepare_ticker("KIL", make_ohlcv(200, seed=3), cfg)
    units = job.units
    assert len(units) == 1
    seen = []
    results = bt.execute_units(
        units,
        bt.Execution("dask", scheduler=cluster.scheduler_address),
        fn=functools.partial(kill_first_attempt, marker_dir=str(tmp_path)),
        on_result=lambda i, r: seen.append(i),
    )
    killed_pid = int((tmp_path / "KIL-0").read_text())
    (done,) = results
    res = done["result"]
    assert res.ok
    assert done["pid"] != killed_pid  # it ran again, in a fresh worker process
    assert seen == [0]
    ref = bt.run_unit(units[0])  # in this process
    assert res.fingerprints == ref.fingerprints
    assert np.array_equal(res.forecast, ref.forecast)
