"""Dropout, batch and layer normalisation, and the optimiser steps: reference against fastnn."""

import fastnn.layers as L
import fastnn.optim as O
import fastnn.reference as R
import fastnn.reference_optim as RO

from .common import rng


class Normalization:
    params = (["dropout", "batchnorm", "layernorm"], ["float32", "float64"])
    param_names = ["layer", "dtype"]

    def setup(self, layer, dtype):
        r = rng()
        self.x = r.standard_normal((4096, 1024)).astype(dtype)
        self.dout = r.standard_normal((4096, 1024)).astype(dtype)
        gamma, beta = r.standard_normal(1024).astype(dtype), r.standard_normal(1024).astype(dtype)
        if layer == "dropout":
            param = {"p": 0.5, "mode": "train", "seed": 0}
            self.fwd = lambda lib: getattr(lib, "dropout_forward")(self.x, dict(param))
        else:
            self.fwd = lambda lib: getattr(lib, f"{layer}_forward")(self.x, gamma, beta, {"mode": "train"})
        self.bwd = {lib: getattr(lib, f"{layer}_backward") for lib in (L, R)}
        self.cache = {lib: self.fwd(lib)[1] for lib in (L, R)}

    def time_forward_reference(self, layer, dtype):
        self.fwd(R)

    def time_forward_fastnn(self, layer, dtype):
        self.fwd(L)

    def time_backward_reference(self, layer, dtype):
        self.bwd[R](self.dout, self.cache[R])

    def time_backward_fastnn(self, layer, dtype):
        self.bwd[L](self.dout, self.cache[L])

    def peakmem_forward_reference(self, layer, dtype):
        self.fwd(R)

    def peakmem_forward_fastnn(self, layer, dtype):
        self.fwd(L)


class OptimizerStep:
    params = (["sgd", "sgd_momentum", "rmsprop", "adam"], ["float32", "float64"])
    param_names = ["rule", "dtype"]

    def setup(self, rule, dtype):
        r = rng()
        self.w = r.standard_normal((1024, 1024)).astype(dtype)
        self.dw = r.standard_normal((1024, 1024)).astype(dtype)
        self.fast = getattr(O, rule)
        self.ref = getattr(RO, rule)
        self.fast_config = {"in_place": True, "learning_rate": 1e-6}
        self.ref_config = {"learning_rate": 1e-6}
        self.fast(self.w.copy(), self.dw, dict(self.fast_config))

    def time_reference(self, rule, dtype):
        self.ref(self.w, self.dw, self.ref_config)

    def time_fastnn_in_place(self, rule, dtype):
        self.fast(self.w, self.dw, self.fast_config)
