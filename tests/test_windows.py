"""``prepare``: alignment of windows and targets, windows as views, the train-only scaler's
rows (leakage), properties over lookback and horizon, errors and the on-disk dataset.

The split arithmetic, the scaler and the live windows have their own files
(tests/test_split.py, tests/test_scaling.py, tests/test_live.py)."""

from __future__ import annotations

import functools
import json
import tempfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lstmfc.dataset.prepare as prepare_module  # monkeypatched where prepare() looks
from lstmfc.core.config import Workspace
from lstmfc.core.errors import ArtifactError, DataError, UsageError
from lstmfc.data.store import write_raw
from lstmfc.dataset.features import FEATURE_SETS, build_features
from lstmfc.dataset.prepare import load_prepared, prepare
from lstmfc.dataset.scaling import MinMaxParams
from lstmfc.dataset.split import DEFAULT_SPLIT, SPLITS, min_windows
from tests.conftest import make_ohlcv

ALL = tuple(FEATURE_SETS)


def _ws() -> Workspace:
    return Workspace.resolve()  # LSTMFC_HOME -> the per-test tmp folder (conftest)


def _store(ws: Workspace, ticker: str, frame: pd.DataFrame) -> None:
    write_raw(ws.raw_path(ticker), frame, {"source": "test"})


def _linear(n: int) -> pd.DataFrame:
    """close = 1, 2, ..., n on business days from 2020-01-01 (hand-computable)."""
    close = np.arange(1, n + 1, dtype="float64")
    idx = pd.bdate_range("2020-01-01", periods=n, name="date")
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": close * 100},
        index=idx,
    )


# ------------------------------------------------------------------ alignment
def test_alignment_on_hand_computable_series():
    """close = 1..100, L=10, h=1: n = 100-10-1+1 = 90 windows -> 63 / 13 / 14."""
    ws = _ws()
    raw = _linear(100)
    _store(ws, "LIN", raw)
    meta = prepare(ws, "LIN", lookback=10, horizon=1, features=["close"])
    d = raw.index
    # train windows end on rows 9..71, targets rows 10..72; val 72..84 -> 73..85;
    # test 85..98 -> 86..99; scaler fit on rows 0..71 (close 1..72)
    assert meta["n_windows"] == 90
    expected = {
        "train": (63, 9, 71),
        "val": (13, 72, 84),
        "test": (14, 85, 98),
    }
    for name, (n, first, last) in expected.items():
        s = meta["split"][name]
        assert (s["n"], s["first_row"], s["last_row"]) == (n, first, last)
        assert s["start"] == d[first + 1].date().isoformat()
        assert s["end"] == d[last + 1].date().isoformat()
    assert meta["split"]["train"]["start"] == "2020-01-15"
    assert meta["split"]["test"]["end"] == "2020-05-19"
    assert meta["scaler"]["data_min"] == [1.0] and meta["scaler"]["data_max"] == [72.0]
    assert meta["scaler"]["fit_rows"] == [0, 71]
    assert meta["scaler"]["fit_end_date"] == d[71].date().isoformat()

    pr = load_prepared(ws, "LIN")
    for name in ("train", "val", "test"):
        w, tg = pr.windows(name), pr.split_targets(name)
        ends = pr.split_rows(name)
        assert len(w) == len(tg) == len(ends) == expected[name][0]
        # window i covers closes (r-9 .. r) + 1, scaled by (x - 1) / 71; target close r+2
        for i in (0, len(ends) // 2, len(ends) - 1):
            r = ends[i]
            want = ((np.arange(r - 9, r + 1) + 1 - 1) / 71).astype("float32")
            np.testing.assert_array_equal(w[i, :, 0], want)
            assert tg.index[i] == d[r]
            assert tg["target_date"].iloc[i] == d[r + 1]
            assert tg["target_price"].iloc[i] == r + 2
            assert tg["close"].iloc[i] == r + 1
            assert tg["target_direction"].iloc[i] == 1
            assert tg["target_logret"].iloc[i] == np.log((r + 2) / (r + 1))


def test_alignment_with_longer_horizon_and_warmup():
    """close = 1..80 with logret (1 warm-up row), L=5, h=3: N=79, n=79-5-3+1=72."""
    ws = _ws()
    raw = _linear(80)
    _store(ws, "LIN", raw)
    meta = prepare(ws, "LIN", lookback=5, horizon=3, features="close,logret")
    assert meta["warmup_rows_dropped"] == 1 and meta["n_rows"] == 79
    assert [meta["split"][s]["n"] for s in ("train", "val", "test")] == [50, 11, 11]
    pr = load_prepared(ws, "LIN")
    # feature row r is raw row r+1 (close r+2); first train window ends at row 4
    tg = pr.split_targets("train")
    assert tg.index[0] == raw.index[5]
    assert tg["target_date"].iloc[0] == raw.index[8]
    assert tg["target_price"].iloc[0] == 9.0  # close 3 rows after close 6
    assert meta["split"]["val"]["start"] == raw.index[1 + 54 + 3].date().isoformat()
    assert meta["scaler"]["data_max"][0] == 54.0 + 1  # feature rows 0..53 -> closes 2..55


# ------------------------------------------------------------------ views, shapes
def test_windows_are_read_only_float32_views():
    ws = _ws()
    _store(ws, "ABC", make_ohlcv(400))
    prepare(ws, "ABC", lookback=30, features="ohlcv,rsi")
    pr = load_prepared(ws, "abc")
    assert pr.values.dtype == np.float32 and pr.values.shape == (400 - 14, 6)
    assert all(str(t) == "float32" for t in pr.features.dtypes)
    total = 0
    for name in ("train", "val", "test"):
        w = pr.windows(name)
        assert w.shape == (pr.meta["split"][name]["n"], 30, 6)
        assert w.dtype == np.float32
        assert not w.flags.writeable
        assert np.shares_memory(w, pr.values)
        r = pr.split_rows(name)
        np.testing.assert_array_equal(w[-1], pr.values[r[-1] - 29 : r[-1] + 1])
        assert pr.split_targets(name)["target_direction"].dtype == np.int8
        total += len(w)
    assert total == 400 - 14 - 30 - 1 + 1
    assert pr.lookback == 30 and pr.horizon == 1 and pr.n_features == 6
    assert pr.feature_names == ["open", "high", "low", "close", "volume_log1p", "rsi_14"]
    assert isinstance(pr.scaler, MinMaxParams)
    with pytest.raises(UsageError, match="unknown split 'dev'"):
        pr.windows("dev")


def test_scaled_training_inputs_span_zero_to_one_and_later_rows_are_not_clipped():
    ws = _ws()
    raw = _linear(200)  # rising: val/test closes exceed the training maximum
    _store(ws, "LIN", raw)
    meta = prepare(ws, "LIN", lookback=10, features="close")
    pr = load_prepared(ws, "LIN")
    fit_last = pr.meta["scaler"]["fit_rows"][1]
    assert pr.values[: fit_last + 1].min() == 0.0 and pr.values[: fit_last + 1].max() == 1.0
    assert pr.windows("test").max() > 1.0
    # prepare.json records each split's share of scaled inputs outside [0, 1]. By hand:
    # 190 windows -> 133 train (end rows 9..141), 28 val, 29 test (end rows 170..198);
    # the scaler sees rows 0..141 (max close 142); the test windows read rows 161..198,
    # all above it: share 1.0; the training inputs: 0.0
    assert meta["split"]["train"]["out_of_range_share"] == 0.0
    assert meta["split"]["test"]["out_of_range_share"] == 1.0


def test_prepare_json_keys():
    ws = _ws()
    _store(ws, "ABC", make_ohlcv(300))
    meta = prepare(ws, "ABC", features="close,close,rsi")
    on_disk = json.loads((ws.prepared_path("ABC") / "prepare.json").read_text())
    assert on_disk == meta
    for key in (
        "ticker lookback horizon features feature_names split_fractions split scaler "
        "warmup_rows_dropped n_rows raw versions created_at"
    ).split():
        assert key in meta
    assert meta["features"] == ["close", "rsi"]
    assert set(meta["split"]) == {"train", "val", "test"}
    for s in meta["split"].values():
        assert {"n", "start", "end", "first_row", "last_row"} <= set(s)
    assert {"feature_names", "data_min", "data_max", "feature_range", "fit_rows"} <= set(
        meta["scaler"]
    )
    assert meta["raw"]["path"] == "data/raw/ABC.parquet"
    assert len(meta["raw"]["sha256"]) == 64
    assert {"lstmfc", "numpy", "pandas", "scikit-learn", "pyarrow"} <= set(meta["versions"])
    targets = pd.read_parquet(ws.prepared_path("ABC") / "targets.parquet")
    assert list(targets.columns) == [
        "close",
        "target_date",
        "target_price",
        "target_logret",
        "target_direction",
        "target_parkinson",  # OHLC series: the volatility head's secondary proxy
    ]


# ------------------------------------------------------------------ leakage
BASE_N = 500


@functools.lru_cache(maxsize=1)
def _baseline_raw() -> pd.DataFrame:
    return make_ohlcv(BASE_N, seed=7)


def _snapshot(raw: pd.DataFrame, horizon: int = 1) -> dict:
    """Prepare raw in a fresh workspace; return what training sees."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.resolve(tmp)
        _store(ws, "LEAK", raw)
        meta = prepare(ws, "LEAK", lookback=20, horizon=horizon, features=ALL)
        pr = load_prepared(ws, "LEAK")
        return {
            "meta": meta,
            "train_x": np.array(pr.windows("train")),
            "train_y": pr.split_targets("train"),
            "scaler": pr.meta["scaler"],
            "values": pr.values.copy(),
        }


def _first_val_target_raw_row(snap: dict) -> int:
    meta = snap["meta"]
    return meta["warmup_rows_dropped"] + meta["split"]["val"]["first_row"] + meta["horizon"]


def _leaks(base: dict, other: dict) -> list[str]:
    """Names of the training artefacts that differ (empty: bit-identical)."""
    out = []
    if not np.array_equal(base["train_x"], other["train_x"]):
        out.append("train windows")
    try:
        pd.testing.assert_frame_equal(base["train_y"], other["train_y"], check_exact=True)
    except AssertionError:
        out.append("train targets")
    if base["scaler"] != other["scaler"]:
        out.append("scaler")
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pos=st.floats(min_value=0.0, max_value=1.0),
    column=st.sampled_from(["open", "high", "low", "close", "volume"]),
    factor=st.floats(min_value=0.3, max_value=4.0).filter(lambda f: abs(f - 1) > 1e-3),
    horizon=st.sampled_from([1, 3]),
)
def test_changing_any_val_or_test_value_leaves_training_bit_identical(pos, column, factor, horizon):
    base = _snapshot(_baseline_raw(), horizon)
    first = _first_val_target_raw_row(base)
    row = first + int(pos * (BASE_N - 1 - first))
    raw = _baseline_raw().copy()
    raw.iloc[row, raw.columns.get_loc(column)] *= factor
    other = _snapshot(raw, horizon)
    assert _leaks(base, other) == []
    assert not np.array_equal(base["values"], other["values"])  # the change did land


@pytest.mark.parametrize("fit_on_all_rows", [False, True])
def test_leakage_check_fails_when_scaler_sees_val_and_test(fit_on_all_rows, monkeypatch):
    if fit_on_all_rows:
        monkeypatch.setattr(prepare_module, "scaler_fit_rows", lambda plan: (0, plan.n_rows - 1))
    base = _snapshot(_baseline_raw())
    raw = _baseline_raw().copy()
    last = len(raw) - 1  # a test-period row: a new all-time high close
    raw.iloc[last, raw.columns.get_loc("close")] *= 3
    leaks = _leaks(base, _snapshot(raw))
    assert leaks == (["train windows", "scaler"] if fit_on_all_rows else [])


def test_split_targets_are_ordered_and_disjoint():
    snap = _snapshot(_baseline_raw(), horizon=5)
    s = snap["meta"]["split"]
    assert s["train"]["end"] < s["val"]["start"] <= s["val"]["end"] < s["test"]["start"]


# ------------------------------------------------------------------ properties
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lookback=st.integers(1, 40),
    horizon=st.integers(1, 10),
    extra=st.integers(0, 150),
    feats=st.sampled_from(["close", "close,logret", "ohlcv,rsi", "macd,bbp"]),
)
def test_properties_over_lookback_horizon_and_length(lookback, horizon, extra, feats):
    warm = {"close": 0, "close,logret": 1, "ohlcv,rsi": 14, "macd,bbp": 33}[feats]
    n_raw = warm + lookback + horizon + min_windows(DEFAULT_SPLIT) - 1 + extra
    raw = make_ohlcv(n_raw, seed=extra)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.resolve(tmp)
        _store(ws, "P", raw)
        meta = prepare(ws, "P", lookback=lookback, horizon=horizon, features=feats)
        pr = load_prepared(ws, "P")
        N = n_raw - warm
        assert meta["n_rows"] == N == len(pr.features)
        n = N - lookback - horizon + 1
        counts = [meta["split"][s]["n"] for s in SPLITS]
        assert sum(counts) == n == meta["n_windows"] and min(counts) >= 1
        ends = np.concatenate([pr.split_rows(s) for s in SPLITS])
        np.testing.assert_array_equal(ends, np.arange(lookback - 1, N - horizon))
        fit_last = meta["scaler"]["fit_rows"][1]
        assert fit_last == pr.split_rows("train")[-1]
        unscaled = build_features(raw, feats)[0].to_numpy()
        assert meta["scaler"]["data_max"] == unscaled[: fit_last + 1].max(axis=0).tolist()
        assert meta["scaler"]["data_min"] == unscaled[: fit_last + 1].min(axis=0).tolist()
        for s in SPLITS:
            w, tg, r = pr.windows(s), pr.split_targets(s), pr.split_rows(s)
            assert w.shape == (len(r), lookback, pr.n_features) and w.dtype == np.float32
            assert np.shares_memory(w, pr.values)
            i = len(r) // 2
            np.testing.assert_array_equal(w[i], pr.values[r[i] - lookback + 1 : r[i] + 1])
            assert (tg.index == pr.features.index[r]).all()
            assert (tg["target_date"].to_numpy() == pr.features.index[r + horizon]).all()
            np.testing.assert_array_equal(
                tg["target_price"], raw["close"].to_numpy()[r + warm + horizon]
            )
        assert (
            meta["split"]["train"]["end"]
            < meta["split"]["val"]["start"]
            <= meta["split"]["val"]["end"]
            < meta["split"]["test"]["start"]
        )


# ------------------------------------------------------------------ errors
def test_prepare_errors_write_nothing(workspace):
    ws = _ws()
    with pytest.raises(DataError) as exc:
        prepare(ws, "nope")
    assert str(exc.value) == "no data for NOPE; run `lstmfc fetch NOPE` first"
    _store(ws, "ABC", make_ohlcv(96))
    with pytest.raises(DataError) as exc:
        prepare(ws, "ABC", features="macd")
    assert str(exc.value) == (
        "ABC: need at least 97 rows, got 96 (lookback 60, horizon 1, 33 warm-up rows, "
        "4 windows for a 0.70/0.15/0.15 split)"
    )
    with pytest.raises(UsageError):
        prepare(ws, "ABC", lookback=0)
    with pytest.raises(UsageError):
        prepare(ws, "ABC", horizon=0)
    flat = make_ohlcv(200)
    flat["volume"] = 1e6
    _store(ws, "FLAT", flat)
    with pytest.raises(DataError) as exc:
        prepare(ws, "FLAT", features="close,volume")
    assert str(exc.value) == (
        "feature 'volume_log1p' has zero range in the training rows "
        "(2020-01-01 to 2020-08-06, all 13.8155); remove it from --features"
    )
    assert not ws.prepared_dir.exists() or list(ws.prepared_dir.iterdir()) == []


def test_exactly_the_minimum_history_works():
    ws = _ws()
    _store(ws, "ABC", make_ohlcv(97))
    meta = prepare(ws, "ABC", features="macd")
    assert [meta["split"][s]["n"] for s in SPLITS] == [2, 1, 1]


def test_failed_rewrite_keeps_the_old_dataset(monkeypatch):
    ws = _ws()
    _store(ws, "ABC", make_ohlcv(300))
    old = prepare(ws, "ABC")

    def boom(_folder):
        raise OSError("disk full")

    monkeypatch.setattr(prepare_module, "_fsync_tree", boom)
    with pytest.raises(OSError):
        prepare(ws, "ABC", lookback=20)
    assert load_prepared(ws, "ABC").meta == old
    assert [p.name for p in ws.prepared_dir.iterdir()] == ["ABC"]  # no temp folder left


def test_rerun_replaces_the_whole_folder():
    ws = _ws()
    _store(ws, "ABC", make_ohlcv(300))
    prepare(ws, "ABC")
    (ws.prepared_path("ABC") / "stray.txt").write_text("x")
    prepare(ws, "ABC", lookback=20, features="close,rsi")
    assert sorted(p.name for p in ws.prepared_path("ABC").iterdir()) == [
        "features.parquet",
        "prepare.json",
        "targets.parquet",
    ]
    assert load_prepared(ws, "ABC").lookback == 20


def test_load_prepared_errors():
    ws = _ws()
    with pytest.raises(ArtifactError) as exc:
        load_prepared(ws, "abc")
    assert str(exc.value) == "no prepared data for ABC; run `lstmfc prepare ABC`"
    _store(ws, "ABC", make_ohlcv(300))
    prepare(ws, "ABC")
    folder = ws.prepared_path("ABC")
    feats = folder / "features.parquet"
    good = feats.read_bytes()
    feats.write_bytes(good[:-10] + b"0123456789")
    with pytest.raises(ArtifactError) as exc:
        load_prepared(ws, "ABC")
    assert str(exc.value) == (
        "prepared data for ABC is corrupt (features.parquet checksum mismatch); "
        "run `lstmfc prepare ABC` again"
    )
    feats.unlink()
    with pytest.raises(ArtifactError, match=r"corrupt \(features.parquet missing\)"):
        load_prepared(ws, "ABC")
    feats.write_bytes(good)
    (folder / "prepare.json").write_text("{not json")
    with pytest.raises(ArtifactError, match=r"corrupt \(prepare.json: JSONDecodeError"):
        load_prepared(ws, "ABC")


def test_is_stale_after_raw_changes():
    ws = _ws()
    raw = make_ohlcv(300)
    _store(ws, "ABC", raw)
    prepare(ws, "ABC")
    pr = load_prepared(ws, "ABC")
    assert not pr.is_stale(ws)
    _store(ws, "ABC", make_ohlcv(301))
    assert pr.is_stale(ws)


# ------------------------------------------------------------------ SP500 sample
def test_sp500_defaults_done_when():
    from lstmfc.data.sources.sample import read_sample

    raw = read_sample("SP500")[0][["open", "high", "low", "close", "volume"]]
    ws = _ws()
    _store(ws, "SP500", raw)
    meta = prepare(ws, "SP500", features="close")  # the issue-3 done-when: level input
    n = meta["n_windows"]
    assert n == len(raw) - 60 - 1 + 1
    for name, f in zip(SPLITS, (0.70, 0.15, 0.15), strict=True):
        assert abs(meta["split"][name]["n"] - f * n) <= 1
    pr = load_prepared(ws, "SP500")
    assert pr.windows("train").shape == (meta["split"]["train"]["n"], 60, 1)
    last_train_row = meta["split"]["train"]["last_row"]
    assert meta["scaler"]["data_max"] == [raw["close"].iloc[: last_train_row + 1].max()]
    assert meta["scaler"]["data_min"] == [raw["close"].iloc[: last_train_row + 1].min()]
    assert meta["scaler"]["data_max"][0] < raw["close"].max()  # later highs not seen
