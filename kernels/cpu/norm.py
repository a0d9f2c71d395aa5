"""Batch normalisation and layer normalisation.

Statistics are accumulated in float64 whatever the input dtype, and each
kernel makes one pass per statistic over data that the public API has
already checked.  Batchnorm's statistics run down columns, so they stream
rows and accumulate a row vector (which is also NumPy's order for an axis-0
mean); layernorm's run along rows, in NumPy's pairwise order.  In float64
both forwards therefore give NumPy's results bit for bit, which keeps
numerical gradient checks through them as clean as NumPy's (issue 8).

Compiled with ``error_model="numpy"``: Numba's default Python error model
checks every float division for zero, and that branch kept the loops
scalar; IEEE results (inf, NaN) are what these formulas want anyway.
"""

import math

import numpy as np
from numba import njit

from fastnn.kernels.cpu.numpy_order import pairwise_sum


@njit(cache=True, error_model="numpy")
def column_moments(x):
    """Mean and biased variance of every column of x (N, D), in float64."""
    n, d = x.shape
    mean = np.zeros(d)
    for i in range(n):
        row = x[i]
        for j in range(d):
            mean[j] += row[j]
    mean /= n
    var = np.zeros(d)
    for i in range(n):
        row = x[i]
        for j in range(d):
            t = row[j] - mean[j]
            var[j] += t * t
    var /= n
    return mean, var


@njit(cache=True, error_model="numpy")
def normalize_columns(x, mean, inv_std, gamma, beta, xhat, out):
    """``xhat = (x - mean) * inv_std`` per column; ``out = gamma * xhat + beta``."""
    n, d = x.shape
    for i in range(n):
        row = x[i]
        hrow = xhat[i]
        orow = out[i]
        for j in range(d):
            h = (row[j] - mean[j]) * inv_std[j]
            hrow[j] = h
            orow[j] = gamma[j] * h + beta[j]


@njit(cache=True, error_model="numpy")
def batchnorm_backward(dout, xhat, gamma, inv_std, train, dx, dgamma, dbeta):
    """dx, dgamma, dbeta of batch normalisation (train: batch statistics; else fixed ones).

    In train mode ``dx = inv_std / N * (N * dxhat - sum(dxhat) - xhat *
    sum(dxhat * xhat))`` with ``dxhat = dout * gamma``, each product and sum
    in the reference's order, so float64 results are the reference's to the
    bit: the gradient of a bias that batchnorm cancels is pure rounding, and
    a gradient check of it prints NumPy's number only if the rounding is
    NumPy's.
    """
    n, d = dout.shape
    sum_g = np.zeros(d)
    sum_gh = np.zeros(d)
    sum_dh = np.zeros(d)
    sum_dhh = np.zeros(d)
    for i in range(n):
        drow = dout[i]
        hrow = xhat[i]
        for j in range(d):
            g = drow[j]
            h = hrow[j]
            dh = g * gamma[j]
            sum_g[j] += g
            sum_gh[j] += g * h
            sum_dh[j] += dh
            sum_dhh[j] += dh * h
    for j in range(d):
        dbeta[j] = sum_g[j]
        dgamma[j] = sum_gh[j]
    t = dout.dtype.type
    for i in range(n):
        drow = dout[i]
        hrow = xhat[i]
        dxrow = dx[i]
        for j in range(d):
            dh = drow[j] * gamma[j]
            if train:
                dxrow[j] = t(inv_std[j] / n * ((n * dh - sum_dh[j]) - hrow[j] * sum_dhh[j]))
            else:
                dxrow[j] = dh * inv_std[j]


@njit(cache=True, error_model="numpy")
def layernorm_forward(x, gamma, beta, eps, xhat, out, inv_std):
    """Per-row normalisation; ``inv_std`` (N,) is written for the backward pass.

    The row mean and variance are NumPy's ``x.mean(axis=1)`` and
    ``x.var(axis=1)`` to the bit in float64: pairwise sums, the variance
    from the squared deviations (see fastnn.kernels.cpu.numpy_order).
    """
    n, d = x.shape
    t = x.dtype.type
    squares = np.empty(d)
    for i in range(n):
        row = x[i]
        mean = pairwise_sum(row) / d
        for j in range(d):
            c = row[j] - mean
            squares[j] = c * c
        inv = 1.0 / math.sqrt(pairwise_sum(squares) / d + eps)
        inv_std[i] = t(inv)
        hrow = xhat[i]
        orow = out[i]
        for j in range(d):
            h = t((row[j] - mean) * inv)
            hrow[j] = h
            orow[j] = gamma[j] * h + beta[j]


@njit(cache=True, error_model="numpy")
def layernorm_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta):
    """dx, dgamma, dbeta of layer normalisation."""
    n, d = dout.shape
    acc_g = np.zeros(d)
    acc_gh = np.zeros(d)
    t = dout.dtype.type
    for i in range(n):
        drow = dout[i]
        hrow = xhat[i]
        s1 = 0.0
        s2 = 0.0
        for j in range(d):
            g = drow[j] * gamma[j]
            s1 += g
            s2 += g * hrow[j]
            acc_g[j] += drow[j]
            acc_gh[j] += drow[j] * hrow[j]
        inv = inv_std[i]
        dxrow = dx[i]
        for j in range(d):
            dxrow[j] = t(inv / d * (d * drow[j] * gamma[j] - s1 - hrow[j] * s2))
    for j in range(d):
        dbeta[j] = acc_g[j]
        dgamma[j] = acc_gh[j]
