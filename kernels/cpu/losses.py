"""Softmax and hinge losses, fused per row, with their gradients.

float32 softmax is one pass per row block: maximum, shift, the vectorisable
exp (:mod:`fastnn.kernels.cpu.vexp`) over the whole block, then the sums and
rescaling while the block is in L1.  float64 softmax runs in NumPy's order
with NumPy's exp and log, so its loss equals the reference's to the bit.
Losses accumulate in float64.  ``softmax_span`` is public for the fused
trainer.
"""

import math

import numpy as np
from numba import njit, prange

from fastnn import config, output_pool
from fastnn.kernels.cpu import numpy_loops
from fastnn.kernels.cpu.numpy_loops import apply
from fastnn.kernels.cpu.dispatch import REDUCE, is_large_rows, rows_per_chunk, serial_and_parallel
from fastnn.kernels.cpu.numpy_order import LEAF, leaf_sum, pairwise_large, pairwise_sum
from fastnn.kernels.cpu.vexp import vexp


@njit(cache=True)
def label_range(y):
    """
    Smallest and largest label in one pass.

    Parameters
    ----------
    y : ndarray of intp, shape (N,), N >= 1

    Returns
    -------
    low, high : int
    """
    low = high = y[0]
    for i in range(y.size):
        v = y[i]
        low = min(low, v)
        high = max(high, v)
    return low, high


# The row loops below index x[i, j] rather than take a view per row: each
# row view is a reference count taken and dropped, which Numba could not
# prune once the loop body held a call or a branch; row helpers are inlined
# for the same reason.  (Flat indices xs[o + j] were no better: the negative
# index check on o + j kept the loops scalar.)  Measured at (100, 10): the
# float64 normalisation 3.6 -> 0.9 us, every row's maximum 1.45 -> 0.41 us.


@njit(inline="always")
def _row_max(x, i):
    # Eight independent maxima break the compare-select dependency chain
    # that kept a one-accumulator loop scalar (3.5x slower at C = 1000).
    n = x.shape[1]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = x[i, 0]
    j = 0
    while j + 8 <= n:
        a0 = max(a0, x[i, j])
        a1 = max(a1, x[i, j + 1])
        a2 = max(a2, x[i, j + 2])
        a3 = max(a3, x[i, j + 3])
        a4 = max(a4, x[i, j + 4])
        a5 = max(a5, x[i, j + 5])
        a6 = max(a6, x[i, j + 6])
        a7 = max(a7, x[i, j + 7])
        j += 8
    m = max(max(max(a0, a1), max(a2, a3)), max(max(a4, a5), max(a6, a7)))
    while j < n:
        m = max(m, x[i, j])
        j += 1
    return m


@njit(cache=True, fastmath=REDUCE)
def softmax_span(x, y, dx, scale, start, stop, block):
    # Rows are processed in blocks of about SOFTMAX_BLOCK elements that stay
    # in L1.  Per row: the maximum, and x - max written into dx.  Then one
    # flat exp loop over the whole block, so the scalar remainder of the
    # vectorised polynomial is paid once per block rather than once per row
    # (it dominated at C = 10).  Then per row: the sum, the rescaling and
    # the label's -1/N.
    #
    # Every row sum s lies in [1, C] (the maximum contributes exp(0) = 1),
    # so the sums are multiplied together in float64 and their logs taken
    # once per run of rows, before the product could overflow.
    c = x.shape[1]
    # block: config.SOFTMAX_BLOCK_ELEMENTS, passed in (a cached kernel would
    # keep a global of another module frozen at its first compilation).
    block_rows = max(1, block // c)
    total = 0.0
    product = 1.0
    for b0 in range(start, stop, block_rows):
        b1 = min(stop, b0 + block_rows)
        for i in range(b0, b1):
            m = _row_max(x, i)
            for j in range(c):
                dx[i, j] = x[i, j] - m
            total -= dx[i, y[i]]
        flat = dx[b0:b1].reshape((b1 - b0) * c)
        for k in range(flat.size):
            flat[k] = vexp(flat[k])
        for i in range(b0, b1):
            s = dx.dtype.type(0)
            for j in range(c):
                s += dx[i, j]
            product *= s
            if product > 1e280:
                total += math.log(product)
                product = 1.0
            inv = scale / s
            for j in range(c):
                dx[i, j] *= inv
            dx[i, y[i]] -= scale
    return total + math.log(product)


@njit(cache=True, fastmath=REDUCE)
def softmax_loss_argmax(x, y, start, stop):
    """
    Summed softmax loss and number of correct arg-max predictions over rows
    [start, stop), without a gradient: for evaluation.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Scores.
    y : ndarray of intp, shape (N,)
    start, stop : int
        Row range.

    Returns
    -------
    total : float
        Sum of the rows' losses.
    correct : int
        Rows whose first maximum is at the label.
    """
    c = x.shape[1]
    total = 0.0
    product = 1.0
    correct = 0
    for i in range(start, stop):
        m = _row_max(x, i)
        s = x.dtype.type(0)
        for j in range(c):
            s += vexp(x[i, j] - m)
        product *= s
        if product > 1e280:
            total += math.log(product)
            product = 1.0
        label = y[i]
        total -= x[i, label] - m
        best = 0
        while x[i, best] != m and best < c - 1:
            best += 1
        correct += best == label
    return total + math.log(product), correct


@njit(cache=True)
def _sum_in_order(totals):
    total = 0.0
    for c in range(totals.size):
        total += totals[c]
    return total


# Each driver below is compiled serial and parallel (serial_and_parallel):
# both split the rows into the same chunks and add the chunks' losses in chunk
# order, so the loss does not depend on the thread count or on which path ran
# (a prange reduction adds per-thread partial sums).


def _softmax_chunks(x, y, dx, scale, rows, block):
    n = x.shape[0]
    totals = np.empty((n + rows - 1) // rows)
    for c in prange(totals.size):
        totals[c] = softmax_span(x, y, dx, scale, c * rows, min(n, (c + 1) * rows), block)
    return _sum_in_order(totals)


_softmax_serial, _softmax_parallel = serial_and_parallel(_softmax_chunks)


@njit(inline="always", fastmath=REDUCE)
def _hinge_run(row, grad, target, scale):
    # Margins of a run of the row that excludes the label.  `not margin <= 0`
    # keeps NaN, so a NaN or inf in the row propagates into the loss as the
    # reference's np.maximum does, and NaN margins count as not violated, as
    # its `margins > 0` does.
    zero = row.dtype.type(0)
    one = row.dtype.type(1)
    total = 0.0
    violated = 0
    for j in range(row.size):
        margin = row[j] - target + one
        total += margin if not margin <= zero else zero
        positive = margin > zero
        grad[j] = scale if positive else zero
        violated += positive
    return total, violated


@njit(cache=True, fastmath=REDUCE)
def _svm_span(x, y, dx, scale, start, stop, split_classes):
    # Rows of at least split_classes (config.SVM_SPLIT_MIN_CLASSES) are two
    # runs, before and after the label.  One loop that selected the label's
    # margin away let LLVM load x under a mask (no load at the label), and
    # masked loads from memory ran 3.5-5x slower: at (4096, 1000) 0.93 ->
    # 0.19 ns an element in float32, 1.35 -> 0.38 in float64; (65536, 100)
    # float64 1.99 -> 0.50.  Shorter rows keep the one loop: the two runs'
    # views and loop set-ups cost more there (1000 x 32: 0.32 against 0.47).
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    c = x.shape[1]
    total = 0.0
    for i in range(start, stop):
        label = y[i]
        target = x[i, label]
        if c >= split_classes:
            row, grad = x[i], dx[i]
            before, violated_before = _hinge_run(row[:label], grad[:label], target, scale)
            after, violated_after = _hinge_run(row[label + 1 :], grad[label + 1 :], target, scale)
            total += before + after
            dx[i, label] = -(violated_before + violated_after) * scale
            continue
        violated = 0
        row_total = 0.0
        # As _hinge_run, the label's own margin selected away (to 0).
        for j in range(c):
            margin = x[i, j] - target + one
            margin = zero if j == label else margin
            row_total += margin if not margin <= zero else zero
            positive = margin > zero
            dx[i, j] = scale if positive else zero
            violated += positive
        total += row_total
        dx[i, label] = -violated * scale
    return total


def _svm_chunks(x, y, dx, scale, rows, split_classes):
    n = x.shape[0]
    totals = np.empty((n + rows - 1) // rows)
    for c in prange(totals.size):
        totals[c] = _svm_span(x, y, dx, scale, c * rows, min(n, (c + 1) * rows), split_classes)
    return _sum_in_order(totals)


_svm_serial, _svm_parallel = serial_and_parallel(_svm_chunks)


def _row_loss(span, serial, parallel, x, y, *tunables):
    n = x.shape[0]
    dx = output_pool.empty_like(x)
    scale = x.dtype.type(1.0 / n)
    if is_large_rows(x):
        total = parallel(x, y, dx, scale, rows_per_chunk(x.shape[1]), *tunables)
    elif x.size <= config.CHUNK_ELEMENTS:
        # One chunk (N <= rows_per_chunk(C)): the span itself, the same sum
        # without the driver's allocation (1.3 us of a 4.4 us call at
        # (100, 10), measured).
        total = span(x, y, dx, scale, 0, n, *tunables)
    else:
        total = serial(x, y, dx, scale, rows_per_chunk(x.shape[1]), *tunables)
    return total / n, dx


# float64 softmax in NumPy's order: see fastnn.kernels.numpy_order for why.
# The exponentials and logarithms are NumPy's own loops (numpy_loops.py; its SIMD exp differs
# from libm's in the last bit for 4.6% of inputs, measured), the row sums and
# the loss are added in NumPy's pairwise order, so the loss is bit-identical
# to the reference: shifted = x - max; exps = np.exp(shifted);
# loss = sum(log(sum(exps)) - shifted[y]) / N.


@njit(cache=True, nogil=True)
def _shift_span(x, y, shifted, picked, start, stop):
    for i in range(start, stop):
        m = _row_max(x, i)
        for j in range(x.shape[1]):
            shifted[i, j] = x[i, j] - m
        picked[i] = shifted[i, y[i]]


@njit(cache=True, nogil=True, error_model="numpy")
def _normalise_span(dx, y, sums, start, stop):
    # Divisions rather than products with reciprocals, as the reference does;
    # IEEE division (error_model="numpy"): Python's zero check per element
    # kept the loops scalar.
    # When N is a power of two, x / N and x * (1 / N) are the same correctly
    # rounded number (1 / N is exact), and the product is cheaper.
    # The label's -1 is selected inside the one loop, with the reference's
    # roundings in its order (/ s, - 1, / N): a scalar store to the row
    # before a vector loop over it stalled store forwarding, 27 ns a row at
    # (100, 10) (3.6 against 0.9 us, measured).
    n, c = dx.shape
    g = dx.reshape(dx.size)
    inv_n = 1.0 / n
    exact = n & (n - 1) == 0
    for i in range(start, stop):
        o = i * c
        # NumPy's sum of the row (see numpy_order.LEAF).
        s = leaf_sum(dx[i], 0, c) if c <= LEAF else pairwise_large(g, i * c, c)
        sums[i] = s
        label = y[i]
        if exact:
            for j in range(c):
                v = dx[i, j] / s
                dx[i, j] = (v - 1.0 if j == label else v) * inv_n
        else:
            for j in range(c):
                v = dx[i, j] / s
                dx[i, j] = (v - 1.0 if j == label else v) / n


@njit(cache=True, nogil=True)
def _numpy_order_block(x, y, dx, picked, sums, start, stop, exp):
    # The block's three steps while it is in L2: shift, NumPy's exp, normalise.
    _shift_span(x, y, dx, picked, start, stop)
    apply(exp[0], exp[1], dx, dx, start * x.shape[1], stop * x.shape[1])
    _normalise_span(dx, y, sums, start, stop)


def _numpy_order_chunks(x, y, dx, picked, sums, block_rows, exp, log):
    n = x.shape[0]
    for c in prange((n + block_rows - 1) // block_rows):
        _numpy_order_block(x, y, dx, picked, sums, c * block_rows, min(n, (c + 1) * block_rows), exp)
    # The reference's np.sum(np.log(sums) - picked) / N, without temporaries.
    apply(log[0], log[1], sums, sums, 0, n)
    for i in range(n):
        sums[i] -= picked[i]
    return pairwise_sum(sums) / n


_numpy_order_serial, _numpy_order_parallel = serial_and_parallel(_numpy_order_chunks, error_model="numpy")

_LOOPS = numpy_loops.float64_exp_log()


def _numpy_order_with_ufuncs(x, y, dx, picked, sums, block_rows):
    # Only where NumPy's loops could not be found (numpy_loops.loop): the
    # same steps, with the ufuncs called from Python, on one thread.
    n = x.shape[0]
    for b0 in range(0, n, block_rows):
        b1 = min(n, b0 + block_rows)
        _shift_span(x, y, dx, picked, b0, b1)
        np.exp(dx[b0:b1], out=dx[b0:b1])
        _normalise_span(dx, y, sums, b0, b1)
    np.log(sums, out=sums)
    np.subtract(sums, picked, out=sums)
    return np.sum(sums) / n


def _softmax_loss_numpy_order(x, y, block, loops):
    n = x.shape[0]
    dx = output_pool.empty_like(x)
    picked = np.empty(n)
    sums = np.empty(n)
    block_rows = max(1, block // x.shape[1])
    if loops is None:
        return _numpy_order_with_ufuncs(x, y, dx, picked, sums, block_rows), dx
    run = _numpy_order_parallel if is_large_rows(x) else _numpy_order_serial
    return run(x, y, dx, picked, sums, block_rows, loops[:2], loops[2:]), dx


def softmax_loss(x, y):
    """
    Softmax cross-entropy loss and its gradient.

    float32: fused row by row.  Each row is read once from memory; its
    maximum, exponentials (written into ``dx`` with the vectorisable
    :func:`fastnn.kernels.vexp.vexp`) and the rescaling all run while the
    row is in cache.  float64: in NumPy's order with NumPy's exp and log, so
    the loss is bit-identical to the reference (three passes instead of one).

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
    if x.dtype == np.float64:
        return _softmax_loss_numpy_order(x, y, config.NUMPY_ORDER_BLOCK_ELEMENTS, _LOOPS)
    return _row_loss(softmax_span, _softmax_serial, _softmax_parallel, x, y, config.SOFTMAX_BLOCK_ELEMENTS)


def svm_loss(x, y):
    """
    Multiclass hinge loss (margin 1) and its gradient in one pass per row.

    Inputs and returns: as :func:`softmax_loss`.
    """
    return _row_loss(_svm_span, _svm_serial, _svm_parallel, x, y, config.SVM_SPLIT_MIN_CLASSES)

