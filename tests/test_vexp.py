"""The vectorisable exp: error bound and special values."""

import numpy as np
import pytest
from numba import njit

from fastnn.kernels.cpu.vexp import vexp

# Worst cases measured over these ranges: 1.19 ulp (float32), 2.14 ulp (float64).
ULP_BOUND = {np.float32: 1.5, np.float64: 2.5}
LOWEST_NORMAL_RESULT = {np.float32: -87.3, np.float64: -708.3}


@njit
def _apply(x, out):
    for i in range(x.size):
        out[i] = vexp(x[i])


def _vexp(x):
    out = np.empty_like(x)
    _apply(x, out)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_error_bound_in_ulp(dtype):
    lo = LOWEST_NORMAL_RESULT[dtype]
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(lo, 0, 400_001), lo * rng.random(400_000), [0.0, -1e-30, -1e-7, lo]]).astype(dtype)
    exact = np.exp(x.astype(np.longdouble))
    ulps = np.abs(_vexp(x).astype(np.longdouble) - exact) / np.spacing(exact.astype(dtype)).astype(np.longdouble)
    assert float(ulps.max()) <= ULP_BOUND[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(dtype):
    x = np.array([np.nan, -np.inf, -1e4, 0.0, -0.0], dtype)
    out = _vexp(x)
    assert np.isnan(out[0])
    np.testing.assert_array_equal(out[1:], np.array([0, 0, 1, 1], dtype))
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_below_the_normal_range_flushes_to_zero(dtype):
    x = np.array([LOWEST_NORMAL_RESULT[dtype] - 1, LOWEST_NORMAL_RESULT[dtype] - 20], dtype)
    np.testing.assert_array_equal(_vexp(x), 0)


def test_not_callable_from_python():
    with pytest.raises(NotImplementedError):
        vexp(1.0)
