"""max_pool2d_forward/backward (torch's pooling options): what the catalog's agreement and gradient checks do not cover.

The catalog entry "max_pool2d" checks both backends against the NumPy
oracle and runs the float64 gradient check; here: the NaN rule, windows
over the padding, the checks of pool_param, and forged caches.
"""

import numpy as np
import pytest

import fastnn.layers as L
import fastnn.reference as R
from helpers import layer_backends


BACKENDS = layer_backends()
IDS = [b[0] for b in BACKENDS]
PARAM = {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1), "dilation": (1, 2), "ceil_mode": True}


@pytest.mark.parametrize("backend", BACKENDS, ids=IDS)
def test_first_nan_wins_and_padding_is_never_chosen(backend):
    _, layers, to, back = backend
    x = np.full((1, 1, 4, 4), -np.inf)  # as small as the padding's own -inf: the image still wins
    x[0, 0, 1, 2] = x[0, 0, 2, 1] = np.nan
    out, cache = layers.max_pool2d_forward(to(x), {"kernel_size": 3, "stride": 1, "padding": 1})
    index = back(cache[2])
    want_out, (_, _, want_index) = R.max_pool2d_forward(x, {"kernel_size": 3, "stride": 1, "padding": 1})
    np.testing.assert_array_equal(index, want_index)
    np.testing.assert_array_equal(back(out), want_out)
    assert index[0, 0, 0, 0] == 0  # a window of -inf: its first input inside the image, not the padding
    assert index[0, 0, 1, 1] == 1 * 4 + 2  # two NaNs: the first in row-major order


@pytest.mark.parametrize("backend", BACKENDS, ids=IDS)
def test_forged_indices_are_refused(backend):
    _, layers, to, back = backend
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 6))
    out, (cx, settings, index) = layers.max_pool2d_forward(to(x), PARAM)
    forged = back(index).copy()
    forged[0, 0, 0, 0] = forged[1, 1, -1, -1]  # an input of the plane, outside this output's window
    with pytest.raises(ValueError, match="^cache's index: expected each index in its output's window, got 1 outside"):
        layers.max_pool2d_backward(out, (cx, settings, to(forged)))
    forged[0, 0, 0, 0] = 7 * 6
    with pytest.raises(ValueError, match="^cache's index"):
        layers.max_pool2d_backward(out, (cx, settings, to(forged)))
    with pytest.raises(TypeError, match="^cache's index: expected an int64"):
        layers.max_pool2d_backward(out, (cx, settings, to(back(index).astype(np.int32))))
    with pytest.raises(ValueError, match="^pool_param\\['padding'\\]"):
        layers.max_pool2d_backward(out, (cx, {**settings, "padding": (2, 1)}, index))
    with pytest.raises(ValueError, match="^dout: "):
        layers.max_pool2d_backward(to(np.zeros((2, 2, 3, 3))), (cx, settings, index))


@pytest.mark.parametrize("bad, message", [
    ({"kernel_size": 2, "padding": 2}, "pool_param\\['padding'\\]: expected at most half"),
    ({"kernel_size": 0}, "pool_param\\['kernel_size'\\]: expected an integer >= 1"),
    ({"kernel_size": 2, "stride": (1, 2, 3)}, "pool_param\\['stride'\\]"),
    ({"kernel_size": 2, "dilation": 0}, "pool_param\\['dilation'\\]"),
    ({"kernel_size": 2, "pad": 1}, "pool_param: unknown keys \\['pad'\\]"),
    ({"kernel_size": 9}, "pool_param: the height 7"),
])
def test_bad_pool_param_is_named(bad, message):
    with pytest.raises(ValueError, match=message):
        L.max_pool2d_forward(np.zeros((1, 1, 7, 7)), bad)
    with pytest.raises(TypeError, match="pool_param\\['ceil_mode'\\]: expected a bool"):
        L.max_pool2d_forward(np.zeros((1, 1, 7, 7)), {"kernel_size": 2, "ceil_mode": 1})
