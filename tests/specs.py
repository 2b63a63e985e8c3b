"""Network specs for tests: lstmfc train's defaults (``TrainOptions``, their one home)
with the options a test sets, so no test restates a default."""

from __future__ import annotations

from lstmfc.network.models import ModelSpec
from lstmfc.workflows.train import TrainOptions


def model_spec(lookback: int, n_features: int, *, steps: int = 1, **options) -> ModelSpec:
    """The :class:`ModelSpec` of ``TrainOptions(**options)`` for windows ``(lookback,
    n_features)`` and a path of ``steps`` (``learning_rate`` is accepted for ``lr``)."""
    if "learning_rate" in options:
        options["lr"] = options.pop("learning_rate")
    return TrainOptions(**options).spec(int(lookback), int(n_features), steps)
