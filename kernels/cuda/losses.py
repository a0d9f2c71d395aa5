"""Softmax and hinge losses with their gradients: one row per warp (small C) or per block.

Row losses are written in float64, then one block sums them in a fixed
order and counts the labels outside [0, C), so a call is two launches and
one copy to the host, of those two numbers: the label check costs no round
trip of its own.  A row whose label is out of range reads no score by it;
the caller raises once it sees the count.
"""

import math

import numpy as np
from numba import cuda, float64

from fastnn.kernels.cuda.launch import BLOCK, VALS, WARP_ROW_MAX_C, blocks, empty, kernel, per_dtype, stream, to_host
from fastnn.kernels.cuda.reductions import segment_reduce


@per_dtype
def _softmax_kernel(nb):
    @kernel
    def softmax(x, y, dx, row_loss, scale, width):
        """One row per ``width`` threads (a warp for small C, the block beyond).

        Each thread keeps up to VALS of its row's values in registers, so a
        row of C <= width * VALS is read from global memory once.
        """
        buf = cuda.shared.array(BLOCK, nb)
        vals = cuda.local.array(VALS, nb)
        t = cuda.threadIdx.x
        lane = t % width
        base = t - lane
        rows_per_block = cuda.blockDim.x // width
        n, c = x.shape
        per_thread = (c + width - 1) // width
        for first in range(cuda.blockIdx.x * rows_per_block, n, cuda.gridDim.x * rows_per_block):
            i = first + t // width
            live = i < n
            m = nb(-math.inf)
            if live:
                for r in range(per_thread):
                    j = lane + r * width
                    if j < c:
                        v = x[i, j]
                        if r < VALS:
                            vals[r] = v
                        m = max(m, v)
            buf[t] = m
            cuda.syncthreads()
            segment_reduce(buf, lane, width, base, True)
            m = buf[base]
            cuda.syncthreads()
            s = nb(0)
            if live:
                for r in range(per_thread):
                    j = lane + r * width
                    if j < c:
                        e = math.exp((vals[r] if r < VALS else x[i, j]) - m)
                        if r < VALS:
                            vals[r] = e
                        s += e
            buf[t] = s
            cuda.syncthreads()
            segment_reduce(buf, lane, width, base, False)
            s = buf[base]
            cuda.syncthreads()
            if live:
                label = y[i]
                inv = scale / s
                for r in range(per_thread):
                    j = lane + r * width
                    if j < c:
                        e = vals[r] if r < VALS else math.exp(x[i, j] - m)
                        g = e * inv
                        if j == label:
                            g -= scale
                        dx[i, j] = g
                if lane == 0:
                    row_loss[i] = math.log(float64(s)) - float64(x[i, label] - m) if 0 <= label < c else 0.0

    return softmax


@per_dtype
def _svm_kernel(nb):
    @kernel
    def svm(x, y, dx, row_loss, scale, width):
        """Hinge loss, margin 1: one row per ``width`` threads."""
        buf = cuda.shared.array(BLOCK, nb)
        t = cuda.threadIdx.x
        lane = t % width
        base = t - lane
        rows_per_block = cuda.blockDim.x // width
        n, c = x.shape
        one = nb(1)
        zero = nb(0)
        for first in range(cuda.blockIdx.x * rows_per_block, n, cuda.gridDim.x * rows_per_block):
            i = first + t // width
            live = i < n
            total = zero
            count = zero
            if live:
                label = y[i]
                target = x[i, label] if 0 <= label < c else zero
                for j in range(lane, c, width):
                    margin = x[i, j] - target + one
                    other = j != label
                    # A NaN margin joins the loss (as np.maximum propagates
                    # it) but is not a violation (as `margins > 0` is False).
                    if other and not margin <= zero:
                        total += margin
                    if other and margin > zero:
                        count += one
                        dx[i, j] = scale
                    else:
                        dx[i, j] = zero
            buf[t] = count
            cuda.syncthreads()
            segment_reduce(buf, lane, width, base, False)
            count = buf[base]
            cuda.syncthreads()
            buf[t] = total
            cuda.syncthreads()
            segment_reduce(buf, lane, width, base, False)
            if live and lane == 0:
                label = y[i]
                if 0 <= label < c:
                    dx[i, label] = -count * scale
                row_loss[i] = float64(buf[base])
            cuda.syncthreads()

    return svm


def _row_width(c):
    return 32 if c <= WARP_ROW_MAX_C else BLOCK


@kernel
def _finish(row_loss, y, c, result):
    """One block: result[0] = the sum of row_loss, result[1] = how many labels y holds outside [0, c)."""
    buf = cuda.shared.array(BLOCK, float64)
    t = cuda.threadIdx.x
    total = 0.0
    bad = 0.0
    for i in range(t, row_loss.size, BLOCK):
        total += row_loss[i]
        if y[i] < 0 or y[i] >= c:
            bad += 1.0
    buf[t] = total
    cuda.syncthreads()
    segment_reduce(buf, t, BLOCK, 0, False)
    if t == 0:
        result[0] = buf[0]
    cuda.syncthreads()
    buf[t] = bad
    cuda.syncthreads()
    segment_reduce(buf, t, BLOCK, 0, False)
    if t == 0:
        result[1] = buf[0]


def _row_loss(factory, x, y):
    n, c = x.shape
    dx = empty(x.shape, x.dtype)
    row_loss = empty(n, np.float64)
    width = _row_width(c)
    rows_per_block = BLOCK // width
    factory(x.dtype)[blocks(n, rows_per_block), BLOCK, stream()](x, y, dx, row_loss, x.dtype.type(1.0 / n), width)
    result = empty(2, np.float64)
    _finish[1, BLOCK, stream()](row_loss, y, c, result)
    total, bad = to_host(result)
    return total / n, dx, int(bad)


def softmax_loss(x, y):
    """
    Fused softmax cross-entropy loss and gradient on the GPU.

    Parameters
    ----------
    x : device array, shape (N, C)
    y : device array of int64, shape (N,)

    Returns
    -------
    loss : float
        Mean loss, reduced on the device in float64 (meaningless when bad > 0).
    dx : device array, shape (N, C)
    bad : int
        How many labels are outside [0, C).
    """
    return _row_loss(_softmax_kernel, x, y)


def svm_loss(x, y):
    """
    Multiclass hinge loss (margin 1) and its gradient on the GPU.

    Inputs and returns: as :func:`softmax_loss`.
    """
    return _row_loss(_svm_kernel, x, y)


@kernel
def _count_correct_kernel(scores, y, count):
    n, c = scores.shape
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        # np.argmax's choice: the first largest, a NaN beating everything.
        best = scores[i, 0]
        arg = 0
        for j in range(1, c):
            v = scores[i, j]
            if v > best or (v != v and best == best):
                best = v
                arg = j
        if arg == y[i]:
            cuda.atomic.add(count, 0, 1)
        elif y[i] < 0 or y[i] >= c:
            cuda.atomic.add(count, 1, 1)


def count_correct(scores, y, count):
    """count[0] += the rows of scores (N, C) whose np.argmax equals y (N,), count[1] += the labels outside [0, C) (int64 device arrays)."""
    _count_correct_kernel[blocks(scores.shape[0]), BLOCK, stream()](scores, y, count)
