"""float64 results in NumPy's order: bit-identical to the NumPy reference.

Numerical gradient checks magnify the loss's last-bit rounding 5e4 times
(issue 8 section 4), so float64 forward passes follow the reference's
operations exactly; see fastnn.kernels.cpu.numpy_order.  float32 keeps its fast
paths and is held to the tolerances of tests/helpers.py.
"""

import numpy as np
import pytest

import fastnn.layers as L
import fastnn.reference as R
from fastnn.kernels.cpu.numpy_order import LEAF, leaf_sum, pairwise_large, pairwise_sum

LENGTHS = [*range(0, 301), 511, 1000, 1024, 4097, 100_003]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sum_is_numpys_sum(dtype):
    rng = np.random.default_rng(0)
    for n in LENGTHS:
        a = (rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)).astype(dtype)
        expected = np.sum(a.astype(np.float64))
        assert pairwise_sum(a) == expected, n


def test_row_sums_at_offsets_are_numpys_sums():
    # The row loops' form (numpy_order.LEAF): a run inside a flat array, at
    # offsets that are not multiples of 8.
    rng = np.random.default_rng(3)
    flat = rng.standard_normal(5000) * 10.0 ** rng.uniform(-3, 3, 5000)
    for n in [1, 7, 8, 9, 127, 128, 129, 300, 1000]:
        for start in [0, 3, 13, 1001]:
            got = leaf_sum(flat, start, n) if n <= LEAF else pairwise_large(flat, start, n)
            assert got == np.sum(flat[start : start + n]), (n, start)


# (N, C): serial rows, C crossing NumPy's 8-wide and 128-element blocks, and
# sizes large enough for the parallel chunked path.
SHAPES = [(1, 1), (2, 10), (3, 7), (100, 10), (5, 129), (7, 300), (64, 1000), (4096, 100)]


@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_loss_float64_is_bit_identical(shape):
    rng = np.random.default_rng(1)
    x = 5 * rng.standard_normal(shape)
    y = rng.integers(shape[1], size=shape[0])
    loss, dx = L.softmax_loss(x, y)
    ref_loss, ref_dx = R.softmax_loss(x, y)
    assert loss == ref_loss
    np.testing.assert_array_equal(dx, ref_dx)


@pytest.mark.parametrize("shape", SHAPES)
def test_normalisation_float64_is_bit_identical(shape):
    rng = np.random.default_rng(2)
    x = 3 * rng.standard_normal(shape) + 1
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    dout = rng.standard_normal(shape)
    out, _ = L.layernorm_forward(x, gamma, beta, {})
    np.testing.assert_array_equal(out, R.layernorm_forward(x, gamma, beta, {})[0])
    for mode in ("train", "test"):
        param = {"mode": "train"}
        L.batchnorm_forward(x, gamma, beta, param)
        param["mode"] = mode
        ref_param = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in param.items()}
        out, cache = L.batchnorm_forward(x, gamma, beta, param)
        ref_out, ref_cache = R.batchnorm_forward(x, gamma, beta, ref_param)
        np.testing.assert_array_equal(out, ref_out)
        for grad, ref_grad in zip(L.batchnorm_backward(dout, cache), R.batchnorm_backward(dout, ref_cache)):
            np.testing.assert_array_equal(grad, ref_grad)
