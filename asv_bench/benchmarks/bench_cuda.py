"""GPU kernels (fastnn.cuda) against PyTorch; skipped where there is no GPU."""

import numpy as np

from .common import rng


def _gpu():
    """fastnn.cuda and torch (or None), or NotImplementedError to skip the benchmark."""
    try:
        import fastnn.cuda as G
    except ImportError as exc:
        raise NotImplementedError(f"no GPU: {exc}") from exc
    if G.SIMULATOR:
        raise NotImplementedError("the CUDA simulator is not timed")
    try:
        import torch

        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    return G, torch


class CudaSoftmax:
    params = ([(65536, 10), (65536, 1000)],)
    param_names = ["shape"]

    def setup(self, shape):
        self.G, self.torch = _gpu()
        r = rng()
        self.x = self.G.to_device(r.standard_normal(shape).astype(np.float32))
        self.y = self.G.to_device(r.integers(shape[1], size=shape[0]))
        self.G.softmax_loss(self.x, self.y)

    def time_fastnn(self, shape):
        self.G.softmax_loss(self.x, self.y)
        self.G.synchronize()

    def time_torch(self, shape):
        if self.torch is None:
            raise NotImplementedError("no torch with CUDA")
        torch = self.torch
        leaf = torch.as_tensor(self.x, device="cuda").detach().requires_grad_()
        torch.nn.functional.cross_entropy(leaf, torch.as_tensor(self.y, device="cuda")).backward()
        torch.cuda.synchronize()


class CudaRelu:
    def setup(self):
        self.G, self.torch = _gpu()
        self.x = self.G.to_device(rng().standard_normal(1 << 26).astype(np.float32))
        self.G.relu_forward(self.x)

    def time_fastnn(self):
        self.G.relu_forward(self.x)
        self.G.synchronize()


class CudaGemm:
    def setup(self):
        self.G, self.torch = _gpu()
        r = rng()
        self.a = self.G.to_device(r.standard_normal((4096, 4096)).astype(np.float32))
        self.b = self.G.to_device(r.standard_normal((4096, 4096)).astype(np.float32))
        self.bias = self.G.to_device(np.zeros(4096, np.float32))
        self.G.affine_forward(self.a, self.b, self.bias)

    def time_fastnn_affine_forward(self):
        self.G.affine_forward(self.a, self.b, self.bias)
        self.G.synchronize()


class CudaConv:
    """Forward plus backward of the course's ThreeLayerConvNet layer, float32; torch's is cuDNN."""

    def setup(self):
        self.G, self.torch = _gpu()
        r = rng()
        self.x = self.G.to_device(r.standard_normal((50, 3, 32, 32)).astype(np.float32))
        self.w = self.G.to_device(r.standard_normal((32, 3, 7, 7)).astype(np.float32))
        self.b = self.G.to_device(np.zeros(32, np.float32))
        self.dout = self.G.to_device(r.standard_normal((50, 32, 32, 32)).astype(np.float32))
        self.time_fastnn()

    def time_fastnn(self):
        _, cache = self.G.conv_forward_naive(self.x, self.w, self.b, {"stride": 1, "pad": 3})
        self.G.conv_backward_naive(self.dout, cache)
        self.G.synchronize()

    def time_torch(self):
        if self.torch is None:
            raise NotImplementedError("no torch with CUDA")
        torch = self.torch
        x, w, b = (torch.as_tensor(a, device="cuda").detach().requires_grad_() for a in (self.x, self.w, self.b))
        torch.nn.functional.conv2d(x, w, b, 1, 3).backward(torch.as_tensor(self.dout, device="cuda"))
        torch.cuda.synchronize()
