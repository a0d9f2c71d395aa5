"""Convolution with PyTorch's options: unequal strides, padding per side, dilation and groups.

Conventions: x is (N, C, H, W), w (F, C / G, HH, WW), the output
(N, F, Ho, Wo); output (i, j) of image n reads x[n, c, i*sh - top + a*dh,
j*sw - left + b*dw] for the filter tap (a, b), zero outside the image.
Group g convolves channels [g C/G, (g+1) C/G) with filters
[g F/G, (g+1) F/G).  Arrays are C-contiguous and checked by
:func:`fastnn.validation.check_conv2d_params`.

The course's geometry (one stride, the same padding on every side, no
dilation, one group) keeps :mod:`fastnn.kernels.cpu.conv`, whose column
matrix tricks assume it; this is the general path: per image and group, a
gathered column matrix (K = C/G * HH * WW rows, Ho * Wo columns) and one
BLAS GEMM (Numba's ``np.dot``), as there.  Entries outside the image are
zeros in the column matrix and are never scattered back, so a NaN or inf in
w reaches only the dx entries the reference's do.

Images run one after another, and dw and db add their per-image parts in
image order; within one GEMM the order of the sums is BLAS's.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def _gather(x, n, c0, channels, kh, kw, sh, sw, top, left, dh, dw, ho, wo, cols):
    """cols[(c, a, b), (i, j)] = x[n, c0 + c, i*sh - top + a*dh, j*sw - left + b*dw], zero outside the image."""
    height, width = x.shape[2], x.shape[3]
    for c in range(channels):
        for a in range(kh):
            for b in range(kw):
                r = (c * kh + a) * kw + b
                for i in range(ho):
                    h = i * sh - top + a * dh
                    inside = 0 <= h < height
                    for j in range(wo):
                        q = j * sw - left + b * dw
                        cols[r, i * wo + j] = x[n, c0 + c, h, q] if inside and 0 <= q < width else 0


@njit(cache=True)
def _scatter(dcols, dx, n, c0, channels, kh, kw, sh, sw, top, left, dh, dw, ho, wo):
    """dx[n, c0 + c] += the column matrix's gradient, entry by entry; entries outside the image are dropped."""
    height, width = dx.shape[2], dx.shape[3]
    for c in range(channels):
        for a in range(kh):
            for b in range(kw):
                r = (c * kh + a) * kw + b
                for i in range(ho):
                    h = i * sh - top + a * dh
                    if h < 0 or h >= height:
                        continue
                    for j in range(wo):
                        q = j * sw - left + b * dw
                        if 0 <= q < width:
                            dx[n, c0 + c, h, q] += dcols[r, i * wo + j]


@njit(cache=True)
def conv2d_forward(x, w, b, sh, sw, top, left, dh, dw, groups, ho, wo):
    """out (N, F, Ho, Wo) of x's dtype."""
    num, c, _, _ = x.shape
    f, cg, kh, kw = w.shape
    fg = f // groups
    out = np.empty((num, f, ho, wo), x.dtype)
    cols = np.empty((cg * kh * kw, ho * wo), x.dtype)
    w2 = w.reshape(f, cg * kh * kw)
    for n in range(num):
        for g in range(groups):
            _gather(x, n, g * cg, cg, kh, kw, sh, sw, top, left, dh, dw, ho, wo, cols)
            block = np.dot(w2[g * fg:(g + 1) * fg], cols)
            for k in range(fg):
                out[n, g * fg + k] = (block[k] + b[g * fg + k]).reshape(ho, wo)
    return out


@njit(cache=True)
def conv2d_backward(dout, x, w, sh, sw, top, left, dh, dw, groups):
    """(dx, dw, db) of the inputs' shapes and dtype; dw and db summed over the images in order."""
    num, c, _, _ = x.shape
    f, cg, kh, kw = w.shape
    ho, wo = dout.shape[2], dout.shape[3]
    fg = f // groups
    k = cg * kh * kw
    dx = np.zeros(x.shape, x.dtype)
    dw2 = np.zeros((f, k), x.dtype)
    db = np.zeros(f, x.dtype)
    cols = np.empty((k, ho * wo), x.dtype)
    w2 = w.reshape(f, k)
    for n in range(num):
        d2 = np.ascontiguousarray(dout[n]).reshape(f, ho * wo)
        for g in range(groups):
            dg = np.ascontiguousarray(d2[g * fg:(g + 1) * fg])
            _gather(x, n, g * cg, cg, kh, kw, sh, sw, top, left, dh, dw, ho, wo, cols)
            dw2[g * fg:(g + 1) * fg] += np.dot(dg, cols.T)
            dcols = np.dot(np.ascontiguousarray(w2[g * fg:(g + 1) * fg].T), dg)
            _scatter(dcols, dx, n, g * cg, cg, kh, kw, sh, sw, top, left, dh, dw, ho, wo)
        for q in range(f):
            total = db.dtype.type(0)
            for p in range(ho * wo):
                total += d2[q, p]
            db[q] += total
    return dx, dw2.reshape(w.shape), db
