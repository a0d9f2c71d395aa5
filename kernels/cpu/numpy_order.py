"""Sums in NumPy's own order, so that float64 results match NumPy code bit for bit.

Why: a numerical gradient check divides a change of the loss by 2h (2e-5 in
the cs231n notebooks), so the loss's last-bit rounding is magnified 5e4
times.  Where the analytic gradient is tiny (a bias that batchnorm cancels,
the second-layer weights of a freshly initialised net) that rounding is the
printed relative error.  Summed in a different order, fastnn's float64 losses
printed errors up to 3e5 times NumPy's on the notebooks' checks (issue 8);
summed in NumPy's order they print the same errors.

NumPy adds a contiguous run by pairwise summation: fewer than 8 elements
with one accumulator starting from 0; up to 128 with eight accumulators,
combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the tail
added one by one; beyond 128 it sums the two halves (the first a multiple of
8 long) separately and adds them.  ``tests/test_numpy_order.py`` checks this
against ``np.sum`` for every length up to 300 and a few beyond.

Accumulators are float64 whatever the input dtype: for float64 input that is
NumPy's result exactly, for float32 input it is more accurate than NumPy's.
"""

import numpy as np
from numba import njit

_BLOCK = 128  # NumPy's PW_BLOCKSIZE


@njit(inline="always")
def _block_sum(a, start, n):
    # One run of at most _BLOCK elements, as NumPy's pairwise_sum leaf.
    if n < 8:
        total = 0.0
        for i in range(n):
            total += a[start + i]
        return total
    r0 = np.float64(a[start])
    r1 = np.float64(a[start + 1])
    r2 = np.float64(a[start + 2])
    r3 = np.float64(a[start + 3])
    r4 = np.float64(a[start + 4])
    r5 = np.float64(a[start + 5])
    r6 = np.float64(a[start + 6])
    r7 = np.float64(a[start + 7])
    i = 8
    last = n - n % 8
    while i < last:
        k = start + i
        r0 += a[k]
        r1 += a[k + 1]
        r2 += a[k + 2]
        r3 += a[k + 3]
        r4 += a[k + 4]
        r5 += a[k + 5]
        r6 += a[k + 6]
        r7 += a[k + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += a[start + i]
        i += 1
    return total


@njit(cache=True)
def _half(n):
    # Where NumPy splits a run of n > 128: the first half a multiple of 8.
    half = n // 2
    return half - half % 8


@njit(cache=True)
def _stack_sum(a):
    # Any length, in NumPy's order; two small heap allocations per call.
    n = a.size
    if n <= _BLOCK:
        return _block_sum(a, 0, n)
    # NumPy recurses; Numba cannot cache a recursive function that other
    # cached functions call, so the recursion runs on an explicit stack of
    # (start, size, children done) with the finished halves' sums beside it.
    # Each level halves the size: 64 levels cover any array.
    nodes = np.empty((64, 3), np.int64)
    sums = np.empty(64)
    nodes[0, 0], nodes[0, 1], nodes[0, 2] = 0, n, 0
    top = 0
    done = 0
    while top >= 0:
        start, size, children = nodes[top, 0], nodes[top, 1], nodes[top, 2]
        if size <= _BLOCK:
            sums[done] = _block_sum(a, start, size)
            done += 1
            top -= 1
            continue
        half = _half(size)
        if children == 2:
            sums[done - 2] = sums[done - 2] + sums[done - 1]
            done -= 1
            top -= 1
            continue
        nodes[top, 2] = children + 1
        top += 1
        if children == 0:
            nodes[top, 0], nodes[top, 1] = start, half
        else:
            nodes[top, 0], nodes[top, 1] = start + half, size - half
        nodes[top, 2] = 0
    return sums[0]


# The top three levels of NumPy's recursion as plain calls, so that a row of
# up to about 1024 elements never reaches _stack_sum's allocations (which
# took a third of the time of a 1024-element sum, measured: 0.55 against
# 0.36 ns per float64 element).


@njit(cache=True)
def _level1(a, start, n):
    if n <= _BLOCK:
        return _block_sum(a, start, n)
    h = _half(n)
    return _stack_sum(a[start : start + h]) + _stack_sum(a[start + h : start + n])


@njit(cache=True)
def _level2(a, start, n):
    if n <= _BLOCK:
        return _block_sum(a, start, n)
    h = _half(n)
    return _level1(a, start, h) + _level1(a, start + h, n - h)


@njit(cache=True)
def pairwise_large(a, start, n):
    """``np.sum(a[start:start + n])`` for n > 128, in NumPy's order."""
    h = _half(n)
    return _level2(a, start, h) + _level2(a, start + h, n - h)


# A row loop sums row i of a (rows, n) array a, whose flat view is flat, as
#     leaf_sum(a[i], 0, n) if n <= LEAF else pairwise_large(flat, i * n, n)
# written out in the loop.  Measured on the float64 softmax normalisation:
# the same expression in an inlined helper was 9 ns a row slower (Numba's
# inliner copies the array argument, a reference count per call that LLVM
# did not prune one level down: 2.0 against 1.1 us at (100, 10)); a short
# row summed at a flat offset rather than from 0 of its view was slower at
# 100 columns (76 against 43 us for 1310 rows).
LEAF = _BLOCK
leaf_sum = _block_sum


@njit(cache=True)
def pairwise_sum(a):
    """
    ``np.sum(a)`` of a 1-D contiguous array, in NumPy's order.

    Parameters
    ----------
    a : ndarray, shape (n,), float32 or float64

    Returns
    -------
    total : float64
    """
    n = a.size
    return _block_sum(a, 0, n) if n <= _BLOCK else pairwise_large(a, 0, n)
