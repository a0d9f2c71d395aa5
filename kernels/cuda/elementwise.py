"""Elementwise kernels, grid-stride over flat arrays: ReLU, per-channel scales and shifts (layer and group normalisation), the SGD update, y += alpha * x."""

from numba import cuda

from fastnn.kernels.cuda.launch import BLOCK, blocks, empty_like, kernel, per_dtype, stream


@per_dtype
def _relu_kernels(nb):
    @kernel
    def forward(x, out):
        zero = nb(0)
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = x[i]
            out[i] = v if not v <= zero else zero

    @kernel
    def backward(dout, x, dx):
        zero = nb(0)
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            dx[i] = dout[i] if x[i] >= zero else zero * dout[i]

    return forward, backward


def relu_forward(x, out):
    """``out = max(x, 0)`` elementwise; x and out flat, same size."""
    _relu_kernels(x.dtype)[0][blocks(x.size), BLOCK, stream()](x, out)


def relu_backward(dout, x, dx):
    """``dx = dout * (x >= 0)`` elementwise; all flat, same size."""
    _relu_kernels(x.dtype)[1][blocks(x.size), BLOCK, stream()](dout, x, dx)


@per_dtype
def _channel_kernels(nb):
    # Flat arrays of layout (rows, channels, plane); gamma and beta hold one
    # value per channel (a feature of an (N, D) array is a channel of plane 1).
    @kernel
    def scale_shift(a, gamma, beta, out, channels, plane):
        for k in range(cuda.grid(1), a.size, cuda.gridsize(1)):
            c = (k // plane) % channels
            out[k] = gamma[c] * a[k] + beta[c]

    @kernel
    def scale(a, gamma, out, channels, plane):
        for k in range(cuda.grid(1), a.size, cuda.gridsize(1)):
            out[k] = a[k] * gamma[(k // plane) % channels]

    @kernel
    def grad_products(dout, gamma, xhat, g, p, channels, plane):
        for k in range(cuda.grid(1), dout.size, cuda.gridsize(1)):
            v = dout[k]
            g[k] = v * gamma[(k // plane) % channels]
            p[k] = v * xhat[k]

    return scale_shift, scale, grad_products


def _launch(kernel, first, *args):
    if first.size:
        flat = [a.reshape(a.size) if hasattr(a, "reshape") and a.ndim > 1 else a for a in args]
        kernel[blocks(first.size), BLOCK, stream()](*flat)


def scale_shift_channels(a, gamma, beta, channels, plane):
    """``gamma * a + beta``, gamma and beta per channel of a's (rows, channels, plane) layout: a new device array."""
    out = empty_like(a)
    _launch(_channel_kernels(a.dtype)[0], a, a, gamma, beta, out, channels, plane)
    return out


def scale_channels(a, gamma, channels, plane):
    """``a * gamma``, gamma per channel of a's (rows, channels, plane) layout: a new device array."""
    out = empty_like(a)
    _launch(_channel_kernels(a.dtype)[1], a, a, gamma, out, channels, plane)
    return out


def grad_products(dout, gamma, xhat, channels, plane):
    """``dout * gamma`` (gamma per channel) and ``dout * xhat``: two new device arrays."""
    g, p = empty_like(dout), empty_like(dout)
    _launch(_channel_kernels(dout.dtype)[2], dout, dout, gamma, xhat, g, p, channels, plane)
    return g, p


@per_dtype
def _sgd_kernel(nb):
    @kernel
    def sgd(w, dw, lr):
        for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
            w[i] -= lr * dw[i]

    return sgd


def sgd_update(w, dw, lr):
    """``w -= lr * dw`` in place, for device arrays of one shape."""
    _sgd_kernel(w.dtype)[blocks(w.size), BLOCK, stream()](w.reshape(w.size), dw.reshape(dw.size), w.dtype.type(lr))


@per_dtype
def _add_scaled_kernel(nb):
    @kernel
    def add_scaled(y, x, alpha):
        for i in range(cuda.grid(1), y.size, cuda.gridsize(1)):
            y[i] += alpha * x[i]

    return add_scaled


def add_scaled(y, x, alpha):
    """``y += alpha * x`` in place, for flat device arrays of one size and dtype."""
    _add_scaled_kernel(y.dtype)[blocks(y.size), BLOCK, stream()](y, x, y.dtype.type(alpha))
