"""Drop-in compiled layers with the cs231n contracts.

Replace ``from cs231n.layers import *`` with ``from fastnn.layers import *``.
Every function validates its arguments here, converts them to C-contiguous
arrays of one float dtype (float32 stays float32, float64 stays float64,
integers count as float64, mixed inputs become float64), and hands them to
the Numba kernels in :mod:`fastnn.kernels.cpu`, one module per op family.
"""

import numpy as np

from fastnn.kernels.cpu import affine, elementwise, losses
from fastnn.kernels.cpu import norm as normalization
from fastnn import catalog
from fastnn.rng import dropout_uniforms, reseed
from fastnn.validation import (
    HostArrays,
    as_float_arrays,
    check_affine_grad,
    check_affine_params,
    check_keep_probability,
    check_mode,
    as_labels,
    check_cache_mode,
    check_ndim,
    check_out,
    check_scores,
    check_shape,
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
        out = np.empty_like(x)
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
        out = np.empty_like(dout)
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
    out = np.empty_like(x)
    mask = np.empty(x.shape, np.bool_)
    elementwise.dropout_forward(x.reshape(-1), dropout_uniforms(x.shape).reshape(-1), p, out.reshape(-1), mask.reshape(-1))
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
    dx = np.empty_like(dout)
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
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = np.asarray(bn_param.get("running_mean", np.zeros(d, x.dtype)), x.dtype)
    running_var = np.asarray(bn_param.get("running_var", np.zeros(d, x.dtype)), x.dtype)
    check_shape("bn_param['running_mean']", running_mean, (d,), "one per feature")
    check_shape("bn_param['running_var']", running_var, (d,), "one per feature")
    if mode == "train":
        mean, var = normalization.column_moments(x)
        bn_param["running_mean"] = (momentum * running_mean + (1 - momentum) * mean).astype(x.dtype)
        bn_param["running_var"] = (momentum * running_var + (1 - momentum) * var).astype(x.dtype)
    else:
        mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = np.empty_like(x)
    out = np.empty_like(x)
    normalization.normalize_columns(x, mean, inv_std, gamma, beta, xhat, out)
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
    dx = np.empty_like(dout)
    dgamma = np.empty(dout.shape[1], dout.dtype)
    dbeta = np.empty(dout.shape[1], dout.dtype)
    normalization.batchnorm_backward(dout, xhat, gamma, inv_std, mode == "train", dx, dgamma, dbeta)
    return dx, dgamma, dbeta


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
    xhat = np.empty_like(x)
    out = np.empty_like(x)
    inv_std = np.empty(x.shape[0], x.dtype)
    normalization.layernorm_forward(x, gamma, beta, float(ln_param.get("eps", 1e-5)), xhat, out, inv_std)
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
    dx = np.empty_like(dout)
    dgamma = np.empty(dout.shape[1], dout.dtype)
    dbeta = np.empty(dout.shape[1], dout.dtype)
    normalization.layernorm_backward(dout, xhat, gamma, inv_std.reshape(-1), dx, dgamma, dbeta)
    return dx, dgamma, dbeta


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


_NORMS = {"batchnorm": (batchnorm_forward, batchnorm_backward), "layernorm": (layernorm_forward, layernorm_backward)}


def _check_norm_name(norm):
    if not isinstance(norm, str) or norm not in _NORMS:
        raise ValueError(f"norm: expected 'batchnorm' or 'layernorm', got {norm!r}")


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
    _check_norm_name(norm)
    a, fc_cache = affine_forward(x, w, b)
    n, norm_cache = _NORMS[norm][0](a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(n)
    return out, (fc_cache, norm_cache, relu_cache, norm)


def affine_norm_relu_backward(dout, cache):
    """
    Backward pass of affine_norm_relu_forward.

    Returns a tuple of:
    - dx, dw, db, dgamma, dbeta
    """
    fc_cache, norm_cache, relu_cache, norm = unpack_cache(
        cache, ("fc_cache", "norm_cache", "relu_cache", "norm"), "affine_norm_relu_forward"
    )
    _check_norm_name(norm)
    dn = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = _NORMS[norm][1](dn, norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta
