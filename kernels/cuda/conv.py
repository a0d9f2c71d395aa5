"""Convolution as an implicit GEMM, max pooling, and spatial batch normalisation.

Conventions as the CPU twin (:mod:`fastnn.kernels.cpu.conv`): x is
(N, C, H, W), w (F, C, HH, WW), outputs (N, F, Ho, Wo), all C-contiguous
device arrays of one float dtype with a geometry fastnn.cuda has checked.

The forward is the tiled GEMM of :mod:`fastnn.kernels.cuda.gemm` with
``A = w`` viewed as (F, C*HH*WW) and ``B`` the column matrix, one column per
output pixel, which is never stored: each block gathers its BK x BN slice of
it from x into shared memory (zero where the window hangs over the padding),
and the bias and ReLU are applied in the epilogue as the tile is written
out.  The weight gradient is the same tiling over ``g @ B.T``, reducing over
the pixels; the input gradient too is that tiling, a transposed convolution
(W as (C, F*HH*WW) times the gradient gathered per tap and input pixel);
db is a block reduction per filter.  Max pooling keeps
the CPU's rule (first maximum in row-major window order, NaN the largest)
and the same window offsets, and its backward gathers too, so no atomics
and no ordering differences: each input's gradient is summed over its
windows in output order, as on the CPU.
"""

import math

import numpy as np
from numba import cuda, float64, uint8

from fastnn.kernels.cuda.launch import BK, BLOCK, BM, BN, GEMM_THREADS, TM, TN, blocks, empty, empty_like, kernel, per_dtype, stream, to_host, zeros
from fastnn.kernels.cuda.reductions import segment_reduce


@cuda.jit(device=True)
def _column_entry(x, kidx, p, hh, ww, stride, pad, ho, wo, zero):
    """B[kidx, p] of the implicit column matrix: xpad[n, c, oh*stride + kh, ow*stride + kw] (zero in the padding)."""
    plane = ho * wo
    n = p // plane
    oh = (p % plane) // wo
    ow = p % wo
    c = kidx // (hh * ww)
    kh = (kidx // ww) % hh
    kw = kidx % ww
    ih = oh * stride + kh - pad
    iw = ow * stride + kw - pad
    if ih < 0 or ih >= x.shape[2] or iw < 0 or iw >= x.shape[3]:
        return zero
    return x[n, c, ih, iw]


@cuda.jit(device=True)
def _masked_grad(dout, a, relu, n, f, oh, ow, zero):
    """dout[n, f, oh, ow], or zero where relu and the pre-activation a was negative."""
    if relu and not a[n, f, oh, ow] >= zero:
        return zero
    return dout[n, f, oh, ow]


@cuda.jit(device=True)
def _clear(acc):
    for i in range(TM):
        for j in range(TN):
            acc[i, j] = 0


@cuda.jit(device=True)
def _accumulate(a_tile, b_tile, acc, ty, tx):
    """acc += this thread's TM x TN patch of a_tile.T @ b_tile, both staged (BK, BM) and (BK, BN)."""
    for kk in range(BK):
        for i in range(TM):
            av = a_tile[kk, ty * TM + i]
            for j in range(TN):
                acc[i, j] += av * b_tile[kk, tx * TN + j]


@per_dtype
def _forward_kernel(nb):
    @kernel
    def conv(x, w2, b, a, out, hh, ww, stride, pad, ho, wo, relu):
        """a = w2 @ B + b (per filter), out = max(a, 0) when relu; a tile of BM filters x BN pixels per block."""
        a_tile = cuda.shared.array((BK, BM), nb)
        b_tile = cuda.shared.array((BK, BN), nb)
        acc = cuda.local.array((TM, TN), nb)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * cuda.blockDim.x + tx
        threads = cuda.blockDim.x * cuda.blockDim.y
        f0 = cuda.blockIdx.y * BM
        p0 = cuda.blockIdx.x * BN
        m, k = w2.shape
        pixels = x.shape[0] * ho * wo
        zero = nb(0)
        _clear(acc)
        for k0 in range(0, k, BK):
            # Consecutive threads take consecutive k of a filter row of w, and
            # consecutive pixels of B (neighbouring ow: neighbouring addresses of x).
            for idx in range(tid, BK * BM, threads):
                kk, mm = idx % BK, idx // BK
                gm, gk = f0 + mm, k0 + kk
                a_tile[kk, mm] = w2[gm, gk] if gm < m and gk < k else zero
            for idx in range(tid, BK * BN, threads):
                kk, nn = idx // BN, idx % BN
                gp, gk = p0 + nn, k0 + kk
                b_tile[kk, nn] = _column_entry(x, gk, gp, hh, ww, stride, pad, ho, wo, zero) if gp < pixels and gk < k else zero
            cuda.syncthreads()
            _accumulate(a_tile, b_tile, acc, ty, tx)
            cuda.syncthreads()
        plane = ho * wo
        for i in range(TM):
            f = f0 + ty * TM + i
            if f < m:
                for j in range(TN):
                    p = p0 + tx * TN + j
                    if p < pixels:
                        n, oh, ow = p // plane, (p % plane) // wo, p % wo
                        v = acc[i, j] + b[f]
                        a[n, f, oh, ow] = v
                        if relu:
                            out[n, f, oh, ow] = v if not v <= zero else zero

    return conv


def conv_forward(x, w, b, stride, pad, ho, wo, relu):
    """
    ``a = conv(x, w) + b`` and, when ``relu``, ``out = max(a, 0)``, on the GPU.

    Returns
    -------
    a, out : device arrays of shape (N, F, Ho, Wo); ``out`` is ``a`` unless relu
    """
    num, c_in = x.shape[0], x.shape[1]
    f, _, hh, ww = w.shape
    a = empty((num, f, ho, wo), x.dtype)
    out = empty_like(a) if relu else a
    if a.size == 0:
        return a, out
    w2 = w.reshape(f, c_in * hh * ww)
    grid = (-(-(num * ho * wo) // BN), -(-f // BM))
    _forward_kernel(x.dtype)[grid, GEMM_THREADS, stream()](x, w2, b, a, out, hh, ww, stride, pad, ho, wo, relu)
    return a, out


@per_dtype
def _weight_grad_kernel(nb):
    @kernel
    def weight_grad(dout, a, relu, x, dw2, hh, ww, stride, pad):
        """dw2 = g @ B.T, g the (masked) dout as (F, pixels): BM filters x BN columns of w per block, BK pixels a step."""
        g_tile = cuda.shared.array((BK, BM), nb)
        b_tile = cuda.shared.array((BK, BN), nb)
        acc = cuda.local.array((TM, TN), nb)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * cuda.blockDim.x + tx
        threads = cuda.blockDim.x * cuda.blockDim.y
        f0 = cuda.blockIdx.y * BM
        k0 = cuda.blockIdx.x * BN
        m, k = dw2.shape
        ho, wo = dout.shape[2], dout.shape[3]
        plane = ho * wo
        pixels = dout.shape[0] * plane
        zero = nb(0)
        _clear(acc)
        for p0 in range(0, pixels, BK):
            for idx in range(tid, BK * BM, threads):
                pp, mm = idx % BK, idx // BK
                gf, gp = f0 + mm, p0 + pp
                if gf < m and gp < pixels:
                    g_tile[pp, mm] = _masked_grad(dout, a, relu, gp // plane, gf, (gp % plane) // wo, gp % wo, zero)
                else:
                    g_tile[pp, mm] = zero
            for idx in range(tid, BK * BN, threads):
                pp, nn = idx % BK, idx // BK
                gk, gp = k0 + nn, p0 + pp
                b_tile[pp, nn] = _column_entry(x, gk, gp, hh, ww, stride, pad, ho, wo, zero) if gk < k and gp < pixels else zero
            cuda.syncthreads()
            _accumulate(g_tile, b_tile, acc, ty, tx)
            cuda.syncthreads()
        for i in range(TM):
            f = f0 + ty * TM + i
            if f < m:
                for j in range(TN):
                    kk = k0 + tx * TN + j
                    if kk < k:
                        dw2[f, kk] = acc[i, j]

    return weight_grad


@cuda.jit(device=True)
def _accumulate_taps(a_tile, b_tile, taps, acc, ty, tx):
    """_accumulate over the entries of b_tile that taps marks real: a*0 for a missing tap would turn a NaN or inf of a into NaN."""
    for kk in range(BK):
        for i in range(TM):
            av = a_tile[kk, ty * TM + i]
            for j in range(TN):
                if taps[kk, tx * TN + j]:
                    acc[i, j] += av * b_tile[kk, tx * TN + j]


@per_dtype
def _input_grad_kernel(nb):
    @kernel
    def input_grad(dout, a, relu, w, dx, stride, pad):
        """
        dx as an implicit GEMM on the forward's tiling, a transposed convolution:
        dx2 (C, N*H*W) = W (C, F*HH*WW) @ T, where W[c, (f, kh, kw)] = w[f, c, kh, kw]
        and T[(f, kh, kw), (n, ih, iw)] = g[n, f, oh, ow] for the output (oh, ow) whose
        window puts tap (kh, kw) on input (ih, iw), ih + pad - kh = oh * stride (and
        likewise for w); T is never stored, each block gathers its BK x BN slice of
        it from g.  A tile of BM channels x BN input pixels per block.

        An input that tap (kh, kw) reaches from no output has no term for it, as in
        the reference's scatter: a K step whose slice of W holds a NaN or inf adds
        only the real taps (a shared flag, set as the slice is staged), so a
        non-finite weight reaches just the inputs it touches.
        """
        a_tile = cuda.shared.array((BK, BM), nb)
        b_tile = cuda.shared.array((BK, BN), nb)
        taps = cuda.shared.array((BK, BN), uint8)
        finite = cuda.shared.array(2, uint8)
        acc = cuda.local.array((TM, TN), nb)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * cuda.blockDim.x + tx
        threads = cuda.blockDim.x * cuda.blockDim.y
        f_count, c_in, hh, ww = w.shape
        num, _, h, wd = dx.shape
        ho, wo = dout.shape[2], dout.shape[3]
        k = f_count * hh * ww
        plane = h * wd
        pixels = num * plane
        c0 = cuda.blockIdx.y * BM
        p0 = cuda.blockIdx.x * BN
        zero = nb(0)
        _clear(acc)
        if tid == 0:
            finite[0] = 1
            finite[1] = 1
        cuda.syncthreads()
        step = 0
        for k0 in range(0, k, BK):
            flag = step % 2
            for idx in range(tid, BK * BM, threads):
                # Consecutive threads: consecutive taps of one filter (neighbouring addresses of w).
                kk, mm = idx % BK, idx // BK
                gc, gk = c0 + mm, k0 + kk
                v = zero
                if gc < c_in and gk < k:
                    r = gk % (hh * ww)
                    v = w[gk // (hh * ww), gc, r // ww, r % ww]
                    if not v - v == zero:
                        finite[flag] = 0
                a_tile[kk, mm] = v
            for idx in range(tid, BK * BN, threads):
                # Consecutive threads: consecutive input pixels (neighbouring outputs of g).
                kk, nn = idx // BN, idx % BN
                gp, gk = p0 + nn, k0 + kk
                v = zero
                real = False
                if gp < pixels and gk < k:
                    n = gp // plane
                    th = (gp % plane) // wd + pad - (gk // ww) % hh
                    tw = gp % wd + pad - gk % ww
                    if th >= 0 and tw >= 0 and th % stride == 0 and tw % stride == 0 and th // stride < ho and tw // stride < wo:
                        real = True
                        v = _masked_grad(dout, a, relu, n, gk // (hh * ww), th // stride, tw // stride, zero)
                b_tile[kk, nn] = v
                taps[kk, nn] = real
            cuda.syncthreads()
            if finite[flag]:
                _accumulate(a_tile, b_tile, acc, ty, tx)
            else:
                _accumulate_taps(a_tile, b_tile, taps, acc, ty, tx)
            # The next step's flag was last read before this step's first
            # barrier, and is next written after the barrier below.
            if tid == 0:
                finite[1 - flag] = 1
            cuda.syncthreads()
            step += 1
        for i in range(TM):
            c = c0 + ty * TM + i
            if c < c_in:
                for j in range(TN):
                    p = p0 + tx * TN + j
                    if p < pixels:
                        dx[p // plane, c, (p % plane) // wd, p % wd] = acc[i, j]

    return input_grad


@per_dtype
def _bias_grad_kernel(nb):
    @kernel
    def bias_grad(dout, a, relu, db):
        """db[f] = sum over images and pixels of g, in float64; a block per filter."""
        buf = cuda.shared.array(BLOCK, float64)
        f = cuda.blockIdx.x
        t = cuda.threadIdx.x
        ho, wo = dout.shape[2], dout.shape[3]
        plane = ho * wo
        total = 0.0
        zero = nb(0)
        for i in range(t, dout.shape[0] * plane, BLOCK):
            p = i % plane
            total += _masked_grad(dout, a, relu, i // plane, f, p // wo, p % wo, zero)
        buf[t] = total
        cuda.syncthreads()
        segment_reduce(buf, t, BLOCK, 0, False)
        if t == 0:
            db[f] = nb(buf[0])

    return bias_grad


def conv_backward(dout, x, w, stride, pad, a=None):
    """
    Gradients of :func:`conv_forward` (of its ReLU output when ``a``, the pre-activation, is given).

    Returns
    -------
    dx, dw, db : device arrays of the shapes of x, w and (F,)
    """
    c_in = x.shape[1]
    f, _, hh, ww = w.shape
    relu = a is not None
    a = a if relu else dout
    if dout.size == 0:
        return zeros(x.shape, x.dtype), zeros(w.shape, x.dtype), zeros(f, x.dtype)
    dx = empty(x.shape, x.dtype)
    dw2 = empty((f, c_in * hh * ww), x.dtype)
    db = empty(f, x.dtype)
    if dw2.size:
        grid = (-(-dw2.shape[1] // BN), -(-f // BM))
        _weight_grad_kernel(x.dtype)[grid, GEMM_THREADS, stream()](dout, a, relu, x, dw2, hh, ww, stride, pad)
    if dx.size:
        grid = (-(-(x.shape[0] * x.shape[2] * x.shape[3]) // BN), -(-c_in // BM))
        _input_grad_kernel(x.dtype)[grid, GEMM_THREADS, stream()](dout, a, relu, w, dx, stride, pad)
    _bias_grad_kernel(x.dtype)[f, BLOCK, stream()](dout, a, relu, db)
    return dx, dw2.reshape(w.shape), db


# ---------------------------------------------------------- max pooling


@per_dtype
def _pool_forward_kernel(nb):
    @kernel
    def pool_forward(x, ph, pw, stride, out, arg):
        """A thread per output: the first maximum of its window in row-major order, NaN the largest."""
        ho, wo = out.shape[2], out.shape[3]
        channels = x.shape[1]
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            ow = i % wo
            oh = (i // wo) % ho
            c = (i // (wo * ho)) % channels
            n = i // (wo * ho * channels)
            h0, w0 = oh * stride, ow * stride
            best = x[n, c, h0, w0]
            where = 0
            for kh in range(ph):
                for kw in range(pw):
                    v = x[n, c, h0 + kh, w0 + kw]
                    if best == best and (v > best or v != v):
                        best = v
                        where = kh * pw + kw
            out[n, c, oh, ow] = best
            arg[n, c, oh, ow] = where

    return pool_forward


def max_pool_forward(x, ph, pw, stride, ho, wo, arg_dtype):
    """Max pooling on the GPU: out (N, C, Ho, Wo) and the window offsets ``arg`` of ``arg_dtype``."""
    out = empty((x.shape[0], x.shape[1], ho, wo), x.dtype)
    arg = empty(out.shape, arg_dtype)
    if out.size:
        _pool_forward_kernel(x.dtype)[blocks(out.size), BLOCK, stream()](x, ph, pw, stride, out, arg)
    return out, arg


@per_dtype
def _pool_backward_kernel(nb):
    @kernel
    def pool_backward(dout, arg, ph, pw, stride, dx):
        """A thread per input: the sum, in output order, of the dout entries whose window chose it."""
        ho, wo = dout.shape[2], dout.shape[3]
        channels, h, w = dx.shape[1], dx.shape[2], dx.shape[3]
        for i in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
            iw = i % w
            ih = (i // w) % h
            c = (i // (w * h)) % channels
            n = i // (w * h * channels)
            oh_lo = max(0, -(-(ih - ph + 1) // stride))
            ow_lo = max(0, -(-(iw - pw + 1) // stride))
            total = nb(0)
            for oh in range(oh_lo, min(ho, ih // stride + 1)):
                for ow in range(ow_lo, min(wo, iw // stride + 1)):
                    if arg[n, c, oh, ow] == (ih - oh * stride) * pw + (iw - ow * stride):
                        total += dout[n, c, oh, ow]
            dx[n, c, ih, iw] = total

    return pool_backward


@kernel
def _count_outside(arg, window, count):
    for i in range(cuda.grid(1), arg.size, cuda.gridsize(1)):
        if arg[i] >= window:
            cuda.atomic.add(count, 0, 1)


def max_pool_backward(dout, arg, ph, pw, stride, x_shape):
    """dx of ``x_shape``, and how many ``arg`` entries named no input of their window (0 unless forged)."""
    dx = empty(x_shape, dout.dtype)
    count = zeros(1, np.int64)
    if arg.size:
        _count_outside[blocks(arg.size), BLOCK, stream()](arg.reshape(arg.size), ph * pw, count)
    if dx.size:
        _pool_backward_kernel(dout.dtype)[blocks(dx.size), BLOCK, stream()](dout, arg, ph, pw, stride, dx)
    return dx, int(to_host(count)[0])


# ------------------------------------------------ spatial batch normalisation


@per_dtype
def _channel_stats_kernel(nb):
    @kernel
    def channel_stats(x, eps, train, momentum, running_mean, running_var, mean, inv_std, inv_std_out):
        """A block per channel: mean and 1 / sqrt(var + eps) in float64 (batch or running; inv_std_out in x's dtype), and the running update."""
        buf = cuda.shared.array(BLOCK, float64)
        c = cuda.blockIdx.x
        t = cuda.threadIdx.x
        plane = x.shape[2]
        count = x.shape[0] * plane
        if train:
            total = 0.0
            for i in range(t, count, BLOCK):
                total += x[i // plane, c, i % plane]
            buf[t] = total
            cuda.syncthreads()
            segment_reduce(buf, t, BLOCK, 0, False)
            m = buf[0] / count
            cuda.syncthreads()
            squares = 0.0
            for i in range(t, count, BLOCK):
                d = x[i // plane, c, i % plane] - m
                squares += d * d
            buf[t] = squares
            cuda.syncthreads()
            segment_reduce(buf, t, BLOCK, 0, False)
            var = buf[0] / count
        else:
            m = float64(running_mean[c])
            var = float64(running_var[c])
        if t == 0:
            mean[c] = m
            inv_std[c] = 1.0 / math.sqrt(var + eps)
            inv_std_out[c] = nb(inv_std[c])
            if train:
                running_mean[c] = nb(momentum * running_mean[c] + (1 - momentum) * m)
                running_var[c] = nb(momentum * running_var[c] + (1 - momentum) * var)

    return channel_stats


@per_dtype
def _normalize_kernel(nb):
    @kernel
    def normalize(x, mean, inv_std, gamma, beta, xhat, out, affine):
        """xhat, and out = gamma * xhat + beta per channel where affine (otherwise out, gamma and beta are unused)."""
        channels, plane = x.shape[1], x.shape[2]
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            j = i % plane
            c = (i // plane) % channels
            n = i // (plane * channels)
            h = nb((x[n, c, j] - mean[c]) * inv_std[c])
            xhat[n, c, j] = h
            if affine:
                out[n, c, j] = gamma[c] * h + beta[c]

    return normalize


def spatial_batchnorm_forward(x3, gamma, beta, eps, train, running_mean, running_var, momentum):
    """
    Spatial batch normalisation of x3 (N, C, P) on the GPU, statistics per
    channel; in train mode running_mean and running_var (device arrays of
    x's dtype) are updated in place.

    Returns
    -------
    out, xhat : device arrays of x3's shape
    inv_std : device array of x3's dtype, shape (C,)
    """
    c = x3.shape[1]
    mean, inv_std, inv_std_out = empty(c, np.float64), empty(c, np.float64), empty(c, x3.dtype)
    _channel_stats_kernel(x3.dtype)[c, BLOCK, stream()](x3, eps, train, momentum, running_mean, running_var, mean, inv_std, inv_std_out)
    xhat, out = empty_like(x3), empty_like(x3)
    if x3.size:
        _normalize_kernel(x3.dtype)[blocks(x3.size), BLOCK, stream()](x3, mean, inv_std, gamma, beta, xhat, out, True)
    return out, xhat, inv_std_out


def rows_normalised(x3, eps):
    """
    xhat of each row of x3 (1, R, M) over its M values, a row taken as a
    channel (layer and group normalisation), and inv_std (R,) in x3's dtype.
    """
    r = x3.shape[1]
    mean, inv_std, inv_std_out = empty(r, np.float64), empty(r, np.float64), empty(r, x3.dtype)
    # Batch statistics; the running averages the kernel then updates are scratch.
    scratch = zeros(2 * r, x3.dtype)
    _channel_stats_kernel(x3.dtype)[r, BLOCK, stream()](x3, eps, True, 0.0, scratch[:r], scratch[r:], mean, inv_std, inv_std_out)
    xhat = empty_like(x3)
    if x3.size:
        _normalize_kernel(x3.dtype)[blocks(x3.size), BLOCK, stream()](x3, mean, inv_std, mean, mean, xhat, xhat, False)
    return xhat, inv_std_out


@per_dtype
def _channel_grad_sums_kernel(nb):
    @kernel
    def channel_grad_sums(dout, xhat, sum_g, sum_gh, dbeta, dgamma):
        """A block per channel: sum(dout) and sum(dout * xhat) in float64, and rounded to dout's dtype (dbeta, dgamma)."""
        buf = cuda.shared.array(BLOCK, float64)
        c = cuda.blockIdx.x
        t = cuda.threadIdx.x
        plane = dout.shape[2]
        s1 = 0.0
        s2 = 0.0
        for i in range(t, dout.shape[0] * plane, BLOCK):
            g = dout[i // plane, c, i % plane]
            s1 += g
            s2 += g * xhat[i // plane, c, i % plane]
        buf[t] = s1
        cuda.syncthreads()
        segment_reduce(buf, t, BLOCK, 0, False)
        if t == 0:
            sum_g[c] = buf[0]
            dbeta[c] = nb(buf[0])
        cuda.syncthreads()
        buf[t] = s2
        cuda.syncthreads()
        segment_reduce(buf, t, BLOCK, 0, False)
        if t == 0:
            sum_gh[c] = buf[0]
            dgamma[c] = nb(buf[0])

    return channel_grad_sums


@per_dtype
def _spatial_dx_kernel(nb):
    @kernel
    def spatial_dx(dout, xhat, gamma, inv_std, sum_g, sum_gh, train, dx):
        num, channels, plane = dout.shape
        count = num * plane
        for i in range(cuda.grid(1), dout.size, cuda.gridsize(1)):
            j = i % plane
            c = (i // plane) % channels
            n = i // (plane * channels)
            g = gamma[c]
            # In float64, exactly (a product of two float32 values), as the
            # sums' g * sum_g is: with one value per channel the two cancel
            # to an exact 0, which a float32 dh missed by its rounding.
            dh = float64(dout[n, c, j]) * g
            if train:
                dx[n, c, j] = nb(inv_std[c] / count * ((count * dh - g * sum_g[c]) - xhat[n, c, j] * (g * sum_gh[c])))
            else:
                dx[n, c, j] = nb(dh * inv_std[c])

    return spatial_dx


def _grad_sums(dout3, xhat3):
    """sum(dout3) and sum(dout3 * xhat3) per channel of (N, C, P) arrays in float64, and dgamma, dbeta in their dtype."""
    c = dout3.shape[1]
    sum_g, sum_gh = empty(c, np.float64), empty(c, np.float64)
    dgamma, dbeta = empty(c, dout3.dtype), empty(c, dout3.dtype)
    _channel_grad_sums_kernel(dout3.dtype)[c, BLOCK, stream()](dout3, xhat3, sum_g, sum_gh, dbeta, dgamma)
    return sum_g, sum_gh, dgamma, dbeta


def channel_grad_sums(dout3, xhat3):
    """sum(dout3 * xhat3) and sum(dout3) per channel of (N, C, P) arrays (dgamma, dbeta), in their dtype."""
    return _grad_sums(dout3, xhat3)[2:]


def spatial_batchnorm_backward(dout3, xhat3, gamma, inv_std, train):
    """dx (N, C, P), dgamma (C,), dbeta (C,) of spatial batch normalisation, on the GPU."""
    sum_g, sum_gh, dgamma, dbeta = _grad_sums(dout3, xhat3)
    dx = empty_like(dout3)
    if dout3.size:
        _spatial_dx_kernel(dout3.dtype)[blocks(dout3.size), BLOCK, stream()](dout3, xhat3, gamma, inv_std, sum_g, sum_gh, train, dx)
    return dx, dgamma, dbeta
