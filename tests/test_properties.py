"""Property tests: random shapes, dtypes and values, and invariants of the losses."""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn.layers as L

from helpers import check_layer

dtypes = st.sampled_from([np.float32, np.float64])
values = st.floats(-100, 100, width=32)


@st.composite
def affine_inputs(draw):
    dtype = draw(dtypes)
    n, m = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    trailing = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    d = int(np.prod(trailing))
    x = draw(hnp.arrays(dtype, (n, *trailing), elements=values))
    w = draw(hnp.arrays(dtype, (d, m), elements=values))
    b = draw(hnp.arrays(dtype, m, elements=values))
    return dtype, [x, w, b]


@st.composite
def scores_and_labels(draw):
    dtype = draw(dtypes)
    n, c = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    x = draw(hnp.arrays(dtype, (n, c), elements=values))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    return dtype, x, y


@given(affine_inputs())
def test_affine_agrees_with_reference(case):
    dtype, inputs = case
    check_layer("affine", dtype, inputs=inputs)


@given(affine_inputs())
def test_affine_relu_agrees_with_reference(case):
    dtype, inputs = case
    check_layer("affine_relu", dtype, inputs=inputs)


@given(dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(max_dims=4, max_side=6), elements=values)))
def test_relu_agrees_with_reference(x):
    check_layer("relu", x.dtype, inputs=[x])


@given(scores_and_labels())
@example((np.float64, np.array([[11.0, 0.0, 0.0, 0.0]]), np.array([0])))
def test_losses_agree_with_reference(case):
    dtype, x, y = case
    check_layer("softmax_loss", dtype, inputs=[x], params=[y])
    check_layer("svm_loss", dtype, inputs=[x], params=[y])


@given(scores_and_labels())
def test_softmax_invariants(case):
    dtype, x, y = case
    loss, dx = L.softmax_loss(x, y)
    assert loss >= 0
    # Each row of the gradient is (p - onehot) / N, which sums to zero.
    row_sums = dx.astype(np.float64).sum(axis=1) * len(y)
    np.testing.assert_allclose(row_sums, 0, atol=1e-5 if dtype == np.float32 else 1e-12)
    # Adding a constant to every score of a row changes nothing.
    shifted, _ = L.softmax_loss(x + dtype(7), y)
    assert abs(shifted - loss) <= (1e-4 if dtype == np.float32 else 1e-10) * max(1.0, loss)


@given(scores_and_labels())
def test_svm_invariants(case):
    dtype, x, y = case
    loss, dx = L.svm_loss(x, y)
    assert loss >= 0
    np.testing.assert_allclose(dx.astype(np.float64).sum(axis=1), 0, atol=1e-6)


@given(dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(max_dims=3, max_side=6), elements=values)))
def test_relu_is_idempotent_and_nonnegative(x):
    out, _ = L.relu_forward(x)
    assert np.all(out >= 0)
    np.testing.assert_array_equal(L.relu_forward(out)[0], out)


# ------------------------------------------------ convolution and pooling
# Geometries are drawn output-first, so every one divides evenly: stride 1
# to 3, pad 0 to 3, filters and windows 1 to 4 on each side (1x1 and
# rectangular ones included), N and C from 1.  Values come either from a
# wide range or from five small integers, where pooling windows tie.

tie_values = st.sampled_from([-2.0, -1.0, 0.0, 1.0, 2.0])


@st.composite
def conv_geometry(draw):
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 3))
    hh, ww = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ho, wo = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = (ho - 1) * stride + hh - 2 * pad, (wo - 1) * stride + ww - 2 * pad
    if h < 1 or w < 1:  # too much padding for so small an output: grow the input by whole strides
        grow = -(-max(1 - h, 1 - w, 0) // stride)
        h, w = h + grow * stride, w + grow * stride
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return (n, c, h, w), (f, c, hh, ww), {"stride": stride, "pad": pad}


@st.composite
def conv_inputs(draw):
    dtype = draw(dtypes)
    x_shape, w_shape, conv_param = draw(conv_geometry())
    elements = draw(st.sampled_from([values, tie_values]))
    arrays = [draw(hnp.arrays(dtype, shape, elements=elements)) for shape in (x_shape, w_shape, (w_shape[0],))]
    return dtype, arrays, conv_param


@st.composite
def pool_inputs(draw):
    dtype = draw(dtypes)
    ph, pw, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    ho, wo = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), (ho - 1) * stride + ph, (wo - 1) * stride + pw)
    x = draw(hnp.arrays(dtype, shape, elements=draw(st.sampled_from([values, tie_values]))))
    return dtype, x, {"pool_height": ph, "pool_width": pw, "stride": stride}


@given(conv_inputs())
def test_conv_agrees_with_reference(case):
    dtype, arrays, conv_param = case
    check_layer("conv", dtype, inputs=arrays, params=[conv_param])
    check_layer("conv_relu", dtype, inputs=arrays, params=[conv_param])


@given(pool_inputs())
def test_max_pool_agrees_with_reference(case):
    dtype, x, pool_param = case
    check_layer("max_pool", dtype, inputs=[x], params=[pool_param])
