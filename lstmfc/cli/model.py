"""Commands that train and judge networks: ``train``, ``evaluate`` and the main job ``run``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lstmfc.bundles.save import export_bundle
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
    ModelOpt,
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
from lstmfc.cli.common import each_ticker, multi_exit, ticker_names
from lstmfc.cli.progress import make_train_reporter
from lstmfc.cli.render import stderr_console, stdout_console
from lstmfc.cli.render_model import (
    render_comparison,
    render_evaluation,
    render_train,
    render_universe,
)
from lstmfc.core.config import DEFAULT_FEATURES, Workspace, normalize_ticker
from lstmfc.core.errors import UsageError
from lstmfc.core.limits import MAX_HORIZON, MAX_LOOKBACK, check_int, check_seed
from lstmfc.data.fetch import fetch_ticker
from lstmfc.data.sources import FetchRequest, check_source
from lstmfc.dataset.features import parse_features
from lstmfc.dataset.prepare import DEFAULT_HORIZON, DEFAULT_LOOKBACK, prepare
from lstmfc.evaluation.compare import compare as compare_runs
from lstmfc.evaluation.evaluate import evaluate
from lstmfc.evaluation.judge import DEFAULT_SCORING, ScoringOptions
from lstmfc.evaluation.summary import skill_summary
from lstmfc.heads.price import DEFAULT_PRICE_TARGET
from lstmfc.workflows.train import DEFAULT, DEFAULT_UNITS, TrainOptions, train

commands = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
"""The commands of this module (registered with the root app by :data:`lstmfc.cli.app.COMMANDS`)."""


def model_options(values: dict[str, Any]) -> TrainOptions:
    """The network, head and fitting options among a command's arguments (``train``,
    ``run``): :meth:`lstmfc.workflows.train.TrainOptions.build` of those it knows."""
    names = TrainOptions.option_names()
    return TrainOptions.build(**{k: v for k, v in values.items() if k in names})


@commands.command("train")
@handle_errors
def train_cmd(
    ticker: Annotated[
        str | None, typer.Argument(help="Ticker prepared before, e.g. SP500.")
    ] = None,
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
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic", help="Deterministic kernels (torch or TF): bit-identical reruns."
        ),
    ] = False,
    price_target: PriceTargetOpt = DEFAULT_PRICE_TARGET,
    loss: LossOpt = None,
    quantiles: QuantilesOpt = None,
    strategy: StrategyOpt = DEFAULT.strategy,
    attention: AttentionOpt = DEFAULT.attention,
    tickers_file: TickersFileOpt = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train the reference stacked LSTM (or GRU / SimpleRNN) and save a model bundle.

    Writes models/TICKER/RUN_ID/ (model.keras, manifest.json, history.png),
    then points models/TICKER/latest at it. Progress goes to stderr.

    Example: lstmfc train SP500 --head direction --epochs 20 --seed 7
    """
    values = dict(locals())  # the command's options, before any other name is bound
    opts = model_options(values)
    opts.validate()  # before any ticker is read
    check_seed(seed, opts.ensemble)
    ws = Workspace.resolve(home)
    names = ticker_names(ticker, tickers_file)

    def work(t: str) -> dict:
        result = train(
            ws,
            t,
            opts,
            seed=seed,
            deterministic=deterministic,
            reporter=make_train_reporter(sys.stderr),
        )
        for w in result["warnings"]:
            warn(w)
        if not json_out:
            render_train(result)
        return result

    if len(names) == 1 and tickers_file is None:
        result = work(names[0])
        if json_out:
            emit_json(result)
        return
    results = each_ticker(names, work)
    if json_out:
        emit_json(results)
    multi_exit(results)


@commands.command("evaluate")
@handle_errors
def evaluate_cmd(
    ticker: Annotated[
        str | None, typer.Argument(help="Ticker with a trained model, e.g. SP500.")
    ] = None,
    model: ModelOpt = None,
    sma: SmaOpt = DEFAULT_SCORING.sma_k,
    ema: EmaOpt = DEFAULT_SCORING.ema_span,
    cost_bps: CostOpt = DEFAULT_SCORING.cost_bps,
    alpha: AlphaOpt = DEFAULT_SCORING.alpha,
    compare: Annotated[
        str | None,
        typer.Option(
            "--compare",
            help="Run ids of one ticker, separated by commas: evaluate each and put them "
            "side by side step by step (e.g. mimo, seq2seq and recursive paths); writes "
            "models/<TICKER>/compare.png.",
            show_default=False,
        ),
    ] = None,
    tickers_file: TickersFileOpt = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Score a model on the test split against the head's baselines, with skill tests.

    Writes evaluation.json and evaluation.png into the model's bundle folder.

    Example: lstmfc evaluate SP500 --cost-bps 5
    """

    scoring = ScoringOptions(sma, ema, cost_bps, alpha).validate()
    ws = Workspace.resolve(home)
    if compare is not None:
        if ticker is None or tickers_file is not None or model is not None:
            raise UsageError("--compare needs one TICKER and no --model or --tickers-file")

        done = compare_runs(ws, ticker, compare.split(","), options=scoring)
        if json_out:
            emit_json(done)
        else:
            render_comparison(done["comparison"])
        return
    names = ticker_names(ticker, tickers_file)

    def work(t: str) -> dict:
        report = evaluate(ws, t, model, options=scoring)
        for w in report["warnings"]:
            warn(w)
        if not json_out:
            render_evaluation(report)
        return report

    if len(names) == 1 and tickers_file is None:
        report = work(names[0])
        if json_out:
            emit_json(report)
        return
    results = each_ticker(names, work)

    summary = skill_summary({r["ticker"]: r.get("result") for r in results}, alpha)
    if json_out:
        emit_json({"tickers": results, "summary": summary})
    else:
        render_universe(summary)
    multi_exit(results)


@commands.command("run")
@handle_errors
def run_cmd(
    ticker: Annotated[str, typer.Argument(help="Ticker, e.g. SP500 (bundled sample) or AAPL.")],
    source: Annotated[
        str, typer.Option("--source", help="Data source: yahoo, sample or csv.")
    ] = "yahoo",
    path: Annotated[
        Path | None, typer.Option("--path", help="CSV file for --source csv.", show_default=False)
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First date of data to use, YYYY-MM-DD.", show_default=False),
    ] = None,
    lookback: LookbackOpt = DEFAULT_LOOKBACK,
    horizon: HorizonOpt = DEFAULT_HORIZON,
    steps: StepsOpt = 1,
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
    strategy: StrategyOpt = DEFAULT.strategy,
    attention: AttentionOpt = DEFAULT.attention,
    cost_bps: CostOpt = DEFAULT_SCORING.cost_bps,
    alpha: AlphaOpt = DEFAULT_SCORING.alpha,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The main job: fetch, prepare, train and evaluate in one go.

    Ends with the evaluation tables and the path of the plot.

    Example: lstmfc run SP500 --source sample
    """
    values = dict(locals())  # the command's options, before any other name is bound
    opts = model_options(values).validate()
    check_seed(seed, opts.ensemble)
    check_int("--lookback", lookback, 1, MAX_LOOKBACK)
    check_int("--horizon", horizon, 1, MAX_HORIZON)
    scoring = ScoringOptions(cost_bps=cost_bps, alpha=alpha).validate()
    check_source(source, str(path) if path else None)
    feats = parse_features(features)
    opts.path_head(steps, feats)  # --steps with this head and strategy, before any data
    ws = Workspace.resolve(home)
    t = normalize_ticker(ticker)
    say = stderr_console()
    say.print(f"[1/4] fetch {t} from {source}")
    request = FetchRequest(source=source, path=str(path) if path else None, start=start)
    fetched = fetch_ticker(ws, t, request)
    say.print(f"      {fetched['rows']} rows, {fetched['first']} .. {fetched['last']}")
    say.print(f"[2/4] prepare: lookback {lookback}, horizon {horizon}, features {','.join(feats)}")

    meta = prepare(ws, t, lookback=lookback, horizon=horizon, features=feats, steps=steps)
    sp = meta["split"]
    say.print(
        f"      windows: {sp['train']['n']} train, {sp['val']['n']} val, {sp['test']['n']} test"
    )
    what = f"{opts.ensemble} x " if opts.ensemble > 1 else ""
    say.print(f"[3/4] train {what}{cell} {head} head (up to {epochs} epochs)")
    trained = train(ws, t, opts, seed=seed, reporter=make_train_reporter(sys.stderr))
    for w in trained["warnings"]:
        warn(w)
    say.print(
        f"      run {trained['run_id']}: {trained['epochs_run']} epochs, "
        f"{trained['train_seconds']:.0f} s"
    )
    say.print("[4/4] evaluate on the test split")
    report = evaluate(ws, t, trained["run_id"], options=scoring)
    for w in report["warnings"]:
        warn(w)
    if json_out:
        emit_json({"fetch": fetched, "prepare": meta, "train": trained, "evaluation": report})
        return

    render_evaluation(report)


@commands.command("export")
@handle_errors
def export_cmd(
    ticker: Annotated[str, typer.Argument(help="Ticker with a trained model, e.g. SP500.")],
    model: ModelOpt = None,
    home: HomeOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Add the ONNX twin of a bundle's networks (bundles trained before lstmfc wrote them).

    predict then runs the networks with ONNX Runtime and never loads Keras.

    Example: lstmfc export SP500 --model 20250301T143015Z-3fa9c1
    """

    res = export_bundle(Workspace.resolve(home), ticker, model)
    if json_out:
        emit_json(res)
        return

    files = ", ".join(f"{n} ({e['bytes']} bytes)" for n, e in res["files"].items())
    stdout_console().print(f"{res['ticker']} run {res['run_id']}: {res['status']}: {files}")
