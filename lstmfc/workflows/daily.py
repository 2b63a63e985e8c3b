"""``predict`` (the cron job) and ``score``: next-session forecasts into the forecast log.

predict, per ticker
-------------------
1. update the stored series (incremental fetch, exactly as ``lstmfc fetch``), unless
   ``update=False``;
2. load the model bundle (``latest`` or a run id) with all its checks, running its
   networks with ONNX Runtime from the bundle's ``.onnx`` twins: ``predict`` never
   imports Keras, TensorFlow or torch (a bundle without ONNX files falls back to Keras
   with one note on stderr; ``lstmfc export`` adds them);
3. rebuild the features of the stored series and scale them with the **bundle's**
   train-only scaler (never refit), take the last window ``(1, lookback, n_features)``;
4. forecast the close ``horizon`` sessions after the last stored date (``as_of``); the
   target date comes from the exchange calendar (``exchange_calendars``, XNYS by
   default: weekends and exchange holidays are skipped);
5. append one row to the forecast log (:mod:`lstmfc.data.forecastlog`) — idempotent per
   (ticker, as_of, target_date, run_id).

score
-----
Fills in the realised close for every logged forecast whose target session is in the
stored data: the close ``horizon`` stored sessions after ``as_of`` (its date is kept as
``realised_date``), the error (realised - forecast, currency), the random-walk error
(realised - close at as_of) and whether the direction call was right; then summarises
the live track record per ticker and run against the naive baseline.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from lstmfc.bundles import bundle as artifacts
from lstmfc.bundles.engines import ENGINES
from lstmfc.core.clock import utc_now_iso
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import DataError, LstmfcError, UsageError
from lstmfc.data.fetch import fetch_ticker
from lstmfc.data.forecastlog import ForecastLog
from lstmfc.data.sources import FetchRequest
from lstmfc.data.store import read_raw
from lstmfc.dataset.live import window_from_raw
from lstmfc.dataset.scaling import out_of_range_share, out_of_range_warnings
from lstmfc.heads.registry import make_head

DEFAULT_CALENDAR = "XNYS"


def next_sessions(as_of, horizon: int, calendar: str = DEFAULT_CALENDAR):
    """Date of the session ``horizon`` sessions after ``as_of``.

    Parameters
    ----------
    as_of : date-like
        Last session with a known close.
    horizon : int
        Number of sessions ahead (>= 1).
    calendar : str
        ``exchange_calendars`` code (``XNYS`` New York, ``XLON`` London, ``XTKS``
        Tokyo ...), or ``weekdays`` for Monday-Friday without holidays.

    Returns
    -------
    pandas.Timestamp
        Midnight of the target session date.

    Raises
    ------
    DataError
        Unknown calendar code.
    """
    import pandas as pd

    as_of = pd.Timestamp(as_of).normalize()
    if calendar.lower() == "weekdays":
        return as_of + pd.offsets.BDay(horizon)
    import exchange_calendars as xc

    try:
        cal = xc.get_calendar(
            calendar,
            start=(as_of - pd.Timedelta(days=14)).strftime("%Y-%m-%d"),
            end=(as_of + pd.Timedelta(days=30 + 2 * horizon)).strftime("%Y-%m-%d"),
        )
    except xc.errors.InvalidCalendarName:
        raise DataError(
            f"unknown exchange calendar {calendar!r}; use a code such as XNYS, XLON, XTKS "
            "or 'weekdays'"
        ) from None
    sessions = cal.sessions
    later = sessions[sessions > as_of]
    return pd.Timestamp(later[horizon - 1]).normalize()


def _forecast_one(
    ws: Workspace, ticker: str, run_id: str | None, calendar: str, engine: str = "auto"
) -> dict:

    raw, _ = read_raw_or_hint(ws, ticker, read_raw)
    bundle = artifacts.load_bundle(ws, ticker, run_id, engine=engine)
    head = bundle.head
    meta = bundle.manifest["prepare"]
    window, as_of = window_from_raw(raw, meta)
    close_as_of = float(raw["close"].loc[as_of])
    h = bundle.horizon
    forecast = bundle.forecast(window, np.array([close_as_of]))
    live = head.live_inputs(bundle, raw, as_of, ForecastLog(ws.forecast_db))
    out = np.asarray(forecast)[0]  # a number, a row of k quantiles, or a K-step path
    steps = head.steps
    # a path logs one row per step (step k at horizon h + k - 1); one-step heads one row
    per_step = [out[k] for k in range(steps)] if steps > 1 else [out]
    one = head.step_head() if steps > 1 else head
    rows = []
    for k, value in enumerate(per_step, start=1):
        hk = h + k - 1
        values = one.log_values(
            float(value) if np.ndim(value) == 0 else value,
            close_as_of,
            live=live,
            horizon=hk,
        )
        values["details"] = json.dumps(values.get("details") or {}, sort_keys=True)
        rows.append(
            {
                "ticker": ticker,
                "as_of": as_of.strftime("%Y-%m-%d"),
                "target_date": next_sessions(as_of, hk, calendar).strftime("%Y-%m-%d"),
                "horizon": hk,
                "step": k,
                "run_id": bundle.run_id,
                "head": head.name,
                "close_as_of": close_as_of,
                **values,
                "made_at": utc_now_iso(),
            }
        )
    share = out_of_range_share(window)
    notes = out_of_range_warnings(ticker, "forecast window's", share)
    if bundle.engine != "onnx" and engine == "auto":
        notes.append(
            f"{ticker}: model {bundle.run_id} has no ONNX file, so predict loaded Keras "
            f"(seconds of start-up); `lstmfc export {ticker} --model {bundle.run_id}` adds it"
        )
    extra = {"out_of_range_share": share, "engine": bundle.engine, "warnings": notes}
    return rows, extra


def read_raw_or_hint(ws: Workspace, ticker: str, read_raw):
    """``read_raw`` of the ticker's stored series with a hint on how to get it."""
    path = ws.raw_path(ticker)
    if not path.exists():
        raise DataError(f"no data for {ticker}; run `lstmfc fetch {ticker}` first")
    return read_raw(path)


def predict(
    ws: Workspace,
    tickers: list[str],
    *,
    run_id: str | None = None,
    update: FetchRequest | None = FetchRequest(),
    calendar: str = DEFAULT_CALENDAR,
    on_result=None,
    engine: str = "auto",
) -> list[dict[str, Any]]:
    """Forecast the next session for each ticker and log it.

    Parameters
    ----------
    ws : Workspace
    tickers : list of str
    run_id : str, optional
        Model run id (same for every ticker); default each ticker's ``latest``.
    update : FetchRequest or None
        Fetch new bars first with this request (as ``lstmfc fetch``: Yahoo by default);
        None skips it (``--no-update``).
    calendar : str
        Exchange calendar for the target date (see :func:`next_sessions`).
    on_result : callable, optional
        Called with each ticker's result dict as soon as it is known.
    engine : {"auto", "onnx", "keras"}
        What runs the networks (:data:`lstmfc.bundles.engines.ENGINES`; ``auto``: ONNX
        Runtime when the bundle has its ONNX twins).

    Returns
    -------
    list of dict
        Per ticker: ``ticker``, ``ok`` and either the logged row plus ``logged`` (False
        if that forecast was already in the log), ``out_of_range_share`` (of the
        forecast window's scaled inputs) and ``warnings``, or ``error`` and
        ``exit_code``. One failing ticker does not stop the others; nothing is logged
        for it.

    Raises
    ------
    ArtifactError
        The forecast log exists but is not a usable SQLite file: checked before any
        ticker is fetched or forecast, so nothing happens.
    """

    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    log = ForecastLog(ws.forecast_db)
    log.check()
    results: list[dict[str, Any]] = []
    for raw_ticker in tickers:
        try:
            t = normalize_ticker(raw_ticker)
            if update is not None:
                fetch_ticker(ws, t, update)
            rows, extra = _forecast_one(ws, t, run_id, calendar, engine)
            with log.writer() as con:  # the whole path in one transaction
                logged = [log.add(con, row) for row in rows]
            res = {"ok": True, **rows[0], **extra, "logged": any(logged)}
            if len(rows) > 1:
                res["path"] = rows
        except LstmfcError as exc:
            res = {"ticker": raw_ticker, "ok": False, "error": str(exc), "exit_code": exc.exit_code}
        results.append(res)
        if on_result is not None:
            on_result(res)
    return results


def score(ws: Workspace, ticker: str | None = None) -> dict[str, Any]:
    """Fill in realised closes for due forecasts and summarise the live track record.

    Parameters
    ----------
    ws : Workspace
    ticker : str, optional
        Only this ticker.

    Returns
    -------
    dict
        ``newly_scored`` (count), ``pending`` (forecasts whose target session is not in
        the stored data yet) and ``summary``: per ``TICKER/run_id`` the ``head`` and
        its live track record (:meth:`lstmfc.heads.Head.live_summary`: for the price
        head the number scored, MAE and RMSE (currency) of the model and of the random
        walk, Theil's U and the directional accuracy).

    Raises
    ------
    TemporaryFailure
        The log is locked by another run.
    ArtifactError
        The log is not a usable SQLite file.
    """

    log = ForecastLog(ws.forecast_db)
    t = normalize_ticker(ticker) if ticker else None
    pending = 0
    newly = 0
    closes_cache: dict[str, Any] = {}
    updates: list[tuple] = []
    for r in log.rows(t, unscored_only=True):
        tk = r["ticker"]
        if tk not in closes_cache:
            try:
                closes_cache[tk] = read_raw_or_hint(ws, tk, read_raw)[0]["close"]
            except LstmfcError:
                closes_cache[tk] = None
        closes = closes_cache[tk]
        if closes is None:
            pending += 1
            continue
        import pandas as pd

        after = closes.loc[closes.index > pd.Timestamp(r["as_of"])]
        if len(after) < r["horizon"]:
            pending += 1
            continue
        realised_date = after.index[r["horizon"] - 1]
        realised = float(after.iloc[r["horizon"] - 1])
        judged = _head_of(r).score_logged(r, realised)
        updates.append(
            (
                realised_date.strftime("%Y-%m-%d"),
                realised,
                judged["error"],
                judged["naive_error"],
                judged["direction_correct"],
                utc_now_iso(),
                r["id"],
            )
        )
    if updates:
        with log.writer() as con:
            for u in updates:
                cur = con.execute(
                    "UPDATE forecasts SET realised_date=?, realised_close=?, error=?, "
                    "naive_error=?, direction_correct=?, scored_at=? "
                    "WHERE id=? AND realised_close IS NULL",
                    u,
                )
                newly += cur.rowcount
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in log.rows(t):
        if r["realised_close"] is not None:
            groups.setdefault(f"{r['ticker']}/{r['run_id']}", []).append(r)
    summary = {k: _live_summary(v) for k, v in sorted(groups.items())}
    return {"newly_scored": newly, "pending": pending, "summary": summary}


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}


def _live_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The live track record of one ticker's run (:meth:`lstmfc.heads.Head.live_summary`).

    For a path model (rows of several steps) the top-level figures are step 1's and
    ``by_step`` holds each step's, scored at its own horizon: mixing horizons would
    average errors of different sizes."""
    head = _head_of(rows[0])
    by: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(int(r.get("step") or 1), []).append(r)
    out = {"head": rows[0]["head"], **_finite(head.live_summary(by[min(by)]))}
    if max(by) > 1:
        out["by_step"] = [
            {"step": k, "horizon": int(v[0]["horizon"]), **_finite(head.live_summary(v))}
            for k, v in sorted(by.items())
        ]
    return out


def _head_of(row: dict[str, Any]):
    """The head that scores a logged row (its options do not change scoring)."""

    return make_head(row["head"])
