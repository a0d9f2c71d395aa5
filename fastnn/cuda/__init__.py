"""The fastnn layers on an NVIDIA GPU: ``import fastnn.cuda as L``.

Same functions, signatures and error messages as :mod:`fastnn.layers`, on
GPU arrays: Numba device arrays or anything with ``__cuda_array_interface__``
(CuPy arrays, PyTorch CUDA tensors), taken without a copy.  Outputs and
caches stay on the device; losses come back as np.float64 scalars.  Host NumPy
arrays are refused with a TypeError: move them with :func:`to_device`.

Every function also takes a keyword-only ``stream=``: a Numba stream, a
PyTorch ``torch.cuda.Stream``, a CuPy stream, or anything with
``__cuda_stream__``.  Its kernels then launch on that stream, and the copies
that bring a result to the host (a loss, a label check) wait for that stream
alone, so a PyTorch or CuPy program can interleave fastnn's kernels with its
own.  Without it, kernels go to the default stream.  Results are Numba
device arrays; ``cupy.asarray(out)`` and ``torch.as_tensor(out,
device="cuda")`` take them without a copy.

Importing this module raises ImportError, saying what is missing, on a
machine without numba-cuda or without a GPU (set NUMBA_ENABLE_CUDASIM=1
before numba is imported to run on Numba's simulator instead).
"""

import functools
import inspect
import sys

import numpy as np

from fastnn import catalog
from fastnn.kernels.cpu.conv import arg_dtype as pool_offset_dtype
from fastnn.kernels.cuda import SIMULATOR
from numba import cuda as _numba_cuda  # after fastnn.kernels.cuda, which makes it importable under NumPy 2.5

if not SIMULATOR and not _numba_cuda.is_available():
    raise ImportError(
        "fastnn.cuda found no usable CUDA GPU (numba.cuda.is_available() is False). "
        "To run the kernels on Numba's CUDA simulator instead, set NUMBA_ENABLE_CUDASIM=1 "
        "before numba is first imported."
    )

from fastnn.kernels.cuda import conv, conv_general, dropout, elementwise, gemm, launch, loss_options, losses, memory, pool, reductions  # noqa: E402
from fastnn.layers import conv_sandwich_backward, conv_sandwich_forward, norm_sandwich_backward, norm_sandwich_forward
from fastnn.rng import philox_key, reseed
from fastnn.validation import (
    as_float_arrays,
    as_labels,
    check_affine_grad,
    check_affine_params,
    check_cache_mode,
    check_conv_grad,
    check_conv_params,
    check_conv2d_params,
    conv2d_settings,
    check_eps,
    check_groups,
    check_momentum,
    check_keep_probability,
    check_mode,
    check_ndim,
    check_pool_params,
    check_pool2d_params,
    pool2d_settings,
    check_margin_options,
    cached_pool2d_options,
    check_scores,
    check_shape,
    is_real,
    unpack_cache,
)

__all__ = [
    "to_device",
    "to_host",
    "is_device_array",
    "as_stream",
    "empty_like",
    "copy",
    "astype",
    "take_rows",
    "sgd_update",
    "add_scaled",
    "sum_of_squares",
    "count_correct",
    "correct_count",
    "release_memory",
    "synchronize",
    "device_name",
    "dropout_forward",
    "dropout_backward",
    "cross_entropy_rows",
    "multi_margin_rows",
    *catalog.function_names("cuda"),
]

def to_device(a):
    """Copy a host array (or anything NumPy accepts) to the GPU."""
    # np.asarray rather than np.ascontiguousarray, which turns 0-d into 1-d.
    return launch.to_device(np.asarray(a, order="C"))


def to_host(a):
    """Copy a device array back to a NumPy array (after the work queued before it)."""
    return launch.to_host(_as_device("a", a))


def is_device_array(a):
    """True for a GPU array fastnn.cuda takes (a Numba device array, or anything with ``__cuda_array_interface__``)."""
    return launch.as_device_array(a) is not None


def empty_like(a):
    """An uninitialised device array of a's shape and dtype."""
    return launch.empty_like(_as_device("a", a))


def copy(a):
    """A C-contiguous copy of the device array a, on the device."""
    a = _as_device("a", a)
    if not a.is_c_contiguous():
        return _contiguous("a", a)
    out = launch.empty(a.shape, a.dtype)
    if a.size:
        out.copy_to_device(a, stream=launch.stream())
    return out


def astype(a, dtype):
    """
    The device array a in dtype (float32, float64 or int64): a itself when
    it already has that dtype and is C-contiguous, otherwise a new array,
    rounded as NumPy's ``astype`` rounds.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64, np.int64):
        raise TypeError(f"dtype: expected float32, float64 or int64, got {dtype}")
    a = _as_device("a", a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"a: expected a numeric device array, got dtype {a.dtype}")
    return DEVICE.convert("a", a, dtype)


def take_rows(a, rows):
    """
    ``a[rows]`` on the device, for one array or a tuple of arrays of one
    length (a batch's X and y), the rows checked once.

    Inputs:
    - a: Device array of shape (N,) or (N, D), or a tuple of such arrays
    - rows: Integer row indices in [0, N), of shape (B,): a NumPy array,
      checked on the host and uploaded (what the Solver passes: no copy back
      to the host), or an int64 device array, whose check reads its range
      back from the device

    Returns:
    - Device array of shape (B,) or (B, D), or a tuple of them
    """
    arrays = a if isinstance(a, tuple) else (a,)
    arrays = [_as_device("a", x) for x in arrays]
    for x in arrays:
        if len(x.shape) not in (1, 2) or x.shape[0] != arrays[0].shape[0]:
            raise ValueError(f"a: expected 1-D or 2-D arrays of shape (N,) or (N, D), one N, got shapes {[y.shape for y in arrays]}")
    n = arrays[0].shape[0]
    if type(rows) is np.ndarray:
        if rows.dtype.kind not in "iu" or rows.ndim != 1:
            raise TypeError(f"rows: expected a 1-D integer index array, got dtype {rows.dtype} of shape {rows.shape}")
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise ValueError(f"rows: expected indices in [0, {n}), got values from {rows.min()} to {rows.max()}")
        rows = to_device(rows.astype(np.int64, copy=False))
    else:
        rows = _contiguous("rows", _as_device("rows", rows))
        if rows.dtype != np.int64 or len(rows.shape) != 1:
            raise TypeError(f"rows: expected a 1-D int64 index array, got dtype {rows.dtype} of shape {rows.shape}")
        if rows.size:
            low, high = launch.label_range(rows)
            if low < 0 or high >= n:
                raise ValueError(f"rows: expected indices in [0, {n}), got values from {low} to {high}")

    def gather(x):
        x = _contiguous("a", x)
        if x.ndim == 1:
            return launch.gather_rows(x.reshape(x.shape[0], 1), rows).reshape(rows.size)
        return launch.gather_rows(x, rows)

    taken = tuple(gather(x) for x in arrays)
    return taken if isinstance(a, tuple) else taken[0]


def sgd_update(w, dw, lr):
    """
    ``w -= lr * dw`` in place on the device (the seed's plain SGD step).

    Inputs:
    - w: C-contiguous float32 or float64 device array, updated in place
    - dw: Device array of w's shape and dtype
    - lr: Learning rate, a finite number
    """
    w, dw = _update_operands(("w", "dw", "lr"), w, dw, lr)
    elementwise.sgd_update(w, dw, lr)


def _update_operands(names, target, source, scalar):
    """An in-place update's target and source as device arrays (the source contiguous), checked; names: theirs and the scalar's."""
    t, s, k = names
    target, source = _as_device(t, target), _as_device(s, source)
    if target.dtype not in (np.float32, np.float64) or source.dtype != target.dtype:
        raise TypeError(f"{t}, {s}: expected float32 or float64 arrays of one dtype, got {target.dtype} and {source.dtype}")
    check_shape(s, source, target.shape, f"the shape of {t}")
    if not target.is_c_contiguous():
        raise ValueError(f"{t}: expected a C-contiguous array (it is updated in place)")
    if not is_real(scalar) or not np.isfinite(scalar):
        raise ValueError(f"{k}: expected a finite number, got {scalar!r}")
    return target, _contiguous(s, source)


def add_scaled(y, x, alpha):
    """
    ``y += alpha * x`` in place on the device (an L2 penalty's gradient):
    the product in y's dtype, then the sum, as NumPy rounds them, except
    that a GPU may fuse the two into one FMA, which rounds once.

    Inputs:
    - y: C-contiguous float32 or float64 device array, updated in place
    - x: Device array of y's shape and dtype
    - alpha: A finite number
    """
    y, x = _update_operands(("y", "x", "alpha"), y, x, alpha)
    if y.size:
        elementwise.add_scaled(y.reshape(y.size), x.reshape(y.size), alpha)


def sum_of_squares(a):
    """
    ``np.sum(a * a)`` of a float device array, reduced on the device in
    float64 (so float32 arrays give a more exact sum than NumPy's float32 one).

    Returns:
    - np.float64
    """
    (a,) = as_float_arrays(("a",), a, arrays=DEVICE)
    if not a.size:
        return np.float64(0.0)
    return np.float64(reductions.sum_of_squares(a.reshape(a.size)))


def count_correct(scores, y, into=None):
    """
    How many rows of scores have their largest score at the label y, the
    first largest counting as np.argmax does (a NaN is the largest).  The
    count stays on the device, so a whole pass of batches is read back once.

    The labels are checked as the predictions are counted, with no copy to
    the host of their own: into[1] counts those outside [0, C), and
    :func:`correct_count` raises when it reads a nonzero one.

    Inputs:
    - scores: Device array of shape (N, C)
    - y: Device array of integer labels, of shape (N,), in [0, C)
    - into: An int64 device array of shape (2,) to add the counts to, or None

    Returns:
    - into (or a new such array): [correct predictions, labels out of range]
    """
    (scores,) = as_float_arrays(("scores",), scores, arrays=DEVICE)
    check_ndim("scores", scores, 2, "(N, C)")
    if scores.shape[1] == 0:
        raise ValueError(f"scores: expected at least one class, got shape {scores.shape}")
    y = as_labels(y, *scores.shape, arrays=DEVICE, check_range=False)
    if into is None:
        into = launch.zeros(2, np.int64)
    else:
        into = _as_device("into", into)
        if into.dtype != np.int64 or into.shape != (2,) or not into.is_c_contiguous():
            raise TypeError(f"into: expected a contiguous int64 device array of shape (2,), got dtype {into.dtype} of shape {into.shape}")
    if scores.shape[0]:
        losses.count_correct(scores, y, into)
    return into


def correct_count(counts):
    """
    The number of correct predictions in the counts of :func:`count_correct`,
    read from the device (one copy).

    Raises ValueError when the labels counted held any outside [0, C).
    """
    counts = _as_device("counts", counts)
    if counts.dtype != np.int64 or counts.shape != (2,):
        raise TypeError(f"counts: expected the int64 device array of shape (2,) from count_correct, got dtype {counts.dtype} of shape {counts.shape}")
    correct, bad = launch.to_host(counts)
    if bad:
        raise ValueError(f"y: expected labels in [0, C) for scores with C classes, got {int(bad)} outside that range")
    return int(correct)


def release_memory():
    """Free the device memory that fastnn.cuda's pool holds for reuse (arrays in use keep theirs)."""
    memory.release()


def synchronize():
    """Wait until every kernel queued on the GPU has finished (for timing)."""
    launch.synchronize()


def device_name():
    """The GPU's name, or 'CUDA simulator'."""
    if SIMULATOR:
        return "CUDA simulator"
    name = launch.cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else name


def _as_device(name, value):
    device = launch.as_device_array(value)
    if device is None:
        raise TypeError(
            f"{name}: expected a GPU array (a Numba device array, or a CuPy array or PyTorch CUDA tensor, "
            f"anything with __cuda_array_interface__), got {type(value).__module__}.{type(value).__name__}; "
            f"move host data with fastnn.cuda.to_device({name})"
        )
    return device


def _contiguous(name, a):
    if a.is_c_contiguous():
        return a
    if a.ndim > 2:
        raise ValueError(f"{name}: expected a C-contiguous array when it has more than 2 dimensions, got strides {a.strides}")
    return launch.contiguous(a)


class _DeviceArrays:
    """The device side of fastnn.validation's converters (see HostArrays there)."""

    as_array = staticmethod(_as_device)

    @staticmethod
    def convert(name, a, dtype):
        a = _contiguous(name, a)
        return a if a.dtype == dtype else launch.cast(a.reshape(a.size), dtype).reshape(a.shape)

    @staticmethod
    def labels(y):
        y = _contiguous("y", y)
        return y if y.dtype == np.int64 else launch.cast(y, np.int64)

    value_range = staticmethod(launch.label_range)

    to_host = staticmethod(launch.to_host)


DEVICE = _DeviceArrays()


def affine_forward(x, w, b):
    """
    Computes the forward pass for an affine layer on the GPU.

    Inputs:
    - x: Device array of input data, of shape (N, d_1, ..., d_k)
    - w: Device array of weights, of shape (D, M)
    - b: Device array of biases, of shape (M,)

    Returns a tuple of:
    - out: Device array of shape (N, M)
    - cache: (x, w, b)
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b, arrays=DEVICE)
    x2 = check_affine_params(x, w, b)
    return gemm.gemm(x2, w, bias=b), (x, w, b)


def affine_backward(dout, cache):
    """
    Computes the backward pass for an affine layer on the GPU.

    Inputs:
    - dout: Device array of upstream derivatives, of shape (N, M)
    - cache: (x, w, b) as returned by affine_forward

    Returns a tuple of:
    - dx: Device array of shape (N, d_1, ..., d_k)
    - dw: Device array of shape (D, M)
    - db: Device array of shape (M,)
    """
    x, w, b = unpack_cache(cache, ("x", "w", "b"), "affine_forward")
    dout, x, w, b = as_float_arrays(("dout", "x", "w", "b"), dout, x, w, b, arrays=DEVICE)
    x2 = check_affine_params(x, w, b)
    check_affine_grad(dout, x, w)
    dx = gemm.gemm(dout, w, trans_b=True)
    dw, db = gemm.gemm(x2, dout, trans_a=True, column_sums=True)
    return dx.reshape(x.shape), dw, db


def _check_out(out, like):
    """out as a device array to write a result of like's shape and dtype into (as fastnn.validation.check_out)."""
    device = launch.as_device_array(out)
    if device is None:
        raise TypeError(f"out: expected a GPU array, got {type(out).__module__}.{type(out).__name__}")
    if device.dtype != like.dtype:
        raise TypeError(f"out: expected dtype {like.dtype}, got dtype {device.dtype}")
    check_shape("out", device, like.shape, "the shape of the result")
    if not device.is_c_contiguous():
        raise ValueError("out: expected a C-contiguous array, got one that is not")
    return device


def _elementwise_into(out, kernel, *inputs):
    """
    Run kernel(*flat inputs, flat out) into out: directly when out is one of
    the inputs or shares no memory with them (a thread reads its element
    before writing it), through a temporary when out partly overlaps one.
    """
    flat = [a.reshape(a.size) for a in inputs]
    if any(a is not out and launch.overlaps(a, out) and not launch.same_memory(a, out) for a in inputs):
        result = launch.empty(out.size, out.dtype)
        kernel(*flat, result)
        out.reshape(out.size).copy_to_device(result, stream=launch.stream())
    else:
        kernel(*flat, out.reshape(out.size))
    return out


def relu_forward(x, out=None):
    """
    Computes the forward pass for a layer of ReLUs on the GPU.

    Inputs:
    - x: Device array of any shape
    - out: Optional C-contiguous device array of x's shape and dtype to
      write the result into.  It may be x itself or overlap it; the cache
      then holds a copy of x, which the backward pass needs.

    Returns a tuple of:
    - out: Device array max(x, 0), of x's shape
    - cache: x
    """
    (x,) = as_float_arrays(("x",), x, arrays=DEVICE)
    if out is None:
        out = launch.empty(x.shape, x.dtype)
        if x.size:
            elementwise.relu_forward(x.reshape(x.size), out.reshape(x.size))
        return out, x
    out = _check_out(out, x)
    cache = copy(x) if x.size and launch.overlaps(x, out) else x  # before out overwrites it
    if x.size:
        _elementwise_into(out, elementwise.relu_forward, x)
    return out, cache


def relu_backward(dout, cache, out=None):
    """
    Computes the backward pass for a layer of ReLUs on the GPU (gradient passes where x >= 0).

    Inputs:
    - dout: Device array of upstream derivatives
    - cache: Device array x, of dout's shape
    - out: Optional C-contiguous device array of dout's shape and dtype to
      write the gradient into (it may be dout itself, or overlap dout or x)

    Returns:
    - dx: Device array of dout's shape
    """
    dout, x = as_float_arrays(("dout", "cache"), dout, cache, arrays=DEVICE)
    check_shape("dout", dout, x.shape, "the shape of the cached input x")
    if out is None:
        out = launch.empty(x.shape, x.dtype)
        if x.size:
            elementwise.relu_backward(dout.reshape(x.size), x.reshape(x.size), out.reshape(x.size))
        return out
    out = _check_out(out, dout)
    if x.size:
        _elementwise_into(out, elementwise.relu_backward, dout, x)
    return out


def affine_relu_forward(x, w, b):
    """
    Affine transform followed by a ReLU, both in the GEMM's epilogue, on the GPU.

    Inputs:
    - x: Device array of shape (N, d_1, ..., d_k)
    - w: Device array of shape (D, M)
    - b: Device array of shape (M,)

    Returns a tuple of:
    - out: Device array of shape (N, M)
    - cache: ((x, w, b), a) with a the pre-activation, of shape (N, M)
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b, arrays=DEVICE)
    x2 = check_affine_params(x, w, b)
    a, out = gemm.gemm(x2, w, bias=b, relu=True)
    return out, ((x, w, b), a)


def affine_relu_backward(dout, cache):
    """
    Backward pass for the affine-ReLU layer on the GPU.

    Inputs:
    - dout: Device array of shape (N, M)
    - cache: ((x, w, b), a) as returned by affine_relu_forward

    Returns a tuple of:
    - dx: Device array of shape (N, d_1, ..., d_k)
    - dw: Device array of shape (D, M)
    - db: Device array of shape (M,)
    """
    fc_cache, a = unpack_cache(cache, ("fc_cache", "relu_cache"), "affine_relu_forward")
    x, w, b = unpack_cache(fc_cache, ("x", "w", "b"), "affine_relu_forward")
    dout, a, x, w, b = as_float_arrays(("dout", "relu_cache", "x", "w", "b"), dout, a, x, w, b, arrays=DEVICE)
    x2 = check_affine_params(x, w, b)
    check_affine_grad(dout, x, w)
    check_shape("relu_cache", a, dout.shape, "the pre-activation of shape (N, M)")
    # The ReLU's gradient dout * (a >= 0) is applied as the GEMMs read dout.
    dx = gemm.gemm(dout, w, trans_b=True, mask=a, mask_operand="a")
    dw, db = gemm.gemm(x2, dout, trans_a=True, mask=a, mask_operand="b", column_sums=True)
    return dx.reshape(x.shape), dw, db


def _loss(kernel, x, y):
    (x,) = as_float_arrays(("x",), x, arrays=DEVICE)
    check_scores(x)
    labels = as_labels(y, *x.shape, arrays=DEVICE, check_range=False)
    loss, dx, bad = kernel(x, labels)
    if bad:
        as_labels(labels, *x.shape, arrays=DEVICE)  # raises, naming the first label out of range
    return np.float64(loss), dx


def softmax_loss(x, y):
    """
    Softmax loss and gradient on the GPU, fused per row, loss reduced on the device.

    Inputs:
    - x: Device array of scores, of shape (N, C)
    - y: Device array of integer labels, of shape (N,), in [0, C)

    Returns a tuple of:
    - loss: np.float64, the loss averaged over N
    - dx: Device array of shape (N, C)
    """
    return _loss(losses.softmax_loss, x, y)


def svm_loss(x, y):
    """
    Multiclass hinge loss (margin 1) and gradient on the GPU.

    Inputs and returns: as :func:`softmax_loss`.
    """
    return _loss(losses.svm_loss, x, y)




def _row_scores(x):
    (x,) = as_float_arrays(("x",), x, arrays=DEVICE)
    check_ndim("x", x, 2, "(M, C)")
    if x.shape[1] == 0:
        raise ValueError(f"x: expected at least one class, got shape {x.shape}")
    return _contiguous("x", x)


def cross_entropy_rows(x, a, log_probs=False):
    """Softmax cross-entropy of each row against coefficients on the GPU, a thread per row; as :func:`fastnn.layers.cross_entropy_rows`."""
    x = _row_scores(x)
    (a,) = as_float_arrays(("a",), a, arrays=DEVICE)
    check_shape("a", a, x.shape, "one coefficient per score")
    if a.dtype != x.dtype:
        raise TypeError(f"a: expected {x.dtype} like x, got {a.dtype}")
    return loss_options.softmax_coefficients(x, _contiguous("a", a), bool(log_probs))


def multi_margin_rows(x, y, p=1, margin=1.0, y_weight=None):
    """torch's multi-margin loss of each row on the GPU, a thread per row; as :func:`fastnn.layers.multi_margin_rows`."""
    x = _row_scores(x)
    y = as_labels(y, *x.shape, arrays=DEVICE)
    p, margin = check_margin_options(p, margin)
    if y_weight is None:
        y_weight = launch.full(x.shape[0], np.float64, 1.0)
    else:
        (y_weight,) = as_float_arrays(("y_weight",), y_weight, arrays=DEVICE)
        check_shape("y_weight", y_weight, (x.shape[0],), "one weight per row of x")
        y_weight = launch.cast(_contiguous("y_weight", y_weight), np.float64) if y_weight.dtype != np.float64 else y_weight
    return loss_options.multi_margin(x, y, p, margin, _contiguous("y_weight", y_weight))


# ------------------------------------------------ convolution and pooling


def conv_forward_naive(x, w, b, conv_param):
    """
    Convolution on the GPU, an implicit GEMM (the column matrix is gathered
    tile by tile into shared memory, never stored), bias in the epilogue.

    Inputs and returns: as :func:`fastnn.layers.conv_forward_naive`, on device arrays.
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b, arrays=DEVICE)
    stride, pad, ho, wo = check_conv_params(x, w, b, conv_param)
    out, _ = conv.conv_forward(x, w, b, stride, pad, ho, wo, False)
    return out, (x, w, b, {"stride": stride, "pad": pad})


def _conv_gradients(dout, conv_cache, layer, *relu_cache):
    return conv.conv_backward(*check_conv_grad(dout, conv_cache, layer, *relu_cache, arrays=DEVICE))


def conv_backward_naive(dout, cache):
    """
    Backward pass of :func:`conv_forward_naive` on the GPU: dw as an implicit
    GEMM over the pixels, dx gathered per input, db reduced per filter.

    Inputs and returns: as :func:`fastnn.layers.conv_backward_naive`, on device arrays.
    """
    return _conv_gradients(dout, cache, "conv_forward_naive")


def conv_relu_forward(x, w, b, conv_param):
    """Convolution then ReLU on the GPU, both in the GEMM's epilogue; as :func:`fastnn.layers.conv_relu_forward`."""
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b, arrays=DEVICE)
    stride, pad, ho, wo = check_conv_params(x, w, b, conv_param)
    a, out = conv.conv_forward(x, w, b, stride, pad, ho, wo, True)
    return out, ((x, w, b, {"stride": stride, "pad": pad}), a)


def conv_relu_backward(dout, cache):
    """Backward pass of conv_relu_forward on the GPU, the ReLU mask applied as dout is read."""
    conv_cache, a = unpack_cache(cache, ("conv_cache", "relu_cache"), "conv_relu_forward")
    return _conv_gradients(dout, conv_cache, "conv_relu_forward", a)


def max_pool_forward_naive(x, pool_param):
    """
    Max pooling on the GPU, a thread per output; the same rule (first
    maximum in row-major window order, NaN the largest), window offsets and
    cache as :func:`fastnn.layers.max_pool_forward_naive`.
    """
    (x,) = as_float_arrays(("x",), x, arrays=DEVICE)
    ph, pw, stride, ho, wo = check_pool_params(x, pool_param)
    out, arg = conv.max_pool_forward(x, ph, pw, stride, ho, wo, pool_offset_dtype(ph, pw))
    return out, (x, {"pool_height": ph, "pool_width": pw, "stride": stride}, arg)


def max_pool_backward_naive(dout, cache):
    """Backward pass of max pooling on the GPU, a thread per input; as :func:`fastnn.layers.max_pool_backward_naive`."""
    x, pool_param, arg = unpack_cache(cache, ("x", "pool_param", "arg"), "max_pool_forward_naive")
    (x,) = as_float_arrays(("cache's x",), x, arrays=DEVICE)
    ph, pw, stride, ho, wo = check_pool_params(x, pool_param)
    (dout,) = as_float_arrays(("dout",), dout, arrays=DEVICE)
    check_shape("dout", dout, (*x.shape[:2], ho, wo), "the shape of the pooled output (N, C, H', W')")
    arg = _as_device("cache's arg", arg)
    expected = pool_offset_dtype(ph, pw)
    if arg.dtype != expected:
        raise TypeError(f"cache's arg: expected a {np.dtype(expected).name} array of window offsets, got dtype {arg.dtype}")
    check_shape("cache's arg", arg, dout.shape, "one window offset per output")
    dx, bad = conv.max_pool_backward(dout, _contiguous("cache's arg", arg), ph, pw, stride, x.shape)
    if bad:
        raise ValueError(f"cache's arg: expected window offsets in [0, {ph * pw}), got {bad} outside; "
                         "the cache does not come from max_pool_forward_naive with these settings")
    return dx


def conv2d_forward(x, w, b, conv_param):
    """
    A convolution with torch's options on the GPU, direct (a thread per
    output; no shared-memory tiling): inputs, returns and cache as
    :func:`fastnn.layers.conv2d_forward`.
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b, arrays=DEVICE)
    geometry = stride, padding, dilation, groups, size = check_conv2d_params(x, w, b, conv_param)
    out = conv_general.conv2d_forward(_contiguous("x", x), _contiguous("w", w), b, *stride, padding[0], padding[2], *dilation,
                                      groups, *size)
    return out, (x, w, b, conv2d_settings(geometry))


def conv2d_backward(dout, cache):
    """Backward pass of :func:`conv2d_forward` on the GPU: a thread per input, weight and filter, no atomics."""
    x, w, b, conv_param = unpack_cache(cache, ("x", "w", "b", "conv_param"), "conv2d_forward")
    x, w, b = as_float_arrays(("cache's x", "cache's w", "cache's b"), x, w, b, arrays=DEVICE)
    stride, padding, dilation, groups, size = check_conv2d_params(x, w, b, conv_param)
    (dout,) = as_float_arrays(("dout",), dout, arrays=DEVICE)
    check_shape("dout", dout, (x.shape[0], w.shape[0], *size), "the shape of the output (N, F, H', W')")
    return conv_general.conv2d_backward(dout, x, w, *stride, padding[0], padding[2], *dilation, groups)


def max_pool2d_forward(x, pool_param):
    """
    Max pooling with torch's options on the GPU, a thread per output; the
    same rule, indices and cache as :func:`fastnn.layers.max_pool2d_forward`.
    """
    (x,) = as_float_arrays(("x",), x, arrays=DEVICE)
    geometry = check_pool2d_params(x, pool_param)
    n, c, h, w = x.shape
    size = geometry[4]
    out, index = pool.max_pool2d_forward(x.reshape(n * c, h, w), *geometry)
    return out.reshape(n, c, *size), (x, pool2d_settings(pool_param, geometry), index.reshape(n, c, *size))


def max_pool2d_backward(dout, cache):
    """Backward pass of :func:`max_pool2d_forward` on the GPU, a thread per input gathering in output order (the CPU's sums)."""
    x, settings, index = unpack_cache(cache, ("x", "pool_param", "index"), "max_pool2d_forward")
    (x,) = as_float_arrays(("cache's x",), x, arrays=DEVICE)
    kernel, stride, padding, dilation, size = check_pool2d_params(x, cached_pool2d_options(settings))
    (dout,) = as_float_arrays(("dout",), dout, arrays=DEVICE)
    check_shape("dout", dout, (*x.shape[:2], *size), "the shape of the pooled output (N, C, H', W')")
    index = _as_device("cache's index", index)
    if index.dtype != np.int64:
        raise TypeError(f"cache's index: expected an int64 array, got dtype {index.dtype}")
    check_shape("cache's index", index, dout.shape, "one input index per output")
    n, c, h, w = x.shape
    dx, bad = pool.max_pool2d_backward(_contiguous("dout", dout).reshape(n * c, *size),
                                       _contiguous("cache's index", index).reshape(n * c, *size), (n * c, h, w),
                                       kernel, stride, padding, dilation)
    if bad:
        raise ValueError(f"cache's index: expected each index in its output's window, got {bad} outside; "
                         "the cache does not come from max_pool2d_forward with these settings")
    return dx.reshape(x.shape)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convolution, ReLU and max pooling on the GPU; as :func:`fastnn.layers.conv_relu_pool_forward`."""
    s, (conv_cache, a) = conv_relu_forward(x, w, b, conv_param)
    out, pool_cache = max_pool_forward_naive(s, pool_param)
    return out, (conv_cache, a, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """Backward pass of conv_relu_pool_forward on the GPU: (dx, dw, db)."""
    conv_cache, a, pool_cache = unpack_cache(cache, ("conv_cache", "relu_cache", "pool_cache"), "conv_relu_pool_forward")
    ds = max_pool_backward_naive(dout, pool_cache)
    return _conv_gradients(ds, conv_cache, "conv_relu_pool_forward", a)


def _running(bn_param, key, c, dtype, meaning):
    """bn_param[key] as a device vector of dtype (zeros when absent); host arrays are copied to the device."""
    value = bn_param.get(key)
    if value is None:
        return launch.zeros(c, dtype)
    device = launch.as_device_array(value)
    if device is None:
        device = to_device(np.asarray(value, dtype))
    elif device.dtype != dtype:
        device = launch.cast(_contiguous(f"bn_param['{key}']", device).reshape(device.size), dtype)
    check_shape(f"bn_param['{key}']", device, (c,), meaning)
    return _contiguous(f"bn_param['{key}']", device)


def dropout_forward(x, dropout_param):
    """
    Inverted dropout on the GPU: keep each unit with probability p and scale
    it by 1/p.

    As :func:`fastnn.layers.dropout_forward` (the same checks, 'seed'
    passed to np.random.seed on every call, the same cache), but the mask
    cannot be NumPy's: it comes from Philox4x32-10 on the device, under a
    key of two words drawn from NumPy's global generator
    (:mod:`fastnn.kernels.cuda.dropout`).  So a seed or np.random.seed makes
    GPU masks reproducible, and they are uniform with keep rate p, but they
    differ from the CPU's masks for the same seed.

    Inputs:
    - x: Device array of any shape
    - dropout_param: Dict with p, mode, and an optional seed

    Returns a tuple of:
    - out: Device array of x's shape and dtype
    - cache: (dropout_param, mask): a copy of dropout_param as forward used
      it, and a boolean device array (None in test mode)
    """
    mode = check_mode("dropout_param", dropout_param)
    p = check_keep_probability(dropout_param)
    (x,) = as_float_arrays(("x",), x, arrays=DEVICE)
    reseed(dropout_param)
    used = dict(dropout_param)
    if mode == "test":
        return launch.contiguous(x.reshape(x.size)).reshape(x.shape), (used, None)
    out, mask = dropout.dropout_forward(x, p, philox_key())
    return out, (used, mask)


def dropout_backward(dout, cache):
    """
    Backward pass of inverted dropout on the GPU; as :func:`fastnn.layers.dropout_backward`.

    Returns:
    - dx: Device array of dout's shape and dtype
    """
    dropout_param, mask = unpack_cache(cache, ("dropout_param", "mask"), "dropout_forward")
    p = check_keep_probability(dropout_param)
    (dout,) = as_float_arrays(("dout",), dout, arrays=DEVICE)
    if mask is None:
        return launch.contiguous(dout.reshape(dout.size)).reshape(dout.shape)
    device_mask = launch.as_device_array(mask)
    if device_mask is None or device_mask.dtype != np.bool_:
        raise TypeError(
            f"cache's mask: expected a boolean device array, got {type(mask).__name__} of dtype {getattr(mask, 'dtype', None)}"
        )
    check_shape("dout", dout, device_mask.shape, "the shape of the dropout mask")
    return dropout.dropout_backward(dout, _contiguous("cache's mask", device_mask), p)


def _batchnorm3(x3, gamma, beta, bn_param, mode, meaning):
    """
    Batch normalisation of x3 (N, C, P), statistics per channel over N and P
    (a feature of batchnorm is a channel with P = 1).

    Returns out3 and the cache's xhat3 and inv_std (C,) of x3's dtype; in
    train mode bn_param then holds the updated running averages as device arrays.
    """
    c = x3.shape[1]
    eps = check_eps("bn_param", bn_param)
    momentum = check_momentum("bn_param", bn_param)
    running_mean = _running(bn_param, "running_mean", c, x3.dtype, meaning)
    running_var = _running(bn_param, "running_var", c, x3.dtype, meaning)
    out, xhat, inv_std = conv.spatial_batchnorm_forward(
        x3, gamma, beta, eps, mode == "train", running_mean, running_var, momentum
    )
    if mode == "train":
        bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return out, xhat, inv_std


def _norm_grad_arrays(dout, xhat, gamma, inv_std):
    """A normalisation backward's dout and cached arrays as device arrays of one float dtype."""
    return as_float_arrays(("dout", "cache's xhat", "cache's gamma", "cache's inv_std"), dout, xhat, gamma, inv_std, arrays=DEVICE)


def _norm_inputs(x, gamma, beta):
    x, gamma, beta = as_float_arrays(("x", "gamma", "beta"), x, gamma, beta, arrays=DEVICE)
    check_ndim("x", x, 2, "(N, D)")
    check_shape("gamma", gamma, (x.shape[1],), "one scale per feature")
    check_shape("beta", beta, (x.shape[1],), "one shift per feature")
    return x, gamma, beta


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batch normalisation of each feature over the batch, on the GPU:
    statistics reduced in float64 by a block per feature.

    As :func:`fastnn.layers.batchnorm_forward`, on device arrays; bn_param's
    running_mean and running_var are device arrays of x's dtype (host arrays
    given there are copied to the device, and in train mode the dict then
    holds the device arrays, updated at every call).

    Inputs:
    - x: Device array of shape (N, D)
    - gamma, beta: Device arrays of shape (D,)
    - bn_param: Dict with mode, eps, momentum, running_mean, running_var

    Returns a tuple of:
    - out: Device array of shape (N, D)
    - cache: (xhat, gamma, inv_std, mode)
    """
    mode = check_mode("bn_param", bn_param)
    x, gamma, beta = _norm_inputs(x, gamma, beta)
    n, d = x.shape
    if mode == "train" and n == 0:
        raise ValueError(f"x: expected at least one row to take batch statistics from, got shape {x.shape}")
    out, xhat, inv_std = _batchnorm3(x.reshape(n, d, 1), gamma, beta, bn_param, mode, "one per feature")
    return out.reshape(n, d), (xhat.reshape(n, d), gamma, inv_std, mode)


def batchnorm_backward(dout, cache):
    """
    Backward pass of batch normalisation on the GPU; as :func:`fastnn.layers.batchnorm_backward`.

    Returns a tuple of device arrays dx (N, D), dgamma (D,), dbeta (D,).
    """
    xhat, gamma, inv_std, mode = unpack_cache(cache, ("xhat", "gamma", "inv_std", "mode"), "batchnorm_forward")
    check_cache_mode(mode)
    dout, xhat, gamma, inv_std = _norm_grad_arrays(dout, xhat, gamma, inv_std)
    check_ndim("dout", dout, 2, "(N, D)")
    n, d = dout.shape
    check_shape("cache's xhat", xhat, dout.shape, "the shape of dout (N, D)")
    check_shape("cache's gamma", gamma, (d,), "one scale per feature")
    check_shape("cache's inv_std", inv_std, (d,), "one per feature")
    dx, dgamma, dbeta = conv.spatial_batchnorm_backward(
        dout.reshape(n, d, 1), xhat.reshape(n, d, 1), gamma, inv_std, mode == "train"
    )
    return dx.reshape(n, d), dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The closed-form batchnorm backward; on the GPU, as on the CPU, it is :func:`batchnorm_backward`."""
    return batchnorm_backward(dout, cache)


def layernorm_forward(x, gamma, beta, ln_param):
    """
    Layer normalisation of each example over its features, on the GPU: a
    row's statistics reduced in float64 by a block (the batchnorm kernels,
    a row taken as a channel).

    As :func:`fastnn.layers.layernorm_forward`, on device arrays.

    Returns a tuple of:
    - out: Device array of shape (N, D)
    - cache: (xhat, gamma, inv_std) with inv_std of shape (N, 1)
    """
    if not isinstance(ln_param, dict):
        raise TypeError(f"ln_param: expected a dict, got {type(ln_param).__name__}")
    eps = check_eps("ln_param", ln_param)
    x, gamma, beta = _norm_inputs(x, gamma, beta)
    n, d = x.shape
    xhat, inv_std = conv.rows_normalised(x.reshape(1, n, d), eps)
    xhat = xhat.reshape(n, d)
    return elementwise.scale_shift_channels(xhat, gamma, beta, d, 1), (xhat, gamma, inv_std.reshape(n, 1))


def layernorm_backward(dout, cache):
    """
    Backward pass of layer normalisation on the GPU; as :func:`fastnn.layers.layernorm_backward`.

    Returns a tuple of device arrays dx (N, D), dgamma (D,), dbeta (D,).
    """
    xhat, gamma, inv_std = unpack_cache(cache, ("xhat", "gamma", "inv_std"), "layernorm_forward")
    dout, xhat, gamma, inv_std = _norm_grad_arrays(dout, xhat, gamma, inv_std)
    check_ndim("dout", dout, 2, "(N, D)")
    n, d = dout.shape
    check_shape("cache's xhat", xhat, dout.shape, "the shape of dout (N, D)")
    check_shape("cache's gamma", gamma, (d,), "one scale per feature")
    check_shape("cache's inv_std", inv_std, (n, 1), "one per row")
    g, p = elementwise.grad_products(dout, gamma, xhat, d, 1)
    dx = _rows_dx(g.reshape(1, n, d), xhat.reshape(1, n, d), inv_std.reshape(n))
    return dx.reshape(n, d), reductions.column_sums(p), reductions.column_sums(dout)


def affine_norm_relu_forward(x, w, b, gamma, beta, norm_param, norm="batchnorm"):
    """Affine, batch or layer normalisation, ReLU on the GPU; as :func:`fastnn.layers.affine_norm_relu_forward`."""
    return norm_sandwich_forward(sys.modules[__name__], x, w, b, gamma, beta, norm_param, norm)


def affine_norm_relu_backward(dout, cache):
    """Backward pass of affine_norm_relu_forward on the GPU: (dx, dw, db, dgamma, dbeta)."""
    return norm_sandwich_backward(sys.modules[__name__], dout, cache)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """
    Spatial batch normalisation on the GPU, statistics per channel reduced
    in float64 by a block each.

    As :func:`fastnn.layers.spatial_batchnorm_forward`, on device arrays;
    bn_param's running_mean and running_var are device arrays of x's dtype
    (host arrays given there are copied to the device, and in train mode the
    dict then holds the device arrays, updated in place at every call).
    """
    mode = check_mode("bn_param", bn_param)
    x, gamma, beta = as_float_arrays(("x", "gamma", "beta"), x, gamma, beta, arrays=DEVICE)
    check_ndim("x", x, 4, "(N, C, H, W)")
    n, c, h, w = x.shape
    check_shape("gamma", gamma, (c,), "one scale per channel, (C,)")
    check_shape("beta", beta, (c,), "one shift per channel, (C,)")
    if mode == "train" and n * h * w == 0:
        raise ValueError(f"x: expected at least one value per channel to take batch statistics from, got shape {x.shape}")
    out, xhat, inv_std = _batchnorm3(x.reshape(n, c, h * w), gamma, beta, bn_param, mode, "one per channel")
    return out.reshape(x.shape), (xhat.reshape(x.shape), gamma, inv_std, mode)


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalisation on the GPU; as :func:`fastnn.layers.spatial_batchnorm_backward`."""
    xhat, gamma, inv_std, mode = unpack_cache(cache, ("xhat", "gamma", "inv_std", "mode"), "spatial_batchnorm_forward")
    check_cache_mode(mode)
    dout, xhat, gamma, inv_std = _norm_grad_arrays(dout, xhat, gamma, inv_std)
    check_ndim("dout", dout, 4, "(N, C, H, W)")
    n, c, h, w = dout.shape
    check_shape("cache's xhat", xhat, dout.shape, "the shape of dout (N, C, H, W)")
    check_shape("cache's gamma", gamma, (c,), "one scale per channel")
    check_shape("cache's inv_std", inv_std, (c,), "one per channel")
    dx, dgamma, dbeta = conv.spatial_batchnorm_backward(
        dout.reshape(n, c, h * w), xhat.reshape(n, c, h * w), gamma, inv_std, mode == "train"
    )
    return dx.reshape(dout.shape), dgamma, dbeta


def _rows_dx(g3, xhat3, inv_std):
    """dx of row normalisation (kernels' conv.rows_normalised) for dxhat = g3, both (1, R, M)."""
    r = g3.shape[1]
    dx, _, _ = conv.spatial_batchnorm_backward(g3, xhat3, launch.full(r, g3.dtype, 1), inv_std, True)
    return dx


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """
    Spatial group normalisation on the GPU: each (image, group) normalised
    by a block, in float64; as :func:`fastnn.layers.spatial_groupnorm_forward`.

    Returns a tuple of:
    - out: Device array of shape (N, C, H, W)
    - cache: (xhat, gamma, inv_std, G) with inv_std of shape (N, G)
    """
    if not isinstance(gn_param, dict):
        raise TypeError(f"gn_param: expected a dict, got {type(gn_param).__name__}")
    x, gamma, beta = as_float_arrays(("x", "gamma", "beta"), x, gamma, beta, arrays=DEVICE)
    check_ndim("x", x, 4, "(N, C, H, W)")
    n, c, h, w = x.shape
    check_shape("gamma", gamma, (1, c, 1, 1), "one scale per channel, (1, C, 1, 1)")
    check_shape("beta", beta, (1, c, 1, 1), "one shift per channel, (1, C, 1, 1)")
    G = check_groups(G, c)
    if c * h * w == 0:
        raise ValueError(f"x: expected at least one value per group to take statistics from, got shape {x.shape}")
    xhat, inv_std = conv.rows_normalised(x.reshape(1, n * G, (c // G) * h * w), check_eps("gn_param", gn_param))
    xhat = xhat.reshape(x.shape)
    out = elementwise.scale_shift_channels(xhat, gamma.reshape(c), beta.reshape(c), c, h * w)
    return out, (xhat, gamma, inv_std.reshape(n, G), G)


def spatial_groupnorm_backward(dout, cache):
    """
    Backward pass of spatial group normalisation on the GPU; as :func:`fastnn.layers.spatial_groupnorm_backward`.

    Returns a tuple of device arrays dx (N, C, H, W), dgamma and dbeta (1, C, 1, 1).
    """
    xhat, gamma, inv_std, G = unpack_cache(cache, ("xhat", "gamma", "inv_std", "G"), "spatial_groupnorm_forward")
    dout, xhat, gamma, inv_std = _norm_grad_arrays(dout, xhat, gamma, inv_std)
    check_ndim("dout", dout, 4, "(N, C, H, W)")
    n, c, h, w = dout.shape
    check_shape("cache's xhat", xhat, dout.shape, "the shape of dout (N, C, H, W)")
    check_shape("cache's gamma", gamma, (1, c, 1, 1), "one scale per channel")
    G = check_groups(G, c, "cache's G")
    check_shape("cache's inv_std", inv_std, (n, G), "one per image and group")
    rows = (1, n * G, (c // G) * h * w)
    g = elementwise.scale_channels(dout, gamma.reshape(c), c, h * w)
    dx = _rows_dx(g.reshape(rows), xhat.reshape(rows), inv_std.reshape(n * G))
    dgamma, dbeta = conv.channel_grad_sums(dout.reshape(n, c, h * w), xhat.reshape(n, c, h * w))
    return dx.reshape(dout.shape), dgamma.reshape(1, c, 1, 1), dbeta.reshape(1, c, 1, 1)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """Convolution, spatial batchnorm, ReLU on the GPU; as :func:`fastnn.layers.conv_bn_relu_forward`."""
    return conv_sandwich_forward(sys.modules[__name__], x, w, b, gamma, beta, conv_param, bn_param)


def conv_bn_relu_backward(dout, cache):
    """Backward pass of conv_bn_relu_forward on the GPU: (dx, dw, db, dgamma, dbeta)."""
    return conv_sandwich_backward(sys.modules[__name__], dout, cache)


# ------------------------------------------------ streams


def as_stream(stream):
    """
    The Numba stream for a caller's stream: a Numba stream as it is; a
    PyTorch ``torch.cuda.Stream`` (``cuda_stream``), a CuPy stream
    (``ptr``) or anything with ``__cuda_stream__`` through
    ``numba.cuda.external_stream``, without taking ownership.
    """
    if type(stream) is launch.STREAM:
        return stream
    handle = None
    if hasattr(stream, "__cuda_stream__"):
        handle = stream.__cuda_stream__()[1]
    elif type(getattr(stream, "cuda_stream", None)) is int:
        handle = stream.cuda_stream
    elif type(getattr(stream, "ptr", None)) is int:
        handle = stream.ptr
    if handle is None:
        raise TypeError(
            f"stream: expected a Numba stream, a torch.cuda.Stream, a CuPy stream or an object with __cuda_stream__, "
            f"got {type(stream).__module__}.{type(stream).__name__}"
        )
    if SIMULATOR:
        raise TypeError("stream: the CUDA simulator runs on Numba streams only, not on another library's stream handle")
    return launch.cuda.external_stream(handle)


def _streamed(function):
    """function with a keyword-only stream=: its kernels and result copies then go on that stream."""

    @functools.wraps(function)
    def on_stream(*args, stream=None, **kwargs):
        if stream is None:
            return function(*args, **kwargs)
        with launch.on_stream(as_stream(stream)):
            return function(*args, **kwargs)

    signature = inspect.signature(function)
    keyword = inspect.Parameter("stream", inspect.Parameter.KEYWORD_ONLY, default=None)
    on_stream.__signature__ = signature.replace(parameters=[*signature.parameters.values(), keyword])
    return on_stream


for _name in __all__:
    if _name not in ("is_device_array", "as_stream", "synchronize", "device_name"):
        globals()[_name] = _streamed(globals()[_name])
del _name
