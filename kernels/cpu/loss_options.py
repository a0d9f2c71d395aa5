"""The losses with PyTorch's options, row by row: cross-entropy against coefficients, and multi-margin loss.

Conventions: scores x are (M, C), C-contiguous and checked by the caller;
every row is one sample (a K-dimensional input's positions are rows too).
Each kernel returns the loss of every row (float64) and the gradient of
their *sum* (x's dtype); reductions, class weights and ignored rows are
the caller's (fastnn.layers), so one kernel serves every option.

* Cross-entropy against coefficients ``a`` (M, C):
  ``loss_i = -sum_c a_ic log softmax(x_i)_c`` and
  ``dx_i = (sum_c a_ic) softmax(x_i) - a_i``.  Class indices, class
  weights, ignore_index, label smoothing and probability targets are all a
  choice of ``a``; an entry with ``a_ic == 0`` is skipped, so a class
  whose score is -inf costs nothing unless it carries weight (torch's
  nll_loss reads only the target's entry).  Each row is computed in float64
  (max, exp, sum, log), so float32 and float64 results round once.
* Multi-margin loss (torch's ``p`` 1 or 2, ``margin``, a weight per row):
  ``loss_i = w_i / C * sum_{c != y_i} max(0, margin - x_iy + x_ic) ** p``.

Rows are independent, so the parallel path over row chunks gives the
serial path's bits.
"""

import math

import numpy as np
from numba import njit, prange

from fastnn import config, output_pool, threads


@njit(cache=True)
def _softmax_rows(x, a, loss, dx, logp, want_logp, start, stop):
    classes = x.shape[1]
    for i in range(start, stop):
        top = -np.inf
        for c in range(classes):
            top = max(top, np.float64(x[i, c]))
        total = 0.0
        for c in range(classes):
            total += math.exp(np.float64(x[i, c]) - top)
        log_total = math.log(total)
        weight = 0.0
        value = 0.0
        for c in range(classes):
            coefficient = np.float64(a[i, c])
            if coefficient != 0.0:
                weight += coefficient
                value -= coefficient * (np.float64(x[i, c]) - top - log_total)
        loss[i] = value
        for c in range(classes):
            shifted = np.float64(x[i, c]) - top - log_total
            dx[i, c] = weight * math.exp(shifted) - np.float64(a[i, c])
            if want_logp:
                logp[i, c] = shifted


@njit(cache=True, parallel=True)
def _softmax_parallel(x, a, loss, dx, logp, want_logp, chunk):
    rows = x.shape[0]
    for k in prange((rows + chunk - 1) // chunk):
        _softmax_rows(x, a, loss, dx, logp, want_logp, k * chunk, min(rows, (k + 1) * chunk))


@njit(cache=True)
def _margin_rows(x, y, p, margin, weight, loss, dx, start, stop):
    classes = x.shape[1]
    for i in range(start, stop):
        target = y[i]
        scale = np.float64(weight[i]) / classes
        picked = np.float64(x[i, target])
        value = 0.0
        pulled = 0.0
        for c in range(classes):
            dx[i, c] = 0
            if c == target:
                continue
            m = margin - picked + np.float64(x[i, c])
            if m > 0:
                if p == 1:
                    value += m
                    g = scale
                else:
                    value += m * m
                    g = 2.0 * m * scale
                dx[i, c] = g
                pulled += g
        dx[i, target] = -pulled
        loss[i] = value * scale


@njit(cache=True, parallel=True)
def _margin_parallel(x, y, p, margin, weight, loss, dx, chunk):
    rows = x.shape[0]
    for k in prange((rows + chunk - 1) // chunk):
        _margin_rows(x, y, p, margin, weight, loss, dx, k * chunk, min(rows, (k + 1) * chunk))


def _chunk(classes):
    return max(1, config.CHUNK_ELEMENTS // max(1, classes))


def _parallel(x):
    return x.size >= config.PARALLEL_MIN_ELEMENTS and x.shape[0] > 1 and threads.parallel_allowed()


def softmax_coefficients(x, a, want_logp):
    """Per-row loss (M,) float64, dx (M, C) of x's dtype, and log softmax(x) (M, C) of x's dtype if want_logp (else None)."""
    loss = np.empty(x.shape[0], np.float64)
    dx = output_pool.empty(x.shape, x.dtype)
    logp = np.empty(x.shape if want_logp else (0, 0), x.dtype)
    if _parallel(x):
        _softmax_parallel(x, a, loss, dx, logp, want_logp, _chunk(x.shape[1]))
    else:
        _softmax_rows(x, a, loss, dx, logp, want_logp, 0, x.shape[0])
    return loss, dx, (logp if want_logp else None)


def multi_margin(x, y, p, margin, weight):
    """Per-row loss (M,) float64 and dx (M, C) of x's dtype; y (M,) intp labels, weight (M,) float64 per row."""
    loss = np.empty(x.shape[0], np.float64)
    dx = output_pool.empty(x.shape, x.dtype)
    if _parallel(x):
        _margin_parallel(x, y, p, float(margin), weight, loss, dx, _chunk(x.shape[1]))
    else:
        _margin_rows(x, y, p, float(margin), weight, loss, dx, 0, x.shape[0])
    return loss, dx
