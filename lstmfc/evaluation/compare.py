"""``evaluate --compare``: several runs of one ticker side by side, step by step.

Each run is evaluated on its own test split (:func:`lstmfc.evaluation.evaluate.evaluate`)
and the comparison lists, per run, the head's measure against its benchmark at every
step (price: RMSE relative to naive; direction: accuracy minus the majority's) and the
joint-test verdicts over the whole path.
"""

from __future__ import annotations

from typing import Any

from lstmfc.core.errors import UsageError
from lstmfc.evaluation.evaluate import evaluate
from lstmfc.evaluation.judge import ScoringOptions
from lstmfc.evaluation.plots import measure_by_step, plot_compare
from lstmfc.heads.registry import make_head, path_heads

COMPARE_PLOT = "compare.png"
"""File name of the ``evaluate --compare`` plot, in ``models/<TICKER>/``."""


def run_label(rep: dict[str, Any]) -> str:
    """Short label of a run in a comparison: strategy, ``+att``, and the id's suffix."""
    if not isinstance(rep.get("steps"), list):
        kind = "one-step"
    else:
        kind = str(rep.get("strategy")) + ("+att" if rep.get("attention") else "")
    return f"{kind} {str(rep['run_id'])[-6:]}"


def compare_runs(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Several evaluation reports of one ticker side by side, step by step.

    For each run: the head's :attr:`~lstmfc.heads.Head.path_measure` at every step
    (price: the LSTM's RMSE relative to naive; direction: its accuracy minus the
    majority's) and the joint-test verdicts. A one-step run contributes its step 1 only.

    Raises
    ------
    UsageError
        Fewer than two reports, or runs of several heads or of a head without paths.
    """
    if len(reports) < 2:
        raise UsageError("--compare needs at least two run ids, separated by commas")
    heads = sorted({r["head"] for r in reports})
    if len(heads) > 1 or heads[0] not in path_heads():
        raise UsageError(
            f"--compare needs runs of one head, {' or '.join(path_heads())}; got "
            + ", ".join(heads)
        )
    one = make_head(heads[0])
    rows = []
    for rep in reports:
        sections = rep.get("steps")
        if not isinstance(sections, list):  # a one-step report
            sections = [{"step": 1, "horizon": rep["horizon"], "metrics": rep["metrics"]}]
        rows.append(
            {
                "run_id": rep["run_id"],
                "label": run_label(rep),
                "strategy": rep.get("strategy") if isinstance(rep.get("steps"), list) else None,
                "attention": bool(rep.get("attention", False)),
                "cell": rep.get("cell"),
                "n_steps": len(sections),
                "test_start": rep["test_start"],
                "n_test": rep["n_test"],
                "values": measure_by_step(one, sections, "lstm"),
                "joint_tests": [
                    {k: j.get(k) for k in ("benchmark", "p_value", "verdict", "outcome")}
                    for j in rep.get("joint_tests", [])
                ],
            }
        )
    key, mode, label = one.path_measure
    return {
        "ticker": reports[0]["ticker"],
        "head": one.name,
        "benchmark": one.benchmark,
        "measure": {"key": key, "mode": mode, "label": label},
        "runs": rows,
    }


def compare(
    ws, ticker: str, run_ids: list[str], *, options: ScoringOptions | None = None, write=True
) -> dict:
    """Evaluate each run of ``ticker`` (:func:`lstmfc.evaluation.evaluate.evaluate` with
    ``options``) and put them side by side (:func:`compare_runs`); with ``write``, each
    run's evaluation files and ``models/<TICKER>/compare.png``.

    Returns ``{"comparison": ..., "reports": [...]}``.

    Raises
    ------
    UsageError, ArtifactError, DataError
        As :func:`compare_runs` and :func:`lstmfc.evaluation.evaluate.evaluate`.
    """
    ids = [r.strip() for r in run_ids if r.strip()]
    if len(ids) < 2 or len(set(ids)) != len(ids):
        raise UsageError("--compare needs at least two different run ids, separated by commas")
    reports = [evaluate(ws, ticker, rid, options=options, write=write) for rid in ids]
    comparison = compare_runs(reports)
    if write:
        plot = ws.model_root(ticker) / COMPARE_PLOT
        plot_compare(plot, comparison)
        comparison["plot"] = str(plot)
    return {"comparison": comparison, "reports": reports}
