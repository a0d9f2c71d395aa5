"""Argument checks for the public API.

The Numba kernels trust their inputs: a wrong shape makes them read out of
bounds without a word.  Every public function therefore passes its
arguments through these helpers first, and every failure names the
argument, what was expected and what was given.
"""

import math

import numpy as np

SUPPORTED_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_F32, _F64 = SUPPORTED_FLOATS


def _as_array(name, value):
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name}: expected an array-like of numbers, got {type(value).__name__}") from exc


def _min_max(y):
    return y.min(), y.max()


class HostArrays:
    """How the converters below reach NumPy arrays; :mod:`fastnn.cuda` has the device twin.

    - as_array(name, value): the value as an array of this backend, or TypeError naming it
    - convert(name, array, dtype): a C-contiguous array of ``dtype`` (the array itself when it is one)
    - labels(array): a C-contiguous integer array of the kernels' label dtype
    - value_range(labels): (min, max) of a non-empty label array
    - to_host(array): a NumPy view or copy, for error messages
    """

    as_array = staticmethod(_as_array)
    to_host = staticmethod(np.asarray)

    def __init__(self, value_range=_min_max):
        # value_range may be a compiled one-pass kernel; NumPy's two
        # reductions cost about 2 us on small batches.
        self.value_range = value_range

    @staticmethod
    def convert(name, array, dtype):
        # np.asarray rather than np.ascontiguousarray, which turns 0-d into 1-d.
        return np.asarray(array, dtype=dtype, order="C")

    @staticmethod
    def labels(y):
        return np.ascontiguousarray(y, dtype=np.intp)


HOST = HostArrays()


def _float_dtype(name, array):
    kind = array.dtype.kind
    if kind in "biu":
        return np.dtype(np.float64)
    if array.dtype in SUPPORTED_FLOATS:
        return array.dtype
    if kind == "f" and array.dtype.newbyteorder("=") in SUPPORTED_FLOATS:
        return array.dtype.newbyteorder("=")  # big-endian floats: converted, as NumPy would
    raise TypeError(
        f"{name}: expected a float32 or float64 array (integer arrays are treated "
        f"as float64), got dtype {array.dtype}"
    )


def _ready(values):
    """True when every value is already a C-contiguous ndarray of one float dtype."""
    dtype = getattr(values[0], "dtype", None)
    if dtype is not _F32 and dtype is not _F64:
        return False
    for v in values:
        if type(v) is not np.ndarray or v.dtype is not dtype or not v.flags.c_contiguous:
            return False
    return True


def as_float_arrays(names, *values, arrays=HOST):
    """Convert the inputs to C-contiguous arrays of one float dtype.

    float32 stays float32 and float64 stays float64; integer and boolean
    arrays count as float64, and mixed inputs are promoted to float64.
    Host inputs that already qualify are returned as they are, at the cost
    of a few attribute checks (this path runs on every layer call).

    Inputs:
    - names: Tuple of the argument names, used in error messages
    - values: The arguments, one per name
    - arrays: HOST, or the device adapter of fastnn.cuda

    Returns the converted arrays in the order they were given.
    """
    if arrays is HOST and _ready(values):
        return values
    found = [arrays.as_array(name, value) for name, value in zip(names, values)]
    dtype = np.result_type(*[_float_dtype(name, a) for name, a in zip(names, found)])
    return tuple(arrays.convert(name, a, dtype) for name, a in zip(names, found))


def as_labels(y, num_rows, num_classes, arrays=HOST, check_range=True):
    """Return ``y`` as a contiguous integer vector of labels in ``[0, num_classes)``.

    Inputs:
    - y: Integer class labels, of shape (num_rows,)
    - num_rows, num_classes: The shape (N, C) of the scores they label
    - arrays: HOST (or a HostArrays with a compiled value_range), or the
      device adapter of fastnn.cuda
    - check_range: False where the kernel that reads y counts the labels
      out of range itself (the GPU losses: no host round trip of its own);
      the caller then calls this again with True to raise the error
    """
    y = arrays.as_array("y", y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"y: expected integer class labels, got dtype {y.dtype}")
    check_shape("y", y, (num_rows,), "one label per row of x")
    y = arrays.labels(y)
    if num_rows and check_range:
        low, high = arrays.value_range(y)
        if low < 0 or high >= num_classes:
            bad = low if low < 0 else high
            index = int(np.flatnonzero(arrays.to_host(y) == bad)[0])
            raise ValueError(
                f"y: expected labels in [0, {num_classes}) for x with {num_classes} classes, "
                f"got y[{index}] = {bad}"
            )
    return y


def check_shape(name, array, expected, meaning=""):
    """Raise ``ValueError`` unless ``array.shape == expected``."""
    if array.shape != tuple(expected):
        why = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name}: expected shape {tuple(expected)}{why}, got shape {array.shape}")


def check_ndim(name, array, ndim, layout):
    """Raise ``ValueError`` unless ``array`` has ``ndim`` dimensions."""
    if array.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array of shape {layout}, got shape {array.shape}")


def check_out(out, like):
    """Check a caller-supplied output buffer against the array it must match."""
    if type(out) not in (np.ndarray, np.memmap):
        raise TypeError(f"out: expected a numpy.ndarray or numpy.memmap, got {type(out).__name__}")
    if out.dtype != like.dtype:
        raise TypeError(f"out: expected dtype {like.dtype}, got dtype {out.dtype}")
    check_shape("out", out, like.shape, "the shape of the result")
    flags = out.flags  # a new object at every access
    if not flags.c_contiguous or not flags.writeable:
        raise ValueError("out: expected a writeable C-contiguous array, got one that is not")


def check_scores(x):
    """Check a score matrix for a loss: 2-D, with at least one row and one class."""
    check_ndim("x", x, 2, "(N, C)")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x: expected at least one row and one class, got shape {x.shape}")


def unpack_cache(cache, names, layer):
    """Unpack a cache tuple, checking it has the fields ``layer``'s forward stores."""
    if not isinstance(cache, tuple) or len(cache) != len(names):
        fields = ", ".join(names)
        raise TypeError(
            f"cache: expected the tuple ({fields}) returned by {layer}, got {type(cache).__name__}"
            + (f" of length {len(cache)}" if isinstance(cache, tuple) else "")
        )
    return cache


def check_affine_params(x, w, b):
    """Check x (N, d_1, ..., d_k), w (D, M), b (M,); return x viewed as (N, D)."""
    if x.ndim < 1:
        raise ValueError(f"x: expected an array of shape (N, d_1, ..., d_k), got a scalar of shape {x.shape}")
    d = math.prod(x.shape[1:])
    check_ndim("w", w, 2, "(D, M)")
    if w.shape[0] != d:
        raise ValueError(
            f"w: expected shape ({d}, M) since x of shape {x.shape} flattens to D = {d} "
            f"features per row, got shape {w.shape}"
        )
    check_shape("b", b, (w.shape[1],), f"one bias per column of w, M = {w.shape[1]}")
    return x.reshape(x.shape[0], d)


def check_affine_grad(dout, x, w):
    """Check that dout has the affine output's shape (N, M)."""
    check_shape("dout", dout, (x.shape[0], w.shape[1]), "the shape of the forward output (N, M)")


def check_mode(param_name, param):
    """Check that ``param`` is a dict whose 'mode' is 'train' or 'test'; return the mode."""
    if not isinstance(param, dict):
        raise TypeError(f"{param_name}: expected a dict, got {type(param).__name__}")
    mode = param.get("mode", None)
    if mode not in ("train", "test"):
        raise ValueError(f"{param_name}['mode']: expected 'train' or 'test', got {mode!r}")
    return mode


def check_eps(name, param):
    """param['eps'] (default 1e-5) must be a finite number >= 0; returned as a float."""
    eps = param.get("eps", 1e-5)
    if not is_real(eps) or not 0 <= eps < np.inf:
        raise ValueError(f"{name}['eps']: expected a finite number >= 0, got {eps!r}")
    return float(eps)


def check_momentum(name, param):
    """param['momentum'] (default 0.9) must be a number in [0, 1]; returned as a float."""
    momentum = param.get("momentum", 0.9)
    if not is_real(momentum) or not 0 <= momentum <= 1:
        raise ValueError(f"{name}['momentum']: expected a number in [0, 1], got {momentum!r}")
    return float(momentum)


def running_average(param, key, count, dtype, meaning):
    """param[key] (zeros when absent) as a host array of dtype and shape (count,), its name in every error."""
    name = f"bn_param['{key}']"
    value = param.get(key)
    if value is None:
        return np.zeros(count, dtype)
    kind = getattr(np.asarray(value) if isinstance(value, (list, tuple, np.ndarray, np.generic, int, float)) else None, "dtype", None)
    if kind is None or kind.kind not in "fiub":
        raise TypeError(f"{name}: expected a real array of shape ({count},) ({meaning}), got {type(value).__name__}"
                        + (f" of dtype {kind}" if kind is not None else ""))
    value = np.asarray(value, dtype)
    check_shape(name, value, (count,), meaning)
    return value


def check_groups(G, c, name="G"):
    """G must be a positive integer that divides the c channels; returned as an int."""
    if not is_integer(G) or G < 1 or c % G:
        raise ValueError(f"{name}: expected a positive integer that divides the C = {c} channels, got {G!r}")
    return int(G)


def check_keep_probability(dropout_param):
    """dropout_param['p'] must be a keep probability in (0, 1]."""
    if not isinstance(dropout_param, dict):
        raise TypeError(f"dropout_param: expected a dict, got {type(dropout_param).__name__}")
    p = dropout_param.get("p", None)
    if not is_real(p) or not 0 < p <= 1:
        raise ValueError(f"dropout_param['p']: expected a keep probability in (0, 1], got {p!r}")
    return float(p)


def same_buffer(a, b):
    """True when two C-contiguous arrays of one shape start at the same address (exact aliasing)."""
    return a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.shape == b.shape


def check_cache_mode(mode):
    """A normalisation cache's mode must be 'train' or 'test', exactly."""
    if not isinstance(mode, str) or mode not in ("train", "test"):
        raise ValueError(f"cache's mode: expected 'train' or 'test', got {mode!r}")


def is_integer(value):
    """A Python or NumPy integer, and not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_real(value):
    """A Python or NumPy real number (int or float), and not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _param_int(param_name, param, key, minimum):
    value = param.get(key)
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{param_name}['{key}']: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _output_size(what, size, window, stride, pad=0):
    """1 + (size + 2 pad - window) // stride, floored as the course's naive code and torch floor it: at least 1."""
    span = size + 2 * pad - window
    if span < 0:
        padded = f"{size} + 2 * {pad}" if pad else f"{size}"
        raise ValueError(f"{what}: the window of {window} does not fit in the input of {padded} = {size + 2 * pad}")
    return 1 + span // stride


#: No convolution array beyond this (64 TiB) is attempted: NumPy's own
#: failures (MemoryError, "Maximum allowed dimension exceeded") name nothing.
_MAX_CONV_BYTES = 1 << 46


def check_conv_params(x, w, b, conv_param):
    """Check x (N, C, H, W), w (F, C, HH, WW), b (F,) and conv_param; return (stride, pad, Ho, Wo)."""
    if not isinstance(conv_param, dict):
        raise TypeError(f"conv_param: expected a dict with 'stride' and 'pad', got {type(conv_param).__name__}")
    check_ndim("x", x, 4, "(N, C, H, W)")
    check_ndim("w", w, 4, "(F, C, HH, WW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"w: expected shape (F, {x.shape[1]}, HH, WW) since x of shape {x.shape} has C = {x.shape[1]} channels, "
            f"got shape {w.shape}"
        )
    if w.shape[2] < 1 or w.shape[3] < 1:
        raise ValueError(f"w: expected filters of at least 1 x 1, got shape {w.shape}")
    check_shape("b", b, (w.shape[0],), f"one bias per filter, F = {w.shape[0]}")
    stride = _param_int("conv_param", conv_param, "stride", 1)
    pad = _param_int("conv_param", conv_param, "pad", 0)
    ho = _output_size("conv_param: height", x.shape[2], w.shape[2], stride, pad)
    wo = _output_size("conv_param: width", x.shape[3], w.shape[3], stride, pad)
    # The output and one padded image are allocated: name pad when it makes either impossible.
    for what, shape in (("an output", (x.shape[0], w.shape[0], ho, wo)), ("a padded image", (x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad))):
        nbytes = math.prod(shape) * x.dtype.itemsize
        if nbytes > _MAX_CONV_BYTES:
            raise ValueError(f"conv_param['pad']: {pad} makes {what} of shape {shape}, {nbytes / 2**40:.1f} TiB; "
                             f"expected at most {_MAX_CONV_BYTES >> 40} TiB")
    return stride, pad, ho, wo


CONV2D_KEYS = ("stride", "padding", "dilation", "groups")


def conv2d_settings(geometry):
    """The settings a conv2d cache keeps: check_conv2d_params' geometry, every option spelled out."""
    return dict(zip(("stride", "padding", "dilation", "groups"), geometry[:4]))


def check_conv2d_params(x, w, b, conv_param):
    """
    Check x (N, C, H, W), w (F, C / groups, HH, WW), b (F,) and conv_param,
    torch's conv2d options: 'stride' and 'dilation' (ints or pairs, default
    1), 'padding' (an int, a pair (rows, columns) or four sizes (top,
    bottom, left, right); default 0) and 'groups' (default 1).  Return
    (stride, padding, dilation, groups, (Ho, Wo)): pairs, four sizes, a pair, an int.
    """
    if not isinstance(conv_param, dict):
        raise TypeError(f"conv_param: expected a dict with some of {CONV2D_KEYS}, got {type(conv_param).__name__}")
    unknown = sorted(set(conv_param) - set(CONV2D_KEYS))
    if unknown:
        raise ValueError(f"conv_param: unknown keys {unknown}; expected some of {CONV2D_KEYS}")
    check_ndim("x", x, 4, "(N, C, H, W)")
    check_ndim("w", w, 4, "(F, C / groups, HH, WW)")
    groups = conv_param.get("groups", 1)
    if not is_integer(groups) or groups < 1:
        raise ValueError(f"conv_param['groups']: expected an integer >= 1, got {groups!r}")
    groups = int(groups)
    f, c = w.shape[0], x.shape[1]
    if c % groups or f % groups or w.shape[1] * groups != c:
        raise ValueError(f"w: expected shape (F, C / groups, HH, WW) with C = {c} and F divisible by groups = {groups}, "
                         f"got shape {w.shape}")
    if w.shape[2] < 1 or w.shape[3] < 1:
        raise ValueError(f"w: expected filters of at least 1 x 1, got shape {w.shape}")
    check_shape("b", b, (f,), f"one bias per filter, F = {f}")
    stride = _pair("conv_param", conv_param, "stride", 1, 1)
    dilation = _pair("conv_param", conv_param, "dilation", 1, 1)
    value = conv_param.get("padding", 0)
    sizes = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(sizes) not in (1, 2, 4) or not all(is_integer(v) and v >= 0 for v in sizes):
        raise ValueError(f"conv_param['padding']: expected an integer >= 0, a pair (rows, columns) or four sizes "
                         f"(top, bottom, left, right), got {value!r}")
    if len(sizes) == 1:
        sizes = sizes * 4
    elif len(sizes) == 2:
        sizes = (sizes[0], sizes[0], sizes[1], sizes[1])
    padding = tuple(int(v) for v in sizes)
    size = []
    for axis, what in ((0, "height"), (1, "width")):
        padded = x.shape[2 + axis] + padding[2 * axis] + padding[2 * axis + 1]
        span = dilation[axis] * (w.shape[2 + axis] - 1) + 1
        if padded < span:
            raise ValueError(f"conv_param: the {what} {x.shape[2 + axis]} padded to {padded} is smaller than the dilated filter {span}")
        size.append((padded - span) // stride[axis] + 1)
    for what, shape in (("an output", (x.shape[0], f, *size)), ("a column matrix", (c * w.shape[2] * w.shape[3], size[0] * size[1]))):
        nbytes = math.prod(shape) * x.dtype.itemsize
        if nbytes > _MAX_CONV_BYTES:
            raise ValueError(f"conv_param['padding']: {padding} makes {what} of shape {shape}, {nbytes / 2**40:.1f} TiB; "
                             f"expected at most {_MAX_CONV_BYTES >> 40} TiB")
    return stride, padding, dilation, groups, tuple(size)


def check_pool_params(x, pool_param):
    """Check x (N, C, H, W) and pool_param; return (pool_height, pool_width, stride, Ho, Wo)."""
    if not isinstance(pool_param, dict):
        raise TypeError(
            f"pool_param: expected a dict with 'pool_height', 'pool_width' and 'stride', got {type(pool_param).__name__}"
        )
    check_ndim("x", x, 4, "(N, C, H, W)")
    ph = _param_int("pool_param", pool_param, "pool_height", 1)
    pw = _param_int("pool_param", pool_param, "pool_width", 1)
    stride = _param_int("pool_param", pool_param, "stride", 1)
    ho = _output_size("pool_param: height", x.shape[2], ph, stride)
    wo = _output_size("pool_param: width", x.shape[3], pw, stride)
    return ph, pw, stride, ho, wo


def _pair(param_name, param, key, minimum, default=None):
    """param[key] as a pair (rows, columns) of integers >= minimum: an int is used for both."""
    value = param.get(key, default)
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(is_integer(v) and v >= minimum for v in pair):
        raise ValueError(f"{param_name}['{key}']: expected an integer >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


POOL2D_KEYS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")


def pool2d_settings(pool_param, geometry):
    """The settings a max_pool2d cache keeps: check_pool2d_params' geometry as pairs, ceil_mode, and 'out_size'."""
    settings = dict(zip(("kernel_size", "stride", "padding", "dilation", "out_size"), geometry))
    settings["ceil_mode"] = bool(pool_param.get("ceil_mode", False))
    return settings


def check_pool2d_params(x, pool_param):
    """
    Check x (N, C, H, W) and pool_param, torch's max_pool2d options
    (kernel_size, stride (default kernel_size), padding, dilation, ceil_mode);
    return (kernel, stride, padding, dilation, (Ho, Wo)), each a pair.
    """
    if not isinstance(pool_param, dict):
        raise TypeError(f"pool_param: expected a dict with keys {POOL2D_KEYS}, got {type(pool_param).__name__}")
    unknown = sorted(set(pool_param) - set(POOL2D_KEYS))
    if unknown:
        raise ValueError(f"pool_param: unknown keys {unknown}; expected some of {POOL2D_KEYS}")
    check_ndim("x", x, 4, "(N, C, H, W)")
    kernel = _pair("pool_param", pool_param, "kernel_size", 1)
    stride = _pair("pool_param", pool_param, "stride", 1, pool_param.get("kernel_size"))
    if pool_param.get("stride") is None:
        stride = kernel
    padding = _pair("pool_param", pool_param, "padding", 0, 0)
    dilation = _pair("pool_param", pool_param, "dilation", 1, 1)
    ceil_mode = pool_param.get("ceil_mode", False)
    if type(ceil_mode) is not bool:
        raise TypeError(f"pool_param['ceil_mode']: expected a bool, got {ceil_mode!r}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"pool_param['padding']: expected at most half the kernel size {kernel}, got {padding} (torch's rule)")
    size = []
    for axis, what in ((0, "height"), (1, "width")):
        extent = x.shape[2 + axis] + 2 * padding[axis] - dilation[axis] * (kernel[axis] - 1) - 1
        s = stride[axis]
        out = (extent + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= x.shape[2 + axis] + padding[axis]:
            out -= 1  # the last window would start in the right padding (torch's rule)
        if out < 1 or extent < 0:
            raise ValueError(f"pool_param: the {what} {x.shape[2 + axis]} with padding {padding[axis]} is smaller than "
                             f"the dilated window {dilation[axis] * (kernel[axis] - 1) + 1}")
        size.append(out)
    return kernel, stride, padding, dilation, tuple(size)


def cached_pool2d_options(settings):
    """A cache's pool settings without the 'out_size' the forward adds (it is derived again, not trusted)."""
    if not isinstance(settings, dict):
        raise TypeError(f"cache's pool_param: expected the dict max_pool2d_forward stores, got {type(settings).__name__}")
    return {k: v for k, v in settings.items() if k != "out_size"}


def check_margin_options(p, margin):
    """Check multi_margin_rows' p (1 or 2) and margin (a finite real); return them as the kernels take them."""
    if type(p) is not int or p not in (1, 2):
        raise ValueError(f"p: expected 1 or 2 (torch's choices), got {p!r}")
    if not is_real(margin) or not np.isfinite(margin):
        raise ValueError(f"margin: expected a finite real number, got {margin!r}")
    return p, float(margin)


_NO_RELU = object()


def check_conv_grad(dout, conv_cache, layer, a=_NO_RELU, arrays=HOST):
    """
    Check a convolution backward's dout, its cache (x, w, b, conv_param) and,
    for a fused ReLU, the cached pre-activation a, like forward inputs (a
    None there is an error: the ReLU's mask would be skipped).

    Returns (dout, x, w, stride, pad, a), the arrays converted to one dtype
    (a None when not given).
    """
    if a is None:
        raise TypeError(f"relu_cache: expected the convolution's output array cached by {layer}, got None")
    x, w, b, conv_param = unpack_cache(conv_cache, ("x", "w", "b", "conv_param"), layer)
    extra = () if a is _NO_RELU else (a,)
    names = ("dout", "cache's x", "cache's w", "cache's b", "relu_cache")[: 4 + len(extra)]
    dout, x, w, b, *a = as_float_arrays(names, dout, x, w, b, *extra, arrays=arrays)
    stride, pad, ho, wo = check_conv_params(x, w, b, conv_param)
    check_shape("dout", dout, (x.shape[0], w.shape[0], ho, wo), "the shape of the layer's output (N, F, H', W')")
    if a:
        check_shape("relu_cache", a[0], dout.shape, "the convolution's output, of dout's shape")
    return dout, x, w, stride, pad, (a[0] if a else None)
