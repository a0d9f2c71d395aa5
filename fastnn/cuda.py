"""The fastnn layers on an NVIDIA GPU: ``import fastnn.cuda as L``.

Same functions, signatures and error messages as :mod:`fastnn.layers`, on
GPU arrays: Numba device arrays or anything with ``__cuda_array_interface__``
(CuPy arrays, PyTorch CUDA tensors), taken without a copy.  Outputs and
caches stay on the device; losses come back as np.float64 scalars.  Host NumPy
arrays are refused with a TypeError: move them with :func:`to_device`.

Importing this module raises ImportError, saying what is missing, on a
machine without numba-cuda or without a GPU (set NUMBA_ENABLE_CUDASIM=1
before numba is imported to run on Numba's simulator instead).
"""

import numpy as np

from fastnn import catalog
from fastnn.kernels.cuda import SIMULATOR, elementwise, gemm, launch, losses, reductions
from fastnn.validation import (
    as_float_arrays,
    as_labels,
    check_affine_grad,
    check_affine_params,
    check_scores,
    check_shape,
    is_real,
    unpack_cache,
)

__all__ = [
    "to_device",
    "to_host",
    "empty_like",
    "take_rows",
    "sgd_update",
    "synchronize",
    "device_name",
    *catalog.function_names("cuda"),
]

def to_device(a):
    """Copy a host array (or anything NumPy accepts) to the GPU."""
    # np.asarray rather than np.ascontiguousarray, which turns 0-d into 1-d.
    return launch.cuda.to_device(np.asarray(a, order="C"))


def to_host(a):
    """Copy a device array back to a NumPy array."""
    return a.copy_to_host()


def empty_like(a):
    """An uninitialised device array of a's shape and dtype."""
    return launch.cuda.device_array_like(_as_device("a", a))


def take_rows(a, rows):
    """
    ``a[rows]`` on the device.

    Inputs:
    - a: Device array of shape (N, D)
    - rows: Device array of integer row indices in [0, N), of shape (B,)

    Returns:
    - Device array of shape (B, D)
    """
    a, rows = _as_device("a", a), _contiguous("rows", _as_device("rows", rows))
    if len(a.shape) != 2:
        raise ValueError(f"a: expected a 2-D array of shape (N, D), got shape {a.shape}")
    if rows.dtype != np.int64 or len(rows.shape) != 1:
        raise TypeError(f"rows: expected a 1-D int64 index array, got dtype {rows.dtype} of shape {rows.shape}")
    if rows.size:
        low, high = launch.label_range(rows)
        if low < 0 or high >= a.shape[0]:
            raise ValueError(f"rows: expected indices in [0, {a.shape[0]}), got values from {low} to {high}")
    return launch.gather_rows(_contiguous("a", a), rows)


def sgd_update(w, dw, lr):
    """
    ``w -= lr * dw`` in place on the device (the seed's plain SGD step).

    Inputs:
    - w: C-contiguous float32 or float64 device array, updated in place
    - dw: Device array of w's shape and dtype
    - lr: Learning rate, a finite number
    """
    w, dw = _as_device("w", w), _as_device("dw", dw)
    if w.dtype not in (np.float32, np.float64) or dw.dtype != w.dtype:
        raise TypeError(f"w, dw: expected float32 or float64 arrays of one dtype, got {w.dtype} and {dw.dtype}")
    check_shape("dw", dw, w.shape, "the shape of w")
    if not w.is_c_contiguous():
        raise ValueError("w: expected a C-contiguous array (it is updated in place)")
    if not is_real(lr) or not np.isfinite(lr):
        raise ValueError(f"lr: expected a finite number, got {lr!r}")
    elementwise.sgd_update(w, _contiguous("dw", dw), lr)


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

    @staticmethod
    def to_host(a):
        return a.copy_to_host()


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
    dw = gemm.gemm(x2, dout, trans_a=True)
    return dx.reshape(x.shape), dw, reductions.column_sums(dout)


def relu_forward(x):
    """
    Computes the forward pass for a layer of ReLUs on the GPU.

    Inputs:
    - x: Device array of any shape

    Returns a tuple of:
    - out: Device array max(x, 0), of x's shape
    - cache: x
    """
    (x,) = as_float_arrays(("x",), x, arrays=DEVICE)
    out = launch.cuda.device_array(x.shape, x.dtype)
    if x.size:
        elementwise.relu_forward(x.reshape(x.size), out.reshape(x.size))
    return out, x


def relu_backward(dout, cache):
    """
    Computes the backward pass for a layer of ReLUs on the GPU (gradient passes where x >= 0).

    Inputs:
    - dout: Device array of upstream derivatives
    - cache: Device array x, of dout's shape

    Returns:
    - dx: Device array of dout's shape
    """
    dout, x = as_float_arrays(("dout", "cache"), dout, cache, arrays=DEVICE)
    check_shape("dout", dout, x.shape, "the shape of the cached input x")
    dx = launch.cuda.device_array(x.shape, x.dtype)
    if x.size:
        elementwise.relu_backward(dout.reshape(x.size), x.reshape(x.size), dx.reshape(x.size))
    return dx


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
    db, da = reductions.column_sums(dout, a)
    dx = gemm.gemm(da, w, trans_b=True)
    dw = gemm.gemm(x2, da, trans_a=True)
    return dx.reshape(x.shape), dw, db


def _loss(kernel, x, y):
    (x,) = as_float_arrays(("x",), x, arrays=DEVICE)
    check_scores(x)
    y = as_labels(y, *x.shape, arrays=DEVICE)
    loss, dx = kernel(x, y)
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


