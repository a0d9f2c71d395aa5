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
- cross_entropy and multi_margin_loss take the mean over the batch, the
  only reduction, with torch's defaults otherwise (no class weights, no
  ignore_index, no label smoothing; margin 1, p 1).  svm_loss is cs231n's
  hinge loss, which multi_margin_loss divides by the number of classes.
- dropout's p is torch's (the probability to drop), its masks fastnn's:
  NumPy's global generator on the CPU, Philox on the GPU, never torch's
  generator, so ``torch.manual_seed`` does not make them reproducible
  (``np.random.seed`` does).
- max_pool2d sends a window's gradient to its first NaN where it holds
  several; torch's to the last.
- max_pool2d and conv2d drop the last rows and columns where the windows do
  not tile the padded input, as torch does.
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


def cross_entropy(input, target):
    """
    Softmax cross-entropy averaged over the batch, as ``F.cross_entropy(input, target)``:
    fastnn's fused softmax loss (the gradient is computed in the forward pass).

    Inputs:
    - input: Tensor of scores, of shape (N, C)
    - target: Integer tensor of classes in [0, C), of shape (N,)

    Returns:
    - loss: 0-d tensor of input's dtype
    """
    return _Loss.apply(input, target, "softmax_loss", False)


def svm_loss(input, target):
    """cs231n's multiclass hinge loss (margin 1), summed over classes and averaged over the batch; shapes as :func:`cross_entropy`."""
    return _Loss.apply(input, target, "svm_loss", False)


def multi_margin_loss(input, target):
    """``F.multi_margin_loss(input, target)`` (p 1, margin 1): :func:`svm_loss` divided by the number of classes C."""
    return _Loss.apply(input, target, "svm_loss", True)


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


def _whole(name, value):
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or value[0] != value[1]:
            raise ValueError(f"{name}: fastnn takes one value for both dimensions, got {tuple(value)}")
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    return value


def conv2d(input, weight, bias=None, stride=1, padding=0):
    """
    ``F.conv2d`` with square stride and zero padding: input (N, C, H, W),
    weight (F, C, HH, WW), bias (F,) or None; returns (N, F, H', W').
    """
    stride, padding = _whole("stride", stride), _whole("padding", padding)
    if bias is None:
        if not isinstance(weight, torch.Tensor):
            raise TypeError(f"weight: expected a torch.Tensor, got {type(weight).__name__}")
        bias = weight.new_zeros(weight.shape[0])
    return _Layer.apply(("conv_forward_naive", "conv_backward_naive"), ("input", "weight", "bias"),
                        ({"stride": stride, "pad": padding},), input, weight, bias)


def max_pool2d(input, kernel_size, stride=None):
    """
    ``F.max_pool2d(input, kernel_size, stride)`` with a square window and
    no padding; stride defaults to kernel_size.  The gradient goes to the
    first maximum of each window, as torch's does for equal values; of a
    window with several NaNs it goes to the first, where torch's goes to the
    last (both outputs are NaN).
    """
    size = _whole("kernel_size", kernel_size)
    pool_param = {"pool_height": size, "pool_width": size, "stride": size if stride is None else _whole("stride", stride)}
    return _Layer.apply(("max_pool_forward_naive", "max_pool_backward_naive"), ("input",), (pool_param,), input)
