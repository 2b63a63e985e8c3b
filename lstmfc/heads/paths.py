"""Multi-step path forecasts: the path of ``K`` sessions after each forecast origin.

With ``--steps K`` (a property of the prepared dataset, like the horizon) the forecast
made at the close of ``t`` is the path ``t+h, t+h+1, ..., t+h+K-1``: step ``k`` lies
``h + k - 1`` sessions ahead (:func:`step_horizon`; with the default ``h = 1`` the
path is ``t+1 .. t+K``). Three strategies (``--strategy``; Ben Taieb, Bontempi,
Atiya & Sorjamaa 2012, "A review and comparison of strategies for multi-step ahead time
series forecasting based on the NN5 forecasting competition", Expert Systems with
Applications 39(8)):

* ``mimo``: one network with one output per step (multiple-input multiple-output);
* ``seq2seq``: an encoder-decoder network with one decoder step per path step
  (:func:`lstmfc.network.models.build_model`);
* ``recursive``: the one-step network fed its own forecasts: the forecast log return
  becomes the next input row, ``K`` times (:func:`recursive_log_returns`); only for
  inputs that are functions of the close alone (``logret``, ``close``) and the price
  head.

Leakage with paths
------------------
A training window's path reaches ``K - 1`` sessions beyond its step-1 target, so the
last ``K - 1`` training windows' paths end after the first validation origins, and the
last ``K - 1`` validation windows' after the first test origins. Those windows are
left out of fitting, target scaling, baseline fitting and baseline selection
(:func:`purged_rows`): every target any fit sees is known at the close of the first
origin it is then judged on. The test windows are all scored.

Per-step evaluation
-------------------
Step ``k`` is scored like a one-step forecast at horizon ``h + k - 1``: the head's
metrics and skill tests on that step's targets, baselines fitted for that horizon on
the (purged) training rows, the strongest chosen on the (purged) validation rows for
that step, MASE scaled by the training-period naive MAE at that horizon (Hyndman &
Koehler 2006), and one joint test over the path: Diebold-Mariano (HLN) on the loss
averaged over the steps (:func:`joint_test`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmfc.core.errors import UsageError
from lstmfc.dataset.scaling import MinMaxParams

RECURSIVE_FEATURES = ("logret", "close")
"""Feature sets the recursive strategy can extend from its own forecast close."""


def check_recursive_features(features) -> None:
    """The recursive strategy extends a window from its own forecast: inputs must be
    computable from the close alone.

    Raises
    ------
    UsageError
        A feature set outside :data:`RECURSIVE_FEATURES`.
    """
    bad = [f for f in features if f not in RECURSIVE_FEATURES]
    if bad:
        raise UsageError(
            f"--strategy recursive cannot extend feature set {bad[0]!r} from a forecast "
            f"close; use --features {' or '.join(RECURSIVE_FEATURES)}"
        )


def recursive_log_returns(predict_one, windows, meta: dict[str, Any], steps: int, decode_one):
    """Path of log returns from the one-step network fed its own forecasts.

    Parameters
    ----------
    predict_one : callable
        ``windows (n, L, F) -> raw output (n, 1)`` of the one-step network.
    windows : ndarray, shape (n, lookback, n_features)
        Scaled input windows (the stored train-only scaler).
    meta : dict
        The ``prepare.json`` document of the windows (features, scaler).
    steps : int
        ``K``.
    decode_one : callable
        ``raw (n, 1) -> forecast one-session log return (n,)`` (the head's scaling).

    Returns
    -------
    ndarray, shape (n, K)
        Forecast log return from the origin to each step (cumulative sums).

    Notes
    -----
    Each forecast log return ``r`` becomes the next input row: the ``logret`` feature
    is ``r`` itself, the ``close`` feature the last close times ``exp(r)``, both scaled
    with the stored scaler; the oldest row drops out. Step ``k`` is thus forecast from
    ``k - 1`` forecasts instead of realised values, the recursive strategy of Ben
    Taieb et al. (2012).
    """

    check_recursive_features(meta["features"])
    scaler = MinMaxParams.from_json(meta["scaler"])
    names = list(meta["feature_names"])
    x = np.array(windows, dtype="float64", copy=True)
    close_col = names.index("close") if "close" in names else None
    last_close = None
    if close_col is not None:  # unscaled close of the window's last row
        last_close = scaler.inverse_transform(x[:, -1, :])[:, close_col]
    out = np.zeros((len(x), int(steps)))
    total = np.zeros(len(x))
    for k in range(int(steps)):
        r = np.asarray(decode_one(predict_one(x.astype("float32"))), dtype="float64")
        total = total + r
        out[:, k] = total
        row = np.zeros((len(x), len(names)))
        for j, name in enumerate(names):
            if name == "logret":
                row[:, j] = r
            elif name == "close":
                last_close = last_close * np.exp(r)
                row[:, j] = last_close
        x = np.concatenate([x[:, 1:, :], scaler.transform(row)[:, None, :]], axis=1)
    return out
