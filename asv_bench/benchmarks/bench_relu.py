"""relu_forward and relu_backward: reference against fastnn."""

import numpy as np

import fastnn.layers as L
import fastnn.reference as R

from .common import rng


class Relu:
    params = (["float32", "float64"], [1_000, 10_000_000])
    param_names = ["dtype", "size"]

    def setup(self, dtype, size):
        r = rng()
        self.x = r.standard_normal(size).astype(dtype)
        self.dout = r.standard_normal(size).astype(dtype)
        self.out = np.empty_like(self.x)
        L.relu_forward(self.x)
        L.relu_forward(self.x, out=self.out)
        L.relu_backward(self.dout, self.x)

    def time_forward_reference(self, dtype, size):
        R.relu_forward(self.x)

    def time_forward_fastnn(self, dtype, size):
        L.relu_forward(self.x)

    def time_forward_fastnn_out(self, dtype, size):
        L.relu_forward(self.x, out=self.out)

    def time_backward_reference(self, dtype, size):
        R.relu_backward(self.dout, self.x)

    def time_backward_fastnn(self, dtype, size):
        L.relu_backward(self.dout, self.x)

    def peakmem_forward_reference(self, dtype, size):
        R.relu_forward(self.x)

    def peakmem_forward_fastnn(self, dtype, size):
        L.relu_forward(self.x)

    def peakmem_backward_reference(self, dtype, size):
        R.relu_backward(self.dout, self.x)

    def peakmem_backward_fastnn(self, dtype, size):
        L.relu_backward(self.dout, self.x)
