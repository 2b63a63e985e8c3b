"""No option value blows up a command; every failure is one ``Error:`` line (issue 13, 4-5).

The contract checked for every invocation here: it returns within :data:`LIMIT_S`
seconds (a blow-up takes minutes, or memory, not seconds), exits 0, 1 or 2, and on
failure prints exactly one stderr line starting with ``Error: `` (the last one; progress
and warnings may precede it), never a traceback nor an "internal error".

* Bounds: each numeric option just outside its documented range, far outside it
  (``10**30``) and not a number is refused at once with exit 2 and a line naming the
  option; the data-dependent bounds (backtest fits, training memory, ``--folds``
  against the test windows) with exit 1.
* Hypothesis draws values for every numeric option of prepare, train, evaluate,
  backtest and run (negative, zero, small, huge, floats, text) on a tiny workspace
  built once for the module (120 sessions, lookback 10, 4-unit networks, 1 epoch).
  Values that are valid but make a command legitimately slower in proportion
  (``--epochs 5000``, ``--units 1500``, ``--ensemble 40``) are not drawn: they are
  not blow-ups, and the bounds above cap them.
* Exit codes of evaluate, score and run; ``--model RUN_ID``; score for the direction
  head and for horizon 2, checked by hand against the stored series.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import time
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lstmfc.cli import app
from lstmfc.core.config import Workspace
from lstmfc.data.store import write_raw
from tests.conftest import make_ohlcv
from tests.specs import model_spec

runner = CliRunner()
LIMIT_S = 20.0
"""Seconds any one invocation may take: a tiny valid run takes about 1-3 s here (more on
a loaded CI machine), an invalid value well under a second."""
TINY = ["--units", "4", "--dense", "0", "--epochs", "1", "--patience", "1", "--seed", "1"]
N_ROWS = 120


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A workspace: PRE (raw), TRN (prepared), EVA (trained), BT (raw), SP500 (sample,
    prepared) and a CSV for ``run``."""
    from lstmfc.dataset.prepare import prepare
    from lstmfc.workflows.train import train

    h = tmp_path_factory.mktemp("robust") / "ws"
    h.mkdir()
    ws = Workspace.resolve(h)
    for i, t in enumerate(("PRE", "TRN", "EVA", "BT")):
        write_raw(ws.raw_path(t), make_ohlcv(N_ROWS, seed=i), {"source": "test"})
    for t in ("TRN", "EVA"):
        prepare(ws, t, lookback=10, horizon=1)
    train(ws, "EVA", units="4", dense=0, epochs=1, seed=1, patience=1)
    make_ohlcv(N_ROWS, seed=9).reset_index().rename(columns=str.title).to_csv(
        h / "run.csv", index=False
    )
    res = invoke(h, ["fetch", "SP500", "--source", "sample"])[0]
    assert res.exit_code == 0, res.output
    prepare(ws, "SP500")
    return h


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` swallows it."""


def _alarm(signum, frame):
    raise _Timeout()


def invoke(home, args: list[str]):
    """Run ``lstmfc ARGS`` in ``home`` (``{home}`` in an argument is replaced by it);
    returns (result, wall seconds)."""
    args = [a.replace("{home}", str(home)) for a in args]
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(LIMIT_S) + 10)  # a blow-up fails the test instead of hanging it
    t0 = time.perf_counter()
    try:
        res = runner.invoke(app, args, env={"LSTMFC_HOME": str(home), "LSTMFC_DEBUG": ""})
    except _Timeout:
        pytest.fail(f"lstmfc {' '.join(args)} ran for more than {LIMIT_S + 10:.0f} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return res, time.perf_counter() - t0


def contract(res, seconds: float, args: list[str]) -> str | None:
    """Check the contract; returns the error line (None on success)."""
    what = f"lstmfc {' '.join(args)}"
    assert seconds < LIMIT_S, f"{what}: {seconds:.1f} s"
    assert res.exit_code in (0, 1, 2), f"{what}: exit {res.exit_code}\n{res.output}"
    assert res.exception is None or isinstance(res.exception, SystemExit), (what, res.exception)
    assert "Traceback" not in res.stdout + res.stderr, what
    lines = res.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("Error: ")]
    if res.exit_code == 0:
        assert not errors, (what, errors)
        return None
    assert len(errors) == 1 and lines[-1] == errors[0], f"{what}: stderr {res.stderr!r}"
    assert "internal error" not in errors[0], f"{what}: {errors[0]}"
    return errors[0]


def run_ok(home, args, code: int | None = None) -> str | None:
    res, dt = invoke(home, args)
    line = contract(res, dt, args)
    if code is not None:
        assert res.exit_code == code, (args, res.exit_code, res.output)
    return line


# ============================================================ documented bounds
BASE = {
    "prepare": ["prepare", "PRE"],
    "train": ["train", "TRN", *TINY],
    "evaluate": ["evaluate", "EVA"],
    "backtest": ["backtest", "BT", "--lookback", "10", *TINY, "--no-save-models"],
    "run": [
        "run",
        "RUNX",
        "--source",
        "csv",
        "--path",
        "{home}/run.csv",
        "--lookback",
        "10",
        *TINY,
    ],
}
MODEL_OPTS = {  # option: (value just below, value just above) the documented range
    "--units": ("0", "4097"),
    "--dropout": ("-0.01", "1"),
    "--dense": ("-1", "4097"),
    "--epochs": ("0", "10001"),
    "--batch-size": ("0", "65537"),
    "--lr": ("0", "inf"),  # no finite upper bound: 1e30 diverges, exit 1 with a hint
    "--clipnorm": ("-1", "inf"),  # 1e30: no clipping in effect
    "--l2": ("-1e-9", "inf"),  # 1e30 diverges
    "--patience": ("-1", "10001"),
    "--ensemble": ("0", "51"),
    "--seed": ("-1", str(2**32 - 1)),
}
SCORE_OPTS = {
    "--sma": ("0", "2521"),
    "--ema": ("0", "2521"),
    "--cost-bps": ("-0.5", "10000"),
    "--alpha": ("0", "1"),
}
WINDOW_OPTS = {"--lookback": ("0", "2521"), "--horizon": ("0", "2521")}
BOUNDS = {
    "prepare": WINDOW_OPTS,
    "train": MODEL_OPTS,
    "evaluate": SCORE_OPTS,
    "run": {**WINDOW_OPTS, **MODEL_OPTS, "--cost-bps": ("-1", "10000"), "--alpha": ("0", "1")},
    "backtest": {
        **WINDOW_OPTS,
        **MODEL_OPTS,
        **SCORE_OPTS,
        "--folds": ("0", None),
        "--step": ("0", None),
        "--test-size": ("0", None),
        "--retrain-every": ("0", None),
        "--val-fraction": ("0", "1"),
        "--jobs": ("0", "100000"),
    },
}
INTS = {"--units", "--dense", "--epochs", "--batch-size", "--patience", "--ensemble", "--seed"}
INTS |= {"--sma", "--ema", "--lookback", "--horizon", "--folds", "--step", "--test-size"}
INTS |= {"--retrain-every", "--jobs"}
CASES = [
    (cmd, opt, value)
    for cmd, opts in BOUNDS.items()
    for opt, (lo, hi) in opts.items()
    for value in (lo, hi, "-" + "9" * 30, "9" * 30, "abc", "1.5" if opt in INTS else "")
    if value is not None
    and not (opt == "--units" and value == "")
    and not (value == "9" * 30 and (hi is None or hi == "inf"))  # finite: valid or data
]


@pytest.mark.parametrize("cmd, opt, value", CASES, ids=[" ".join(c) for c in CASES])
def test_values_outside_the_documented_range_are_refused_at_once(home, cmd, opt, value):
    args = [*BASE[cmd], opt, value]
    res, dt = invoke(home, args)
    line = contract(res, dt, args)
    assert res.exit_code == 2, (args, res.output)
    assert dt < 2.0, f"{args}: {dt:.2f} s to refuse"
    assert opt in line or opt.lstrip("-") in line, line  # names the option


def test_train_refuses_a_network_above_the_weight_cap_naming_the_estimate(home):
    from lstmfc.network.models import MAX_PARAMS

    units = ",".join(["4096"] * 8)
    line = run_ok(home, ["train", "TRN", "--units", units, "--dense", "0"], code=2)
    # by hand: 4 gates * (4096 * (1 + 4096) + 4096) for layer 1, 4 * (4096 * 8192 + 4096)
    # for the 7 others, then the output Dense(1) on 4096 inputs
    first = 4 * (4096 * (1 + 4096) + 4096)
    rest = 7 * 4 * (4096 * (4096 + 4096) + 4096)
    n = first + rest + 4097
    assert n == 1_006_784_513
    assert f"network of {n:,} weights" in line and f"cap of {MAX_PARAMS:,}" in line


def test_training_memory_is_bounded_by_the_data_exit_1(home):
    line = run_ok(home, ["train", "SP500", "--units", "1500", "--batch-size", "4096"], code=1)
    assert line.startswith("Error: SP500: training would need about ")
    assert "GiB of memory" in line and "--batch-size" in line


def test_a_huge_fold_count_fails_at_once_on_the_sp500_sample(home):
    args = ["backtest", "SP500", "--folds", "100000", "--epochs", "1"]
    res, dt = invoke(home, args)
    contract(res, dt, args)
    assert res.exit_code == 1
    assert res.stderr == (
        "Error: SP500: 1491 test windows cannot make 100000 folds; use at most 1491 --folds\n"
    )
    assert dt < 1.0, f"{dt:.2f} s"


def test_a_plan_of_too_many_fits_is_refused_naming_the_count_and_the_fix(home):
    from lstmfc.backtest.plan import MAX_FITS

    line = run_ok(home, ["backtest", "SP500", "--step", "1", "--epochs", "1"], code=1)
    # 5031 rows, 1 warm-up row, lookback 60: 4970 windows, floor(0.3 * 4970) = 1491 tested
    assert line == (
        f"Error: SP500: the plan needs 1491 network fits (1491 folds over 1491 test days), "
        f"above the cap of {MAX_FITS}; use --retrain-every D to refit only every D trading "
        "days, fewer --folds or a larger --step"
    )
    line = run_ok(home, ["backtest", "SP500", "--step", "5", "--ensemble", "2"], code=1)
    # ceil(1491 / 5) = 299 folds, each refit, times 2 networks
    assert "needs 598 network fits (299 fits x --ensemble 2, 299 folds" in line


def test_a_baseline_window_longer_than_the_history_fails_before_any_fit(home):
    args = ["backtest", "BT", "--lookback", "10", *TINY, "--folds", "2", "--sma", "2000"]
    res, dt = invoke(home, args)
    line = contract(res, dt, args)
    assert res.exit_code == 1 and "baseline sma needs 1999 rows of history" in line
    assert "[1/" not in res.stderr  # no fit was run


def test_a_garch_baseline_short_of_training_returns_fails_before_any_fit(home):
    """A rolling fit of 200 windows leaves GARCH under arch's 250 training returns:
    refused from the plan (a dry fit of the smallest fit's baselines), not after the
    networks of every fold were trained."""
    folder = home / "data" / "backtests" / "SP500"
    before = sorted(folder.iterdir()) if folder.exists() else []
    args = ["backtest", "SP500", "--head", "vol", "--window", "rolling", "--train-size",
            "200", "--folds", "2", *TINY]  # fmt: skip
    res, dt = invoke(home, args)
    line = contract(res, dt, args)
    assert res.exit_code == 1
    assert "fit 1 (" in line and "baseline garch: too few training returns" in line
    assert line.endswith("use a larger --train-size, fewer --folds or a longer history")
    assert "[1/" not in res.stderr  # no fit was run
    assert (sorted(folder.iterdir()) if folder.exists() else []) == before


def test_jobs_above_four_times_the_cores_are_refused(home):
    from lstmfc.network.backend import cpu_count

    cap = 4 * cpu_count()
    line = run_ok(home, [*BASE["backtest"], "--jobs", str(cap + 1)], code=2)
    assert line == (
        f"Error: --jobs must be from 1 to {cap} (4 x the {cpu_count()} core"
        f"{'s' if cpu_count() != 1 else ''} this process may use), got {cap + 1}"
    )


def test_workers_never_outnumber_the_units(monkeypatch):
    from lstmfc.backtest import executors

    seen = {}

    def fake_local(units, jobs, on_result, fn):
        seen["jobs"] = jobs
        return []

    monkeypatch.setattr(executors, "_run_local", fake_local)
    from lstmfc.network.backend import cpu_count

    executors.execute_units(["u1", "u2"], executors.Execution(jobs=4 * cpu_count()), fn=str)
    assert seen["jobs"] == 2


def test_a_tiny_split_fraction_no_longer_hangs(home):
    args = ["prepare", "PRE", "--split", "1e-300,0.5,0.5"]
    res, dt = invoke(home, args)
    line = contract(res, dt, args)
    assert res.exit_code == 2 and dt < 2.0
    assert line == (
        "Error: --split fractions must each be at least 0.01 (1 % of the windows), "
        "got 1e-300,0.5,0.5"
    )


@pytest.mark.parametrize(
    "cell, units, dense, n_features, head",
    [
        ("lstm", (128, 64), 25, 1, "price"),
        ("gru", (7, 5, 3), 0, 4, "direction"),
        ("rnn", (16,), 9, 3, "price"),
    ],
)
def test_the_weight_estimate_equals_keras_count_params(cell, units, dense, n_features, head):
    from lstmfc.network.models import build_model, estimate_params

    spec = model_spec(
        lookback=5, n_features=n_features, head=head, cell=cell, units=units, dense=dense
    )
    assert estimate_params(cell, units, dense, n_features) == build_model(spec).count_params()


def test_the_training_memory_estimate_by_hand():
    from lstmfc.workflows.train import estimate_train_bytes

    # LSTM 17 floats per unit and step: batch min(32, 100) = 32, lookback 60, 192 units;
    # windows 100 x 60 x 2 features; 1000 weights with gradients and 2 Adam moments
    got = estimate_train_bytes("lstm", (128, 64), 32, 60, 2, 100, 1000)
    assert got == 4 * (32 * 60 * 17 * 192 + 100 * 60 * 2 + 4 * 1000)
    # the batch cannot exceed the windows
    assert estimate_train_bytes("rnn", (8,), 5000, 10, 1, 50, 0) == 4 * (50 * 10 * 4 * 8 + 500)


# ============================================================ Hypothesis over values
JUNK = st.sampled_from(["abc", "", " ", "1.5", "1e3", "0x10", "nan", "inf", "-inf", "1,2", "½"])
HUGE = st.sampled_from([-(10**30), -(2**63), 2**31, 2**63, 10**30])


def _ints(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.one_of(st.integers(-3, 3), st.integers(lo, hi), HUGE).map(str)


INT_ANY = st.one_of(_ints(-(10**6), 10**6), JUNK)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["-1", "0", "1", "0.999999", "1e308", "-0.0", "1e-320"]),
    JUNK,
)
# valid values whose cost grows with them are drawn small only (see the module docstring)
EPOCHS = st.one_of(st.integers(-3, 2).map(str), st.integers(10_001, 10**12).map(str), JUNK)
ENSEMBLE = st.one_of(st.integers(-3, 2).map(str), st.integers(51, 10**9).map(str), JUNK)


def _join(xs) -> str:
    return ",".join(str(x) for x in xs)


UNITS = st.one_of(
    st.lists(st.integers(1, 12), min_size=1, max_size=3).map(_join),
    st.tuples(
        st.lists(st.integers(1, 12), max_size=3),
        st.one_of(st.integers(-(10**6), 0), st.integers(4097, 10**12)),
    ).map(lambda t: _join([*t[0], t[1]])),
    st.lists(st.integers(1, 12), min_size=9, max_size=12).map(_join),
    st.lists(st.integers(2300, 4096), min_size=1, max_size=8).map(_join),  # above the cap
    st.sampled_from(["", ",", "4,", "a,b", "4.0", "1e3", " 4 ", "4;4"]),
)
SPLIT = st.one_of(
    st.tuples(FLOATS, FLOATS, FLOATS).map(_join),
    st.tuples(st.floats(0, 1), st.floats(0, 1)).map(
        lambda t: _join([t[0], t[1], 1.0 - t[0] - t[1]])
    ),
    JUNK,
)
LOOKBACK = st.one_of(_ints(1, 200), st.integers(2400, 2600).map(str), JUNK)
MODEL = {
    "--units": UNITS,
    "--dropout": FLOATS,
    "--dense": INT_ANY,
    "--epochs": EPOCHS,
    "--batch-size": INT_ANY,
    "--lr": FLOATS,
    "--clipnorm": FLOATS,
    "--l2": FLOATS,
    "--patience": INT_ANY,
    "--ensemble": ENSEMBLE,
    "--seed": INT_ANY,
}
SCORING = {"--sma": INT_ANY, "--ema": INT_ANY, "--cost-bps": FLOATS, "--alpha": FLOATS}
WINDOWS = {"--lookback": LOOKBACK, "--horizon": LOOKBACK}
DRAWN = {
    "prepare": {**WINDOWS, "--split": SPLIT},
    "train": MODEL,
    "evaluate": SCORING,
    "backtest": {
        **WINDOWS,
        **MODEL,
        **SCORING,
        "--folds": INT_ANY,
        "--step": INT_ANY,
        "--test-size": INT_ANY,
        "--retrain-every": INT_ANY,
        "--train-size": INT_ANY,
        "--val-fraction": FLOATS,
        "--jobs": INT_ANY,
    },
    "run": {**WINDOWS, **MODEL, "--cost-bps": FLOATS, "--alpha": FLOATS},
}
EXTRA = {  # fixed options that keep a valid draw to one network fit
    "backtest": {
        "--retrain-every": ["--folds", "2"],
        "--train-size": ["--window", "rolling", "--retrain-every", "100000"],
    },
}


def _option(cmd: str):
    return st.sampled_from(sorted(DRAWN[cmd])).flatmap(
        lambda opt: st.tuples(st.just(opt), DRAWN[cmd][opt])
    )


# ------------------------------------------------ what each drawn value must give
# The ranges --help documents, written out here (not read from lstmfc.limits): a value
# outside them is a usage error (exit 2); a value inside gives the command's normal
# outcome on this workspace, worked out by hand below.
INT_RANGES = {
    "--lookback": (1, 2520),
    "--horizon": (1, 2520),
    "--dense": (0, 4096),
    "--epochs": (1, 10_000),
    "--batch-size": (1, 65_536),
    "--patience": (0, 10_000),
    "--ensemble": (1, 50),
    "--seed": (0, 2**32 - 1 - 1),  # 0 to 2**32 - 1 - ensemble, ensemble 1
    "--sma": (1, 2520),
    "--ema": (1, 2520),
    "--folds": (1, None),
    "--step": (1, None),
    "--test-size": (1, None),
    "--retrain-every": (1, None),
    "--train-size": (3, None),
    "--jobs": (1, 4 * len(os.sched_getaffinity(0))),  # 4 x the cores this process may use
}
INF = math.inf
FLOAT_RANGES = {  # (low, low included, high, high included); a value must also be finite
    "--dropout": (0.0, True, 1.0, False),
    "--lr": (0.0, False, INF, False),
    "--clipnorm": (0.0, True, INF, False),
    "--l2": (0.0, True, INF, False),
    "--cost-bps": (0.0, True, 10_000.0, False),
    "--alpha": (0.0, False, 1.0, False),
    "--val-fraction": (0.0, False, 1.0, False),
}
F32_MAX = 3.4028234663852886e38
N_FEATURES = 1  # logret
MAX_WEIGHTS = 20_000_000
OK, REFUSED, DATA = {0}, {2}, {1}  # exit codes


def _units_outcome(value: str) -> tuple[set, str | None]:
    """``--units``: 1 to 8 comma-separated integers from 1 to 4096 (blanks around an
    entry allowed), at most 20,000,000 weights (LSTM, ``--dense 0``, one output unit:
    4 * (u * (inputs + u) + u) per layer, then u_last + 1), else exit 2."""
    parts = [p.strip() for p in value.split(",")]
    if not all(re.fullmatch(r"[0-9]+", p) for p in parts):
        return REFUSED, "--units"
    units = [int(p) for p in parts]
    if not 1 <= len(units) <= 8 or not all(1 <= u <= 4096 for u in units):
        return REFUSED, "--units"
    n, inputs = 0, N_FEATURES
    for u in units:
        n, inputs = n + 4 * (u * (inputs + u) + u), u
    n += units[-1] + 1
    return (REFUSED, f"network of {n:,} weights") if n > MAX_WEIGHTS else (OK, None)


def _min_windows(fractions: list[Fraction]) -> int:
    """Fewest windows leaving one in every split, by docs/preparing.md's cut rule:
    train floor(n f1), val up to floor(n (f1 + f2)), test the rest."""
    n = 3
    while True:
        cut1 = math.floor(n * fractions[0])
        cut2 = max(cut1, math.floor(n * (fractions[0] + fractions[1])))
        if min(cut1, cut2 - cut1, n - cut2) >= 1:
            return n
        n += 1


def _split_outcome(value: str) -> tuple[set, str | None]:
    """``--split`` (prepare PRE: 120 rows, lookback 60, horizon 1, 1 warm-up row). As
    docs/preparing.md and parse_split document it: not numbers or a fraction below
    0.01 is a usage error (exit 2); not three, not finite, not positive or not summing
    to 1 (within 1e-6) is exit 1, as is a history too short for the split."""
    try:
        values = [float(p) for p in value.split(",")]
    except ValueError:
        return REFUSED, "--split"
    if len(values) != 3:
        return DATA, "needs three fractions"
    if not all(math.isfinite(v) for v in values):
        return DATA, "non-finite fraction"
    if any(v <= 0 for v in values):
        return DATA, "split empty"
    if min(values) < 0.01:
        return REFUSED, "--split fractions must each be at least 0.01"
    if abs(sum(values) - 1.0) > 1e-6:
        return DATA, "not 1"
    need = 1 + 60 + 1 + _min_windows([Fraction(v) for v in values]) - 1
    return (OK, None) if need <= N_ROWS else (DATA, f"need at least {need} rows, got 120")


def _number(opt: str, value: str):
    """The value as the option's type, or None where it is not one."""
    try:
        if opt in INT_RANGES:
            return int(value) if re.fullmatch(r"-?[0-9]+", value) else None
        return float(value)
    except ValueError:
        return None


def expected(cmd: str, opt: str, value: str) -> tuple[set, str | None]:
    """Exit codes ``lstmfc CMD ... OPT VALUE`` may end with here, and a fragment its
    error line must hold (``DATA | OK``: a documented data bound this workspace may or
    may not reach, where working it out by hand would mean redoing the numerics)."""
    if opt == "--units":
        return _units_outcome(value)
    if opt == "--split":
        return _split_outcome(value)
    x = _number(opt, value)
    if x is None:
        return REFUSED, opt
    if opt in INT_RANGES:
        lo, hi = INT_RANGES[opt]
        if x < lo or (hi is not None and x > hi):
            return REFUSED, opt
    else:
        lo, lo_in, hi, hi_in = FLOAT_RANGES[opt]
        inside = (x >= lo if lo_in else x > lo) and (x <= hi if hi_in else x < hi)
        if not (math.isfinite(x) and inside):
            return REFUSED, opt
    # valid: what this workspace makes of it
    if opt in ("--lr", "--l2"):
        # Adam steps by about lr, so a huge lr throws the weights far enough for the
        # loss to overflow float32; a huge l2 overflows the penalty or its gradient's
        # norm. Exit 1 with the divergence line, from where by hand it must happen.
        safe, sure = (10.0, 1e30) if opt == "--lr" else (1e6, F32_MAX)
        if x <= safe:
            return OK, None
        return (DATA if x > sure else DATA | OK), "training diverged"
    if cmd == "prepare":  # PRE: 120 rows, 1 warm-up row, 4 windows for 0.70/0.15/0.15
        lookback, horizon = (x, 1) if opt == "--lookback" else (60, x)
        need = 1 + lookback + horizon + 4 - 1
        return (OK, None) if need <= N_ROWS else (DATA, f"need at least {need} rows")
    if cmd == "evaluate" and opt == "--sma":
        # EVA: 119 feature rows (120 closes less 1 warm-up), 109 windows of 10, the 76
        # training ones (floor(0.7 * 109)) end at rows 9..84; SMA(k) needs k - 1 rows
        # before a window's end
        return (OK, None) if x - 1 <= 84 else (DATA, f"baseline sma needs {x - 1} rows")
    if cmd in ("backtest", "run") and opt in DATA_BOUND[cmd]:
        return DATA | OK, None
    return OK, None


#: Options whose valid values meet a documented data bound on the tiny series (test
#: windows, history for a baseline) in ways not worked out by hand here.
DATA_BOUND = {
    "backtest": {
        "--lookback", "--horizon", "--folds", "--step", "--test-size", "--train-size",
        "--val-fraction", "--sma",
    },
    "run": {"--lookback", "--horizon"},
}  # fmt: skip


def _check_draw(home, cmd: str, opt: str, value: str) -> None:
    fixed = EXTRA.get(cmd, {}).get(opt)
    if fixed is None:
        fixed = ["--retrain-every", "100000"] if cmd == "backtest" else []
    args = [*BASE[cmd], *fixed, opt, value]
    res, dt = invoke(home, args)
    line = contract(res, dt, args)
    codes, fragment = expected(cmd, opt, value)
    what = f"lstmfc {' '.join(args)}"
    assert res.exit_code in codes, f"{what}: exit {res.exit_code}, expected {codes}: {line}"
    if res.exit_code == 2:  # refused before any work: the error line alone
        assert res.stderr.count("\n") == 1, f"{what}: stderr {res.stderr!r}"
    if res.exit_code != 0 and fragment is not None:
        assert fragment in line, f"{what}: {line}"


# The hand-worked data bounds just inside and just outside, and values the draws found
# mishandled once (--clipnorm 1e308 made every run diverge), checked every run.
EDGES = [
    ("prepare", "--lookback", "115"),  # 1 + 115 + 1 + 4 - 1 = 120 rows: enough
    ("prepare", "--lookback", "116"),
    ("prepare", "--horizon", "56"),
    ("prepare", "--horizon", "57"),
    ("prepare", "--split", "0.02,0.02,0.96"),  # 50 windows at least: 111 rows
    ("prepare", "--split", "0.01,0.02,0.97"),  # 100 windows at least: 161 rows
    ("evaluate", "--sma", "85"),
    ("evaluate", "--sma", "86"),
    ("train", "--clipnorm", "1e308"),
    ("train", "--units", "2235"),  # 4 * (2235 * 2236 + 2235) + 2236 = 20,001,016 weights
    ("train", "--units", " 4 , 3 "),
]


@pytest.mark.parametrize("cmd, opt, value", EDGES, ids=[" ".join(e) for e in EDGES])
def test_values_at_the_hand_worked_bounds(home, cmd, opt, value):
    assert expected(cmd, opt, value)[0] in (OK, REFUSED, DATA)  # each edge is decided
    _check_draw(home, cmd, opt, value)


FAST = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,  # derandomized: nothing to replay, nothing written to .hypothesis/
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FAST
@given(draw=_option("prepare"))
def test_prepare_option_values(home, draw):
    _check_draw(home, "prepare", *draw)


@settings(FAST, max_examples=25)
@given(draw=_option("train"))
def test_train_option_values(home, draw):
    _check_draw(home, "train", *draw)


@settings(FAST, max_examples=15)
@given(draw=_option("evaluate"))
def test_evaluate_option_values(home, draw):
    _check_draw(home, "evaluate", *draw)


@pytest.mark.slow
@settings(FAST, max_examples=20)
@given(draw=_option("backtest"))
def test_backtest_option_values(home, draw):
    _check_draw(home, "backtest", *draw)


@pytest.mark.slow
@settings(FAST, max_examples=10)
@given(draw=_option("run"))
def test_run_option_values(home, draw):
    _check_draw(home, "run", *draw)


# ============================================================ click's own usage errors
USAGE = [
    ["prepare", "PRE", "--lookback", "0"],
    ["prepare", "PRE", "--lookback", "abc"],
    ["prepare", "PRE", "--lookback"],
    ["prepare", "PRE", "--bogus"],
    ["prepare"],
    ["train", "TRN", "--epochs", "abc"],
    ["train", "TRN", "--lookback", "10"],  # train has no --lookback
    ["evaluate", "EVA", "--sma", "1.5"],
    ["evaluate", "EVA", "--bogus", "1"],
    ["run", "RUNX", "--lookback", "abc"],
    ["run", "RUNX", "--horizon", "--units"],
    ["backtest", "BT", "--folds", "abc"],
    ["backtest", "BT", "--jobs", "1e3"],
    ["predict", "EVA", "--calendar"],
    ["predict", "EVA", "--no-such-flag"],
    ["forecasts", "--csv", "extra", "args"],
    ["score", "--bogus"],
    ["fetch", "SP500", "--source"],
    ["samples", "--json", "SP500"],
    ["no-such-command"],
]


@pytest.mark.parametrize("args", USAGE, ids=[" ".join(a) for a in USAGE])
def test_usage_errors_are_one_line_exit_2(home, args):
    res, dt = invoke(home, args)
    contract(res, dt, args)
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error: ")
    assert res.stdout == ""


# ============================================================ exit codes, --model, score
def _fresh(tmp_path):
    ws = Workspace.resolve(tmp_path)
    return ws


def test_evaluate_exit_codes(tmp_path):
    from lstmfc.dataset.prepare import prepare

    ws = _fresh(tmp_path)
    line = run_ok(tmp_path, ["evaluate", "NODATA"], code=1)
    assert "no prepared data for NODATA" in line
    write_raw(ws.raw_path("SYN"), make_ohlcv(N_ROWS), {"source": "test"})
    prepare(ws, "SYN", lookback=10)
    line = run_ok(tmp_path, ["evaluate", "SYN"], code=1)  # prepared, never trained
    assert "SYN" in line and "lstmfc train SYN" in line
    run_ok(tmp_path, ["train", "SYN", *TINY], code=0)
    run_ok(tmp_path, ["evaluate", "SYN", "--alpha", "1.5"], code=2)
    run_ok(tmp_path, ["evaluate", "SYN", "--sma", "0"], code=2)
    latest = next(p for p in (tmp_path / "models" / "SYN").iterdir() if p.name != "latest")
    (latest / "manifest.json").write_text("{ not json")  # a corrupt bundle
    line = run_ok(tmp_path, ["evaluate", "SYN"], code=1)
    assert "manifest.json" in line


def test_score_exit_codes(tmp_path):
    run_ok(tmp_path, ["score"], code=0)  # no forecast log yet: nothing to score
    run_ok(tmp_path, ["score", "--bogus"], code=2)
    run_ok(tmp_path, ["score", "not a ticker!"], code=2)
    db = Workspace.resolve(tmp_path).forecast_db
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not an SQLite database" * 100)
    line = run_ok(tmp_path, ["score"], code=1)
    assert "forecasts.sqlite" in line


def test_run_exit_codes(tmp_path):
    line = run_ok(tmp_path, ["run", "NOPE", "--source", "sample", *TINY], code=1)
    assert "NOPE" in line
    line = run_ok(tmp_path, ["run", "X", "--source", "csv", "--path", "missing.csv"], code=1)
    assert "missing.csv" in line
    (tmp_path / "bad.csv").write_text("Date,Close\n2020-01-02,abc\n")
    run_ok(tmp_path, ["run", "X", "--source", "csv", "--path", str(tmp_path / "bad.csv")], code=1)
    run_ok(tmp_path, ["run", "X", "--source", "sample", "--lookback", "0"], code=2)
    run_ok(tmp_path, ["run", "X", "--source", "nowhere"], code=2)


def test_model_run_id_for_evaluate_and_predict(tmp_path):
    from lstmfc.dataset.prepare import prepare

    ws = _fresh(tmp_path)
    write_raw(ws.raw_path("SYN"), make_ohlcv(N_ROWS), {"source": "test"})
    prepare(ws, "SYN", lookback=10)
    runs = []
    for seed in ("1", "2"):
        res, _ = invoke(tmp_path, ["train", "SYN", *TINY, "--seed", seed, "--json"])
        assert res.exit_code == 0, res.output
        runs.append(json.loads(res.stdout)["run_id"])
    old, new = runs
    assert old != new
    res, _ = invoke(tmp_path, ["evaluate", "SYN", "--json"])
    assert json.loads(res.stdout)["run_id"] == new  # latest by default
    res, _ = invoke(tmp_path, ["evaluate", "SYN", "--model", old, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["run_id"] == old
    pred = ["predict", "SYN", "--no-update", "--calendar", "weekdays"]
    res, _ = invoke(tmp_path, [*pred, "--model", old, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["run_id"] == old
    unknown = "20990101T000000Z-000000"
    for cmd in (["evaluate", "SYN"], pred):
        line = run_ok(tmp_path, [*cmd, "--model", unknown], code=1)
        assert unknown in line
        line = run_ok(tmp_path, [*cmd, "--model", "../etc"], code=2)
        assert "invalid model run id '../etc'" in line


def _predict_then_score(tmp_path, head: str, horizon: int, ahead: int = 4):
    """Train on the series minus its last ``ahead`` sessions, predict, then store the
    full series and score; returns (forecast row, series)."""
    ws = _fresh(tmp_path)
    full = make_ohlcv(N_ROWS, seed=5)
    write_raw(ws.raw_path("SYN"), full.iloc[:-ahead], {"source": "test"})
    run_ok(tmp_path, ["prepare", "SYN", "--lookback", "10", "--horizon", str(horizon)], code=0)
    run_ok(tmp_path, ["train", "SYN", "--head", head, *TINY], code=0)
    pred = ["predict", "SYN", "--no-update", "--calendar", "weekdays", "--json"]
    res, _ = invoke(tmp_path, pred)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)[0]
    assert doc["as_of"] == full.index[-ahead - 1].strftime("%Y-%m-%d")
    res, _ = invoke(tmp_path, ["score", "--json"])
    assert json.loads(res.stdout)["pending"] == 1  # the target session is not stored yet
    write_raw(ws.raw_path("SYN"), full, {"source": "test"})
    res, _ = invoke(tmp_path, ["score", "--json"])
    assert res.exit_code == 0, res.output
    scored = json.loads(res.stdout)
    assert scored["newly_scored"] == 1 and scored["pending"] == 0
    row = json.loads(invoke(tmp_path, ["forecasts", "SYN", "--json"])[0].stdout)[0]
    return doc, row, full, scored


def test_score_horizon_2_uses_the_close_two_stored_sessions_after_as_of(tmp_path):
    doc, row, full, _ = _predict_then_score(tmp_path, "price", horizon=2)
    # by hand: as_of is full.index[-5]; the series is on weekdays (pandas bdate_range), so
    # the target, two weekdays later, is the second stored session after it: index[-3]
    realised = float(full["close"].iloc[-3])
    assert doc["target_date"] == full.index[-3].strftime("%Y-%m-%d")
    assert row["horizon"] == 2
    assert row["realised_date"] == full.index[-3].strftime("%Y-%m-%d")
    assert row["realised_close"] == pytest.approx(realised, rel=1e-12)
    assert row["error"] == pytest.approx(realised - doc["forecast_price"], rel=1e-9)
    assert row["naive_error"] == pytest.approx(realised - float(full["close"].iloc[-5]))


def test_score_direction_head(tmp_path):
    doc, row, full, scored = _predict_then_score(tmp_path, "direction", horizon=1)
    realised, as_of_close = float(full["close"].iloc[-4]), float(full["close"].iloc[-5])
    assert row["realised_close"] == pytest.approx(realised, rel=1e-12)
    up = realised > as_of_close
    assert row["direction_correct"] == int((doc["prob_up"] > 0.5) == up)
    summary = next(iter(scored["summary"].values()))
    assert summary["head"] == "direction" and summary["n_scored"] == 1
    assert summary["directional_accuracy"] == float(row["direction_correct"])
    res, _ = invoke(tmp_path, ["score"])  # and the table renders the direction head
    assert res.exit_code == 0 and "direction head" in res.stdout
