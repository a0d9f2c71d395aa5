"""Max pooling with PyTorch's options: rectangular windows and strides, padding, dilation and ceil mode.

Conventions: x is (P, H, W), the N*C planes of an (N, C, H, W) input,
C-contiguous and checked by :func:`fastnn.validation.check_pool2d_params`.
Output (i, j) covers rows ``i*sh - ph + a*dh`` (a < kh) and columns
``j*sw - pw + b*dw`` (b < kw); positions outside the image are padding and
never chosen (torch's -inf padding).  ``index`` holds, per output, the flat
``h * W + w`` of the chosen input within its plane (torch's
``return_indices``), or -1 for a window that covers no input.

The rule is :mod:`fastnn.kernels.cpu.conv`'s: the first maximum in
row-major window order, NaN counting as the largest, so the first NaN of a
window wins (torch's CPU kernel takes the last).  The course's geometry
(square window, no padding or dilation, floor) keeps conv.py's kernels,
which compute the same values and indices with branch-free scans; this
file is the general path.

The backward adds each dout entry to the input its index names, plane by
plane in output order, so the sums do not depend on the thread count.
"""

import numpy as np
from numba import njit, prange

from fastnn import config, output_pool, threads


@njit(cache=True)
def _forward_planes(x, kh, kw, sh, sw, ph, pw, dh, dw, out, index, start, stop):
    height, width = x.shape[1], x.shape[2]
    ho, wo = out.shape[1], out.shape[2]
    for q in range(start, stop):
        for i in range(ho):
            for j in range(wo):
                best = x.dtype.type(-np.inf)
                where = -1
                for a in range(kh):
                    h = i * sh - ph + a * dh
                    if h < 0 or h >= height:
                        continue
                    for b in range(kw):
                        w = j * sw - pw + b * dw
                        if w < 0 or w >= width:
                            continue
                        v = x[q, h, w]
                        if where < 0 or (best == best and (v > best or v != v)):
                            best = v
                            where = h * width + w
                out[q, i, j] = best
                index[q, i, j] = where


@njit(cache=True, parallel=True)
def _forward_parallel(x, kh, kw, sh, sw, ph, pw, dh, dw, out, index, chunk):
    planes = x.shape[0]
    for c in prange((planes + chunk - 1) // chunk):
        _forward_planes(x, kh, kw, sh, sw, ph, pw, dh, dw, out, index, c * chunk, min(planes, (c + 1) * chunk))


@njit(cache=True)
def outside_window(where, i, j, height, width, kh, kw, sh, sw, ph, pw, dh, dw):
    """True where the flat index ``where`` (-1: none) is no input of output (i, j)'s window."""
    if where == -1:
        return False
    if where < 0 or where >= height * width:
        return True
    a = where // width + ph - i * sh
    b = where % width + pw - j * sw
    return a < 0 or b < 0 or a % dh != 0 or b % dw != 0 or a // dh >= kh or b // dw >= kw


@njit(cache=True)
def _backward_planes(dout, index, kh, kw, sh, sw, ph, pw, dh, dw, dx, start, stop):
    """dx[q].flat[index] += dout in output order, planes [start, stop); returns how many indices name no input of their window (a forged cache)."""
    height, width = dx.shape[1], dx.shape[2]
    bad = 0
    for q in range(start, stop):
        dx[q, :, :] = 0
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                where = index[q, i, j]
                if outside_window(where, i, j, height, width, kh, kw, sh, sw, ph, pw, dh, dw):
                    bad += 1
                elif where >= 0:
                    dx[q, where // width, where % width] += dout[q, i, j]
    return bad


@njit(cache=True, parallel=True)
def _backward_parallel(dout, index, kh, kw, sh, sw, ph, pw, dh, dw, dx, chunk):
    planes = dx.shape[0]
    chunks = (planes + chunk - 1) // chunk
    bad = np.zeros(chunks, np.int64)
    for c in prange(chunks):
        bad[c] = _backward_planes(dout, index, kh, kw, sh, sw, ph, pw, dh, dw, dx, c * chunk, min(planes, (c + 1) * chunk))
    return bad.sum()


def _chunk(plane_elements):
    return max(1, config.CHUNK_ELEMENTS // max(1, plane_elements))


def _parallel(elements, planes):
    return elements >= config.PARALLEL_MIN_ELEMENTS and planes > 1 and threads.parallel_allowed()


def max_pool2d_forward(x, kernel, stride, padding, dilation, out_size):
    """
    Max pooling of x (P, H, W), each argument a pair (rows, columns).

    Returns
    -------
    out : ndarray, shape (P, Ho, Wo), x's dtype
    index : int64 ndarray, shape (P, Ho, Wo): flat h * W + w of the chosen input, -1 where none
    """
    shape = (x.shape[0], *out_size)
    out = output_pool.empty(shape, x.dtype)
    index = output_pool.empty(shape, np.int64)
    args = (x, *kernel, *stride, *padding, *dilation, out, index)
    if _parallel(out.size * kernel[0] * kernel[1], x.shape[0]):
        _forward_parallel(*args, _chunk(x.shape[1] * x.shape[2]))
    else:
        _forward_planes(*args, 0, x.shape[0])
    return out, index


def max_pool2d_backward(dout, index, x_shape, kernel, stride, padding, dilation):
    """dx of x_shape (P, H, W) from dout and index (P, Ho, Wo), and the number of indices that name no input of their window."""
    dx = output_pool.empty(x_shape, dout.dtype)
    args = (dout, index, *kernel, *stride, *padding, *dilation, dx)
    if _parallel(dx.size, x_shape[0]):
        bad = _backward_parallel(*args, _chunk(x_shape[1] * x_shape[2]))
    else:
        bad = _backward_planes(*args, 0, x_shape[0])
    return dx, int(bad)
