"""Convenience "sandwich" layers, as cs231n's ``layer_utils``.

Like the course's module, this one also re-exports every layer of
:mod:`fastnn.layers`, so ``from fastnn.layer_utils import *`` gives both.
``affine_relu_*`` fuse the bias and ReLU after the GEMM (and the ReLU mask
with ``db`` in the backward pass); ``affine_norm_relu_*`` is fastnn's
affine - batch/layer norm - ReLU sandwich.  The convolutional sandwiches
(``conv_relu_*``, ``conv_bn_relu_*``, ``conv_relu_pool_*``) come with the
convolution layers.
"""

from fastnn.layers import *  # noqa: F401,F403  (the course module re-exports its layers too)
from fastnn.layers import __all__ as _layer_names

__all__ = list(_layer_names)
