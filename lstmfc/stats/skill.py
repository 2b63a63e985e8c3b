"""Skill tests of forecasts against a benchmark, each returning a typed :class:`SkillTest`.

Diebold-Mariano with the Harvey-Leybourne-Newbold correction on any loss differential
(:func:`diebold_mariano`, :func:`diebold_mariano_differential`), Pesaran-Timmermann for
directional accuracy (:func:`pesaran_timmermann`) and the exact binomial test of a hit
rate (:func:`binomial_test`). Every test is one-sided ("the model is better"), records
the opposite one-sided p-value too, and decides an
:class:`~lstmfc.stats.outcome.Outcome` at ``alpha``; the words come from
:mod:`lstmfc.stats.wording`. scipy and statsmodels are imported inside the functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmfc.stats.checks import binary, vector, vectors
from lstmfc.stats.outcome import Outcome, decide
from lstmfc.stats.wording import verdict_text


@dataclass(frozen=True)
class SkillTest:
    """Result of a forecast skill test: a typed verdict, ready for JSON via :meth:`to_dict`.

    Attributes
    ----------
    test : str
        Test name, e.g. ``"diebold-mariano"``.
    statistic : float or None
        Test statistic; ``None`` when undefined (see ``note``).
    p_value : float or None
        One-sided p-value for "the model is better than the benchmark".
    p_value_two_sided : float or None
        Two-sided p-value for "the model differs from the benchmark".
    n : int
        Number of forecasts tested.
    outcome : Outcome
        What the test concluded at ``alpha`` (:func:`lstmfc.stats.outcome.decide`).
    benchmark : str
        What the model was tested against (``"naive"``, ``"garch"``, ``"chance"`` ...).
    note : str or None
        Why a value is missing, or which fallback was used.
    details : dict
        Test-specific numbers (loss, horizon, degrees of freedom, ``alpha``,
        ``p_value_worse``: the one-sided p-value of "the model is worse" ...).
    """

    test: str
    statistic: float | None
    p_value: float | None
    p_value_two_sided: float | None
    n: int
    outcome: Outcome
    benchmark: str
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def p_value_worse(self) -> float | None:
        """One-sided p-value of "the model's loss is higher than the benchmark's"."""
        return self.details.get("p_value_worse")

    @property
    def verdict(self) -> str:
        """The outcome in words (:func:`lstmfc.stats.wording.verdict_text`)."""
        return verdict_text(self.outcome, self.benchmark, self.p_value, self.p_value_worse)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: every field, ``outcome`` as its value, and ``verdict``."""
        return {
            "test": self.test,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "p_value_two_sided": self.p_value_two_sided,
            "n": self.n,
            "verdict": self.verdict,
            "outcome": self.outcome.value,
            "note": self.note,
            "details": dict(self.details),
        }


def undefined_test(test: str, model: str, benchmark: str, n: int, exc: Exception) -> dict:
    """The JSON document of a test that cannot be computed on this data (e.g. n = 1):
    no statistic or p-value, outcome ``undefined``, the reason in ``note``."""
    doc = SkillTest(
        test, None, None, None, n, Outcome.UNDEFINED, benchmark, note=str(exc)
    ).to_dict()
    return {**doc, "model": model, "benchmark": benchmark}


_LOSSES = {
    "squared": lambda e: e**2,
    "absolute": np.abs,
}


def diebold_mariano(
    y_true,
    y_pred,
    y_benchmark,
    *,
    horizon: int = 1,
    loss: str = "squared",
    alpha: float = 0.05,
    benchmark: str = "naive",
) -> SkillTest:
    """Diebold-Mariano test with the Harvey-Leybourne-Newbold small-sample correction.

    Loss differential ``d_t = L(y_t - y_pred_t) - L(y_t - y_benchmark_t)`` with
    ``L(e) = e**2`` (``loss="squared"``) or ``|e|`` (``"absolute"``). With ``n``
    forecasts, ``d_bar = mean(d)`` and autocovariances
    ``gamma_k = (1/n) * sum_{t>k} (d_t - d_bar)(d_{t-k} - d_bar)`` for ``k = 0..h-1``
    (h-step errors are at most MA(h-1)):

        DM = d_bar / sqrt((gamma_0 + 2 * sum_{k=1}^{h-1} gamma_k) / n)
        DM* = DM * sqrt((n + 1 - 2h + h(h-1)/n) / n)

    and ``DM*`` is compared with Student's t with ``n - 1`` degrees of freedom
    (Diebold & Mariano 1995, JBES 13(3) 253-263; Harvey, Leybourne & Newbold 1997, IJF
    13(2) 281-291). This is the computation of R ``forecast::dm.test`` (default
    ``varestimator = "acf"``). For ``h = 1`` it equals statsmodels
    ``diebold_mariano_test(..., lags=0, harvey_adj=True)``; for ``h > 1`` statsmodels only
    offers Bartlett weights, which under-weight the MA(h-1) autocovariances, so the
    truncated (equal-weight) estimator above is computed here. When it is not positive
    (possible for ``h > 1``) the Bartlett weights ``1 - k/h`` are used instead (always
    non-negative; R's ``varestimator = "bartlett"``) and ``note`` says so.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Realised values, e.g. ``close[t+h]`` in currency.
    y_pred : array_like, shape (n,)
        The model's forecasts.
    y_benchmark : array_like, shape (n,)
        The benchmark's forecasts, usually the naive ``close[t]``.
    horizon : int, default 1
        Forecast horizon h in steps.
    loss : {"squared", "absolute"}, default "squared"
    alpha : float, default 0.05
        Significance level of the verdict (each one-sided test).
    benchmark : str, default "naive"
        Benchmark name used in the verdict.

    Returns
    -------
    SkillTest
        ``statistic`` = DM*; ``p_value`` = one-sided P(T <= DM*) for "model has lower
        loss"; ``p_value_two_sided``; ``details`` holds ``p_value_worse`` (one-sided, model
        has higher loss), ``loss``, ``horizon``, ``df``, ``mean_loss_differential``,
        ``hln_factor`` and ``variance_estimator`` (``"acf"`` or ``"bartlett"``). Verdict:
        ``"beats naive (p=...)"`` when ``p_value < alpha``, ``"worse than naive (p=...)"``
        when ``p_value_worse < alpha``, else ``"no skill over naive"``. When the loss
        differential has zero variance (e.g. identical forecasts) the statistic and
        p-values are ``None``, the verdict is "no skill over ..." and ``note`` says why.

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-finite values, unknown ``loss``, ``horizon < 1``,
        or fewer forecasts than the correction needs (``n + 1 - 2h + h(h-1)/n <= 0`` or
        ``n < 2``); also when a loss overflows to infinity.
    """
    if loss not in _LOSSES:
        raise ValueError(f"unknown loss {loss!r}: use 'squared' or 'absolute'")
    h = int(horizon)
    if h < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    y, f, b = vectors(y_true=y_true, y_pred=y_pred, y_benchmark=y_benchmark)
    lossf = _LOSSES[loss]
    d = lossf(y - f) - lossf(y - b)
    return diebold_mariano_differential(d, horizon=h, alpha=alpha, benchmark=benchmark, loss=loss)


def diebold_mariano_differential(
    d,
    *,
    horizon: int = 1,
    alpha: float = 0.05,
    benchmark: str = "naive",
    loss: str = "squared",
) -> SkillTest:
    """Diebold-Mariano test (HLN-corrected) on a given loss-differential series.

    The core of :func:`diebold_mariano`, for losses it does not compute itself (QLIKE on
    variance forecasts, pinball loss ...). ``d_t = L_model,t - L_benchmark,t``; with
    ``n`` values, ``d_bar = mean(d)`` and ``gamma_k`` the autocovariances of ``d`` for
    ``k = 0..h-1``, ``DM = d_bar / sqrt((gamma_0 + 2 * sum_{k=1}^{h-1} gamma_k) / n)``
    times the Harvey-Leybourne-Newbold factor ``sqrt((n + 1 - 2h + h(h-1)/n) / n)``,
    compared with Student's t with ``n - 1`` degrees of freedom; Bartlett weights
    ``1 - k/h`` when the truncated variance is not positive (Diebold & Mariano 1995,
    JBES 13(3) 253-263; Harvey, Leybourne & Newbold 1997, IJF 13(2) 281-291; R
    ``forecast::dm.test``). See :func:`diebold_mariano` for the full description.

    Parameters
    ----------
    d : array_like, shape (n,)
        Loss differential, model loss minus benchmark loss, per forecast date (negative
        means the model did better that date).
    horizon : int, default 1
        Forecast horizon h in steps (sets the number of autocovariances, h - 1).
    alpha : float, default 0.05
        Significance level of the verdict (each one-sided test).
    benchmark : str, default "naive"
        Benchmark name used in the verdict.
    loss : str, default "squared"
        Name of the loss, recorded in ``details["loss"]`` only (any label, e.g.
        ``"qlike"``).

    Returns
    -------
    SkillTest
        As :func:`diebold_mariano`.

    Raises
    ------
    ValueError
        Empty input, not 1-D, non-finite values, ``horizon < 1``, or fewer values than
        the correction needs (``n + 1 - 2h + h(h-1)/n <= 0`` or ``n < 2``).
    """
    h = int(horizon)
    if h < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    d = vector("d", d)
    n = d.size
    factor_sq = (n + 1 - 2 * h + h * (h - 1) / n) / n
    if n < 2 or factor_sq <= 0:
        raise ValueError(f"too few forecasts ({n}) for a Diebold-Mariano test at horizon {h}")
    from scipy import stats

    d_bar = float(np.mean(d))
    dev = d - d_bar
    gamma = np.array([np.dot(dev[k:], dev[: n - k]) / n for k in range(min(h, n))])
    variance = (gamma[0] + 2.0 * gamma[1:].sum()) / n
    estimator = "acf"
    note = None
    if variance <= 0 and h > 1 and gamma[0] > 0:
        weights = 1.0 - np.arange(1, gamma.size) / h
        variance = (gamma[0] + 2.0 * np.dot(weights, gamma[1:])) / n
        estimator = "bartlett"
        note = "truncated autocovariance variance was not positive; Bartlett weights used"
    hln = math.sqrt(factor_sq)
    details: dict[str, Any] = {
        "loss": loss,
        "horizon": h,
        "df": n - 1,
        "mean_loss_differential": d_bar,
        "hln_factor": hln,
        "variance_estimator": estimator,
        "alpha": alpha,
        "p_value_worse": None,
    }
    if not variance > 0:
        return SkillTest(
            test="diebold-mariano",
            statistic=None,
            p_value=None,
            p_value_two_sided=None,
            n=n,
            outcome=Outcome.NO_SKILL,
            benchmark=benchmark,
            note="loss differential has zero variance (identical losses every period); "
            "DM statistic undefined",
            details=details,
        )
    stat = hln * d_bar / math.sqrt(variance)
    p_better = float(stats.t.cdf(stat, df=n - 1))
    p_worse = float(stats.t.sf(stat, df=n - 1))
    p_two = float(min(1.0, 2.0 * stats.t.sf(abs(stat), df=n - 1)))
    details["p_value_worse"] = p_worse
    return SkillTest(
        test="diebold-mariano",
        statistic=float(stat),
        p_value=p_better,
        p_value_two_sided=p_two,
        n=n,
        outcome=decide(p_better, p_worse, alpha),
        benchmark=benchmark,
        note=note,
        details=details,
    )


def pesaran_timmermann(y_true, y_pred, *, alpha: float = 0.05) -> SkillTest:
    """Pesaran-Timmermann (1992) test of directional forecast skill.

    Tests whether predicted and realised directions are independent. With ``P`` the
    hit rate, ``py``/``pz`` the shares of realised/predicted ups,
    ``P* = py*pz + (1-py)(1-pz)``:

        S = (P - P*) / sqrt(var(P) - var(P*)),  asymptotically N(0, 1)

    (Pesaran & Timmermann 1992, "A simple nonparametric test of predictive
    performance", JBES 10(4) 461-465, eq. 4-6). Computed by statsmodels
    ``statsmodels.stats.diagnostic.pesaran_timmermann``.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        Realised direction, 1 = up, 0 = not up.
    y_pred : array_like, shape (n,)
        Predicted direction, 1 = up, 0 = not up.
    alpha : float, default 0.05
        Significance level of the verdict (one-sided).

    Returns
    -------
    SkillTest
        ``p_value`` one-sided (hits above what independence implies). When every
        prediction (or every outcome) is the same class the test is undefined (zero
        variance): statistic and p-values ``None``, verdict "no skill over chance", with a
        ``note``. ``details``: ``hit_rate``, ``hit_rate_if_independent``,
        ``p_value_worse``.

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-binary values, or fewer than 2 forecasts.
    """
    from scipy import stats
    from statsmodels.stats.diagnostic import pesaran_timmermann as sm_pt

    y, p = vectors(y_true=y_true, y_pred=y_pred)
    y = binary("y_true", y)
    p = binary("y_pred", p)
    n = y.size
    if n < 2:
        raise ValueError("Pesaran-Timmermann test needs at least 2 forecasts")
    py, pz = float(y.mean()), float(p.mean())
    details: dict[str, Any] = {
        "hit_rate": float(np.mean(y == p)),
        "hit_rate_if_independent": py * pz + (1 - py) * (1 - pz),
        "alpha": alpha,
        "p_value_worse": None,
    }
    try:
        res = sm_pt(2.0 * y - 1.0, 2.0 * p - 1.0, alternative="larger")
    except ValueError:
        what = "predictions" if pz in (0.0, 1.0) else "outcomes"
        return SkillTest(
            test="pesaran-timmermann",
            statistic=None,
            p_value=None,
            p_value_two_sided=None,
            n=n,
            outcome=Outcome.NO_SKILL,
            benchmark="chance",
            note=f"test undefined: all {what} are the same class",
            details=details,
        )
    stat = float(res.statistic)
    p_better = float(res.pvalue)
    p_worse = float(stats.norm.cdf(stat))
    details["p_value_worse"] = p_worse
    return SkillTest(
        test="pesaran-timmermann",
        statistic=stat,
        p_value=p_better,
        p_value_two_sided=float(min(1.0, 2.0 * stats.norm.sf(abs(stat)))),
        n=n,
        outcome=decide(p_better, p_worse, alpha),
        benchmark="chance",
        details=details,
    )


def binomial_test(
    y_true,
    y_pred,
    *,
    p0: float = 0.5,
    alpha: float = 0.05,
    benchmark: str = "chance",
) -> SkillTest:
    """Exact binomial test of directional accuracy against a fixed rate ``p0``.

    ``k`` correct calls out of ``n`` against ``H0: accuracy = p0``, one-sided
    ``H1: accuracy > p0`` (``scipy.stats.binomtest``). Use ``p0 = 0.5`` against a coin
    flip, or the majority-class baseline's accuracy (``benchmark="majority"``) against
    "always up". Treats outcomes as independent; overlapping h-step targets (h > 1) make
    it optimistic.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,)
        Realised and predicted direction, 0/1.
    p0 : float, default 0.5
        Accuracy under the null, in (0, 1).
    alpha : float, default 0.05
        Significance level of the verdict (one-sided).
    benchmark : str, default "chance"
        Benchmark name used in the verdict.

    Returns
    -------
    SkillTest
        ``statistic`` = observed accuracy ``k/n``; ``details``: ``k``, ``p0``,
        ``p_value_worse`` (one-sided, accuracy below ``p0``).

    Raises
    ------
    ValueError
        Empty input, length mismatch, non-binary values, ``p0`` outside (0, 1).
    """
    from scipy.stats import binomtest

    if not 0.0 < p0 < 1.0:
        raise ValueError(f"p0 must lie in (0, 1), got {p0}")
    y, p = vectors(y_true=y_true, y_pred=y_pred)
    y = binary("y_true", y)
    p = binary("y_pred", p)
    n = y.size
    k = int(np.sum(y == p))
    p_better = float(binomtest(k, n, p0, alternative="greater").pvalue)
    p_worse = float(binomtest(k, n, p0, alternative="less").pvalue)
    p_two = float(binomtest(k, n, p0, alternative="two-sided").pvalue)
    return SkillTest(
        test="binomial",
        statistic=k / n,
        p_value=p_better,
        p_value_two_sided=p_two,
        n=n,
        outcome=decide(p_better, p_worse, alpha),
        benchmark=benchmark,
        details={"k": k, "p0": float(p0), "alpha": alpha, "p_value_worse": p_worse},
    )
