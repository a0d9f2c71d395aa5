"""Convolution and max pooling on NCHW arrays.

Conventions: ``x`` is (N, C, H, W), ``w`` is (F, C, HH, WW), the output is
(N, F, Ho, Wo) with ``Ho = 1 + (H + 2 pad - HH) / stride`` exactly (the
public API refuses geometries that do not divide); every array is
C-contiguous and already checked by :mod:`fastnn.validation`.

Convolution is im2col plus a BLAS GEMM (Numba's ``np.dot``; hand-written
matmul loops lost 3-6x) image by image, in cache, with the bias and ReLU
applied to each image's output block right after its GEMM and the ReLU
mask and db folded into the backward's copy of dout (see the section
below).  The column matrix is rebuilt in the backward rather than cached:
it is C*HH*WW times the input, and the course's caches hold x only.

Max pooling records, per output, the offset of the chosen input within its
window (uint8 when the window has at most 256 entries), so the backward
reads neither x nor the window again.  The chosen input is the *first*
maximum in row-major window order, NaN counting as larger than any number
(which is ``np.argmax``'s rule): on ties the whole gradient goes to that
one input, as in the course's naive code and PyTorch.
"""

import numpy as np
from numba import njit, prange

from fastnn import config, output_pool, threads

# ------------------------------------------------------------- im2col
# Each image is first copied into a zero-bordered buffer xp (C, Hp, Wp),
# Hp = H + 2 pad, Wp = W + 2 pad, so the column matrix needs no bounds
# tests.  Its columns are the output pixels on a grid of width ``gw``:
#
# * stride 1: gw = Wp, the padded width.  Row (c, kh, kw) of the column
#   matrix is then one contiguous run of xp, ``xp[c].flat[kh*Wp + kw:][:L]``
#   with L = (Ho - 1) * Wp + Wo, copied at memory speed; the Wp - Wo columns
#   of each grid row that fall outside the image are computed and dropped
#   (1.18x the flops at the course's 32x32 images with a 7x7 filter).
#   Copying Wo-long runs instead, one per output row, ran at 0.8 ns an
#   element and took a third of the forward.
# * stride > 1: gw = Wo and each entry is gathered, ``xp[c, oh*s + kh, ow*s + kw]``.


@njit(cache=True)
def pad_image(xn, pad, xp):
    """xp (C, Hp, Wp), zero-bordered, gets xn (C, H, W) inside the border (the border is zeroed once, by the caller)."""
    channels, h, w = xn.shape
    for c in range(channels):
        for i in range(h):
            src = xn[c, i]
            dst = xp[c, pad + i, pad:pad + w]
            for j in range(w):
                dst[j] = src[j]


@njit(cache=True)
def im2col_padded(xp, hh, ww, stride, ho, wo, gw, cols):
    """cols[(c, kh, kw), oh * gw + ow] = xp[c, oh*stride + kh, ow*stride + kw] (see the section comment)."""
    channels, hp, wp = xp.shape
    flat = xp.reshape(channels * hp * wp)
    length = cols.shape[1]
    for r in range(channels * hh * ww):
        c = r // (hh * ww)
        kh = (r // ww) % hh
        kw = r % ww
        row = cols[r]
        if stride == 1:
            src = flat[c * hp * wp + kh * wp + kw:]
            # Loops from 0 over slices: no negative-index checks, so it vectorises.
            for j in range(length):
                row[j] = src[j]
        else:
            for oh in range(ho):
                src = flat[c * hp * wp + (oh * stride + kh) * wp + kw:]
                dst = row[oh * gw:]
                for ow in range(wo):
                    dst[ow] = src[ow * stride]


@njit(cache=True)
def col2im_padded(dcols, hh, ww, stride, ho, wo, gw, dxp):
    """dxp (C, Hp, Wp) = the sum of every column entry that im2col_padded took from each input."""
    channels, hp, wp = dxp.shape
    flat = dxp.reshape(channels * hp * wp)
    flat[:] = dxp.dtype.type(0)
    length = dcols.shape[1]
    for r in range(channels * hh * ww):
        c = r // (hh * ww)
        kh = (r // ww) % hh
        kw = r % ww
        row = dcols[r]
        if stride == 1:
            dst = flat[c * hp * wp + kh * wp + kw:]
            for j in range(length):
                dst[j] += row[j]
        else:
            for oh in range(ho):
                dst = flat[c * hp * wp + (oh * stride + kh) * wp + kw:]
                src = row[oh * gw:]
                for ow in range(wo):
                    dst[ow * stride] += src[ow]


@njit(cache=True)
def pad_image_finite(xn, pad, xp):
    """pad_image, and whether every value of xn is finite: a sum of v - v, which only an inf or NaN makes NaN."""
    channels, h, w = xn.shape
    acc = xn.dtype.type(0)
    for c in range(channels):
        for i in range(h):
            src = xn[c, i]
            dst = xp[c, pad + i, pad:pad + w]
            for j in range(w):
                v = src[j]
                dst[j] = v
                acc += v - v
    return acc == 0


@njit(cache=True)
def all_finite(a):
    """True when no entry of the 2-D array a is inf or NaN."""
    acc = a.dtype.type(0)
    for i in range(a.shape[0]):
        row = a[i]
        for j in range(row.size):
            acc += row[j] - row[j]
    return acc == 0


@njit(cache=True)
def clear_off_image(cols, wo, gw):
    """Zero the grid columns ow >= wo of every row of the stride-1 column matrix (cols, L = (Ho - 1) * gw + Wo)."""
    length = cols.shape[1]
    zero = cols.dtype.type(0)
    for r in range(cols.shape[0]):
        row = cols[r]
        for start in range(wo, length, gw):
            for j in range(start, start + gw - wo):
                row[j] = zero


@njit(cache=True)
def _grid(xn, hh, ww, stride, pad, ho, wo):
    """Buffers of one image's column matrix: xp (bordered, zeroed), grid width, columns (C*HH*WW, L)."""
    channels, h, w = xn.shape
    xp = np.zeros((channels, h + 2 * pad, w + 2 * pad), xn.dtype)
    gw = w + 2 * pad if stride == 1 else wo
    length = (ho - 1) * gw + wo
    return xp, gw, np.empty((channels * hh * ww, length), xn.dtype)


# --------------------------------------------------- convolution, per image
# Each image's column matrix stays in cache and is multiplied right away,
# ``prod = w (F, C*HH*WW) @ cols``; the bias (and ReLU) go on as prod is
# copied out of the grid into the output.  Images are shared among the
# threads (a prange over spans of images), each GEMM single-threaded
# (fastnn.threads.serial_blas).  One large GEMM over a column matrix of the
# whole batch, the first version, spent more time writing and packing that
# matrix than multiplying: 18.8 ms for the ThreeLayerConvNet layer's float32
# forward, where the GEMM alone needs 6 ms.


@njit(cache=True)
def conv_forward_span(x, w2, b, hh, ww, stride, pad, ho, wo, relu, a, out, start, stop):
    """Images [start, stop): a[n] = conv(x[n]) + b, out[n] = max(a[n], 0) when relu."""
    f = w2.shape[0]
    xp, gw, cols = _grid(x[0], hh, ww, stride, pad, ho, wo)
    prod = np.empty((f, cols.shape[1]), x.dtype)
    zero = x.dtype.type(0)
    for n in range(start, stop):
        pad_image(x[n], pad, xp)
        im2col_padded(xp, hh, ww, stride, ho, wo, gw, cols)
        np.dot(w2, cols, prod)
        for k in range(f):
            bias = b[k]
            for oh in range(ho):
                src = prod[k, oh * gw:]
                dst = a[n, k, oh]
                for ow in range(wo):
                    dst[ow] = src[ow] + bias
                if relu:
                    post = out[n, k, oh]
                    for ow in range(wo):
                        v = dst[ow]
                        post[ow] = v if not v <= zero else zero


@njit(cache=True, parallel=True)
def _conv_forward_parallel(x, w2, b, hh, ww, stride, pad, ho, wo, relu, a, out, spans):
    num = x.shape[0]
    for s in prange(spans):
        conv_forward_span(x, w2, b, hh, ww, stride, pad, ho, wo, relu, a, out, s * num // spans, (s + 1) * num // spans)


@njit(cache=True)
def conv_backward_span(dout, a, relu, x, w2, hh, ww, stride, pad, dx, dw2, db, start, stop):
    """
    Images [start, stop): dx[n] by col2im of w2.T @ g, and the span's own
    sums dw2 += g @ cols.T and db += sum of g (float64), where g is dout[n]
    on the column grid (zero off the image), masked by a[n] >= 0 when relu.
    """
    f, k = w2.shape
    ho, wo = dout.shape[2], dout.shape[3]
    h, w = x.shape[2], x.shape[3]
    dxp, gw, cols = _grid(x[0], hh, ww, stride, pad, ho, wo)
    xp = dxp.copy()
    g = np.zeros((f, cols.shape[1]), x.dtype)  # entries off the image stay zero
    part = np.empty((f, k), x.dtype)
    zero = x.dtype.type(0)
    w_finite = all_finite(w2)
    for n in range(start, stop):
        for q in range(f):
            total = 0.0
            for oh in range(ho):
                src = dout[n, q, oh]
                dst = g[q, oh * gw:]
                if relu:
                    mask = a[n, q, oh]
                    for ow in range(wo):
                        v = src[ow] * (mask[ow] >= zero)
                        dst[ow] = v
                        total += v
                else:
                    for ow in range(wo):
                        v = src[ow]
                        dst[ow] = v
                        total += v
            db[q] += total
        # The stride-1 grid's columns off the image have g = 0, but 0 * inf
        # is NaN: where x (for dw) or w (for dx) holds an inf or NaN, those
        # columns are zeroed, so it reaches only the gradients the reference's
        # loops give it to.  Zeroing them always cost 5-10% of the backward.
        if gw != wo:
            finite = pad_image_finite(x[n], pad, xp)
        else:
            pad_image(x[n], pad, xp)
            finite = True
        im2col_padded(xp, hh, ww, stride, ho, wo, gw, cols)
        if gw != wo and not finite:
            clear_off_image(cols, wo, gw)
        np.dot(g, cols.T, part)
        dw2 += part
        np.dot(w2.T, g, cols)  # the columns are no longer needed: their gradient goes in their place
        if gw != wo and not w_finite:
            clear_off_image(cols, wo, gw)
        col2im_padded(cols, hh, ww, stride, ho, wo, gw, dxp)
        for c in range(x.shape[1]):
            for i in range(h):
                src = dxp[c, pad + i, pad:]
                dst = dx[n, c, i]
                for j in range(w):
                    dst[j] = src[j]


@njit(cache=True, parallel=True)
def _conv_backward_parallel(dout, a, relu, x, w2, hh, ww, stride, pad, dx, dw_parts, db_parts):
    num = x.shape[0]
    spans = dw_parts.shape[0]
    for s in prange(spans):
        conv_backward_span(dout, a, relu, x, w2, hh, ww, stride, pad, dx, dw_parts[s], db_parts[s],
                           s * num // spans, (s + 1) * num // spans)


def _spans(x, w):
    """How many spans of images to share among the threads: 1 (serial) for small work or a forked child."""
    work = x.shape[0] * w.size * x.shape[2] * x.shape[3]
    if x.shape[0] < 2 or work < config.PARALLEL_MIN_ELEMENTS or not threads.parallel_allowed():
        return 1
    return min(x.shape[0], threads.get_num_threads())


def conv_forward(x, w, b, stride, pad, ho, wo, relu):
    """
    ``a = conv(x, w) + b`` and, when ``relu``, ``out = max(a, 0)``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, HH, WW)
    b : ndarray, shape (F,)
    stride, pad, ho, wo : int
        The checked geometry.
    relu : bool

    Returns
    -------
    a : ndarray, shape (N, F, Ho, Wo)
    out : ndarray, shape (N, F, Ho, Wo)
        ``a`` itself unless ``relu``.
    """
    num, c_in, _, _ = x.shape
    f, _, hh, ww = w.shape
    a = output_pool.empty((num, f, ho, wo), x.dtype)
    out = output_pool.empty_like(a) if relu else a
    if a.size == 0:
        return a, out
    args = (x, w.reshape(f, c_in * hh * ww), b, hh, ww, stride, pad, ho, wo, relu, a, out)
    spans = _spans(x, w)
    if spans > 1:
        with threads.serial_blas():
            _conv_forward_parallel(*args, spans)
    else:
        conv_forward_span(*args, 0, num)
    return a, out


def conv_backward(dout, x, w, stride, pad, a=None):
    """
    Gradients of :func:`conv_forward`; with ``a`` (the pre-activation), of its ReLU output.

    Parameters
    ----------
    dout : ndarray, shape (N, F, Ho, Wo)
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, HH, WW)
    stride, pad : int
    a : ndarray, shape (N, F, Ho, Wo), optional

    Returns
    -------
    dx, dw, db : ndarrays of the shapes of x, w and (F,)
    """
    num, c_in, _, _ = x.shape
    f, _, hh, ww = w.shape
    if dout.size == 0:
        return np.zeros_like(x), np.zeros_like(w), np.zeros(f, x.dtype)
    dx = output_pool.empty_like(x)  # every image's block is written by its span
    spans = _spans(x, w)
    dw_parts = np.zeros((spans, f, c_in * hh * ww), x.dtype)
    db_parts = np.zeros((spans, f))
    relu = a is not None
    args = (dout, a if relu else dout, relu, x, w.reshape(f, c_in * hh * ww), hh, ww, stride, pad, dx)
    if spans > 1:
        with threads.serial_blas():
            _conv_backward_parallel(*args, dw_parts, db_parts)
    else:
        conv_backward_span(*args, dw_parts[0], db_parts[0], 0, num)
    return dx, dw_parts.sum(axis=0).reshape(w.shape), db_parts.sum(axis=0).astype(x.dtype)


# ---------------------------------------------------------- max pooling


@njit(cache=True)
def _first_max(window, count):
    """Offset of the first maximum of window[:count], NaN counting as the largest (np.argmax's rule)."""
    where = 0
    best = window[0]
    for i in range(1, count):
        v = window[i]
        if best != best:
            break
        if v > best or v != v:
            best = v
            where = i
    return where


# The window scans use a plain ``v > best``, which LLVM compiles without
# branches; the NaN rule, written into the scan as ``v > best or (v != v and
# ...)``, became branches that mispredict on random data and ran 6x slower
# (6.7 ms instead of 1.1 for the 2x2 pool of (50, 32, 32, 32) floats).  A
# window holding a NaN has a NaN sum, and only such windows are scanned again
# with the rule (by _first_max).


@njit(cache=True)
def max_pool_forward_span(x3, ph, pw, stride, out, arg, start, stop):
    """Planes [start, stop) of x3 (N*C, H, W): out = window maxima, arg = offset of the first maximum (NaN highest)."""
    ho, wo = out.shape[1], out.shape[2]
    window = np.empty(ph * pw, x3.dtype)
    for q in range(start, stop):
        xq = x3[q]
        oq = out[q]
        aq = arg[q]
        for oh in range(ho):
            for ow in range(wo):
                h0 = oh * stride
                w0 = ow * stride
                best = xq[h0, w0]
                where = 0
                total = best - best
                for kh in range(ph):
                    row = xq[h0 + kh, w0:]
                    for kw in range(pw):
                        v = row[kw]
                        total += v
                        if v > best:
                            best = v
                            where = kh * pw + kw
                if total != total:
                    for kh in range(ph):
                        for kw in range(pw):
                            window[kh * pw + kw] = xq[h0 + kh, w0 + kw]
                    where = _first_max(window, ph * pw)
                    best = window[where]
                oq[oh, ow] = best
                aq[oh, ow] = where


@njit(cache=True)
def max_pool_2x2_span(x3, out, arg, start, stop):
    """The 2x2, stride-2 case of max_pool_forward_span, unrolled (same rule)."""
    ho, wo = out.shape[1], out.shape[2]
    window = np.empty(4, x3.dtype)
    for q in range(start, stop):
        for oh in range(ho):
            r0 = x3[q, 2 * oh]
            r1 = x3[q, 2 * oh + 1]
            orow = out[q, oh]
            arow = arg[q, oh]
            for ow in range(wo):
                a, b, c, d = r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]
                best = a
                where = 0
                if b > best:
                    best = b
                    where = 1
                if c > best:
                    best = c
                    where = 2
                if d > best:
                    best = d
                    where = 3
                total = a + b + c + d
                if total != total:
                    window[0], window[1], window[2], window[3] = a, b, c, d
                    where = _first_max(window, 4)
                    best = window[where]
                orow[ow] = best
                arow[ow] = where


@njit(cache=True, parallel=True)
def _max_pool_forward_parallel(x3, ph, pw, stride, out, arg, chunk):
    planes = x3.shape[0]
    for c in prange((planes + chunk - 1) // chunk):
        lo, hi = c * chunk, min(planes, (c + 1) * chunk)
        if ph == 2 and pw == 2 and stride == 2:
            max_pool_2x2_span(x3, out, arg, lo, hi)
        else:
            max_pool_forward_span(x3, ph, pw, stride, out, arg, lo, hi)


@njit(cache=True)
def max_pool_backward_span(dout3, arg, ph, pw, stride, dx3, start, stop):
    """
    Planes [start, stop) of dx3: each dout entry added to the input its arg
    names.  Returns how many arg entries were outside the window (a forged
    cache): those are skipped, and the caller raises.
    """
    ho, wo = dout3.shape[1], dout3.shape[2]
    window = ph * pw
    zero = dx3.dtype.type(0)
    bad = 0
    for q in range(start, stop):
        dq = dout3[q]
        aq = arg[q]
        xq = dx3[q]
        xq[:, :] = zero
        for oh in range(ho):
            for ow in range(wo):
                where = aq[oh, ow]
                if where < 0 or where >= window:
                    bad += 1
                    continue
                xq[oh * stride + where // pw, ow * stride + where % pw] += dq[oh, ow]
    return bad


@njit(cache=True)
def max_pool_2x2_backward_span(dout3, arg, dx3, start, stop):
    """
    The 2x2, stride-2 case, where the windows tile the input: each pair of
    input rows is zeroed and gets its outputs' gradients, while in cache.
    Writing each input once with ``g if where == k else 0`` compiled to
    branches that mispredict on random offsets: 3.5 ms instead of 1.5 serial.
    """
    ho, wo = dout3.shape[1], dout3.shape[2]
    zero = dx3.dtype.type(0)
    bad = 0
    for q in range(start, stop):
        for oh in range(ho):
            grow = dout3[q, oh]
            arow = arg[q, oh]
            pair = dx3[q, 2 * oh:2 * oh + 2].reshape(4 * wo)
            for j in range(4 * wo):
                pair[j] = zero
            for ow in range(wo):
                where = np.int64(arow[ow])
                if where < 0 or where > 3:
                    bad += 1
                    continue
                pair[(where >> 1) * 2 * wo + 2 * ow + (where & 1)] = grow[ow]
    return bad


@njit(cache=True, parallel=True)
def _max_pool_backward_parallel(dout3, arg, ph, pw, stride, dx3, chunk):
    planes = dx3.shape[0]
    chunks = (planes + chunk - 1) // chunk
    bad = np.zeros(chunks, np.int64)
    for c in prange(chunks):
        lo, hi = c * chunk, min(planes, (c + 1) * chunk)
        if ph == 2 and pw == 2 and stride == 2 and dx3.shape[1] == 2 * dout3.shape[1] and dx3.shape[2] == 2 * dout3.shape[2]:
            bad[c] = max_pool_2x2_backward_span(dout3, arg, dx3, lo, hi)
        else:
            bad[c] = max_pool_backward_span(dout3, arg, ph, pw, stride, dx3, lo, hi)
    return bad.sum()


def _parallel(elements):
    return elements >= config.PARALLEL_MIN_ELEMENTS and threads.parallel_allowed()


def _pool_chunk(plane_elements):
    return max(1, config.CHUNK_ELEMENTS // max(1, plane_elements))


def arg_dtype(ph, pw):
    """The dtype of the window offsets: uint8 while a window has at most 256 entries."""
    return np.uint8 if ph * pw <= 256 else np.int32


def max_pool_forward(x, ph, pw, stride, ho, wo):
    """
    Max pooling of x (N, C, H, W) over ph x pw windows at ``stride``.

    Returns
    -------
    out : ndarray, shape (N, C, Ho, Wo)
    arg : ndarray of :func:`arg_dtype`, shape (N, C, Ho, Wo)
        Offset ``kh * pw + kw`` of the chosen input within each window.
    """
    num, c, h, w = x.shape
    out = output_pool.empty((num, c, ho, wo), x.dtype)
    arg = output_pool.empty((num, c, ho, wo), arg_dtype(ph, pw))
    x3 = x.reshape(num * c, h, w)
    out3, arg3 = out.reshape(num * c, ho, wo), arg.reshape(num * c, ho, wo)
    if _parallel(x.size) and num * c > 1:
        _max_pool_forward_parallel(x3, ph, pw, stride, out3, arg3, _pool_chunk(h * w))
    elif ph == 2 and pw == 2 and stride == 2:
        max_pool_2x2_span(x3, out3, arg3, 0, num * c)
    else:
        max_pool_forward_span(x3, ph, pw, stride, out3, arg3, 0, num * c)
    return out, arg


def max_pool_backward(dout, arg, ph, pw, stride, x_shape):
    """
    Gradient of :func:`max_pool_forward`: dx of ``x_shape``, and the number
    of ``arg`` entries that named no input of their window (0 unless forged).
    """
    num, c, h, w = x_shape
    ho, wo = dout.shape[2], dout.shape[3]
    dx = output_pool.empty(x_shape, dout.dtype)  # every entry is written
    dx3 = dx.reshape(num * c, h, w)
    args = (dout.reshape(num * c, ho, wo), arg.reshape(num * c, ho, wo), ph, pw, stride, dx3)
    if _parallel(dx.size) and num * c > 1:
        bad = _max_pool_backward_parallel(*args, _pool_chunk(h * w))
    elif ph == 2 and pw == 2 and stride == 2 and (h, w) == (2 * ho, 2 * wo):
        # The unrolled path writes the rows and columns its windows cover; where
        # a floored output leaves an edge uncovered, the general path zeroes it.
        bad = max_pool_2x2_backward_span(args[0], args[1], dx3, 0, num * c)
    else:
        bad = max_pool_backward_span(*args, 0, num * c)
    return dx, int(bad)
