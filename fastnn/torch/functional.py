"""fastnn's layers as PyTorch autograd functions: ``import fastnn.torch.functional as FF``.

Each function takes and returns torch tensors and runs fastnn's kernels:
fastnn.layers for CPU tensors (through ``.numpy()`` and
``torch.from_numpy``, no copy), fastnn.cuda for CUDA tensors (through
``__cuda_array_interface__``, no copy, on ``torch.cuda.current_stream()``).
The caches live on the autograd context; a backward runs fastnn's backward
kernel with them, once: double backward (``create_graph=True``) raises a
RuntimeError rather than hand back a gradient that autograd cannot
differentiate, and the input tensors are saved with ``save_for_backward``,
so an in-place change to one between the forward and the backward raises
torch's own error instead of giving a gradient of the changed values.  Gradients are computed only
for inputs that require them where the kernel allows it, and returned in
the inputs' dtype.

Conventions, and where they differ from ``torch.nn.functional``:
- float32 and float64 only, one dtype for every float input; integer
  labels of any integer dtype (int64 on the GPU is kept as it is).
- relu passes the gradient where x >= 0 (cs231n's rule); torch passes it
  where x > 0, so the two differ at exactly 0.
- cross_entropy and multi_margin_loss take torch's options (reduction,
  class weights, ignore_index, label smoothing, K-dimensional input and
  probability targets; p and margin) through fastnn's per-row loss kernels
  (``cross_entropy_rows``, ``multi_margin_rows``); their defaults run the
  fused cs231n losses.  Class weights take no gradient.  svm_loss is
  cs231n's hinge loss, which multi_margin_loss divides by the number of
  classes.
- dropout's p is torch's (the probability to drop), its masks fastnn's:
  NumPy's global generator on the CPU, Philox on the GPU, never torch's
  generator, so ``torch.manual_seed`` does not make them reproducible
  (``np.random.seed`` does).
- max_pool2d sends a window's gradient to its first NaN where it holds
  several; torch's to the last.
- max_pool2d and conv2d take torch's options (see each); the course's
  geometry runs the fast kernels, any other the general ones
  (``max_pool2d_forward``, ``conv2d_forward``), which choose and sum the same.
- batch_norm keeps torch's running averages (unbiased running variance,
  momentum as torch counts it); see :class:`fastnn.torch.BatchNorm1d`.
"""

import numpy as np
import torch

import fastnn.layers

_FLOATS = (torch.float32, torch.float64)

__all__ = ["affine", "linear", "relu", "affine_relu", "cross_entropy", "svm_loss", "multi_margin_loss",
           "batch_norm", "batch_norm_channels", "dropout", "conv2d", "max_pool2d"]


class _Side:
    """The layer module and array conversions of one device type."""

    def __init__(self, device):
        self.device = device
        if device.type == "cpu":
            self.layers, self.stream = fastnn.layers, {}
        else:
            import fastnn.cuda as gpu

            self.layers, self.stream = gpu, {"stream": torch.cuda.current_stream(device)}

    def array(self, t):
        """t as an array of this side, sharing memory (a contiguous copy first where the GPU needs one)."""
        if t is None:
            return None
        t = t.detach()
        if self.device.type == "cpu":
            return t.numpy()
        return t if t.dim() <= 2 else t.contiguous()

    def tensor(self, a):
        """A fastnn result as a tensor on this side, sharing memory."""
        if self.device.type == "cpu":
            return torch.from_numpy(np.asarray(a))
        return torch.as_tensor(a, device=self.device)

    def call(self, name, *args):
        return getattr(self.layers, name)(*args, **self.stream)


def _side(names, *tensors, labels=None):
    """The side the float tensors (and labels) live on, after checking type, dtype and device."""
    dtype = device = None
    for name, t in zip(names, tensors):
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in _FLOATS:
            raise TypeError(f"{name}: expected a float32 or float64 tensor, got {t.dtype}")
        if dtype is None:
            dtype, device = t.dtype, t.device
        elif t.dtype != dtype:
            raise TypeError(f"{name}: expected {dtype} like {names[0]}, got {t.dtype}")
        elif t.device != device:
            raise ValueError(f"{name}: expected a tensor on {device} like {names[0]}, got one on {t.device}")
    if device.type not in ("cpu", "cuda"):
        raise TypeError(f"{names[0]}: fastnn runs on CPU and CUDA tensors, got one on {device}")
    if labels is not None:
        if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
            raise TypeError(f"target: expected an integer tensor of class indices, got {getattr(labels, 'dtype', type(labels).__name__)}")
        if labels.device != device:
            raise ValueError(f"target: expected a tensor on {device} like the scores, got one on {labels.device}")
    return _Side(device)


def _first_order_only(what):
    """Raise where autograd asks for a differentiable backward (create_graph=True), which fastnn's kernels cannot give."""
    if torch.is_grad_enabled():
        raise RuntimeError(
            f"fastnn.torch.functional.{what}: double backward (create_graph=True) is not supported: fastnn's backward "
            "kernels are not differentiable; use torch.nn.functional for a gradient penalty"
        )


class _Layer(torch.autograd.Function):
    """
    One fastnn layer: ``apply((forward, backward), names, params, *tensors)``
    runs ``forward(*arrays, *params)`` of the side's layer module, keeps the
    cache on the context, and the backward pass runs ``backward(dout, cache)``.
    The cache holds the inputs' memory, so the inputs are saved for backward
    too: torch's version counters then refuse a backward after an in-place change.
    """

    @staticmethod
    def forward(ctx, pair, names, params, *tensors):
        side = _side(names, *tensors)
        out, ctx.cache = side.call(pair[0], *(side.array(t) for t in tensors), *params)
        ctx.side, ctx.backward_name = side, pair[1]
        ctx.save_for_backward(*tensors)
        return side.tensor(out)

    @staticmethod
    def backward(ctx, dout):
        _first_order_only(ctx.backward_name)
        ctx.saved_tensors  # raises if an input was changed in place since the forward
        grads = ctx.side.call(ctx.backward_name, ctx.side.array(dout), ctx.cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        # Gradients only for the tensors that need one (the first three inputs are the layer's description).
        needed = ctx.needs_input_grad[3:]
        return (None, None, None, *(ctx.side.tensor(g) if need else None for g, need in zip(grads, needed)))


_AFFINE = ("affine_forward", "affine_backward")
_AFFINE_RELU = ("affine_relu_forward", "affine_relu_backward")


def affine(x, w, b):
    """
    cs231n's affine layer: ``x.reshape(N, D) @ w + b``.

    Inputs:
    - x: Tensor of shape (N, d_1, ..., d_k)
    - w: Tensor of shape (D, M), fastnn's layout (the transpose of nn.Linear's weight)
    - b: Tensor of shape (M,)

    Returns:
    - out: Tensor of shape (N, M)
    """
    return _Layer.apply(_AFFINE, ("x", "w", "b"), (), x, w, b)


def affine_relu(x, w, b):
    """``relu(affine(x, w, b))`` in one fused kernel; shapes as :func:`affine`."""
    return _Layer.apply(_AFFINE_RELU, ("x", "w", "b"), (), x, w, b)


def linear(x, weight, bias=None):
    """
    ``torch.nn.functional.linear`` on fastnn's kernel: x (*, D), weight
    (M, D) as nn.Linear holds it, bias (M,) or None; returns (*, M).  An
    unbatched x (D,) gives (M,), and any leading dimensions are flattened
    into the batch and restored.
    """
    for name, t in (("x", x), ("weight", weight)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__module__}.{type(t).__name__}")
    if weight.dim() != 2:
        raise ValueError(f"weight: expected a 2-D tensor of shape (M, D), got shape {tuple(weight.shape)}")
    if x.dim() < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"x: expected shape (*, {weight.shape[1]}) for weight of shape {tuple(weight.shape)}, got shape {tuple(x.shape)}")
    if bias is None:
        bias = weight.new_zeros(weight.shape[0])
    out = _Layer.apply(_AFFINE, ("x", "weight", "bias"), (), x.reshape(-1, x.shape[-1]), weight.t(), bias)
    return out.reshape(*x.shape[:-1], weight.shape[0])


def relu(x):
    """max(x, 0), of x's shape; the gradient passes where x >= 0 (cs231n's rule)."""
    return _Layer.apply(("relu_forward", "relu_backward"), ("x",), (), x)


class _Loss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y, kernel, per_class):
        side = _side(("input",), x, labels=y)
        y_array = y.detach().numpy() if side.device.type == "cpu" else y.detach()
        loss, dx = side.call(kernel, side.array(x), y_array)  # checks x is (N, C) with N, C >= 1
        scale = 1.0 / x.shape[1] if per_class else 1.0
        ctx.side, ctx.dx, ctx.scale = side, dx, scale
        return torch.tensor(float(loss) * scale, dtype=x.dtype, device=x.device)

    @staticmethod
    def backward(ctx, dloss):
        _first_order_only("loss")
        dx = ctx.side.tensor(ctx.dx)
        factor = dloss * ctx.scale
        return dx * factor.to(dx.dtype), None, None, None


class _Rows(torch.autograd.Function):
    """
    A per-row loss kernel of fastnn (``cross_entropy_rows`` or
    ``multi_margin_rows``): returns the loss of each row, in x's dtype; the
    backward scales the kernel's gradient rows by the incoming ones.  For
    probability targets that require a gradient, ``target_scale`` (C,) turns
    the kernel's log-probabilities into it: ``-target_scale * logp``.
    """

    @staticmethod
    def forward(ctx, x, target, name, args, target_scale):
        side = _side(("input",), x)
        want_logp = name == "cross_entropy_rows" and target is not None and target.requires_grad
        arrays = [side.array(a) if isinstance(a, torch.Tensor) else a for a in args]
        if name == "cross_entropy_rows":
            loss, dx, logp = side.call(name, side.array(x), *arrays, want_logp)
        else:
            (loss, dx), logp = side.call(name, side.array(x), *arrays), None
        ctx.side, ctx.dx, ctx.logp, ctx.target_scale = side, dx, logp, target_scale
        ctx.save_for_backward(x, *([target] if isinstance(target, torch.Tensor) else []))
        return side.tensor(loss).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        _first_order_only("loss")
        ctx.saved_tensors  # raises if an input was changed in place since the forward
        g = g[:, None]
        dx = ctx.side.tensor(ctx.dx) * g
        dt = None if ctx.logp is None else -(ctx.side.tensor(ctx.logp) * ctx.target_scale) * g
        return dx, dt, None, None, None


_REDUCTIONS = ("mean", "sum", "none")


def _reduction(size_average, reduce, reduction):
    """torch's reduction, the legacy size_average and reduce arguments included."""
    if size_average is not None or reduce is not None:
        reduction = torch.nn._reduction.legacy_get_string(size_average, reduce, emit_warning=False)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _class_weight(weight, classes, like):
    if weight is None:
        return like.new_ones(classes)
    if not isinstance(weight, torch.Tensor) or weight.shape != (classes,):
        raise ValueError(f"weight: expected a tensor of shape ({classes},), one weight per class, got {getattr(weight, 'shape', weight)!r}")
    if weight.dtype != like.dtype or weight.device != like.device:
        raise TypeError(f"weight: expected a {like.dtype} tensor on {like.device} like input, got {weight.dtype} on {weight.device}")
    return weight.detach()


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """
    ``F.cross_entropy`` with torch's options on fastnn's kernels.

    Inputs:
    - input: Scores of shape (N, C), (C,) unbatched, or (N, C, d_1, ..., d_k)
    - target: Class indices (an integer tensor of input's shape without C),
      or class probabilities (a float tensor of input's shape)
    - weight: Weight of each class, of shape (C,), or None
    - ignore_index: A class index whose entries count nothing (index targets)
    - reduction: 'mean' (over the weights of the counted entries for index
      targets, over the entries for probabilities, as torch), 'sum' or 'none'
    - label_smoothing: In [0, 1]

    Returns the loss: a 0-d tensor, or of target's shape (without C) for 'none'.

    The defaults (N, C) with index targets and mean reduction run fastnn's
    fused softmax loss; every option runs ``cross_entropy_rows`` (the
    CPU or GPU kernel), one row per sample and position, with the options
    folded into its coefficients (torch's formula: (1 - smoothing) times the
    weighted target entry plus smoothing / C times the weighted sum over
    classes).  Class weights take no gradient (torch gives none either).
    """
    reduction = _reduction(size_average, reduce, reduction)
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target: expected a torch.Tensor, got {type(target).__name__}")
    if not isinstance(label_smoothing, (int, float)) or isinstance(label_smoothing, bool) or not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing: expected a number in [0, 1], got {label_smoothing!r}")
    if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
        raise TypeError(f"ignore_index: expected an int, got {ignore_index!r}")
    probabilities = target.dtype.is_floating_point
    if (input.dim() == 2 and not probabilities and weight is None and reduction == "mean" and label_smoothing == 0
            and not bool((target == ignore_index).any())):
        return _Loss.apply(input, target, "softmax_loss", False)
    _side(("input",), input)
    if input.dim() < 1:
        raise ValueError(f"input: expected shape (C,), (N, C) or (N, C, d_1, ...), got shape {tuple(input.shape)}")
    class_dim = 0 if input.dim() == 1 else 1
    classes = input.shape[class_dim]
    x = input.movedim(class_dim, -1).reshape(-1, classes)
    w = _class_weight(weight, classes, input)
    eps = float(label_smoothing)
    if probabilities:
        if target.shape != input.shape:
            raise ValueError(f"target: expected class indices (an integer tensor) or probabilities of input's shape "
                             f"{tuple(input.shape)}, got a {target.dtype} tensor of shape {tuple(target.shape)}")
        _side(("input", "target"), input, target)
        t = target.movedim(class_dim, -1).reshape(-1, classes)
        a = ((t.detach() * (1 - eps) + eps / classes) * w).contiguous()
        rows = _Rows.apply(x, t, "cross_entropy_rows", (a,), (1 - eps) * w)
        total = rows.shape[0]
        out_shape = target.movedim(class_dim, -1).shape[:-1]
    else:
        expected = input.shape[:class_dim] + input.shape[class_dim + 1:]
        _side(("input",), input, labels=target)
        if target.shape != expected:
            raise ValueError(f"target: expected class indices of shape {tuple(expected)}, got shape {tuple(target.shape)}")
        t = target.reshape(-1)
        counted = t != ignore_index
        if bool(((t < 0) | (t >= classes))[counted].any()):
            raise ValueError(f"target: expected class indices in [0, {classes}) or ignore_index {ignore_index}")
        safe = torch.where(counted, t, torch.zeros_like(t))
        picked = w[safe] * counted
        a = (eps / classes) * w[None, :] * counted[:, None].to(w.dtype)
        a = a + (1 - eps) * torch.nn.functional.one_hot(safe, classes).to(w.dtype) * picked[:, None]
        rows = _Rows.apply(x, None, "cross_entropy_rows", (a.contiguous(),), None)
        total = picked.sum()
        out_shape = expected
    if reduction == "none":
        return rows.reshape(out_shape)
    if reduction == "sum":
        return rows.sum()
    if not probabilities and float(total) == 0:
        # Nothing counted (every entry ignored, or weighted 0): torch's loss is 0 / 0 and its gradient 0.
        return rows.sum() * 0 + float("nan")
    return rows.sum() / total


def svm_loss(input, target):
    """cs231n's multiclass hinge loss (margin 1), summed over classes and averaged over the batch; shapes as :func:`cross_entropy`'s (N, C)."""
    return _Loss.apply(input, target, "svm_loss", False)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
    """
    ``F.multi_margin_loss`` with torch's options on fastnn's kernels: input
    (N, C) or (C,), target class indices (N,) (or one for (C,)), p 1 or 2,
    margin, a weight per class (C,) applied to each sample's target class,
    and reduction 'mean', 'sum' or 'none'.  The defaults run cs231n's hinge
    loss divided by C; the options run ``multi_margin_rows``.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target: expected a torch.Tensor, got {type(target).__name__}")
    if input.dim() == 2 and p == 1 and margin == 1 and weight is None and reduction == "mean" and input.shape[0] > 0:
        return _Loss.apply(input, target, "svm_loss", True)
    _side(("input",), input, labels=target)
    if input.dim() not in (1, 2) or input.shape[-1] == 0:
        raise ValueError(f"input: expected shape (N, C) or (C,) with C >= 1, got shape {tuple(input.shape)}")
    x = input.reshape(-1, input.shape[-1])
    t = target.reshape(-1)
    if t.shape[0] != x.shape[0]:
        raise ValueError(f"target: expected {x.shape[0]} class indices for input of shape {tuple(input.shape)}, got shape {tuple(target.shape)}")
    w = _class_weight(weight, x.shape[1], input)
    if bool(((t < 0) | (t >= x.shape[1])).any()):
        raise ValueError(f"target: expected class indices in [0, {x.shape[1]})")
    labels = t.detach().numpy() if input.device.type == "cpu" else t.detach()
    rows = _Rows.apply(x, None, "multi_margin_rows", (labels, p, margin, w[t].to(torch.float64).contiguous()), None)
    if reduction == "none":
        return rows.reshape(target.shape)
    return rows.sum() if reduction == "sum" else rows.mean()


def batch_norm(input, weight, bias, bn_param):
    """
    fastnn's batch normalisation of each feature of input (N, D), with
    cs231n's ``bn_param`` (mode, eps, momentum, running_mean, running_var
    as arrays of the input's side: NumPy on the CPU, device arrays on the
    GPU), which the forward pass updates as fastnn.layers.batchnorm_forward
    does.  :class:`fastnn.torch.BatchNorm1d` wraps it with torch's running
    averages.

    Returns:
    - out: Tensor of shape (N, D)
    """
    return _Layer.apply(("batchnorm_forward", "batchnorm_backward"), ("input", "weight", "bias"), (bn_param,), input, weight, bias)


def batch_norm_channels(input, weight, bias, bn_param):
    """:func:`batch_norm` of input (N, C, L), statistics per channel over N and L (fastnn's spatial batch normalisation)."""
    if not isinstance(input, torch.Tensor) or input.dim() != 3:
        raise ValueError(f"input: expected a tensor of shape (N, C, L), got shape {tuple(getattr(input, 'shape', ()))}")
    out = _Layer.apply(("spatial_batchnorm_forward", "spatial_batchnorm_backward"), ("input", "weight", "bias"), (bn_param,),
                       input.unsqueeze(-1), weight, bias)
    return out.squeeze(-1)


def dropout(input, p=0.5, training=True):
    """
    Inverted dropout, as ``F.dropout(input, p, training)``: p is the
    probability to drop.  The masks are fastnn's (NumPy's global generator
    on the CPU, Philox on the GPU), not torch's.
    """
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"p: expected a drop probability in [0, 1], got {p!r}")
    _side(("input",), input)
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    return _Layer.apply(("dropout_forward", "dropout_backward"), ("input",), ({"mode": "train", "p": 1 - p},), input)


def _option_error(error, param):
    """A layer's ValueError about ``param['option']`` (or the geometry, ``param: ...``) in torch's names: ``option: ...`` or ``input: ...``."""
    message = str(error)
    if message.startswith(f"{param}['"):
        message = message[len(param) + 2:].replace("']", "", 1)
    elif message.startswith(f"{param}: "):
        message = "input: " + message[len(param) + 2:]
    return ValueError(message)


_CONV = ("conv_forward_naive", "conv_backward_naive")


def _conv_padding(padding, kernel, dilation):
    """torch's padding argument as (top, bottom, left, right) zero rows and columns."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"padding: expected an int, a pair, 'valid' or 'same', got {padding!r}")
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        # torch's 'same': the odd one of an even total goes after (bottom, right).
        return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
    ph, pw = _pairs("padding", padding)
    if ph < 0 or pw < 0:
        raise ValueError(f"padding: expected non-negative sizes, got {padding!r}")
    return (ph, ph, pw, pw)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """
    ``F.conv2d`` with torch's options on fastnn's convolution kernels:
    input (N, C, H, W) or unbatched (C, H, W), weight (F, C / groups, HH,
    WW), bias (F,) or None; returns (N, F, H', W') (or (F, H', W')).
    stride and dilation are ints or pairs, padding an int, a pair, 'valid'
    or 'same' (torch's split: the odd one of an even total after), groups
    divides C and F.

    The course's geometry (one stride, the same padding on all sides,
    dilation 1, one group) runs fastnn.layers.conv_forward_naive (im2col and
    BLAS on the CPU, the implicit GEMM on the GPU); any other runs
    conv2d_forward, the general kernels.
    """
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight: expected a torch.Tensor, got {type(weight).__name__}")
    stride, dilation = _pairs("stride", stride), _pairs("dilation", dilation)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"stride, dilation: expected integers >= 1, got stride {stride} and dilation {dilation}")
    if isinstance(padding, str) and padding == "same" and stride != (1, 1):
        raise ValueError(f"padding: 'same' needs stride 1 (torch's rule), got stride {stride}")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"groups: expected a positive int, got {groups!r}")
    if input.dim() not in (3, 4):
        raise ValueError(f"input: expected a tensor of shape (N, C, H, W) or (C, H, W), got shape {tuple(input.shape)}")
    if weight.dim() != 4:
        raise ValueError(f"weight: expected a tensor of shape (F, C / groups, HH, WW), got shape {tuple(weight.shape)}")
    x = input if input.dim() == 4 else input.unsqueeze(0)
    if bias is None:
        bias = weight.new_zeros(weight.shape[0])
    sides = _conv_padding(padding, weight.shape[2:], dilation)
    names = ("input", "weight", "bias")
    if stride[0] == stride[1] and len(set(sides)) == 1 and dilation == (1, 1) and groups == 1:
        out = _Layer.apply(_CONV, names, ({"stride": stride[0], "pad": sides[0]},), x, weight, bias)
    else:
        conv_param = {"stride": stride, "padding": sides, "dilation": dilation, "groups": groups}
        try:
            out = _Layer.apply(("conv2d_forward", "conv2d_backward"), names, (conv_param,), x, weight, bias)
        except ValueError as e:
            raise _option_error(e, "conv_param") from None
    return out if input.dim() == 4 else out.squeeze(0)


def _pairs(name, value):
    """An int or a pair of ints as a pair (torch's _pair), with the error naming the argument."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) == 1:
        pair = pair * 2
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
    return pair


class _Pool(torch.autograd.Function):
    """Max pooling with torch's options: returns (out, indices); the indices are not differentiable."""

    @staticmethod
    def forward(ctx, input, pool_param):
        side = _side(("input",), input)
        out, ctx.cache = side.call("max_pool2d_forward", side.array(input), pool_param)
        ctx.side = side
        ctx.save_for_backward(input)
        indices = side.tensor(ctx.cache[2])
        ctx.mark_non_differentiable(indices)
        return side.tensor(out), indices

    @staticmethod
    def backward(ctx, dout, dindices):
        _first_order_only("max_pool2d")
        ctx.saved_tensors  # raises if the input was changed in place since the forward
        return ctx.side.tensor(ctx.side.call("max_pool2d_backward", ctx.side.array(dout), ctx.cache)), None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """
    ``F.max_pool2d`` with all of torch's options: input (N, C, H, W) or
    unbatched (C, H, W); kernel_size, stride (default kernel_size), padding
    (at most half the kernel) and dilation each an int or a pair;
    ceil_mode; return_indices gives (out, indices) with torch's flat
    ``h * W + w`` indices.  The gradient goes to the first maximum of each
    window, as torch's does for equal values; of a window with several NaNs
    it goes to the first, where torch's goes to the last (both outputs are
    NaN).  The course's geometry (square window and stride, no padding or
    dilation) runs fastnn.layers.max_pool_forward_naive's branch-free
    kernels, which choose the same inputs.
    """
    kernel = _pairs("kernel_size", kernel_size)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else _pairs("stride", stride)
    padding, dilation = _pairs("padding", padding), _pairs("dilation", dilation)
    for name, value in (("ceil_mode", ceil_mode), ("return_indices", return_indices)):
        if not isinstance(value, bool):
            raise TypeError(f"{name}: expected a bool, got {value!r}")
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    if input.dim() not in (3, 4):
        raise ValueError(f"input: expected a tensor of shape (N, C, H, W) or (C, H, W), got shape {tuple(input.shape)}")
    batch = input if input.dim() == 4 else input.unsqueeze(0)
    course = (kernel[0] == kernel[1] and stride[0] == stride[1] and padding == (0, 0) and dilation == (1, 1)
              and not ceil_mode and not return_indices)
    if course:
        pool_param = {"pool_height": kernel[0], "pool_width": kernel[1], "stride": stride[0]}
        out = _Layer.apply(("max_pool_forward_naive", "max_pool_backward_naive"), ("input",), (pool_param,), batch)
        return out if input.dim() == 4 else out.squeeze(0)
    pool_param = {"kernel_size": kernel, "stride": stride, "padding": padding, "dilation": dilation, "ceil_mode": ceil_mode}
    try:
        out, indices = _Pool.apply(batch, pool_param)
    except ValueError as e:
        raise _option_error(e, "pool_param") from None
    if input.dim() == 3:
        out, indices = out.squeeze(0), indices.squeeze(0)
    return (out, indices) if return_indices else out
