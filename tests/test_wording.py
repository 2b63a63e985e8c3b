"""Verdicts in words, from typed outcomes: the sentences are written by hand here."""

from __future__ import annotations

from lstmfc.heads.registry import make_head
from lstmfc.stats.outcome import Outcome, decide, outcome_of
from lstmfc.stats.skill import SkillTest, undefined_test
from lstmfc.stats.wording import (
    conclusion,
    path_conclusion,
    verdict_line,
    verdict_predicate,
    verdict_with_p,
)


def t(bench, outcome, p, worse=None, model="lstm"):
    """A test document as the heads produce them (SkillTest.to_dict + model, benchmark)."""
    doc = SkillTest(
        "diebold-mariano", 1.0, p, None, 100, outcome, bench, details={"p_value_worse": worse}
    ).to_dict()
    return {**doc, "model": model, "benchmark": bench}


def test_decide_and_the_verdict_of_one_test():
    assert decide(0.01, 0.99, 0.05) is Outcome.BEATS
    assert decide(0.99, 0.01, 0.05) is Outcome.WORSE
    assert decide(0.2, 0.8, 0.05) is Outcome.NO_SKILL
    assert decide(None, None, 0.05) is Outcome.NO_SKILL
    assert t("naive", Outcome.BEATS, 0.0123)["verdict"] == "beats naive (p=0.0123)"
    assert t("naive", Outcome.WORSE, 0.99, 0.00312)["verdict"] == "worse than naive (p=0.00312)"
    assert t("naive", Outcome.NO_SKILL, 0.4)["verdict"] == "no skill over naive"
    und = undefined_test("diebold-mariano", "lstm", "naive", 1, ValueError("too few"))
    assert und["verdict"] == "undefined" and outcome_of(und) is Outcome.UNDEFINED
    assert und["note"] == "too few" and und["p_value"] is None
    assert outcome_of({}) is Outcome.UNDEFINED and outcome_of({"outcome": "x"}) is Outcome.UNDEFINED


def test_verdict_with_p_appends_only_a_missing_p_value():
    assert verdict_with_p(t("naive", Outcome.WORSE, 0.976, 0.0237)) == "worse than naive (p=0.0237)"
    assert verdict_with_p(t("drift", Outcome.BEATS, 0.01)) == "beats drift (p=0.01)"
    assert verdict_with_p(t("drift", Outcome.NO_SKILL, 0.8598)) == "no skill over drift (p=0.86)"
    assert verdict_with_p(t("drift", Outcome.NO_SKILL, None)) == "no skill over drift"


def test_verdict_line_wording():
    beats, no = t("naive", Outcome.BEATS, 0.008), t("naive", Outcome.NO_SKILL, 0.5)
    assert (
        verdict_line([beats, t("drift", Outcome.NO_SKILL, 0.41)], "naive", "drift")
        == "beats naive (p=0.008) but not drift (p=0.41)"
    )
    assert (
        verdict_line([no, t("drift", Outcome.NO_SKILL, 0.7)], "naive", "drift")
        == "no skill over naive (p=0.5) nor over drift (p=0.7)"
    )
    assert (
        verdict_line([beats, t("drift", Outcome.WORSE, 0.99, 0.01)], "naive", "drift")
        == "beats naive (p=0.008) but is worse than drift (p=0.01)"
    )
    assert verdict_line([no], "naive", "naive") == (
        "no skill over naive (p=0.5); naive is also the strongest simple baseline on validation"
    )
    assert verdict_line([no], "naive", "naive", note_same=False) == "no skill over naive (p=0.5)"
    assert verdict_predicate([no], "naive") == "has no skill over naive (p=0.5)"
    worse = t("naive", Outcome.WORSE, 0.9, 0.02)
    assert verdict_predicate([worse], "naive") == "is worse than naive (p=0.02)"


def test_conclusion_says_no_skill_plainly():
    head = make_head("price")
    no = [t("naive", Outcome.NO_SKILL, 0.4)]
    text = conclusion(head, no, {})
    assert text == (
        "Diebold-Mariano vs the random walk: no skill over naive — the LSTM's price "
        "forecasts are not significantly better than 'tomorrow = today'."
    )
    worse = conclusion(head, [t("naive", Outcome.WORSE, 0.99, 0.01)], {})
    assert "are significantly worse than 'tomorrow = today'" in worse
    never = conclusion(head, no, {"lstm": {"n_trades": 0}})
    assert never.endswith("Its signal was never long in the test period (no trades).")
    sharpe = conclusion(head, no, {"lstm": {"sharpe": 0.5}, "buy_and_hold": {"sharpe": 0.8}})
    assert sharpe.endswith("Long/flat on its signal: Sharpe 0.50 vs buy-and-hold 0.80.")
    vs_drift = conclusion(head, [*no, t("drift", Outcome.NO_SKILL, 0.6)], {}, best="drift")
    assert (
        "The LSTM has no skill over naive (p=0.4) nor over drift (p=0.6) (drift: the "
        "strongest simple baseline on validation)." in vs_drift
    )


def test_conclusion_names_the_heads_other_benchmarks_and_calibration():
    vol = conclusion(
        make_head("vol"),
        [t("garch", Outcome.BEATS, 0.01), t("ewma", Outcome.NO_SKILL, 0.2)],
        None,
    )
    assert vol == (
        "Diebold-Mariano (HLN) on QLIKE vs GARCH(1,1): beats garch (p=0.01). "
        "Against EWMA (RiskMetrics): no skill over ewma."
    )
    check = [{"name": "lstm_aci", "coverage_90": 0.9012, "passing": [0.01, 0.05]}]
    tests = [t("garch_t", Outcome.NO_SKILL, 0.3)]
    q = conclusion(make_head("quantile"), tests, None, None, {"calibration_check": check})
    assert q.endswith(
        "Calibration — lstm_aci: 90% interval covers 90.1%, VaR passing Kupiec and "
        "Christoffersen (ind., cond.) at 5%: 1%, 5%."
    )


def test_path_conclusion_states_each_p_value_once():
    joint = [t("naive", Outcome.WORSE, 0.976, 0.0237), t("drift", Outcome.NO_SKILL, 0.86)]
    sections = [{"step": k, "skill": t("naive", Outcome.NO_SKILL, 0.5)} for k in (1, 2, 3)]
    assert path_conclusion("naive", sections, joint) == (
        "Over the whole path the LSTM is worse than naive (p=0.0237); over the whole path "
        "the LSTM has no skill over drift (p=0.86); at no step of 3 does it beat naive "
        "significantly."
    )
    sections[1]["skill"] = t("naive", Outcome.BEATS, 0.01)
    assert path_conclusion("naive", sections, joint[1:]).endswith("it beats naive at step 2.")
    sections[2]["skill"] = t("naive", Outcome.BEATS, 0.02)
    assert path_conclusion("naive", sections, joint[1:]).endswith("it beats naive at steps 2, 3.")
