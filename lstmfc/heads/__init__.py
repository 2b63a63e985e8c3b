"""Forecast heads: what a network forecasts, and everything that follows from it.

A *head* is one object that owns every decision specific to one kind of forecast, so
that the rest of lstmfc (train, evaluate, predict, score, backtest, the CLI) calls the
head instead of branching on its name:

* the **target** built from the prepared target rows (causal: only closes dated
  ``<= t + h`` feed the target of the window ending at ``t``), its scaling fitted on
  the training windows only, the encoding the network is trained on and the decoding
  of network output back into natural units (currency, probability ...);
* the network's **output layer**, activation and **loss**;
* its **baselines** (:mod:`lstmfc.forecasters.price`), **metrics**, **skill tests** and
  **trading view**; the benchmark of its headline test; the choice of the strongest
  baseline on the validation split;
* its **forecast-log** values and how ``score`` judges them as outcomes arrive;
* its **presentation**: the metric columns the CLI renders, its ``--json`` keys and
  its plot panels.

The heads are registered in :data:`HEADS` (name -> ``"module:Class"``, imported on
first use so that ``import lstmfc.heads`` stays cheap). ``docs/architecture.md``
says how to add one.
"""

from __future__ import annotations

import importlib
from typing import Any

from lstmfc.core.errors import UsageError
from lstmfc.heads.base import Column, Head

HEADS: dict[str, str] = {
    "price": "lstmfc.heads.price:PriceHead",
    "direction": "lstmfc.heads.direction:DirectionHead",
    "vol": "lstmfc.heads.vol:VolHead",
    "quantile": "lstmfc.heads.quantile:QuantileHead",
}
"""``--head`` choices -> the class implementing them."""


def head_class(name: str) -> type[Head]:
    """The class of head ``name``.

    Raises
    ------
    UsageError
        Unknown head name (the message lists the valid ones).
    """
    spec = HEADS.get(str(name))
    if spec is None:
        raise UsageError(f"--head must be one of {', '.join(HEADS)}, not {name!r}")
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)


def make_head(name: str, **options: Any) -> Head:
    """An instance of head ``name`` with its options (e.g. ``price_target="logret"``).

    Options of other heads are ignored (the CLI passes every head's options through
    one signature; ``--price-target`` means nothing to the direction head), and
    ``None`` keeps the head's default.

    Raises
    ------
    UsageError
        Unknown head, or an invalid value of one of its options.
    """
    cls = head_class(name)
    return cls(**{k: v for k, v in options.items() if k in cls.OPTIONS and v is not None})


def head_from_manifest(manifest: dict[str, Any]) -> Head:
    """The head a bundle (or backtest fit) was trained with, from its manifest.

    Manifests written before heads had options carry the price head's option as the
    top-level key ``price_target``; both forms are read.

    Raises
    ------
    ValueError
        Unknown head name or invalid options in the manifest (callers turn this into
        an :class:`~lstmfc.core.errors.ArtifactError`).
    """
    name = manifest.get("head")
    options = dict(manifest.get("head_options") or {})
    cls = head_class(name) if name in HEADS else None
    if cls is None:
        raise ValueError(f"unknown head {name!r}")
    if "price_target" in cls.OPTIONS and "price_target" not in options:
        options["price_target"] = manifest.get("price_target")
    hyper = manifest.get("hyperparameters") or {}
    try:
        head = make_head(name, **options)
        return head.configure_path(int(hyper.get("steps", 1)), hyper.get("strategy", "mimo"))
    except (UsageError, TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None


__all__ = ["Column", "HEADS", "Head", "head_class", "head_from_manifest", "make_head"]
