"""affine_forward, affine_backward and affine_relu_forward: reference against fastnn."""

import fastnn.layers as L
import fastnn.reference as R

from .common import affine_inputs


class Affine:
    params = (["float32", "float64"], ["100x64x100", "512x3072x1024"])
    param_names = ["dtype", "shape"]

    def setup(self, dtype, shape):
        n, d, m = (int(v) for v in shape.split("x"))
        self.x, self.w, self.b, self.dout = affine_inputs(n, d, m, dtype)
        self.cache = (self.x, self.w, self.b)
        L.affine_forward(self.x, self.w, self.b)
        L.affine_backward(self.dout, self.cache)
        L.affine_relu_forward(self.x, self.w, self.b)

    def time_forward_reference(self, dtype, shape):
        R.affine_forward(self.x, self.w, self.b)

    def time_forward_fastnn(self, dtype, shape):
        L.affine_forward(self.x, self.w, self.b)

    def time_backward_reference(self, dtype, shape):
        R.affine_backward(self.dout, self.cache)

    def time_backward_fastnn(self, dtype, shape):
        L.affine_backward(self.dout, self.cache)

    def time_affine_relu_reference(self, dtype, shape):
        R.relu_forward(R.affine_forward(self.x, self.w, self.b)[0])

    def time_affine_relu_fastnn(self, dtype, shape):
        L.affine_relu_forward(self.x, self.w, self.b)

    def peakmem_forward_reference(self, dtype, shape):
        R.affine_forward(self.x, self.w, self.b)

    def peakmem_forward_fastnn(self, dtype, shape):
        L.affine_forward(self.x, self.w, self.b)

    def peakmem_backward_reference(self, dtype, shape):
        R.affine_backward(self.dout, self.cache)

    def peakmem_backward_fastnn(self, dtype, shape):
        L.affine_backward(self.dout, self.cache)
