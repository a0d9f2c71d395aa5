"""Pure-NumPy layers: the oracle every kernel is tested against.

Same names, signatures and cache layouts as :mod:`fastnn.layers`.  The code
favours clarity over speed, keeps the input's float dtype (no ``np.ones``
vectors that would upcast float32), and does no argument checking.
"""

import numpy as np


def _rows(x):
    """x of shape (N, d_1, ..., d_k) as (N, D); explicit D so that N = 0 works."""
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))


def affine_forward(x, w, b):
    """
    Computes the forward pass for an affine (fully connected) layer.

    Inputs:
    - x: Input data, of shape (N, d_1, ..., d_k)
    - w: Weights, of shape (D, M) where D = d_1 * ... * d_k
    - b: Biases, of shape (M,)

    Returns a tuple of:
    - out: Output, of shape (N, M)
    - cache: (x, w, b)
    """
    out = _rows(x).dot(w) + b
    return out, (x, w, b)


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
    x, w, _ = cache
    x2 = _rows(x)
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x2.T.dot(dout)
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """
    Computes the forward pass for a layer of rectified linear units.

    Inputs:
    - x: Inputs, of any shape

    Returns a tuple of:
    - out: max(x, 0), of the same shape as x (NaN stays NaN)
    - cache: x
    """
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """
    Computes the backward pass for a layer of rectified linear units.

    As in the seed notebook, the gradient passes where x >= 0, so an input
    of exactly zero lets the gradient through.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: Input x, of the same shape as dout

    Returns:
    - dx: Gradient with respect to x, of the same shape as dout
    """
    return dout * (cache >= 0)


def affine_relu_forward(x, w, b):
    """
    Affine transform followed by a ReLU.

    Inputs:
    - x: Input data, of shape (N, d_1, ..., d_k)
    - w: Weights, of shape (D, M)
    - b: Biases, of shape (M,)

    Returns a tuple of:
    - out: Output of the ReLU, of shape (N, M)
    - cache: (fc_cache, relu_cache) = ((x, w, b), a) where a, of shape
      (N, M), is the affine output before the ReLU
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """
    Backward pass for the affine-ReLU convenience layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: (fc_cache, relu_cache) as returned by affine_relu_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def softmax_loss(x, y):
    """
    Computes the loss and gradient for softmax classification.

    Uses the stable form L_i = -f_{y_i} + log sum_j exp f_j with the row
    maximum subtracted first, so no epsilon is needed inside the log.

    Inputs:
    - x: Scores, of shape (N, C) where x[i, j] is the score of class j
      for example i
    - y: Labels, of shape (N,) with 0 <= y[i] < C

    Returns a tuple of:
    - loss: Python float, the loss averaged over N
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    n = x.shape[0]
    rows = np.arange(n)
    shifted = x - x.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    sums = exps.sum(axis=1, keepdims=True)
    loss = np.sum(np.log(sums[:, 0]) - shifted[rows, y]) / n
    dx = exps / sums
    dx[rows, y] -= 1
    dx /= n
    return float(loss), dx


def svm_loss(x, y):
    """
    Computes the loss and gradient for a multiclass SVM (hinge loss, margin 1).

    Inputs:
    - x: Scores, of shape (N, C) where x[i, j] is the score of class j
      for example i
    - y: Labels, of shape (N,) with 0 <= y[i] < C

    Returns a tuple of:
    - loss: Python float, the loss averaged over N
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / n
    positive = margins > 0
    dx = positive.astype(x.dtype)
    dx[rows, y] -= positive.sum(axis=1)
    dx /= n
    return float(loss), dx
