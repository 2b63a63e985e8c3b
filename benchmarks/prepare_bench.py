"""Time and peak memory of ``prepare`` (issue 3): the 20-year SP500 sample and synthetic
series of up to 1,000,000 rows.

Usage::

    .venv/bin/python benchmarks/prepare_bench.py            # all cases, a table
    .venv/bin/python benchmarks/prepare_bench.py --case synthetic-1000000-close

Each case runs in a fresh subprocess (so the peak resident set is its own) and reports

* ``prepare_s``: wall time of :func:`lstmfc.dataset.prepare.prepare` (read raw, features,
  targets, split, scaler, write Parquet + JSON);
* ``rss_peak_mib``: growth of the process's peak resident set during that call
  (``resource.getrusage``; includes pyarrow's own allocator);
* ``traced_peak_mib``: peak of Python/NumPy allocations during a second call
  (``tracemalloc``);
* ``windows_s`` / ``windows_traced_kib``: time and traced memory of building the
  train/val/test windows of the loaded dataset (views: no copy);
* ``features_mib``: the stored scaled frame, rows x features x 4 bytes;
* ``materialised_mib``: what a materialised ``(n_windows, lookback, n_features)``
  float32 array would take (never built).

Memory grows with rows x features (compare the 250k/500k/1M rows cases), not with
rows x lookback x features.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ALL_FEATURES = "close,ohlcv,logret,volume,rsi,macd,bbp"
CASES = {
    "sp500-close": ("sp500", None, "close"),
    "sp500-all": ("sp500", None, ALL_FEATURES),
    "synthetic-250000-close": ("synthetic", 250_000, "close"),
    "synthetic-500000-close": ("synthetic", 500_000, "close"),
    "synthetic-1000000-close": ("synthetic", 1_000_000, "close"),
    "synthetic-1000000-all": ("synthetic", 1_000_000, ALL_FEATURES),
}


def sp500_csv() -> Path:
    """The bundled sample, else the copy shipped inside the ``arch`` package."""
    here = ROOT / "lstmfc" / "samples" / "SP500.csv.gz"
    if here.is_file():
        return here
    spec = importlib.util.find_spec("arch")
    if spec and spec.origin:
        p = Path(spec.origin).parent / "data" / "sp500" / "sp500.csv.gz"
        if p.is_file():
            return p
    raise SystemExit("no SP500 sample found (lstmfc/samples/SP500.csv.gz or arch)")


def load_sp500():
    import pandas as pd

    with gzip.open(sp500_csv(), "rt") as fh:
        df = pd.read_csv(fh)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("date")), name="date")
    return df[["open", "high", "low", "close", "volume"]].astype("float64")


def synthetic(n: int, seed: int = 0):
    """Geometric random walk OHLCV, one row a day (second-resolution dates past 2262)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    idx = pd.date_range("1000-01-01", periods=n, freq="D", unit="s", name="date")
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, n)))
    open_ = close * np.exp(rng.normal(0, 0.003, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, n)))
    volume = rng.integers(1_000_000, 5_000_000, n).astype("float64")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=idx
    )


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(name: str) -> dict:
    from lstmfc.core.config import Workspace
    from lstmfc.data.store import write_raw
    from lstmfc.dataset.prepare import load_prepared, prepare
    from lstmfc.dataset.split import SPLITS

    kind, n, features = CASES[name]
    raw = load_sp500() if kind == "sp500" else synthetic(n)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.resolve(tmp)
        write_raw(ws.raw_path("BENCH"), raw, {"source": "benchmark"})
        del raw
        # load every library (sklearn, TA-Lib, pyarrow's writer) outside the measurement
        write_raw(ws.raw_path("WARM"), synthetic(300), {"source": "benchmark"})
        prepare(ws, "WARM", features=features)
        import gc

        gc.collect()
        rss0 = _maxrss_mib()
        t0 = time.perf_counter()
        meta = prepare(ws, "BENCH", features=features)
        prepare_s = time.perf_counter() - t0
        rss_peak = _maxrss_mib() - rss0

        tracemalloc.start()
        prepare(ws, "BENCH", features=features)
        _, traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        pr = load_prepared(ws, "BENCH")
        tracemalloc.start()
        t0 = time.perf_counter()
        wins = [pr.windows(s) for s in SPLITS]
        windows_s = time.perf_counter() - t0
        _, win_traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        n_feat = len(meta["feature_names"])
        return {
            "case": name,
            "raw_rows": meta["raw"]["rows"],
            "features": n_feat,
            "windows": meta["n_windows"],
            "prepare_s": round(prepare_s, 3),
            "rss_peak_mib": round(rss_peak, 1),
            "traced_peak_mib": round(traced / 2**20, 2),
            "windows_s": round(windows_s, 5),
            "windows_traced_kib": round(win_traced / 1024, 1),
            "features_mib": round(pr.values.nbytes / 2**20, 2),
            "materialised_mib": round(
                sum(w.shape[0] for w in wins) * pr.lookback * n_feat * 4 / 2**20, 1
            ),
            "train_windows_shape": list(wins[0].shape),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), help="run one case in this process")
    ap.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    rows = []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for name in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--case", name],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        if args.json:
            print(json.dumps(rows[-1]), flush=True)
    if args.json:
        return
    cols = [
        ("case", "case"),
        ("raw_rows", "rows"),
        ("features", "feat"),
        ("prepare_s", "prepare s"),
        ("rss_peak_mib", "peak RSS MiB"),
        ("traced_peak_mib", "traced MiB"),
        ("features_mib", "stored MiB"),
        ("materialised_mib", "3-D array MiB"),
        ("windows_s", "windows s"),
        ("windows_traced_kib", "windows KiB"),
    ]
    print(" | ".join(h for _, h in cols))
    print(" | ".join("---" for _ in cols))
    for r in rows:
        print(" | ".join(str(r[k]) for k, _ in cols))
    print(f"\npython {sys.version.split()[0]}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
