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

The heads are registered in :data:`lstmfc.heads.registry.HEADS` (name ->
``"module:Class"``, imported on first use so that the registry stays cheap).
``docs/architecture.md`` says how to add one.
"""
