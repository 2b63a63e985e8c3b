"""Conformal calibration of quantile forecasts: split-conformal CQR and adaptive ACI.

* **CQR** (conformalized quantile regression, Romano, Patterson & Candes 2019, NeurIPS
  32), one-sided per level: :func:`cqr_fit` on calibration (validation) rows gives a
  :class:`CQRCalibration` of per-level shifts, applied to later forecasts.
* **ACI** (adaptive conformal inference, Gibbs & Candes 2021, NeurIPS 34): each level's
  working level moves after every realised outcome,
  ``tau_{t+1} = tau_t + gamma (tau - 1[y_t <= q_t])``. One day at a time
  (:func:`aci_init`, :func:`aci_forecast`, :func:`aci_update`, state :class:`ACIState`,
  what ``predict`` carries in the forecast log), a whole split
  (:func:`adaptive_conformal` -> :class:`ACIResult`), or a series whose outcomes arrive
  ``h`` sessions after each forecast (:func:`aci_walk`, for evaluate and backtest).

Quantile sets are log returns ``(n, k)`` at increasing levels; working levels are read
off with the z-space interpolant of :mod:`lstmfc.quantiles.quantile_function`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmfc.quantiles.levels import (
    _LEVEL_TOL,
    DEFAULT_LEVELS,
    _fmt,
    _outward,
    _y_and_q,
    check_levels,
    check_quantiles,
    monotone_quantiles,
    vector,
)
from lstmfc.quantiles.quantile_function import _quantile_at

#: Default ACI step size gamma (Gibbs & Candes 2021 use 0.005 in their experiments).
ACI_GAMMA = 0.005
#: Default ACI read-off bound: working levels are read off within [0.001, 0.999] (see
#: :func:`aci_forecast`); ``None`` reads off the exact +-inf of Gibbs & Candes.
ACI_CLIP = 0.001


@dataclass(frozen=True)
class CQRCalibration:
    """Per-level conformal shifts fitted on the validation rows (see :func:`cqr_fit`).

    Attributes
    ----------
    levels : tuple of float
        Quantile levels, increasing.
    shifts : tuple of float
        Additive shift per level, log-return units.
    ranks : tuple of int
        Order statistic used per level (1 = smallest residual).
    n_cal : int
        Calibration rows.
    rule : str
        ``"tail"`` or ``"ceil"``.
    notes : tuple of str
        Levels where the finite-sample guarantee was unavailable.
    """

    levels: tuple[float, ...]
    shifts: tuple[float, ...]
    ranks: tuple[int, ...]
    n_cal: int
    rule: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def apply(self, Q: Any) -> np.ndarray:
        """Shift each column and make the rows monotone (outward, :func:`monotone_quantiles`).

        Parameters
        ----------
        Q : array_like, shape (n, k)
            Raw quantile forecasts at :attr:`levels` (rows may cross).

        Returns
        -------
        numpy.ndarray, shape (n, k)
            Calibrated, non-decreasing quantile forecasts.

        Raises
        ------
        ValueError
            Wrong number of columns or non-finite values.
        """
        q = np.asarray(Q, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != len(self.levels):
            raise ValueError(f"Q must have shape (n, {len(self.levels)}), got {q.shape}")
        return monotone_quantiles(q + np.asarray(self.shifts), self.levels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (round-trips through :meth:`from_dict`)."""
        return {
            "method": "cqr-one-sided",
            "levels": list(self.levels),
            "shifts": list(self.shifts),
            "ranks": list(self.ranks),
            "n_cal": self.n_cal,
            "rule": self.rule,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CQRCalibration:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            levels=tuple(float(v) for v in data["levels"]),
            shifts=tuple(float(v) for v in data["shifts"]),
            ranks=tuple(int(v) for v in data["ranks"]),
            n_cal=int(data["n_cal"]),
            rule=str(data["rule"]),
            notes=tuple(str(v) for v in data.get("notes", ())),
        )


def cqr_fit(y_cal: Any, Q_cal: Any, levels: Any, *, rule: str = "tail") -> CQRCalibration:
    """Conformalized quantile regression, one-sided per level, on calibration rows.

    For each level ``tau`` the conformity scores are ``e_i = y_i - q_tau(x_i)`` on the ``n``
    calibration (validation) rows, and the calibrated forecast is ``q_tau + e_(r)``, the
    ``r``-th smallest score (Romano, Patterson & Candes 2019, "Conformalized quantile
    regression", NeurIPS 32, sec. 4, applied to one one-sided bound per level). If the test
    score is exchangeable with the calibration scores (and untied), ``P(y <= q + e_(r)) =
    r / (n + 1)`` exactly, marginally over calibration and test. Rank rule:

    * ``"tail"`` (default): ``r = floor((n+1) tau)`` for ``tau < 0.5``, so the hit rate
      ``P(y < q)`` is at most ``tau`` (a conservative VaR), and ``r = ceil((n+1) tau)`` for
      ``tau >= 0.5``, so ``P(y > q)`` is at most ``1 - tau``: both tails are conservative
      by less than ``1/(n+1)``.
    * ``"ceil"``: ``r = ceil((n+1) tau)`` for every level, the usual finite-sample-corrected
      empirical ``tau``-quantile (``P(y <= q) >= tau``).

    When ``r`` falls outside ``1..n`` (fewer than about ``1/tau`` calibration rows) the
    nearest extreme score is used and ``notes`` says the guarantee is lost at that level.
    Only validation rows may be passed here: the test split must stay unseen.

    Parameters
    ----------
    y_cal : array_like, shape (n,)
        Realised log returns of the calibration (validation) rows.
    Q_cal : array_like, shape (n, k)
        Raw quantile forecasts for those rows (rows may cross; only columns are used).
    levels : array_like, shape (k,)
    rule : {"tail", "ceil"}

    Returns
    -------
    CQRCalibration
        Apply it to test forecasts with :meth:`CQRCalibration.apply`, which also makes the
        rows monotone with the outward rule of :func:`monotone_quantiles` (lower columns can
        only go down, upper only up, so each one-sided guarantee is kept).

    Raises
    ------
    ValueError
        Empty or non-finite inputs, length mismatch, bad levels, unknown ``rule``.
    """
    if rule not in ("tail", "ceil"):
        raise ValueError(f"unknown rule {rule!r}: use 'tail' or 'ceil'")
    yv = vector("y_cal", y_cal)
    q = np.asarray(Q_cal, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != yv.size:
        raise ValueError(f"Q_cal must have shape ({yv.size}, k), got {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("Q_cal has a non-finite value")
    lv = check_levels(levels, q.shape[1])
    n = yv.size
    scores = np.sort(yv[:, None] - q, axis=0)
    shifts, ranks, notes = [], [], []
    for j, tau in enumerate(lv):
        x = (n + 1) * tau
        r = math.floor(x + 1e-9) if (rule == "tail" and tau < 0.5) else math.ceil(x - 1e-9)
        if r < 1 or r > n:
            notes.append(
                f"level {_fmt(tau)}: {n} calibration rows are too few for the finite-sample "
                f"guarantee (rank {r}); used the {'smallest' if r < 1 else 'largest'} score"
            )
            r = min(max(r, 1), n)
        ranks.append(int(r))
        shifts.append(float(scores[r - 1, j]))
    return CQRCalibration(
        levels=tuple(float(t) for t in lv),
        shifts=tuple(shifts),
        ranks=tuple(ranks),
        n_cal=int(n),
        rule=rule,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class ACIState:
    """State of adaptive conformal inference, one working level per target level.

    Attributes
    ----------
    levels : tuple of float
        Target levels ``tau`` (the columns of the quantile set), increasing.
    tau_t : tuple of float
        Working levels for the next forecast (may leave (0, 1); see :func:`aci_forecast`).
    gamma : float
        Step size.
    n_updates : int
        Outcomes absorbed so far.
    n_hits : tuple of int
        Per level, how many outcomes fell at or below the issued forecast.
    clip : float or None
        Read-off bound: forecasts use ``min(max(tau_t, clip), 1 - clip)``; ``None`` reads
        ``tau_t <= 0`` as ``-inf`` and ``tau_t >= 1`` as ``+inf``.
    """

    levels: tuple[float, ...]
    tau_t: tuple[float, ...]
    gamma: float = ACI_GAMMA
    n_updates: int = 0
    n_hits: tuple[int, ...] = ()
    clip: float | None = ACI_CLIP

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (round-trips through :meth:`from_dict`)."""
        return {
            "method": "aci",
            "levels": list(self.levels),
            "tau_t": list(self.tau_t),
            "gamma": self.gamma,
            "n_updates": self.n_updates,
            "n_hits": list(self.n_hits),
            "clip": self.clip,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ACIState:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            levels=tuple(float(v) for v in data["levels"]),
            tau_t=tuple(float(v) for v in data["tau_t"]),
            gamma=float(data["gamma"]),
            n_updates=int(data["n_updates"]),
            n_hits=tuple(int(v) for v in data["n_hits"]),
            clip=None if data.get("clip") is None else float(data["clip"]),
        )


def aci_init(
    levels: Any = DEFAULT_LEVELS, gamma: float = ACI_GAMMA, clip: float | None = ACI_CLIP
) -> ACIState:
    """Initial ACI state: every working level equals its target, ``tau_1 = tau``.

    Parameters
    ----------
    levels : array_like, shape (k,)
        Target levels (the columns of the quantile set), increasing.
    gamma : float, default 0.005
        Step size > 0 (Gibbs & Candes 2021, NeurIPS 34, sec. 2; 0.005 is their default).
    clip : float or None, default 0.001
        Read-off bound in (0, 0.5) (see :func:`aci_forecast`), or ``None`` for the exact
        +-inf of Gibbs & Candes.

    Returns
    -------
    ACIState

    Raises
    ------
    ValueError
        Bad levels, ``gamma <= 0``, or ``clip`` outside (0, 0.5).
    """
    lv = check_levels(levels)
    if not (math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if clip is not None and not 0.0 < float(clip) < 0.5:
        raise ValueError(f"clip must lie in (0, 0.5) or be None, got {clip}")
    k = lv.size
    return ACIState(
        levels=tuple(map(float, lv)),
        tau_t=tuple(map(float, lv)),
        gamma=float(gamma),
        n_updates=0,
        n_hits=(0,) * k,
        clip=None if clip is None else float(clip),
    )


def aci_forecast(state: ACIState, q_row: Any) -> np.ndarray:
    """The ACI forecast for the next date: the quantile set read off at the working levels.

    Each level's forecast is the (calibrated) quantile set at ``tau_t`` by the z-space
    interpolation of :func:`quantile_at`. With ``state.clip = None``, ``tau_t <= 0`` gives
    ``-inf`` and ``tau_t >= 1`` gives ``+inf`` (Gibbs & Candes 2021: the trivial set). At
    ``tau = 0.01`` and ``gamma = 0.005`` three hits in a row take ``tau_t`` below 0, and it
    then needs about 100 misses to come back: weeks of ``-inf`` VaR, which no report or
    pinball loss can use. So by default (``clip = 0.001``) the level read off is
    ``min(max(tau_t, clip), 1 - clip)``; the state itself is never clipped, and the
    identity ``mean(err) - tau = (tau_1 - tau_{T+1}) / (gamma T)`` behind their long-run
    coverage bound still holds exactly (``ACIResult.summary`` reports the final
    ``tau_t``). The row is then made monotone with the outward rule of
    :func:`monotone_quantiles`, since working levels of different targets can cross.

    Parameters
    ----------
    state : ACIState
    q_row : array_like, shape (k,)
        One date's quantile set at ``state.levels`` (non-decreasing, log return).

    Returns
    -------
    numpy.ndarray, shape (k,)
        The forecasts to issue (and log: :func:`aci_update` needs them).

    Raises
    ------
    ValueError
        ``q_row`` of the wrong length, crossing or non-finite; fewer than 2 levels.
    """
    q, lv = check_quantiles(np.asarray(q_row, dtype=np.float64)[None, :], state.levels)
    if lv.size < 2:
        raise ValueError("ACI read-off needs at least 2 levels")
    tau = np.asarray(state.tau_t, dtype=np.float64)
    if state.clip is not None:
        tau = np.clip(tau, state.clip, 1.0 - state.clip)
    raw = _quantile_at(q, lv, tau[None, :])
    return _outward(raw, lv)[0]


def aci_update(state: ACIState, y: float, q_issued: Any) -> ACIState:
    """Absorb one realised outcome: ``tau_{t+1} = tau_t + gamma (tau - 1[y_t <= q_t])``.

    Gibbs & Candes (2021, "Adaptive conformal inference under distribution shift", NeurIPS
    34, eq. (2)) written for a one-sided quantile: ``err_t = 1[y_t <= q_t]``, target
    frequency ``tau``. A hit lowers the working level, a miss raises it. Uses only the
    outcome ``y_t`` and the forecast ``q_t`` issued for it (from :func:`aci_forecast`), so
    predict can call it once per day from its forecast log.

    Parameters
    ----------
    state : ACIState
        State the forecast ``q_issued`` was made with.
    y : float
        Realised log return of that date.
    q_issued : array_like, shape (k,)
        The forecasts issued for that date (may hold +-inf).

    Returns
    -------
    ACIState
        The next state (a new object; ``state`` is unchanged).

    Raises
    ------
    ValueError
        Non-finite ``y``, ``q_issued`` of the wrong length or holding nan.
    """
    yv = float(y)
    if not math.isfinite(yv):
        raise ValueError(f"y must be finite, got {y}")
    q = np.asarray(q_issued, dtype=np.float64).ravel()
    if q.size != len(state.levels) or np.isnan(q).any():
        raise ValueError(f"q_issued must hold {len(state.levels)} numbers, got {q.size}")
    err = (yv <= q).astype(np.int64)
    lv, tau_t = np.asarray(state.levels), np.asarray(state.tau_t)
    new_tau = tau_t + state.gamma * (lv - err)
    hits = np.asarray(state.n_hits if state.n_hits else (0,) * lv.size) + err
    return ACIState(
        levels=state.levels,
        tau_t=tuple(map(float, new_tau)),
        gamma=state.gamma,
        n_updates=state.n_updates + 1,
        n_hits=tuple(map(int, hits)),
        clip=state.clip,
    )


@dataclass(frozen=True)
class ACIResult:
    """Output of :func:`adaptive_conformal` on a whole split.

    Attributes
    ----------
    forecasts : numpy.ndarray, shape (n, k)
        Issued forecasts (log return; +-inf only with ``clip=None`` where a working level
        left (0, 1)).
    tau_path : numpy.ndarray, shape (n, k)
        Working level used for each date's forecast.
    hits : numpy.ndarray, shape (n, k), int
        ``1[y_t <= forecast]``.
    state : ACIState
        State after the last outcome: store it for predict.
    """

    forecasts: np.ndarray
    tau_path: np.ndarray
    hits: np.ndarray
    state: ACIState

    def summary(self) -> dict[str, Any]:
        """JSON-ready: per level, realised frequency of ``y <= forecast``, last working
        level, how many dates had a working level outside (0, 1), and how many an
        infinite forecast (only with ``clip=None``)."""
        lv = self.state.levels
        return {
            "gamma": self.state.gamma,
            "clip": self.state.clip,
            "n": int(self.hits.shape[0]),
            "per_level": {
                _fmt(t): {
                    "frequency_at_or_below": float(self.hits[:, j].mean()),
                    "final_tau_t": float(self.state.tau_t[j]),
                    "outside_unit_interval": int(
                        np.sum((self.tau_path[:, j] <= 0) | (self.tau_path[:, j] >= 1))
                    ),
                    "infinite_forecasts": int(np.sum(~np.isfinite(self.forecasts[:, j]))),
                }
                for j, t in enumerate(lv)
            },
            "state": self.state.to_dict(),
        }


def adaptive_conformal(
    y: Any,
    Q: Any,
    levels: Any,
    *,
    gamma: float = ACI_GAMMA,
    clip: float | None = ACI_CLIP,
    state: ACIState | None = None,
) -> ACIResult:
    """Adaptive conformal inference over a split, one date at a time, in date order.

    For ``t = 1..n``: issue :func:`aci_forecast` from the current state and row ``Q[t]``,
    then absorb ``y[t]`` with :func:`aci_update`. The forecast for date ``t`` depends on
    ``y[:t]`` only (outcomes already realised), never on ``y[t:]``.

    Parameters
    ----------
    y : array_like, shape (n,)
        Realised log returns (test rows, in date order).
    Q : array_like, shape (n, k)
        (Calibrated) quantile sets, non-decreasing rows, ``k >= 2``.
    levels : array_like, shape (k,)
    gamma : float, default 0.005
        Step size, used when ``state`` is None.
    clip : float or None, default 0.001
        Read-off bound (see :func:`aci_forecast`), used when ``state`` is None.
    state : ACIState, optional
        Continue from a stored state (its levels must equal ``levels``; its ``gamma`` and
        ``clip`` are used).

    Returns
    -------
    ACIResult

    Raises
    ------
    ValueError
        As :func:`pinball_loss`; a ``state`` with other levels.
    """
    yv, q, lv = _y_and_q(y, Q, levels)
    st = aci_init(lv, gamma, clip) if state is None else state
    if len(st.levels) != lv.size or np.any(np.abs(np.asarray(st.levels) - lv) > _LEVEL_TOL):
        raise ValueError("the ACI state's levels differ from the quantile set's levels")
    n, k = q.shape
    forecasts = np.empty((n, k))
    taus = np.empty((n, k))
    hits = np.empty((n, k), dtype=np.int64)
    for t in range(n):
        taus[t] = st.tau_t
        forecasts[t] = aci_forecast(st, q[t])
        hits[t] = yv[t] <= forecasts[t]
        st = aci_update(st, yv[t], forecasts[t])
    return ACIResult(forecasts=forecasts, tau_path=taus, hits=hits, state=st)


def aci_walk(
    y,
    Q,
    levels,
    rows,
    horizon: int,
    state: ACIState | None = None,
    pending: list | None = None,
) -> tuple[np.ndarray, ACIState, list]:
    """Adaptive conformal inference through a series, using realised outcomes only.

    Before the forecast at origin row ``rows[i]``, every earlier forecast whose target is
    realised by then (origin ``p`` with ``p + h <= rows[i]``) is absorbed in origin order
    with :func:`aci_update`; the forecast is :func:`aci_forecast` of ``Q[i]``. For
    ``h = 1`` and consecutive rows this is :func:`adaptive_conformal` exactly; for
    ``h > 1`` the update waits ``h`` sessions, as the daily job has to. ``y[i]`` is read
    only when absorbed.

    Parameters
    ----------
    y : array_like, shape (n,)
        Realised log returns of the forecasts.
    Q : array_like, shape (n, k)
        Quantile sets (log return), non-decreasing rows.
    levels : sequence of float
    rows : array_like, shape (n,), int, increasing
        Origin rows (session numbers) of the forecasts.
    horizon : int
    state : ACIState, optional
        Start state (default :func:`aci_init` of ``levels``).
    pending : list, optional
        ``(row, y, issued)`` of earlier forecasts not absorbed yet (carried across
        segments, e.g. backtest fits).

    Returns
    -------
    (numpy.ndarray (n, k), ACIState, list)
        Issued forecasts, the state after the last absorbed outcome, and the forecasts
        still pending.
    """
    yv = np.asarray(y, dtype=np.float64)
    q = np.asarray(Q, dtype=np.float64)
    r = np.asarray(rows, dtype=np.int64)
    st = aci_init(levels) if state is None else state
    queue = list(pending or [])
    out = np.empty_like(q)
    for i in range(q.shape[0]):
        while queue and queue[0][0] + horizon <= r[i]:
            _, yy, issued = queue.pop(0)
            st = aci_update(st, yy, issued)
        out[i] = aci_forecast(st, q[i])
        queue.append((int(r[i]), float(yv[i]), out[i].copy()))
    return out, st, queue
