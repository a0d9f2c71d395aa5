"""Drop-in compiled layers with the cs231n contracts.

Replace ``from cs231n.layers import *`` with ``from fastnn.layers import *``.
Every function validates its arguments here, converts them to C-contiguous
arrays of one float dtype (float32 stays float32, float64 stays float64,
integers count as float64, mixed inputs become float64), and hands them to
the Numba kernels in :mod:`fastnn.kernels.cpu`.
"""

import numpy as np

from fastnn.kernels import cpu
from fastnn.validation import (
    as_float_arrays,
    check_affine_grad,
    check_affine_params,
    as_labels,
    check_ndim,
    check_out,
    check_scores,
    check_shape,
    unpack_cache,
)

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "softmax_loss",
    "svm_loss",
]


def affine_forward(x, w, b):
    """
    Computes the forward pass for an affine (fully connected) layer.

    Inputs:
    - x: Input data, of shape (N, d_1, ..., d_k)
    - w: Weights, of shape (D, M) where D = d_1 * ... * d_k
    - b: Biases, of shape (M,)

    Returns a tuple of:
    - out: Output, of shape (N, M)
    - cache: (x, w, b), the converted inputs
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b)
    x2 = check_affine_params(x, w, b)
    return cpu.affine_forward(x2, w, b), (x, w, b)


def affine_backward(dout, cache):
    """
    Computes the backward pass for an affine layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: (x, w, b) as returned by affine_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    x, w, b = unpack_cache(cache, ("x", "w", "b"), "affine_forward")
    dout, x, w, b = as_float_arrays(("dout", "x", "w", "b"), dout, x, w, b)
    x2 = check_affine_params(x, w, b)
    check_affine_grad(dout, x, w)
    dx2, dw, db = cpu.affine_backward(dout, x2, w)
    return dx2.reshape(x.shape), dw, db


def relu_forward(x, out=None):
    """
    Computes the forward pass for a layer of rectified linear units (ReLU).

    Inputs:
    - x: Inputs, of any shape
    - out: Optional C-contiguous array of x's shape and dtype to write the
      result into (it may be x itself), for callers who reuse buffers

    Returns a tuple of:
    - out: max(x, 0), of the same shape as x
    - cache: x
    """
    (x,) = as_float_arrays(("x",), x)
    if out is None:
        out = np.empty_like(x)
    else:
        check_out(out, x)
    cpu.relu_forward(x, out)
    return out, x


def relu_backward(dout, cache, out=None):
    """
    Computes the backward pass for a layer of rectified linear units (ReLU).

    The gradient passes where x >= 0, as in the seed notebook.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: Input x, of the same shape as dout
    - out: Optional C-contiguous array of dout's shape and dtype to write
      the gradient into (it may be dout itself)

    Returns:
    - dx: Gradient with respect to x, of the same shape as dout
    """
    dout, x = as_float_arrays(("dout", "cache"), dout, cache)
    check_shape("dout", dout, x.shape, "the shape of the cached input x")
    if out is None:
        out = np.empty_like(dout)
    else:
        check_out(out, dout)
    cpu.relu_backward(dout, x, out)
    return out


def affine_relu_forward(x, w, b):
    """
    Affine transform followed by a ReLU, with bias and ReLU fused after the GEMM.

    Inputs:
    - x: Input data, of shape (N, d_1, ..., d_k)
    - w: Weights, of shape (D, M)
    - b: Biases, of shape (M,)

    Returns a tuple of:
    - out: Output of the ReLU, of shape (N, M)
    - cache: (fc_cache, relu_cache) = ((x, w, b), a), where a of shape
      (N, M) is the affine output before the ReLU
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b)
    x2 = check_affine_params(x, w, b)
    a, out = cpu.affine_relu_forward(x2, w, b)
    return out, ((x, w, b), a)


def affine_relu_backward(dout, cache):
    """
    Backward pass for the affine-ReLU convenience layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: ((x, w, b), a) as returned by affine_relu_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    fc_cache, a = unpack_cache(cache, ("fc_cache", "relu_cache"), "affine_relu_forward")
    x, w, b = unpack_cache(fc_cache, ("x", "w", "b"), "affine_relu_forward")
    dout, a, x, w, b = as_float_arrays(("dout", "relu_cache", "x", "w", "b"), dout, a, x, w, b)
    x2 = check_affine_params(x, w, b)
    check_affine_grad(dout, x, w)
    check_shape("relu_cache", a, dout.shape, "the pre-activation of shape (N, M)")
    dx2, dw, db = cpu.affine_relu_backward(dout, a, x2, w)
    return dx2.reshape(x.shape), dw, db


def _loss(kernel, x, y):
    (x,) = as_float_arrays(("x",), x)
    check_scores(x)
    y = as_labels(y, *x.shape, value_range=cpu.label_range)
    loss, dx = kernel(x, y)
    return float(loss), dx


def softmax_loss(x, y):
    """
    Computes the loss and gradient for softmax classification.

    Inputs:
    - x: Scores, of shape (N, C) where x[i, j] is the score of class j
      for example i
    - y: Integer labels, of shape (N,) with 0 <= y[i] < C

    Returns a tuple of:
    - loss: Python float, the loss averaged over N
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    return _loss(cpu.softmax_loss, x, y)


def svm_loss(x, y):
    """
    Computes the loss and gradient for a multiclass SVM (hinge loss, margin 1).

    Inputs:
    - x: Scores, of shape (N, C) where x[i, j] is the score of class j
      for example i
    - y: Integer labels, of shape (N,) with 0 <= y[i] < C

    Returns a tuple of:
    - loss: Python float, the loss averaged over N
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    return _loss(cpu.svm_loss, x, y)
