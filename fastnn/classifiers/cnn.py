"""The course's ConvNet on the compiled layers: cs231n's ``classifiers/cnn.py``.

``ThreeLayerConvNet`` is conv - relu - 2x2 max pool - affine - relu -
affine - softmax, with the course's arguments, defaults, parameter names
(W1, b1 for the convolution; W2, b2 and W3, b3 for the affine layers) and
draw: ``weight_scale * np.random.randn(...)`` from NumPy's global
generator, in the order W1, W2, W3, with zero biases.  The convolution
keeps the size (stride 1, pad (filter_size - 1) // 2, so filter_size must
be odd) and the pool halves it (H and W must be even).

``loss(X, y=None)`` returns the scores (N, C) when y is None, otherwise
``(loss, grads)`` with the softmax loss plus ``0.5 * reg * sum(W * W)``
over W1, W2 and W3.  The convolution, ReLU and pool run as
``conv_relu_pool_forward`` (bias and ReLU fused after the GEMM); the hidden
layer as ``affine_relu_forward``.

fastnn's extras, keyword arguments after the course's:
- init: None (the course's draw), or 'he', 'xavier', 'normal' or 'uniform'
  from fastnn.init, drawn from ``np.random.default_rng(init_seed)``, with
  the convolution's fan-in C * filter_size**2
- init_seed: Seed for init
- layers: The layer module, fastnn.layers by default (fastnn.reference
  gives the same results in plain NumPy)
"""

import numpy as np

import fastnn.layers as _fastnn_layers
from fastnn.classifiers.base import Model, check_model_options, model_input
from fastnn.init import get_init
from fastnn.validation import is_integer

__all__ = ["ThreeLayerConvNet"]


class ThreeLayerConvNet(Model):
    """
    conv - relu - 2x2 max pool - affine - relu - affine - softmax.

    Inputs:
    - input_dim: (C, H, W) of each image; H and W even
    - num_filters: Number of filters of the convolution, F
    - filter_size: Height and width of each filter, odd
    - hidden_dim: Size of the hidden affine layer
    - num_classes: Number of classes
    - weight_scale: Standard deviation of the weights
    - reg: L2 regularisation strength
    - dtype: float32 or float64: the parameters, and X is cast to it
    - init, init_seed, layers: fastnn's extras (see the module docstring)
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=np.float32, *, init=None, init_seed=None, layers=_fastnn_layers):
        dims = (*tuple(input_dim), num_filters, filter_size, hidden_dim, num_classes)
        if len(tuple(input_dim)) != 3 or not all(is_integer(d) and d > 0 for d in dims):
            raise ValueError(f"input_dim (C, H, W), num_filters, filter_size, hidden_dim and num_classes: "
                             f"expected positive integers, got {input_dim!r}, {num_filters!r}, {filter_size!r}, "
                             f"{hidden_dim!r}, {num_classes!r}")
        check_model_options(dtype, weight_scale, reg)
        c, h, w = input_dim
        if filter_size % 2 == 0:
            raise ValueError(f"filter_size: expected an odd size, which padding keeps the image size with, got {filter_size}")
        if h % 2 or w % 2:
            raise ValueError(f"input_dim: expected an even height and width for the 2x2 pool, got {h} x {w}")
        self.reg = reg
        self.dtype = dtype
        self.layers = layers
        if init is None:
            draw = lambda fan_in, fan_out: weight_scale * np.random.randn(fan_in, fan_out)  # noqa: E731
        else:
            make, rng = get_init(init), np.random.default_rng(init_seed)
            draw = lambda fan_in, fan_out: make(fan_in, fan_out, rng, np.float64, weight_scale=weight_scale)  # noqa: E731
        fan_in = c * filter_size * filter_size
        # The course draws randn(F, C, fs, fs): the same numbers as a (F, C*fs*fs) draw.
        w1 = (weight_scale * np.random.randn(num_filters, fan_in) if init is None else draw(fan_in, num_filters).T)
        self.params = {
            "W1": w1.reshape(num_filters, c, filter_size, filter_size),
            "b1": np.zeros(num_filters),
            "W2": draw(num_filters * (h // 2) * (w // 2), hidden_dim),
            "b2": np.zeros(hidden_dim),
            "W3": draw(hidden_dim, num_classes),
            "b3": np.zeros(num_classes),
        }
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def param_shapes(self):
        """W1 (F, C, fs, fs), b1 (F,), W2 (F * H/2 * W/2, hidden), b2, W3 (hidden, classes), b3; sizes from W1, W2 and W3."""
        w1, w2, w3 = (self.params.get(k) for k in ("W1", "W2", "W3"))
        if getattr(w1, "ndim", 0) != 4 or getattr(w2, "ndim", 0) != 2 or getattr(w3, "ndim", 0) != 2:
            raise ValueError("params: expected W1 of 4 dimensions, and W2 and W3 of 2")
        f, c, fs, _ = w1.shape
        rows, hidden = w2.shape
        classes = w3.shape[1]
        if f == 0 or rows % f:
            raise ValueError(f"params: W2 has {rows} rows, not a multiple of W1's {f} filters")
        return {"W1": (f, c, fs, fs), "b1": (f,), "W2": (rows, hidden), "b2": (hidden,), "W3": (hidden, classes), "b3": (classes,)}

    def loss(self, X, y=None):
        """
        Scores, or the loss and gradients.

        Inputs:
        - X: Images, of shape (N, C, H, W)
        - y: Integer labels, of shape (N,), or None for test-time scores

        Returns:
        - scores, of shape (N, num_classes), when y is None
        - otherwise (loss, grads): loss an np.float64, grads a dict with the keys of params
        """
        L = self.layers
        # fastnn's own layers never write into their inputs, so an X that already
        # has the model's dtype needs no copy (a 1.2 MB copy per cs231n-sized batch);
        # other layer modules get the course's copy.
        X = model_input(X, self.dtype, copy=self.layers is not _fastnn_layers)
        p = self.params
        conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        h1, cache1 = L.conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, pool_param)
        h2, cache2 = L.affine_relu_forward(h1, p["W2"], p["b2"])
        scores, cache3 = L.affine_forward(h2, p["W3"], p["b3"])
        if y is None:
            return scores
        loss, dscores = L.softmax_loss(scores, y)
        grads = {}
        dh2, grads["W3"], grads["b3"] = L.affine_backward(dscores, cache3)
        dh1, grads["W2"], grads["b2"] = L.affine_relu_backward(dh2, cache2)
        _, grads["W1"], grads["b1"] = L.conv_relu_pool_backward(dh1, cache1)
        if self.reg:
            # Skipped at reg == 0, as FullyConnectedNet does.
            for name in ("W1", "W2", "W3"):
                W = p[name]
                loss += 0.5 * self.reg * np.sum(W * W)
                grads[name] += self.reg * W
        return loss, grads
