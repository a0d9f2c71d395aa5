"""Affine layers: NumPy's BLAS for the products, Numba for the epilogues.

``np.dot`` is one OpenBLAS thread pool for the per-layer API; hand-written
matmul loops lost 3-6x.  Numba adds the bias (and ReLU) after the GEMM and
reduces ``db`` row by row, streaming the rows (cache friendly); large
outputs split rows into chunks in a ``prange`` with per-chunk column
partials.  The ``*_span`` functions are public: the fused trainer
(:mod:`fastnn.kernels.cpu.fused`) runs them on its own buffers.
"""

import numpy as np
from numba import njit, prange

from fastnn import output_pool
from fastnn.kernels.cpu.dispatch import is_large_rows, num_chunks, rows_per_chunk



@njit(cache=True)
def bias_span(out, b, start, stop):
    for i in range(start, stop):
        row = out[i]
        for j in range(row.size):
            row[j] += b[j]


@njit(cache=True, parallel=True)
def _bias_chunked(out, b, rows):
    n = out.shape[0]
    for c in prange((n + rows - 1) // rows):
        bias_span(out, b, c * rows, min(n, (c + 1) * rows))


@njit(cache=True)
def bias_relu_span(a, b, out, start, stop):
    zero = a.dtype.type(0)
    for i in range(start, stop):
        arow = a[i]
        orow = out[i]
        for j in range(arow.size):
            v = arow[j] + b[j]
            arow[j] = v
            orow[j] = v if not v <= zero else zero


@njit(cache=True, parallel=True)
def _bias_relu_chunked(a, b, out, rows):
    n = a.shape[0]
    for c in prange((n + rows - 1) // rows):
        bias_relu_span(a, b, out, c * rows, min(n, (c + 1) * rows))


@njit(cache=True)
def colsum_span(dout, colsum, start, stop):
    for i in range(start, stop):
        row = dout[i]
        for j in range(row.size):
            colsum[j] += row[j]


@njit(cache=True, parallel=True)
def _colsum_chunked(dout, partial, rows):
    n = dout.shape[0]
    for c in prange(partial.shape[0]):
        colsum_span(dout, partial[c], c * rows, min(n, (c + 1) * rows))


@njit(cache=True)
def relu_grad_colsum_span(dout, a, da, colsum, start, stop):
    zero = a.dtype.type(0)
    for i in range(start, stop):
        drow = dout[i]
        arow = a[i]
        darow = da[i]
        for j in range(arow.size):
            g = drow[j] * (arow[j] >= zero)
            darow[j] = g
            colsum[j] += g


@njit(cache=True, parallel=True)
def _relu_grad_colsum_chunked(dout, a, da, partial, rows):
    n = a.shape[0]
    for c in prange(partial.shape[0]):
        relu_grad_colsum_span(dout, a, da, partial[c], c * rows, min(n, (c + 1) * rows))


def _column_sums(dout):
    """``dout.sum(axis=0)`` in dout's dtype, row-streaming (cache friendly)."""
    num_rows, num_cols = dout.shape
    if is_large_rows(dout):
        rows = rows_per_chunk(num_cols)
        partial = np.zeros((num_chunks(num_rows, rows), num_cols), dout.dtype)
        _colsum_chunked(dout, partial, rows)
        return partial.sum(axis=0)
    colsum = np.zeros(num_cols, dout.dtype)
    colsum_span(dout, colsum, 0, num_rows)
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
    if is_large_rows(out):
        _bias_chunked(out, b, rows_per_chunk(out.shape[1]))
    else:
        bias_span(out, b, 0, out.shape[0])
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
    out = output_pool.empty_like(a)
    if is_large_rows(a):
        _bias_relu_chunked(a, b, out, rows_per_chunk(a.shape[1]))
    else:
        bias_relu_span(a, b, out, 0, a.shape[0])
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
    da = output_pool.empty_like(a)
    if is_large_rows(a):
        rows = rows_per_chunk(num_cols)
        partial = np.zeros((num_chunks(num_rows, rows), num_cols), a.dtype)
        _relu_grad_colsum_chunked(dout, a, da, partial, rows)
        db = partial.sum(axis=0)
    else:
        db = np.zeros(num_cols, a.dtype)
        relu_grad_colsum_span(dout, a, da, db, 0, num_rows)
    return np.dot(da, w.T), np.dot(x2.T, da), db

