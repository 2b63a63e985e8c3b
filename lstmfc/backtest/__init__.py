"""Walk-forward backtests of the network against the baselines, locally or on Dask.

A single 70/15/15 split scores one period. A walk-forward backtest re-fits the scaler
and the network before each of several consecutive test blocks, on data before that
block only, and concatenates the blocks' forecasts into one out-of-sample series per
ticker (Tashman 2000, "Out-of-sample tests of forecasting accuracy", IJF 16(4)).

One concern per module:

* :mod:`lstmfc.backtest.plan`: fold planning (which windows each fit trains on and
  each fold tests; the horizon gap);
* :mod:`lstmfc.backtest.unit`: the unit of work (one ticker x one fit), a pure
  function of its typed input;
* :mod:`lstmfc.backtest.executors`: running units on this machine (joblib) or a Dask
  cluster, with identical results;
* :mod:`lstmfc.backtest.config`: the options, grouped by the layer owning each;
* :mod:`lstmfc.backtest.scoring`: each fold and the out-of-sample series judged by
  :mod:`lstmfc.evaluation.judge`;
* :mod:`lstmfc.backtest.driver`: reading the tickers, running the units, writing
  ``data/backtests/<TICKER>/<id>/``.
"""

from lstmfc.backtest.config import BacktestConfig
from lstmfc.backtest.driver import TickerJob, backtest, prepare_ticker
from lstmfc.backtest.executors import Execution, execute_units, local_threads, scheduler_address
from lstmfc.backtest.plan import Fit, Fold, FoldPlan, PlanOptions, check_plan_options, plan_folds
from lstmfc.backtest.scoring import score_ticker, summarise
from lstmfc.backtest.unit import (
    FoldArrays,
    Unit,
    UnitResult,
    fold_arrays,
    run_unit,
    run_unit_safe,
    scaler_rows,
)

__all__ = [
    "BacktestConfig",
    "Fit",
    "Fold",
    "Execution",
    "FoldArrays",
    "FoldPlan",
    "PlanOptions",
    "TickerJob",
    "Unit",
    "UnitResult",
    "backtest",
    "check_plan_options",
    "execute_units",
    "fold_arrays",
    "local_threads",
    "plan_folds",
    "prepare_ticker",
    "run_unit",
    "run_unit_safe",
    "scheduler_address",
    "scaler_rows",
    "score_ticker",
    "summarise",
]
