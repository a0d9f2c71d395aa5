"""Fully connected classifiers on the compiled layers: cs231n's ``classifiers/fc_net.py``.

``TwoLayerNet`` and ``FullyConnectedNet`` take the course's arguments with
the course's defaults and keep the course's attributes (``params``,
``reg``, ``num_layers``, ``dtype``, ``normalization``, ``use_dropout``,
``dropout_param``, ``bn_params``).  Unless fastnn's own ``init=`` is given,
the weights are drawn as the course draws them: ``weight_scale *
np.random.randn(fan_in, fan_out)`` from NumPy's global generator, layer by
layer, with zero biases, unit gamma and zero beta, so ``np.random.seed(231)``
reproduces the notebooks' printed initial losses.

``loss(X, y=None)`` returns the class scores of shape (N, C) when y is
None, otherwise ``(loss, grads)``: the softmax loss (an ``np.float64``) plus
``0.5 * reg * sum(W * W)`` over the weights (not biases, gamma or beta),
and grads with the keys of params.

fastnn's extras, keyword arguments after the course's:
- init: None (the course's draw), or 'he', 'xavier', 'normal' or 'uniform'
  from fastnn.init, drawn from ``np.random.default_rng(init_seed)``
- init_seed: Seed for init
- layers: The layer module, fastnn.layers by default (fastnn.reference
  gives the same results in plain NumPy)
- backend: 'cpu' (the default), or 'cuda': params, batchnorm running
  averages, X and y are GPU arrays (fastnn.cuda); the weights are drawn on
  the host as above, then copied, so both backends start from the same
  numbers.  ``model.to('cpu')`` and ``model.to('cuda')`` move a model.
  On the GPU, ``loss`` returns device scores and device grads, and the loss
  as an np.float64; the L2 term is reduced in float64 on the device.
  Dropout masks on the GPU come from Philox, not NumPy (see
  fastnn.cuda.dropout_forward), so they differ from the CPU's.
"""

import numpy as np

import fastnn.layers as _fastnn_layers
from fastnn.classifiers.base import Model, check_backend, check_model_options, model_input
from fastnn.init import get_init
from fastnn.validation import is_integer, is_real

__all__ = ["TwoLayerNet", "FullyConnectedNet"]


def _check_dims(name, dims):
    if not all(is_integer(d) and d > 0 for d in dims):
        raise ValueError(f"{name}: expected positive integers, got {dims!r}")


class _AffineReluNet(Model):
    """{affine - [norm] - relu - [dropout]} x (L - 1) - affine - softmax, shared by both models."""

    _casts_input = True
    backends = ("cpu", "cuda")

    def param_shapes(self):
        """W_i (d_{i-1}, d_i), b_i (d_i,), and gamma_i, beta_i (d_i,) before the last layer when normalised; d from the W's."""
        layers = getattr(self, "num_layers", None)
        if type(layers) is not int or layers < 1:
            raise ValueError(f"num_layers: expected a positive int, got {layers!r}")
        dims = [getattr(self.params.get("W1"), "shape", (0, 0))[0]]
        shapes = {}
        for i in range(1, layers + 1):
            width = getattr(self.params.get(f"W{i}"), "shape", (0, 0))[-1]
            shapes[f"W{i}"], shapes[f"b{i}"] = (dims[-1], width), (width,)
            if getattr(self, "normalization", None) is not None and i < layers:
                shapes[f"gamma{i}"] = shapes[f"beta{i}"] = (width,)
            dims.append(width)
        return shapes

    def _build(self, dims, weight_scale, dtype, init, init_seed, layers, backend):
        check_model_options(dtype, weight_scale, self.reg)
        if check_backend(backend) == "cuda" and layers is not _fastnn_layers:
            raise ValueError(f"layers: backend='cuda' runs fastnn.cuda, so layers must be left at fastnn.layers, got {layers.__name__}")
        self.layers = layers
        self.dtype = dtype
        self.num_layers = len(dims) - 1
        if init is None:
            draw = lambda fan_in, fan_out: weight_scale * np.random.randn(fan_in, fan_out)  # noqa: E731
        else:
            make, rng = get_init(init), np.random.default_rng(init_seed)
            draw = lambda fan_in, fan_out: make(fan_in, fan_out, rng, np.float64, weight_scale=weight_scale)  # noqa: E731
        self.params = {}
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = draw(dims[i], dims[i + 1])
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1])
            if self.normalization is not None and i < self.num_layers - 1:
                self.params[f"gamma{i + 1}"] = np.ones(dims[i + 1])
                self.params[f"beta{i + 1}"] = np.zeros(dims[i + 1])
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        self.to(backend)

    def loss(self, X, y=None):
        """
        Scores, or the loss and gradients.

        Inputs:
        - X: Data, of shape (N, d_1, ..., d_k)
        - y: Integer labels, of shape (N,), or None for test-time scores

        Returns:
        - scores, of shape (N, C), when y is None
        - otherwise (loss, grads): loss an np.float64, grads a dict with the
          keys of params
        """
        L = self.layers
        on_gpu = self.backend == "cuda"
        if on_gpu:
            if self._casts_input:
                X = L.astype(X, self.dtype)
        elif self._casts_input:
            # fastnn's own layers never write into their inputs, so an X that already
            # has the model's dtype needs no copy (a 1.2 MB copy per cs231n-sized batch);
            # other layer modules get the course's copy.
            X = model_input(X, self.dtype, copy=self.layers is not _fastnn_layers)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        caches = []
        h = X
        for i in range(1, self.num_layers):
            W, b = self.params[f"W{i}"], self.params[f"b{i}"]
            if self.normalization is not None:
                gamma, beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]
                h, cache = L.affine_norm_relu_forward(h, W, b, gamma, beta, self.bn_params[i - 1], self.normalization)
            else:
                h, cache = L.affine_relu_forward(h, W, b)
            drop_cache = None
            if self.use_dropout:
                h, drop_cache = L.dropout_forward(h, self.dropout_param)
            caches.append((cache, drop_cache))
        n = self.num_layers
        scores, last_cache = L.affine_forward(h, self.params[f"W{n}"], self.params[f"b{n}"])
        if y is None:
            return scores

        loss, dscores = L.softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{n}"], grads[f"b{n}"] = L.affine_backward(dscores, last_cache)
        for i in range(n - 1, 0, -1):
            cache, drop_cache = caches[i - 1]
            if drop_cache is not None:
                dh = L.dropout_backward(dh, drop_cache)
            if self.normalization is not None:
                dh, grads[f"W{i}"], grads[f"b{i}"], grads[f"gamma{i}"], grads[f"beta{i}"] = L.affine_norm_relu_backward(dh, cache)
            else:
                dh, grads[f"W{i}"], grads[f"b{i}"] = L.affine_relu_backward(dh, cache)
        if self.reg:
            # Skipped at reg == 0, where adding 0 * W could only flip the sign
            # of a zero gradient (or turn an infinite weight's into NaN).
            for i in range(1, n + 1):
                W = self.params[f"W{i}"]
                if on_gpu:
                    loss += 0.5 * self.reg * L.sum_of_squares(W)
                    L.add_scaled(grads[f"W{i}"], W, self.reg)
                else:
                    loss += 0.5 * self.reg * np.sum(W * W)
                    grads[f"W{i}"] += self.reg * W
        return loss, grads


class FullyConnectedNet(_AffineReluNet):
    """
    {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax.

    Inputs:
    - hidden_dims: List of the hidden layers' sizes
    - input_dim: Size of each input, D
    - num_classes: Number of classes, C
    - dropout_keep_ratio: Keep probability of dropout after each ReLU; 1 means no dropout
    - normalization: None, 'batchnorm' or 'layernorm'
    - reg: L2 regularisation strength
    - weight_scale: Standard deviation of the weights (course draw, or init='normal')
    - dtype: float32 or float64: the parameters, and X is cast to it
    - seed: Makes dropout deterministic, as in the course: dropout_param
      gets this seed, so every forward pass uses the same masks (and
      reseeds NumPy's global generator); it does not seed the weights
    - init, init_seed, layers, backend: fastnn's extras (see the module docstring)
    """

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout_keep_ratio=1,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
        *,
        init=None,
        init_seed=None,
        layers=_fastnn_layers,
        backend="cpu",
    ):
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(f"normalization: expected None, 'batchnorm' or 'layernorm', got {normalization!r}")
        if not is_real(dropout_keep_ratio) or not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio: expected a keep probability in (0, 1], got {dropout_keep_ratio!r}")
        hidden_dims = list(hidden_dims)
        _check_dims("hidden_dims", hidden_dims)
        _check_dims("input_dim and num_classes", [input_dim, num_classes])
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self._build([input_dim, *hidden_dims, num_classes], weight_scale, dtype, init, init_seed, layers, backend)
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        elif normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]


class TwoLayerNet(_AffineReluNet):
    """
    affine - relu - affine - softmax.

    As in the course, X is used in the dtype it comes in (NumPy's promotion
    then decides the computing dtype).

    Inputs:
    - input_dim: D
    - hidden_dim: H
    - num_classes: C
    - weight_scale: Standard deviation of the weights
    - reg: L2 regularisation strength
    - dtype: fastnn's extra: the parameters' dtype (float64, the course's, by default)
    - init, init_seed, layers, backend: fastnn's extras (see the module docstring)
    """

    _casts_input = False
    normalization = None
    use_dropout = False

    def __init__(
        self,
        input_dim=3 * 32 * 32,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        *,
        dtype=np.float64,
        init=None,
        init_seed=None,
        layers=_fastnn_layers,
        backend="cpu",
    ):
        _check_dims("input_dim, hidden_dim and num_classes", [input_dim, hidden_dim, num_classes])
        self.reg = reg
        self._build([input_dim, hidden_dim, num_classes], weight_scale, dtype, init, init_seed, layers, backend)
