"""cs231n's ``fast_layers`` on the compiled kernels, with no Cython build step.

The course's module offers several implementations (im2col through a
Cython extension, ``as_strided`` windows, a reshape trick for tiling
pools) behind these names.  Here every name is the one compiled kernel of
:mod:`fastnn.layers` (im2col per chunk of images and one BLAS GEMM for the
convolution; a single pass for pooling), so they all compute the same
thing.  A geometry that does not divide evenly gets the naive layers'
floored output size (the course's fast versions assert on it; its naive
ones and torch floor):

- ``conv_forward_{fast,im2col,strides}(x, w, b, conv_param) -> (out, cache)``,
  x (N, C, H, W), w (F, C, HH, WW), b (F,), out (N, F, H', W')
- ``conv_backward_{fast,im2col,strides}(dout, cache) -> (dx, dw, db)``
- ``max_pool_forward_{fast,reshape,im2col}(x, pool_param) -> (out, cache)``
- ``max_pool_backward_{fast,reshape,im2col}(dout, cache) -> dx``

Differences from the course, on purpose:

- Pooling ties: the gradient of a window goes to its first maximum in
  row-major order, as the course's naive code and PyTorch do; the course's
  reshape path splits it among tied maxima.
- ``max_pool_forward_im2col`` works for pools that do not tile (3x3 with
  stride 2, say): the course's calls an ``im2col`` it never defines.
- Caches are those of :mod:`fastnn.layers` (the course's hold im2col
  matrices or method tags); pass them back to these functions only.
"""

from fastnn.layers import conv_backward_naive, conv_forward_naive, max_pool_backward_naive, max_pool_forward_naive

__all__ = [
    "conv_forward_fast", "conv_backward_fast",
    "conv_forward_im2col", "conv_backward_im2col",
    "conv_forward_strides", "conv_backward_strides",
    "max_pool_forward_fast", "max_pool_backward_fast",
    "max_pool_forward_reshape", "max_pool_backward_reshape",
    "max_pool_forward_im2col", "max_pool_backward_im2col",
]

conv_forward_fast = conv_forward_im2col = conv_forward_strides = conv_forward_naive
conv_backward_fast = conv_backward_im2col = conv_backward_strides = conv_backward_naive
max_pool_forward_fast = max_pool_forward_reshape = max_pool_forward_im2col = max_pool_forward_naive
max_pool_backward_fast = max_pool_backward_reshape = max_pool_backward_im2col = max_pool_backward_naive
