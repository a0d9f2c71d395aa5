"""``@cuda.jit`` kernels (numba-cuda); the only package that imports numba's CUDA target.

Importing it raises ImportError, saying what is missing, when numba-cuda is
not installed.  It imports without a GPU, since defining a kernel compiles
nothing: tests/test_cuda_compiles.py compiles every kernel to PTX that way
with NVVM.  :mod:`fastnn.cuda`, the only package of the library that
imports it, refuses to import where there is neither a GPU nor the
simulator (``NUMBA_ENABLE_CUDASIM=1``).

| file | what |
|---|---|
| ``launch.py`` | launch shapes, the stream kernels launch on, the kernel registry and per-dtype factories, device memory: zeros, casts, copies, row gathers |
| ``memory.py`` | the pool every device array of fastnn.cuda comes from |
| ``observe.py`` | observers of launches, host copies and driver allocations (the tests count them) |
| ``gemm.py`` | the tiled GEMM with its bias and ReLU epilogue |
| ``conv.py`` | convolution as an implicit GEMM, max pooling, spatial batchnorm |
| ``reductions.py`` | block reductions in shared memory: sums, sums of squares, column sums (``db``) |
| ``elementwise.py`` | ReLU, layernorm's per-feature scale and shift, the SGD update, grid-stride |
| ``dropout.py`` | dropout masks from Philox4x32-10, a counter-based generator |
| ``optim.py`` | the update rules of ``fastnn.cuda.optim``, grid-stride |
| ``losses.py`` | softmax and hinge losses, a row per warp or block; the count of correct predictions |

Conventions
-----------
* Kernels are made with ``launch.kernel`` (``@cuda.jit`` plus a name in the
  registry), never plain ``@cuda.jit``, and every array comes from the pool
  (``launch.empty``), never ``cuda.device_array``.
* Inputs are C-contiguous device arrays of one float dtype whose shapes the
  public API (``fastnn.cuda``) has checked.
* Kernels are built per dtype by small factories, so shared and local
  arrays have a compile-time dtype and float32 never upcasts.
* Reductions go through shared memory with ``syncthreads``: the simulator
  that CI runs has neither warp shuffles nor ``syncwarp``, and one code path
  for both keeps CI honest about what runs on the GPU.
* Every launch goes to ``launch.stream()`` (the caller's stream inside
  ``launch.on_stream``, else the default stream), and every copy of a
  result to the host goes through ``launch.to_host``, which waits for that
  stream; a test records every launch of the public API to hold this.
* Launch configuration comes from :mod:`fastnn.config` (smaller shapes on
  the simulator, so tiny test inputs still cross tiles).
"""

import importlib.util

import numpy as np

if importlib.util.find_spec("numba_cuda") is None:
    raise ImportError(
        "fastnn.cuda needs the numba-cuda package, which is not installed: pip install -e '.[cuda]'"
    )

# numba-cuda 0.30.4 still calls np.row_stack, which NumPy 2.5 removed; its
# replacement np.vstack does the same for the 2-D inputs involved.
if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack

import numba.cuda  # noqa: E402, F401  (the CUDA target, or the simulator, once for every kernel module)
from numba.core import config as _numba_config  # noqa: E402

#: True when kernels run on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
SIMULATOR = bool(_numba_config.ENABLE_CUDASIM)
