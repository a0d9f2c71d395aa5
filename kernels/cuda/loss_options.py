"""The losses with PyTorch's options on the GPU: the twin of :mod:`fastnn.kernels.cpu.loss_options`.

Same conventions and formulas: scores (M, C), a thread per row computing
in float64 (max, exp, sum, log as the CPU does), the loss of each row in
float64 and the gradient of their sum in x's dtype.  A thread per row
suits the few classes these options are used with; the cs231n losses
(:mod:`fastnn.kernels.cuda.losses`) keep their block-per-row kernels.
"""

import math

import numpy as np
from numba import cuda, float64

from fastnn.kernels.cuda.launch import BLOCK, blocks, empty, kernel, per_dtype, stream


@per_dtype
def _softmax_kernel(nb):
    @kernel
    def softmax_coefficients(x, a, loss, dx, logp, want_logp):
        classes = x.shape[1]
        for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
            top = -math.inf
            for c in range(classes):
                top = max(top, float64(x[i, c]))
            total = 0.0
            for c in range(classes):
                total += math.exp(float64(x[i, c]) - top)
            log_total = math.log(total)
            weight = 0.0
            value = 0.0
            for c in range(classes):
                coefficient = float64(a[i, c])
                if coefficient != 0.0:
                    weight += coefficient
                    value -= coefficient * (float64(x[i, c]) - top - log_total)
            loss[i] = value
            for c in range(classes):
                shifted = float64(x[i, c]) - top - log_total
                dx[i, c] = nb(weight * math.exp(shifted) - float64(a[i, c]))
                if want_logp:
                    logp[i, c] = nb(shifted)

    return softmax_coefficients


@per_dtype
def _margin_kernel(nb):
    @kernel
    def multi_margin(x, y, p, margin, weight, loss, dx):
        classes = x.shape[1]
        for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
            target = y[i]
            scale = weight[i] / classes
            picked = float64(x[i, target])
            value = 0.0
            pulled = 0.0
            for c in range(classes):
                dx[i, c] = nb(0)
                if c == target:
                    continue
                m = margin - picked + float64(x[i, c])
                if m > 0:
                    if p == 1:
                        value += m
                        g = scale
                    else:
                        value += m * m
                        g = 2.0 * m * scale
                    dx[i, c] = nb(g)
                    pulled += g
            dx[i, target] = nb(-pulled)
            loss[i] = value * scale

    return multi_margin


def softmax_coefficients(x, a, want_logp):
    """Per-row loss (M,) float64, dx (M, C) and, if want_logp, log softmax(x) (M, C) (else None): device arrays."""
    loss = empty(x.shape[0], np.float64)
    dx = empty(x.shape, x.dtype)
    logp = empty(x.shape if want_logp else (1, 1), x.dtype)
    if x.shape[0]:
        _softmax_kernel(x.dtype)[blocks(x.shape[0]), BLOCK, stream()](x, a, loss, dx, logp, want_logp)
    return loss, dx, (logp if want_logp else None)


def multi_margin(x, y, p, margin, weight):
    """Per-row loss (M,) float64 and dx (M, C): device arrays; y (M,) int64 labels, weight (M,) float64."""
    loss = empty(x.shape[0], np.float64)
    dx = empty(x.shape, x.dtype)
    if x.shape[0]:
        _margin_kernel(x.dtype)[blocks(x.shape[0]), BLOCK, stream()](x, y, p, float(margin), weight, loss, dx)
    return loss, dx
