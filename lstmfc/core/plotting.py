"""Plotting helpers: matplotlib on the Agg canvas, figures written atomically, and the
training-history figure of a bundle (``history.png``).

matplotlib is imported inside the functions (``lstmfc --help`` and the daily
``predict`` never pay for it). Agg renders to memory, so no display is needed.
Figures are written through :mod:`lstmfc.core.atomic`: a reader (or a crash) sees the
old PNG or the complete new one, never a partial file.
"""

from __future__ import annotations

import math
from pathlib import Path

from lstmfc.core.atomic import atomic_path


def pyplot():
    """matplotlib's pyplot on the Agg canvas (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> None:
    """Write a matplotlib figure as PNG to ``path`` atomically, then close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def write_history_png(history: dict[str, list[float]], path: Path, title: str) -> None:
    """Plot loss and val_loss per epoch (matplotlib's Agg canvas, no display needed).

    ``history``: ``loss`` and ``val_loss``, one value per epoch (the training loss of
    the head, e.g. MSE of the scaled target); missing keys are skipped. A dashed line
    marks the epoch of the lowest finite ``val_loss``. Written to ``path`` atomically,
    without a ``Software`` tag, so the PNG's bytes depend on the figure only.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for key, label in (("loss", "training loss"), ("val_loss", "validation loss")):
        values = history.get(key) or []
        if values:
            ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=label)
    val = [v for v in history.get("val_loss") or [] if v is not None and math.isfinite(v)]
    if val:
        best = history["val_loss"].index(min(val)) + 1
        ax.axvline(best, color="grey", ls="--", lw=1, label=f"best epoch {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
