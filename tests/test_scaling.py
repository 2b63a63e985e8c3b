"""The train-only MinMax scaler (bit for bit against scikit-learn), its JSON form, the
fit on chosen rows, and the out-of-range share and warning."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler

from lstmfc.core.errors import DataError
from lstmfc.dataset.scaling import (
    OUT_OF_RANGE_WARN,
    MinMaxParams,
    fit_scaler,
    out_of_range_share,
    out_of_range_warnings,
    scale,
)


def test_minmax_params_equal_sklearn_bit_for_bit():
    rng = np.random.default_rng(1)
    train = rng.normal(100, 20, (500, 3))
    other = rng.normal(100, 40, (200, 3))
    sk = MinMaxScaler().fit(train)
    p = MinMaxParams.fit(train, ["a", "b", "c"])
    assert p.data_min == tuple(sk.data_min_) and p.data_max == tuple(sk.data_max_)
    np.testing.assert_array_equal(p.transform(other), sk.transform(other))
    np.testing.assert_array_equal(p.inverse_transform(other), sk.inverse_transform(other))
    np.testing.assert_array_equal(p.scale, sk.scale_)
    np.testing.assert_array_equal(p.offset, sk.min_)
    sk2 = MinMaxScaler(feature_range=(-1, 1)).fit(train)
    p2 = MinMaxParams.fit(train, ["a", "b", "c"], feature_range=(-1, 1))
    np.testing.assert_array_equal(p2.transform(other), sk2.transform(other))


def test_minmax_params_json_round_trip_is_exact():
    p = MinMaxParams.fit(np.random.default_rng(2).random((50, 2)) * 1e3, ["close", "rsi_14"])
    q = MinMaxParams.from_json(json.loads(json.dumps(p.to_json())))
    assert q == p
    x = np.random.default_rng(3).random((10, 2)) * 1e3
    np.testing.assert_array_equal(p.transform(x), q.transform(x))
    assert set(p.to_json()) == {"feature_names", "data_min", "data_max", "feature_range"}


def test_transform_column_and_inverse():
    p = MinMaxParams(("close", "logret"), (10.0, -0.1), (20.0, 0.1))
    np.testing.assert_allclose(p.transform_column([10, 15, 25], "close"), [0, 0.5, 1.5])
    np.testing.assert_allclose(p.inverse_transform_column([0, 0.5, 1.5], "close"), [10, 15, 25])
    with pytest.raises(DataError, match="'rsi_14' is not among the scaled features"):
        p.transform_column([1], "rsi_14")


def test_zero_range_feature_is_named():
    x = np.column_stack([np.arange(5.0), np.full(5, 3.0)])
    with pytest.raises(DataError) as exc:
        MinMaxParams.fit(x, ["close", "volume_log1p"])
    assert "'volume_log1p' has zero range" in str(exc.value)


def test_fit_scaler_sees_only_its_rows_and_names_a_flat_feature_with_dates():
    x = np.array([[5.0, 1.0], [1.0, 2.0], [3.0, 4.0], [100.0, -50.0]])
    p = fit_scaler(x, 1, 2, ["a", "b"])  # rows 1..2 by hand: a in [1, 3], b in [2, 4]
    assert p.data_min == (1.0, 2.0) and p.data_max == (3.0, 4.0)
    y = scale(x, p)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_array_equal(y, np.float32([[2, -0.5], [0, 0], [1, 1], [49.5, -26]]))
    flat = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]])
    with pytest.raises(DataError) as exc:
        fit_scaler(flat, 0, 2, ["a", "b"])
    assert str(exc.value) == (
        "feature 'b' has zero range in the training rows (rows 0 to 2, all 7); "
        "remove it from --features"
    )


def test_out_of_range_share_and_warning_by_hand():
    # 1 + 1e-7 and -1e-7 lie within the float32 tolerance; 1.1 and -0.1 do not: 2 of 6
    a = np.array([[0.0, 0.5, 1.0 + 1e-7], [1.1, -0.1, -1e-7]])
    assert out_of_range_share(a) == pytest.approx(2 / 6, rel=1e-15)
    assert out_of_range_share(np.empty((0, 3))) is None
    assert OUT_OF_RANGE_WARN == 0.01
    assert out_of_range_warnings("ABC", "test windows'", None) == []
    assert out_of_range_warnings("ABC", "test windows'", 0.01) == []  # not above 1 %
    (line,) = out_of_range_warnings("ABC", "test windows'", 0.125)
    assert line.startswith(
        "ABC: 12.5% of the test windows' scaled inputs lie outside the training range [0, 1]"
    )
