"""Argument checks for the public API.

The Numba kernels trust their inputs: a wrong shape makes them read out of
bounds without a word.  Every public function therefore passes its
arguments through these helpers first, and every failure names the
argument, what was expected and what was given.
"""

import numpy as np

SUPPORTED_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _as_array(name, value):
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name}: expected an array-like of numbers, got {type(value).__name__}") from exc


def _float_dtype(name, array):
    kind = array.dtype.kind
    if kind in "biu":
        return np.dtype(np.float64)
    if array.dtype in SUPPORTED_FLOATS:
        return array.dtype
    raise TypeError(
        f"{name}: expected a float32 or float64 array (integer arrays are treated "
        f"as float64), got dtype {array.dtype}"
    )


def as_float_arrays(**named):
    """Convert the named inputs to C-contiguous arrays of one float dtype.

    float32 stays float32 and float64 stays float64; integer and boolean
    arrays count as float64, and mixed inputs are promoted to float64.

    Returns the converted arrays in the order they were given.
    """
    arrays = {name: _as_array(name, value) for name, value in named.items()}
    dtypes = [_float_dtype(name, a) for name, a in arrays.items()]
    dtype = np.result_type(*dtypes)
    # np.asarray rather than np.ascontiguousarray, which turns 0-d into 1-d.
    return tuple(np.asarray(a, dtype=dtype, order="C") for a in arrays.values())


def check_shape(name, array, expected, meaning=""):
    """Raise ``ValueError`` unless ``array.shape == expected``."""
    if array.shape != tuple(expected):
        why = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name}: expected shape {tuple(expected)}{why}, got shape {array.shape}")


def check_ndim(name, array, ndim, layout):
    """Raise ``ValueError`` unless ``array`` has ``ndim`` dimensions."""
    if array.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array of shape {layout}, got shape {array.shape}")


def check_scores(x):
    """Check a score matrix for a loss: 2-D, with at least one row and one class."""
    check_ndim("x", x, 2, "(N, C)")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x: expected at least one row and one class, got shape {x.shape}")


def as_labels(y, num_rows, num_classes):
    """Return ``y`` as a contiguous ``intp`` vector of labels in ``[0, num_classes)``."""
    y = _as_array("y", y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"y: expected integer class labels, got dtype {y.dtype}")
    check_shape("y", y, (num_rows,), "one label per row of x")
    if num_rows:
        low, high = y.min(), y.max()
        if low < 0 or high >= num_classes:
            bad = low if low < 0 else high
            index = int(np.flatnonzero(y == bad)[0])
            raise ValueError(
                f"y: expected labels in [0, {num_classes}) for x with {num_classes} classes, "
                f"got y[{index}] = {bad}"
            )
    return np.ascontiguousarray(y, dtype=np.intp)


def unpack_cache(cache, names, layer):
    """Unpack a cache tuple, checking it has the fields ``layer``'s forward stores."""
    if not isinstance(cache, tuple) or len(cache) != len(names):
        fields = ", ".join(names)
        raise TypeError(
            f"cache: expected the tuple ({fields}) returned by {layer}, got {type(cache).__name__}"
            + (f" of length {len(cache)}" if isinstance(cache, tuple) else "")
        )
    return cache
