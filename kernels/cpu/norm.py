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
from numba import njit, prange

from fastnn import output_pool
from fastnn.kernels.cpu.dispatch import REDUCE, is_large, is_large_rows, num_chunks, rows_per_chunk, serial_and_parallel
from fastnn.kernels.cpu.numpy_order import pairwise_sum


# ------------------------------------------------- batch and layer norm
# Memory-bound: at (4096, 1024) each array is 16 MB (float32) or 32 MB
# (float64).
#
# Batchnorm's statistics run down columns, each column summed row after row,
# which is NumPy's order for an axis-0 reduction, so float64 stays
# bit-identical to the reference.  That order leaves one way to use several
# threads: split the columns.  Each thread takes one contiguous range of
# columns and streams every row's slice of it.  Narrow blocks kept in L2
# were tried and were slower, measured with preallocated outputs at
# (4096, 1024) float32: 16 columns a block 11.0 ms forward and 10.4 ms
# backward, 128 columns 4.5 and 7.1 ms, one range per thread (512 columns)
# 3.8 and 4.8 ms; rows of 64 to 512 bytes 8 KB apart defeat the prefetcher.
# So the float64 forward reads x three times (mean, variance, normalisation):
# the variance needs the finished mean, the normalisation the finished
# variance, and x is larger than the caches.  float32 reads it twice, its
# statistics in one pass over row chunks (_shifted_sums): serially 0.93 ->
# 0.60 ms at (4096, 1024), where the column split on two threads took
# 0.96 ms, slower than one thread (each streams half of every 4 KB row).
#
# Layernorm works row by row, rows split across threads; its backward keeps
# per-chunk partial column sums for dgamma and dbeta.


def batchnorm_block_columns(d, threads):
    """Columns per batchnorm block: one contiguous range per thread, a multiple of 16."""
    cols = -(-d // max(1, threads))
    return max(16, cols + (-cols) % 16)


@njit(cache=True, error_model="numpy")
def batchnorm_stats_span(x, eps, train, mean, var, std, inv_std, start, stop):
    """
    Columns [start, stop) of batch normalisation's statistics of x (N, D).

    train: the columns' float64 mean and biased variance are written into
    ``mean`` and ``var``, each column summed row after row as NumPy's axis-0
    reductions do; otherwise those hold the running averages.  Then
    ``std = sqrt(var + eps)`` and ``inv_std = 1 / std``.
    """
    n = x.shape[0]
    m = mean[start:stop]
    v = var[start:stop]
    sd = std[start:stop]
    inv = inv_std[start:stop]
    width = stop - start
    if train:
        for j in range(width):
            m[j] = 0.0
            v[j] = 0.0
        for i in range(n):
            row = x[i, start:stop]
            for j in range(width):
                m[j] += row[j]
        for j in range(width):
            m[j] /= n
        for i in range(n):
            row = x[i, start:stop]
            for j in range(width):
                t = row[j] - m[j]
                v[j] += t * t
        for j in range(width):
            v[j] /= n
    for j in range(width):
        sd[j] = math.sqrt(v[j] + eps)
        inv[j] = 1.0 / sd[j]


@njit(cache=True, error_model="numpy")
def batchnorm_normalize_span(x, gamma, beta, mean, std, inv_std, xhat, out, start, stop):
    """
    Rows [start, stop): ``out = gamma * xhat + beta`` with the course's
    ``xhat = (x - mean) / std`` in float64 (its rounding, issue 24), and
    ``(x - mean) * inv_std`` in float32, one rounding more for a multiply
    in place of a divide.
    """
    divide = x.itemsize == 8
    for i in range(start, stop):
        row, hrow, orow = x[i], xhat[i], out[i]
        if divide:
            for j in range(row.size):
                h = (row[j] - mean[j]) / std[j]
                hrow[j] = h
                orow[j] = gamma[j] * h + beta[j]
        else:
            for j in range(row.size):
                h = (row[j] - mean[j]) * inv_std[j]
                hrow[j] = h
                orow[j] = gamma[j] * h + beta[j]


@njit(cache=True, error_model="numpy")
def _shifted_sums(x, sums, start, stop):
    # float32 batchnorm's statistics, whose results need not be NumPy's bits,
    # in one read of x and with row chunks on every thread: over rows
    # [start, stop), sums[0] = sum(t) and sums[1] = sum(t * t) per column,
    # t = x[i] - x[0] in float64 (exact).  Shifting by a value of the column
    # keeps s2 - s1 * s1 / N from cancelling unless x[0] lies far out among
    # the column's values, and the float64 sums still leave a relative error
    # of about 1e-16 * (mean - x[0])**2 / var there, far below float32's.
    s1, s2, shift = sums[0], sums[1], x[0]
    for j in range(s1.size):
        s1[j] = 0.0
        s2[j] = 0.0
    for i in range(start, stop):
        row = x[i]
        for j in range(row.size):
            t = np.float64(row[j]) - np.float64(shift[j])
            s1[j] += t
            s2[j] += t * t


@njit(cache=True)
def _chunk_totals(parts):
    # parts (chunks, K, D) of float32 batchnorm's per-chunk column sums,
    # added in chunk order: the same bits on any thread count.
    totals = np.zeros(parts.shape[1:])
    for c in range(parts.shape[0]):
        for k in range(parts.shape[1]):
            for j in range(parts.shape[2]):
                totals[k, j] += parts[c, k, j]
    return totals


@njit(cache=True, error_model="numpy")
def _stats_from_sums(x, parts, mean, var):
    n, d = x.shape
    shift = x[0]
    totals = _chunk_totals(parts)
    for j in range(d):
        s1, s2 = totals[0, j], totals[1, j]
        mean[j] = shift[j] + s1 / n
        var[j] = max((s2 - s1 * s1 / n) / n, 0.0)


def _partial_sums(x, train, stat_chunks):
    """Room for float32 batchnorm's two per-chunk column sums; none for float64 or fixed statistics."""
    n, d = x.shape
    chunks = max(1, min(n, stat_chunks)) if train and x.dtype == np.float32 else 0
    return np.empty((chunks, 2, d))


def _batchnorm_forward_chunks(x, gamma, beta, eps, train, mean, var, std, inv_std, xhat, out, cols, rows, parts):
    n, d = x.shape
    if train and x.itemsize == 4:
        stat_rows = (n + parts.shape[0] - 1) // parts.shape[0]
        for c in prange(parts.shape[0]):
            _shifted_sums(x, parts[c], c * stat_rows, min(n, (c + 1) * stat_rows))
        _stats_from_sums(x, parts, mean, var)
        batchnorm_stats_span(x, eps, False, mean, var, std, inv_std, 0, d)
    else:
        for c in prange((d + cols - 1) // cols):
            batchnorm_stats_span(x, eps, train, mean, var, std, inv_std, c * cols, min(d, (c + 1) * cols))
    for c in prange((n + rows - 1) // rows):
        batchnorm_normalize_span(x, gamma, beta, mean, std, inv_std, xhat, out, c * rows, min(n, (c + 1) * rows))


_batchnorm_forward_serial, _batchnorm_forward_parallel = serial_and_parallel(_batchnorm_forward_chunks, error_model="numpy")


def batchnorm_forward(x, gamma, beta, eps, train, mean, var, threads, stat_chunks):
    """
    Batch normalisation of x (N, D).

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta : ndarrays of x's dtype, shape (D,)
    eps : float
    train : bool
        Batch statistics (written into ``mean`` and ``var``) or the given ones.
    mean, var : float64 ndarrays, shape (D,)
    threads : int
        Threads to split the columns of the float64 statistics over.
    stat_chunks : int
        Row chunks of the float32 statistics (their partial sums are added
        in chunk order, so the count, not the threads, decides the bits).

    Returns
    -------
    out, xhat : ndarrays of x's shape and dtype
    inv_std : float64 ndarray, shape (D,)
    """
    n, d = x.shape
    xhat, out = output_pool.empty_like(x), output_pool.empty_like(x)
    std, inv_std = np.empty(d), np.empty(d)
    parts = _partial_sums(x, train, stat_chunks)
    if is_large(x):
        cols = batchnorm_block_columns(d, threads)
        _batchnorm_forward_parallel(x, gamma, beta, eps, train, mean, var, std, inv_std, xhat, out, cols, rows_per_chunk(d), parts)
    else:
        _batchnorm_forward_serial(x, gamma, beta, eps, train, mean, var, std, inv_std, xhat, out, d, n, parts)
    return out, xhat, inv_std


@njit(cache=True, error_model="numpy")
def batchnorm_backward_span(dout, xhat, gamma, inv_std, train, dx, dgamma, dbeta, start, stop):
    """
    Columns [start, stop) of dx, dgamma, dbeta of batch normalisation.

    In train mode ``dx = inv_std / N * (N * dxhat - sum(dxhat) - xhat *
    sum(dxhat * xhat))`` with ``dxhat = dout * gamma``, each product and sum
    in the reference's order, so float64 results are the reference's to the
    bit: the gradient of a bias that batchnorm cancels is pure rounding, and
    a gradient check of it prints NumPy's number only if the rounding is
    NumPy's.  Test mode: ``dx = dxhat * inv_std``.
    """
    n = dout.shape[0]
    width = stop - start
    g = gamma[start:stop]
    inv = inv_std[start:stop]
    sum_g = np.zeros(width)
    sum_gh = np.zeros(width)
    sum_dh = np.zeros(width)
    sum_dhh = np.zeros(width)
    for i in range(n):
        drow = dout[i, start:stop]
        hrow = xhat[i, start:stop]
        for j in range(width):
            d = drow[j]
            h = hrow[j]
            dh = d * g[j]
            sum_g[j] += d
            sum_gh[j] += d * h
            sum_dh[j] += dh
            sum_dhh[j] += dh * h
    db = dbeta[start:stop]
    dg = dgamma[start:stop]
    for j in range(width):
        db[j] = sum_g[j]
        dg[j] = sum_gh[j]
    t = dout.dtype.type
    for i in range(n):
        drow = dout[i, start:stop]
        hrow = xhat[i, start:stop]
        dxrow = dx[i, start:stop]
        if train:
            for j in range(width):
                dh = drow[j] * g[j]
                dxrow[j] = t(inv[j] / n * ((n * dh - sum_dh[j]) - hrow[j] * sum_dhh[j]))
        else:
            for j in range(width):
                dxrow[j] = drow[j] * g[j] * inv[j]


@njit(cache=True, error_model="numpy")
def _gradient_sums(dout, xhat, sums, start, stop):
    # float32 batchnorm backward: over rows [start, stop), per column in
    # float64, sums[0] = sum(dout) and sums[1] = sum(dout * xhat), the
    # products exact.  Two sums rather than the four of the float64 span
    # (the sums of dxhat are gamma times these): four accumulator arrays
    # kept the loop from vectorising, 2.66 against 0.98 ms at (4096, 1024).
    s_g, s_gh = sums[0], sums[1]
    for j in range(s_g.size):
        s_g[j] = 0.0
        s_gh[j] = 0.0
    for i in range(start, stop):
        drow, hrow = dout[i], xhat[i]
        for j in range(drow.size):
            d = np.float64(drow[j])
            s_g[j] += d
            s_gh[j] += d * np.float64(hrow[j])


@njit(cache=True, error_model="numpy")
def _dx_rows(dout, xhat, gamma, inv_std, train, sum_g, sum_gh, dx, start, stop):
    # Rows [start, stop) of the float32 dx from finished sums.  dxhat =
    # dout * gamma is exact in float64, so N * dxhat and gamma * sum(dout)
    # are both the one rounding of N * dout * gamma where dout is constant
    # down a column, and cancel exactly (at N = 1, dx is exactly 0).
    n = dout.shape[0]
    t = dout.dtype.type
    for i in range(start, stop):
        drow, hrow, dxrow = dout[i], xhat[i], dx[i]
        if train:
            for j in range(drow.size):
                g = np.float64(gamma[j])
                dh = np.float64(drow[j]) * g
                dxrow[j] = t(inv_std[j] / n * ((n * dh - g * sum_g[j]) - hrow[j] * (g * sum_gh[j])))
        else:
            for j in range(drow.size):
                dxrow[j] = drow[j] * gamma[j] * inv_std[j]


def _batchnorm_backward_chunks(dout, xhat, gamma, inv_std, train, dx, dgamma, dbeta, cols, rows, parts):
    n, d = dout.shape
    if dout.itemsize == 4:
        # Row chunks on every thread, their sums added in chunk order.
        stat_rows = (n + parts.shape[0] - 1) // parts.shape[0]
        for c in prange(parts.shape[0]):
            _gradient_sums(dout, xhat, parts[c], c * stat_rows, min(n, (c + 1) * stat_rows))
        totals = _chunk_totals(parts)
        for j in range(d):
            dbeta[j] = totals[0, j]
            dgamma[j] = totals[1, j]
        for c in prange((n + rows - 1) // rows):
            _dx_rows(dout, xhat, gamma, inv_std, train, totals[0], totals[1], dx, c * rows, min(n, (c + 1) * rows))
    else:
        for c in prange((d + cols - 1) // cols):
            batchnorm_backward_span(dout, xhat, gamma, inv_std, train, dx, dgamma, dbeta, c * cols, min(d, (c + 1) * cols))


_batchnorm_backward_serial, _batchnorm_backward_parallel = serial_and_parallel(_batchnorm_backward_chunks, error_model="numpy")


def batchnorm_backward(dout, xhat, gamma, inv_std, train, threads, stat_chunks):
    """
    dx (N, D), dgamma (D,), dbeta (D,) of batch normalisation.

    inv_std (D,) is of dout's dtype.  float64 splits the columns across
    ``threads`` (NumPy's order of each column's sums); float32 sums over
    ``stat_chunks`` row chunks, as the forward does.
    """
    n, d = dout.shape
    dx = output_pool.empty_like(dout)
    dgamma, dbeta = np.empty(d, dout.dtype), np.empty(d, dout.dtype)
    parts = _partial_sums(dout, True, stat_chunks)
    if is_large(dout):
        cols = batchnorm_block_columns(d, threads)
        _batchnorm_backward_parallel(dout, xhat, gamma, inv_std, train, dx, dgamma, dbeta, cols, rows_per_chunk(d), parts)
    else:
        _batchnorm_backward_serial(dout, xhat, gamma, inv_std, train, dx, dgamma, dbeta, d, n, parts)
    return dx, dgamma, dbeta


# float32 layernorm need not give NumPy's bits, so its row sums are plain
# loops that LLVM may reassociate, and so vectorise (float64 accumulators):
# the forward span took 4.15 against 7.93 ms serially at (4096, 1024), with
# the pairwise sums that float64 keeps.


@njit(cache=True, fastmath=REDUCE)
def _row_mean_var(row):
    d = row.size
    s = 0.0
    for j in range(d):
        s += row[j]
    mean = s / d
    q = 0.0
    for j in range(d):
        c = row[j] - mean
        q += c * c
    return mean, q / d


@njit(cache=True, fastmath=REDUCE)
def _row_sums_fast(drow, hrow, gamma, acc_g, acc_gh):
    # sum(dxhat) and sum(dxhat * xhat) of one row, dxhat = dout * gamma; the
    # row's dout and dout * xhat added into the column sums.  The products
    # are exact in float64, as dx's d * dout * gamma is, so that the two
    # cancel where they should (at D = 1, dx is exactly 0; float32 products
    # left 1e-7 * inv_std there).
    s1 = 0.0
    s2 = 0.0
    for j in range(drow.size):
        d = np.float64(drow[j])
        g = d * gamma[j]
        s1 += g
        s2 += g * hrow[j]
        acc_g[j] += d
        acc_gh[j] += d * hrow[j]
    return s1, s2


@njit(cache=True, error_model="numpy")
def layernorm_forward_span(x, gamma, beta, eps, xhat, out, inv_std, start, stop):
    """
    Rows [start, stop) of layer normalisation; ``inv_std`` (N,) is written for the backward pass.

    The row mean and variance are NumPy's ``x.mean(axis=1)`` and
    ``x.var(axis=1)`` to the bit in float64: pairwise sums, the variance
    from the squared deviations (see fastnn.kernels.cpu.numpy_order).
    """
    d = x.shape[1]
    t = x.dtype.type
    squares = np.empty(d)
    for i in range(start, stop):
        row = x[i]
        if x.itemsize == 4:
            mean, var = _row_mean_var(row)
        else:
            mean = pairwise_sum(row) / d
            for j in range(d):
                c = row[j] - mean
                squares[j] = c * c
            var = pairwise_sum(squares) / d
        inv = 1.0 / math.sqrt(var + eps)
        inv_std[i] = t(inv)
        hrow = xhat[i]
        orow = out[i]
        for j in range(d):
            h = t((row[j] - mean) * inv)
            hrow[j] = h
            orow[j] = gamma[j] * h + beta[j]


@njit(cache=True, error_model="numpy", parallel=True)
def _layernorm_forward_parallel(x, gamma, beta, eps, xhat, out, inv_std, rows):
    n = x.shape[0]
    for c in prange((n + rows - 1) // rows):
        layernorm_forward_span(x, gamma, beta, eps, xhat, out, inv_std, c * rows, min(n, (c + 1) * rows))


def layernorm_forward(x, gamma, beta, eps):
    """Layer normalisation of x (N, D); returns out, xhat and inv_std (N,) of x's dtype."""
    n = x.shape[0]
    xhat, out = output_pool.empty_like(x), output_pool.empty_like(x)
    inv_std = np.empty(n, x.dtype)
    if is_large_rows(x):
        _layernorm_forward_parallel(x, gamma, beta, eps, xhat, out, inv_std, rows_per_chunk(x.shape[1]))
    else:
        layernorm_forward_span(x, gamma, beta, eps, xhat, out, inv_std, 0, n)
    return out, xhat, inv_std


@njit(cache=True, error_model="numpy")
def layernorm_backward_span(dout, xhat, gamma, inv_std, dx, acc_g, acc_gh, start, stop):
    """Rows [start, stop) of dx; their column sums of dout and dout * xhat are added into acc_g and acc_gh (D,)."""
    d = dout.shape[1]
    t = dout.dtype.type
    for i in range(start, stop):
        drow = dout[i]
        hrow = xhat[i]
        if dout.itemsize == 4:
            s1, s2 = _row_sums_fast(drow, hrow, gamma, acc_g, acc_gh)
        else:
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


def _layernorm_backward_chunks(dout, xhat, gamma, inv_std, dx, part_g, part_gh, rows):
    n = dout.shape[0]
    for c in prange(part_g.shape[0]):
        layernorm_backward_span(dout, xhat, gamma, inv_std, dx, part_g[c], part_gh[c], c * rows, min(n, (c + 1) * rows))


_layernorm_backward_serial, _layernorm_backward_parallel = serial_and_parallel(_layernorm_backward_chunks, error_model="numpy")


def layernorm_backward(dout, xhat, gamma, inv_std):
    """dx (N, D), dgamma (D,), dbeta (D,) of layer normalisation; inv_std flat (N,)."""
    n, d = dout.shape
    dx = output_pool.empty_like(dout)
    # One row of float64 partial column sums per chunk of rows, added at the
    # end; the chunks depend on the shape alone, never on the thread count.
    rows = max(rows_per_chunk(d), -(-n // 64))
    part_g = np.zeros((num_chunks(n, rows), d))
    part_gh = np.zeros_like(part_g)
    driver = _layernorm_backward_parallel if is_large_rows(dout) else _layernorm_backward_serial
    driver(dout, xhat, gamma, inv_std, dx, part_g, part_gh, rows)
    return dx, part_gh.sum(axis=0).astype(dout.dtype), part_g.sum(axis=0).astype(dout.dtype)


# ------------------------------------------------- spatial normalisations
# On x viewed as (N, C, P) with P = H * W, so that every (n, c) plane is a
# contiguous run.  Spatial batchnorm's statistics are per channel, over N
# and P; group normalisation's per (n, group), over the group's channels and
# P.  Each span function covers work items [start, stop) (channels, planes
# or (n, group) rows), and a prange driver runs it item by item on large
# inputs; the items never write the same memory.


@njit(cache=True, error_model="numpy")
def channel_moments_span(x3, mean, var, start, stop):
    """Mean and biased variance, in float64, of channels [start, stop) of x3 (N, C, P)."""
    n, _, p = x3.shape
    count = n * p
    for c in range(start, stop):
        total = 0.0
        for i in range(n):
            row = x3[i, c]
            for j in range(p):
                total += row[j]
        m = total / count
        squares = 0.0
        for i in range(n):
            row = x3[i, c]
            for j in range(p):
                t = row[j] - m
                squares += t * t
        mean[c] = m
        var[c] = squares / count


@njit(cache=True, error_model="numpy", parallel=True)
def _channel_moments_parallel(x3, mean, var):
    for c in prange(x3.shape[1]):
        channel_moments_span(x3, mean, var, c, c + 1)


@njit(cache=True, error_model="numpy")
def normalize_channels_span(x3, mean, std, inv_std, gamma, beta, xhat3, out3, start, stop):
    """
    Planes [start, stop) of (N*C): ``out = gamma[c] * xhat + beta[c]`` with
    the course's ``xhat = (x - mean[c]) / std[c]`` in float64, and
    ``(x - mean[c]) * inv_std[c]`` (in float64, rounded once) in float32.
    """
    channels = x3.shape[1]
    t = x3.dtype.type
    divide = x3.itemsize == 8
    for q in range(start, stop):
        i, c = q // channels, q % channels
        row, hrow, orow = x3[i, c], xhat3[i, c], out3[i, c]
        m, sd, inv, g, b = mean[c], std[c], inv_std[c], gamma[c], beta[c]
        if divide:
            for j in range(row.size):
                h = t((row[j] - m) / sd)
                hrow[j] = h
                orow[j] = g * h + b
        else:
            for j in range(row.size):
                h = t((row[j] - m) * inv)
                hrow[j] = h
                orow[j] = g * h + b


@njit(cache=True, error_model="numpy", parallel=True)
def _normalize_channels_parallel(x3, mean, std, inv_std, gamma, beta, xhat3, out3):
    for q in prange(x3.shape[0] * x3.shape[1]):
        normalize_channels_span(x3, mean, std, inv_std, gamma, beta, xhat3, out3, q, q + 1)


@njit(cache=True, error_model="numpy")
def channel_grad_sums_span(dout3, xhat3, sum_g, sum_gh, start, stop):
    """sum(dout) and sum(dout * xhat) of channels [start, stop), in float64."""
    n, _, p = dout3.shape
    for c in range(start, stop):
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            drow, hrow = dout3[i, c], xhat3[i, c]
            for j in range(p):
                s1 += drow[j]
                s2 += drow[j] * hrow[j]
        sum_g[c] = s1
        sum_gh[c] = s2


@njit(cache=True, error_model="numpy", parallel=True)
def _channel_grad_sums_parallel(dout3, xhat3, sum_g, sum_gh):
    for c in prange(dout3.shape[1]):
        channel_grad_sums_span(dout3, xhat3, sum_g, sum_gh, c, c + 1)


@njit(cache=True, error_model="numpy")
def spatial_batchnorm_dx_span(dout3, xhat3, gamma, inv_std, sum_g, sum_gh, train, dx3, start, stop):
    """Planes [start, stop) of dx: batchnorm's closed form per channel (train), or ``dout * gamma * inv_std`` (test)."""
    n, channels, p = dout3.shape
    count = n * p
    t = dout3.dtype.type
    for q in range(start, stop):
        i, c = q // channels, q % channels
        drow, hrow, dxrow = dout3[i, c], xhat3[i, c], dx3[i, c]
        g, inv = gamma[c], inv_std[c]
        s1, s2 = g * sum_g[c], g * sum_gh[c]
        for j in range(p):
            dh = drow[j] * g
            if train:
                dxrow[j] = t(inv / count * ((count * dh - s1) - hrow[j] * s2))
            else:
                dxrow[j] = t(dh * inv)


@njit(cache=True, error_model="numpy", parallel=True)
def _spatial_batchnorm_dx_parallel(dout3, xhat3, gamma, inv_std, sum_g, sum_gh, train, dx3):
    for q in prange(dout3.shape[0] * dout3.shape[1]):
        spatial_batchnorm_dx_span(dout3, xhat3, gamma, inv_std, sum_g, sum_gh, train, dx3, q, q + 1)


def spatial_batchnorm_forward(x3, gamma, beta, eps, train, running_mean, running_var, momentum):
    """
    Spatial batch normalisation of x3 (N, C, P), statistics per channel.

    Returns
    -------
    out, xhat : ndarrays of x3's shape
    inv_std : float64 ndarray, shape (C,)
    mean, var : float64 ndarrays, shape (C,)
        The batch statistics (train) or the running ones (test).
    """
    c = x3.shape[1]
    if train:
        mean, var = np.empty(c), np.empty(c)
        if is_large(x3):
            _channel_moments_parallel(x3, mean, var)
        else:
            channel_moments_span(x3, mean, var, 0, c)
    else:
        mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
    std = np.sqrt(var + eps)
    inv_std = 1.0 / std
    xhat, out = output_pool.empty_like(x3), output_pool.empty_like(x3)
    if is_large(x3):
        _normalize_channels_parallel(x3, mean, std, inv_std, gamma, beta, xhat, out)
    else:
        normalize_channels_span(x3, mean, std, inv_std, gamma, beta, xhat, out, 0, x3.shape[0] * c)
    return out, xhat, inv_std, mean, var


def spatial_batchnorm_backward(dout3, xhat3, gamma, inv_std, train):
    """dx (N, C, P), dgamma (C,), dbeta (C,) of spatial batch normalisation."""
    n, c, _ = dout3.shape
    sum_g, sum_gh = np.empty(c), np.empty(c)
    dx = output_pool.empty_like(dout3)
    if is_large(dout3):
        _channel_grad_sums_parallel(dout3, xhat3, sum_g, sum_gh)
        _spatial_batchnorm_dx_parallel(dout3, xhat3, gamma, inv_std, sum_g, sum_gh, train, dx)
    else:
        channel_grad_sums_span(dout3, xhat3, sum_g, sum_gh, 0, c)
        spatial_batchnorm_dx_span(dout3, xhat3, gamma, inv_std, sum_g, sum_gh, train, dx, 0, n * c)
    return dx, sum_gh.astype(dout3.dtype), sum_g.astype(dout3.dtype)


@njit(cache=True, error_model="numpy")
def groupnorm_forward_span(x4, gamma, beta, eps, xhat4, out4, inv_std, start, stop):
    """Rows [start, stop) of (n, group) of x4 (N, G, C/G, P): normalised over the group, scaled per channel."""
    groups, cg, p = x4.shape[1], x4.shape[2], x4.shape[3]
    count = cg * p
    t = x4.dtype.type
    for r in range(start, stop):
        i, g = r // groups, r % groups
        block = x4[i, g]
        total = 0.0
        for k in range(cg):
            for j in range(p):
                total += block[k, j]
        m = total / count
        squares = 0.0
        for k in range(cg):
            for j in range(p):
                d = block[k, j] - m
                squares += d * d
        inv = 1.0 / math.sqrt(squares / count + eps)
        inv_std[i, g] = t(inv)
        for k in range(cg):
            c = g * cg + k
            row, hrow, orow = block[k], xhat4[i, g, k], out4[i, g, k]
            for j in range(p):
                h = t((row[j] - m) * inv)
                hrow[j] = h
                orow[j] = gamma[c] * h + beta[c]


@njit(cache=True, error_model="numpy", parallel=True)
def _groupnorm_forward_parallel(x4, gamma, beta, eps, xhat4, out4, inv_std):
    for r in prange(x4.shape[0] * x4.shape[1]):
        groupnorm_forward_span(x4, gamma, beta, eps, xhat4, out4, inv_std, r, r + 1)


@njit(cache=True, error_model="numpy")
def groupnorm_backward_span(dout4, xhat4, gamma, inv_std, dx4, part_gh, part_g, start, stop):
    """
    Rows [start, stop) of (n, group): dx by layernorm's closed form over the
    group, and each channel's sums of dout * xhat and dout for image n into
    part_gh[n, c] and part_g[n, c] (float64), which the caller adds over n.
    """
    groups, cg, p = dout4.shape[1], dout4.shape[2], dout4.shape[3]
    count = cg * p
    t = dout4.dtype.type
    for r in range(start, stop):
        i, g = r // groups, r % groups
        s1 = 0.0
        s2 = 0.0
        for k in range(cg):
            c = g * cg + k
            drow, hrow = dout4[i, g, k], xhat4[i, g, k]
            sg = 0.0
            sgh = 0.0
            for j in range(p):
                sg += drow[j]
                sgh += drow[j] * hrow[j]
            part_g[i, c] = sg
            part_gh[i, c] = sgh
            s1 += gamma[c] * sg
            s2 += gamma[c] * sgh
        inv = inv_std[i, g]
        for k in range(cg):
            c = g * cg + k
            drow, hrow, dxrow = dout4[i, g, k], xhat4[i, g, k], dx4[i, g, k]
            for j in range(p):
                dxrow[j] = t(inv / count * (count * drow[j] * gamma[c] - s1 - hrow[j] * s2))


@njit(cache=True, error_model="numpy", parallel=True)
def _groupnorm_backward_parallel(dout4, xhat4, gamma, inv_std, dx4, part_gh, part_g):
    for r in prange(dout4.shape[0] * dout4.shape[1]):
        groupnorm_backward_span(dout4, xhat4, gamma, inv_std, dx4, part_gh, part_g, r, r + 1)


def groupnorm_forward(x4, gamma, beta, eps):
    """Group normalisation of x4 (N, G, C/G, P); gamma and beta flat (C,). Returns out, xhat, inv_std (N, G)."""
    xhat, out = output_pool.empty_like(x4), output_pool.empty_like(x4)
    inv_std = np.empty(x4.shape[:2], x4.dtype)
    if is_large(x4):
        _groupnorm_forward_parallel(x4, gamma, beta, eps, xhat, out, inv_std)
    else:
        groupnorm_forward_span(x4, gamma, beta, eps, xhat, out, inv_std, 0, x4.shape[0] * x4.shape[1])
    return out, xhat, inv_std


def groupnorm_backward(dout4, xhat4, gamma, inv_std):
    """dx of dout4's shape (N, G, C/G, P), dgamma and dbeta flat (C,)."""
    n, groups, cg, _ = dout4.shape
    dx = output_pool.empty_like(dout4)
    part_gh, part_g = np.empty((n, groups * cg)), np.empty((n, groups * cg))
    if is_large(dout4):
        _groupnorm_backward_parallel(dout4, xhat4, gamma, inv_std, dx, part_gh, part_g)
    else:
        groupnorm_backward_span(dout4, xhat4, gamma, inv_std, dx, part_gh, part_g, 0, n * groups)
    return dx, part_gh.sum(axis=0).astype(dout4.dtype), part_g.sum(axis=0).astype(dout4.dtype)
