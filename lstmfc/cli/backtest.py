"""The ``backtest`` command: walk-forward evaluation, locally or on a Dask cluster."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lstmfc.backtest import BacktestConfig, backtest
from lstmfc.backtest.executors import Execution
from lstmfc.cli.app import (
    AlphaOpt,
    AttentionOpt,
    BatchOpt,
    CellOpt,
    ClipOpt,
    CostOpt,
    DebugOpt,
    DenseOpt,
    DropoutOpt,
    EmaOpt,
    EnsembleOpt,
    EpochsOpt,
    FeaturesOpt,
    HeadOpt,
    HomeOpt,
    HorizonOpt,
    JsonOpt,
    L2Opt,
    LookbackOpt,
    LossOpt,
    LrOpt,
    PatienceOpt,
    PriceTargetOpt,
    QuantilesOpt,
    SeedOpt,
    SmaOpt,
    StepsOpt,
    StrategyOpt,
    TickersFileOpt,
    UnitsOpt,
    emit_json,
    handle_errors,
    warn,
)
from lstmfc.cli.common import ticker_names
from lstmfc.cli.progress import make_backtest_progress
from lstmfc.cli.render_backtest import render_backtest
from lstmfc.core.config import DEFAULT_FEATURES, Workspace
from lstmfc.core.limits import MAX_FITS, MAX_JOBS_PER_CORE
from lstmfc.dataset.prepare import DEFAULT_HORIZON, DEFAULT_LOOKBACK
from lstmfc.evaluation.judge import DEFAULT_SCORING
from lstmfc.heads.price import DEFAULT_PRICE_TARGET
from lstmfc.workflows.train import DEFAULT, DEFAULT_UNITS

commands = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
"""The commands of this module (registered with the root app by :data:`lstmfc.cli.app.COMMANDS`)."""


@commands.command("backtest")
@handle_errors
def backtest_cmd(
    tickers: Annotated[
        list[str] | None,
        typer.Argument(
            help="Tickers with stored data (or use --tickers-file).", show_default=False
        ),
    ] = None,
    tickers_file: TickersFileOpt = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="'sample': fetch a bundled sample first if it is not stored yet.",
            show_default=False,
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(
            "--folds",
            help="Consecutive test blocks, >= 1 and at most the test windows (default 5).",
            show_default=False,
        ),
    ] = None,
    step: Annotated[
        int | None,
        typer.Option(
            "--step",
            help=f"Trading days per test block, >= 1 (at most {MAX_FITS} fits per ticker: "
            "pair a small step with --retrain-every).",
            show_default=False,
        ),
    ] = None,
    test_size: Annotated[
        int | None,
        typer.Option(
            "--test-size",
            help="Trading days tested in all, >= 1 and fewer than the windows (default: "
            "the last 30% of windows).",
            show_default=False,
        ),
    ] = None,
    retrain_every: Annotated[
        int | None,
        typer.Option(
            "--retrain-every",
            help="Refit only after this many trading days, >= 1 (default: before every "
            f"fold). Fits x --ensemble may be at most {MAX_FITS} per ticker.",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", help="Training window: expanding or rolling.")
    ] = "expanding",
    train_size: Annotated[
        int | None,
        typer.Option(
            "--train-size",
            help="Rolling window: windows per fit, >= 3 (default: as many as fold 1 has).",
            show_default=False,
        ),
    ] = None,
    val_fraction: Annotated[
        float,
        typer.Option("--val-fraction", help="Share of each fit's windows for early stop, (0, 1)."),
    ] = 0.15,
    lookback: LookbackOpt = DEFAULT_LOOKBACK,
    horizon: HorizonOpt = DEFAULT_HORIZON,
    steps: StepsOpt = 1,
    strategy: StrategyOpt = DEFAULT.strategy,
    attention: AttentionOpt = DEFAULT.attention,
    features: FeaturesOpt = ",".join(DEFAULT_FEATURES),
    head: HeadOpt = DEFAULT.head,
    cell: CellOpt = DEFAULT.cell,
    units: UnitsOpt = DEFAULT_UNITS,
    dropout: DropoutOpt = DEFAULT.dropout,
    dense: DenseOpt = DEFAULT.dense,
    epochs: EpochsOpt = DEFAULT.epochs,
    batch_size: BatchOpt = DEFAULT.batch_size,
    lr: LrOpt = DEFAULT.lr,
    clipnorm: ClipOpt = DEFAULT.clipnorm,
    l2: L2Opt = DEFAULT.l2,
    patience: PatienceOpt = DEFAULT.patience,
    ensemble: EnsembleOpt = DEFAULT.ensemble,
    seed: SeedOpt = None,
    price_target: PriceTargetOpt = DEFAULT_PRICE_TARGET,
    loss: LossOpt = None,
    quantiles: QuantilesOpt = None,
    sma: SmaOpt = DEFAULT_SCORING.sma_k,
    ema: EmaOpt = DEFAULT_SCORING.ema_span,
    cost_bps: CostOpt = DEFAULT_SCORING.cost_bps,
    alpha: AlphaOpt = DEFAULT_SCORING.alpha,
    executor: Annotated[
        str, typer.Option("--executor", help="local (joblib processes) or dask.")
    ] = "local",
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            help="Parallel worker processes (local, or a local Dask cluster), 1 to "
            f"{MAX_JOBS_PER_CORE} x the machine's cores; no more start than there are fits.",
        ),
    ] = 1,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler tcp://HOST:PORT (default: $DASK_SCHEDULER_ADDRESS, "
            "else a local cluster of --jobs workers).",
            show_default=False,
        ),
    ] = None,
    save_models: Annotated[
        bool, typer.Option("--save-models/--no-save-models", help="Keep each fit's network.")
    ] = True,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Walk-forward backtest: refit scaler and network before each test block, score them all.

    Writes data/backtests/TICKER/ID/ (backtest.json, forecasts.csv, models/).
    Exit code 1 if any ticker failed (the others still finish).

    Example: lstmfc backtest SP500 --source sample --folds 5 --units 8 --epochs 2

    On a Dask cluster: lstmfc backtest --tickers-file universe.txt --executor dask
    --scheduler tcp://10.0.0.5:8786
    """
    values = dict(locals())  # the command's options, before any other name is bound

    names = ticker_names(tickers, tickers_file)
    options = BacktestConfig.option_names()
    cfg = BacktestConfig.build(**{k: v for k, v in values.items() if k in options})
    ws = Workspace.resolve(home)
    result = backtest(
        ws,
        names,
        cfg,
        source=source,
        execution=Execution(executor, jobs, scheduler),
        progress=make_backtest_progress(sys.stderr),
    )
    for r in result["tickers"].values():
        for w in r.get("warnings", []):
            warn(w)
    if json_out:
        emit_json(result)
    else:
        render_backtest(result)
    if result["summary"]["n_failed"]:
        raise typer.Exit(1)
