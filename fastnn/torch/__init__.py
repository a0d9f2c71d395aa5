"""fastnn inside PyTorch: autograd functions and nn.Modules on fastnn's kernels.

    import fastnn.torch as fnn
    model = torch.nn.Sequential(fnn.Linear(64, 512), fnn.BatchNorm1d(512), fnn.ReLU(), fnn.Linear(512, 10))
    loss = fnn.CrossEntropyLoss()(model(x), y)
    loss.backward()

PyTorch is an optional extra (``pip install -e '.[torch]'``); importing
fastnn never imports torch, and importing this package without torch
raises ImportError saying so.  CPU tensors run fastnn.layers without a
copy (``.numpy()``, ``torch.from_numpy``); CUDA tensors run fastnn.cuda
without a copy (``__cuda_array_interface__``) on torch's current stream.

- :mod:`fastnn.torch.functional`: affine, linear, relu, affine_relu,
  cross_entropy, svm_loss, multi_margin_loss, batch_norm, dropout, conv2d,
  max_pool2d, each a ``torch.autograd.Function``;
- the modules: Linear, ReLU, Dropout, BatchNorm1d, CrossEntropyLoss,
  MultiMarginLoss, Conv2d, MaxPool2d, each derived from its torch.nn
  namesake (same constructor, initialisation and state_dict), with
  ``forward`` on fastnn.

Where they differ from torch: fastnn.torch.functional's docstring.
"""

import importlib.util

if importlib.util.find_spec("torch") is None:
    raise ImportError("fastnn.torch needs PyTorch, which is not installed: pip install -e '.[torch]'")

# fastnn's kernels first: their thread settings must be in the environment
# before torch loads its OpenMP runtime (fastnn.threads).
import fastnn.kernels  # noqa: E402, F401
from fastnn.torch import functional  # noqa: E402
from fastnn.torch.modules import (  # noqa: E402
    BatchNorm1d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Linear,
    MaxPool2d,
    MultiMarginLoss,
    ReLU,
)

__all__ = ["functional", "Linear", "ReLU", "Dropout", "BatchNorm1d", "CrossEntropyLoss", "MultiMarginLoss", "Conv2d",
           "MaxPool2d"]
