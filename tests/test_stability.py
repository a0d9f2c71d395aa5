"""Large logits and special values."""

import numpy as np
import pytest

import fastnn.layers as L

from helpers import check_layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["softmax_loss", "svm_loss"])
def test_logits_of_magnitude_1e4(loss, dtype):
    rng = np.random.default_rng(0)
    x = (1e4 * rng.standard_normal((50, 10))).astype(dtype)
    y = rng.integers(10, size=50)
    value, dx = getattr(L, loss)(x, y)
    assert np.isfinite(value) and np.all(np.isfinite(dx))
    check_layer(loss, dtype, inputs=[x], params=[y])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_of_equal_huge_logits_is_log_c(dtype):
    loss, dx = L.softmax_loss(np.full((2, 4), 1e4, dtype), [0, 3])
    assert loss == pytest.approx(np.log(4), rel=1e-6)
    np.testing.assert_allclose(dx, [[-0.375, 0.125, 0.125, 0.125], [0.125, 0.125, 0.125, -0.375]], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_special_values(dtype):
    x = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1.0, 2.0], dtype)
    out, cache = L.relu_forward(x)
    np.testing.assert_array_equal(out, np.array([np.nan, 0.0, np.inf, 0.0, 0.0, 0.0, 2.0], dtype))
    dx = L.relu_backward(np.ones_like(x), cache)
    # The seed passes the gradient where x >= 0, zero included.
    np.testing.assert_array_equal(dx, np.array([0, 0, 1, 1, 1, 0, 1], dtype))


def test_float32_stays_float32_everywhere():
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (3, 2), (2,)])
    out, cache = L.affine_relu_forward(x, w, b)
    grads = L.affine_relu_backward(np.ones_like(out), cache)
    assert {g.dtype for g in (out, *grads)} == {np.dtype(np.float32)}
