"""The layer catalog: one entry per layer, read by every test suite and tool.

An entry says how to call the layer (its forward and backward names, the
same in :mod:`fastnn.layers`, :mod:`fastnn.reference` and, where
``backends`` has it, :mod:`fastnn.cuda`), how to make inputs for a size,
which sizes the agreement tests and the benchmarks use, the names of the
gradients its backward returns, how far gradient-check inputs must keep
from the layer's kinks, and the tolerances.  From it follow:

* the agreement tests on every backend (``tests/helpers.check_layer``);
* the float64 numerical gradient checks (:mod:`fastnn.gradcheck`, and so
  ``fastnn gradcheck``);
* the ``fastnn bench`` rows and the asv benchmarks (:mod:`fastnn.bench.cpu`).

Adding a layer: its kernels, its functions in ``layers.py`` (and
``cuda/__init__.py``), its reference, and one entry here.

Sizes are whatever the entry's ``make_inputs(rng, size, dtype)`` takes:
``(x_shape, M)`` for the affine layers, a shape for ReLU and dropout,
``(N, C)`` for the losses (``(N, C, scale)`` for scores of another
scale than 3: the gradient checks use 1, where no probability is so close
to 0 or 1 that centred differences lose their digits), ``(N, D)`` for the normalisations.  It returns
``(arrays, params)``: the differentiated inputs, then the arguments that
are not (a param dict, a norm name), which callers copy for every call.
"""

from dataclasses import dataclass, field

import numpy as np

from fastnn.reference import pool2d_windows
from fastnn.validation import check_conv2d_params, check_pool2d_params

#: Agreement tolerance per dtype: the largest absolute difference over the
#: largest magnitude of the reference result (see tests/helpers.py).
#: Measured worst cases were ~6e-7 in float32 (softmax at C=1000, db at
#: N=512) and ~2e-15 in float64; the bounds leave a factor of ten or more.
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

#: Step of the centred differences for the piecewise-linear layers.  They
#: are linear between kinks, so the difference has no truncation error and
#: only rounding error, which shrinks as h grows: far larger than 1e-5 yet
#: far smaller than KINK_MARGIN.
LINEAR_STEP = 1e-3

#: Smallest distance of any input, pre-activation or margin from a kink in
#: a gradient check; a step of LINEAR_STEP moves none of them more than ~0.005.
KINK_MARGIN = 0.05


@dataclass(frozen=True)
class Layer:
    """One layer (or one mode of a layer) as every test and tool sees it.

    - name: Label in test ids, gradient-check lines and bench rows
    - forward: Function name; for a loss, the loss itself ``(x, y) -> (loss, dx)``
    - backward: Function name, or None for a loss
    - make_inputs: ``(rng, size, dtype) -> (arrays, params)``
    - grads: Names of the gradients the backward returns, one per array input
    - sizes: Backend name -> sizes of the agreement tests (the simulator's are small)
    - gradcheck_size: Size of the float64 gradient check
    - gradcheck_tolerance: Largest relative error of the gradient check
    - step: Centred-difference step
    - kinks: ``(layers, arrays, params) -> array`` of values whose sign flips
      the layer's derivative; gradient-check inputs keep KINK_MARGIN from 0
    - zero_grads: Gradients that are exactly 0 in exact arithmetic (a bias
      that batchnorm cancels), compared on an absolute scale
    - family: Group of ``fastnn bench --only`` and asv
    - bench_sizes: Backend name -> sizes of its bench rows (and, on the CPU,
      asv benchmarks); an entry without them is not benchmarked
    - cost: ``(arrays, params, backward) -> (flops, bytes)`` of one call, for "% peak"
    - torch: ``(torch, tensors, backward, params) -> callable`` doing the same
      work in PyTorch (None where it has no counterpart); tensors are the
      arrays, the label arrays, then dout; params are make_inputs' params
    - bench_round_trip: Also bench forward then backward as one row (the
      layers whose targets are stated for the pair)
    - bench_out: Also bench ``forward(..., out=buffer)``; torch then gets ``out=``
    - note: Shown by ``fastnn bench`` beside the rows
    """

    name: str
    forward: str
    backward: object
    make_inputs: object
    grads: tuple
    sizes: dict
    gradcheck_size: object
    gradcheck_tolerance: float
    step: float = 1e-5
    kinks: object = None
    zero_grads: tuple = ()
    family: str = ""
    bench_sizes: dict = field(default_factory=dict)
    cost: object = None
    torch: object = None
    bench_out: bool = False
    bench_round_trip: bool = False
    note: str = ""
    tolerance: dict = field(default_factory=lambda: dict(TOLERANCE))

    @property
    def is_loss(self):
        return self.backward is None

    @property
    def backends(self):
        return tuple(self.sizes)


def _normal(rng, shape, dtype, scale=1.0, shift=0.0):
    return (scale * rng.standard_normal(shape) + shift).astype(dtype)


# ----------------------------------------------------------- input makers


def _affine(rng, size, dtype):
    x_shape, m = size
    d = int(np.prod(x_shape[1:]))
    return (_normal(rng, x_shape, dtype), _normal(rng, (d, m), dtype), _normal(rng, m, dtype)), ()


def _array(rng, shape, dtype):
    return (_normal(rng, shape, dtype),), ()


def _scores(rng, size, dtype):
    n, c, scale = (*size, 3.0) if len(size) == 2 else size
    return (_normal(rng, (n, c), dtype, scale=scale),), (rng.integers(c, size=n),)


def _dropout(rng, shape, dtype):
    return (_normal(rng, shape, dtype),), ({"p": 0.6, "mode": "train", "seed": 42},)


def _norm(param):
    def make(rng, size, dtype):
        n, d = size
        arrays = (_normal(rng, (n, d), dtype, 2.0, 1.0), _normal(rng, d, dtype, shift=1.0), _normal(rng, d, dtype))
        if param.get("mode") == "test":
            running = {"running_mean": _normal(rng, d, dtype), "running_var": (rng.random(d) + 0.5).astype(dtype)}
            return arrays, ({**param, **running},)
        return arrays, (dict(param),)

    return make


def _norm_relu(norm):
    def make(rng, size, dtype):
        (x, w, b), _ = _affine(rng, size, dtype)
        m = size[1]
        return (x, w, b, _normal(rng, m, dtype, shift=1.0), _normal(rng, m, dtype)), ({"mode": "train"}, norm)

    return make


def _conv(rng, size, dtype):
    """size (x_shape, w_shape, stride, pad[, (pool_height, pool_width, pool_stride)])."""
    x_shape, w_shape, stride, pad, *pool = size
    arrays = (_normal(rng, x_shape, dtype), _normal(rng, w_shape, dtype), _normal(rng, w_shape[0], dtype))
    params = ({"stride": stride, "pad": pad},)
    if pool:
        ph, pw, ps = pool[0]
        params += ({"pool_height": ph, "pool_width": pw, "stride": ps},)
    return arrays, params


def _conv_bn(rng, size, dtype):
    (x, w, b), params = _conv(rng, size, dtype)
    f = w.shape[0]
    return (x, w, b, _normal(rng, f, dtype, shift=1.0), _normal(rng, f, dtype)), (*params, {"mode": "train"})


def _pool(rng, size, dtype):
    """size (x_shape, pool_height, pool_width, stride)."""
    x_shape, ph, pw, stride = size
    return (_normal(rng, x_shape, dtype),), ({"pool_height": ph, "pool_width": pw, "stride": stride},)


def _conv2d(rng, size, dtype):
    """size (x_shape, w_shape, conv_param with torch's options)."""
    x_shape, w_shape, conv_param = size
    arrays = (_normal(rng, x_shape, dtype), _normal(rng, w_shape, dtype), _normal(rng, w_shape[0], dtype))
    return arrays, (dict(conv_param),)


def _pool2d(rng, size, dtype):
    """size (x_shape, pool_param with torch's options)."""
    x_shape, pool_param = size
    return (_normal(rng, x_shape, dtype),), (dict(pool_param),)


def _spatial_norm(param):
    def make(rng, x_shape, dtype):
        c = x_shape[1]
        arrays = (_normal(rng, x_shape, dtype, 2.0, 1.0), _normal(rng, c, dtype, shift=1.0), _normal(rng, c, dtype))
        if param.get("mode") == "test":
            running = {"running_mean": _normal(rng, c, dtype), "running_var": (rng.random(c) + 0.5).astype(dtype)}
            return arrays, ({**param, **running},)
        return arrays, (dict(param),)

    return make


def _groupnorm(rng, size, dtype):
    """size (x_shape, G)."""
    x_shape, groups = size
    c = (1, x_shape[1], 1, 1)
    return (_normal(rng, x_shape, dtype, 2.0, 1.0), _normal(rng, c, dtype, shift=1.0), _normal(rng, c, dtype)), (groups, {})


# ------------------------------------------------------------------ kinks


def _relu_kinks(layers, arrays, params):
    return arrays[0]


def _affine_kinks(layers, arrays, params):
    return layers.affine_forward(*arrays)[0]


def _hinge_kinks(layers, arrays, params):
    (x,), (y,) = arrays, params
    rows = np.arange(len(x))
    margins = x - x[rows, y][:, None] + 1
    margins[rows, y] = 1
    return margins


def _norm_relu_kinks(layers, arrays, params):
    x, w, b, gamma, beta = arrays
    norm_param, norm = params
    a = layers.affine_forward(x, w, b)[0]
    return getattr(layers, f"{norm}_forward")(a, gamma, beta, dict(norm_param))[0]


def _window_gaps(x, pool_param):
    """Per pooling window, its maximum minus the runner-up (inf for one-entry windows): ties are the kinks."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    windows = np.lib.stride_tricks.sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    flat = np.sort(windows.reshape(*windows.shape[:4], ph * pw), axis=4)
    return flat[..., -1] - flat[..., -2] if ph * pw > 1 else np.full(flat.shape[:4], np.inf)


def _pool2d_kinks(layers, arrays, params):
    """Per window, its maximum minus the runner-up among the entries inside the image (inf for one-entry windows)."""
    v, valid, _, _ = pool2d_windows(arrays[0], params[0])
    ranked = np.sort(np.where(valid, v, -np.inf), axis=-1)
    return ranked[..., -1] - ranked[..., -2] if ranked.shape[-1] > 1 else np.full(ranked.shape[:-1], np.inf)


def _pool_kinks(layers, arrays, params):
    return _window_gaps(arrays[0], params[0])


def _conv_kinks(layers, arrays, params):
    return layers.conv_forward_naive(*arrays, params[0])[0]


def _conv_pool_kinks(layers, arrays, params):
    a = _conv_kinks(layers, arrays, params)
    s = np.maximum(a, 0)
    p = params[1]
    top = np.lib.stride_tricks.sliding_window_view(s, (p["pool_height"], p["pool_width"]), axis=(2, 3))
    top = top[:, :, :: p["stride"], :: p["stride"]].max(axis=(4, 5))
    # A window that is all zero after the ReLU passes no gradient, whichever input wins its tie.
    gaps = np.where(top > 0, _window_gaps(s, p), np.inf)
    return np.concatenate([a.ravel(), gaps.ravel()])


def _conv_bn_relu_kinks(layers, arrays, params):
    x, w, b, gamma, beta = arrays
    a = layers.conv_forward_naive(x, w, b, params[0])[0]
    return layers.spatial_batchnorm_forward(a, gamma, beta, dict(params[1]))[0]


# ------------------------------------------------------------ bench costs


def _gemm_cost(arrays, params, backward):
    x, w = arrays[0], arrays[1]
    flops = 2.0 * x.shape[0] * w.shape[0] * w.shape[1]
    return (2 * flops if backward else flops), 0.0


def _stream_cost(reads, writes):
    """Bytes of ``reads`` input-sized arrays read and ``writes`` written."""

    def cost(arrays, params, backward):
        return 0.0, float((reads + backward) * arrays[0].nbytes + writes * arrays[0].nbytes)

    return cost


def _norm_cost(arrays, params, backward):
    """Bytes that must move: x read, out and xhat (the cache) written forward; dout and xhat read, dx written backward."""
    return 0.0, float(3 * arrays[0].nbytes)


def _dropout_cost(arrays, params, backward):
    """x (or dout) read, out (or dx) written, the one-byte mask written (or read)."""
    (x,) = arrays
    return 0.0, float(2 * x.nbytes + x.size)


def _loss_cost(arrays, params, backward):
    (x,) = arrays
    return 0.0, float(2 * x.nbytes + x.shape[0] * np.dtype(np.intp).itemsize)


def _conv_cost(arrays, params, backward):
    """2 N F H' W' C HH WW flops forward; twice that backward (dx and dw)."""
    x, w = arrays[0], arrays[1]
    stride, pad = params[0]["stride"], params[0]["pad"]
    ho = 1 + (x.shape[2] + 2 * pad - w.shape[2]) // stride
    wo = 1 + (x.shape[3] + 2 * pad - w.shape[3]) // stride
    flops = 2.0 * x.shape[0] * w.shape[0] * ho * wo * w[0].size
    return {False: flops, True: 2 * flops, "both": 3 * flops}[backward], 0.0


def _conv2d_cost(arrays, params, backward):
    """2 N F H' W' (C / groups) HH WW flops forward; twice that backward (dx and dw)."""
    x, w, b = arrays
    ho, wo = check_conv2d_params(x, w, b, params[0])[4]
    flops = 2.0 * x.shape[0] * w.shape[0] * ho * wo * w[0].size
    return {False: flops, True: 2 * flops, "both": 3 * flops}[backward], 0.0


def _pool2d_cost(arrays, params, backward):
    """Bytes that must move: x read, out and the int64 indices written forward; dout and the indices read, dx written backward."""
    (x,) = arrays
    ho, wo = check_pool2d_params(x, params[0])[4]
    outputs = x.shape[0] * x.shape[1] * ho * wo
    one_way = float(x.nbytes + outputs * (x.itemsize + 8))
    return 0.0, 2 * one_way if backward == "both" else one_way


def _pool_cost(arrays, params, backward):
    """Bytes that must move: x read and out written forward; dout read and dx written backward."""
    (x,) = arrays
    p = params[0]
    out = x[:, :, : x.shape[2] - p["pool_height"] + 1 : p["stride"], : x.shape[3] - p["pool_width"] + 1 : p["stride"]]
    one_way = float(x.nbytes + out.size * x.itemsize)
    return 0.0, 2 * one_way if backward == "both" else one_way


# ---------------------------------------------------- PyTorch equivalents


def _torch_affine(torch, t, backward, params=()):
    x, w, b, dout = t
    if backward:
        return lambda: (dout @ w.T, x.T @ dout, dout.sum(0))
    return lambda: torch.addmm(b, x, w)


def _torch_affine_relu(torch, t, backward, params=()):
    x, w, b, dout = t
    return None if backward else (lambda: torch.relu(torch.addmm(b, x, w)))


def _torch_relu(torch, t, backward, params=(), out=None):
    x, dout = t
    if backward:
        return lambda: dout * (x >= 0)
    return (lambda: torch.relu(x)) if out is None else (lambda: torch.clamp(x, min=0, out=out))


def _torch_loss(name):
    def make(torch, t, backward, params=()):
        x, y = t
        loss_fn = getattr(torch.nn.functional, name)

        def run():
            leaf = x.detach().requires_grad_()
            loss_fn(leaf, y).backward()
            return leaf.grad

        return run

    return make


def _torch_batchnorm(torch, t, backward, params=()):
    x, gamma, beta, dout = t
    if x.shape[0] < 2:
        return None  # torch refuses batch statistics of one row
    if not backward:
        return lambda: torch.nn.functional.batch_norm(x, None, None, gamma, beta, True, 0.1, 1e-5)
    _, mean, inv_std = torch.ops.aten.native_batch_norm(x, gamma, beta, None, None, True, 0.1, 1e-5)
    return lambda: torch.ops.aten.native_batch_norm_backward(dout, x, gamma, None, None, mean, inv_std, True, 1e-5, [True] * 3)


def _torch_layernorm(torch, t, backward, params=()):
    x, gamma, beta, dout = t
    shape = [x.shape[1]]
    if not backward:
        return lambda: torch.nn.functional.layer_norm(x, shape, gamma, beta, 1e-5)
    _, mean, inv_std = torch.ops.aten.native_layer_norm(x, shape, gamma, beta, 1e-5)
    return lambda: torch.ops.aten.native_layer_norm_backward(dout, x, shape, mean, inv_std, gamma, beta, [True] * 3)


def _torch_dropout(torch, t, backward, params=()):
    x, dout = t
    p = params[0]["p"]
    if not backward:
        return lambda: torch.nn.functional.dropout(x, 1 - p, True)
    mask = torch.rand_like(x) < p
    return lambda: torch.ops.aten.native_dropout_backward(dout, mask, 1 / p)


def _torch_conv(torch, t, backward, params=()):
    x, w, b, dout = t
    stride, pad = params[0]["stride"], params[0]["pad"]
    if backward:
        return lambda: torch.ops.aten.convolution_backward(
            dout, x, w, [w.shape[0]], [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1, [True, True, True])
    return lambda: torch.nn.functional.conv2d(x, w, b, stride, pad)


def _torch_pool(torch, t, backward, params=()):
    x, dout = t
    p = params[0]
    kernel, stride = [p["pool_height"], p["pool_width"]], [p["stride"]] * 2
    if backward:
        _, indices = torch.nn.functional.max_pool2d(x, kernel, stride, return_indices=True)
        return lambda: torch.ops.aten.max_pool2d_with_indices_backward(dout, x, kernel, stride, [0, 0], [1, 1], False, indices)
    return lambda: torch.nn.functional.max_pool2d(x, kernel, stride)


# ---------------------------------------------------------------- entries

_AFFINE_SIZES = (
    ((1, 5), 3),  # N = 1
    ((7, 13), 1),  # M = 1
    ((3, 1), 2),  # D = 1
    ((2, 4, 5, 6), 3),  # k = 3 trailing dims, the seed's test shape
    ((10, 2, 3), 5),  # k = 2
    ((33, 17), 29),  # odd sizes
    ((100, 64), 100),  # the seed's hidden layer
    ((700, 120), 130),  # large enough for the parallel epilogues
)
_AFFINE_GPU_SIZES = (((1, 5), 3), ((7, 2, 3), 5), ((19, 9), 21), ((3, 1), 1))
_AFFINE_BENCH = {"cpu": (((100, 64), 100), ((512, 3072), 1024)), "cuda": (((4096, 4096), 4096),)}
_LOSS_SIZES = ((1, 2), (1, 1), (5, 1), (7, 3), (100, 10), (33, 1000), (4096, 1000), (65536, 10))
# C = 5 and 40: a warp per row; 100: a block per row, read once; 150: beyond
# the registers, so the row is read again (with the simulator's shapes).
_LOSS_GPU_SIZES = ((1, 1), (3, 5), (5, 40), (3, 100), (2, 150))
_LOSS_BENCH = {"cpu": ((4096, 1000), (65536, 100), (100, 10)), "cuda": ((65536, 1000), (65536, 10))}
_NORM_SIZES = ((8, 5), (1, 3), (64, 33))
_NORM_BENCH = {"cpu": ((4096, 1024),), "cuda": ((65536, 1024),)}
_NORM_GRADS = ("dx", "dgamma", "dbeta")
# The simulator runs a block per feature (per row for layernorm), each of
# CUDA_BLOCK threads, at about a second a block: few blocks, and one
# reduction longer than a block (70 > 64).  The last size is the smallest,
# for the GPU bench's plumbing test.
_NORM_GPU_SIZES = ((70, 2), (8, 5), (1, 3))
_LAYERNORM_GPU_SIZES = ((2, 70), (3, 5), (1, 3))
# N = 16: at N = 8 rounding in the centred differences of the smallest dx
# entries reached 1.1e-7 relative for one seed in twelve; at 16 the worst
# over seeds 0-11 (fastnn and the reference) was 5.3e-8, under the 1e-7 bound.
_NORM_CHECK = (16, 5)

# Convolution: stride above 1, pad 0 to 3, 1x1 and rectangular filters,
# C = 1, N = 1, and sizes large enough for the parallel paths.
_CONV_SIZES = (
    ((2, 3, 7, 7), (4, 3, 3, 3), 1, 1),
    ((1, 1, 5, 5), (2, 1, 1, 1), 1, 0),
    ((3, 2, 9, 7), (5, 2, 3, 1), 2, 0),
    ((2, 3, 8, 8), (3, 3, 5, 3), 1, 2),
    ((2, 2, 6, 6), (3, 2, 3, 3), 3, 3),
    ((1, 3, 32, 32), (8, 3, 7, 7), 1, 3),
    ((6, 4, 12, 12), (6, 4, 3, 3), 1, 1),
)
_CONV_CHECK = ((4, 3, 5, 5), (2, 3, 3, 3), 1, 1)
# The course's ThreeLayerConvNet layer, a mid-sized layer, the notebook's
# fast-layer size and the digits as 1x8x8 images.
_CONV_BENCH = {"cpu": (((50, 3, 32, 32), (32, 3, 7, 7), 1, 3), ((64, 32, 16, 16), (64, 32, 3, 3), 1, 1),
                       ((100, 3, 31, 31), (25, 3, 3, 3), 2, 1), ((64, 1, 8, 8), (16, 1, 3, 3), 1, 1)),
               # The CPU's two larger sizes, and a layer large enough to fill a GPU.
               "cuda": (((50, 3, 32, 32), (32, 3, 7, 7), 1, 3), ((64, 32, 16, 16), (64, 32, 3, 3), 1, 1),
                        ((256, 64, 32, 32), (128, 64, 3, 3), 1, 1))}
# Tiling, overlapping (3x3 stride 2), gaps (stride 3 over a 2-wide window),
# 1x1, the whole image, and one large enough for the parallel path.
# torch's options (fastnn.torch's conv2d): unequal strides, padding per side, dilation, groups.
_CONV2D_SIZES = (((2, 4, 7, 8), (6, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0, 2, 1), "dilation": (1, 2), "groups": 2}),
                 ((2, 2, 6, 6), (4, 1, 2, 3), {"stride": (3, 2), "dilation": (2, 3), "groups": 2, "padding": (1, 2)}),
                 ((1, 3, 5, 5), (2, 3, 3, 3), {"padding": 1}),
                 ((3, 2, 4, 5), (3, 2, 1, 1), {"stride": 2}))
# torch's options (fastnn.torch's max_pool2d): overlapping, padded, dilated and ceil-mode windows.
_POOL2D_SIZES = (((2, 3, 7, 6), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1), "dilation": (1, 2), "ceil_mode": True}),
                 ((1, 2, 9, 8), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
                 ((2, 1, 5, 5), {"kernel_size": 2}),
                 ((1, 2, 8, 9), {"kernel_size": (2, 3), "stride": (3, 1), "dilation": 2}),
                 ((3, 2, 6, 7), {"kernel_size": 3, "stride": 1, "padding": 1}))
_POOL_SIZES = (((2, 3, 8, 8), 2, 2, 2), ((1, 1, 7, 7), 3, 3, 2), ((2, 2, 9, 8), 3, 2, 3), ((3, 2, 6, 6), 1, 1, 1),
               ((2, 3, 5, 7), 5, 7, 1), ((2, 2, 8, 8), 4, 2, 2), ((4, 8, 32, 32), 2, 2, 2))
_SPATIAL_SIZES = ((2, 3, 4, 5), (1, 1, 3, 3), (8, 16, 32, 32))
# On the simulator's 8x8 tiles of 4-deep K steps: 50 pixels, K = 18 and 3
# filters (partial tiles everywhere); stride 2 with a rectangular filter; 9
# filters, more than one tile of them; a 1x1 filter on one pixel, last, as
# the GPU bench's tiny run takes each entry's last size.
_CONV_GPU_SIZES = (((2, 2, 5, 5), (3, 2, 3, 3), 1, 1), ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1),
                   ((1, 2, 4, 4), (9, 2, 3, 3), 1, 2), ((1, 1, 1, 1), (1, 1, 1, 1), 1, 0))
_POOL_GPU_SIZES = (((2, 3, 4, 4), 2, 2, 2), ((1, 2, 7, 7), 3, 3, 2), ((2, 1, 5, 7), 1, 3, 2))
_SPATIAL_GPU_SIZES = ((2, 3, 4, 5), (1, 1, 3, 3))
# The spatial normalisations' gradient checks use a step of 1e-4: at 1e-5 the
# rounding of the centred differences on small dx entries reached 1.65x the
# 1e-7 bound for one seed in twelve (the NumPy reference alike); at 1e-4 the
# worst over seeds 0-11 was 0.12x.  conv_bn_relu likewise, at a batch of 4:
# at N = 2 a near-zero dw entry reached 2.7x its 1e-6 bound, at N = 4 0.04x.
_SPATIAL_STEP = 1e-4
_GROUP_SIZES = (((2, 6, 4, 5), 2), ((1, 4, 3, 3), 4), ((3, 6, 2, 2), 1), ((4, 32, 16, 16), 8))

LAYERS = (
    Layer("affine", "affine_forward", "affine_backward", _affine, ("dx", "dw", "db"),
          {"cpu": _AFFINE_SIZES, "cuda": _AFFINE_GPU_SIZES}, ((10, 2, 3), 5), 1e-8, step=LINEAR_STEP,
          family="affine", bench_sizes=_AFFINE_BENCH, cost=_gemm_cost, torch=_torch_affine),
    Layer("relu", "relu_forward", "relu_backward", _array, ("dx",),
          {"cpu": ((), (1,), (7,), (3, 4), (2, 3, 5, 7), (1000,), (300_001,), (0, 4)), "cuda": ((), (0, 3), (7,), (3, 4, 5))},
          (10, 10), 1e-8, step=LINEAR_STEP, kinks=_relu_kinks, family="relu", bench_sizes={"cpu": ((10**3,), (10**7,)), "cuda": ((1 << 26,),)},
          cost=_stream_cost(1, 1), torch=_torch_relu, bench_out=True),
    Layer("affine_relu", "affine_relu_forward", "affine_relu_backward", _affine, ("dx", "dw", "db"),
          {"cpu": _AFFINE_SIZES, "cuda": _AFFINE_GPU_SIZES}, ((10, 2, 3), 5), 1e-8, step=LINEAR_STEP,
          kinks=_affine_kinks, family="affine", bench_sizes={"cpu": _AFFINE_BENCH["cpu"]}, cost=_gemm_cost, torch=_torch_affine_relu,
          note="reference: affine_forward then relu_forward"),
    Layer("softmax_loss", "softmax_loss", None, _scores, ("dx",), {"cpu": _LOSS_SIZES, "cuda": _LOSS_GPU_SIZES},
          (10, 6, 1.0), 1e-7, family="loss", bench_sizes=_LOSS_BENCH, cost=_loss_cost, torch=_torch_loss("cross_entropy")),
    Layer("svm_loss", "svm_loss", None, _scores, ("dx",), {"cpu": _LOSS_SIZES, "cuda": _LOSS_GPU_SIZES},
          (10, 6, 1.0), 1e-7, kinks=_hinge_kinks, family="loss", bench_sizes=_LOSS_BENCH, cost=_loss_cost,
          torch=_torch_loss("multi_margin_loss")),
    Layer("dropout", "dropout_forward", "dropout_backward", _dropout, ("dx",), {"cpu": ((6, 9), (3,), (50, 40))},
          (10, 10), 1e-9, family="norm", bench_sizes={"cpu": _NORM_BENCH["cpu"]}, cost=_dropout_cost, torch=_torch_dropout,
          note="both include drawing the seeded uniforms"),
    Layer("batchnorm", "batchnorm_forward", "batchnorm_backward", _norm({"mode": "train"}), _NORM_GRADS,
          {"cpu": _NORM_SIZES, "cuda": _NORM_GPU_SIZES}, _NORM_CHECK, 1e-7, family="norm", bench_sizes=_NORM_BENCH, cost=_norm_cost,
          torch=_torch_batchnorm),
    Layer("batchnorm (test mode)", "batchnorm_forward", "batchnorm_backward", _norm({"mode": "test"}), _NORM_GRADS,
          {"cpu": _NORM_SIZES, "cuda": _NORM_GPU_SIZES}, _NORM_CHECK, 1e-7, family="norm", cost=_norm_cost),
    Layer("batchnorm_alt", "batchnorm_forward", "batchnorm_backward_alt", _norm({"mode": "train"}), _NORM_GRADS,
          {"cpu": _NORM_SIZES, "cuda": _NORM_GPU_SIZES}, _NORM_CHECK, 1e-7, family="norm", cost=_norm_cost),
    Layer("layernorm", "layernorm_forward", "layernorm_backward", _norm({}), _NORM_GRADS,
          {"cpu": _NORM_SIZES, "cuda": _LAYERNORM_GPU_SIZES}, _NORM_CHECK, 1e-7, family="norm", bench_sizes=_NORM_BENCH, cost=_norm_cost,
          torch=_torch_layernorm),
    # The sandwich composes three layers: the truncation error of its centred
    # difference reached 1.1e-7 relative on small entries of dx (the NumPy
    # reference likewise), so its gradient check gets ten times a norm's.
    Layer("affine_batchnorm_relu", "affine_norm_relu_forward", "affine_norm_relu_backward", _norm_relu("batchnorm"),
          ("dx", "dw", "db", "dgamma", "dbeta"), {"cpu": (((6, 4), 5), ((9, 2, 3), 7)), "cuda": (((6, 4), 3),)},
          ((10, 2, 3), 5), 1e-6, kinks=_norm_relu_kinks, zero_grads=("db",), family="norm", cost=_gemm_cost),
    Layer("affine_layernorm_relu", "affine_norm_relu_forward", "affine_norm_relu_backward", _norm_relu("layernorm"),
          ("dx", "dw", "db", "dgamma", "dbeta"), {"cpu": (((6, 4), 5), ((9, 2, 3), 7)), "cuda": (((3, 2, 3), 4),)},
          ((10, 2, 3), 5), 1e-6, kinks=_norm_relu_kinks, family="norm", cost=_gemm_cost),
    Layer("conv", "conv_forward_naive", "conv_backward_naive", _conv, ("dx", "dw", "db"), {"cpu": _CONV_SIZES, "cuda": _CONV_GPU_SIZES},
          _CONV_CHECK, 1e-8, step=LINEAR_STEP, family="conv", bench_sizes=_CONV_BENCH, cost=_conv_cost, torch=_torch_conv,
          bench_round_trip=True, note="reference: NumPy im2col (strided windows, one tensordot; col2im by strided adds)"),
    Layer("max_pool", "max_pool_forward_naive", "max_pool_backward_naive", _pool, ("dx",), {"cpu": _POOL_SIZES, "cuda": _POOL_GPU_SIZES},
          ((3, 2, 8, 8), 2, 2, 2), 1e-11, step=LINEAR_STEP, kinks=_pool_kinks, family="conv",
          bench_sizes={"cpu": (((50, 32, 32, 32), 2, 2, 2),), "cuda": (((256, 64, 64, 64), 2, 2, 2),)}, cost=_pool_cost,
          torch=_torch_pool, bench_round_trip=True),
    Layer("conv2d", "conv2d_forward", "conv2d_backward", _conv2d, ("dx", "dw", "db"), {"cpu": _CONV2D_SIZES, "cuda": _CONV2D_SIZES[:2]},
          _CONV2D_SIZES[0], 1e-8, step=LINEAR_STEP, family="conv", cost=_conv2d_cost),
    Layer("max_pool2d", "max_pool2d_forward", "max_pool2d_backward", _pool2d, ("dx",), {"cpu": _POOL2D_SIZES, "cuda": _POOL2D_SIZES[:3]},
          ((2, 2, 7, 6), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1), "dilation": (1, 2), "ceil_mode": True}),
          1e-11, step=LINEAR_STEP, kinks=_pool2d_kinks, family="conv", cost=_pool2d_cost),
    Layer("conv_relu", "conv_relu_forward", "conv_relu_backward", _conv, ("dx", "dw", "db"), {"cpu": _CONV_SIZES[:4], "cuda": _CONV_GPU_SIZES[1::2]},
          _CONV_CHECK, 1e-8, step=LINEAR_STEP, kinks=_conv_kinks, family="conv", cost=_conv_cost),
    Layer("conv_relu_pool", "conv_relu_pool_forward", "conv_relu_pool_backward", _conv, ("dx", "dw", "db"),
          {"cpu": (((2, 3, 8, 8), (4, 3, 3, 3), 1, 1, (2, 2, 2)), ((1, 2, 9, 9), (3, 2, 3, 3), 1, 0, (3, 3, 2))),
           "cuda": (((1, 2, 4, 4), (3, 2, 3, 3), 1, 1, (2, 2, 2)),)},
          ((2, 3, 6, 6), (3, 3, 3, 3), 1, 1, (2, 2, 2)), 1e-8, step=LINEAR_STEP, kinks=_conv_pool_kinks, family="conv", cost=_conv_cost),
    Layer("spatial_batchnorm", "spatial_batchnorm_forward", "spatial_batchnorm_backward", _spatial_norm({"mode": "train"}),
          _NORM_GRADS, {"cpu": _SPATIAL_SIZES, "cuda": _SPATIAL_GPU_SIZES}, (4, 3, 4, 4), 1e-7, step=_SPATIAL_STEP,
          family="norm", bench_sizes={"cpu": ((50, 32, 32, 32),), "cuda": ((256, 64, 32, 32),)}, cost=_norm_cost),
    Layer("spatial_batchnorm (test mode)", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
          _spatial_norm({"mode": "test"}), _NORM_GRADS, {"cpu": _SPATIAL_SIZES, "cuda": _SPATIAL_GPU_SIZES}, (4, 3, 4, 4), 1e-7,
          step=_SPATIAL_STEP, family="norm", cost=_norm_cost),
    Layer("spatial_groupnorm", "spatial_groupnorm_forward", "spatial_groupnorm_backward", _groupnorm, _NORM_GRADS,
          {"cpu": _GROUP_SIZES, "cuda": (((2, 4, 3, 3), 2), ((1, 3, 2, 2), 1))}, ((2, 6, 3, 3), 2), 1e-7, step=_SPATIAL_STEP,
          family="norm", cost=_norm_cost),
    # Three layers composed, as affine_batchnorm_relu: the same bound.
    Layer("conv_bn_relu", "conv_bn_relu_forward", "conv_bn_relu_backward", _conv_bn, ("dx", "dw", "db", "dgamma", "dbeta"),
          {"cpu": (((2, 3, 6, 6), (4, 3, 3, 3), 1, 1), ((3, 2, 5, 5), (2, 2, 1, 1), 1, 0)),
           "cuda": (((2, 2, 4, 4), (3, 2, 3, 3), 1, 1),)}, ((4, 3, 5, 5), (3, 3, 3, 3), 1, 1),
          1e-6, step=_SPATIAL_STEP, kinks=_conv_bn_relu_kinks, zero_grads=("db",), family="conv", cost=_conv_cost),
)

BY_NAME = {layer.name: layer for layer in LAYERS}

#: The groups of ``fastnn bench --only`` that come from the catalog.
FAMILIES = tuple(dict.fromkeys(layer.family for layer in LAYERS if layer.bench_sizes.get("cpu")))


def get(name):
    """The catalog entry called ``name``; KeyError names the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no layer {name!r} in fastnn.catalog; known: {', '.join(BY_NAME)}") from None


def on_backend(backend):
    """The entries a backend ("cpu" or "cuda") implements."""
    return tuple(layer for layer in LAYERS if backend in layer.sizes)


def function_names(backend):
    """The layer functions a backend's module exports, in catalog order: its ``__all__``."""
    names = [name for layer in on_backend(backend) for name in (layer.forward, layer.backward) if name]
    return list(dict.fromkeys(names))


def copy_params(params):
    """Fresh copies of non-differentiated arguments: dicts (and their arrays) are copied, others passed as they are."""
    return tuple(
        {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in p.items()} if isinstance(p, dict) else p
        for p in params
    )


def size_label(size):
    """How a size reads in a bench row: 1e+07, (4096, 1000), (100, 64, 100)."""
    if isinstance(size, tuple) and len(size) == 1 and isinstance(size[0], int):
        return f"{size[0]:.0e}"
    if isinstance(size, tuple) and len(size) == 2 and isinstance(size[0], tuple):
        return str((*size[0], size[1]))
    return str(size)
