"""Cold and warm latency of the daily ``lstmfc predict``: ONNX Runtime path vs Keras path.

Prints, in one run (each cold figure is the median of ``--runs`` fresh processes):

* cold wall time and peak RSS of ``lstmfc predict SP500 --no-update`` with
  ``--engine onnx`` and ``--engine keras`` (data and model present, one ticker);
* the same for a 20-ticker ``--tickers-file``;
* the warm per-window latency of each engine (median over repeated calls in one
  process, after a warm-up call).

The workspace is built once in a temporary folder: the bundled SP500 sample is fetched,
prepared with the defaults and a reference network (LSTM 128,64) trained for one
epoch; the 20-ticker universe reuses that series and bundle under 20 names (the raw
file and the prepared folder are copied and each bundle's manifest gets its ticker:
predict works on them exactly as on 20 trained tickers).

Usage::

    python benchmarks/predict_latency.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S, TARGET_MB, TARGET_RATIO, TARGET_20_S = 2.0, 250.0, 5.0, 5.0


def _lstmfc(home: Path, *args: str) -> tuple[float, float]:
    """Run ``lstmfc ARGS`` in a fresh process: (wall seconds, peak RSS MiB)."""
    env = {**os.environ, "LSTMFC_HOME": str(home), "PYTHONPATH": str(ROOT)}
    code = (
        "import resource, sys, time\n"
        "t0 = time.perf_counter()\n"
        "from lstmfc.cli import main\n"
        "sys.argv = ['lstmfc', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    rc = e.code\n"
        "print('BENCH', time.perf_counter() - t0, "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    line = [x for x in proc.stderr.splitlines() if x.startswith("BENCH")]
    if proc.returncode != 0 or not line:
        raise SystemExit(f"lstmfc {' '.join(args)} failed: {proc.stderr[-800:]}")
    return wall, int(line[-1].split()[2]) / 1024.0


def _setup(home: Path, n_tickers: int) -> Path:
    run = lambda *a: _lstmfc(home, *a)  # noqa: E731
    run("fetch", "SP500", "--source", "sample")
    run("prepare", "SP500")
    run("train", "SP500", "--epochs", "1", "--seed", "1")
    universe = home / "universe.txt"
    names = [f"T{i:02d}" for i in range(n_tickers)]
    models = home / "models"
    for t in names:
        shutil.copy(home / "data/raw/SP500.parquet", home / f"data/raw/{t}.parquet")
        shutil.copytree(home / "data/prepared/SP500", home / f"data/prepared/{t}")
        shutil.copytree(models / "SP500", models / t, symlinks=True)
        for manifest in (models / t).glob("*/manifest.json"):
            doc = json.loads(manifest.read_text())
            doc["ticker"] = t
            manifest.write_text(json.dumps(doc))
    universe.write_text("\n".join(names) + "\n")
    return universe


def _warm_latency(home: Path, engine: str, reps: int = 50) -> float:
    """Median milliseconds of one forecast window, in a warm process."""
    os.environ["LSTMFC_HOME"] = str(home)
    from lstmfc.bundles import bundle as artifacts
    from lstmfc.core.config import Workspace
    from lstmfc.data.store import read_raw
    from lstmfc.dataset.live import window_from_raw

    ws = Workspace.resolve(home)
    bundle = artifacts.load_bundle(ws, "SP500", engine=engine)
    raw, _ = read_raw(ws.raw_path("SP500"))
    window, _ = window_from_raw(raw, bundle.manifest["prepare"])
    bundle.predict_raw(window)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        bundle.predict_raw(window)
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tickers", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    doc: dict = {"runs": args.runs, "tickers": args.tickers, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="lstmfc-latency-") as tmp:
        home = Path(tmp) / "ws"
        universe = _setup(home, args.tickers)
        base = ["predict", "--no-update", "--calendar", "weekdays", "--json"]
        for engine in ("onnx", "keras"):
            one = [_lstmfc(home, *base, "SP500", "--engine", engine) for _ in range(args.runs)]
            many = [
                _lstmfc(home, *base, "--tickers-file", str(universe), "--engine", engine)
                for _ in range(max(1, args.runs // 2))
            ]
            doc[engine] = {
                "cold_1_s": statistics.median(w for w, _ in one),
                "cold_1_mib": statistics.median(m for _, m in one),
                "cold_1_all_s": [round(w, 3) for w, _ in one],
                f"cold_{args.tickers}_s": statistics.median(w for w, _ in many),
                f"cold_{args.tickers}_mib": statistics.median(m for _, m in many),
            }
        for engine in ("onnx", "keras"):
            doc[engine]["warm_ms_per_window"] = _warm_latency(home, engine)
    ratio = doc["keras"]["cold_1_s"] / doc["onnx"]["cold_1_s"]
    doc["speedup_cold_1"] = ratio
    o = doc["onnx"]
    meets = (
        o["cold_1_s"] <= TARGET_S
        and o["cold_1_mib"] <= TARGET_MB
        and ratio >= TARGET_RATIO
        and o[f"cold_{args.tickers}_s"] <= TARGET_20_S
    )
    doc["meets_targets"] = meets
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"predict latency, {args.runs} cold runs each (median), {os.cpu_count()} CPUs")
    print(f"{'engine':<8} {'1 ticker s':>10} {'MiB':>7} {args.tickers:>3} tickers s {'MiB':>7} "
          f"{'warm ms/window':>15}")  # fmt: skip
    for engine in ("onnx", "keras"):
        d = doc[engine]
        print(
            f"{engine:<8} {d['cold_1_s']:10.2f} {d['cold_1_mib']:7.0f} "
            f"{d[f'cold_{args.tickers}_s']:13.2f} {d[f'cold_{args.tickers}_mib']:7.0f} "
            f"{d['warm_ms_per_window']:15.2f}"
        )
    print(f"cold speed-up onnx vs keras: {ratio:.1f}x")
    verdict = "meets" if meets else "MISSES"
    print(
        f"{verdict} the targets (1 ticker <= {TARGET_S} s and <= {TARGET_MB:.0f} MiB, "
        f">= {TARGET_RATIO:.0f}x the Keras path, {args.tickers} tickers <= {TARGET_20_S} s)"
    )
    _ = resource  # peak RSS is read in the child processes


if __name__ == "__main__":
    main()
