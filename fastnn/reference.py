"""Pure-NumPy layers: the oracle every kernel is tested against.

Same names, signatures and cache layouts as :mod:`fastnn.layers`.  The code
favours clarity over speed, keeps the input's float dtype (no ``np.ones``
vectors that would upcast float32), and does no argument checking.
"""

import numpy as np


def _rows(x):
    """x of shape (N, d_1, ..., d_k) as (N, D); explicit D so that N = 0 works."""
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))


def affine_forward(x, w, b):
    """The oracle of :func:`fastnn.layers.affine_forward`: same inputs, returns and cache."""
    out = _rows(x).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """The oracle of :func:`fastnn.layers.affine_backward`: same inputs, returns and cache."""
    x, w, _ = cache
    x2 = _rows(x)
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x2.T.dot(dout)
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """The oracle of :func:`fastnn.layers.relu_forward`: same inputs, returns and cache."""
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """
    The oracle of :func:`fastnn.layers.relu_backward`: same inputs, returns and cache.

    As in the seed notebook, the gradient passes where x >= 0, so an input
    of exactly zero lets the gradient through.
    """
    return dout * (cache >= 0)


def affine_relu_forward(x, w, b):
    """The oracle of :func:`fastnn.layers.affine_relu_forward`: same inputs, returns and cache."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """The oracle of :func:`fastnn.layers.affine_relu_backward`: same inputs, returns and cache."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def softmax_loss(x, y):
    """
    The oracle of :func:`fastnn.layers.softmax_loss`: same inputs, returns and cache.

    The stable form L_i = -f_{y_i} + log sum_j exp f_j, with the row maximum
    subtracted first, so no epsilon is needed inside the log.
    """
    n = x.shape[0]
    rows = np.arange(n)
    shifted = x - x.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    sums = exps.sum(axis=1, keepdims=True)
    loss = np.sum(np.log(sums[:, 0]) - shifted[rows, y]) / n
    dx = exps / sums
    dx[rows, y] -= 1
    dx /= n
    return np.float64(loss), dx


def svm_loss(x, y):
    """The oracle of :func:`fastnn.layers.svm_loss`: same inputs, returns and cache."""
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / n
    positive = margins > 0
    dx = positive.astype(x.dtype)
    dx[rows, y] -= positive.sum(axis=1)
    dx /= n
    return np.float64(loss), dx


def dropout_forward(x, dropout_param):
    """
    The oracle of :func:`fastnn.layers.dropout_forward`: same inputs, returns and cache.

    cs231n's own formulation: reseed NumPy's global generator when
    dropout_param has a 'seed' key, then ``mask = (np.random.rand(*x.shape)
    < p) / p`` in float64 and ``out = x * mask`` in x's dtype.
    """
    from fastnn.rng import dropout_uniforms, reseed

    p = dropout_param["p"]
    reseed(dropout_param)
    if dropout_param["mode"] == "test":
        return x.copy(), (dropout_param, None)
    keep = dropout_uniforms(x.shape) < p
    return (x * (keep / p)).astype(x.dtype), (dropout_param, keep)


def dropout_backward(dout, cache):
    """The oracle of :func:`fastnn.layers.dropout_backward`: same inputs, returns and cache."""
    dropout_param, keep = cache
    if keep is None:
        return dout.copy()
    return (dout * (keep / dropout_param["p"])).astype(dout.dtype)


def batchnorm_forward(x, gamma, beta, bn_param):
    """The oracle of :func:`fastnn.layers.batchnorm_forward`: same inputs, returns and cache."""
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d, x.dtype))
    running_var = bn_param.get("running_var", np.zeros(d, x.dtype))
    if bn_param["mode"] == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        bn_param["running_mean"] = (momentum * running_mean + (1 - momentum) * mean).astype(x.dtype)
        bn_param["running_var"] = (momentum * running_var + (1 - momentum) * var).astype(x.dtype)
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    return gamma * xhat + beta, (xhat, gamma, inv_std, bn_param["mode"])


def batchnorm_backward(dout, cache):
    """The oracle of :func:`fastnn.layers.batchnorm_backward`: same inputs, returns and cache."""
    xhat, gamma, inv_std, mode = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    if mode == "test":
        return dxhat * inv_std, dgamma, dbeta
    n = dout.shape[0]
    dx = inv_std / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


# The course's notebook asks for a staged and a closed-form backward; the
# closed form is both here, as in fastnn.layers.
batchnorm_backward_alt = batchnorm_backward


def layernorm_forward(x, gamma, beta, ln_param):
    """The oracle of :func:`fastnn.layers.layernorm_forward`: same inputs, returns and cache."""
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    return gamma * xhat + beta, (xhat, gamma, inv_std)


def layernorm_backward(dout, cache):
    """The oracle of :func:`fastnn.layers.layernorm_backward`: same inputs, returns and cache."""
    xhat, gamma, inv_std = cache
    d = dout.shape[1]
    dxhat = dout * gamma
    dx = inv_std / d * (d * dxhat - dxhat.sum(axis=1, keepdims=True) - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


_NORMS = {"batchnorm": (batchnorm_forward, batchnorm_backward), "layernorm": (layernorm_forward, layernorm_backward)}


def affine_norm_relu_forward(x, w, b, gamma, beta, norm_param, norm="batchnorm"):
    """Affine, then batch or layer normalisation, then ReLU; see fastnn.layers."""
    a, fc_cache = affine_forward(x, w, b)
    n, norm_cache = _NORMS[norm][0](a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(n)
    return out, (fc_cache, norm_cache, relu_cache, norm)


def affine_norm_relu_backward(dout, cache):
    """Backward pass of affine_norm_relu_forward: (dx, dw, db, dgamma, dbeta)."""
    fc_cache, norm_cache, relu_cache, norm = cache
    da, dgamma, dbeta = _NORMS[norm][1](relu_backward(dout, relu_cache), norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta
