"""``lstmfc prepare``: the supervised dataset on disk, and its windows as views.

This module turns ``data/raw/<TICKER>.parquet`` into ``data/prepared/<TICKER>/``, the
supervised dataset that ``train``, ``evaluate`` and ``predict`` read, and gives them
the windows back as read-only NumPy views (:class:`Prepared`). It joins the layers
below it: the causal features (:mod:`lstmfc.dataset.features`), the chronological
split of the windows (:mod:`lstmfc.dataset.split`, whose docstring draws the window
and split arithmetic), the train-only MinMax scaler (:mod:`lstmfc.dataset.scaling`)
and the targets, which alone read rows after ``t`` (:mod:`lstmfc.dataset.targets`).
The live windows of ``predict`` are rebuilt from a raw series in
:mod:`lstmfc.dataset.live`.

Files
-----
``features.parquet`` (scaled features, float32, index ``date``), ``targets.parquet``
(:func:`lstmfc.dataset.targets.target_frame`, plus the path columns with ``--steps``)
and ``prepare.json`` (split rows and dates, scaler parameters and the rows they were fit
on, provenance, checksums; docs/preparing.md lists every key). The folder is built
beside its target and swapped in whole.

Memory
------
Only the scaled feature frame, ``(N, n_features)`` float32, and the targets are
stored. :meth:`Prepared.windows` returns ``numpy.lib.stride_tricks.sliding_window_view``
slices of it, shape ``(n_windows, lookback, n_features)``: no copy, so memory stays
O(rows x features) instead of O(rows x lookback x features).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmfc import __version__
from lstmfc.core.atomic import replace_dir, sha256_file, sweep_stale, temp_prefix
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.dates import iso_date
from lstmfc.core.errors import ArtifactError, DataError, UsageError
from lstmfc.data.store import read_raw
from lstmfc.dataset.features import (
    DEFAULT_FEATURES,
    build_features,
    feature_columns,
    parse_features,
    warmup_rows,
)
from lstmfc.dataset.garch_feature import fit_garch_feature
from lstmfc.dataset.scaling import MinMaxParams, fit_scaler, out_of_range_share, scale
from lstmfc.dataset.split import (
    DEFAULT_SPLIT,
    SPLITS,
    SplitPlan,
    min_windows,
    parse_split,
    plan_split,
    scaler_fit_rows,
    split_index,
)
from lstmfc.dataset.targets import (
    OPTIONAL_TARGET_COLUMNS,
    TARGET_COLUMNS,
    add_path_targets,
    check_steps,
    path_columns,
    purged_rows,
    target_frame,
)
from lstmfc.dataset.windows import cut_windows

DEFAULT_LOOKBACK = 60
DEFAULT_HORIZON = 1
FEATURES_FILE = "features.parquet"
TARGETS_FILE = "targets.parquet"
META_FILE = "prepare.json"


def _check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


# ------------------------------------------------------------------ prepare
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"lstmfc": __version__}
    for dist in ("numpy", "pandas", "scikit-learn", "pyarrow", "TA-Lib"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover
            out[dist] = "unknown"
    return out


def _fsync_tree(folder: Path) -> None:
    for p in folder.iterdir():
        if p.is_file():
            with open(p, "rb+") as fh:
                os.fsync(fh.fileno())


def prepare(
    ws: Workspace,
    ticker: str,
    lookback: int = DEFAULT_LOOKBACK,
    horizon: int = DEFAULT_HORIZON,
    features: str | Sequence[str] = DEFAULT_FEATURES,
    split: str | Sequence[float] = DEFAULT_SPLIT,
    steps: int = 1,
) -> dict[str, Any]:
    """Build ``data/prepared/<TICKER>/`` from ``data/raw/<TICKER>.parquet``.

    Parameters
    ----------
    ws : Workspace
        The workspace (``--home``).
    ticker : str
        Ticker whose raw series was stored by ``lstmfc fetch``.
    lookback : int
        ``L``, rows per window (default 60, about a quarter of sessions).
    horizon : int
        ``h``, rows between a window's last row and its target (default 1).
    features : str or sequence of str
        Feature-set names (:data:`lstmfc.dataset.features.FEATURE_SETS`), default
        :data:`lstmfc.dataset.features.DEFAULT_FEATURES`.
    split : str or sequence of float
        Train/val/test fractions of the windows, default 0.70/0.15/0.15.
    steps : int
        ``K``, sessions in each window's target path (default 1; :mod:`lstmfc.dataset.targets`):
        step ``k`` is ``h + k - 1`` rows after the window's end, so every window needs
        ``h + K - 1`` rows after it and the split counts windows with a full path.

    Returns
    -------
    dict
        The ``prepare.json`` document (docs/preparing.md lists every key). Besides the
        split, scaler and provenance it records, per split, ``out_of_range_share``: the
        share of the split's scaled input values outside the training range [0, 1].

    Raises
    ------
    DataError
        Ticker never fetched; unknown feature; bad split fractions; history too short
        for one window in each split ("need at least N rows, got M"); a feature with
        zero range in the training rows. Nothing is written then.
    UsageError
        ``lookback``/``horizon`` below 1, a malformed ticker or ``--split``.

    Notes
    -----
    The folder is built in a temporary folder beside it and swapped in whole with
    :func:`lstmfc.core.atomic.replace_dir`: readers see the old or the new dataset, never
    a mix, and a failure leaves the old one in place.
    """
    t = normalize_ticker(ticker)
    lookback = _check_int("lookback", lookback)
    horizon = _check_int("horizon", horizon)
    steps = check_steps(steps)
    reach = horizon + steps - 1  # rows after a window's end that its path reads
    feats = parse_features(features)
    fractions = parse_split(split)
    names = feature_columns(feats)

    raw_path = ws.raw_path(t)
    if not raw_path.is_file():
        raise DataError(f"no data for {t}; run `lstmfc fetch {t}` first")
    raw_sha = sha256_file(raw_path)
    raw, _prov = read_raw(raw_path)

    warm = warmup_rows(feats)
    need = warm + lookback + reach + min_windows(fractions) - 1
    if len(raw) < need:
        raise DataError(_too_short(t, need, len(raw), lookback, reach, warm, fractions))
    garch = None
    if "garch" in feats:  # fit on raw rows up to the last training target only
        plan0 = plan_split(len(raw) - warm, lookback, reach, fractions)
        garch = fit_garch_feature(raw, warm + plan0.target_rows("train")[1])
    frame, warmup = build_features(raw, feats, garch=garch)
    plan = plan_split(len(frame), lookback, reach, fractions)
    if plan is None:  # only if the warm-up was longer than the static lookbacks say
        raise DataError(
            _too_short(t, need + warmup - warm, len(raw), lookback, horizon, warmup, fractions)
        )
    if garch is not None and warmup != warm:
        raise DataError(f"{t}: {warmup - warm} rows with undefined features after the warm-up")

    fit_first, fit_last = scaler_fit_rows(plan)
    x = frame.to_numpy(dtype="float64")
    scaler = fit_scaler(x, fit_first, fit_last, names, frame.index)
    scaled = pd.DataFrame(scale(x, scaler), index=frame.index, columns=names)
    scaled.index.name = "date"
    hl = [raw[c].iloc[warmup:] for c in ("high", "low") if c in raw.columns]
    targets = target_frame(raw["close"].iloc[warmup:], horizon, *(hl if len(hl) == 2 else ()))
    if steps > 1:
        add_path_targets(targets, horizon, steps)

    meta: dict[str, Any] = {
        "ticker": t,
        "lookback": lookback,
        "horizon": horizon,
        "steps": steps,
        "features": list(feats),
        "feature_names": names,
        "split_fractions": list(fractions),
        "n_windows": plan.n_windows,
        "split": _split_doc(plan, frame.index, scaled.to_numpy(), horizon),
        "scaler": {
            **scaler.to_json(),
            "fit_rows": [fit_first, fit_last],
            "fit_start_date": iso_date(frame.index[fit_first]),
            "fit_end_date": iso_date(frame.index[fit_last]),
        },
        **({"garch": garch} if garch is not None else {}),
        "warmup_rows_dropped": warmup,
        "n_rows": len(frame),
        "first_date": iso_date(frame.index[0]),
        "last_date": iso_date(frame.index[-1]),
        "raw": {
            "path": raw_path.relative_to(ws.home).as_posix(),
            "sha256": raw_sha,
            "rows": len(raw),
            "first_date": iso_date(raw.index[0]),
            "last_date": iso_date(raw.index[-1]),
        },
        "versions": _versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    _write_prepared(ws.prepared_path(t), scaled, targets, meta)
    return meta


def _split_doc(plan: SplitPlan, dates, scaled: np.ndarray, horizon: int) -> dict[str, Any]:
    """``prepare.json``'s ``split`` entry: counts, (step-1) target dates, end rows, and
    the share of each split's scaled input values (rows ``first - L + 1 .. last``)
    outside the training range (:func:`out_of_range_share`)."""
    out = {}
    h, lb = horizon, plan.lookback
    for name in SPLITS:
        first, last = plan.end_rows(name)
        out[name] = {
            "n": plan.counts[SPLITS.index(name)],
            "start": iso_date(dates[first + h]),
            "end": iso_date(dates[last + h]),
            "first_row": first,
            "last_row": last,
            "first_window_end": iso_date(dates[first]),
            "last_window_end": iso_date(dates[last]),
            "out_of_range_share": out_of_range_share(scaled[first - lb + 1 : last + 1]),
        }
    return out


def _write_prepared(target: Path, scaled, targets, meta: dict[str, Any]) -> None:
    """Write the three files into a temporary folder and swap it in at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    build = Path(
        tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent)
    )
    try:
        scaled.to_parquet(build / FEATURES_FILE, engine="pyarrow")
        targets.to_parquet(build / TARGETS_FILE, engine="pyarrow")
        meta["files"] = {
            FEATURES_FILE: sha256_file(build / FEATURES_FILE),
            TARGETS_FILE: sha256_file(build / TARGETS_FILE),
        }
        (build / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _fsync_tree(build)
        replace_dir(target, build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise


def _too_short(t, need, got, lookback, horizon, warm, fractions) -> str:
    n_min = min_windows(fractions)
    fr = "/".join(f"{f:.2f}" for f in fractions)
    return (
        f"{t}: need at least {need} rows, got {got} (lookback {lookback}, horizon {horizon}, "
        f"{warm} warm-up rows, {n_min} windows for a {fr} split)"
    )


# ------------------------------------------------------------- the dataset
class Prepared:
    """A prepared dataset: scaled features, targets and ``prepare.json``.

    Attributes
    ----------
    meta : dict
        The ``prepare.json`` document.
    features : pandas.DataFrame
        Scaled features, shape ``(n_rows, n_features)``, float32, index ``date``.
    targets : pandas.DataFrame
        Index ``date`` (= ``t``, same rows as ``features``); columns ``close`` (close
        at ``t``, currency), ``target_date``, ``target_price`` (currency),
        ``target_logret`` (log return), ``target_direction`` (0/1; ``<NA>`` in the
        last ``horizon`` rows, which end no window), and ``target_parkinson``
        (:func:`lstmfc.dataset.targets.target_frame`) when the raw series has high and low.
    """

    def __init__(self, meta: dict[str, Any], features: pd.DataFrame, targets: pd.DataFrame):
        self.meta = meta
        self.features = features
        self.targets = targets
        values = np.ascontiguousarray(features.to_numpy(dtype="float32"))
        values.flags.writeable = False
        self._values = values

    @property
    def ticker(self) -> str:
        return self.meta["ticker"]

    @property
    def lookback(self) -> int:
        return int(self.meta["lookback"])

    @property
    def horizon(self) -> int:
        return int(self.meta["horizon"])

    @property
    def steps(self) -> int:
        """Sessions in each window's target path (1 for datasets prepared before paths)."""
        return int(self.meta.get("steps", 1))

    @property
    def feature_names(self) -> list[str]:
        return list(self.meta["feature_names"])

    @property
    def n_features(self) -> int:
        return len(self.meta["feature_names"])

    @property
    def scaler(self) -> MinMaxParams:
        """The train-only scaler's parameters."""
        return MinMaxParams.from_json(self.meta["scaler"])

    @property
    def values(self) -> np.ndarray:
        """Scaled features as a read-only ``(n_rows, n_features)`` float32 array."""
        return self._values

    def split_rows(self, split: str) -> np.ndarray:
        """Window END row indices of ``split`` (into ``features``), shape ``(n,)`` int64."""
        s = self.meta["split"][SPLITS[split_index(split)]]
        return np.arange(s["first_row"], s["last_row"] + 1, dtype="int64")

    def fit_rows(self, split: str) -> np.ndarray:
        """End rows of the windows a fit may use from ``split``: all of them for a
        single forecast; for a path of ``K`` steps the last ``K - 1`` are left out, since
        their paths reach past the next split's first origins
        (:func:`lstmfc.dataset.targets.purged_rows`)."""

        return purged_rows(self.split_rows(split), self.steps)

    def fit_targets(self, split: str) -> pd.DataFrame:
        """:meth:`split_targets` of :meth:`fit_rows` (all rows for a single forecast)."""
        return self.split_targets(split).iloc[: len(self.fit_rows(split))]

    def fit_windows(self, split: str) -> np.ndarray:
        """:meth:`windows` of :meth:`fit_rows` (all windows for a single forecast)."""
        return self.windows(split)[: len(self.fit_rows(split))]

    def windows(self, split: str) -> np.ndarray:
        """Input windows of ``split``: shape ``(n, lookback, n_features)`` float32.

        A read-only view of :attr:`values` (``sliding_window_view``); window ``i``
        is ``values[r-L+1 : r+1]`` with ``r = split_rows(split)[i]``. Copy it
        (``np.array(w)``) only if you need a writeable array.
        """
        s = self.meta["split"][SPLITS[split_index(split)]]
        return cut_windows(self._values, self.lookback, s["first_row"], s["last_row"])

    def split_targets(self, split: str) -> pd.DataFrame:
        """Target rows aligned 1:1 with :meth:`windows` (index = window end date ``t``).

        ``target_direction`` is plain ``int8`` here (every window has a target).
        """
        rows = self.split_rows(split)
        out = self.targets.iloc[rows].copy()
        for k in range(1, self.steps + 1):
            col = "target_direction" if k == 1 else f"target_direction_{k}"
            out[col] = out[col].astype("int8")
        return out

    def is_stale(self, ws: Workspace) -> bool:
        """True if ``data/raw/<TICKER>.parquet`` changed since this dataset was made."""
        path = ws.home / self.meta["raw"]["path"]
        return not path.is_file() or sha256_file(path) != self.meta["raw"]["sha256"]


def load_prepared(ws: Workspace, ticker: str) -> Prepared:
    """Load ``data/prepared/<TICKER>/`` and check it against ``prepare.json``.

    Raises
    ------
    ArtifactError
        If the folder is missing ("run `lstmfc prepare TICKER`"), or a file is
        missing, unreadable, fails its sha256 or does not match ``prepare.json``.
    """
    t = normalize_ticker(ticker)
    folder = ws.prepared_path(t)
    if not (folder / META_FILE).is_file():
        raise ArtifactError(f"no prepared data for {t}; run `lstmfc prepare {t}`")

    def corrupt(reason: str) -> ArtifactError:
        return ArtifactError(
            f"prepared data for {t} is corrupt ({reason}); run `lstmfc prepare {t}` again"
        )

    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        lookback, horizon = int(meta["lookback"]), int(meta["horizon"])
        names = list(meta["feature_names"])
        n_rows = int(meta["n_rows"])
        for s in SPLITS:
            meta["split"][s]["first_row"], meta["split"][s]["last_row"]  # noqa: B018
        MinMaxParams.from_json(meta["scaler"])
        checksums = dict(meta.get("files", {}))
    except (OSError, ValueError, KeyError, TypeError, DataError) as exc:
        raise corrupt(f"{META_FILE}: {type(exc).__name__}: {exc}") from None

    frames = {}
    for name in (FEATURES_FILE, TARGETS_FILE):
        path = folder / name
        if not path.is_file():
            raise corrupt(f"{name} missing")
        if name in checksums and sha256_file(path) != checksums[name]:
            raise corrupt(f"{name} checksum mismatch")
        try:
            frames[name] = pd.read_parquet(path, engine="pyarrow")
        except Exception as exc:  # pyarrow raises several types
            raise corrupt(f"{name}: {exc}") from None
    features, targets = frames[FEATURES_FILE], frames[TARGETS_FILE]
    if list(features.columns) != names or len(features) != n_rows:
        raise corrupt(f"{FEATURES_FILE} does not match {META_FILE}")
    if not all(str(d) == "float32" for d in features.dtypes):
        raise corrupt(f"{FEATURES_FILE} is not float32")

    steps = int(meta.get("steps", 1))
    path = [c for k in range(2, steps + 1) for c in path_columns(k)]
    cols = [c for c in targets.columns if c not in path]
    if (
        cols not in (list(TARGET_COLUMNS), [*TARGET_COLUMNS, *OPTIONAL_TARGET_COLUMNS])
        or not set(path) <= set(targets.columns)
        or not targets.index.equals(features.index)
    ):
        raise corrupt(f"{TARGETS_FILE} does not match {FEATURES_FILE}")
    last = meta["split"]["test"]["last_row"]
    reach = horizon + steps - 1
    if meta["split"]["train"]["first_row"] != lookback - 1 or last + reach > n_rows - 1:
        raise corrupt(f"{META_FILE}: split rows out of range")
    return Prepared(meta, features, targets)


__all__ = [
    "DEFAULT_HORIZON",
    "DEFAULT_LOOKBACK",
    "Prepared",
    "cut_windows",
    "load_prepared",
    "prepare",
]
