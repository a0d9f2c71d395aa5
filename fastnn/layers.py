"""Drop-in compiled layers with the cs231n contracts.

Replace ``from cs231n.layers import *`` with ``from fastnn.layers import *``.
Every function validates its arguments here, converts them to C-contiguous
arrays of one float dtype (float32 stays float32, float64 stays float64,
integers count as float64, mixed inputs become float64), and hands them to
the Numba kernels in :mod:`fastnn.kernels.cpu`, one module per op family.
"""

import sys

import numpy as np

from fastnn.kernels.cpu import affine, conv, conv_general, elementwise, loss_options, losses, pool
from fastnn.kernels.cpu import norm as normalization
from fastnn import catalog, config, output_pool, threads
from fastnn.rng import dropout_uniforms, global_mt19937, reseed
from fastnn.validation import (
    HostArrays,
    as_float_arrays,
    check_affine_grad,
    check_affine_params,
    check_keep_probability,
    check_mode,
    as_labels,
    check_cache_mode,
    check_conv_grad,
    check_momentum,
    check_eps,
    check_groups,
    check_conv_params,
    check_conv2d_params,
    conv2d_settings,
    check_ndim,
    check_out,
    check_pool_params,
    check_pool2d_params,
    pool2d_settings,
    check_margin_options,
    cached_pool2d_options,
    check_scores,
    check_shape,
    running_average,
    same_buffer,
    unpack_cache,
)

__all__ = catalog.function_names("cpu")


def affine_forward(x, w, b):
    """
    Computes the forward pass for an affine (fully connected) layer.

    Inputs:
    - x: Input data, of shape (N, d_1, ..., d_k)
    - w: Weights, of shape (D, M) where D = d_1 * ... * d_k
    - b: Biases, of shape (M,)

    Returns a tuple of:
    - out: Output, of shape (N, M)
    - cache: (x, w, b), the converted inputs
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b)
    x2 = check_affine_params(x, w, b)
    return affine.affine_forward(x2, w, b), (x, w, b)


def affine_backward(dout, cache):
    """
    Computes the backward pass for an affine layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: (x, w, b) as returned by affine_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    x, w, b = unpack_cache(cache, ("x", "w", "b"), "affine_forward")
    dout, x, w, b = as_float_arrays(("dout", "x", "w", "b"), dout, x, w, b)
    x2 = check_affine_params(x, w, b)
    check_affine_grad(dout, x, w)
    dx2, dw, db = affine.affine_backward(dout, x2, w)
    return dx2.reshape(x.shape), dw, db


def _elementwise_into(out, kernel, *inputs):
    """Run kernel(*inputs, out), buffering when out partly overlaps an input.

    An input that is out itself is fine (each element is read before it is
    written); one that merely overlaps would be read after being written,
    so the result goes through a temporary, as NumPy does.
    """
    for a in inputs:
        if a is not out and np.may_share_memory(out, a) and not same_buffer(out, a):
            result = np.empty_like(out)
            kernel(*inputs, result)
            out[...] = result
            return out
    kernel(*inputs, out)
    return out


def relu_forward(x, out=None):
    """
    Computes the forward pass for a layer of rectified linear units (ReLU).

    Inputs:
    - x: Inputs, of any shape
    - out: Optional C-contiguous array of x's shape and dtype to write the
      result into, for callers who reuse buffers.  It may be x itself or
      overlap it; the cache then holds a copy of x, which the backward
      pass needs.

    Returns a tuple of:
    - out: max(x, 0), of the same shape as x
    - cache: x
    """
    (x,) = as_float_arrays(("x",), x)
    if out is None:
        out = output_pool.empty_like(x)
        elementwise.relu_forward(x, out)
        return out, x
    check_out(out, x)
    if out is not x and not np.may_share_memory(out, x):
        elementwise.relu_forward(x, out)
        return out, x
    cache = x.copy()  # before out overwrites it
    return _elementwise_into(out, elementwise.relu_forward, x), cache


def relu_backward(dout, cache, out=None):
    """
    Computes the backward pass for a layer of rectified linear units (ReLU).

    The gradient passes where x >= 0, as in the seed notebook.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: Input x, of the same shape as dout
    - out: Optional C-contiguous array of dout's shape and dtype to write
      the gradient into (it may be dout itself, or overlap dout or x)

    Returns:
    - dx: Gradient with respect to x, of the same shape as dout
    """
    dout, x = as_float_arrays(("dout", "cache"), dout, cache)
    check_shape("dout", dout, x.shape, "the shape of the cached input x")
    if out is None:
        out = output_pool.empty_like(dout)
        elementwise.relu_backward(dout, x, out)
        return out
    check_out(out, dout)
    if not (np.may_share_memory(out, dout) or np.may_share_memory(out, x)):
        elementwise.relu_backward(dout, x, out)
        return out
    return _elementwise_into(out, elementwise.relu_backward, dout, x)


def affine_relu_forward(x, w, b):
    """
    Affine transform followed by a ReLU, with bias and ReLU fused after the GEMM.

    Inputs:
    - x: Input data, of shape (N, d_1, ..., d_k)
    - w: Weights, of shape (D, M)
    - b: Biases, of shape (M,)

    Returns a tuple of:
    - out: Output of the ReLU, of shape (N, M)
    - cache: (fc_cache, relu_cache) = ((x, w, b), a), where a of shape
      (N, M) is the affine output before the ReLU
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b)
    x2 = check_affine_params(x, w, b)
    a, out = affine.affine_relu_forward(x2, w, b)
    return out, ((x, w, b), a)


def affine_relu_backward(dout, cache):
    """
    Backward pass for the affine-ReLU convenience layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: ((x, w, b), a) as returned by affine_relu_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    fc_cache, a = unpack_cache(cache, ("fc_cache", "relu_cache"), "affine_relu_forward")
    x, w, b = unpack_cache(fc_cache, ("x", "w", "b"), "affine_relu_forward")
    dout, a, x, w, b = as_float_arrays(("dout", "relu_cache", "x", "w", "b"), dout, a, x, w, b)
    x2 = check_affine_params(x, w, b)
    check_affine_grad(dout, x, w)
    check_shape("relu_cache", a, dout.shape, "the pre-activation of shape (N, M)")
    dx2, dw, db = affine.affine_relu_backward(dout, a, x2, w)
    return dx2.reshape(x.shape), dw, db


# Host arrays whose label range is the compiled one-pass kernel.
_HOST_LABELS = HostArrays(value_range=losses.label_range)


def _loss(kernel, x, y):
    (x,) = as_float_arrays(("x",), x)
    check_scores(x)
    y = as_labels(y, *x.shape, arrays=_HOST_LABELS)
    loss, dx = kernel(x, y)
    # np.float64, as the course's np.sum(...) / N is: a Python float is "weak"
    # under NumPy 2's promotion and would let a float32 reg term demote the sum.
    return np.float64(loss), dx


def softmax_loss(x, y):
    """
    Computes the loss and gradient for softmax classification.

    Inputs:
    - x: Scores, of shape (N, C) where x[i, j] is the score of class j
      for example i
    - y: Integer labels, of shape (N,) with 0 <= y[i] < C

    Returns a tuple of:
    - loss: np.float64, the loss averaged over N
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    return _loss(losses.softmax_loss, x, y)


def svm_loss(x, y):
    """
    Computes the loss and gradient for a multiclass SVM (hinge loss, margin 1).

    Inputs and returns: as :func:`softmax_loss`.
    """
    return _loss(losses.svm_loss, x, y)


def _row_scores(x):
    (x,) = as_float_arrays(("x",), x)
    check_ndim("x", x, 2, "(M, C)")
    if x.shape[1] == 0:
        raise ValueError(f"x: expected at least one class, got shape {x.shape}")
    return x


def cross_entropy_rows(x, a, log_probs=False):
    """
    Softmax cross-entropy of each row against coefficients: the kernel of
    torch's cross-entropy options (class weights, ignore_index, label
    smoothing and probability targets are choices of ``a``; reductions are
    sums of the rows).

    Inputs:
    - x: Scores, of shape (M, C)
    - a: Coefficients of x's dtype, of shape (M, C)
    - log_probs: Also return log softmax(x)

    Returns a tuple of:
    - loss: float64 array of shape (M,), ``-sum_c a[i, c] * log softmax(x[i])_c``
      (entries with a[i, c] == 0 skipped)
    - dx: Gradient of ``loss.sum()`` with respect to x, of shape (M, C):
      ``a[i].sum() * softmax(x[i]) - a[i]``
    - logp: log softmax(x) of shape (M, C) in x's dtype, or None
    """
    x = _row_scores(x)
    (a,) = as_float_arrays(("a",), a)
    check_shape("a", a, x.shape, "one coefficient per score")
    if a.dtype != x.dtype:
        raise TypeError(f"a: expected {x.dtype} like x, got {a.dtype}")
    return loss_options.softmax_coefficients(x, a, bool(log_probs))


def multi_margin_rows(x, y, p=1, margin=1.0, y_weight=None):
    """
    torch's multi-margin loss of each row, ``y_weight[i] / C * sum_{c != y[i]}
    max(0, margin - x[i, y[i]] + x[i, c]) ** p``.

    Inputs:
    - x: Scores, of shape (M, C)
    - y: Integer labels, of shape (M,) with 0 <= y[i] < C
    - p: 1 or 2
    - margin: A finite real number
    - y_weight: Weight of each row (torch's ``weight[y]``), float of shape (M,), or None for ones

    Returns a tuple of:
    - loss: float64 array of shape (M,)
    - dx: Gradient of ``loss.sum()`` with respect to x, of shape (M, C)
    """
    x = _row_scores(x)
    y = as_labels(y, *x.shape, arrays=_HOST_LABELS)
    p, margin = check_margin_options(p, margin)
    if y_weight is None:
        y_weight = np.ones(x.shape[0])
    else:
        (y_weight,) = as_float_arrays(("y_weight",), y_weight)
        check_shape("y_weight", y_weight, (x.shape[0],), "one weight per row of x")
    return loss_options.multi_margin(x, y, p, margin, np.ascontiguousarray(y_weight, np.float64))


def dropout_forward(x, dropout_param):
    """
    Inverted dropout: keep each unit with probability p and scale it by 1/p.

    The mask is cs231n's: ``np.random.seed(seed)`` first if dropout_param has
    a 'seed' key (in either mode), then ``np.random.rand(*x.shape) < p``.  So
    it comes from NumPy's global generator, is the same in float32 and
    float64, and is bit-identical to the course code's for the same seed or
    global state.

    Inputs:
    - x: Input data, of any shape
    - dropout_param: Dict with
      - p: Keep probability, in (0, 1] (the course's convention since 2018;
        2016-17 code used p as the drop probability)
      - mode: 'train' or 'test' (test mode is the identity)
      - seed: Optional; passed to np.random.seed on every call

    Returns a tuple of:
    - out: Array of x's shape and dtype
    - cache: (dropout_param, mask): a copy of dropout_param as forward used
      it, and a boolean mask (None in test mode)
    """
    mode = check_mode("dropout_param", dropout_param)
    p = check_keep_probability(dropout_param)
    (x,) = as_float_arrays(("x",), x)
    reseed(dropout_param)
    # The cache keeps its own copy of the settings: backward must use the p
    # that forward used, whatever happens to the caller's dict in between.
    used = dict(dropout_param)
    if mode == "test":
        return x.copy(), (used, None)
    out = output_pool.empty_like(x)
    mask = output_pool.empty(x.shape, np.bool_)
    flat = (x.reshape(-1), p, out.reshape(-1), mask.reshape(-1))
    generator = global_mt19937()
    if generator is None:
        elementwise.dropout_forward_uniforms(dropout_uniforms(x.size), *flat)
    else:
        words, position, lock = generator
        with lock:
            position[0] = elementwise.dropout_forward(words, position[0], *flat, config.DROPOUT_CHUNK)
    return out, (used, mask)


def dropout_backward(dout, cache):
    """
    Backward pass of inverted dropout.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: (dropout_param, mask) from dropout_forward

    Returns:
    - dx: Gradient with respect to x, of dout's shape and dtype
    """
    dropout_param, mask = unpack_cache(cache, ("dropout_param", "mask"), "dropout_forward")
    p = check_keep_probability(dropout_param)
    (dout,) = as_float_arrays(("dout",), dout)
    if mask is None:
        return dout.copy()
    if type(mask) is not np.ndarray or mask.dtype != np.bool_:
        raise TypeError(f"cache's mask: expected a boolean ndarray, got {type(mask).__name__} of dtype {getattr(mask, 'dtype', None)}")
    check_shape("dout", dout, mask.shape, "the shape of the dropout mask")
    dx = output_pool.empty_like(dout)
    elementwise.dropout_backward(dout.reshape(-1), np.ascontiguousarray(mask).reshape(-1), p, dx.reshape(-1))
    return dx


def _check_norm_inputs(x, gamma, beta):
    x, gamma, beta = as_float_arrays(("x", "gamma", "beta"), x, gamma, beta)
    check_ndim("x", x, 2, "(N, D)")
    check_shape("gamma", gamma, (x.shape[1],), "one scale per feature")
    check_shape("beta", beta, (x.shape[1],), "one shift per feature")
    return x, gamma, beta


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batch normalisation of each feature over the batch.

    In 'train' mode the batch mean and biased variance normalise x, and
    bn_param's running_mean and running_var become
    momentum * running + (1 - momentum) * batch; 'test' mode uses them.

    Inputs:
    - x: Data, of shape (N, D)
    - gamma: Scale, of shape (D,)
    - beta: Shift, of shape (D,)
    - bn_param: Dict with mode ('train' or 'test'), eps (default 1e-5),
      momentum (default 0.9), running_mean and running_var (shape (D,),
      created as zeros)

    Returns a tuple of:
    - out: Array of shape (N, D)
    - cache: (xhat, gamma, inv_std, mode)
    """
    mode = check_mode("bn_param", bn_param)
    x, gamma, beta = _check_norm_inputs(x, gamma, beta)
    if mode == "train" and x.shape[0] == 0:
        raise ValueError(f"x: expected at least one row to take batch statistics from, got shape {x.shape}")
    eps = check_eps("bn_param", bn_param)
    momentum = check_momentum("bn_param", bn_param)
    d = x.shape[1]
    running_mean = running_average(bn_param, "running_mean", d, x.dtype, "one per feature")
    running_var = running_average(bn_param, "running_var", d, x.dtype, "one per feature")
    train = mode == "train"
    if train:
        mean, var = np.empty(d), np.empty(d)
    else:
        mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
    out, xhat, inv_std = normalization.batchnorm_forward(
        x, gamma, beta, eps, train, mean, var, threads.get_num_threads(), config.BATCHNORM_STAT_CHUNKS
    )
    if train:
        bn_param["running_mean"] = (momentum * running_mean + (1 - momentum) * mean).astype(x.dtype)
        bn_param["running_var"] = (momentum * running_var + (1 - momentum) * var).astype(x.dtype)
    return out, (xhat, gamma, inv_std.astype(x.dtype), mode)


def batchnorm_backward(dout, cache):
    """
    Backward pass of batch normalisation.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: (xhat, gamma, inv_std, mode) from batchnorm_forward

    Returns a tuple of:
    - dx: Array of shape (N, D)
    - dgamma: Array of shape (D,)
    - dbeta: Array of shape (D,)
    """
    xhat, gamma, inv_std, mode = unpack_cache(cache, ("xhat", "gamma", "inv_std", "mode"), "batchnorm_forward")
    check_cache_mode(mode)
    dout, xhat, gamma, inv_std = _check_norm_grad(dout, xhat, gamma, inv_std)
    check_shape("cache's inv_std", inv_std, (dout.shape[1],), "one per feature")
    return normalization.batchnorm_backward(
        dout, xhat, gamma, inv_std, mode == "train", threads.get_num_threads(), config.BATCHNORM_STAT_CHUNKS
    )


def batchnorm_backward_alt(dout, cache):
    """
    Backward pass of batch normalisation, the closed form of the course's
    BatchNormalization notebook.

    fastnn's batchnorm_backward already is that closed form,
    ``dx = inv_std / N * (N * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))``
    in one fused kernel, so the two are one function; fastnn.reference keeps
    the two derivations apart (staged and closed form) as each other's check.

    Inputs and returns: as batchnorm_backward.
    """
    return batchnorm_backward(dout, cache)


def layernorm_forward(x, gamma, beta, ln_param):
    """
    Layer normalisation of each example over its features (same in train and test).

    Inputs:
    - x: Data, of shape (N, D)
    - gamma: Scale, of shape (D,)
    - beta: Shift, of shape (D,)
    - ln_param: Dict with eps (default 1e-5)

    Returns a tuple of:
    - out: Array of shape (N, D)
    - cache: (xhat, gamma, inv_std) with inv_std of shape (N, 1)
    """
    if not isinstance(ln_param, dict):
        raise TypeError(f"ln_param: expected a dict, got {type(ln_param).__name__}")
    x, gamma, beta = _check_norm_inputs(x, gamma, beta)
    out, xhat, inv_std = normalization.layernorm_forward(x, gamma, beta, check_eps("ln_param", ln_param))
    return out, (xhat, gamma, inv_std.reshape(-1, 1))


def layernorm_backward(dout, cache):
    """
    Backward pass of layer normalisation.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: (xhat, gamma, inv_std) from layernorm_forward

    Returns a tuple of:
    - dx: Array of shape (N, D)
    - dgamma: Array of shape (D,)
    - dbeta: Array of shape (D,)
    """
    xhat, gamma, inv_std = unpack_cache(cache, ("xhat", "gamma", "inv_std"), "layernorm_forward")
    dout, xhat, gamma, inv_std = _check_norm_grad(dout, xhat, gamma, inv_std)
    check_shape("cache's inv_std", inv_std, (dout.shape[0], 1), "one per row")
    return normalization.layernorm_backward(dout, xhat, gamma, inv_std.reshape(-1))


def _check_norm_grad(dout, xhat, gamma, inv_std):
    # The kernels index gamma and inv_std by the shape of dout: a forged or
    # stale cache must fail here, not read out of bounds.
    dout, xhat, gamma, inv_std = as_float_arrays(
        ("dout", "cache's xhat", "cache's gamma", "cache's inv_std"), dout, xhat, gamma, inv_std
    )
    check_ndim("dout", dout, 2, "(N, D)")
    check_shape("cache's xhat", xhat, dout.shape, "the shape of dout (N, D)")
    check_shape("cache's gamma", gamma, (dout.shape[1],), "one scale per feature")
    return dout, xhat, gamma, inv_std


def _check_norm_name(norm):
    if not isinstance(norm, str) or norm not in ("batchnorm", "layernorm"):
        raise ValueError(f"norm: expected 'batchnorm' or 'layernorm', got {norm!r}")


def norm_sandwich_forward(layers, x, w, b, gamma, beta, norm_param, norm):
    """affine_norm_relu_forward composed from the functions of the module ``layers`` (this one, or fastnn.cuda)."""
    _check_norm_name(norm)
    a, fc_cache = layers.affine_forward(x, w, b)
    n, norm_cache = getattr(layers, f"{norm}_forward")(a, gamma, beta, norm_param)
    out, relu_cache = layers.relu_forward(n)
    return out, (fc_cache, norm_cache, relu_cache, norm)


def norm_sandwich_backward(layers, dout, cache):
    """affine_norm_relu_backward composed from the functions of the module ``layers``."""
    fc_cache, norm_cache, relu_cache, norm = unpack_cache(
        cache, ("fc_cache", "norm_cache", "relu_cache", "norm"), "affine_norm_relu_forward"
    )
    _check_norm_name(norm)
    dn = layers.relu_backward(dout, relu_cache)
    da, dgamma, dbeta = getattr(layers, f"{norm}_backward")(dn, norm_cache)
    dx, dw, db = layers.affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


def affine_norm_relu_forward(x, w, b, gamma, beta, norm_param, norm="batchnorm"):
    """
    Affine, then batch or layer normalisation, then ReLU.

    Inputs:
    - x, w, b: As for affine_forward
    - gamma, beta: Of shape (M,)
    - norm_param: bn_param or ln_param
    - norm: 'batchnorm' or 'layernorm'

    Returns a tuple of:
    - out: Array of shape (N, M)
    - cache: (fc_cache, norm_cache, relu_cache, norm)
    """
    return norm_sandwich_forward(sys.modules[__name__], x, w, b, gamma, beta, norm_param, norm)


def affine_norm_relu_backward(dout, cache):
    """
    Backward pass of affine_norm_relu_forward.

    Returns a tuple of:
    - dx, dw, db, dgamma, dbeta
    """
    return norm_sandwich_backward(sys.modules[__name__], dout, cache)


# ------------------------------------------------ convolution and pooling


def conv_forward_naive(x, w, b, conv_param):
    """
    The forward pass of a convolutional layer (the course's name; compiled).

    The input has N images of C channels, H high and W wide; each of the F
    filters spans all C channels and is HH high and WW wide.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - w: Filter weights, of shape (F, C, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: Dict with
      - 'stride': Pixels between neighbouring receptive fields, an integer >= 1
      - 'pad': Zeros added on every side of each image, an integer >= 0

    Where (H + 2 * pad - HH) or (W + 2 * pad - WW) is not a multiple of
    the stride, the output size is floored as in the course's naive code
    and torch, and the inputs no window reaches get a zero gradient.

    Returns a tuple of:
    - out: Output data, of shape (N, F, H', W') where
      H' = 1 + (H + 2 * pad - HH) // stride, W' = 1 + (W + 2 * pad - WW) // stride
    - cache: (x, w, b, conv_param), the converted inputs and the settings used
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b)
    stride, pad, ho, wo = check_conv_params(x, w, b, conv_param)
    out, _ = _conv_memory(conv.conv_forward, x, w, b, stride, pad, ho, wo, False)
    return out, (x, w, b, {"stride": stride, "pad": pad})


def conv2d_forward(x, w, b, conv_param):
    """
    A convolution with torch's options (``F.conv2d``): unequal strides,
    padding per side, dilation and groups.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - w: Filter weights, of shape (F, C / groups, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: Dict with, each optional:
      - 'stride': An integer >= 1 or a pair (rows, columns); default 1
      - 'padding': Zeros around each image: an integer, a pair (rows,
        columns) or four sizes (top, bottom, left, right); default 0
      - 'dilation': Spacing of the filter taps, an integer >= 1 or a pair; default 1
      - 'groups': Channel groups, dividing C and F; default 1

    Returns a tuple of:
    - out: Output data, of shape (N, F, H', W') where
      H' = 1 + (H + top + bottom - dilation_h * (HH - 1) - 1) // stride_h (W' likewise)
    - cache: (x, w, b, conv_param), conv_param with every option spelled out
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b)
    geometry = stride, padding, dilation, groups, size = check_conv2d_params(x, w, b, conv_param)
    out = conv_general.conv2d_forward(x, w, b, *stride, padding[0], padding[2], *dilation, groups, *size)
    return out, (x, w, b, conv2d_settings(geometry))


def conv2d_backward(dout, cache):
    """
    The backward pass of :func:`conv2d_forward`.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W')
    - cache: (x, w, b, conv_param) from conv2d_forward

    Returns a tuple of:
    - dx: Of shape (N, C, H, W)
    - dw: Of shape (F, C / groups, HH, WW)
    - db: Of shape (F,)
    """
    x, w, b, conv_param = unpack_cache(cache, ("x", "w", "b", "conv_param"), "conv2d_forward")
    x, w, b = as_float_arrays(("cache's x", "cache's w", "cache's b"), x, w, b)
    stride, padding, dilation, groups, size = check_conv2d_params(x, w, b, conv_param)
    (dout,) = as_float_arrays(("dout",), dout)
    check_shape("dout", dout, (x.shape[0], w.shape[0], *size), "the shape of the output (N, F, H', W')")
    return conv_general.conv2d_backward(dout, x, w, *stride, padding[0], padding[2], *dilation, groups)


def _conv_memory(function, *args):
    """function(x, w, ..., stride, pad, ...), a MemoryError naming the conv settings whose arrays did not fit."""
    try:
        return function(*args)
    except MemoryError as exc:
        x, w, stride, pad = (args[0], args[1], args[3], args[4]) if function is conv.conv_forward else (args[1], args[2], args[3], args[4])
        raise MemoryError(f"conv_param: stride {stride}, pad {pad} on x of shape {x.shape} and w of shape {w.shape} "
                          f"need arrays that do not fit in memory ({exc})") from None


def _conv_gradients(dout, conv_cache, layer, *relu_cache):
    return _conv_memory(conv.conv_backward, *check_conv_grad(dout, conv_cache, layer, *relu_cache))


def conv_backward_naive(dout, cache):
    """
    The backward pass of a convolutional layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W')
    - cache: (x, w, b, conv_param) as returned by conv_forward_naive

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    - dw: Gradient with respect to w, of shape (F, C, HH, WW)
    - db: Gradient with respect to b, of shape (F,)
    """
    return _conv_gradients(dout, cache, "conv_forward_naive")


def conv_relu_forward(x, w, b, conv_param):
    """
    Convolution followed by a ReLU, the bias and ReLU fused into one pass after the GEMM.

    Inputs: as conv_forward_naive.

    Returns a tuple of:
    - out: Output of the ReLU, of shape (N, F, H', W')
    - cache: (conv_cache, relu_cache) with relu_cache the convolution's output
    """
    x, w, b = as_float_arrays(("x", "w", "b"), x, w, b)
    stride, pad, ho, wo = check_conv_params(x, w, b, conv_param)
    a, out = _conv_memory(conv.conv_forward, x, w, b, stride, pad, ho, wo, True)
    return out, ((x, w, b, {"stride": stride, "pad": pad}), a)


def _conv_relu_grad(dout, cache, layer):
    conv_cache, a = unpack_cache(cache, ("conv_cache", "relu_cache"), layer)
    return _conv_gradients(dout, conv_cache, layer, a)


def conv_relu_backward(dout, cache):
    """
    Backward pass of conv_relu_forward; the ReLU mask is applied in the pass that reduces db.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W')
    - cache: (conv_cache, relu_cache) from conv_relu_forward

    Returns a tuple of:
    - dx, dw, db: As conv_backward_naive
    """
    return _conv_relu_grad(dout, cache, "conv_relu_forward")


def max_pool_forward_naive(x, pool_param):
    """
    The forward pass of a max-pooling layer (the course's name; compiled).

    Windows may overlap (stride < pool size) or leave gaps (stride > pool
    size); where (H - pool_height) or (W - pool_width) is not a multiple of
    the stride, the output size is floored as in the course's naive code.

    Ties: the gradient of each window goes to one input, the *first* maximum
    in row-major order within the window (NaN counts as the largest, as
    np.argmax counts it), as in the course's naive code; the course's reshape
    path would split it among tied maxima.  PyTorch agrees on equal values
    but picks the *last* NaN of a window with several.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - pool_param: Dict with 'pool_height', 'pool_width' and 'stride', integers >= 1

    Returns a tuple of:
    - out: Output data, of shape (N, C, H', W') where
      H' = 1 + (H - pool_height) // stride, W' = 1 + (W - pool_width) // stride
    - cache: (x, pool_param, arg): the input, the settings used, and for each
      output the offset kh * pool_width + kw of the chosen input in its window
      (uint8 up to 256 window entries, int32 beyond)
    """
    (x,) = as_float_arrays(("x",), x)
    ph, pw, stride, ho, wo = check_pool_params(x, pool_param)
    out, arg = conv.max_pool_forward(x, ph, pw, stride, ho, wo)
    return out, (x, {"pool_height": ph, "pool_width": pw, "stride": stride}, arg)


def max_pool_backward_naive(dout, cache):
    """
    The backward pass of a max-pooling layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H', W')
    - cache: (x, pool_param, arg) from max_pool_forward_naive

    Returns:
    - dx: Gradient with respect to x, of shape (N, C, H, W), in dout's dtype
    """
    x, pool_param, arg = unpack_cache(cache, ("x", "pool_param", "arg"), "max_pool_forward_naive")
    (x,) = as_float_arrays(("cache's x",), x)
    ph, pw, stride, ho, wo = check_pool_params(x, pool_param)
    (dout,) = as_float_arrays(("dout",), dout)
    check_shape("dout", dout, (*x.shape[:2], ho, wo), "the shape of the pooled output (N, C, H', W')")
    expected = conv.arg_dtype(ph, pw)
    if type(arg) is not np.ndarray or arg.dtype != expected:
        raise TypeError(f"cache's arg: expected a {np.dtype(expected).name} ndarray of window offsets, "
                        f"got {type(arg).__name__} of dtype {getattr(arg, 'dtype', None)}")
    check_shape("cache's arg", arg, dout.shape, "one window offset per output")
    dx, bad = conv.max_pool_backward(dout, np.ascontiguousarray(arg), ph, pw, stride, x.shape)
    if bad:
        raise ValueError(f"cache's arg: expected window offsets in [0, {ph * pw}), got {bad} outside; "
                         "the cache does not come from max_pool_forward_naive with these settings")
    return dx


def max_pool2d_forward(x, pool_param):
    """
    Max pooling with torch's options (``F.max_pool2d``): rectangular
    windows and strides, padding, dilation and ceil mode.  The padding is
    never chosen (torch's -inf padding).  The chosen input of each window is
    the first maximum in row-major window order, NaN counting as the
    largest: so the first NaN of a window with several (torch picks the
    last), as :func:`max_pool_forward_naive`.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - pool_param: Dict with 'kernel_size' and optionally 'stride' (default
      kernel_size), 'padding' (0, at most half the kernel), 'dilation' (1),
      each an int or a pair (rows, columns), and 'ceil_mode' (False)

    Returns a tuple of:
    - out: Output data, of shape (N, C, H', W') with torch's output size
      (ceil mode drops a last window that would start in the padding)
    - cache: (x, pool_param, index): the settings as pairs plus 'out_size',
      and per output the flat index h * W + w of the chosen input in its
      plane (int64, shape (N, C, H', W'); torch's ``return_indices``)
    """
    (x,) = as_float_arrays(("x",), x)
    geometry = check_pool2d_params(x, pool_param)
    n, c, h, w = x.shape
    size = geometry[4]
    out, index = pool.max_pool2d_forward(x.reshape(n * c, h, w), *geometry)
    return out.reshape(n, c, *size), (x, pool2d_settings(pool_param, geometry), index.reshape(n, c, *size))


def max_pool2d_backward(dout, cache):
    """
    The backward pass of :func:`max_pool2d_forward`.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H', W')
    - cache: (x, pool_param, index) from max_pool2d_forward

    Returns:
    - dx: Gradient with respect to x, of shape (N, C, H, W), in dout's dtype
    """
    x, settings, index = unpack_cache(cache, ("x", "pool_param", "index"), "max_pool2d_forward")
    (x,) = as_float_arrays(("cache's x",), x)
    kernel, stride, padding, dilation, size = check_pool2d_params(x, cached_pool2d_options(settings))
    (dout,) = as_float_arrays(("dout",), dout)
    check_shape("dout", dout, (*x.shape[:2], *size), "the shape of the pooled output (N, C, H', W')")
    if type(index) is not np.ndarray or index.dtype != np.int64:
        raise TypeError(f"cache's index: expected an int64 ndarray, got {type(index).__name__} of dtype {getattr(index, 'dtype', None)}")
    check_shape("cache's index", index, dout.shape, "one input index per output")
    n, c, h, w = x.shape
    dx, bad = pool.max_pool2d_backward(dout.reshape(n * c, *size), np.ascontiguousarray(index).reshape(n * c, *size),
                                       (n * c, h, w), kernel, stride, padding, dilation)
    if bad:
        raise ValueError(f"cache's index: expected each index in its output's window, got {bad} outside; "
                         "the cache does not come from max_pool2d_forward with these settings")
    return dx.reshape(x.shape)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """
    Convolution, ReLU and max pooling (bias and ReLU fused after the GEMM).

    Inputs:
    - x, w, b, conv_param: As conv_forward_naive
    - pool_param: As max_pool_forward_naive

    Returns a tuple of:
    - out: Pooled output, of shape (N, F, H'', W'')
    - cache: (conv_cache, relu_cache, pool_cache)
    """
    s, (conv_cache, a) = conv_relu_forward(x, w, b, conv_param)
    out, pool_cache = max_pool_forward_naive(s, pool_param)
    return out, (conv_cache, a, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """
    Backward pass of conv_relu_pool_forward.

    Returns a tuple of:
    - dx, dw, db: As conv_backward_naive
    """
    conv_cache, a, pool_cache = unpack_cache(cache, ("conv_cache", "relu_cache", "pool_cache"), "conv_relu_pool_forward")
    ds = max_pool_backward_naive(dout, pool_cache)
    return _conv_relu_grad(ds, (conv_cache, a), "conv_relu_pool_forward")


def _check_spatial_inputs(x, gamma, beta, gamma_shape, layout):
    x, gamma, beta = as_float_arrays(("x", "gamma", "beta"), x, gamma, beta)
    check_ndim("x", x, 4, "(N, C, H, W)")
    check_shape("gamma", gamma, gamma_shape(x.shape[1]), f"one scale per channel, {layout}")
    check_shape("beta", beta, gamma_shape(x.shape[1]), f"one shift per channel, {layout}")
    return x, gamma, beta


def _channels(c):
    return (c,)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """
    Spatial batch normalisation: each channel normalised over N, H and W.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - gamma: Scale, of shape (C,)
    - beta: Shift, of shape (C,)
    - bn_param: As batchnorm_forward (mode, eps, momentum, running_mean and
      running_var of shape (C,))

    Returns a tuple of:
    - out: Output data, of shape (N, C, H, W)
    - cache: (xhat, gamma, inv_std, mode) with xhat of x's shape and inv_std of shape (C,)
    """
    mode = check_mode("bn_param", bn_param)
    x, gamma, beta = _check_spatial_inputs(x, gamma, beta, _channels, "(C,)")
    n, c, h, w = x.shape
    if mode == "train" and n * h * w == 0:
        raise ValueError(f"x: expected at least one value per channel to take batch statistics from, got shape {x.shape}")
    momentum = check_momentum("bn_param", bn_param)
    running_mean = running_average(bn_param, "running_mean", c, x.dtype, "one per channel")
    running_var = running_average(bn_param, "running_var", c, x.dtype, "one per channel")
    out, xhat, inv_std, mean, var = normalization.spatial_batchnorm_forward(
        x.reshape(n, c, h * w), gamma, beta, check_eps("bn_param", bn_param), mode == "train", running_mean, running_var, momentum
    )
    if mode == "train":
        bn_param["running_mean"] = (momentum * running_mean + (1 - momentum) * mean).astype(x.dtype)
        bn_param["running_var"] = (momentum * running_var + (1 - momentum) * var).astype(x.dtype)
    return out.reshape(x.shape), (xhat.reshape(x.shape), gamma, inv_std.astype(x.dtype), mode)


def _check_spatial_grad(dout, xhat, gamma, inv_std, gamma_shape):
    dout, xhat, gamma, inv_std = as_float_arrays(
        ("dout", "cache's xhat", "cache's gamma", "cache's inv_std"), dout, xhat, gamma, inv_std
    )
    check_ndim("dout", dout, 4, "(N, C, H, W)")
    check_shape("cache's xhat", xhat, dout.shape, "the shape of dout (N, C, H, W)")
    check_shape("cache's gamma", gamma, gamma_shape(dout.shape[1]), "one scale per channel")
    return dout, xhat, gamma, inv_std


def spatial_batchnorm_backward(dout, cache):
    """
    Backward pass of spatial batch normalisation.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H, W)
    - cache: (xhat, gamma, inv_std, mode) from spatial_batchnorm_forward

    Returns a tuple of:
    - dx: Array of shape (N, C, H, W)
    - dgamma: Array of shape (C,)
    - dbeta: Array of shape (C,)
    """
    xhat, gamma, inv_std, mode = unpack_cache(cache, ("xhat", "gamma", "inv_std", "mode"), "spatial_batchnorm_forward")
    check_cache_mode(mode)
    dout, xhat, gamma, inv_std = _check_spatial_grad(dout, xhat, gamma, inv_std, _channels)
    n, c, h, w = dout.shape
    check_shape("cache's inv_std", inv_std, (c,), "one per channel")
    dx, dgamma, dbeta = normalization.spatial_batchnorm_backward(
        dout.reshape(n, c, h * w), xhat.reshape(n, c, h * w), gamma, inv_std, mode == "train"
    )
    return dx.reshape(dout.shape), dgamma, dbeta


def _per_channel_4d(c):
    return (1, c, 1, 1)


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """
    Spatial group normalisation: each image's channels split into G groups,
    each normalised over its channels, H and W (the same in train and test).

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - gamma: Scale, of shape (1, C, 1, 1)
    - beta: Shift, of shape (1, C, 1, 1)
    - G: Number of groups, an integer dividing C
    - gn_param: Dict with eps (default 1e-5)

    Returns a tuple of:
    - out: Output data, of shape (N, C, H, W)
    - cache: (xhat, gamma, inv_std, G) with inv_std of shape (N, G)
    """
    if not isinstance(gn_param, dict):
        raise TypeError(f"gn_param: expected a dict, got {type(gn_param).__name__}")
    x, gamma, beta = _check_spatial_inputs(x, gamma, beta, _per_channel_4d, "(1, C, 1, 1)")
    n, c, h, w = x.shape
    G = check_groups(G, c)
    if c * h * w == 0:
        raise ValueError(f"x: expected at least one value per group to take statistics from, got shape {x.shape}")
    x4 = x.reshape(n, G, c // G, h * w)
    out, xhat, inv_std = normalization.groupnorm_forward(
        x4, gamma.reshape(c), beta.reshape(c), check_eps("gn_param", gn_param)
    )
    return out.reshape(x.shape), (xhat.reshape(x.shape), gamma, inv_std, G)


def spatial_groupnorm_backward(dout, cache):
    """
    Backward pass of spatial group normalisation.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H, W)
    - cache: (xhat, gamma, inv_std, G) from spatial_groupnorm_forward

    Returns a tuple of:
    - dx: Array of shape (N, C, H, W)
    - dgamma: Array of shape (1, C, 1, 1)
    - dbeta: Array of shape (1, C, 1, 1)
    """
    xhat, gamma, inv_std, G = unpack_cache(cache, ("xhat", "gamma", "inv_std", "G"), "spatial_groupnorm_forward")
    dout, xhat, gamma, inv_std = _check_spatial_grad(dout, xhat, gamma, inv_std, _per_channel_4d)
    n, c, h, w = dout.shape
    G = check_groups(G, c, "cache's G")
    check_shape("cache's inv_std", inv_std, (n, G), "one per image and group")
    shape4 = (n, G, c // G, h * w)
    dx, dgamma, dbeta = normalization.groupnorm_backward(
        dout.reshape(shape4), xhat.reshape(shape4), gamma.reshape(c), inv_std
    )
    return dx.reshape(dout.shape), dgamma.reshape(1, c, 1, 1), dbeta.reshape(1, c, 1, 1)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """
    Convolution, spatial batch normalisation, ReLU.

    Inputs:
    - x, w, b, conv_param: As conv_forward_naive
    - gamma, beta: Of shape (F,)
    - bn_param: As spatial_batchnorm_forward

    Returns a tuple of:
    - out: Array of shape (N, F, H', W')
    - cache: (conv_cache, bn_cache, relu_cache)
    """
    return conv_sandwich_forward(sys.modules[__name__], x, w, b, gamma, beta, conv_param, bn_param)


def conv_sandwich_forward(layers, x, w, b, gamma, beta, conv_param, bn_param):
    """conv_bn_relu_forward composed from the functions of the module ``layers`` (this one, or fastnn.cuda)."""
    a, conv_cache = layers.conv_forward_naive(x, w, b, conv_param)
    an, bn_cache = layers.spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = layers.relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_sandwich_backward(layers, dout, cache):
    """conv_bn_relu_backward composed from the functions of the module ``layers``."""
    conv_cache, bn_cache, relu_cache = unpack_cache(cache, ("conv_cache", "bn_cache", "relu_cache"), "conv_bn_relu_forward")
    dan, dgamma, dbeta = layers.spatial_batchnorm_backward(layers.relu_backward(dout, relu_cache), bn_cache)
    dx, dw, db = layers.conv_backward_naive(dan, conv_cache)
    return dx, dw, db, dgamma, dbeta


def conv_bn_relu_backward(dout, cache):
    """
    Backward pass of conv_bn_relu_forward.

    Returns a tuple of:
    - dx, dw, db: As conv_backward_naive
    - dgamma, dbeta: Of shape (F,)
    """
    return conv_sandwich_backward(sys.modules[__name__], dout, cache)
