"""Stand-ins for yfinance at its boundary (``yfinance.Ticker``), shared by the fetch tests.

The frames have the shapes yfinance 1.7 really returns for daily bars:

* ``Ticker.history(auto_adjust=False, actions=False)``: single-level columns
  ``Open, High, Low, Close, Adj Close, Volume`` (int64 volume), index ``Date`` of
  tz-aware exchange-midnight stamps (``America/New_York`` for US listings);
* ``yf.download(...)``: the same under ``(Price, Ticker)`` MultiIndex columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstmfc.data.sources.yahoo import YahooTiming

NY = "America/New_York"


def yahoo_frame(
    dates,
    ticker: str = "AAPL",
    multi: bool = False,
    start_price: float = 100.0,
    tz: str = NY,
    adj_ratio: float | None = 0.98,
) -> pd.DataFrame:
    """A daily-bar frame shaped like yfinance output (see the module docstring)."""
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates))).tz_localize(tz)
    idx.name = "Date"
    n = len(idx)
    close = start_price + np.arange(n, dtype=float)
    data = {
        "Open": close - 0.5,
        "High": close + 1,
        "Low": close - 1,
        "Close": close,
    }
    if adj_ratio is not None:
        data["Adj Close"] = close * adj_ratio
    data["Volume"] = np.full(n, 1000, dtype=np.int64)
    df = pd.DataFrame(data, index=idx)
    if multi:
        df = df[sorted(df.columns)]  # yf.download sorts the Price level
        df.columns = pd.MultiIndex.from_product([df.columns, [ticker]], names=["Price", "Ticker"])
    return df


class FakeTicker:
    """Replaces ``yfinance.Ticker``; ``script`` holds one frame or exception per call."""

    calls: list[dict] = []
    script: list = []

    def __init__(self, symbol, session=None):
        self.symbol = symbol

    def history(self, **kwargs):
        FakeTicker.calls.append({"symbol": self.symbol, **kwargs})
        item = FakeTicker.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item.copy()


#: read_yahoo timing that makes retries instant.
NO_SLEEP = YahooTiming(sleep=lambda s: None, delays=(0.0, 0.0, 0.0))
