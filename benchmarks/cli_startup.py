"""Start-up cost of the command line: ``lstmfc --help`` and the cold daily ``predict``.

Both are measured in fresh processes, interpreter start included (wall clock from
outside, ``time.perf_counter``; peak RSS as the process itself reports it,
``resource.getrusage(RUSAGE_SELF)``),
and reported as the median and minimum of ``--runs`` runs. With ``--against DIR`` (the
root of another checkout of lstmfc, e.g. ``git worktree add /tmp/before <commit>``) the
same commands run on that tree too, alternating run by run with this one, so that both
see the same machine load: the ratios are same-run figures (the machine may be noisy,
the comparison is fair).

``predict`` runs ``lstmfc predict SP500 --no-update --calendar weekdays`` on a
workspace built once, with this tree: the bundled SP500 sample, prepared with the
defaults and a small network (LSTM 8, one epoch) trained, so that the ONNX path of
the cron job is what is timed (``--engine onnx``, no Keras import). The forecast log
is removed before every run, so every run creates it and does the same insert.

Usage::

    python benchmarks/cli_startup.py [--runs 15] [--against /tmp/before] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


#: ``python -m lstmfc ARGS`` that reports its own peak RSS (KiB) on stderr at exit.
_PROBE = (
    "import resource, runpy, sys\n"
    "sys.argv = ['lstmfc', *sys.argv[1:]]\n"
    "code = 0\n"
    "try:\n    runpy.run_module('lstmfc', run_name='__main__')\n"
    "except SystemExit as exc:\n    code = exc.code or 0\n"
    "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _run(tree: Path, home: Path, args: list[str]) -> tuple[float, float]:
    """``lstmfc ARGS`` from ``tree`` in a fresh process: (wall seconds, peak RSS MiB)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "LSTMFC_HOME": str(home)}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], env=env, capture_output=True, text=True, cwd=home
    )
    wall = time.perf_counter() - t0
    rss = [line for line in proc.stderr.splitlines() if line.startswith("RSS ")]
    if proc.returncode != 0 or not rss:
        raise SystemExit(f"{tree}: lstmfc {' '.join(args)} failed: {proc.stderr[-800:]}")
    return wall, int(rss[-1].split()[1]) / 1024.0


def _workspace(home: Path) -> None:
    """The bundled SP500 sample, prepared, and a small trained bundle (this tree)."""
    for args in (
        ["fetch", "SP500", "--source", "sample"],
        ["prepare", "SP500"],
        ["train", "SP500", "--units", "8", "--dense", "0", "--epochs", "1", "--seed", "1"],
    ):
        _run(ROOT, home, args)


def _fresh_log(home: Path) -> None:
    """Remove the forecast log (every predict run then creates it and inserts its row)."""
    db = home / "data" / "forecasts.sqlite"
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        p.unlink(missing_ok=True)


COMMANDS = {
    "help": ["--help"],
    "predict": ["predict", "SP500", "--no-update", "--calendar", "weekdays", "--engine", "onnx"],
}


def measure(trees: dict[str, Path], runs: int) -> dict:
    """Alternating runs of every command on every tree; medians and minima."""
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="lstmfc-startup-") as tmp:
        home = Path(tmp)
        _workspace(home)
        for what, args in COMMANDS.items():
            times: dict[str, list[float]] = {name: [] for name in trees}
            rss: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(runs):
                for name, tree in trees.items():
                    _fresh_log(home)
                    wall, peak = _run(tree, home, args)
                    times[name].append(wall)
                    rss[name].append(peak)
            out[what] = {
                name: {
                    "median_s": statistics.median(times[name]),
                    "min_s": min(times[name]),
                    "peak_rss_mib": max(rss[name]),
                }
                for name in trees
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--against", type=Path, help="root of another lstmfc checkout")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    trees = {"this": ROOT}
    if args.against is not None:
        trees["against"] = args.against.resolve()
    res = measure(trees, args.runs)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"cold start, {args.runs} fresh processes each (alternating), {os.cpu_count()} CPUs")
    print(f"{'command':<10} {'tree':<8} {'median s':>9} {'min s':>7} {'peak MiB':>9}")
    for what, per in res.items():
        for name, r in per.items():
            print(
                f"{what:<10} {name:<8} {r['median_s']:>9.3f} {r['min_s']:>7.3f} "
                f"{r['peak_rss_mib']:>9.0f}"
            )
        if "against" in per:
            ratio = per["this"]["median_s"] / per["against"]["median_s"]
            print(f"{what:<10} ratio this/against (median): {ratio:.3f}")


if __name__ == "__main__":
    main()
