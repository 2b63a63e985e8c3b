"""The outcome of a skill test: beats, no skill, worse or undefined (a typed verdict).

A one-sided test of "the model's loss is lower than the benchmark's" at level
``alpha`` ends in one of four outcomes: :attr:`Outcome.BEATS` when its p-value is below
``alpha``; :attr:`Outcome.WORSE` when the p-value of the opposite one-sided test ("the
model's loss is higher") is; :attr:`Outcome.NO_SKILL` otherwise; and
:attr:`Outcome.UNDEFINED` when the test cannot be computed on the data (one forecast, a
one-class sample ...). Code branches on the outcome, never on the words of a verdict:
the words are made in one place, :mod:`lstmfc.stats.wording`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class Outcome(str, Enum):
    """What a skill test concluded; the value is its JSON form (``"outcome"`` key)."""

    BEATS = "beats"
    NO_SKILL = "no skill"
    WORSE = "worse"
    UNDEFINED = "undefined"


def decide(p_better: float | None, p_worse: float | None, alpha: float) -> Outcome:
    """The outcome of the two one-sided p-values at level ``alpha``.

    ``p_better`` tests "model better than the benchmark", ``p_worse`` the opposite;
    either may be ``None`` (undefined statistic), which never rejects.
    """
    if p_better is not None and p_better < alpha:
        return Outcome.BEATS
    if p_worse is not None and p_worse < alpha:
        return Outcome.WORSE
    return Outcome.NO_SKILL


def outcome_of(test: dict[str, Any] | None) -> Outcome:
    """The outcome recorded in a test's JSON document (``UNDEFINED`` when absent)."""
    if not test:
        return Outcome.UNDEFINED
    try:
        return Outcome(test.get("outcome"))
    except ValueError:
        return Outcome.UNDEFINED
