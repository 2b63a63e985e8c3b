"""The evaluation report: what was scored, every step's sections, verdicts in words, and
its one writer (``evaluation.json``).

Report (``evaluation.json`` in the bundle folder, and the ``--json`` document of
``evaluate``)
---------------------------------------------------------------------------------
``ticker``, ``run_id``, ``head``, ``head_options``, ``cell``, ``ensemble``, ``engine``
(what ran the network: ``keras``, or ``onnx`` when Keras was not loaded in the process
and the bundle has ONNX twins), ``horizon``, ``lookback``, ``n_test``, ``test_start``,
``test_end`` (ISO dates of the test targets), plus the head's own keys
(``price_target``); then step 1's judgement: ``metrics`` keyed by model name (``lstm``,
calibrated variants and each baseline), ``skill`` (the headline test), ``skill_tests``
(all tests, each with ``model``, ``benchmark`` and a typed ``outcome``),
``best_baseline`` (the strongest simple baseline, chosen on the VALIDATION split by
the head's criterion, never on the test split), ``verdict`` (one line, against the
headline benchmark and against the strongest baseline), ``trading`` (long/flat per model
and buy-and-hold), ``baselines`` (their fitted parameters), the head's extra sections
(``mcs``, ``var_backtests`` ...); ``cost_bps``, ``alpha``, ``out_of_range_share``,
``warnings``, ``conclusion`` (plain sentences) and ``plot``. A path (``steps > 1``)
adds ``n_steps``, ``strategy``, ``attention``, ``steps`` (one section per step:
``step``, ``horizon``, ``test_start``, ``metrics``, ``skill``, ``skill_tests``,
``best_baseline``, ``verdict``, ``trading``) and ``joint_tests``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lstmfc.core.atomic import atomic_write_text
from lstmfc.core.jsonclean import json_clean
from lstmfc.dataset.targets import step_frame
from lstmfc.evaluation.judge import StepBenchmarks, StepScore
from lstmfc.stats import wording

EVALUATION_FILE = "evaluation.json"
PLOT_FILE = "evaluation.png"


def report_header(t: str, bundle, head, prepared, tt) -> dict[str, Any]:
    """The keys every evaluation report starts with: what was scored and on which
    test targets.

    Parameters
    ----------
    t : str
        Ticker.
    bundle : lstmfc.bundles.bundle.Bundle
        The loaded model bundle.
    head : lstmfc.heads.base.Head
        The bundle's head.
    prepared : lstmfc.dataset.prepare.Prepared
        The prepared data the bundle was trained on.
    tt : pandas.DataFrame
        The test targets, one row per scored window, with ``target_date``.

    Returns
    -------
    dict
        ``ticker``, ``run_id``, ``head``, ``head_options``, the head's
        :meth:`~lstmfc.heads.base.Head.report_keys`, ``cell``, ``ensemble``,
        ``engine``, ``horizon``, ``lookback``, ``n_test``, ``test_start`` and
        ``test_end`` (ISO dates of the first and last test target).
    """
    dates = np.asarray(tt["target_date"].to_numpy(), dtype="datetime64[D]")
    return {
        "ticker": t,
        "run_id": bundle.run_id,
        "head": head.name,
        "head_options": head.options,
        **head.report_keys(),
        "cell": bundle.manifest.get("hyperparameters", {}).get("cell"),
        "ensemble": len(bundle.models),
        "engine": bundle.engine,
        "horizon": int(prepared.horizon),
        "lookback": prepared.lookback,
        "n_test": int(len(tt)),
        "test_start": str(dates[0]),
        "test_end": str(dates[-1]),
    }


def step_section(head, step: StepScore, choice: dict[str, Any], test_start: str) -> dict:
    """One step's section: ``step``, ``horizon``, ``test_start``, ``metrics``, ``skill``,
    ``skill_tests``, ``best_baseline`` (``choice``), ``verdict`` and ``trading``."""
    tests = step.scores.tests
    return {
        "step": step.step,
        "horizon": step.horizon,
        "test_start": test_start,
        "metrics": step.scores.metrics,
        "skill": tests[0],
        "skill_tests": tests,
        "best_baseline": choice,
        "verdict": wording.verdict_line(tests, head.benchmark, choice["name"]),
        "trading": step.scores.trading,
    }


def judgement_sections(head, judgement, benchmarks: list[StepBenchmarks], targets) -> list:
    """Every step's section (:func:`step_section`); ``targets`` give each step's first
    target date."""
    out = []
    for s, b in zip(judgement.steps, benchmarks, strict=True):
        dates = step_frame(targets, s.step)["target_date"].to_numpy()
        out.append(step_section(head, s, b.choice, str(np.asarray(dates, "datetime64[D]")[0])))
    return out


def judged_report(head, judgement, benchmarks: list[StepBenchmarks], targets) -> dict:
    """The judgement keys of a report: step 1's ``metrics``, ``skill``, ``skill_tests``,
    ``best_baseline``, ``verdict``, ``trading``, ``baselines`` and extra sections; for a
    path also ``steps`` and ``joint_tests``; and the ``conclusion`` in words."""
    sections = judgement_sections(head, judgement, benchmarks, targets)
    first, scores = sections[0], judgement.first.scores
    out: dict[str, Any] = {k: first[k] for k in ("metrics", "skill", "skill_tests")}
    out.update(
        best_baseline=first["best_baseline"],
        verdict=first["verdict"],
        trading=first["trading"],
        baselines=benchmarks[0].params(),
        **scores.extra,
    )
    if len(sections) > 1:
        out.update(steps=sections, joint_tests=judgement.joint)
        out["conclusion"] = wording.path_conclusion(head.benchmark, sections, judgement.joint)
    else:
        best = first["best_baseline"]["name"]
        out["conclusion"] = wording.conclusion(
            head, scores.tests, scores.trading, best, scores.extra
        )
    return out


def write_evaluation(folder: Path, report: dict[str, Any]) -> Path:
    """Write ``evaluation.json`` into a bundle folder atomically (its only writer)."""
    path = Path(folder) / EVALUATION_FILE
    atomic_write_text(path, json.dumps(json_clean(report), indent=2) + "\n")
    return path
