"""Cold-start cost of the predict path: imports, ONNX export and ONNX Runtime inference.

Usage::

    .venv/bin/python benchmarks/import_profile.py imports          # per-module import cost
    .venv/bin/python benchmarks/import_profile.py importtime lstmfc.cli
    .venv/bin/python benchmarks/import_profile.py export           # native vs Keras exporter
    .venv/bin/python benchmarks/import_profile.py onnx             # ORT session / latency / RSS
    .venv/bin/python benchmarks/import_profile.py cold             # portable predict, cold

Every measurement that is about a cold start runs in its own fresh Python process
(``sys.executable``); times are wall-clock (``time.perf_counter``), memory is the
process's peak resident set (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, KiB on
Linux, printed in MiB). Repeats report the minimum time (the least disturbed run on a
shared machine; Python docs, ``timeit``: "the min() of the result vector").

* ``imports``: ``import X`` alone for each module the predict path may touch,
  against a bare interpreter (``python -c pass``) as the baseline;
* ``importtime MODULE``: ``python -X importtime -c "import MODULE"`` with the
  self-times summed per top-level package (Python docs, ``-X importtime``);
* ``export``: :func:`lstmfc.network.onnx_export.export_onnx` and Keras's own
  ``Model.export(format="onnx")`` for the reference network (LSTM 128,64 -> Dense 25
  -> Dense 1, lookback 60, 1 feature), GRU and SimpleRNN variants and the sigmoid head;
* ``onnx``: for each exported file, in a fresh process: ``import numpy``,
  ``import onnxruntime``, session creation, first run, warm latency of one window
  and per window in batches of 256, peak RSS; with 1 and 2 intra-op threads and the
  CPU memory arena off / on;
* ``cold``: ``OnnxNetwork`` from bytes + one prediction, the whole process timed
  from outside (interpreter start included), optionally with the other modules
  today's predict path imports (``--with pandas,exchange_calendars,...``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PY = sys.executable
PREDICT_PATH_MODULES = [
    "numpy",
    "onnxruntime",
    "lstmfc.network.onnx_runtime",
    "typer",
    "rich.console",
    "rich.table",
    "pandas",
    "pyarrow",
    "pyarrow.parquet",
    "exchange_calendars",
    "talib",
    "filelock",
    "sqlite3",
    "scipy.stats",
    "lstmfc.cli",
    "lstmfc.workflows.daily",
    "lstmfc.bundles.bundle",
    "onnx",
    "keras",
    "torch",
]

_MEASURE = """
import resource, sys, time
t0 = time.perf_counter()
{stmt}
t1 = time.perf_counter()
print("RESULT", t1 - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
"""


def _run(code: str, env=None, timeout=600) -> tuple[float, float, str]:
    env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [PY, "-c", code], capture_output=True, text=True, env=env, timeout=timeout
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            _, t, rss = line.split()
            return float(t), float(rss), proc.stdout
    raise RuntimeError(f"measurement failed: {proc.stderr.strip().splitlines()[-1:]}")


def cmd_imports(args) -> None:
    mods = args.modules.split(",") if args.modules else PREDICT_PATH_MODULES
    base = min(_run(_MEASURE.format(stmt="pass"))[1] for _ in range(2))
    print(f"bare interpreter peak RSS {base:.0f} MiB")
    print(f"{'module':24s} {'import s':>9s} {'peak RSS MiB':>13s} {'+RSS MiB':>9s}")
    rows = []
    for mod in mods:
        try:
            runs = [
                _run(_MEASURE.format(stmt=f"import {mod}"), env={"KERAS_BACKEND": "torch"})
                for _ in range(args.repeat)
            ]
        except RuntimeError as exc:
            print(f"{mod:24s} {'-':>9s} ({exc})")
            continue
        t = min(r[0] for r in runs)
        rss = min(r[1] for r in runs)
        rows.append({"module": mod, "seconds": t, "rss_mib": rss, "rss_over_bare": rss - base})
        print(f"{mod:24s} {t:9.3f} {rss:13.0f} {rss - base:9.0f}")
    if args.json:
        print(json.dumps(rows, indent=1))


_IMPORTTIME_RE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def cmd_importtime(args) -> None:
    proc = subprocess.run(
        [PY, "-X", "importtime", "-c", f"import {args.module}"],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "torch"},
    )
    per_pkg: dict[str, int] = defaultdict(int)
    top_level = []
    total = 0
    for line in proc.stderr.splitlines():
        m = _IMPORTTIME_RE.match(line)
        if not m:
            continue
        self_us, cum_us, indent, name = int(m[1]), int(m[2]), len(m[3]), m[4]
        per_pkg[name.split(".")[0]] += self_us
        total += self_us
        depth = (indent - 1) // 2  # -X importtime indents each nesting level by 2
        if 1 <= depth <= 2:
            top_level.append((cum_us, "  " * (depth - 1) + name))
    print(f"python -X importtime -c 'import {args.module}': {total / 1e6:.3f} s in imports")
    print("self time summed per top-level package:")
    for pkg, us in sorted(per_pkg.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {pkg:28s} {us / 1e3:9.1f} ms")
    print(f"slowest imports one and two levels below {args.module} (cumulative):")
    for cum, name in sorted(top_level, reverse=True)[: args.top]:
        print(f"  {name:40s} {cum / 1e3:9.1f} ms")


_SPECS = [
    ("lstm", "price"),
    ("lstm", "direction"),
    ("gru", "price"),
    ("rnn", "price"),
]


def cmd_export(args) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import numpy as np

    from lstmfc.network import backend, models, onnx_export
    from lstmfc.workflows.train import TrainOptions

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras = models.keras_module()
    print(f"keras {keras.__version__} on {keras.backend.backend()}")
    for cell, head in _SPECS:
        backend.set_seed(0)
        spec = TrainOptions(cell=cell, head=head).spec(60, 1)
        model = models.build_model(spec)
        t0 = time.perf_counter()
        data = onnx_export.onnx_bytes(model)
        t_build = time.perf_counter() - t0
        info = onnx_export.export_onnx(model, out / f"native_{cell}_{head}.onnx")
        line = (
            f"{cell:4s} {head:9s} native: translate {t_build * 1e3:7.1f} ms, "
            f"translate+check+write {info.seconds * 1e3:7.1f} ms, {len(data) / 1e6:.2f} MB, "
            f"{sum(info.ops.values())} nodes, max|diff| {info.max_abs_diff:.1e}"
        )
        if not args.skip_keras:
            import onnx

            path = out / f"keras_{cell}_{head}.onnx"
            sig = [keras.InputSpec(shape=(None, 60, 1), dtype="float32", name="window")]
            t0 = time.perf_counter()
            try:
                model.export(str(path), format="onnx", verbose=False, input_signature=sig)
                t_keras = time.perf_counter() - t0
                n_nodes = len(onnx.load(str(path)).graph.node)
                import onnxruntime as ort

                t0 = time.perf_counter()
                sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                t_sess = time.perf_counter() - t0
                x = np.random.default_rng(0).random((8, 60, 1), dtype=np.float32)
                y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
                diff = float(np.max(np.abs(y - onnx_export.keras_outputs(model, x))))
                line += (
                    f" | keras exporter: {t_keras:6.2f} s, {path.stat().st_size / 1e6:.2f} MB, "
                    f"{n_nodes} nodes, ORT session {t_sess:.2f} s, max|diff| {diff:.1e}"
                )
            except Exception as exc:  # report, keep going
                line += f" | keras exporter failed: {type(exc).__name__}: {exc}"
        print(line)


_ORT_BENCH = """
import resource, sys, time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import onnxruntime as ort
t2 = time.perf_counter()
data = open({path!r}, "rb").read()
so = ort.SessionOptions()
so.intra_op_num_threads = {threads}
so.inter_op_num_threads = 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
so.enable_cpu_mem_arena = {arena}
so.log_severity_level = 3
so.add_session_config_entry("session.intra_op.allow_spinning", "0")
s = ort.InferenceSession(data, sess_options=so, providers=["CPUExecutionProvider"])
t3 = time.perf_counter()
name = s.get_inputs()[0].name
x = np.random.default_rng(0).random((1, 60, 1), dtype=np.float32)
s.run(None, {{name: x}})
t4 = time.perf_counter()
lat = []
for _ in range(200):
    a = time.perf_counter(); s.run(None, {{name: x}}); lat.append(time.perf_counter() - a)
xb = np.repeat(x, 256, axis=0)
s.run(None, {{name: xb}})
b = []
for _ in range(5):
    a = time.perf_counter(); s.run(None, {{name: xb}}); b.append(time.perf_counter() - a)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print("RESULT", 0, rss)
print("DETAIL", t1 - t0, t2 - t1, t3 - t2, t4 - t3, sorted(lat)[100], min(b) / 256, rss)
"""


def cmd_onnx(args) -> None:
    files = sorted(Path(args.out).glob("*.onnx"))
    if not files:
        sys.exit(f"no .onnx files in {args.out}; run the export step first")
    print(
        f"{'file':26s} {'thr':>3s} {'arena':>5s} {'numpy s':>8s} {'ort s':>6s} {'session s':>9s} "
        f"{'1st run ms':>10s} {'1 window ms':>11s} {'per win @256 us':>15s} {'peak MiB':>8s}"
    )
    for path in files:
        for threads in (1, 2):
            for arena in (False, True):
                best = None
                for _ in range(args.repeat):
                    code = _ORT_BENCH.format(path=str(path), threads=threads, arena=arena)
                    _, _, stdout = _run(code)
                    vals = [float(v) for v in stdout.split("DETAIL")[1].split()]
                    best = (
                        vals
                        if best is None
                        else [min(a, b) for a, b in zip(best, vals, strict=True)]
                    )
                np_s, ort_s, sess_s, first, one, per, rss = best
                print(
                    f"{path.name:26s} {threads:3d} {str(arena):>5s} {np_s:8.3f} {ort_s:6.3f} "
                    f"{sess_s:9.3f} {first * 1e3:10.1f} {one * 1e3:11.3f} {per * 1e6:15.1f} "
                    f"{rss:8.0f}"
                )


_COLD = """
import resource, sys, time
{extra}
import numpy as np
from lstmfc.network.onnx_runtime import OnnxNetwork
data = open({path!r}, "rb").read()
net = OnnxNetwork(data, lookback=60, n_features=1)
y = net.predict(np.full((1, 60, 1), 0.5, dtype=np.float32))
heavy = [m for m in ("keras", "tensorflow", "torch") if m in sys.modules]
print("RESULT", 0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, heavy)
"""


def cmd_cold(args) -> None:
    path = Path(args.out) / "native_lstm_price.onnx"
    if not path.exists():
        sys.exit(f"{path} missing; run the export step first")
    extra_sets = [""] + ([args.with_] if args.with_ else [])
    for extra in extra_sets:
        stmt = "\n".join(f"import {m}" for m in extra.split(",") if m)
        walls, rss = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [PY, "-c", _COLD.format(path=str(path), extra=stmt)],
                capture_output=True,
                text=True,
            )
            walls.append(time.perf_counter() - t0)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")]
            if not line:
                sys.exit(proc.stderr)
            rss.append(float(line[0].split()[2]))
            heavy = line[0].split(maxsplit=3)[3]
        label = "OnnxNetwork + 1 window" + (f" + import {extra}" if extra else "")
        print(
            f"{label}: wall {min(walls):.3f} s (process start to exit), peak RSS "
            f"{min(rss):.0f} MiB, heavy modules loaded: {heavy}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["imports", "importtime", "export", "onnx", "cold"])
    ap.add_argument("module", nargs="?", default="lstmfc.cli")
    ap.add_argument("--modules", default="", help="comma-separated modules for `imports`")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--skip-keras", action="store_true", help="export: native exporter only")
    ap.add_argument("--with", dest="with_", default="", help="cold: also import these")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "lstmfc-onnx-bench"))
    args = ap.parse_args()
    {
        "imports": cmd_imports,
        "importtime": cmd_importtime,
        "export": cmd_export,
        "onnx": cmd_onnx,
        "cold": cmd_cold,
    }[args.what](args)


if __name__ == "__main__":
    main()
