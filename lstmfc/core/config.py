"""Workspace paths (docs/architecture.md, "Workspace").

Every command takes ``--home DIR`` (environment variable ``LSTMFC_HOME``; default: the
current directory). Under it live ``data/`` (raw series, prepared datasets, the
forecast log) and ``models/``. Nothing depends on the working directory once a home
is given, so cron jobs can run from anywhere.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lstmfc.core.errors import UsageError

HOME_ENV = "LSTMFC_HOME"

DEFAULT_FEATURES: tuple[str, ...] = ("logret",)
"""Default input feature sets (``--features``): log returns, roughly stationary, so the
scaled inputs stay in the training range (:mod:`lstmfc.dataset.features` describes every set).
Kept here, in a module without NumPy or pandas, so the command line can show it in
``--help`` without importing them."""

# Yahoo symbols: letters, digits and . - ^ = (e.g. BRK-B, ^GSPC, EURUSD=X, 7203.T).
_TICKER_RE = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9.\-^=_]{0,31}$")


def normalize_ticker(ticker: str) -> str:
    """Return the canonical (upper-case) ticker used for file names.

    Raises
    ------
    UsageError
        If the ticker is empty or contains characters that could escape the
        workspace (``/``, ``..``, spaces ...).
    """
    t = ticker.strip()
    if not _TICKER_RE.match(t) or ".." in t:
        raise UsageError(
            f"invalid ticker {ticker!r}: use letters, digits and . - ^ = _ "
            "(e.g. AAPL, BRK-B, ^GSPC)"
        )
    return t.upper()


@dataclass(frozen=True)
class Workspace:
    """The folder tree under ``--home``.

    Attributes
    ----------
    home : Path
        Absolute workspace root.
    """

    home: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> Workspace:
        """Workspace from ``home``, else ``$LSTMFC_HOME``, else the current directory."""
        chosen = home if home not in (None, "") else os.environ.get(HOME_ENV) or os.getcwd()
        return cls(Path(chosen).expanduser().resolve())

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def prepared_dir(self) -> Path:
        return self.data_dir / "prepared"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def forecast_db(self) -> Path:
        return self.data_dir / "forecasts.sqlite"

    def raw_path(self, ticker: str) -> Path:
        """``data/raw/<TICKER>.parquet``."""
        return self.raw_dir / f"{normalize_ticker(ticker)}.parquet"

    def prepared_path(self, ticker: str) -> Path:
        """``data/prepared/<TICKER>/``."""
        return self.prepared_dir / normalize_ticker(ticker)

    def model_root(self, ticker: str) -> Path:
        """``models/<TICKER>/`` (run folders and the ``latest`` pointer)."""
        return self.models_dir / normalize_ticker(ticker)
