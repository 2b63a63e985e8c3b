"""The :class:`Head` base class: the interface every forecast head implements.

Shapes and frames used throughout
---------------------------------
* **target rows** (``targets``): a pandas DataFrame with one row per window, indexed by
  the window's end date ``t``, as :meth:`lstmfc.dataset.prepare.Prepared.split_targets` returns
  it: ``close`` (close at ``t``, currency), ``target_date``, ``target_price`` (close at
  ``t + h``, currency), ``target_logret`` (``log(close[t+h] / close[t])``),
  ``target_direction`` (1 if ``close[t+h] > close[t]`` else 0).
* **raw network output** (``raw``): ``(n_windows, n_outputs)`` float64.
* **forecasts**: a dict ``model name -> ndarray`` in the head's natural units, one entry
  per model on the same windows (``"lstm"`` and each baseline), shape ``(n_windows,)``
  for one-output heads.
* **closes** and **rows** for baselines: the unscaled close series ``(n_rows,)`` and the
  window end rows ``(n_windows,)`` (:mod:`lstmfc.forecasters.price`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from lstmfc.heads.registry import check_path_options


@dataclass
class Scores:
    """What :meth:`Head.score` returns for one set of forecasts.

    Attributes
    ----------
    metrics : dict
        Model name -> metric name -> value (plain floats or None).
    tests : list of dict
        Skill tests, JSON-ready; each has ``model``, ``benchmark``, ``test``,
        ``statistic``, ``p_value``, ``verdict``. The first is the headline test.
    trading : dict or None
        Strategy name -> trading figures (:func:`lstmfc.stats.trading.long_flat_backtest`);
        None for heads without a trading view.
    extra : dict
        Head-specific report sections (e.g. ``mcs``, ``var_backtests``), merged into the
        evaluation report at the top level and shown by
        :meth:`lstmfc.cli.views.HeadView.extra_tables`.
    """

    metrics: dict[str, dict[str, Any]]
    tests: list[dict[str, Any]]
    trading: dict[str, dict[str, Any]] | None
    extra: dict[str, Any] = field(default_factory=dict)


def log_details(row) -> dict:
    """A forecast-log row's ``details`` JSON as a dict (empty when absent or unreadable)."""
    import json

    raw = row.get("details")
    if not raw:
        return {}
    try:
        out = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (ValueError, TypeError):
        return {}
    return out if isinstance(out, dict) else {}


class Head:
    """Base class of the forecast heads (see :mod:`lstmfc.heads`).

    Subclasses set the class attributes and implement the methods that raise
    ``NotImplementedError``; the others have defaults that fit one-output heads.
    """

    #: ``--head`` name (the registry key).
    name: ClassVar[str] = ""
    #: One line for ``--help`` and the docs.
    help: ClassVar[str] = ""
    #: Option names this head accepts (stored in the manifest as ``head_options``).
    OPTIONS: ClassVar[tuple[str, ...]] = ()
    #: The baseline the headline skill test compares the network with.
    benchmark: ClassVar[str] = ""
    #: Network outputs per window (one per path step for path heads, see
    #: :meth:`configure_path`).
    n_outputs: int = 1
    #: Steps of the forecast path (:mod:`lstmfc.heads.paths`) and how they are forecast.
    steps: int = 1
    strategy: str = "mimo"
    #: Activation of the output layer (a Keras activation name, or None = linear).
    activation: ClassVar[str | None] = None
    #: Keras loss identifier the network is compiled with.
    loss: ClassVar[str] = ""
    #: Keras metrics the network is compiled with (logged per epoch).
    compile_metrics: ClassVar[tuple[str, ...]] = ()
    #: Nouns of the verdict sentences (:func:`lstmfc.stats.wording.headline_sentence`):
    #: the headline test (a format string with ``{test}``), what the network forecasts
    #: and the benchmark's forecasts; ``subject`` None gives no explanation.
    headline_label: ClassVar[str] = "{test}"
    subject: ClassVar[str | None] = None
    benchmark_label: ClassVar[str] = ""
    #: Further reference baselines the conclusion names: ``(name, label)`` pairs.
    also_against: ClassVar[tuple[tuple[str, str], ...]] = ()

    # Paths (``--steps K``, :mod:`lstmfc.heads.paths`); a head with ``path_loss`` None
    # forecasts one horizon only and ``--steps`` above 1 is refused for it.
    #: Loss of the joint test over a path: ``"squared"`` (errors of the forecast
    #: values) or ``"zero_one"`` (calls at P = 0.5 against the realised direction).
    path_loss: ClassVar[str | None] = None
    #: The recursive strategy can feed this head's forecasts back as inputs.
    recursive: ClassVar[bool] = False
    #: How a path compares with the benchmark by step (``evaluate --compare`` and the
    #: plot): ``(metric key, "ratio" or "difference", label)``.
    path_measure: ClassVar[tuple[str, str, str]] = ("", "ratio", "")
    #: Unit of the forecasts: ``"currency"`` paths are drawn over the closes.
    forecast_unit: ClassVar[str] = ""

    def __init__(self) -> None:
        pass

    # ------------------------------------------------------------------ paths
    def step_metrics(self, metrics, truth, forecasts, closes, train_rows, horizon) -> None:
        """Add per-step metrics that need the training period to ``metrics`` (in place):
        none by default; the price head adds MASE."""
        return None

    def configure_path(self, steps: int, strategy: str = "mimo") -> Head:
        """Forecast a path of ``steps`` sessions (:mod:`lstmfc.heads.paths`); returns ``self``.

        ``mimo`` and ``seq2seq`` networks have one output per step; a ``recursive`` one
        has one output and is fed its own forecasts (:meth:`forecast`).

        Raises
        ------
        UsageError
            A head or strategy that cannot forecast paths (:func:`check_path_options`).
        """

        self.steps = check_path_options(int(steps), strategy, self.name)
        self.strategy = strategy
        if self.steps > 1 and strategy != "recursive":
            self.n_outputs = self.steps
        return self

    # ------------------------------------------------------------------ calibration
    calibrates: ClassVar[bool] = False
    """True for heads calibrated on the validation split after training (quantile:
    conformal); they implement :meth:`fit_calibration` and :meth:`calibrate`, and a
    backtest unit then forecasts its validation windows too."""

    def fit_calibration(self, val_targets, val_forecast) -> dict[str, Any]:
        """Calibration (JSON) fitted on validation rows only (heads with
        :attr:`calibrates`)."""
        raise NotImplementedError

    def calibrate(self, calibration, targets, forecast, *, rows=None, horizon=1, carry=None):
        """Calibrated forecasts ``({name: array}, carry)`` (heads with :attr:`calibrates`)."""
        raise NotImplementedError

    def calibrated_forecasts(self, manifest: dict[str, Any], targets, forecast, horizon=1) -> dict:
        """Forecasts added next to the network's in ``evaluate``, from the calibration
        stored in the bundle manifest (none by default)."""
        return {}

    def step_head(self) -> Head:
        """This head for one step: itself, or for a path a one-step copy (same options) that
        scores one step of the path."""
        import copy

        if self.steps == 1:
            return self
        one = copy.copy(self)
        one.steps, one.strategy, one.n_outputs = 1, "mimo", 1
        return one

    def forecast(self, scaling, predict_raw, windows, targets, prepare_meta) -> np.ndarray:
        """Forecasts of ``windows`` in natural units: :meth:`decode` of the network's
        output by default (``(n,)``, or ``(n, steps)`` for a path). Heads whose
        strategy needs more than one network call (recursive paths) override it.

        ``predict_raw`` maps windows ``(n, L, F)`` to raw output ``(n, n_outputs)``;
        ``prepare_meta`` is the windows' ``prepare.json`` (features, scaler).
        """
        return self.decode(scaling, predict_raw(windows), targets)

    # ------------------------------------------------------------------ options
    @property
    def options(self) -> dict[str, Any]:
        """The head's options, JSON-ready (``head_options`` in a manifest)."""
        return {k: getattr(self, k) for k in self.OPTIONS}

    def report_keys(self) -> dict[str, Any]:
        """Extra top-level keys of the evaluation and training ``--json`` documents."""
        return {}

    def describe(self) -> str:
        """Short description, e.g. ``"price (logret)"`` (titles, progress lines)."""
        return self.name

    # ------------------------------------------------------------------ network
    def make_loss(self, keras):
        """The loss the network is compiled with: :attr:`loss` (a Keras loss name) by
        default; heads with their own loss return a function of :mod:`lstmfc.heads.losses`."""
        return self.loss

    def build_output(self, keras, x, regularizer=None):
        """The output layer(s) on top of the network's last hidden tensor ``x``.

        Default: ``Dense(n_outputs, activation)`` named after the head, returning
        ``(batch, n_outputs)``.
        """
        return keras.layers.Dense(
            self.n_outputs,
            activation=self.activation,
            kernel_regularizer=regularizer,
            name=self.name,
        )(x)

    # ------------------------------------------------------------------ targets
    def fit_scaling(self, train_targets) -> dict[str, Any]:
        """Fit the target scaling on the TRAINING windows' target rows only (JSON)."""
        raise NotImplementedError

    def check_scaling(self, scaling: dict[str, Any]) -> None:
        """Raise ``ValueError`` (one line) if a stored scaling entry is malformed."""
        raise NotImplementedError

    def encode(self, scaling: dict[str, Any], targets) -> np.ndarray:
        """Training target of each window, ``(n_windows,)`` float32."""
        raise NotImplementedError

    def decode(self, scaling: dict[str, Any], raw: np.ndarray, targets) -> np.ndarray:
        """Network output ``(n_windows, n_outputs)`` -> forecasts in natural units.

        ``targets`` supplies the per-window context (e.g. the close at ``t``); only its
        ``close`` column may be read (the future columns are unknown at forecast time).
        """
        raise NotImplementedError

    def truth(self, targets) -> np.ndarray:
        """The realised value each forecast is scored against, natural units."""
        raise NotImplementedError

    def step_targets(self, targets, column: str, dtype: str) -> np.ndarray:
        """Target ``column`` as shape ``(n,)``, or for a path of K steps the columns
        ``column``, ``column_2`` .. ``column_K``
        (:func:`lstmfc.dataset.targets.add_path_targets`) as shape ``(n, K)``."""
        if self.steps == 1:
            return np.asarray(targets[column], dtype=dtype)
        cols = [column, *(f"{column}_{k}" for k in range(2, self.steps + 1))]
        return np.stack([np.asarray(targets[c], dtype=dtype) for c in cols], axis=1)

    # ------------------------------------------------------------------ baselines
    def baselines(self, *, lookback: int, sma_k: int = 20, ema_span: int = 20) -> dict:
        """Unfitted baselines keyed by report name (:mod:`lstmfc.forecasters.price`)."""
        raise NotImplementedError

    def baseline_forecast(self, baseline, closes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """A fitted baseline's forecasts for window end ``rows``, natural units."""
        raise NotImplementedError

    # ------------------------------------------------------------------ scoring
    #: What :meth:`selection_loss` measures (shown in reports), e.g. ``"MSE"``.
    selection_criterion: ClassVar[str] = ""

    def selection_loss(self, targets, forecast: np.ndarray) -> float:
        """Loss of one forecast series on ``targets`` (lower is better): the criterion
        the strongest simple baseline is chosen by, the loss its skill test compares."""
        raise NotImplementedError

    def choose_best(self, val_targets, val_forecasts: dict[str, np.ndarray]) -> dict[str, Any]:
        """The strongest simple baseline, chosen on the VALIDATION windows only.

        Parameters
        ----------
        val_targets : DataFrame
            Target rows of the validation windows.
        val_forecasts : dict
            Each fitted baseline's forecasts of those windows (the network's are not
            needed and are ignored if present).

        Returns
        -------
        dict
            ``name`` (lowest :meth:`selection_loss`; ties go to the earlier baseline),
            ``criterion``, ``chosen_on`` (``"validation"``), ``n_validation`` and
            ``validation``: the loss of every baseline.
        """
        losses = {
            name: float(self.selection_loss(val_targets, f))
            for name, f in val_forecasts.items()
            if name != "lstm"
        }
        best = min(losses, key=lambda k: (losses[k], list(losses).index(k)))
        return {
            "name": best,
            "criterion": self.selection_criterion,
            "chosen_on": "validation",
            "n_validation": int(len(val_targets)),
            "validation": losses,
        }

    def score(
        self,
        targets,
        forecasts: dict[str, np.ndarray],
        *,
        horizon: int,
        cost_bps: float = 0.0,
        alpha: float = 0.05,
        trading: bool = True,
        best: str | None = None,
    ) -> Scores:
        """Metrics per model, skill tests and the trading view on ``targets``' windows.

        ``best`` names the forecast (a key of ``forecasts``) of the strongest simple
        baseline, chosen beforehand on validation data (:meth:`choose_best`); the network
        is then also tested against it, right after the headline test.
        """
        raise NotImplementedError

    def fold_summary(self, metrics: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """Per-fold figures for a backtest table, and whether the network beat the benchmark."""
        raise NotImplementedError

    def summary_row(self, metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Figures of one ticker's row in a backtest's cross-ticker summary."""
        return self.fold_summary(metrics)[0]

    def forecast_table(self, targets, forecasts: dict[str, np.ndarray]) -> dict[str, Any]:
        """Columns of a backtest's ``forecasts.csv`` besides dates and fold numbers."""
        raise NotImplementedError

    # ------------------------------------------------------------------ training
    def val_metrics(self, scaling, raw: np.ndarray, val_targets, train_targets) -> dict:
        """Validation-split figures of the kept weights (``train`` reports them)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ forecast log
    def live_baselines(self, closes, train_rows, horizon: int) -> dict[str, Any]:
        """Parameters (JSON) of the baselines ``predict`` logs next to each forecast, fit
        on the training rows at train time and stored in the manifest."""
        return {}

    def live_inputs(self, bundle, raw, as_of, log) -> dict[str, Any] | None:
        """What ``predict`` hands :meth:`log_values` as ``live``: by default the
        manifest's ``live_baselines`` as stored at train time.

        Heads whose logged baselines filter the stored series (vol: the GARCH variance
        at ``as_of`` from the stored parameters) or carry state in the forecast log
        (quantile: the ACI state) override it.

        Parameters
        ----------
        bundle : lstmfc.bundles.bundle.Bundle
        raw : pandas.DataFrame
            The stored series (:mod:`lstmfc.data.store` layout).
        as_of : pandas.Timestamp
            Last stored session, the forecast origin.
        log : lstmfc.data.forecastlog.ForecastLog
            The forecast log, read only.
        """
        return bundle.manifest.get("live_baselines")

    def log_values(self, forecast, close_as_of, live=None, horizon: int = 1) -> dict[str, Any]:
        """Forecast-log columns of one forecast (see :mod:`lstmfc.data.forecastlog`);
        ``details`` (a dict) holds the logged baselines' forecasts from ``live``."""
        raise NotImplementedError

    def score_logged(self, row: dict[str, Any], realised_close: float) -> dict[str, Any]:
        """Columns filled in when a logged forecast's target close is known."""
        raise NotImplementedError

    def live_summary(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The live track record of scored log rows (``lstmfc score``)."""
        raise NotImplementedError
