"""Skill across a universe of tickers: each ticker's headline test and its test against
the strongest simple baseline, with p-values adjusted for testing many tickers (Holm).
"""

from __future__ import annotations

from typing import Any

from lstmfc.stats.multiple import MULTIPLE_TESTING_METHOD, adjust_p_values
from lstmfc.stats.wording import verdict_line


def skill_summary(docs: dict[str, dict[str, Any] | None], alpha: float) -> dict[str, Any]:
    """Skill across a universe of tickers, with multiple-testing adjusted p-values.

    Parameters
    ----------
    docs : dict
        Ticker -> its scoring document (an ``evaluate`` report or a backtest's
        ``overall``: ``skill``, ``skill_tests``, ``best_baseline``, ``verdict``), or
        ``None`` for a ticker that failed.
    alpha : float
        Significance level.

    Returns
    -------
    dict
        ``method`` (:data:`lstmfc.stats.metrics.MULTIPLE_TESTING_METHOD`), ``alpha``,
        ``rows`` (per ticker: ``test``, ``statistic``, ``p_value`` and
        ``p_value_adjusted`` of the headline test, ``best_baseline``, ``p_value_best``
        and ``p_value_best_adjusted`` of the test against it, ``verdict`` and
        ``verdict_short`` (without the clause naming the benchmark as the strongest
        baseline, for table cells),
        ``beats_benchmark`` / ``beats_benchmark_adjusted``), ``n_ok``, ``n_beat``,
        ``n_beat_adjusted``, ``n_beat_best_adjusted``. Each family (headline tests;
        tests against the strongest baseline) is adjusted on its own.
    """
    rows = []
    for t, doc in docs.items():
        if doc is None:
            rows.append({"ticker": t, "ok": False})
            continue
        sk = doc["skill"]
        best = (doc.get("best_baseline") or {}).get("name")
        vs_best = next(
            (
                x
                for x in doc.get("skill_tests", [])
                if x.get("model") == "lstm" and x.get("benchmark") == best
            ),
            sk if best == sk.get("benchmark") else None,
        )
        rows.append(
            {
                "ticker": t,
                "ok": True,
                "test": sk.get("test"),
                "statistic": sk.get("statistic"),
                "p_value": sk.get("p_value"),
                "best_baseline": best,
                "p_value_best": (vs_best or {}).get("p_value"),
                "verdict": doc.get("verdict") or sk.get("verdict"),
                "verdict_short": verdict_line(
                    doc.get("skill_tests") or [sk], sk.get("benchmark", ""), best, note_same=False
                ),
            }
        )
    ok = [r for r in rows if r["ok"]]
    for key in ("p_value", "p_value_best"):
        for r, adj in zip(ok, adjust_p_values([r[key] for r in ok]), strict=True):
            r[f"{key}_adjusted"] = adj
    for r in ok:
        r["beats_benchmark"] = r["p_value"] is not None and r["p_value"] < alpha
        r["beats_benchmark_adjusted"] = (
            r["p_value_adjusted"] is not None and r["p_value_adjusted"] < alpha
        )
        r["beats_best_adjusted"] = (
            r["p_value_best_adjusted"] is not None and r["p_value_best_adjusted"] < alpha
        )
    return {
        "method": MULTIPLE_TESTING_METHOD,
        "alpha": alpha,
        "rows": rows,
        "n_ok": len(ok),
        "n_beat": sum(r["beats_benchmark"] for r in ok),
        "n_beat_adjusted": sum(r["beats_benchmark_adjusted"] for r in ok),
        "n_beat_best_adjusted": sum(r["beats_best_adjusted"] for r in ok),
    }
