"""fastnn.layers against the NumPy reference over many shapes, both dtypes."""

import numpy as np
import pytest

import fastnn.layers as L
import fastnn.reference as R
from helpers import check_layer, check_loss, random_array

DTYPES = [np.float32, np.float64]

AFFINE_SHAPES = [
    ((1, 5), 3),  # N = 1
    ((7, 13), 1),  # M = 1
    ((3, 1), 2),  # D = 1
    ((2, 4, 5, 6), 3),  # k = 3 trailing dims, the seed's test shape
    ((10, 2, 3), 5),  # k = 2
    ((33, 17), 29),  # odd sizes
    ((100, 64), 100),  # the seed's hidden layer
    ((700, 120), 130),  # large enough for the parallel epilogues
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, m", AFFINE_SHAPES)
@pytest.mark.parametrize("layer", ["affine", "affine_relu"])
def test_affine_layers(layer, x_shape, m, dtype):
    rng = np.random.default_rng(1)
    d = int(np.prod(x_shape[1:]))
    inputs = [random_array(rng, x_shape, dtype), random_array(rng, (d, m), dtype), random_array(rng, m, dtype)]
    check_layer(layer, inputs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 4), (2, 3, 5, 7), (1000,), (300_001,), (0, 4)])
def test_relu(shape, dtype):
    rng = np.random.default_rng(2)
    check_layer("relu", [random_array(rng, shape, dtype)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 2), (1, 1), (5, 1), (7, 3), (100, 10), (33, 1000), (4096, 1000), (65536, 10)])
@pytest.mark.parametrize("loss", ["softmax_loss", "svm_loss"])
def test_losses(loss, shape, dtype):
    rng = np.random.default_rng(3)
    x = random_array(rng, shape, dtype, scale=3.0)
    y = rng.integers(shape[1], size=shape[0])
    check_loss(loss, x, y, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_and_fortran_inputs(dtype):
    rng = np.random.default_rng(4)
    x = random_array(rng, (12, 20), dtype)[::2, ::3]  # (6, 7) strided view
    w = np.asfortranarray(random_array(rng, (7, 5), dtype))
    b = random_array(rng, 10, dtype)[::2]
    check_layer("affine", [x, w, b], dtype)
    check_layer("affine_relu", [x, w, b], dtype)
    check_layer("relu", [random_array(rng, (9, 8), dtype).T], dtype)
    scores = random_array(rng, (8, 12), dtype)[:, ::2]
    labels = rng.integers(6, size=16)[::2]
    check_loss("softmax_loss", scores, labels, dtype)
    check_loss("svm_loss", np.asfortranarray(scores), labels, dtype)


def test_integer_inputs_are_float64():
    x = np.arange(12).reshape(3, 4)
    w = np.arange(8).reshape(4, 2) - 3
    b = np.array([1, -2])
    check_layer("affine", [x, w, b], np.float64)
    check_layer("relu", [x - 5], np.float64)
    check_loss("softmax_loss", x, np.array([0, 3, 1]), np.float64)


@pytest.mark.parametrize("layer", ["affine", "affine_relu"])
def test_mixed_dtypes_promote_to_float64(layer):
    rng = np.random.default_rng(5)
    inputs = [random_array(rng, (4, 3), np.float32), random_array(rng, (3, 2), np.float64), random_array(rng, 2, np.float32)]
    check_layer(layer, inputs, np.float64)


def test_python_lists_are_accepted():
    check_layer("affine", [[[1.0, 2.0]], [[0.5], [-1.0]], [0.25]], np.float64)
    check_loss("svm_loss", [[1.0, 2.0, 0.5]], [2], np.float64)


def test_empty_batch():
    rng = np.random.default_rng(6)
    check_layer("affine", [np.zeros((0, 3)), random_array(rng, (3, 4), np.float64), np.zeros(4)], np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [10, 300_001])
def test_relu_out_buffers(dtype, n):
    rng = np.random.default_rng(7)
    x = random_array(rng, (n,), dtype)
    dout = random_array(rng, (n,), dtype)
    out = np.empty_like(x)
    result, cache = L.relu_forward(x, out=out)
    assert result is out and cache is x
    np.testing.assert_array_equal(out, R.relu_forward(x)[0])
    dx = np.empty_like(x)
    assert L.relu_backward(dout, x, out=dx) is dx
    np.testing.assert_array_equal(dx, R.relu_backward(dout, x))
    expected = R.relu_forward(x)[0]
    L.relu_forward(x, out=x)  # in place
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize(
    "out, error, words",
    [
        (np.empty(4), TypeError, ["out:", "float32", "float64"]),
        (np.empty(5, np.float32), ValueError, ["out:", "(4,)", "(5,)"]),
        (np.empty(8, np.float32)[::2], ValueError, ["out:", "C-contiguous"]),
        ([0.0] * 4, TypeError, ["out:", "ndarray", "list"]),
    ],
)
def test_relu_bad_out(out, error, words):
    with pytest.raises(error) as info:
        L.relu_forward(np.ones(4, np.float32), out=out)
    for word in words:
        assert word in str(info.value)
