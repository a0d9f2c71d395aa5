"""Block reductions in shared memory: sums (of squares), and column sums (layer normalisation's dgamma and dbeta)."""

import numpy as np
from numba import cuda, float64

from fastnn.kernels.cuda.launch import BLOCK, blocks, kernel, per_dtype, stream, to_host, zeros


def segment_reduce(buf, lane, width, base, op_max):
    """Reduce buf[base : base + width] into buf[base] (width a power of two).

    Every thread of the block must call this, in step: it holds barriers.
    """
    step = width // 2
    while step > 0:
        if lane < step:
            if op_max:
                other = buf[base + lane + step]
                if other > buf[base + lane]:
                    buf[base + lane] = other
            else:
                buf[base + lane] += buf[base + lane + step]
        cuda.syncthreads()
        step //= 2


segment_reduce = cuda.jit(device=True)(segment_reduce)


@kernel
def sum_kernel(values, out, squares):
    """out[0] += the float64 sum of values (of their squares when squares is set)."""
    buf = cuda.shared.array(BLOCK, float64)
    t = cuda.threadIdx.x
    total = 0.0
    for i in range(cuda.grid(1), values.size, cuda.gridsize(1)):
        v = float64(values[i])
        total += v * v if squares else v
    buf[t] = total
    cuda.syncthreads()
    segment_reduce(buf, t, BLOCK, 0, False)
    if t == 0:
        cuda.atomic.add(out, 0, buf[0])


@per_dtype
def _colsum_kernel(nb):
    @kernel
    def colsum(dout, db, rows_per_thread):
        """db += column sums of dout, each thread summing its column over rows_per_thread rows."""
        j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        n, m = dout.shape
        if j >= m:
            return
        start = cuda.blockIdx.y * rows_per_thread
        stop = min(n, start + rows_per_thread)
        total = nb(0)
        for i in range(start, stop):
            total += dout[i, j]
        cuda.atomic.add(db, j, total)

    return colsum


def column_sums(dout):
    """The column sums of the 2-D device array ``dout`` (N, M): a device array of shape (M,)."""
    n, m = dout.shape
    db = zeros(m, dout.dtype)
    rows = BLOCK
    grid = (-(-m // BLOCK) or 1, -(-n // rows) or 1)
    _colsum_kernel(dout.dtype)[grid, BLOCK, stream()](dout, db, rows)
    return db


def sum_of_squares(a):
    """The sum of a's squares, in float64, of a flat non-empty device array: a Python float."""
    total = zeros(1, np.float64)
    sum_kernel[blocks(a.size), BLOCK, stream()](a, total, True)
    return float(to_host(total)[0])
