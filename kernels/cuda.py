"""@cuda.jit kernels for the fastnn layers (numba-cuda).

This is the only module that imports ``numba.cuda``.  It raises ImportError,
saying what is missing, when numba-cuda is not installed or when there is
neither a GPU nor the simulator (``NUMBA_ENABLE_CUDASIM=1``).

Conventions
-----------
* Inputs are C-contiguous device arrays of one float dtype whose shapes the
  public API (``fastnn.cuda``) has checked.
* Kernels are built per dtype by small factories, so shared and local
  arrays have a compile-time dtype and float32 never upcasts.
* Reductions go through shared memory with ``syncthreads``: the simulator
  that CI runs has neither warp shuffles nor ``syncwarp``, and one code path
  for both keeps CI honest about what runs on the GPU.
* Launch configuration comes from :mod:`fastnn.config`.
"""

import importlib.util
import math

import numpy as np

if importlib.util.find_spec("numba_cuda") is None:
    raise ImportError(
        "fastnn.cuda needs the numba-cuda package, which is not installed: pip install -e '.[cuda]'"
    )

# numba-cuda 0.30.4 still calls np.row_stack, which NumPy 2.5 removed; its
# replacement np.vstack does the same for the 2-D inputs involved.
if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack

from numba import cuda, float32, float64, int64  # noqa: E402

from fastnn import config  # noqa: E402

from numba.core import config as _numba_config  # noqa: E402

#: True when kernels run on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
SIMULATOR = bool(_numba_config.ENABLE_CUDASIM)

if not SIMULATOR and not cuda.is_available():
    raise ImportError(
        "fastnn.cuda found no usable CUDA GPU (numba.cuda.is_available() is False). "
        "To run the kernels on Numba's CUDA simulator instead, set NUMBA_ENABLE_CUDASIM=1 "
        "before numba is first imported."
    )

# int64 too: labels of any integer dtype are cast to it.
_NB = {np.dtype(np.float32): float32, np.dtype(np.float64): float64, np.dtype(np.int64): int64}

_DEVICE_ARRAY = cuda.devicearray.FakeCUDAArray if SIMULATOR else cuda.devicearray.DeviceNDArray


def as_device_array(value):
    """``value`` as a Numba device array without a copy, or None if it is not on the GPU.

    Accepts Numba device arrays and, on a real GPU, anything exposing
    ``__cuda_array_interface__`` (CuPy arrays, PyTorch CUDA tensors).
    """
    if isinstance(value, _DEVICE_ARRAY):
        return value
    if not SIMULATOR and hasattr(value, "__cuda_array_interface__"):
        return cuda.as_cuda_array(value)
    return None


def _setting(name):
    return config.cuda_setting(name, SIMULATOR)


BM, BN, BK = _setting("GEMM_TILE_M"), _setting("GEMM_TILE_N"), _setting("GEMM_TILE_K")
TM, TN = _setting("GEMM_THREAD_M"), _setting("GEMM_THREAD_N")
GEMM_THREADS = (BN // TN, BM // TM)
BLOCK = _setting("CUDA_BLOCK")
VALS = _setting("CUDA_VALUES_PER_THREAD")
WARP_ROW_MAX_C = _setting("CUDA_WARP_ROW_MAX_C")


def _blocks(n, threads=BLOCK):
    return max(1, min(config.CUDA_MAX_BLOCKS, -(-n // threads)))


def _per_dtype(factory):
    kernels = {}

    def get(dtype):
        dtype = np.dtype(dtype)
        if dtype not in kernels:
            kernels[dtype] = factory(_NB[dtype])
        return kernels[dtype]

    return get


# ------------------------------------------------------------------ GEMM


@_per_dtype
def _gemm_kernel(nb):
    @cuda.jit
    def gemm(a, b, c, bias, post, m, n, k, trans_a, trans_b, add_bias, relu):
        """c = op(a) @ op(b) (+ bias), post = max(c, 0) when relu.

        op(a) is (m, k): a itself, or a stored as (k, m) when trans_a.
        op(b) is (k, n): b itself, or b stored as (n, k) when trans_b.
        """
        a_tile = cuda.shared.array((BK, BM), nb)
        b_tile = cuda.shared.array((BK, BN), nb)
        acc = cuda.local.array((TM, TN), nb)
        a_reg = cuda.local.array(TM, nb)
        b_reg = cuda.local.array(TN, nb)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * cuda.blockDim.x + tx
        threads = cuda.blockDim.x * cuda.blockDim.y
        row0 = cuda.blockIdx.y * BM
        col0 = cuda.blockIdx.x * BN
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = 0
        for k0 in range(0, k, BK):
            # Consecutive threads take consecutive addresses of the stored
            # layout, so the loads coalesce whether or not it is transposed.
            for idx in range(tid, BK * BM, threads):
                if trans_a:
                    kk, mm = idx // BM, idx % BM
                else:
                    kk, mm = idx % BK, idx // BK
                gm, gk = row0 + mm, k0 + kk
                if gm < m and gk < k:
                    a_tile[kk, mm] = a[gk, gm] if trans_a else a[gm, gk]
                else:
                    a_tile[kk, mm] = 0
            for idx in range(tid, BK * BN, threads):
                if trans_b:
                    kk, nn = idx % BK, idx // BK
                else:
                    kk, nn = idx // BN, idx % BN
                gn, gk = col0 + nn, k0 + kk
                if gn < n and gk < k:
                    b_tile[kk, nn] = b[gn, gk] if trans_b else b[gk, gn]
                else:
                    b_tile[kk, nn] = 0
            # Both tiles must be complete before any thread reads them.
            cuda.syncthreads()
            for kk in range(BK):
                for i in range(TM):
                    a_reg[i] = a_tile[kk, ty * TM + i]
                for j in range(TN):
                    b_reg[j] = b_tile[kk, tx * TN + j]
                for i in range(TM):
                    for j in range(TN):
                        acc[i, j] += a_reg[i] * b_reg[j]
            # Every thread must be done reading before the next K step
            # overwrites the tiles.
            cuda.syncthreads()
        zero = nb(0)
        for i in range(TM):
            gm = row0 + ty * TM + i
            if gm < m:
                for j in range(TN):
                    gn = col0 + tx * TN + j
                    if gn < n:
                        v = acc[i, j]
                        if add_bias:
                            v += bias[gn]
                        c[gm, gn] = v
                        if relu:
                            post[gm, gn] = v if not v <= zero else zero

    return gemm


def gemm(a, b, trans_a=False, trans_b=False, bias=None, relu=False):
    """
    ``op(a) @ op(b)`` on the GPU, with an optional fused bias and ReLU.

    Parameters
    ----------
    a : device array, shape (M, K), or (K, M) when ``trans_a``
    b : device array, shape (K, N), or (N, K) when ``trans_b``
    bias : device array of shape (N,), optional
        Added to every row of the product.
    relu : bool
        Also return ``max(c, 0)``.

    Returns
    -------
    c : device array, shape (M, N)
    post : device array, shape (M, N)
        Only when ``relu``.
    """
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    n = b.shape[0] if trans_b else b.shape[1]
    c = cuda.device_array((m, n), a.dtype)
    post = cuda.device_array((m, n), a.dtype) if relu else c
    grid = (-(-n // BN) or 1, -(-m // BM) or 1)
    _gemm_kernel(a.dtype)[grid, GEMM_THREADS](
        a, b, c, bias if bias is not None else c, post, m, n, k, trans_a, trans_b, bias is not None, relu
    )
    return (c, post) if relu else c


# ------------------------------------------------------ column sums (db)


@_per_dtype
def _colsum_kernel(nb):
    @cuda.jit
    def colsum(dout, a, da, db, rows_per_thread, masked):
        """db += column sums of dout (masked by a >= 0 and written to da when masked)."""
        j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        n, m = dout.shape
        if j >= m:
            return
        start = cuda.blockIdx.y * rows_per_thread
        stop = min(n, start + rows_per_thread)
        zero = nb(0)
        total = zero
        for i in range(start, stop):
            g = dout[i, j]
            if masked:
                g = g if a[i, j] >= zero else zero
                da[i, j] = g
            total += g
        cuda.atomic.add(db, j, total)

    return colsum


@_per_dtype
def _fill_kernel(nb):
    @cuda.jit
    def fill(out, value):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = value

    return fill


def zeros(shape, dtype):
    """A device array of zeros."""
    out = cuda.device_array(shape, dtype)
    flat = out.reshape(out.size) if out.ndim != 1 else out
    if out.size:
        _fill_kernel(dtype)[_blocks(out.size), BLOCK](flat, 0)
    return out


def column_sums(dout, a=None):
    """
    Column sums of ``dout``, or of ``dout * (a >= 0)`` when ``a`` is given.

    Returns
    -------
    db : device array, shape (M,)
    da : device array, shape (N, M)
        The masked gradient, only when ``a`` is given.
    """
    n, m = dout.shape
    db = zeros(m, dout.dtype)
    da = cuda.device_array(dout.shape, dout.dtype) if a is not None else dout
    rows = BLOCK
    grid = (-(-m // BLOCK) or 1, -(-n // rows) or 1)
    _colsum_kernel(dout.dtype)[grid, BLOCK](dout, a if a is not None else dout, da, db, rows, a is not None)
    return (db, da) if a is not None else db


# ----------------------------------------------------------- elementwise


@_per_dtype
def _relu_kernels(nb):
    @cuda.jit
    def forward(x, out):
        zero = nb(0)
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = x[i]
            out[i] = v if not v <= zero else zero

    @cuda.jit
    def backward(dout, x, dx):
        zero = nb(0)
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            dx[i] = dout[i] if x[i] >= zero else zero * dout[i]

    return forward, backward


@_per_dtype
def _cast_kernel(nb):
    @cuda.jit
    def cast(src, dst):
        for i in range(cuda.grid(1), src.size, cuda.gridsize(1)):
            dst[i] = nb(src[i])

    return cast


def relu_forward(x, out):
    """``out = max(x, 0)`` elementwise; x and out flat, same size."""
    _relu_kernels(x.dtype)[0][_blocks(x.size), BLOCK](x, out)


def relu_backward(dout, x, dx):
    """``dx = dout * (x >= 0)`` elementwise; all flat, same size."""
    _relu_kernels(x.dtype)[1][_blocks(x.size), BLOCK](dout, x, dx)


def cast(src, dtype):
    """A contiguous copy of the flat device array ``src`` in ``dtype``."""
    dst = cuda.device_array(src.size, dtype)
    if src.size:
        _cast_kernel(dtype)[_blocks(src.size), BLOCK](src, dst)
    return dst


def contiguous(a):
    """A C-contiguous copy of a strided 1-D or 2-D device array."""
    dst = cuda.device_array(a.shape, a.dtype)
    if a.ndim == 1:
        _copy_1d[_blocks(a.shape[0]), BLOCK](a, dst)
    else:
        grid = (-(-a.shape[0] // 16) or 1, -(-a.shape[1] // 16) or 1)
        _copy_2d[grid, (16, 16)](a, dst)
    return dst


@cuda.jit
def _copy_1d(src, dst):
    for i in range(cuda.grid(1), src.size, cuda.gridsize(1)):
        dst[i] = src[i]


@cuda.jit
def _copy_2d(src, dst):
    i, j = cuda.grid(2)
    if i < src.shape[0] and j < src.shape[1]:
        dst[i, j] = src[i, j]


# ----------------------------------------------------------------- losses


@cuda.jit
def _label_range(y, out):
    for i in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        cuda.atomic.min(out, 0, y[i])
        cuda.atomic.max(out, 1, y[i])


def label_range(y):
    """Smallest and largest label of the device vector y, as Python ints."""
    out = cuda.to_device(np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min], np.int64))
    _label_range[_blocks(y.size), BLOCK](y, out)
    low, high = out.copy_to_host()
    return int(low), int(high)


def _segment_reduce(buf, lane, width, base, op_max):
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


_segment_reduce = cuda.jit(device=True)(_segment_reduce)


@_per_dtype
def _softmax_kernel(nb):
    @cuda.jit
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
            _segment_reduce(buf, lane, width, base, True)
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
            _segment_reduce(buf, lane, width, base, False)
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
                    row_loss[i] = math.log(float64(s)) - float64(x[i, label] - m)

    return softmax


@_per_dtype
def _svm_kernel(nb):
    @cuda.jit
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
                target = x[i, label]
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
            _segment_reduce(buf, lane, width, base, False)
            count = buf[base]
            cuda.syncthreads()
            buf[t] = total
            cuda.syncthreads()
            _segment_reduce(buf, lane, width, base, False)
            if live and lane == 0:
                dx[i, y[i]] = -count * scale
                row_loss[i] = float64(buf[base])
            cuda.syncthreads()

    return svm


@cuda.jit
def _sum_kernel(values, out):
    buf = cuda.shared.array(BLOCK, float64)
    t = cuda.threadIdx.x
    total = 0.0
    for i in range(cuda.grid(1), values.size, cuda.gridsize(1)):
        total += values[i]
    buf[t] = total
    cuda.syncthreads()
    _segment_reduce(buf, t, BLOCK, 0, False)
    if t == 0:
        cuda.atomic.add(out, 0, buf[0])


def _row_width(c):
    return 32 if c <= WARP_ROW_MAX_C else BLOCK


def _row_loss(kernel, x, y):
    n, c = x.shape
    dx = cuda.device_array(x.shape, x.dtype)
    row_loss = cuda.device_array(n, np.float64)
    width = _row_width(c)
    rows_per_block = BLOCK // width
    kernel(x.dtype)[_blocks(n, rows_per_block), BLOCK](x, y, dx, row_loss, x.dtype.type(1.0 / n), width)
    total = cuda.to_device(np.zeros(1))
    _sum_kernel[_blocks(n), BLOCK](row_loss, total)
    return float(total.copy_to_host()[0]) / n, dx


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
        Mean loss, reduced on the device in float64.
    dx : device array, shape (N, C)
    """
    return _row_loss(_softmax_kernel, x, y)


def svm_loss(x, y):
    """
    Multiclass hinge loss (margin 1) and its gradient on the GPU.

    Parameters
    ----------
    x : device array, shape (N, C)
    y : device array of int64, shape (N,)

    Returns
    -------
    loss : float
    dx : device array, shape (N, C)
    """
    return _row_loss(_svm_kernel, x, y)


# --------------------------------------------------------------- training


@cuda.jit
def _gather_rows(src, rows, dst):
    i, j = cuda.grid(2)
    if i < rows.size and j < src.shape[1]:
        dst[i, j] = src[rows[i], j]


def gather_rows(src, rows):
    """``src[rows]`` for a 2-D device array and a device vector of row indices."""
    dst = cuda.device_array((rows.size, src.shape[1]), src.dtype)
    grid = (-(-rows.size // 16) or 1, -(-src.shape[1] // 16) or 1)
    _gather_rows[grid, (16, 16)](src, rows, dst)
    return dst


@_per_dtype
def _sgd_kernel(nb):
    @cuda.jit
    def sgd(w, dw, lr):
        for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
            w[i] -= lr * dw[i]

    return sgd


def sgd_update(w, dw, lr):
    """``w -= lr * dw`` in place, for device arrays of one shape."""
    _sgd_kernel(w.dtype)[_blocks(w.size), BLOCK](w.reshape(w.size), dw.reshape(dw.size), w.dtype.type(lr))


def synchronize():
    """Wait for every queued kernel (for timing)."""
    cuda.synchronize()
