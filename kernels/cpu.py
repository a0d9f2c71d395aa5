"""Numba CPU kernels for the fastnn layers.

Conventions
-----------
* Inputs are C-contiguous float32 or float64 arrays whose shapes the public
  API has already checked; the kernels do no checking of their own.
* Each kernel is compiled natively per dtype, and every constant is made in
  the array's dtype (``x.dtype.type(0)``) so float32 never upcasts.
* Matrix products go through NumPy's BLAS (one OpenBLAS thread pool for the
  whole process); Numba does the epilogues and reductions around them.
* Every loop body lives in a serial ``*_span`` function.  Large inputs run
  that same function over chunks inside a ``prange`` driver; small inputs
  call it directly and pay no thread-pool start-up.  The size thresholds
  live in :mod:`fastnn.config`.
"""

import math

import numpy as np
from numba import njit, prange

from fastnn import config

# Lets LLVM vectorise the row sums; no flag that would change inf/NaN handling.
_REDUCE = {"reassoc", "contract"}


def _num_chunks(total, chunk):
    return max(1, -(-total // chunk))


def _rows_per_chunk(num_cols):
    return max(1, config.CHUNK_ELEMENTS // max(1, num_cols))


def _is_large_rows(matrix):
    return matrix.size >= config.PARALLEL_MIN_ROW_ELEMENTS and matrix.shape[0] > 1


# ---------------------------------------------------------------- ReLU


@njit(cache=True)
def _relu_forward_span(x, out, start, stop):
    zero = x.dtype.type(0)
    for i in range(start, stop):
        v = x[i]
        # Written as `not v <= 0` so that NaN propagates like np.maximum.
        out[i] = v if not v <= zero else zero


@njit(cache=True, parallel=True)
def _relu_forward_chunked(x, out, chunk):
    n = x.size
    for c in prange((n + chunk - 1) // chunk):
        _relu_forward_span(x, out, c * chunk, min(n, (c + 1) * chunk))


@njit(cache=True)
def _relu_backward_span(dout, x, dx, start, stop):
    zero = x.dtype.type(0)
    for i in range(start, stop):
        dx[i] = dout[i] * (x[i] >= zero)


@njit(cache=True, parallel=True)
def _relu_backward_chunked(dout, x, dx, chunk):
    n = x.size
    for c in prange((n + chunk - 1) // chunk):
        _relu_backward_span(dout, x, dx, c * chunk, min(n, (c + 1) * chunk))


def relu_forward(x, out):
    """
    Elementwise ``out = max(x, 0)``.

    Parameters
    ----------
    x : ndarray, 1-D, C-contiguous
        Input values.
    out : ndarray, same shape and dtype as ``x``
        Written with the result; may be ``x`` itself.
    """
    if x.size >= config.PARALLEL_MIN_ELEMENTS:
        _relu_forward_chunked(x, out, config.CHUNK_ELEMENTS)
    else:
        _relu_forward_span(x, out, 0, x.size)


def relu_backward(dout, x, dx):
    """
    Elementwise ``dx = dout * (x >= 0)``.

    Parameters
    ----------
    dout, x : ndarray, 1-D, C-contiguous, same shape and dtype
        Upstream gradient and the forward input.
    dx : ndarray, same shape and dtype
        Written with the gradient; may be ``dout`` itself.
    """
    if x.size >= config.PARALLEL_MIN_ELEMENTS:
        _relu_backward_chunked(dout, x, dx, config.CHUNK_ELEMENTS)
    else:
        _relu_backward_span(dout, x, dx, 0, x.size)


# ------------------------------------------------------------- affine


@njit(cache=True)
def _bias_span(out, b, start, stop):
    for i in range(start, stop):
        for j in range(out.shape[1]):
            out[i, j] += b[j]


@njit(cache=True, parallel=True)
def _bias_chunked(out, b, rows):
    n = out.shape[0]
    for c in prange((n + rows - 1) // rows):
        _bias_span(out, b, c * rows, min(n, (c + 1) * rows))


@njit(cache=True)
def _bias_relu_span(a, b, out, start, stop):
    zero = a.dtype.type(0)
    for i in range(start, stop):
        for j in range(a.shape[1]):
            v = a[i, j] + b[j]
            a[i, j] = v
            out[i, j] = v if not v <= zero else zero


@njit(cache=True, parallel=True)
def _bias_relu_chunked(a, b, out, rows):
    n = a.shape[0]
    for c in prange((n + rows - 1) // rows):
        _bias_relu_span(a, b, out, c * rows, min(n, (c + 1) * rows))


@njit(cache=True)
def _colsum_span(dout, colsum, start, stop):
    for i in range(start, stop):
        for j in range(dout.shape[1]):
            colsum[j] += dout[i, j]


@njit(cache=True, parallel=True)
def _colsum_chunked(dout, partial, rows):
    n = dout.shape[0]
    for c in prange(partial.shape[0]):
        _colsum_span(dout, partial[c], c * rows, min(n, (c + 1) * rows))


@njit(cache=True)
def _relu_grad_colsum_span(dout, a, da, colsum, start, stop):
    zero = a.dtype.type(0)
    for i in range(start, stop):
        for j in range(a.shape[1]):
            g = dout[i, j] * (a[i, j] >= zero)
            da[i, j] = g
            colsum[j] += g


@njit(cache=True, parallel=True)
def _relu_grad_colsum_chunked(dout, a, da, partial, rows):
    n = a.shape[0]
    for c in prange(partial.shape[0]):
        _relu_grad_colsum_span(dout, a, da, partial[c], c * rows, min(n, (c + 1) * rows))


def _column_sums(dout):
    """``dout.sum(axis=0)`` in dout's dtype, row-streaming (cache friendly)."""
    num_rows, num_cols = dout.shape
    if _is_large_rows(dout):
        rows = _rows_per_chunk(num_cols)
        partial = np.zeros((_num_chunks(num_rows, rows), num_cols), dout.dtype)
        _colsum_chunked(dout, partial, rows)
        return partial.sum(axis=0)
    colsum = np.zeros(num_cols, dout.dtype)
    _colsum_span(dout, colsum, 0, num_rows)
    return colsum


def affine_forward(x2, w, b):
    """
    ``out = x2 @ w + b`` with the bias added in place after the GEMM.

    Parameters
    ----------
    x2 : ndarray, shape (N, D)
        Inputs, already flattened to rows.
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    """
    out = np.dot(x2, w)
    if _is_large_rows(out):
        _bias_chunked(out, b, _rows_per_chunk(out.shape[1]))
    else:
        _bias_span(out, b, 0, out.shape[0])
    return out


def affine_relu_forward(x2, w, b):
    """
    ``a = x2 @ w + b`` and ``out = max(a, 0)``, bias and ReLU in one pass.

    Parameters
    ----------
    x2 : ndarray, shape (N, D)
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    a : ndarray, shape (N, M)
        The pre-activation, which the backward pass needs for its mask.
    out : ndarray, shape (N, M)
    """
    a = np.dot(x2, w)
    out = np.empty_like(a)
    if _is_large_rows(a):
        _bias_relu_chunked(a, b, out, _rows_per_chunk(a.shape[1]))
    else:
        _bias_relu_span(a, b, out, 0, a.shape[0])
    return a, out


def affine_backward(dout, x2, w):
    """
    Gradients of ``x2 @ w + b``.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    x2 : ndarray, shape (N, D)
    w : ndarray, shape (D, M)

    Returns
    -------
    dx2 : ndarray, shape (N, D)
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
        Reduced in dout's own dtype in one row-streaming pass.
    """
    return np.dot(dout, w.T), np.dot(x2.T, dout), _column_sums(dout)


def affine_relu_backward(dout, a, x2, w):
    """
    Gradients of ``max(x2 @ w + b, 0)``; the ReLU mask and ``db`` in one pass.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    a : ndarray, shape (N, M)
        Pre-activation from :func:`affine_relu_forward`.
    x2 : ndarray, shape (N, D)
    w : ndarray, shape (D, M)

    Returns
    -------
    dx2 : ndarray, shape (N, D)
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    num_rows, num_cols = a.shape
    da = np.empty_like(a)
    if _is_large_rows(a):
        rows = _rows_per_chunk(num_cols)
        partial = np.zeros((_num_chunks(num_rows, rows), num_cols), a.dtype)
        _relu_grad_colsum_chunked(dout, a, da, partial, rows)
        db = partial.sum(axis=0)
    else:
        db = np.zeros(num_cols, a.dtype)
        _relu_grad_colsum_span(dout, a, da, db, 0, num_rows)
    return np.dot(da, w.T), np.dot(x2.T, da), db


# ------------------------------------------------------------- losses


@njit(cache=True, fastmath=_REDUCE)
def _softmax_span(x, y, dx, scale, start, stop):
    total = 0.0
    for i in range(start, stop):
        row = x[i]
        grad = dx[i]
        m = row[0]
        for j in range(1, row.size):
            m = max(m, row[j])
        s = row.dtype.type(0)
        for j in range(row.size):
            e = math.exp(row[j] - m)
            grad[j] = e
            s += e
        total += math.log(s) - (row[y[i]] - m)
        inv = scale / s
        for j in range(row.size):
            grad[j] *= inv
        grad[y[i]] -= scale
    return total


@njit(cache=True, parallel=True)
def _softmax_chunked(x, y, dx, scale, rows):
    n = x.shape[0]
    total = 0.0
    for c in prange((n + rows - 1) // rows):
        total += _softmax_span(x, y, dx, scale, c * rows, min(n, (c + 1) * rows))
    return total


@njit(cache=True)
def _svm_span(x, y, dx, scale, start, stop):
    one = x.dtype.type(1)
    zero = x.dtype.type(0)
    total = 0.0
    for i in range(start, stop):
        row = x[i]
        grad = dx[i]
        label = y[i]
        target = row[label]
        violated = 0
        for j in range(row.size):
            margin = row[j] - target + one
            if j != label and margin > zero:
                total += margin
                grad[j] = scale
                violated += 1
            else:
                grad[j] = zero
        grad[label] = -violated * scale
    return total


@njit(cache=True, parallel=True)
def _svm_chunked(x, y, dx, scale, rows):
    n = x.shape[0]
    total = 0.0
    for c in prange((n + rows - 1) // rows):
        total += _svm_span(x, y, dx, scale, c * rows, min(n, (c + 1) * rows))
    return total


def _row_loss(span, chunked, x, y):
    n = x.shape[0]
    dx = np.empty_like(x)
    scale = x.dtype.type(1.0 / n)
    if _is_large_rows(x):
        total = chunked(x, y, dx, scale, _rows_per_chunk(x.shape[1]))
    else:
        total = span(x, y, dx, scale, 0, n)
    return total / n, dx


def softmax_loss(x, y):
    """
    Softmax cross-entropy loss and its gradient, fused row by row.

    Each row is read once for its maximum, then once more to write the
    exponentials into ``dx``, which are rescaled while still in cache.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Scores.
    y : ndarray of intp, shape (N,)
        Labels in ``[0, C)``.

    Returns
    -------
    loss : float
        Mean loss, accumulated in float64.
    dx : ndarray, shape (N, C), dtype of ``x``
    """
    return _row_loss(_softmax_span, _softmax_chunked, x, y)


def svm_loss(x, y):
    """
    Multiclass hinge loss (margin 1) and its gradient in one pass per row.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Scores.
    y : ndarray of intp, shape (N,)
        Labels in ``[0, C)``.

    Returns
    -------
    loss : float
        Mean loss, accumulated in float64.
    dx : ndarray, shape (N, C), dtype of ``x``
    """
    return _row_loss(_svm_span, _svm_chunked, x, y)
