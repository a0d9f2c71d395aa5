"""Fully connected classifiers built on the compiled layers, cs231n style.

Both models keep their parameters in ``params`` (``W1``, ``b1``, ``gamma1``,
``beta1``, ...) and compute ``loss(X, y=None)``: the class scores of shape
(N, C) when y is None, otherwise ``(loss, grads)`` with the softmax loss plus
the L2 penalty ``0.5 * reg * sum(W**2)`` over the weights (not biases, not
gamma or beta).
"""

import numpy as np

import fastnn.layers as L
from fastnn.init import get_init


class FullyConnectedNet:
    """
    {affine - [norm] - relu - [dropout]} x (L - 1) - affine - softmax.

    Inputs:
    - hidden_dims: List of the hidden layers' sizes
    - input_dim: Size of each input, D
    - num_classes: Number of classes, C
    - dropout_keep_ratio: Keep probability of dropout after each ReLU; 1 means no dropout
    - normalization: None, 'batchnorm' or 'layernorm'
    - reg: L2 regularisation strength
    - weight_scale: Std of the weights when init is 'normal'
    - dtype: float32 or float64 for the parameters and the computation
    - seed: Seeds the initialisation and dropout, for reproducible runs
    - init: 'normal' (cs231n's default), 'he', 'xavier' or 'uniform'
    - layers: The layer module (fastnn.layers by default; fastnn.reference works too)
    """

    def __init__(
        self,
        hidden_dims,
        input_dim=64,
        num_classes=10,
        dropout_keep_ratio=1,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
        init="normal",
        layers=L,
    ):
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(f"normalization: expected None, 'batchnorm' or 'layernorm', got {normalization!r}")
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio: expected a keep probability in (0, 1], got {dropout_keep_ratio!r}")
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.dtype = np.dtype(dtype)
        self.layers = layers
        self.num_layers = 1 + len(hidden_dims)
        rng = np.random.default_rng(seed)
        make = get_init(init)
        dims = [input_dim, *hidden_dims, num_classes]
        self.params = {}
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = make(dims[i], dims[i + 1], rng, self.dtype, weight_scale=weight_scale)
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1], self.dtype)
            if normalization and i < self.num_layers - 1:
                self.params[f"gamma{i + 1}"] = np.ones(dims[i + 1], self.dtype)
                self.params[f"beta{i + 1}"] = np.zeros(dims[i + 1], self.dtype)
        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
        if seed is not None:
            self._dropout_rng = np.random.default_rng(np.random.default_rng(seed).integers(2**63))
        else:
            self._dropout_rng = None
        self.norm_params = [{"mode": "train"} for _ in range(self.num_layers - 1)] if normalization else []

    def __getstate__(self):
        # Checkpoints pickle the model; a module cannot be pickled, its name can.
        state = dict(self.__dict__)
        state["layers"] = self.layers.__name__
        return state

    def __setstate__(self, state):
        import importlib

        state["layers"] = importlib.import_module(state["layers"])
        self.__dict__.update(state)

    def _dropout_seed(self):
        return None if self._dropout_rng is None else int(self._dropout_rng.integers(2**63))

    def loss(self, X, y=None):
        """
        Scores, or the loss and gradients.

        Inputs:
        - X: Data, of shape (N, d_1, ..., d_k)
        - y: Integer labels, of shape (N,), or None for test-time scores

        Returns:
        - scores, of shape (N, C), when y is None
        - otherwise (loss, grads), grads a dict with the keys of params
        """
        L = self.layers
        mode = "test" if y is None else "train"
        X = np.asarray(X, self.dtype)
        self.dropout_param["mode"] = mode
        for p in self.norm_params:
            p["mode"] = mode
        caches = []
        h = X
        for i in range(1, self.num_layers):
            W, b = self.params[f"W{i}"], self.params[f"b{i}"]
            if self.normalization:
                h, cache = L.affine_norm_relu_forward(
                    h, W, b, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.norm_params[i - 1], self.normalization
                )
            else:
                h, cache = L.affine_relu_forward(h, W, b)
            drop_cache = None
            if self.use_dropout:
                self.dropout_param["seed"] = self._dropout_seed()
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
            if self.normalization:
                dh, grads[f"W{i}"], grads[f"b{i}"], grads[f"gamma{i}"], grads[f"beta{i}"] = L.affine_norm_relu_backward(dh, cache)
            else:
                dh, grads[f"W{i}"], grads[f"b{i}"] = L.affine_relu_backward(dh, cache)
        if self.reg:
            for i in range(1, n + 1):
                W = self.params[f"W{i}"]
                loss += 0.5 * self.reg * float(np.sum(W.astype(np.float64) ** 2))
                grads[f"W{i}"] = grads[f"W{i}"] + self.dtype.type(self.reg) * W
        return loss, grads


class TwoLayerNet(FullyConnectedNet):
    """
    affine - relu - affine - softmax, the seed's net.

    Inputs:
    - input_dim: D (64 for the digits)
    - hidden_dim: H
    - num_classes: C
    - weight_scale: Std of the normal initialisation
    - reg: L2 regularisation strength
    - dtype, seed, init, layers: As for FullyConnectedNet
    """

    def __init__(self, input_dim=64, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float64, seed=None, init="normal", layers=L):
        super().__init__([hidden_dim], input_dim, num_classes, reg=reg, weight_scale=weight_scale, dtype=dtype, seed=seed, init=init, layers=layers)
