"""Training throughput (windows per second) of the reference network on the SP500 sample.

Usage::

    .venv/bin/python benchmarks/train_throughput.py                # 1 warm-up + 3 timed epochs
    .venv/bin/python benchmarks/train_throughput.py --epochs 2 --json

Two figures from one run, same data (lookback 60, ``close`` feature, the 70 % training
windows of ``lstmfc prepare``), same architecture (LSTM 128 -> Dropout 0.2 -> LSTM 64
-> Dropout 0.2 -> Dense 25 -> Dense 1) and batch size 32:

* ``lstmfc``: lstmfc's default path, :func:`lstmfc.models.build_model` +
  :func:`lstmfc.models.fit` (functional model, Adam with global-norm clipping 5,
  EarlyStopping callback, shuffled training windows, a validation pass each epoch,
  windows converted from the prepared dataset's views). The validation pass is part
  of each timed epoch, as in real training, so this figure is a little pessimistic;
* ``seed_reference``: the plain loop of seed 004, Module 3: ``Sequential([...])``,
  ``compile(optimizer="adam", loss="mse")``, ``model.fit(X, y, batch_size=32)`` on
  NumPy arrays, no validation, no callbacks.

Each path trains one warm-up epoch first (graph tracing), then ``--epochs`` timed
epochs; figure = timed epochs x training windows / seconds. The 1-minute load
average before and after is printed: on a shared machine other processes steal
cores, so compare figures only from runs on a quiet machine.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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


def _timed_fit(fit_epochs, n_windows: int, warmup: int, epochs: int) -> float:
    if warmup:
        fit_epochs(warmup)
    t0 = time.perf_counter()
    fit_epochs(epochs)
    return epochs * n_windows / (time.perf_counter() - t0)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per path")
    ap.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)

    import numpy as np

    from lstmfc import models, windows
    from lstmfc.config import Workspace
    from lstmfc.store import write_raw

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as home:
        ws = Workspace(Path(home))
        write_raw(ws.raw_path("SP500"), load_sp500(), {"source": "benchmark"})
        windows.prepare(ws, "SP500", lookback=60, features="close")
        prep = windows.load_prepared(ws, "SP500")
    x_tr, x_va = prep.windows("train"), prep.windows("val")
    tr, va = prep.split_targets("train"), prep.split_targets("val")
    sc = prep.scaler
    y_tr = sc.transform_column(tr["target_price"].to_numpy(), "close").astype("float32")
    y_va = sc.transform_column(va["target_price"].to_numpy(), "close").astype("float32")
    n = len(x_tr)

    keras = models.keras_module()
    keras.utils.set_random_seed(0)
    import tensorflow as tf

    threads = (
        tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        tf.config.threading.get_inter_op_parallelism_threads() or os.cpu_count(),
    )

    # lstmfc's default path
    model = models.build_model(models.ModelSpec(lookback=60, n_features=1))

    def lstmfc_epochs(k):
        models.fit(model, x_tr, y_tr, x_va, y_va, epochs=k, batch_size=args.batch_size)

    lstmfc_wps = _timed_fit(lstmfc_epochs, n, args.warmup, args.epochs)

    # the seed's plain reference loop (seed 004, Module 3, Step 2)
    from keras.layers import LSTM, Dense, Dropout
    from keras.models import Sequential

    x_np, y_np = np.array(x_tr), np.array(y_tr)
    ref = Sequential(
        [
            keras.Input(shape=(60, 1)),
            LSTM(128, return_sequences=True),
            Dropout(0.2),
            LSTM(64, return_sequences=False),
            Dropout(0.2),
            Dense(25),
            Dense(1),
        ]
    )
    ref.compile(optimizer="adam", loss="mse")

    def ref_epochs(k):
        ref.fit(x_np, y_np, epochs=k, batch_size=args.batch_size, verbose=0)

    ref_wps = _timed_fit(ref_epochs, n, args.warmup, args.epochs)
    load_after = os.getloadavg()[0]

    doc = {
        "data": f"SP500 sample ({sp500_csv().name}), {prep.meta['n_rows']} rows, "
        f"lookback 60, feature close",
        "train_windows": n,
        "val_windows": len(x_va),
        "batch_size": args.batch_size,
        "warmup_epochs": args.warmup,
        "timed_epochs": args.epochs,
        "cpu_count": os.cpu_count(),
        "tf_threads_intra_inter": list(threads),
        "load_avg_1min_before_after": [round(load_before, 2), round(load_after, 2)],
        "versions": {k: models.package_versions()[k] for k in ("keras", "tensorflow", "numpy")},
        "windows_per_second": {
            "lstmfc": round(lstmfc_wps, 1),
            "seed_reference": round(ref_wps, 1),
        },
    }
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(
            f"{doc['data']}: {n} training windows, batch {args.batch_size}, "
            f"{args.warmup} warm-up + {args.epochs} timed epochs, {os.cpu_count()} CPUs"
        )
        print(f"lstmfc default path (with validation pass): {lstmfc_wps:8.1f} windows/s")
        print(f"seed reference loop (model.fit on NumPy):   {ref_wps:8.1f} windows/s")
        print(f"1-min load average before/after: {load_before:.2f} / {load_after:.2f}")
    return doc


if __name__ == "__main__":
    main()
