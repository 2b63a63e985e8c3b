"""Bounds of every numeric command-line option, and the check of an integer option.

The command line shows them in ``--help`` and the library enforces them, both from
here, so help and checks cannot drift apart. Each bound stops a value from making a
command run or allocate without end (``tests/test_cli_robust.py`` draws option values
with Hypothesis and checks that every command answers within seconds).
"""

from __future__ import annotations

import secrets
from typing import Any

from lstmfc.core.errors import UsageError

MAX_LOOKBACK = 2520
"""Longest input window (``--lookback``), ten years of about 252 sessions. Training time
and the memory of the windows grow with it (``n_windows x lookback x features``)."""

MAX_HORIZON = 2520
"""Farthest target (``--horizon``), ten years of sessions."""

MIN_SPLIT_FRACTION = 0.01
"""Smallest split fraction (1 % of the windows): the number of windows that gives every
split one grows as 1 / fraction (:func:`lstmfc.dataset.split.min_windows`), and a fraction of
1e-300 would make that search endless."""

MAX_ENSEMBLE = 50
"""Most networks per fit (``--ensemble``); each one is a full fit, so time grows with it."""

MAX_EPOCHS = 10_000
"""Most epochs (``--epochs``); early stopping usually ends far sooner."""

MAX_BATCH = 1 << 16
"""Largest mini-batch (``--batch-size``)."""

MAX_PARAMS = 20_000_000
"""Most trainable weights a network may have (:meth:`lstmfc.network.models.ModelSpec.validate`).
The reference network has about 117 thousand; 20 million is some 170 times that,
already hours per epoch on a CPU, while ``--units 4096,4096,...`` (8 layers) would be
about 1e9 weights (4 GB before Adam's two moment buffers): refused before anything is
built."""

MAX_TRAIN_BYTES = 8 * 2**30
"""Most memory one network's training may need by
:func:`lstmfc.workflows.train.estimate_train_bytes` (8 GiB): ``--batch-size``, ``--lookback`` and
``--units`` multiply, e.g. ``--units 1024 --batch-size 4096`` on 60-session windows
would need about 17 GB."""

MAX_BASELINE_WINDOW = 2520
"""Longest ``--sma`` window and ``--ema`` span: ten years of about 252 sessions (a
window longer than the training history fails later with a DataError naming it)."""

MAX_FITS = 500
"""Most network fits per ticker in a backtest (fits x ``--ensemble``,
:func:`lstmfc.backtest.plan.check_fit_count`). Each fit trains a network from scratch:
``--step 1`` on 20 years of sessions would plan some 1,500 (hours even for a tiny
network); weekly refits over six years are about 300."""

MAX_JOBS_PER_CORE = 4
"""``--jobs`` is at most this many times the cores this process may use
(:func:`lstmfc.backtest.executors.check_jobs`): every local worker is a process that
loads the Keras backend (some hundreds of MB), each training with
``max(1, cores // jobs)`` threads, so beyond a few per core they only add memory and
switching."""

MAX_STEPS = 30
"""Longest forecast path (``--steps``), six weeks of sessions: each step is another
target, network output and evaluation."""


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    """``value`` if it is an integer in ``[lo, hi]``.

    Raises
    ------
    UsageError
        Naming the option, its range and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise UsageError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
    return value


def check_seed(seed: int | None, ensemble: int) -> int | None:
    """``seed`` if it is an integer from 0 to ``2**32 - 1 - ensemble``; ``None`` passes.

    Member ``i`` of an ensemble is seeded with ``seed + i``, and the seeds of NumPy and
    the Keras backends are 32-bit unsigned integers (``numpy.random.seed``), so every
    member's seed stays below ``2**32 - 1``. ``ensemble`` must already be checked.

    Raises
    ------
    UsageError
        Naming ``--seed``, its range and the value.
    """
    if seed is None:
        return None
    return check_int("--seed", seed, 0, 2**32 - 1 - ensemble)


def resolve_seed(seed: int | None, ensemble: int) -> int:
    """:func:`check_seed`, and for ``None`` a fresh seed from ``0 .. 2**31 - 1``
    (``secrets.randbelow``), which the caller records so the fit can be repeated.

    Raises
    ------
    UsageError
        As :func:`check_seed`.
    """
    checked = check_seed(seed, ensemble)
    return secrets.randbelow(2**31) if checked is None else checked
