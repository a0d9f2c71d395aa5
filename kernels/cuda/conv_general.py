"""Convolution with PyTorch's options on the GPU: the twin of :mod:`fastnn.kernels.cpu.conv_general`.

Same conventions: x (N, C, H, W), w (F, C / G, HH, WW), output (N, F, Ho, Wo),
output (i, j) reading x[n, c, i*sh - top + a*dh, j*sw - left + b*dw] (zero
outside the image), group g pairing channels [g C/G, (g+1) C/G) with
filters [g F/G, (g+1) F/G).  The course's geometry keeps the implicit GEMM
of :mod:`fastnn.kernels.cuda.conv`; this general path is direct: a thread
per output, per input (dx, gathering from the outputs that read it, so no
atomics), per weight (dw) and per filter (db), each summing in float64 in
a fixed order.  It is for the options' correctness, not for speed.
"""

from numba import cuda, float64

from fastnn.kernels.cuda.launch import BLOCK, blocks, empty, kernel, per_dtype, stream


@per_dtype
def _forward_kernel(nb):
    @kernel
    def conv2d_forward(x, w, b, sh, sw, top, left, dh, dw, groups, out):
        height, width = x.shape[2], x.shape[3]
        filters, cg, kh, kw = w.shape[0], w.shape[1], w.shape[2], w.shape[3]
        ho, wo = out.shape[2], out.shape[3]
        fg = filters // groups
        for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            j = t % wo
            i = (t // wo) % ho
            f = (t // (wo * ho)) % filters
            n = t // (wo * ho * filters)
            c0 = (f // fg) * cg
            total = float64(b[f])
            for c in range(cg):
                for a in range(kh):
                    h = i * sh - top + a * dh
                    if h < 0 or h >= height:
                        continue
                    for q in range(kw):
                        col = j * sw - left + q * dw
                        if 0 <= col < width:
                            total += float64(x[n, c0 + c, h, col]) * float64(w[f, c, a, q])
            out[n, f, i, j] = nb(total)

    return conv2d_forward


@per_dtype
def _input_grad_kernel(nb):
    @kernel
    def conv2d_input_grad(dout, w, sh, sw, top, left, dh, dw, groups, dx):
        channels, height, width = dx.shape[1], dx.shape[2], dx.shape[3]
        filters, cg, kh, kw = w.shape[0], w.shape[1], w.shape[2], w.shape[3]
        ho, wo = dout.shape[2], dout.shape[3]
        fg = filters // groups
        for t in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
            col = t % width
            h = (t // width) % height
            c = (t // (width * height)) % channels
            n = t // (width * height * channels)
            g = c // cg
            total = 0.0
            for k in range(fg):
                f = g * fg + k
                for a in range(kh):
                    rows = h + top - a * dh
                    if rows < 0 or rows % sh != 0 or rows // sh >= ho:
                        continue
                    i = rows // sh
                    for q in range(kw):
                        cols = col + left - q * dw
                        if cols < 0 or cols % sw != 0 or cols // sw >= wo:
                            continue
                        total += float64(dout[n, f, i, cols // sw]) * float64(w[f, c - g * cg, a, q])
            dx[n, c, h, col] = nb(total)

    return conv2d_input_grad


@per_dtype
def _weight_grad_kernel(nb):
    @kernel
    def conv2d_weight_grad(dout, x, sh, sw, top, left, dh, dw, groups, dwt):
        height, width = x.shape[2], x.shape[3]
        filters, cg, kh, kw = dwt.shape[0], dwt.shape[1], dwt.shape[2], dwt.shape[3]
        num, ho, wo = dout.shape[0], dout.shape[2], dout.shape[3]
        fg = filters // groups
        for t in range(cuda.grid(1), dwt.size, cuda.gridsize(1)):
            q = t % kw
            a = (t // kw) % kh
            c = (t // (kw * kh)) % cg
            f = t // (kw * kh * cg)
            channel = (f // fg) * cg + c
            total = 0.0
            for n in range(num):
                for i in range(ho):
                    h = i * sh - top + a * dh
                    if h < 0 or h >= height:
                        continue
                    for j in range(wo):
                        col = j * sw - left + q * dw
                        if 0 <= col < width:
                            total += float64(dout[n, f, i, j]) * float64(x[n, channel, h, col])
            dwt[f, c, a, q] = nb(total)

    return conv2d_weight_grad


@per_dtype
def _bias_grad_kernel(nb):
    @kernel
    def conv2d_bias_grad(dout, db):
        num, filters, ho, wo = dout.shape[0], dout.shape[1], dout.shape[2], dout.shape[3]
        for f in range(cuda.grid(1), filters, cuda.gridsize(1)):
            total = 0.0
            for n in range(num):
                for i in range(ho):
                    for j in range(wo):
                        total += float64(dout[n, f, i, j])
            db[f] = nb(total)

    return conv2d_bias_grad


def conv2d_forward(x, w, b, sh, sw, top, left, dh, dw, groups, ho, wo):
    """out (N, F, Ho, Wo) of x's dtype, a device array."""
    out = empty((x.shape[0], w.shape[0], ho, wo), x.dtype)
    if out.size:
        _forward_kernel(x.dtype)[blocks(out.size), BLOCK, stream()](x, w, b, sh, sw, top, left, dh, dw, groups, out)
    return out


def conv2d_backward(dout, x, w, sh, sw, top, left, dh, dw, groups):
    """(dx, dw, db) of the inputs' shapes and dtype, device arrays."""
    dx = empty(x.shape, x.dtype)
    dwt = empty(w.shape, x.dtype)
    db = empty(w.shape[0], x.dtype)
    geometry = (sh, sw, top, left, dh, dw, groups)
    if dx.size:
        _input_grad_kernel(x.dtype)[blocks(dx.size), BLOCK, stream()](dout, w, *geometry, dx)
    if dwt.size:
        _weight_grad_kernel(x.dtype)[blocks(dwt.size), BLOCK, stream()](dout, x, *geometry, dwt)
    if db.size:
        _bias_grad_kernel(x.dtype)[blocks(db.size), BLOCK, stream()](dout, db)
    return dx, dwt, db
