"""Every bad input gets a ValueError or TypeError naming the argument,
what was expected and what was given."""

import numpy as np
import pytest

import fastnn.layers as L

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 2, 3))
W = rng.standard_normal((6, 5))
B = rng.standard_normal(5)
SCORES = rng.standard_normal((4, 3))
LABELS = np.array([0, 2, 1, 1])


def _affine_cache():
    return L.affine_forward(X, W, B)[1]


BAD_CALLS = [
    # (call, error type, words the message must contain)
    (lambda: L.affine_forward(X, np.ones((5, 5)), B), ValueError, ["w:", "(6, M)", "(5, 5)"]),
    (lambda: L.affine_forward(X, np.ones(6), B), ValueError, ["w:", "2-D", "(6,)"]),
    (lambda: L.affine_forward(X, W, np.ones(4)), ValueError, ["b:", "(5,)", "(4,)"]),
    (lambda: L.affine_forward(X, W, np.ones((1, 5))), ValueError, ["b:", "(5,)", "(1, 5)"]),
    (lambda: L.affine_forward(np.float64(3.0), W, B), ValueError, ["x:", "(N, d_1, ..., d_k)"]),
    (lambda: L.affine_forward(X.astype(np.complex128), W, B), TypeError, ["x:", "float32 or float64", "complex128"]),
    (lambda: L.affine_forward(X, W.astype(np.float16), B), TypeError, ["w:", "float16"]),
    (lambda: L.affine_forward(X, W, ["a"] * 5), TypeError, ["b:", "<U1"]),
    (lambda: L.affine_backward(np.ones((4, 4)), _affine_cache()), ValueError, ["dout:", "(4, 5)", "(4, 4)"]),
    (lambda: L.affine_backward(np.ones((3, 5)), _affine_cache()), ValueError, ["dout:", "(4, 5)", "(3, 5)"]),
    (lambda: L.affine_backward(np.ones((4, 5)), (X, W)), TypeError, ["cache:", "(x, w, b)", "length 2"]),
    (lambda: L.affine_backward(np.ones((4, 5)), X), TypeError, ["cache:", "ndarray"]),
    (lambda: L.affine_relu_backward(np.ones((4, 5)), _affine_cache()), TypeError, ["cache:", "(fc_cache, relu_cache)"]),
    (
        lambda: L.affine_relu_backward(np.ones((4, 5)), ((X, W, B), np.ones((4, 4)))),
        ValueError,
        ["relu_cache:", "(4, 5)", "(4, 4)"],
    ),
    (lambda: L.relu_backward(np.ones((2, 3)), np.ones((3, 2))), ValueError, ["dout:", "(3, 2)", "(2, 3)"]),
    (lambda: L.relu_forward(np.array(["x"])), TypeError, ["x:", "<U1"]),
    (lambda: L.softmax_loss(np.ones(3), [0]), ValueError, ["x:", "2-D", "(N, C)", "(3,)"]),
    (lambda: L.svm_loss(np.ones((2, 3, 1)), [0, 1]), ValueError, ["x:", "2-D", "(2, 3, 1)"]),
    (lambda: L.softmax_loss(np.ones((0, 3)), []), ValueError, ["x:", "at least one row", "(0, 3)"]),
    (lambda: L.softmax_loss(np.ones((2, 0)), [0, 0]), ValueError, ["x:", "one class", "(2, 0)"]),
    (lambda: L.softmax_loss(SCORES, LABELS[:3]), ValueError, ["y:", "(4,)", "(3,)"]),
    (lambda: L.svm_loss(SCORES, LABELS[:, None]), ValueError, ["y:", "(4,)", "(4, 1)"]),
    (lambda: L.softmax_loss(SCORES, [0, 1, 3, 0]), ValueError, ["y:", "[0, 3)", "y[2] = 3"]),
    (lambda: L.svm_loss(SCORES, [0, -1, 2, 0]), ValueError, ["y:", "[0, 3)", "y[1] = -1"]),
    (lambda: L.softmax_loss(SCORES, LABELS.astype(float)), TypeError, ["y:", "integer", "float64"]),
    (lambda: L.svm_loss(SCORES, [True, False, True, True]), TypeError, ["y:", "integer", "bool"]),
]


@pytest.mark.parametrize("call, error, words", BAD_CALLS, ids=[f"bad{i}" for i in range(len(BAD_CALLS))])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"


def test_labels_of_any_integer_dtype_are_accepted():
    for dtype in (np.int8, np.uint16, np.int32, np.int64):
        loss, _ = L.softmax_loss(SCORES, LABELS.astype(dtype))
        assert np.isfinite(loss)


@pytest.mark.parametrize("layer", ["batchnorm_forward", "spatial_batchnorm_forward"])
@pytest.mark.parametrize("param, error, words", [
    ({"momentum": float("nan")}, ValueError, "bn_param['momentum']: expected a number in [0, 1], got nan"),
    ({"momentum": "0.9"}, ValueError, "bn_param['momentum']: expected a number in [0, 1], got '0.9'"),
    ({"momentum": 1.5}, ValueError, "bn_param['momentum']"),
    ({"running_mean": "zeros"}, TypeError, "bn_param['running_mean']: expected a real array of shape (3,)"),
    ({"running_var": np.array(["a", "b", "c"])}, TypeError, "bn_param['running_var']: expected a real array"),
    ({"running_var": np.ones(4)}, ValueError, "bn_param['running_var']: expected shape (3,)"),
])
def test_batchnorm_params_are_checked_before_any_work(layer, param, error, words):
    x = np.ones((2, 3, 2, 2)) if layer.startswith("spatial") else np.ones((2, 3))
    with pytest.raises(error) as info:
        getattr(L, layer)(x, np.ones(3), np.zeros(3), {"mode": "train", **param})
    assert words in str(info.value)
