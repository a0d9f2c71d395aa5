"""Numba kernels for dropout, batch normalisation and layer normalisation.

Statistics are accumulated in float64 whatever the input dtype, and each
kernel makes one pass per statistic over data that the public API has
already checked.  Batchnorm's statistics run down columns, so they stream
rows and accumulate a row vector; layernorm's run along rows.

Compiled with ``error_model="numpy"``: Numba's default Python error model
checks every float division for zero, and that branch kept the loops
scalar; IEEE results (inf, NaN) are what these formulas want anyway.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def dropout_forward(x, uniforms, p, out, mask):
    """``mask = uniforms < p``; ``out = x * mask / p``; all flat, one size."""
    zero = x.dtype.type(0)
    scale = x.dtype.type(1) / p
    for i in range(x.size):
        keep = uniforms[i] < p
        mask[i] = keep
        out[i] = x[i] * scale if keep else zero


@njit(cache=True, error_model="numpy")
def dropout_backward(dout, mask, p, dx):
    """``dx = dout * mask / p``; all flat, one size."""
    zero = dout.dtype.type(0)
    scale = dout.dtype.type(1) / p
    for i in range(dout.size):
        dx[i] = dout[i] * scale if mask[i] else zero


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
    """dx, dgamma, dbeta of batch normalisation (train: batch statistics; else fixed ones)."""
    n, d = dout.shape
    sum_g = np.zeros(d)
    sum_gh = np.zeros(d)
    for i in range(n):
        drow = dout[i]
        hrow = xhat[i]
        for j in range(d):
            sum_g[j] += drow[j]
            sum_gh[j] += drow[j] * hrow[j]
    for j in range(d):
        dbeta[j] = sum_g[j]
        dgamma[j] = sum_gh[j]
    t = dout.dtype.type
    for i in range(n):
        drow = dout[i]
        hrow = xhat[i]
        dxrow = dx[i]
        for j in range(d):
            if train:
                # dxhat sums are gamma times the dout sums.
                dxrow[j] = t(inv_std[j] / n * gamma[j] * (n * drow[j] - sum_g[j] - hrow[j] * sum_gh[j]))
            else:
                dxrow[j] = gamma[j] * drow[j] * inv_std[j]


@njit(cache=True, error_model="numpy")
def layernorm_forward(x, gamma, beta, eps, xhat, out, inv_std):
    """Per-row normalisation; ``inv_std`` (N,) is written for the backward pass."""
    n, d = x.shape
    t = x.dtype.type
    for i in range(n):
        row = x[i]
        mean = 0.0
        for j in range(d):
            mean += row[j]
        mean /= d
        var = 0.0
        for j in range(d):
            c = row[j] - mean
            var += c * c
        inv = 1.0 / math.sqrt(var / d + eps)
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
