"""Every word of a verdict: skill-test outcomes and p-values turned into phrases and sentences.

The tests decide (:mod:`lstmfc.stats.skill` records an :class:`~lstmfc.stats.outcome.Outcome`
and the p-values); this module only words them, so no code anywhere parses a verdict
string. The phrases, for a benchmark ``X``:

* ``beats X (p=...)``: the one-sided test of "lower loss than X" rejects at ``alpha``;
  the p-value shown is that test's;
* ``worse than X (p=...)``: the opposite one-sided test rejects; its p-value is shown;
* ``no skill over X``: neither rejects (:func:`verdict_with_p` appends the p-value of
  "better");
* ``untestable against X`` / ``undefined``: the test could not be computed.

Test documents are the JSON dicts of :meth:`lstmfc.stats.skill.SkillTest.to_dict` plus
``model`` and ``benchmark``; their ``outcome`` key is what the wording reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lstmfc.stats.outcome import Outcome, outcome_of


def verdict_text(outcome: Outcome, benchmark: str, p_better, p_worse) -> str:
    """The verdict of one test: ``"beats X (p=0.012)"``, ``"worse than X (p=0.003)"``,
    ``"no skill over X"`` or ``"undefined"`` (p-values with 3 significant digits)."""
    if outcome is Outcome.BEATS:
        return f"beats {benchmark} (p={p_better:.3g})"
    if outcome is Outcome.WORSE:
        return f"worse than {benchmark} (p={p_worse:.3g})"
    if outcome is Outcome.UNDEFINED:
        return "undefined"
    return f"no skill over {benchmark}"


def _p(test: dict[str, Any]) -> str:
    p = test.get("p_value")
    return "" if p is None else f" (p={p:.3g})"


def verdict_with_p(test: dict[str, Any]) -> str:
    """A test's verdict with its p-value once: ``beats`` and ``worse than`` carry the
    p-value of their side already; ``no skill over X`` gets the one-sided p-value of
    "better" appended."""
    verdict = str(test.get("verdict", "undefined"))
    if outcome_of(test) is Outcome.NO_SKILL and test.get("p_value") is not None:
        return f"{verdict} (p={test['p_value']:.3g})"
    return verdict


def phrase(test: dict[str, Any], benchmark: str) -> str:
    """``"beats naive (p=0.008)"``, ``"worse than naive (p=...)"``, ``"no skill over naive
    (p=0.41)"`` or ``"untestable against naive"``: always with a p-value when there is one
    (that of "better", or of "worse" for a worse verdict)."""
    outcome = outcome_of(test)
    if outcome is Outcome.BEATS:
        return f"beats {benchmark}{_p(test)}"
    if outcome is Outcome.WORSE:
        worse = (test.get("details") or {}).get("p_value_worse")
        return f"worse than {benchmark}" + ("" if worse is None else f" (p={worse:.3g})")
    if outcome is Outcome.UNDEFINED:
        return f"untestable against {benchmark}"
    return f"no skill over {benchmark}{_p(test)}"


def with_verb(line: str, outcome: Outcome) -> str:
    """A verdict line as a predicate of "the LSTM": ``"no skill over naive ..."`` ->
    ``"has no skill over naive ..."``, ``"worse than ..."`` -> ``"is worse than ..."``;
    ``outcome`` is the outcome of the line's first phrase (the headline test's)."""
    if outcome is Outcome.NO_SKILL:
        return "has " + line
    if outcome is Outcome.WORSE:
        return "is " + line
    return line


def find_test(tests: Sequence[dict[str, Any]], benchmark: str, model: str = "lstm"):
    """The test of ``model`` against ``benchmark`` in a list of test documents, or None."""
    return next(
        (t for t in tests if t.get("model") == model and t.get("benchmark") == benchmark), None
    )


def verdict_line(
    tests: Sequence[dict[str, Any]],
    benchmark: str,
    best: str | None = None,
    *,
    note_same: bool = True,
) -> str:
    """One line: the verdict against the headline benchmark and, when it differs, against
    the strongest simple baseline ``best``, e.g. ``"beats naive (p=0.008) but not drift
    (p=0.41)"``.

    ``tests``: the test documents (the first test of ``lstm`` is the headline test).
    When ``best`` is the benchmark itself the line says so (``note_same``; table cells
    leave that clause out).
    """
    head = next((t for t in tests if t.get("model") == "lstm"), {})
    first = phrase(head, head.get("benchmark") or benchmark)
    if not best or best == benchmark:
        extra = f"; {benchmark} is also the strongest simple baseline on validation"
        return first + (extra if best == benchmark and note_same else "")
    other = find_test(tests, best)
    if other is None:
        return first
    beat_first = outcome_of(head) is Outcome.BEATS
    outcome = outcome_of(other)
    if outcome is Outcome.BEATS:
        return f"{first} {'and' if beat_first else 'but'} beats {best}{_p(other)}"
    if outcome is Outcome.WORSE:
        return f"{first} {'but is' if beat_first else 'and is'} {phrase(other, best)}"
    if beat_first:
        return f"{first} but not {best}{_p(other)}"
    return f"{first} nor over {best}{_p(other)}"


def verdict_predicate(tests: Sequence[dict[str, Any]], benchmark: str, best=None, **kw) -> str:
    """:func:`verdict_line` as a predicate of "the LSTM" (:func:`with_verb`)."""
    head = next((t for t in tests if t.get("model") == "lstm"), {})
    return with_verb(verdict_line(tests, benchmark, best, **kw), outcome_of(head))


def headline_sentence(skill: dict[str, Any], wording) -> str:
    """The headline test as a sentence, from the head's nouns.

    ``wording`` is a head (:class:`lstmfc.heads.base.Head`): ``headline_label`` (a
    format string with ``{test}``, e.g. ``"Diebold-Mariano vs the random walk"``),
    ``subject`` (e.g. ``"the LSTM's price forecasts"``; ``None`` for no explanation) and
    ``benchmark_label`` (e.g. ``"'tomorrow = today'"``).
    """
    label = wording.headline_label.format(test=skill.get("test", "skill test"))
    lead = f"{label}: {skill.get('verdict', 'undefined')}"
    outcome = outcome_of(skill)
    if wording.subject is None or outcome is Outcome.BEATS:
        return lead + "."
    how = "significantly worse than"
    if outcome is not Outcome.WORSE:
        how = "not significantly better than"
    return f"{lead} — {wording.subject} are {how} {wording.benchmark_label}."


def conclusion(head, tests: Sequence[dict[str, Any]], trading, best=None, extra=None) -> str:
    """Plain sentences: the headline test, the test against the strongest simple baseline
    (chosen on validation), the head's other reference tests (``head.also_against``:
    vol: EWMA), the trading view, and the calibration of a quantile head's forecasts
    (``extra["calibration_check"]``, see :func:`calibration_sentence`).
    """
    skill = tests[0] if tests else {}
    lead = headline_sentence(skill, head)
    if best and best != head.benchmark:
        line = verdict_predicate(tests, head.benchmark, best)
        lead += f" The LSTM {line} ({best}: the strongest simple baseline on validation)."
    for name, label in head.also_against:
        other = find_test(tests, name)
        if other is not None:
            lead += f" Against {label}: {other.get('verdict', 'undefined')}."
    model = (trading or {}).get("lstm") or {}
    bh = (trading or {}).get("buy_and_hold") or {}
    if model.get("n_trades") == 0:
        lead += " Its signal was never long in the test period (no trades)."
    elif model.get("sharpe") is not None and bh.get("sharpe") is not None:
        lead += (
            f" Long/flat on its signal: Sharpe {model['sharpe']:.2f} "
            f"vs buy-and-hold {bh['sharpe']:.2f}."
        )
    check = (extra or {}).get("calibration_check")
    if check:
        lead += calibration_sentence(check)
    return lead


def calibration_sentence(check: Sequence[dict[str, Any]]) -> str:
    """`` Calibration — lstm: 90% interval covers 96.8%, VaR passing Kupiec and
    Christoffersen (ind., cond.) at 5%: 1%, 5%; ...``: one clause per forecast of
    ``check`` (each ``name``, ``coverage_90`` (share or None) and ``passing`` (the VaR
    levels passing all three backtests))."""
    parts = []
    for row in check:
        cov = row.get("coverage_90")
        txt = row["name"]
        if cov is not None:
            txt += f": 90% interval covers {100 * cov:.1f}%"
        ok = ", ".join(f"{100 * a:g}%" for a in row.get("passing") or []) or "none"
        parts.append(txt + f", VaR passing Kupiec and Christoffersen (ind., cond.) at 5%: {ok}")
    return (" Calibration — " + "; ".join(parts) + ".") if parts else ""


def path_conclusion(benchmark: str, sections: Sequence[dict[str, Any]], joint) -> str:
    """The conclusion of a path: each joint test over the whole path, then the steps at
    which the network beats ``benchmark`` significantly."""
    lines = [
        "over the whole path the LSTM " + with_verb(verdict_with_p(t), outcome_of(t)) for t in joint
    ]
    beat = [s["step"] for s in sections if outcome_of(s["skill"]) is Outcome.BEATS]
    if beat:
        at = "step" if len(beat) == 1 else "steps"
        lines.append(f"step by step it beats {benchmark} at {at} {', '.join(map(str, beat))}")
    else:
        lines.append(f"at no step of {len(sections)} does it beat {benchmark} significantly")
    text = "; ".join(lines)
    return text[0].upper() + text[1:] + "."
