"""Chronological split arithmetic: cuts at cumulative fractions, the smallest history,
the fractions' validation, and plans that would leave a split empty."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstmfc.core.errors import DataError, UsageError
from lstmfc.dataset.split import (
    DEFAULT_SPLIT,
    min_windows,
    parse_split,
    plan_split,
    scaler_fit_rows,
    split_counts,
    split_index,
)


def test_split_counts_cut_at_cumulative_fractions():
    assert split_counts(90, (0.7, 0.15, 0.15)) == (63, 13, 14)  # cuts at 63, floor(76.5)
    assert split_counts(100, (0.7, 0.15, 0.15)) == (70, 15, 15)
    assert split_counts(20, (0.7, 0.15, 0.15)) == (14, 3, 3)  # 0.15 * 20 is 3.0000000000000004
    # floor for each split alone would give 3479 / 745 / 747 (test 1.35 windows over 15%)
    assert split_counts(4971, (0.7, 0.15, 0.15)) == (3479, 746, 746)
    assert min_windows((0.7, 0.15, 0.15)) == 4  # 2 / 1 / 1; 3 windows would give 2 / 0 / 1
    assert min_windows((0.5, 0.25, 0.25)) == 3
    assert min_windows((0.98, 0.01, 0.01)) == 51  # 49 / 1 / 1


@given(
    n=st.integers(1, 100_000),
    a=st.floats(0.01, 0.98),
    b=st.floats(0.01, 0.98),
)
def test_split_counts_each_within_one_window_of_its_fraction(n, a, b):
    fr = (a / (1 + b + a), b / (1 + b + a), 1 / (1 + b + a))
    counts = split_counts(n, fr)
    assert sum(counts) == n and min(counts) >= 0
    for c, f in zip(counts, fr, strict=True):
        assert abs(c - f * n) < 1 + 1e-6


@pytest.mark.parametrize(
    "spec, exc_type, message",
    [
        ("0.7,0.2,0.2", DataError, "split fractions 0.7,0.2,0.2 sum to 1.1, not 1"),
        ("0.85,0,0.15", DataError, "split 0.85,0,0.15 leaves the val split empty"),
        ("1,0,0", DataError, "split 1,0,0 leaves the val split empty"),
        (
            "0.8,0.2",
            DataError,
            "split 0.8,0.2 needs three fractions: train,val,test (e.g. 0.70,0.15,0.15)",
        ),
        (
            "a,b,c",
            UsageError,
            "--split 'a,b,c' is not a comma list of numbers (e.g. 0.70,0.15,0.15)",
        ),
    ],
)
def test_parse_split_errors(spec, exc_type, message):
    with pytest.raises(exc_type) as exc:
        parse_split(spec)
    assert str(exc.value) == message


def test_plan_split_none_when_a_split_would_be_empty():
    assert plan_split(63, 60, 1, DEFAULT_SPLIT) is None  # 3 windows: val empty
    assert plan_split(64, 60, 1, DEFAULT_SPLIT).counts == (2, 1, 1)
    assert plan_split(60, 60, 1, DEFAULT_SPLIT) is None  # no window at all


def test_plan_rows_and_scaler_rows_by_hand():
    """N = 100 rows, L = 10, h = 1: 90 windows -> 63 / 13 / 14 (as test_windows.py's
    hand-computed alignment); train ends on rows 9..71, targets 10..72."""
    plan = plan_split(100, 10, 1, DEFAULT_SPLIT)
    assert plan.n_windows == 90 and plan.counts == (63, 13, 14)
    assert plan.end_rows("train") == (9, 71) and plan.target_rows("train") == (10, 72)
    assert plan.end_rows("val") == (72, 84) and plan.end_rows("test") == (85, 98)
    assert scaler_fit_rows(plan) == (0, 71)
    assert [split_index(s) for s in ("train", "val", "test")] == [0, 1, 2]
    with pytest.raises(UsageError, match="unknown split 'dev'; use train, val or test"):
        split_index("dev")
