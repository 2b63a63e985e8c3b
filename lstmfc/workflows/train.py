"""``lstmfc train``: load the prepared windows, fit the network(s), save a bundle.

Orchestration only: Keras lives in :mod:`lstmfc.network.models` and :mod:`lstmfc.network.backend`,
targets and their scaling in the forecast head (:mod:`lstmfc.heads`), bundles in
:mod:`lstmfc.bundles.bundle`, windows in :mod:`lstmfc.dataset.prepare`. This module imports none
of Keras, TensorFlow, pandas or NumPy at import time.

Defaults (the fields of :class:`TrainOptions`, the one home of the network defaults:
``train``, ``run``, ``backtest`` and their ``--help`` read them from :data:`DEFAULT`):

* network: the reference stacked LSTM(128) -> Dropout(0.2) -> LSTM(64) ->
  Dropout(0.2) -> Dense(25) -> the head's output (:mod:`lstmfc.network.models`);
* Adam, learning rate 1e-3 (Kingma & Ba 2015), gradient clipping by global norm 5
  (Pascanu, Mikolov & Bengio 2013);
* batch 32 (Keras's default), at most 30 epochs with early stopping on the
  validation loss (patience 5, best weights restored; Prechelt 1998, "Early
  stopping - but when?");
* price head target: the next log return, standardised with the training targets'
  mean and std (:mod:`lstmfc.heads.price`);
* one network; ``--ensemble N`` trains N with seeds ``seed .. seed+N-1`` and
  forecasts with their mean output (:meth:`lstmfc.bundles.bundle.Bundle.predict_raw`).

:func:`fit_networks` is the one place where networks are built, seeded and fitted:
``train`` and each walk-forward fit of :mod:`lstmfc.backtest` call it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

from lstmfc import __version__
from lstmfc.bundles import provenance
from lstmfc.bundles.save import save_bundle
from lstmfc.core.config import Workspace, normalize_ticker
from lstmfc.core.errors import DataError, UsageError
from lstmfc.core.limits import (
    MAX_BATCH,
    MAX_ENSEMBLE,
    MAX_EPOCHS,
    MAX_TRAIN_BYTES,
    check_int,
    resolve_seed,
)
from lstmfc.dataset.prepare import load_prepared
from lstmfc.heads.paths import check_recursive_features
from lstmfc.heads.registry import STRATEGIES, head_class, make_head, option_names, path_heads
from lstmfc.network import backend, models
from lstmfc.network.fit_settings import FitSettings
from lstmfc.network.models import ModelSpec, estimate_params

#: float32 values kept per recurrent unit, time step and window of a batch for the
#: backward pass, measured as peak resident memory of one training epoch on the torch
#: backend (Keras 3.15, fused kernels of :mod:`lstmfc.network.fastrnn`): LSTM about 17, GRU 11,
#: SimpleRNN 4 (units 64-512, lookback 60-200, batch 256-4096).
_ACTIVATION_FLOATS = {"lstm": 17, "gru": 12, "rnn": 4}


def parse_units(text: str | Any) -> tuple[int, ...]:
    """Parse ``--units`` (``"128,64"``) into layer sizes.

    Raises
    ------
    UsageError
        If an entry is not a positive integer, e.g. ``--units abc``.
    """
    if not isinstance(text, str):
        try:
            out = tuple(int(u) for u in text)
        except (TypeError, ValueError):
            raise UsageError(f"--units must be positive integers, got {text!r}") from None
    else:
        parts = [p.strip() for p in text.split(",")]
        if not all(p.isdigit() for p in parts):
            raise UsageError(
                f"--units must be comma-separated positive integers (e.g. 128,64), got {text!r}"
            )
        out = tuple(int(p) for p in parts)
    if not out or len(out) > 8 or any(u < 1 or u > 4096 for u in out):
        raise UsageError(f"--units must be 1 to 8 layer sizes between 1 and 4096, got {text!r}")
    return out


def estimate_train_bytes(
    cell: str,
    units,
    batch_size: int,
    lookback: int,
    n_features: int,
    n_windows: int,
    n_params: int,
) -> int:
    """Peak memory of training one network, estimated before anything is built (bytes).

    ``4 * (b * L * k * sum(units) + n_windows * L * F + 4 * n_params)``: the
    activations kept for the backward pass of one batch of ``b = min(batch_size,
    n_windows)`` windows (``k`` float32 values per unit and step, ``_ACTIVATION_FLOATS``,
    measured), the float32 copies of the training and validation windows ``(n_windows,
    L, F)``, and the weights with their gradients and Adam's two moment buffers
    (Kingma & Ba 2015).

    Returns
    -------
    int
        Bytes (an estimate within a factor of about 1.5 on the torch backend).
    """
    b = max(1, min(int(batch_size), int(n_windows)))
    acts = b * lookback * _ACTIVATION_FLOATS[cell] * sum(int(u) for u in units)
    return 4 * (acts + int(n_windows) * lookback * n_features + 4 * int(n_params))


@dataclass
class TrainOptions:
    """The network, head and fitting options shared by ``train`` and ``backtest``.

    Attributes
    ----------
    head : str
        Forecast head (:data:`lstmfc.heads.registry.HEADS`).
    head_options : dict
        The head's options (``price_target`` for the price head); options of other
        heads are ignored.
    cell, units, dropout, dense, l2, lr, clipnorm
        Network (:class:`lstmfc.network.models.ModelSpec`).
    epochs, batch_size, patience
        Fitting (:func:`lstmfc.network.models.fit`).
    ensemble : int
        Networks per fit, seeds ``seed .. seed + ensemble - 1`` (1 to 50).
    """

    head: str = "price"
    head_options: dict[str, Any] = field(default_factory=dict)
    cell: str = "lstm"
    units: Any = (128, 64)
    dropout: float = 0.2
    dense: int = 25
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    clipnorm: float = 5.0
    l2: float = 0.0
    patience: int = 5
    ensemble: int = 1
    strategy: str = "mimo"
    attention: bool = False

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The flat option names :meth:`build` takes: the fields (but ``head_options``)
        and every head's options."""
        fields = [f.name for f in dataclasses.fields(cls) if f.name != "head_options"]
        return (*fields, *option_names())

    @classmethod
    def build(cls, **options: Any) -> TrainOptions:
        """Options from the flat names of the command line: the fields of this class,
        and every head's options (``price_target``, ``loss``, ``quantiles`` ...;
        :func:`lstmfc.heads.registry.option_names`) into :attr:`head_options`, where the
        head keeps its own and ``None`` keeps its default.

        Raises
        ------
        TypeError
            A name that is neither a field nor a head option.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        heads = set(option_names())
        unknown = set(options) - fields - heads
        if unknown:
            raise TypeError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        own = {k: v for k, v in options.items() if k in fields}
        head_options = {
            **own.pop("head_options", {}),
            **{k: v for k, v in options.items() if k in heads},
        }
        return cls(**own, head_options=head_options)

    def validate(
        self,
        *,
        lookback: int | None = None,
        n_features: int | None = None,
        n_windows: int | None = None,
    ) -> TrainOptions:
        """Check every option (returns ``self``); with the data's shape, its size too.

        Without arguments it runs before any data is read: value ranges, and the
        network's weight count for one input feature (:data:`lstmfc.network.models.MAX_PARAMS`).
        Given the windows' shape (``lookback``, ``n_features``) and ``n_windows``
        (training plus validation windows of one fit), it also checks the weight count
        for that many features and the training memory
        (:func:`estimate_train_bytes`, at most :data:`MAX_TRAIN_BYTES`).

        Raises
        ------
        UsageError
            One line naming the first invalid option.
        DataError
            The training memory for this data would exceed :data:`MAX_TRAIN_BYTES`
            (one line naming the estimate and the options to lower).
        """
        self.units = parse_units(self.units)
        self.epochs = check_int("--epochs", self.epochs, 1, MAX_EPOCHS)
        self.batch_size = check_int("--batch-size", self.batch_size, 1, MAX_BATCH)
        self.patience = check_int("--patience", self.patience, 0, MAX_EPOCHS)
        self.dense = check_int("--dense", self.dense, 0, 4096)
        self.ensemble = check_int("--ensemble", self.ensemble, 1, MAX_ENSEMBLE)
        for name, v in (
            ("--dropout", self.dropout),
            ("--lr", self.lr),
            ("--clipnorm", self.clipnorm),
            ("--l2", self.l2),
        ):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise UsageError(f"{name} must be a number, got {v!r}")

        if self.strategy not in STRATEGIES:
            raise UsageError(
                f"--strategy must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}"
            )
        self.attention = bool(self.attention)
        self.make_head()
        self.spec(1, 1)
        if lookback is not None and n_features is not None:
            spec = self.spec(int(lookback), int(n_features))  # weights for F features
            if n_windows is not None:
                n_params = estimate_params(
                    spec.cell,
                    spec.units,
                    spec.dense,
                    spec.n_features,
                    self.make_head().n_outputs,
                )
                need = estimate_train_bytes(
                    self.cell,
                    self.units,
                    self.batch_size,
                    int(lookback),
                    int(n_features),
                    int(n_windows),
                    n_params,
                )
                if need > MAX_TRAIN_BYTES:
                    raise DataError(
                        f"training would need about {need / 2**30:.1f} GiB of memory "
                        f"(--batch-size {self.batch_size} x lookback {lookback} x --units "
                        f"{','.join(str(u) for u in self.units)}, {n_windows} windows), above "
                        f"the cap of {MAX_TRAIN_BYTES / 2**30:.0f} GiB; use a smaller "
                        "--batch-size, --units or --lookback"
                    )
        return self

    def make_head(self, steps: int = 1):
        """The head instance (:func:`lstmfc.heads.registry.make_head`), set up for a path of
        ``steps`` sessions with :attr:`strategy` (:meth:`lstmfc.heads.Head.configure_path`)."""

        return make_head(self.head, **self.head_options).configure_path(steps, self.strategy)

    def path_head(self, steps: int, features):
        """:meth:`make_head` for ``steps`` sessions, after checking that the recursive
        strategy can extend ``features`` from its own forecasts
        (:func:`lstmfc.heads.paths.check_recursive_features`).

        Raises
        ------
        UsageError
            ``--steps``, ``--strategy`` or the feature sets do not fit this head.
        """
        head = self.make_head(steps)
        if steps > 1 and self.strategy == "recursive":
            check_recursive_features(features)
        return head

    def spec(self, lookback: int, n_features: int, steps: int = 1):
        """The :class:`lstmfc.network.models.ModelSpec` for windows ``(lookback, n_features)``
        and a path of ``steps`` sessions."""

        return ModelSpec(
            steps=int(steps),
            strategy=self.strategy,
            attention=bool(self.attention),
            lookback=lookback,
            n_features=n_features,
            head=self.head,
            cell=self.cell,
            units=tuple(self.units),
            dropout=float(self.dropout),
            dense=self.dense,
            l2=float(self.l2),
            learning_rate=float(self.lr),
            clipnorm=float(self.clipnorm),
        )

    def to_json(self) -> dict[str, Any]:
        """The options as recorded in manifests and backtest documents."""
        d = dataclasses.asdict(self)
        d["units"] = list(self.units)
        d["head_options"] = self.make_head().options
        return d


DEFAULT = TrainOptions()
"""The default options (the values ``--help`` shows)."""

DEFAULT_UNITS = ",".join(str(u) for u in DEFAULT.units)
"""``--units`` default as the command line writes it (``128,64``)."""


def fit_networks(
    opts: TrainOptions,
    head,
    data: tuple,
    *,
    seed: int,
    deterministic: bool = False,
    reporter=None,
    isolate: bool = False,
) -> list[tuple[Any, Any]]:
    """Build, seed and fit ``opts.ensemble`` networks on the same windows.

    Parameters
    ----------
    opts : TrainOptions
        Validated options.
    head : lstmfc.heads.Head
    data : tuple
        ``(x_train, y_train, x_val, y_val)``: windows ``(n, lookback, n_features)``
        float32 (their shape sets the network's input) and encoded targets ``(n,)``
        float32.
    seed : int
        Member ``i`` is seeded with ``seed + i`` (:func:`lstmfc.network.backend.set_seed`).
    deterministic : bool
        Deterministic kernels (bit-identical weights for the same seed and machine).
    reporter : object, optional
        Progress reporter; its ``label`` gets the member number when ``ensemble > 1``.
    isolate : bool
        Clear Keras's session before each member and draw Keras's default seeds from
        a private generator (:func:`lstmfc.network.backend.private_python_rng`): what a
        backtest unit on a Dask worker needs to be a function of its seed alone.

    Returns
    -------
    list of (keras.Model, lstmfc.network.models.FitResult)
        One per member, in seed order; each holds its best validation epoch's weights.

    Raises
    ------
    DataError
        A member's training diverged (non-finite validation loss).
    """
    import contextlib

    x_tr, y_tr, x_va, y_va = data
    lookback, n_features = (int(d) for d in x_tr.shape[1:])
    spec = opts.spec(lookback, n_features, head.steps)
    base_label = getattr(reporter, "label", "") if reporter is not None else ""
    settings = FitSettings(epochs=opts.epochs, batch_size=opts.batch_size, patience=opts.patience)
    out = []
    for i in range(opts.ensemble):
        if isolate:
            backend.clear_session()
        backend.set_seed(seed + i, deterministic)
        rng = backend.private_python_rng(seed + i) if isolate else contextlib.nullcontext()
        with rng:
            model = models.build_model(spec, head)
        if reporter is not None and opts.ensemble > 1:
            reporter.label = f"{base_label} [{i + 1}/{opts.ensemble}]".strip()
        res = models.fit(
            model,
            x_tr,
            y_tr,
            x_va,
            y_va,
            settings=settings,
            reporter=reporter,
        )
        if not math.isfinite(res.best_val_loss):
            who = f"network {i + 1} of {opts.ensemble}" if opts.ensemble > 1 else "training"
            raise DataError(
                f"{who} diverged (validation loss is not finite after "
                f"{res.epochs_run} epoch{'s' if res.epochs_run != 1 else ''}); "
                "try a smaller --lr; nothing was saved"
            )
        out.append((model, res))
    if reporter is not None:
        reporter.label = base_label
    return out


def _training_doc(res) -> dict[str, Any]:
    return {
        "epochs_run": res.epochs_run,
        "best_epoch": res.best_epoch,
        "best_val_loss": res.best_val_loss,
        "stopped_early": res.stopped_early,
        "train_seconds": round(res.train_seconds, 3),
        "windows_per_second": round(res.windows_per_second, 1),
    }


def train(
    ws: Workspace,
    ticker: str,
    options: TrainOptions | None = None,
    *,
    seed: int | None = None,
    deterministic: bool = False,
    reporter=None,
    set_latest: bool = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """Train one network (or a seed ensemble) on ``data/prepared/<TICKER>/``; save a bundle.

    Parameters
    ----------
    ws : Workspace
    ticker : str
    options : TrainOptions, optional
        Network, head and fitting options. Instead of it, the same names may be given
        as keywords (``head="direction", units="8", price_target="level"`` ...).
    seed : int, optional
        Seeds Python, NumPy and the backend; drawn at random (and recorded in the
        manifest) when not given. Ensemble member ``i`` uses ``seed + i``.
    deterministic : bool
        Deterministic kernels (bit-identical weights for the same seed on the same
        CPU; slower).
    reporter : object, optional
        Progress reporter (``lstmfc.cli.progress``); ``None`` trains silently.
    set_latest : bool
        Point ``models/<TICKER>/latest`` at the new run.

    Returns
    -------
    dict
        ``ticker``, ``run_id``, ``path`` (bundle folder), ``head``, ``head_options``,
        ``price_target``, ``cell``, ``hyperparameters``, ``seed``, ``deterministic``,
        ``ensemble``, ``n_train``, ``n_val``, ``epochs_run``, ``best_epoch``,
        ``best_val_loss``, ``stopped_early``, ``train_seconds``,
        ``windows_per_second`` (first member), ``members`` (per member: seed and
        these figures), ``val`` (the head's validation figures of the kept weights;
        with an ensemble also ``members``: each member's), ``warnings``.

    Raises
    ------
    UsageError
        An invalid option (exit 2), checked before any data is read.
    ArtifactError
        No prepared data ("run `lstmfc prepare TICKER`"), or it is corrupt.
    DataError
        Training diverged (non-finite loss); nothing is saved.
    KeyboardInterrupt
        Propagated untouched; no bundle is written and ``latest`` is unchanged.
    """

    opts = _options(options, kwargs)
    t = normalize_ticker(ticker)
    seed = resolve_seed(seed, opts.ensemble)
    opts.make_head()  # head options checked before any data is read
    prep, head, warnings = _prepared_for(ws, t, opts)
    scaling, data, tr_targets, va_targets = _training_data(head, prep, t)
    try:  # the logged baselines first: a series too short for them fails in seconds
        live = head.live_baselines(
            prep.targets["close"].to_numpy(dtype="float64"), prep.fit_rows("train"), prep.horizon
        )
    except ValueError as exc:
        raise DataError(
            f"{t}: the {head.name} head's baselines: {exc}; use a longer history"
        ) from None
    slow = backend.fast_path_warning()
    if slow:
        warnings.append(slow)
    fitted = _fit_reported(opts, head, data, (t, seed, deterministic), reporter)
    val = _validation(head, scaling, [m for m, _ in fitted], data[2], va_targets, tr_targets)
    members = [
        {"seed": seed + i, "training": _training_doc(res)} for i, (_, res) in enumerate(fitted)
    ]
    first = fitted[0][1]
    hyper = _hyperparameters(opts, prep, head)
    run = {
        "head": head.name,
        "head_options": head.options,
        **head.report_keys(),
        "cell": opts.cell,
        "hyperparameters": hyper,
        "seed": seed,
        "deterministic": bool(deterministic),
    }
    manifest = {
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "lstmfc_version": __version__,
        **run,
        "target": scaling,
        "windows": {"train": len(data[0]), "val": len(data[2])},
        "prepare": prep.meta,
        "live_baselines": live,
        "members": members,
        "training": {**_training_doc(first), "val": val, "history": first.history},
        "versions": provenance.package_versions(),
    }
    run_dir = save_bundle(ws, t, [m for m, _ in fitted], manifest, set_latest=set_latest)
    try:
        rel = run_dir.relative_to(ws.home).as_posix()
    except ValueError:
        rel = str(run_dir)
    return {
        "ticker": t,
        "run_id": run_dir.name,
        "path": rel,
        "latest": bool(set_latest),
        **run,
        "ensemble": opts.ensemble,
        "n_train": len(data[0]),
        "n_val": len(data[2]),
        **_training_doc(first),
        "members": members,
        "val": val,
        "warnings": warnings,
    }


def _prepared_for(ws: Workspace, t: str, opts: TrainOptions):
    """The prepared dataset, the head set up for its path, and the first warnings.

    Raises
    ------
    UsageError
        The data was prepared with ``--steps K`` for a head that forecasts one horizon.
    DataError
        The network or its training memory is too large for this data.
    ArtifactError
        No prepared data, or it is corrupt.
    """
    prep = load_prepared(ws, t)
    if prep.steps > 1 and not head_class(opts.head).path_loss:
        raise UsageError(
            f"{t} was prepared with --steps {prep.steps} and the {opts.head} head "
            f"forecasts one horizon: run `lstmfc prepare {t} --steps 1` first, or use "
            + " or ".join(f"--head {n}" for n in path_heads())
        )
    head = opts.path_head(prep.steps, prep.meta["features"])  # the prepared dataset's steps
    n_fit = len(prep.split_rows("train")) + len(prep.split_rows("val"))
    try:  # the network's size and training memory for this data
        opts.validate(lookback=prep.lookback, n_features=prep.n_features, n_windows=n_fit)
    except DataError as exc:
        raise DataError(f"{t}: {exc}") from None
    warnings: list[str] = []
    if prep.is_stale(ws):
        warnings.append(
            f"data/raw/{t}.parquet changed since `lstmfc prepare {t}`; "
            "training on the prepared (older) data"
        )
    return prep, head, warnings


def _fit_reported(opts: TrainOptions, head, data: tuple, run: tuple, reporter):
    """:func:`fit_networks` for ticker ``t`` with ``run = (t, seed, deterministic)``, the
    reporter labelled with the ticker and closed afterwards; errors name the ticker."""
    t, seed, deterministic = run
    if reporter is not None and hasattr(reporter, "label") and not reporter.label:
        reporter.label = t
    try:
        return fit_networks(
            opts, head, data, seed=seed, deterministic=deterministic, reporter=reporter
        )
    except DataError as exc:
        raise DataError(f"{t}: {exc}") from None
    finally:
        if reporter is not None and hasattr(reporter, "close"):
            reporter.close()


def _hyperparameters(opts: TrainOptions, prep, head) -> dict[str, Any]:
    """The manifest's ``hyperparameters``: the network's spec and the fitting options."""
    return {
        **opts.spec(prep.lookback, prep.n_features, head.steps).to_json(),
        "epochs": opts.epochs,
        "batch_size": opts.batch_size,
        "patience": opts.patience,
        "ensemble": opts.ensemble,
        "optimizer": "adam",
        "loss": head.loss,
        "shuffle_train": True,
        "early_stopping": {"monitor": "val_loss", "restore_best_weights": True},
    }


def _options(options: TrainOptions | None, kwargs: dict[str, Any]) -> TrainOptions:
    """``options``, or one built from keyword arguments (head options among them)."""
    if options is not None:
        if kwargs:
            raise TypeError(f"give TrainOptions or keywords, not both ({', '.join(kwargs)})")
        return options.validate()
    return TrainOptions.build(**kwargs).validate()


def _training_data(head, prep, t: str):
    """Target scaling (training windows only) and the four training arrays."""
    import numpy as np

    # for a path, the windows whose paths reach into the next split are left out
    tr_targets, va_targets = prep.fit_targets("train"), prep.fit_targets("val")
    scaling = head.fit_scaling(tr_targets)
    x_tr = np.ascontiguousarray(prep.fit_windows("train"), dtype="float32")
    x_va = np.ascontiguousarray(prep.fit_windows("val"), dtype="float32")
    y_tr = head.encode(scaling, tr_targets)
    y_va = head.encode(scaling, va_targets)
    for name, y in (("training", y_tr), ("validation", y_va)):
        if not np.all(np.isfinite(y)):
            raise DataError(f"{t}: the {name} targets contain NaN; re-run `lstmfc prepare {t}`")
    return scaling, (x_tr, y_tr, x_va, y_va), tr_targets, va_targets


def _validation(head, scaling, nets, x_va, va_targets, tr_targets) -> dict[str, Any]:
    """The head's validation figures of the ensemble (and of each member if several)."""
    import numpy as np

    raws = [models.predict(m, x_va) for m in nets]
    mean = raws[0] if len(raws) == 1 else np.mean(np.stack(raws), axis=0)
    val = head.val_metrics(scaling, mean, va_targets, tr_targets)
    if len(raws) > 1:
        val["members"] = [head.val_metrics(scaling, r, va_targets, tr_targets) for r in raws]
    return val
