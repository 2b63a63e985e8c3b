"""The path's joint test of the judging routine (lstmfc.evaluation.judge), against hand
computation: the per-step losses of a price and of a direction path, and the
Diebold-Mariano (HLN) statistic on their average over the steps (tests/independent.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from lstmfc.evaluation.judge import joint_test, path_losses
from tests.independent import dm_hln


def test_squared_path_losses_by_hand():
    head = SimpleNamespace(path_loss="squared")
    truth = np.array([[1.0, 2.0], [3.0, 4.0]])
    forecasts = np.array([[1.5, 2.0], [2.0, 4.0]])
    losses, name = path_losses(head, truth, forecasts)
    assert name == "squared"
    np.testing.assert_array_equal(losses, [[0.25, 0.0], [1.0, 0.0]])


def test_zero_one_path_losses_call_up_only_above_one_half():
    head = SimpleNamespace(path_loss="zero_one")
    truth = np.array([[1, 0], [0, 1]])
    # calls: up, up / down, down (P = 0.5 is not a call up)
    probabilities = np.array([[0.7, 0.6], [0.2, 0.5]])
    losses, name = path_losses(head, truth, probabilities)
    assert name == "zero-one"
    np.testing.assert_array_equal(losses, [[0.0, 1.0], [0.0, 1.0]])


@pytest.mark.parametrize("loss", ["squared", "zero-one"])
def test_joint_test_is_dm_on_the_loss_averaged_over_steps(loss):
    rng = np.random.default_rng(7)
    model = rng.random((200, 3))
    bench = rng.random((200, 3)) + 0.05
    doc = joint_test((model, bench), horizon=1, alpha=0.05, name="drift", loss=loss)
    d = model.mean(axis=1) - bench.mean(axis=1)
    stat, p = dm_hln(d)
    assert doc["statistic"] == pytest.approx(stat, rel=1e-12)
    assert doc["p_value"] == pytest.approx(p, rel=1e-9)
    assert doc["details"]["mean_loss_differential"] == pytest.approx(d.mean(), rel=1e-12)
    assert doc["details"]["loss"] == f"{loss}, averaged over steps"
    assert (doc["model"], doc["benchmark"], doc["scope"]) == ("lstm", "drift", "path")
