"""Training losses that Keras does not ship, written in ``keras.ops`` (any backend).

A head whose loss is not a Keras built-in returns one of these from
:meth:`lstmfc.heads.Head.make_loss`, which receives the loaded ``keras`` module and hands
its ``keras.ops`` to the loss factory (this module imports neither Keras nor the network
layer that loads it). Each loss is a plain function
``loss(y_true, y_pred) -> (batch,)`` (the per-window loss; Keras averages over the
batch), marked with the attribute ``lstmfc_loss`` so that the lean training loop
(:mod:`lstmfc.network.fastfit`) knows it may call it directly on torch tensors. Saved model
files carry no compile configuration (:func:`lstmfc.network.models.save_model`), so a loss
never has to be deserialised: bundles load with ``compile=False``.

``y_true`` and ``y_pred`` have shape ``(batch, n_outputs)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def mark(fn: Callable, name: str) -> Callable:
    """Tag ``fn`` as an lstmfc loss named ``name`` (for fastfit and messages)."""
    fn.lstmfc_loss = name
    fn.__name__ = name
    return fn


def qlike(ops, eps: float = 1e-12) -> Callable:
    """QLIKE on a variance forecast: ``log h + y / h`` per window, ``h`` the forecast.

    Patton (2011), "Volatility forecast comparison using imperfect volatility proxies",
    J. Econometrics 160(1) 246-256: with a noisy but unbiased proxy ``y`` (squared
    return) it ranks variance forecasts as the true variance would. ``h`` must be
    positive (a softplus or exponential output); ``eps`` guards the logarithm.
    Averaged over outputs when there are several (e.g. several horizons).

    Parameters
    ----------
    ops : module
        ``keras.ops`` of the loaded Keras (the loss runs on that backend's tensors).
    eps : float
        Floor of the forecast variance ``h`` inside the logarithm and the ratio.

    Returns
    -------
    callable
        ``loss(y_true, y_pred) -> (batch,)``, tagged ``lstmfc_loss = "qlike"``.
    """

    def loss(y_true, y_pred):
        h = ops.maximum(y_pred, eps)
        return ops.mean(ops.log(h) + y_true / h, axis=-1)

    return mark(loss, "qlike")


def pinball(ops, levels: Sequence[float]) -> Callable:
    """Pinball (quantile) loss averaged over the quantile levels, per window.

    Koenker & Bassett (1978), "Regression quantiles", Econometrica 46(1): for level
    ``tau`` and error ``e = y - q``, ``max(tau e, (tau - 1) e)``. ``y_true`` holds the
    target repeated in every column (or one column, broadcast); ``y_pred`` holds the
    quantiles in the order of ``levels``.

    Parameters
    ----------
    ops : module
        ``keras.ops`` of the loaded Keras (the loss runs on that backend's tensors).
    levels : sequence of float
        Quantile levels in (0, 1), one per output column.

    Returns
    -------
    callable
        ``loss(y_true, y_pred) -> (batch,)``, tagged ``lstmfc_loss = "pinball"``.
    """
    taus = [float(t) for t in levels]

    def loss(y_true, y_pred):
        tau = ops.convert_to_tensor(taus, dtype=y_pred.dtype)
        e = y_true - y_pred
        return ops.mean(ops.maximum(tau * e, (tau - 1.0) * e), axis=-1)

    return mark(loss, "pinball")
