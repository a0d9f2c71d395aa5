"""Compiled kernels behind the public API (installed as ``fastnn.kernels``).

Two packages, by backend; inside each, one file per op family.

| file | what |
|---|---|
| ``cpu/dispatch.py`` | when a CPU kernel runs in parallel: thresholds and chunking |
| ``cpu/elementwise.py`` | ReLU and dropout |
| ``cpu/mt19937.py`` | NumPy's legacy generator (``np.random.rand``'s stream) for dropout's mask |
| ``cpu/affine.py`` | bias, bias+ReLU and column-sum epilogues around NumPy's BLAS |
| ``cpu/conv.py`` | convolution (im2col and a GEMM per image) and max pooling |
| ``cpu/losses.py`` | softmax and hinge losses with their gradients |
| ``cpu/norm.py`` | batch and layer normalisation; spatial batch and group normalisation |
| ``cpu/optim.py`` | the update rules |
| ``cpu/augment.py`` | shifts, rotations and noise for the digits |
| ``cpu/fused.py`` | the fused two-layer SGD trainer |
| ``cpu/vexp.py`` | the vectorisable exp |
| ``cpu/numpy_order.py`` | NumPy's pairwise summation, for float64 results equal to NumPy's |
| ``cuda/__init__.py`` | the import guard: numba-cuda present, a GPU or the simulator |
| ``cuda/launch.py`` | launch shapes, per-dtype factories, device memory |
| ``cuda/gemm.py`` | the tiled GEMM with its bias and ReLU epilogue |
| ``cuda/conv.py`` | convolution as an implicit GEMM, max pooling, spatial batchnorm |
| ``cuda/reductions.py`` | shared-memory reductions, column sums |
| ``cuda/elementwise.py`` | ReLU and the SGD update |
| ``cuda/losses.py`` | softmax and hinge losses |

The rules:

* Kernels trust their inputs (C-contiguous arrays of one float dtype,
  shapes already checked by :mod:`fastnn.validation`); the public modules
  (``fastnn.layers``, ``fastnn.cuda``, ``fastnn.optim``, ...) check.
* Tunables reach kernels as arguments, never as globals read from another
  module: a cached kernel (``cache=True``) keeps the value it was first
  compiled with, and Numba does not notice edits to functions or globals of
  other files.  Tests and CI therefore compile into a cache directory named
  after a hash of every file here (``tests/conftest.py``, ``.ci/run``).
* Only ``cuda/`` imports numba's CUDA target, and only :mod:`fastnn.cuda`
  imports ``cuda/``; importing fastnn never needs CUDA.

Importing this package is the one point where :func:`fastnn.threads.configure`
runs: it chooses Numba's threading layer and libgomp's spin count, which
must happen before the first parallel launch, and makes forked children
safe.
"""

from fastnn import threads

threads.configure()
