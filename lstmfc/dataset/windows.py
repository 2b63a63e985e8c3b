"""Windows as views: the input windows of a scaled feature frame, without a copy.

Window ``i`` ending at row ``r`` covers rows ``r-L+1 .. r`` (lookback ``L``);
:func:`cut_windows` returns them as a read-only ``sliding_window_view`` slice of shape
``(n_windows, lookback, n_features)``, so memory stays O(rows x features).
"""

from __future__ import annotations

import numpy as np


def cut_windows(values: np.ndarray, lookback: int, first_end: int, last_end: int) -> np.ndarray:
    """Windows ending at rows ``first_end .. last_end`` of ``values`` (a read-only view).

    Window ``i`` is ``values[r-L+1 : r+1]`` with ``r = first_end + i``; the result has
    shape ``(last_end - first_end + 1, lookback, n_features)`` and shares memory with
    ``values`` (``numpy.lib.stride_tricks.sliding_window_view``): no copy.
    """
    view = np.lib.stride_tricks.sliding_window_view(values, lookback, axis=0)
    # view[k] covers rows k .. k+L-1, shape (n_features, L) -> (L, n_features)
    return view[first_end - lookback + 1 : last_end - lookback + 2].transpose(0, 2, 1)
