"""The options of ``lstmfc backtest``, grouped by the layer that owns each of them.

* the data: ``lookback``, ``horizon``, ``steps`` and ``features``, with the defaults of
  ``lstmfc prepare`` (:mod:`lstmfc.dataset.prepare`);
* the plan: :class:`lstmfc.backtest.plan.PlanOptions` (folds, step, test size, window,
  refit interval, validation share);
* the network, head and fitting: :class:`lstmfc.workflows.train.TrainOptions`, the one
  home of the network defaults, shared with ``lstmfc train``;
* the scoring: :class:`lstmfc.evaluation.judge.ScoringOptions`, shared with ``lstmfc
  evaluate``;
* ``seed`` and ``save_models``.

:meth:`BacktestConfig.build` takes the flat option names of the command line
(``folds=3, units="8", alpha=0.1, price_target="level"``) and hands each to its group.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lstmfc.backtest.plan import PlanOptions, check_plan_options
from lstmfc.core.limits import resolve_seed
from lstmfc.dataset.features import DEFAULT_FEATURES, parse_features
from lstmfc.dataset.prepare import DEFAULT_HORIZON, DEFAULT_LOOKBACK
from lstmfc.evaluation.judge import ScoringOptions
from lstmfc.heads.registry import check_path_options, option_names
from lstmfc.workflows.train import TrainOptions

_SCORING_NAMES = {"sma": "sma_k", "ema": "ema_span"}


@dataclass
class BacktestConfig:
    """All options of ``lstmfc backtest`` (module docstring).

    Attributes
    ----------
    lookback, horizon, steps : int
        Window length, sessions ahead of step 1, and the path length ``K``.
    features : str or sequence of str
        Feature sets (:data:`lstmfc.dataset.features.FEATURE_SETS`).
    plan : PlanOptions
    model : TrainOptions
    scoring : ScoringOptions
    seed : int, optional
        Seed of every fit (fit ``i``'s member ``j`` uses ``seed + j``); drawn and recorded
        when not given.
    save_models : bool
        Keep each fit's network in the backtest folder.
    """

    lookback: int = DEFAULT_LOOKBACK
    horizon: int = DEFAULT_HORIZON
    steps: int = 1
    features: Any = DEFAULT_FEATURES
    plan: PlanOptions = field(default_factory=PlanOptions)
    model: TrainOptions = field(default_factory=TrainOptions)
    scoring: ScoringOptions = field(default_factory=ScoringOptions)
    seed: int | None = None
    save_models: bool = True
    _validated: bool = field(default=False, repr=False)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The flat option names :meth:`build` takes (``sma``/``ema`` for the SMA window
        and EMA span, as on the command line)."""
        own = ("lookback", "horizon", "steps", "features", "seed", "save_models")
        plan = tuple(f.name for f in dataclasses.fields(PlanOptions))
        scoring = tuple(f.name for f in dataclasses.fields(ScoringOptions))
        return (*own, *plan, *TrainOptions.option_names(), *scoring, *_SCORING_NAMES)

    @classmethod
    def build(cls, **options: Any) -> BacktestConfig:
        """A config from flat option names, each handed to the group owning it.

        Raises
        ------
        TypeError
            An option no group knows.
        """
        groups: dict[str, dict[str, Any]] = {"plan": {}, "model": {}, "scoring": {}, "own": {}}
        head_options = {}
        head_names = set(option_names())
        owners = {
            "plan": {f.name for f in dataclasses.fields(PlanOptions)},
            "model": {f.name for f in dataclasses.fields(TrainOptions)},
            "scoring": {f.name for f in dataclasses.fields(ScoringOptions)},
            "own": {"lookback", "horizon", "steps", "features", "seed", "save_models"},
        }
        for name, value in options.items():
            name = _SCORING_NAMES.get(name, name)
            if name in head_names:
                head_options[name] = value
                continue
            group = next((g for g, names in owners.items() if name in names), None)
            if group is None:
                raise TypeError(f"unknown backtest option {name!r}")
            groups[group][name] = value
        model = TrainOptions(**groups["model"], head_options=head_options)
        return cls(
            **groups["own"],
            plan=PlanOptions(**groups["plan"]),
            model=model,
            scoring=ScoringOptions(**groups["scoring"]),
        )

    def validate(self) -> BacktestConfig:
        """Check every option (before any data is read); draw the seed if None.

        Constant time whatever the values: nothing is planned or built here.

        Raises
        ------
        UsageError / DataError
            One line naming the option.
        """
        self.features = parse_features(self.features)
        self.model.validate()
        self.steps = check_path_options(self.steps, self.model.strategy, self.model.head)
        self.model.path_head(self.steps, self.features)  # e.g. recursive + level inputs
        self.lookback, self.horizon, self.plan = check_plan_options(
            self.lookback, self.horizon, self.plan
        )
        self.scoring.validate()
        self.seed = resolve_seed(self.seed, self.model.ensemble)
        self._validated = True
        return self

    def to_json(self) -> dict[str, Any]:
        """Settings as recorded in ``backtest.json``."""
        return {
            "lookback": self.lookback,
            "horizon": self.horizon,
            "steps": self.steps,
            "features": list(self.features),
            **self.plan.to_json(),
            "model": self.model.to_json(),
            "seed": self.seed,
            "deterministic": True,
            "sma": self.scoring.sma_k,
            "ema": self.scoring.ema_span,
            "cost_bps": self.scoring.cost_bps,
            "alpha": self.scoring.alpha,
        }
