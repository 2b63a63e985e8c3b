"""Walk-forward units per minute with 1 and 2 workers, local (joblib/loky) and Dask.

Usage::

    .venv/bin/python benchmarks/backtest_units.py                  # all four executors
    .venv/bin/python benchmarks/backtest_units.py --modes local-1,dask-2 --folds 4 --json

Work: the last ``--rows`` rows of the bundled SP500 sample (fetched into a temporary
workspace with ``lstmfc.data.fetch``), ``--folds`` walk-forward folds = units of work,
each a tiny network (LSTM ``--units``, no dense layer, ``--epochs`` epochs, lookback
``--lookback``), exactly :func:`lstmfc.backtest.run_unit` as ``lstmfc backtest`` runs it.

Executors (``--modes``, comma list):

* ``local-1``: units one after another in this process (``--jobs 1``);
* ``local-2``: two joblib/loky worker processes (``--jobs 2``), TF threads per worker
  ``max(1, cores // 2)``;
* ``dask-1`` / ``dask-2``: a ``LocalCluster`` of 1 or 2 single-threaded worker
  processes on 127.0.0.1, units submitted as ``lstmfc backtest --executor dask`` does.

Each executor runs the same units twice: ``cold`` includes starting its worker
processes and importing TensorFlow in them (what one ``lstmfc backtest`` call pays),
``warm`` re-uses the started workers (what a long-lived cluster pays per unit).
Figure = units / wall-clock minutes. Results are checked to be identical across
executors with the same number of workers, i.e. the same backend threads per unit
(same weights sha256): ``local-N`` against ``dask-N``. Across thread counts they are
not: torch's CPU kernels split reductions by thread, so 1 and 2 threads per unit give
weights that differ in the last bits (printed as the third check). The 1-minute load
average is printed before and after: on a shared machine compare figures only from a
quiet run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_units(args) -> list:
    from lstmfc import backtest as bt
    from lstmfc.core.config import Workspace
    from lstmfc.data.fetch import fetch_ticker
    from lstmfc.data.sources import FetchRequest
    from lstmfc.data.store import read_raw

    with tempfile.TemporaryDirectory(prefix="lstmfc-bench-") as home:
        ws = Workspace.resolve(home)
        fetch_ticker(ws, "SP500", FetchRequest(source="sample"))
        raw, _ = read_raw(ws.raw_path("SP500"))
    raw = raw.iloc[-args.rows :]
    cfg = bt.BacktestConfig.build(
        lookback=args.lookback,
        folds=args.folds,
        units=str(args.units),
        dense=0,
        epochs=args.epochs,
        batch_size=32,
        patience=args.epochs,
        seed=11,
        save_models=False,
    ).validate()
    job = bt.prepare_ticker("SP500", raw, cfg)
    return job.units


def run_mode(mode: str, units: list[dict]) -> dict:
    from lstmfc import backtest as bt

    kind, n = mode.split("-")
    n = int(n)
    out = {"mode": mode, "workers": n, "units": len(units)}
    cluster = None
    kw: dict = {"executor": kind, "jobs": n}
    if kind == "dask":
        from dask.distributed import LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        out["cluster_start_s"] = round(time.perf_counter() - t0, 2)
        kw["scheduler"] = cluster.scheduler_address
        # the executor passes no thread cap to an external scheduler: give the same cap
        units = [dataclasses.replace(u, threads=bt.local_threads(n)) for u in units]
    try:
        for phase in ("cold", "warm"):
            t0 = time.perf_counter()
            res = bt.execute_units(units, bt.Execution(**kw))
            secs = time.perf_counter() - t0
            bad = [r.error for r in res if not r.ok]
            if bad:
                raise SystemExit(f"{mode}: {bad[0]}")
            out[f"{phase}_s"] = round(secs, 2)
            out[f"{phase}_units_per_min"] = round(60 * len(units) / secs, 2)
            out[f"{phase}_unit_s_mean"] = round(sum(r.seconds for r in res) / len(res), 2)
            out["weights"] = [r.fingerprints["weights"] for r in res]
    finally:
        if cluster is not None:
            cluster.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="local-1,local-2,dask-1,dask-2")
    ap.add_argument("--rows", type=int, default=1500, help="last N rows of the SP500 sample")
    ap.add_argument("--folds", type=int, default=6, help="units of work")
    ap.add_argument("--lookback", type=int, default=20)
    ap.add_argument("--units", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    units = load_units(args)
    load_before = os.getloadavg()[0]
    rows = [run_mode(m.strip(), units) for m in args.modes.split(",") if m.strip()]
    load_after = os.getloadavg()[0]
    by_mode = {r["mode"]: tuple(r.pop("weights")) for r in rows}
    pairs = {}
    for n in sorted({m.split("-")[1] for m in by_mode}):
        if f"local-{n}" in by_mode and f"dask-{n}" in by_mode:
            pairs[f"local-{n} = dask-{n}"] = by_mode[f"local-{n}"] == by_mode[f"dask-{n}"]
    identical = all(pairs.values()) if pairs else None
    across_threads = len(set(by_mode.values())) == 1
    doc = {
        "cpu_count": os.cpu_count(),
        "rows": args.rows,
        "lookback": args.lookback,
        "units_per_layer": args.units,
        "epochs": args.epochs,
        "n_units": len(units),
        "windows_per_unit": [u.last_end - u.first_end + 1 for u in units],
        "identical_results": identical,
        "identical_pairs": pairs,
        "identical_across_thread_counts": across_threads,
        "loadavg_1min": [round(load_before, 2), round(load_after, 2)],
        "results": rows,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(
        f"{len(units)} units (SP500 last {args.rows} rows, lookback {args.lookback}, "
        f"LSTM {args.units}, {args.epochs} epoch(s)), {os.cpu_count()} CPU cores, "
        f"load {load_before:.2f} -> {load_after:.2f}"
    )
    print(
        f"{'executor':10} {'cold s':>8} {'cold u/min':>11} {'warm s':>8} {'warm u/min':>11}"
        f" {'s/unit (warm)':>14}"
    )
    for r in rows:
        print(
            f"{r['mode']:10} {r['cold_s']:8.1f} {r['cold_units_per_min']:11.1f} "
            f"{r['warm_s']:8.1f} {r['warm_units_per_min']:11.1f} {r['warm_unit_s_mean']:14.2f}"
        )
    for name, same in pairs.items():
        print(f"identical results {name}: {same}")
    print(f"identical across thread counts per unit: {across_threads}")


if __name__ == "__main__":
    main()
