"""Pure-NumPy layers: the oracle every kernel is tested against.

Same names, signatures and cache layouts as :mod:`fastnn.layers`.  The code
favours clarity over speed, keeps the input's float dtype (no ``np.ones``
vectors that would upcast float32), and does no argument checking.
"""

import numpy as np

from fastnn.validation import check_conv2d_params, check_pool2d_params, conv2d_settings, pool2d_settings


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


def cross_entropy_rows(x, a, log_probs=False):
    """The oracle of :func:`fastnn.layers.cross_entropy_rows`, in float64 NumPy."""
    x64, a64 = x.astype(np.float64), a.astype(np.float64)
    shifted = x64 - x64.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.where(a64 != 0, a64 * logp, 0.0).sum(axis=1)
    dx = a64.sum(axis=1, keepdims=True) * np.exp(logp) - a64
    return loss, dx.astype(x.dtype), (logp.astype(x.dtype) if log_probs else None)


def multi_margin_rows(x, y, p=1, margin=1.0, y_weight=None):
    """The oracle of :func:`fastnn.layers.multi_margin_rows`, in float64 NumPy."""
    x64 = x.astype(np.float64)
    m, c = x.shape
    rows = np.arange(m)
    weight = np.ones(m) if y_weight is None else np.asarray(y_weight, np.float64)
    z = margin - x64[rows, y][:, None] + x64
    z[rows, y] = 0.0
    z = np.maximum(z, 0.0)
    scale = (weight / c)[:, None]
    loss = (z ** p * scale).sum(axis=1)
    g = np.where(z > 0, (1.0 if p == 1 else 2.0 * z) * scale, 0.0)
    g[rows, y] = -g.sum(axis=1)
    return loss, g.astype(x.dtype)


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
    std = np.sqrt(var + eps)
    xhat = (x - mean) / std  # the course's order
    return gamma * xhat + beta, (xhat, gamma, 1 / std, bn_param["mode"])


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


# ------------------------------------------------ convolution and pooling
# x is (N, C, H, W) and w (F, C, HH, WW); the windows are views made by
# sliding_window_view, so the forward is the course's im2col idea (strided
# windows, one tensordot) and the backward's dx the course's col2im (one
# strided add per filter tap).


def _conv_windows(x, hh, ww, stride, pad):
    """Views of shape (N, C, Ho, Wo, HH, WW): windows[n, c, i, j] is the padded input under output (i, j)."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return np.lib.stride_tricks.sliding_window_view(xp, (hh, ww), axis=(2, 3))[:, :, ::stride, ::stride]


def conv_forward_naive(x, w, b, conv_param):
    """The oracle of :func:`fastnn.layers.conv_forward_naive`: same inputs, returns and cache."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    windows = _conv_windows(x, w.shape[2], w.shape[3], stride, pad)
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, F)
    out = out.transpose(0, 3, 1, 2) + b[:, None, None]
    return np.ascontiguousarray(out, x.dtype), (x, w, b, {"stride": stride, "pad": pad})


def conv_backward_naive(dout, cache):
    """The oracle of :func:`fastnn.layers.conv_backward_naive`: same inputs, returns and cache."""
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, hh, ww = w.shape
    _, _, ho, wo = dout.shape
    windows = _conv_windows(x, hh, ww, stride, pad)
    db = dout.sum(axis=(0, 2, 3))
    dw = np.tensordot(dout, windows, axes=([0, 2, 3], [0, 2, 3]))  # (F, C, HH, WW)
    n, c, h, wd = x.shape
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), x.dtype)
    for kh in range(hh):
        for kw in range(ww):
            dxp[:, :, kh:kh + stride * ho:stride, kw:kw + stride * wo:stride] += np.tensordot(dout, w[:, :, kh, kw], axes=([1], [0])).transpose(0, 3, 1, 2)
    return dxp[:, :, pad:pad + h, pad:pad + wd].copy(), dw.astype(x.dtype), db


def _conv2d_taps(x, w, b, conv_param):
    """
    The zero-padded input (N, C, Hp, Wp), per filter tap (a, b) the slices
    of it each output reads, and the geometry (check_conv2d_params').
    """
    geometry = check_conv2d_params(x, w, b, conv_param)
    (sh, sw), (top, bottom, left, right), (dh, dw), _, (ho, wo) = geometry
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    taps = {(a, b): (slice(a * dh, a * dh + sh * (ho - 1) + 1, sh), slice(b * dw, b * dw + sw * (wo - 1) + 1, sw))
            for a in range(w.shape[2]) for b in range(w.shape[3])}
    return xp, taps, geometry


def conv2d_forward(x, w, b, conv_param):
    """The oracle of :func:`fastnn.layers.conv2d_forward`: a sum over filter taps of strided slices, group by group."""
    xp, taps, geometry = _conv2d_taps(x, w, b, conv_param)
    groups = geometry[3]
    f, cg = w.shape[0], w.shape[1]
    fg = f // groups
    out = 0
    for (a, b_), (rows, cols) in taps.items():
        window = xp[:, :, rows, cols]  # (N, C, Ho, Wo)
        parts = [np.tensordot(window[:, g * cg:(g + 1) * cg], w[g * fg:(g + 1) * fg, :, a, b_], axes=([1], [1]))
                 for g in range(groups)]  # each (N, Ho, Wo, F / G)
        out = out + np.concatenate(parts, axis=3)
    out = out.transpose(0, 3, 1, 2) + b[:, None, None]
    return np.ascontiguousarray(out, x.dtype), (x, w, b, conv2d_settings(geometry))


def conv2d_backward(dout, cache):
    """The oracle of :func:`fastnn.layers.conv2d_backward`: the transposes of the forward's slices and products."""
    x, w, b, conv_param = cache
    xp, taps, (_, (top, _, left, _), _, groups, _) = _conv2d_taps(x, w, b, conv_param)
    f, cg = w.shape[0], w.shape[1]
    fg = f // groups
    dxp = np.zeros_like(xp, dtype=dout.dtype)
    dw = np.zeros_like(w)
    for (a, b_), (rows, cols) in taps.items():
        window = xp[:, :, rows, cols]
        for g in range(groups):
            d = dout[:, g * fg:(g + 1) * fg]  # (N, F/G, Ho, Wo)
            dw[g * fg:(g + 1) * fg, :, a, b_] = np.tensordot(d, window[:, g * cg:(g + 1) * cg], axes=([0, 2, 3], [0, 2, 3]))
            dxp[:, g * cg:(g + 1) * cg, rows, cols] += np.tensordot(d, w[g * fg:(g + 1) * fg, :, a, b_], axes=([1], [0])).transpose(0, 3, 1, 2)
    h, wd = x.shape[2], x.shape[3]
    return dxp[:, :, top:top + h, left:left + wd].copy(), dw, dout.sum(axis=(0, 2, 3))


def max_pool_forward_naive(x, pool_param):
    """
    The oracle of :func:`fastnn.layers.max_pool_forward_naive`: same inputs, returns and cache.

    The chosen input of each window is ``np.argmax`` of the window read in
    row-major order: the first maximum, NaN counting as the largest.
    """
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    windows = np.lib.stride_tricks.sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    flat = windows.reshape(*windows.shape[:4], ph * pw)
    arg = flat.argmax(axis=4)
    out = np.take_along_axis(flat, arg[..., None], axis=4)[..., 0]
    offsets = arg.astype(np.uint8 if ph * pw <= 256 else np.int32)
    return out.copy(), (x, {"pool_height": ph, "pool_width": pw, "stride": stride}, offsets)


def max_pool_backward_naive(dout, cache):
    """The oracle of :func:`fastnn.layers.max_pool_backward_naive`: same inputs, returns and cache."""
    x, pool_param, arg = cache
    pw, stride = pool_param["pool_width"], pool_param["stride"]
    n, c, ho, wo = dout.shape
    rows = np.arange(ho)[:, None] * stride + arg // pw
    cols = np.arange(wo)[None, :] * stride + arg % pw
    dx = np.zeros_like(x, dtype=dout.dtype)
    index = np.ix_(range(n), range(c))
    np.add.at(dx, (index[0][..., None, None], index[1][..., None, None], rows, cols), dout)
    return dx


def pool2d_windows(x, pool_param):
    """
    The windows of torch's max pooling: values (N, C, Ho, Wo, kh*kw) in
    row-major window order, which are inside the image (Ho, Wo, kh*kw),
    their flat indices h * W + w, and the geometry (check_pool2d_params').
    """
    geometry = check_pool2d_params(x, pool_param)  # the option rules and output size, as torch states them
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = geometry
    n, c, h, w = x.shape
    rows = np.arange(ho)[:, None] * sh - ph + np.arange(kh)[None, :] * dh  # (Ho, kh)
    cols = np.arange(wo)[:, None] * sw - pw + np.arange(kw)[None, :] * dw  # (Wo, kw)
    r = rows[:, None, :, None]  # (Ho, 1, kh, 1)
    q = cols[None, :, None, :]  # (1, Wo, 1, kw)
    valid = ((r >= 0) & (r < h) & (q >= 0) & (q < w)).reshape(ho, wo, kh * kw)
    flat = (np.clip(r, 0, h - 1) * w + np.clip(q, 0, w - 1)).reshape(ho, wo, kh * kw)
    return x.reshape(n, c, h * w)[:, :, flat], valid, flat, geometry


def max_pool2d_forward(x, pool_param):
    """
    The oracle of :func:`fastnn.layers.max_pool2d_forward` (torch's options):
    each window read in row-major order over its positions inside the image;
    the first NaN, else the first maximum, is chosen.
    """
    v, valid, flat, geometry = pool2d_windows(x, pool_param)
    nan = np.isnan(v) & valid
    finite = np.where(valid & ~np.isnan(v), v, -np.inf)
    top = finite.max(axis=-1, keepdims=True)
    pick = np.where(nan.any(axis=-1), nan.argmax(axis=-1), (valid & (v == top)).argmax(axis=-1))
    index = np.take_along_axis(np.broadcast_to(flat, v.shape), pick[..., None], axis=-1)[..., 0]
    out = np.take_along_axis(v, pick[..., None], axis=-1)[..., 0]
    return out.copy(), (x, pool2d_settings(pool_param, geometry), index.astype(np.int64))


def max_pool2d_backward(dout, cache):
    """The oracle of :func:`fastnn.layers.max_pool2d_backward`: dout added to the input each index names."""
    x, _, index = cache
    n, c, h, w = x.shape
    dx = np.zeros((n, c, h * w), dout.dtype)
    planes = np.arange(n * c).reshape(n, c)[..., None, None]
    np.add.at(dx.reshape(n * c, h * w), (np.broadcast_to(planes, index.shape), index), dout)
    return dx.reshape(x.shape)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """The oracle of :func:`fastnn.layers.spatial_batchnorm_forward`: the course's transpose to (N*H*W, C) around batchnorm."""
    n, c, h, w = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
    out, (xhat, gamma, inv_std, mode) = batchnorm_forward(rows, gamma, beta, bn_param)
    back = lambda a: a.reshape(n, h, w, c).transpose(0, 3, 1, 2).copy()  # noqa: E731
    return back(out), (back(xhat), gamma, inv_std, mode)


def spatial_batchnorm_backward(dout, cache):
    """The oracle of :func:`fastnn.layers.spatial_batchnorm_backward`: same inputs, returns and cache."""
    xhat, gamma, inv_std, mode = cache
    n, c, h, w = dout.shape
    rows = lambda a: a.transpose(0, 2, 3, 1).reshape(-1, c)  # noqa: E731
    dx, dgamma, dbeta = batchnorm_backward(rows(dout), (rows(xhat), gamma, inv_std, mode))
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2).copy(), dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """The oracle of :func:`fastnn.layers.spatial_groupnorm_forward`: same inputs, returns and cache."""
    eps = gn_param.get("eps", 1e-5)
    n = x.shape[0]
    groups = x.reshape(n, G, -1)
    mean = groups.mean(axis=2, keepdims=True)
    var = groups.var(axis=2, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = ((groups - mean) * inv_std).reshape(x.shape)
    return gamma * xhat + beta, (xhat, gamma, inv_std.reshape(n, G), G)


def spatial_groupnorm_backward(dout, cache):
    """The oracle of :func:`fastnn.layers.spatial_groupnorm_backward`: same inputs, returns and cache."""
    xhat, gamma, inv_std, G = cache
    n = dout.shape[0]
    dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dxhat = (dout * gamma).reshape(n, G, -1)
    h = xhat.reshape(n, G, -1)
    m = h.shape[2]
    inv = inv_std.reshape(n, G, 1)
    dx = inv / m * (m * dxhat - dxhat.sum(axis=2, keepdims=True) - h * (dxhat * h).sum(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


def conv_relu_forward(x, w, b, conv_param):
    """Convolution then ReLU; cache (conv_cache, relu_cache) as the course's layer_utils."""
    a, conv_cache = conv_forward_naive(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """Backward pass of conv_relu_forward: (dx, dw, db)."""
    conv_cache, relu_cache = cache
    return conv_backward_naive(relu_backward(dout, relu_cache), conv_cache)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convolution, ReLU, max pool; cache (conv_cache, relu_cache, pool_cache)."""
    a, conv_cache = conv_forward_naive(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_naive(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """Backward pass of conv_relu_pool_forward: (dx, dw, db)."""
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_naive(dout, pool_cache)
    return conv_backward_naive(relu_backward(ds, relu_cache), conv_cache)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """Convolution, spatial batchnorm, ReLU; cache (conv_cache, bn_cache, relu_cache)."""
    a, conv_cache = conv_forward_naive(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout, cache):
    """Backward pass of conv_bn_relu_forward: (dx, dw, db, dgamma, dbeta)."""
    conv_cache, bn_cache, relu_cache = cache
    dan, dgamma, dbeta = spatial_batchnorm_backward(relu_backward(dout, relu_cache), bn_cache)
    dx, dw, db = conv_backward_naive(dan, conv_cache)
    return dx, dw, db, dgamma, dbeta
