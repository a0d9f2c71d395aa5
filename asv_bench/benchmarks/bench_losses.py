"""softmax_loss and svm_loss: reference against fastnn."""

import fastnn.layers as L
import fastnn.reference as R

from .common import scores


class Losses:
    params = (["softmax_loss", "svm_loss"], ["float32", "float64"], ["100x10", "4096x1000", "65536x100"])
    param_names = ["loss", "dtype", "shape"]

    def setup(self, loss, dtype, shape):
        n, c = (int(v) for v in shape.split("x"))
        self.x, self.y = scores(n, c, dtype)
        self.ref, self.fast = getattr(R, loss), getattr(L, loss)
        self.fast(self.x, self.y)  # compile (or load from cache) outside the timing

    def time_reference(self, loss, dtype, shape):
        self.ref(self.x, self.y)

    def time_fastnn(self, loss, dtype, shape):
        self.fast(self.x, self.y)

    def peakmem_reference(self, loss, dtype, shape):
        self.ref(self.x, self.y)

    def peakmem_fastnn(self, loss, dtype, shape):
        self.fast(self.x, self.y)
