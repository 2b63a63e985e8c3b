"""THE judging routine: baselines fit on training rows, the strongest chosen on validation,
every forecast scored on the test rows.

Every verdict lstmfc gives runs through the two functions of this module, whoever asks:
``evaluate`` (one test split), each fold of a walk-forward backtest, and the backtest's
out-of-sample series over all folds.

1. :func:`fit_benchmarks`: for every step ``k`` of the path (a one-step forecast is a
   path of length 1) the head's baselines are fitted for horizon ``h + k - 1`` on the
   training window ends only (:func:`lstmfc.forecasters.base.fit_all`), and the
   strongest of them is chosen on the validation windows only
   (:meth:`lstmfc.heads.base.Head.choose_best`). Nothing of the test rows is read.
2. :func:`judge`: each step's forecasts (the network's, calibrated variants, and every
   baseline's) are scored on that step's targets by the head
   (:meth:`lstmfc.heads.base.Head.score`: metrics, skill tests with a typed outcome, the
   trading view at step 1), with the network also tested against the step's strongest
   baseline; for a path, Diebold-Mariano (HLN) on the loss averaged over the steps
   (:func:`joint_tests`).

Leakage: the rows each function may read are its arguments; the perturb-the-future
tests (``tests/test_honest_verdicts.py``, ``tests/test_paths.py``,
``tests/test_backtest.py``) change every close after the first validation or test origin
and check that the fits and the choice do not move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmfc.core.errors import DataError, UsageError
from lstmfc.core.limits import MAX_BASELINE_WINDOW
from lstmfc.dataset.targets import step_frame, step_horizon
from lstmfc.forecasters.base import Forecaster, fit_all
from lstmfc.heads.base import Head, Scores
from lstmfc.stats.skill import diebold_mariano_differential


@dataclass(frozen=True)
class ScoringOptions:
    """The options of every judgement (``evaluate``, ``backtest``, ``run``).

    Attributes
    ----------
    sma_k, ema_span : int
        Window of the SMA baseline and span of the EMA baseline, sessions (default 20,
        about a trading month), 1 to :data:`lstmfc.core.limits.MAX_BASELINE_WINDOW`.
    cost_bps : float
        Transaction cost per position change of the trading view, basis points, in
        [0, 10000).
    alpha : float
        Significance level of every verdict, in (0, 1) (default 0.05).
    """

    sma_k: int = 20
    ema_span: int = 20
    cost_bps: float = 0.0
    alpha: float = 0.05

    def validate(self) -> ScoringOptions:
        """Check every option (returns ``self``).

        Raises
        ------
        UsageError
            One line naming the option (``--sma``, ``--ema``, ``--cost-bps``, ``--alpha``).
        """
        for name, v in (("--sma", self.sma_k), ("--ema", self.ema_span)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise UsageError(f"{name} must be an integer, got {v!r}")
            if not 1 <= v <= MAX_BASELINE_WINDOW:
                raise UsageError(
                    f"{name} must be from 1 to {MAX_BASELINE_WINDOW} sessions, got {v}"
                )
        for name, v in (("--cost-bps", self.cost_bps), ("--alpha", self.alpha)):
            if isinstance(v, bool) or not isinstance(v, int | float | np.floating):
                raise UsageError(f"{name} must be a number, got {v!r}")
        if not 0.0 <= self.cost_bps < 10_000:
            raise UsageError(f"--cost-bps must be in [0, 10000), got {self.cost_bps}")
        if not 0.0 < self.alpha < 1.0:
            raise UsageError(f"--alpha must be in (0, 1), got {self.alpha}")
        return self


DEFAULT_SCORING = ScoringOptions()
"""The default scoring options (the values ``--help`` shows)."""


@dataclass
class StepBenchmarks:
    """The baselines of one step of the path, fitted on training rows, and the choice of
    the strongest on validation rows.

    Attributes
    ----------
    step : int
        1-based step of the path.
    horizon : int
        Sessions from the origin to this step's target, ``h + k - 1``.
    baselines : dict
        Report name -> fitted :class:`~lstmfc.forecasters.base.Forecaster`.
    choice : dict
        :meth:`lstmfc.heads.base.Head.choose_best` on the validation windows: ``name``,
        ``criterion``, ``chosen_on``, ``n_validation``, ``validation`` (each loss).
    """

    step: int
    horizon: int
    baselines: dict[str, Forecaster]
    choice: dict[str, Any]

    @property
    def best(self) -> str:
        """The strongest simple baseline of this step (chosen on validation)."""
        return self.choice["name"]

    def forecasts(self, closes: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Every baseline's forecasts for origins ``rows`` ``(n,)`` (head's units)."""
        return {name: b.forecast(closes, rows) for name, b in self.baselines.items()}

    def params(self) -> dict[str, Any]:
        """Each baseline's fitted parameters (JSON, for the report)."""
        return {name: b.get_params() for name, b in self.baselines.items()}


def fit_benchmarks(
    head: Head,
    closes: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
    val_targets,
    *,
    lookback: int,
    horizon: int,
    steps: int = 1,
    options: ScoringOptions = ScoringOptions(),
) -> list[StepBenchmarks]:
    """Fit the baselines of every step on training rows; choose the strongest on validation.

    Parameters
    ----------
    head : Head
        The one-step head (:meth:`lstmfc.heads.base.Head.step_head`).
    closes : ndarray, shape (n_rows,)
        The unscaled close series (currency) the windows end on.
    rows : (ndarray, ndarray)
        Window end rows of the training and of the validation windows a fit may use
        (for a path purged of the last ``K - 1`` of each split,
        :func:`lstmfc.dataset.targets.purged_rows`).
    val_targets : pandas.DataFrame
        Target rows of those validation windows, with the path columns for ``steps > 1``.
    lookback, horizon, steps : int
        Window length, horizon of step 1, and ``K``.
    options : ScoringOptions

    Returns
    -------
    list of StepBenchmarks
        One per step.

    Raises
    ------
    DataError
        A baseline cannot be fitted (too little history, a one-class sample ...).
    """
    train_rows, val_rows = rows
    out = []
    for k in range(1, int(steps) + 1):
        hk = step_horizon(horizon, k)
        unfitted = head.baselines(lookback=lookback, sma_k=options.sma_k, ema_span=options.ema_span)
        baselines = fit_all(unfitted, closes, train_rows, hk)
        val = {name: b.forecast(closes, val_rows) for name, b in baselines.items()}
        choice = head.choose_best(step_frame(val_targets, k), val)
        out.append(StepBenchmarks(k, hk, baselines, choice))
    return out


@dataclass
class StepScore:
    """One step's judgement: the head's :class:`~lstmfc.heads.base.Scores` and the
    strongest simple baseline it was tested against."""

    step: int
    horizon: int
    scores: Scores
    best: str
    forecasts: dict[str, np.ndarray] = field(repr=False)


@dataclass
class Judgement:
    """What :func:`judge` returns: one :class:`StepScore` per step and, for a path, the
    joint tests over the whole path (test documents with ``scope: "path"``)."""

    steps: list[StepScore]
    joint: list[dict[str, Any]]

    @property
    def first(self) -> StepScore:
        """Step 1 (the whole judgement of a one-step forecast)."""
        return self.steps[0]


def judge(
    head: Head,
    targets,
    forecasts: Sequence[dict[str, np.ndarray]],
    best: Sequence[str],
    *,
    horizon: int,
    options: ScoringOptions = ScoringOptions(),
    trading: bool = True,
    context: dict[str, Any] | None = None,
) -> Judgement:
    """Score every step's forecasts on its targets; the joint tests of a path.

    Parameters
    ----------
    head : Head
        The one-step head.
    targets : pandas.DataFrame
        Target rows of the scored windows (step 1's columns and, for a path, those of
        steps 2 .. K).
    forecasts : sequence of dict
        Per step, model name -> forecasts ``(n,)`` (``(n, k)`` quantiles) in the head's
        units: ``lstm``, calibrated variants, then the baselines.
    best : sequence of str
        Per step, the name (a key of its forecasts) of the strongest simple baseline,
        chosen beforehand on validation data.
    horizon : int
        Horizon of step 1.
    options : ScoringOptions
    trading : bool
        Compute the trading view (at step 1 only).
    context : dict, optional
        ``label`` (prefix of error messages), ``joint_best`` (the baseline of the joint
        test besides the head's benchmark; default step 1's best) and ``mase`` (a pair
        ``(closes, train_rows)``: add the head's per-step metrics that need the training
        period, e.g. MASE).

    Returns
    -------
    Judgement

    Raises
    ------
    DataError
        A metric or test is undefined for the data (message prefixed with ``label``).
    """
    ctx = context or {}
    label = ctx.get("label", "test split")
    out = []
    for k, (fc, name) in enumerate(zip(forecasts, best, strict=True), start=1):
        hk = step_horizon(horizon, k)
        tt = step_frame(targets, k)
        try:
            scores = head.score(
                tt,
                fc,
                horizon=hk,
                cost_bps=options.cost_bps,
                alpha=options.alpha,
                trading=trading and k == 1,
                best=name,
            )
        except ValueError as exc:
            raise DataError(f"{label}: {exc}") from None
        if ctx.get("mase") is not None:
            closes, train_rows = ctx["mase"]
            head.step_metrics(scores.metrics, head.truth(tt), fc, closes, train_rows, hk)
        out.append(StepScore(k, hk, scores, name, fc))
    joint = []
    if len(out) > 1:
        joint_best = ctx.get("joint_best") or out[0].best
        joint = joint_tests(head, targets, out, joint_best, horizon, options.alpha)
    return Judgement(out, joint)


def joint_best(benchmarks: Sequence[StepBenchmarks]) -> str:
    """The baseline with the lowest validation loss averaged over the path's steps (ties
    to the first name in order): the second benchmark of ``evaluate``'s joint test."""
    losses: dict[str, list[float]] = {}
    for b in benchmarks:
        for name, loss in b.choice["validation"].items():
            losses.setdefault(name, []).append(loss)
    return min(losses, key=lambda n: (float(np.mean(losses[n])), n))


def joint_test(
    losses: tuple[np.ndarray, np.ndarray],
    *,
    horizon: int,
    alpha: float,
    name: str,
    loss: str,
) -> dict[str, Any]:
    """Diebold-Mariano (HLN) on the loss averaged over the path's steps.

    ``d_t = mean_k L(model)_t,k - mean_k L(benchmark)_t,k`` with the HLN correction at
    the path's last horizon (the averaged errors overlap for that many sessions).

    Parameters
    ----------
    losses : (ndarray, ndarray), each shape (n, K)
        The network's and the benchmark's loss at each origin and step.
    horizon : int
        Horizon of the last step, ``h + K - 1``.
    alpha : float
    name : str
        The benchmark's name.
    loss : str
        Name of the per-step loss, e.g. ``"squared"`` (recorded as ``"<loss>, averaged
        over steps"``).

    Returns
    -------
    dict
        The test document (:meth:`lstmfc.stats.skill.SkillTest.to_dict`) with ``model``
        ``lstm``, ``benchmark`` and ``scope: "path"``.
    """
    model_loss, bench_loss = (np.asarray(x, "float64") for x in losses)
    d = model_loss.mean(axis=1) - bench_loss.mean(axis=1)
    test = diebold_mariano_differential(
        d, horizon=horizon, alpha=alpha, benchmark=name, loss=f"{loss}, averaged over steps"
    )
    return {**test.to_dict(), "model": "lstm", "benchmark": name, "scope": "path"}


def path_losses(head: Head, truth: np.ndarray, forecasts: np.ndarray) -> tuple[np.ndarray, str]:
    """Per-step losses of a path forecast, shape (n, K), and the loss's name: squared
    errors of the forecast values (``head.path_loss`` ``"squared"``), or the 0-1 loss of
    the calls at P = 0.5 against the realised direction (``"zero_one"``)."""
    if head.path_loss == "zero_one":
        wrong = (np.asarray(forecasts) > 0.5).astype(int) != truth
        return wrong.astype("float64"), "zero-one"
    return np.square(np.asarray(truth, "float64") - np.asarray(forecasts, "float64")), "squared"


def joint_tests(head, targets, steps: Sequence[StepScore], best: str, horizon: int, alpha: float):
    """DM (HLN) on the loss averaged over the path (:func:`path_losses`), of the network
    against the head's benchmark and against ``best``. Models without a forecast at every
    step are left out."""
    n_steps = len(steps)
    truth = np.stack([head.truth(step_frame(targets, k)) for k in range(1, n_steps + 1)], axis=1)
    common = [n for n in steps[0].forecasts if all(n in s.forecasts for s in steps)]
    f = {n: np.stack([s.forecasts[n] for s in steps], axis=1) for n in common}
    last = step_horizon(horizon, n_steps)
    model_loss, loss = path_losses(head, truth, f["lstm"])
    out = []
    for name in dict.fromkeys((head.benchmark, best)):
        if name in f:
            bench_loss, _ = path_losses(head, truth, f[name])
            losses = (model_loss, bench_loss)
            out.append(joint_test(losses, horizon=last, alpha=alpha, name=name, loss=loss))
    return out
