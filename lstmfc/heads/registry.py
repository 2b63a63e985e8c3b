"""The head registry: ``--head`` names, their classes and the path options they allow.

A plugin-style registry: :data:`HEADS` maps a name to ``"module:Class"`` and
:func:`head_class` imports the module on first use (``importlib``), so this module
imports no head and every head may import it (:meth:`lstmfc.heads.base.Head.configure_path`
checks ``--steps`` and ``--strategy`` here).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lstmfc.core.errors import UsageError
from lstmfc.dataset.targets import check_steps

if TYPE_CHECKING:
    from lstmfc.heads.base import Head

HEADS: dict[str, str] = {
    "price": "lstmfc.heads.price:PriceHead",
    "direction": "lstmfc.heads.direction:DirectionHead",
    "vol": "lstmfc.heads.vol:VolHead",
    "quantile": "lstmfc.heads.quantile:QuantileHead",
}
"""``--head`` choices -> the class implementing them."""


def option_names() -> tuple[str, ...]:
    """Every head's option names (``price_target``, ``loss``, ``quantiles`` ...), each
    once: the command line passes them all, each head keeps its own."""
    return tuple(dict.fromkeys(o for name in HEADS for o in head_class(name).OPTIONS))


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


STRATEGIES = ("mimo", "seq2seq", "recursive")
"""``--strategy`` choices (module docstring)."""


def path_heads() -> list[str]:
    """Heads that forecast paths (a ``path_loss``; the vol and quantile heads forecast
    one horizon)."""

    return [name for name in HEADS if head_class(name).path_loss]


def check_path_options(steps: Any, strategy: str, head: str) -> int:
    """Validate ``--steps`` / ``--strategy`` for ``head``; returns ``steps``.

    Raises
    ------
    UsageError
        One line naming the option.
    """
    steps = check_steps(steps)
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")

    cls = head_class(head)
    if steps > 1 and not cls.path_loss:
        raise UsageError(
            f"--steps {steps}: the {head} head forecasts one horizon; paths need the "
            f"{' or '.join(path_heads())} head"
        )
    if steps > 1 and strategy == "recursive" and not cls.recursive:
        raise UsageError(
            f"--strategy recursive cannot feed back the {head} head's forecasts: use "
            + " or ".join(f"--head {n}" for n in path_heads() if head_class(n).recursive)
        )
    return steps
