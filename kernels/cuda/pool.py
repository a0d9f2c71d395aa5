"""Max pooling with PyTorch's options on the GPU: the twin of :mod:`fastnn.kernels.cpu.pool`.

Same conventions: x is (P, H, W), the planes of (N, C, H, W); output (i, j)
covers rows ``i*sh - ph + a*dh`` and columns ``j*sw - pw + b*dw`` inside the
image; ``index`` is the flat ``h * W + w`` of the chosen input, -1 where a
window covers none; the first maximum in row-major window order wins, NaN
counting as the largest.

The forward is a thread per output.  The backward is a thread per input
that gathers from the outputs whose windows can hold it, in output order
(no atomics), so its sums are the CPU's, bit for bit.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cuda.launch import BLOCK, blocks, empty, kernel, per_dtype, stream, to_host, zeros


@per_dtype
def _forward_kernel(nb):
    @kernel
    def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, out, index):
        height, width = x.shape[1], x.shape[2]
        ho, wo = out.shape[1], out.shape[2]
        for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            j = t % wo
            i = (t // wo) % ho
            q = t // (wo * ho)
            best = nb(-np.inf)
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

    return max_pool2d_forward


@per_dtype
def _backward_kernel(nb):
    @kernel
    def max_pool2d_backward(dout, index, kh, kw, sh, sw, ph, pw, dh, dw, dx):
        """A thread per input: the sum, in output order, of the dout entries whose index names it."""
        height, width = dx.shape[1], dx.shape[2]
        ho, wo = dout.shape[1], dout.shape[2]
        for t in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
            w = t % width
            h = (t // width) % height
            q = t // (width * height)
            total = nb(0)
            for a in range(kh - 1, -1, -1):  # descending taps: ascending output rows
                rows = h + ph - a * dh
                if rows < 0 or rows % sh != 0 or rows // sh >= ho:
                    continue
                i = rows // sh
                for b in range(kw - 1, -1, -1):
                    cols = w + pw - b * dw
                    if cols < 0 or cols % sw != 0 or cols // sw >= wo:
                        continue
                    j = cols // sw
                    if index[q, i, j] == h * width + w:
                        total += dout[q, i, j]
            dx[q, h, w] = total

    return max_pool2d_backward


@cuda.jit(device=True)
def outside_window(where, i, j, height, width, kh, kw, sh, sw, ph, pw, dh, dw):
    """True where the flat index ``where`` (-1: none) is no input of output (i, j)'s window."""
    if where == -1:
        return False
    if where < 0 or where >= height * width:
        return True
    a = where // width + ph - i * sh
    b = where % width + pw - j * sw
    return a < 0 or b < 0 or a % dh != 0 or b % dw != 0 or a // dh >= kh or b // dw >= kw


@kernel
def _count_outside(index, height, width, kh, kw, sh, sw, ph, pw, dh, dw, count):
    ho, wo = index.shape[1], index.shape[2]
    for t in range(cuda.grid(1), index.size, cuda.gridsize(1)):
        j = t % wo
        i = (t // wo) % ho
        q = t // (wo * ho)
        if outside_window(index[q, i, j], i, j, height, width, kh, kw, sh, sw, ph, pw, dh, dw):
            cuda.atomic.add(count, 0, 1)


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_size):
    """out (P, Ho, Wo) in x's dtype and the int64 index of the chosen inputs; arguments as the CPU twin's."""
    out = empty((x.shape[0], *out_size), x.dtype)
    index = empty(out.shape, np.int64)
    if out.size:
        _forward_kernel(x.dtype)[blocks(out.size), BLOCK, stream()](x, *kernel_size, *stride, *padding, *dilation, out, index)
    return out, index


def max_pool2d_backward(dout, index, x_shape, kernel_size, stride, padding, dilation):
    """dx of x_shape (P, H, W), and how many indices name no input of their window (0 unless forged)."""
    dx = empty(x_shape, dout.dtype)
    count = zeros(1, np.int64)
    if index.size:
        _count_outside[blocks(index.size), BLOCK, stream()](index, *x_shape[1:], *kernel_size, *stride, *padding, *dilation, count)
    if dx.size:
        _backward_kernel(dout.dtype)[blocks(dx.size), BLOCK, stream()](dout, index, *kernel_size, *stride, *padding, *dilation, dx)
    return dx, int(to_host(count)[0])
