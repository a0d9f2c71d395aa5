"""fastnn.layers against the NumPy reference: every catalog layer at its sizes, both dtypes, and the input conversions."""

import numpy as np
import pytest

import fastnn.layers as L
import fastnn.reference as R
from fastnn import catalog
from helpers import check_layer, random_array

DTYPES = [np.float32, np.float64]

CASES = [(entry.name, size) for entry in catalog.on_backend("cpu") for size in entry.sizes["cpu"]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, size", CASES, ids=[f"{name}-{size}" for name, size in CASES])
def test_every_catalog_layer_agrees_with_the_reference(name, size, dtype):
    check_layer(name, dtype, size=size)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_and_fortran_inputs(dtype):
    rng = np.random.default_rng(4)
    x = random_array(rng, (12, 20), dtype)[::2, ::3]  # (6, 7) strided view
    w = np.asfortranarray(random_array(rng, (7, 5), dtype))
    b = random_array(rng, 10, dtype)[::2]
    check_layer("affine", dtype, inputs=[x, w, b])
    check_layer("affine_relu", dtype, inputs=[x, w, b])
    check_layer("relu", dtype, inputs=[random_array(rng, (9, 8), dtype).T])
    scores = random_array(rng, (8, 12), dtype)[:, ::2]
    labels = rng.integers(6, size=16)[::2]
    check_layer("softmax_loss", dtype, inputs=[scores], params=[labels])
    check_layer("svm_loss", dtype, inputs=[np.asfortranarray(scores)], params=[labels])


def test_integer_inputs_are_float64():
    x = np.arange(12).reshape(3, 4)
    w = np.arange(8).reshape(4, 2) - 3
    b = np.array([1, -2])
    check_layer("affine", np.float64, inputs=[x, w, b])
    check_layer("relu", np.float64, inputs=[x - 5])
    check_layer("softmax_loss", np.float64, inputs=[x], params=[np.array([0, 3, 1])])


@pytest.mark.parametrize("layer", ["affine", "affine_relu"])
def test_mixed_dtypes_promote_to_float64(layer):
    rng = np.random.default_rng(5)
    inputs = [random_array(rng, (4, 3), np.float32), random_array(rng, (3, 2), np.float64), random_array(rng, 2, np.float32)]
    check_layer(layer, np.float64, inputs=inputs)


def test_python_lists_are_accepted():
    check_layer("affine", np.float64, inputs=[[[1.0, 2.0]], [[0.5], [-1.0]], [0.25]])
    check_layer("svm_loss", np.float64, inputs=[[[1.0, 2.0, 0.5]]], params=[[2]])


def test_empty_batch():
    rng = np.random.default_rng(6)
    check_layer("affine", np.float64, inputs=[np.zeros((0, 3)), random_array(rng, (3, 4), np.float64), np.zeros(4)])


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
