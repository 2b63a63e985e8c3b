"""Training throughput (windows per second), predict latency and peak memory of the
reference network on the SP500 sample, on every installed Keras backend.

Usage::

    .venv/bin/python benchmarks/train_throughput.py              # 1 warm-up + 2 timed epochs
    .venv/bin/python benchmarks/train_throughput.py --epochs 3 --json
    .venv/bin/python benchmarks/train_throughput.py --only lstmfc_default,reference_tf

Same data for every row (lookback 60, ``close`` feature, the 70 % training windows of
``lstmfc prepare``), same architecture (LSTM 128 -> Dropout 0.2 -> LSTM 64 -> Dropout
0.2 -> Dense 25 -> Dense 1) and batch size 32. Each row runs in its own Python process
(Keras picks its backend once per process) and reports:

* ``windows/s``: timed epochs x training windows / seconds, after ``--warmup`` untimed
  epochs (graph tracing, allocator warm-up);
* ``predict 1`` / ``predict 1000``: median wall time of ``lstmfc.network.models.predict`` on
  one window and on 1,000 windows (milliseconds);
* ``peak RSS``: the process's peak resident memory (``ru_maxrss``, MiB), including
  the framework's own import.

Rows:

* ``reference_tf``: the plain loop of seed 004, Module 3 on Keras/TensorFlow:
  ``Sequential([...])``, ``compile(optimizer="adam", loss="mse")``,
  ``model.fit(X, y, batch_size=32)`` on NumPy arrays, no validation, no callbacks;
* ``lstmfc_default``: what ``lstmfc train`` does with no backend chosen:
  :func:`lstmfc.network.models.build_model` + :func:`lstmfc.network.models.fit`
  (Adam with global-norm clipping 5, EarlyStopping, shuffled windows and a **validation
  pass each epoch**, which is timed too (every ``lstmfc_*`` row includes it; ``reference_tf`` and
  ``native_torch`` do not, so they are favoured by ~5 %);
* ``lstmfc_tensorflow``, ``lstmfc_torch_stock`` (``LSTMFC_FASTRNN=0
  LSTMFC_FASTFIT=0``: Keras's own torch path, a Python loop over time steps on CPU,
  trained by ``Model.fit``), ``lstmfc_torch_fused`` (``LSTMFC_FASTFIT=0``: the fused
  kernels of :mod:`lstmfc.network.fastrnn`, trained by ``Model.fit``), ``lstmfc_jax``: the
  same lstmfc path per backend, skipped with a note when the backend is not
  installed. ``lstmfc_default`` on torch adds the lean loop of :mod:`lstmfc.network.fastfit`
  to the fused kernels;
* ``native_torch``: a hand-written PyTorch training loop of the same network
  (``nn.LSTM``, Adam, ``clip_grad_norm_(5)``), no validation: the bar to meet;
* ``paired_torch``: ``lstmfc_default`` and ``native_torch`` in one process, one epoch
  of each in turn for ``--epochs`` rounds (medians and every round printed): on a
  shared VM whose speed drifts between rows, the paired comparison is the fair one.

``--cell gru`` / ``--cell rnn`` run every row with GRU / SimpleRNN layers instead.

The 1-minute load average before and after each row is printed: the machine may be
shared, and two busy threads on two cores slow every row down (torch's OpenMP threads
by much more than 2x), so compare figures only from one run on a quiet machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 1200
"""Training windows/s the default path must reach at batch 32 on the 2-core CI machine
(issue 6: native PyTorch's figure for the same network)."""

ROWS = {
    # name: (environment, label)
    "reference_tf": ({"LSTMFC_BACKEND": "tensorflow"}, "plain Keras/TensorFlow reference loop"),
    "lstmfc_default": ({}, "lstmfc default path"),
    "lstmfc_tensorflow": ({"LSTMFC_BACKEND": "tensorflow"}, "lstmfc, tensorflow backend"),
    "lstmfc_torch_stock": (
        {"LSTMFC_BACKEND": "torch", "LSTMFC_FASTRNN": "0", "LSTMFC_FASTFIT": "0"},
        "lstmfc, torch, stock Keras",
    ),
    "lstmfc_torch_fused": (
        {"LSTMFC_BACKEND": "torch", "LSTMFC_FASTRNN": "1", "LSTMFC_FASTFIT": "0"},
        "lstmfc, torch, fused kernels + Model.fit",
    ),
    "lstmfc_jax": ({"LSTMFC_BACKEND": "jax"}, "lstmfc, jax backend"),
    "native_torch": ({}, "native PyTorch loop (nn.LSTM/GRU/RNN)"),
    "paired_torch": ({"LSTMFC_BACKEND": "torch"}, "paired: lstmfc default vs native"),
}
NEEDS = {
    "lstmfc_tensorflow": "tensorflow",
    "reference_tf": "tensorflow",
    "lstmfc_torch_stock": "torch",
    "lstmfc_torch_fused": "torch",
    "lstmfc_jax": "jax",
    "native_torch": "torch",
    "paired_torch": "torch",
}


def load_sp500():
    """The bundled SP500 sample (real daily OHLCV, 1999-2018), via lstmfc's own reader."""
    from lstmfc.data.sources.sample import read_sample

    return read_sample("SP500")[0][["open", "high", "low", "close", "volume"]]


def _data():
    import numpy as np

    from lstmfc.core.config import Workspace
    from lstmfc.data.store import write_raw
    from lstmfc.dataset import prepare as windows

    with tempfile.TemporaryDirectory() as home:
        ws = Workspace(Path(home))
        write_raw(ws.raw_path("SP500"), load_sp500(), {"source": "benchmark"})
        windows.prepare(ws, "SP500", lookback=60, features="close")
        prep = windows.load_prepared(ws, "SP500")
    tr, va = prep.split_targets("train"), prep.split_targets("val")
    sc = prep.scaler
    y_tr = sc.transform_column(tr["target_price"].to_numpy(), "close").astype("float32")
    y_va = sc.transform_column(va["target_price"].to_numpy(), "close").astype("float32")
    x_tr = np.ascontiguousarray(prep.windows("train"), dtype="float32")
    x_va = np.ascontiguousarray(prep.windows("val"), dtype="float32")
    return x_tr, y_tr, x_va, y_va, prep.meta["n_rows"]


def _timed(fit_epochs, n_windows: int, warmup: int, epochs: int) -> float:
    if warmup:
        fit_epochs(warmup)
    t0 = time.perf_counter()
    fit_epochs(epochs)
    return epochs * n_windows / (time.perf_counter() - t0)


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1000.0 * times[len(times) // 2]


TORCH_CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
KERAS_CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}


def _native_torch(x_tr, y_tr, cell: str, batch: int):
    """``(fit_epochs, predict)`` of a hand-written PyTorch loop of the same network."""
    import torch

    torch.manual_seed(0)
    n = len(x_tr)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            rnn = getattr(torch.nn, TORCH_CELLS[cell])
            self.l1 = rnn(1, 128, batch_first=True)
            self.l2 = rnn(128, 64, batch_first=True)
            self.d1, self.d2 = torch.nn.Dropout(0.2), torch.nn.Dropout(0.2)
            self.dense, self.out = torch.nn.Linear(64, 25), torch.nn.Linear(25, 1)

        def forward(self, x):
            h = self.d1(self.l1(x)[0])
            h = self.d2(self.l2(h)[0][:, -1])
            return self.out(self.dense(h))

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr).reshape(-1, 1)

    def fit_epochs(k):
        net.train()
        for _ in range(k):
            perm = torch.randperm(n)
            for i in range(0, n, batch):
                idx = perm[i : i + batch]
                opt.zero_grad()
                loss = torch.mean((net(xt[idx]) - yt[idx]) ** 2)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()

    def predict(x):
        net.eval()
        with torch.no_grad():
            return net(torch.from_numpy(x)).numpy()

    return fit_epochs, predict


def worker(name: str, warmup: int, epochs: int, batch: int, cell: str = "lstm") -> dict:
    """Run one row in this process; return its figures."""
    import resource

    import numpy as np

    x_tr, y_tr, x_va, y_va, n_rows = _data()
    n = len(x_tr)
    x_1000 = np.ascontiguousarray(np.resize(x_va, (1000, *x_va.shape[1:])))
    out: dict = {
        "row": name, "cell": cell, "train_windows": n, "val_windows": len(x_va), "rows": n_rows,
    }  # fmt: skip

    if name == "native_torch":
        import torch

        fit_epochs, predict = _native_torch(x_tr, y_tr, cell, batch)
        out["windows_per_second"] = _timed(fit_epochs, n, warmup, epochs)
        out["backend"] = f"torch {torch.__version__} (threads {torch.get_num_threads()})"
    else:
        from lstmfc.network import backend as lstmfc_backend
        from lstmfc.network import models
        from lstmfc.network.fit_settings import FitSettings
        from lstmfc.workflows.train import TrainOptions

        keras = lstmfc_backend.keras_module()
        lstmfc_backend.set_seed(0)
        backend = keras.backend.backend()
        out["backend"] = backend
        if backend == "torch":
            import torch

            from lstmfc.network import fastrnn

            out["backend"] += f" {torch.__version__} (threads {torch.get_num_threads()})"
            out["fused_cpu_rnn"] = fastrnn.status()
            from lstmfc.network import fastfit

            out["training_loop"] = fastfit.status()
        if name == "reference_tf":
            from keras.layers import Dense, Dropout
            from keras.models import Sequential

            RNN = getattr(keras.layers, KERAS_CELLS[cell])
            model = Sequential(
                [
                    keras.Input(shape=(60, 1)),
                    RNN(128, return_sequences=True),
                    Dropout(0.2),
                    RNN(64, return_sequences=False),
                    Dropout(0.2),
                    Dense(25),
                    Dense(1),
                ]
            )
            model.compile(optimizer="adam", loss="mse")

            def fit_epochs(k):
                model.fit(x_tr, y_tr, epochs=k, batch_size=batch, verbose=0)

        else:
            model = models.build_model(TrainOptions(cell=cell).spec(60, 1))

            def fit_epochs(k):
                settings = FitSettings(epochs=k, batch_size=batch, patience=10**6)
                models.fit(model, x_tr, y_tr, x_va, y_va, settings=settings)

        def predict(x):
            return models.predict(model, x)

        if name == "paired_torch":  # alternate one lstmfc epoch, one native epoch
            native_fit, _ = _native_torch(x_tr, y_tr, cell, batch)
            for fn in (fit_epochs, native_fit):
                fn(max(1, warmup))
            ours, theirs = [], []
            for _ in range(max(1, epochs)):
                ours.append(_timed(fit_epochs, n, 0, 1))
                theirs.append(_timed(native_fit, n, 0, 1))
            out["rounds"] = {"lstmfc_default": ours, "native_torch": theirs}
            out["windows_per_second"] = statistics.median(ours)
            out["native_windows_per_second"] = statistics.median(theirs)
            out["wins"] = sum(a >= b for a, b in zip(ours, theirs, strict=True))
        else:
            out["windows_per_second"] = _timed(fit_epochs, n, warmup, epochs)
        if backend == "torch":
            from lstmfc.network import fastrnn

            out["fused_calls"] = dict(fastrnn.CALLS)
    out["predict_1_ms"] = _median_ms(lambda: predict(x_va[:1]), 20)
    out["predict_1000_ms"] = _median_ms(lambda: predict(x_1000), 5)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per row")
    ap.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument(
        "--cell", choices=sorted(KERAS_CELLS), default="lstm",
        help="recurrent cell of every row (lstm: the reference network)",
    )  # fmt: skip
    ap.add_argument("--only", default="", help="comma-separated row names (default: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        doc = worker(args.worker, args.warmup, args.epochs, args.batch_size, args.cell)
        print("RESULT " + json.dumps(doc))
        return doc

    names = [n for n in args.only.split(",") if n] or list(ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise SystemExit(f"unknown row(s) {unknown}; choose from {', '.join(ROWS)}")
    from lstmfc.network import backend

    versions = {}
    for pkg in ("keras", "tensorflow", "torch", "jax", "numpy"):
        try:
            from importlib.metadata import version

            versions[pkg] = version(pkg)
        except Exception:
            versions[pkg] = "not installed"
    env_default = {k: v for k, v in os.environ.items() if k not in ("LSTMFC_BACKEND",)}
    doc: dict = {
        "data": "SP500 sample (lstmfc/samples/SP500.csv.gz), lookback 60, feature close",
        "batch_size": args.batch_size,
        "cell": args.cell,
        "warmup_epochs": args.warmup,
        "timed_epochs": args.epochs,
        "cpu_count": os.cpu_count(),
        "default_backend": None,
        "versions": versions,
        "rows": {},
    }
    saved = os.environ.pop("LSTMFC_BACKEND", None)
    try:
        doc["default_backend"] = backend.backend_choice()
    finally:
        if saved is not None:
            os.environ["LSTMFC_BACKEND"] = saved
    if not args.json:
        print(
            f"{doc['data']}, cell {args.cell}, batch {args.batch_size}, {args.warmup} warm-up "
            f"+ {args.epochs} timed epochs, {os.cpu_count()} CPUs; default backend: "
            f"{doc['default_backend']}"
        )
        print(
            f"{'row':<42} {'windows/s':>10} {'predict 1':>10} {'predict 1000':>13} "
            f"{'peak RSS':>9}  load before/after"
        )
    for name in names:
        env_extra, label = ROWS[name]
        need = NEEDS.get(name)
        if need and not _installed(need):
            doc["rows"][name] = {"skipped": f"{need} not installed"}
            if not args.json:
                print(f"{label:<42} {'skipped: ' + need + ' not installed'}")
            continue
        env = {**env_default, **env_extra, "PYTHONPATH": str(ROOT)}
        load0 = os.getloadavg()[0]
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", name,
             "--epochs", str(args.epochs), "--warmup", str(args.warmup), "--cell", args.cell,
             "--batch-size", str(args.batch_size)],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        load1 = os.getloadavg()[0]
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            doc["rows"][name] = {"error": tail}
            if not args.json:
                print(f"{label:<42} failed: {tail}")
            continue
        row = json.loads(lines[-1][len("RESULT ") :])
        row["load_avg_1min_before_after"] = [round(load0, 2), round(load1, 2)]
        doc["rows"][name] = row
        if not args.json and name == "paired_torch":
            ours, theirs = row["rounds"]["lstmfc_default"], row["rounds"]["native_torch"]
            print(
                f"{label:<42} {row['windows_per_second']:10.1f} vs "
                f"{row['native_windows_per_second']:.1f} native (medians); rounds "
                + ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(ours, theirs, strict=True))
                + f"; lstmfc faster in {row['wins']} of {len(ours)}"
            )
        elif not args.json:
            print(
                f"{label:<42} {row['windows_per_second']:10.1f} "
                f"{row['predict_1_ms']:8.1f} ms {row['predict_1000_ms']:10.1f} ms "
                f"{row['peak_rss_mib']:6.0f} MiB  {load0:.2f} / {load1:.2f}   "
                f"[{row['backend']}]"
            )
    rate = {k: r.get("windows_per_second") for k, r in doc["rows"].items()}
    default = rate.get("lstmfc_default")
    if default:
        summary = {"lstmfc_default": round(default, 1)}
        if args.cell == "lstm" and args.batch_size == 32:  # the target's network
            summary["target"] = TARGET
            summary["meets_target"] = default >= TARGET
        for other in ("reference_tf", "native_torch"):
            if rate.get(other):
                summary[f"x_{other}"] = round(default / rate[other], 2)
        paired = doc["rows"].get("paired_torch", {})
        if "rounds" in paired:
            summary["paired_x_native_torch"] = round(
                paired["windows_per_second"] / paired["native_windows_per_second"], 2
            )
        doc["summary"] = summary
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        n = next((r["train_windows"] for r in doc["rows"].values() if "train_windows" in r), 0)
        print(f"{n} training windows; windows/s of lstmfc rows include a validation pass")
        if default:
            vs = ", ".join(
                f"{summary[f'x_{o}']:.2f}x {ROWS[o][1]}"
                for o in ("reference_tf", "native_torch")
                if f"x_{o}" in summary
            )
            if "paired_x_native_torch" in summary:
                vs += f"; paired rounds: {summary['paired_x_native_torch']:.2f}x native"
            line = f"lstmfc default path: {default:.0f} windows/s ({vs})"
            if "meets_target" in summary:
                verdict = "meets" if summary["meets_target"] else "is BELOW"
                line += f"; {verdict} the {TARGET:,} windows/s target"
            print(line)
    return doc


if __name__ == "__main__":
    main()
