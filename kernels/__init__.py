"""Compiled kernels behind the public API (installed as ``fastnn.kernels``).

The files:

| file | what |
|---|---|
| ``cpu.py`` | ``@njit`` elementwise, affine epilogues, reductions and losses |
| ``numpy_order.py`` | NumPy's pairwise summation, for float64 results equal to NumPy's |
| ``vexp.py`` | the vectorisable exp |
| ``normalization.py`` | dropout, batch and layer normalisation |
| ``optim.py`` | the update rules |
| ``augment.py`` | shifts, rotations and noise for the digits |
| ``fused.py`` | the fused two-layer SGD trainer |
| ``cuda.py`` | the ``@cuda.jit`` kernels; the only file that imports numba's CUDA target |

The rules: kernels trust their inputs (C-contiguous arrays of one float
dtype, shapes already checked by fastnn.validation); tunables reach them as
arguments, never as globals read from another module, since a cached kernel
(``cache=True``) would keep the value it was first compiled with.

Importing this package is the one point where fastnn.threads.configure()
runs: it chooses Numba's threading layer and libgomp's spin count, which
must happen before the first parallel launch, and makes forked children
safe.
"""

from fastnn import threads

threads.configure()
