"""Convenience "sandwich" layers, as cs231n's ``layer_utils``.

Like the course's module, this one also re-exports every layer of
:mod:`fastnn.layers`, so ``from fastnn.layer_utils import *`` gives both.
``affine_relu_*`` and ``conv_relu_*`` fuse the bias and ReLU into the pass
after the GEMM (and the ReLU mask into the pass that reduces ``db``);
``conv_relu_pool_*`` is that, then max pooling; ``conv_bn_relu_*`` is
convolution, spatial batchnorm and ReLU, composed; ``affine_norm_relu_*``
is fastnn's affine - batch/layer norm - ReLU sandwich.  The caches have
the course's layout: ``(conv_cache, relu_cache)``, ``(conv_cache,
relu_cache, pool_cache)``, ``(conv_cache, bn_cache, relu_cache)``.
"""

from fastnn.layers import *  # noqa: F401,F403  (the course module re-exports its layers too)
from fastnn.layers import __all__ as _layer_names

__all__ = list(_layer_names)
