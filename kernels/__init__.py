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
  after :func:`source_digest` (``tests/conftest.py``, ``.ci/run``), and
  importing this package drops the in-tree cache when the digest changed
  (:func:`drop_stale_cache`).
* Only ``cuda/`` imports numba's CUDA target, and only :mod:`fastnn.cuda`
  imports ``cuda/``; importing fastnn never needs CUDA.

Importing this package is the one point where :func:`fastnn.threads.configure`
runs: it chooses Numba's threading layer and libgomp's spin count, which
must happen before the first parallel launch, and makes forked children
safe.
"""

import hashlib
import os
from pathlib import Path

from fastnn import threads

_STAMP = "fastnn-kernels.digest"


def source_digest(root=Path(__file__).resolve().parent):
    """First 16 hex digits of the SHA-256 of every kernel source, in path order."""
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(root.rglob("*.py")))).hexdigest()[:16]


def drop_stale_cache(root=Path(__file__).resolve().parent):
    """
    Delete Numba's cache files beside the kernel sources unless they were
    written for the sources as they are now.

    Numba checks only the timestamp of the file that defines a cached
    function, so after an edit or a ``git pull`` that changed one file, the
    kernels of other files that call into it kept the old machine code: in
    this checkout, dropout's forward ran the MT19937 twist of an earlier
    commit (7.1-10.7 ms against 4.3-4.7 ms once the cache was rebuilt).
    A stamp with :func:`source_digest` in each ``__pycache__`` says which
    sources its files belong to; without a matching one, the directory's
    ``.nbi``/``.nbc`` files go and the stamp is written (before Numba makes
    any, on a fresh checkout).  With ``NUMBA_CACHE_DIR`` set, Numba caches
    elsewhere, and naming that directory is the caller's part.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    digest = source_digest(root)
    for cache in sorted({p.parent / "__pycache__" for p in root.rglob("*.py")}):
        stamp = cache / _STAMP
        try:
            if stamp.read_text() == digest:
                continue
        except OSError:
            pass  # no stamp: files of unknown sources, or none yet
        try:
            cache.mkdir(exist_ok=True)
            for f in cache.iterdir():
                if f.suffix in (".nbi", ".nbc"):
                    f.unlink(missing_ok=True)
            part = cache / f"{_STAMP}.{os.getpid()}"
            part.write_text(digest)
            os.replace(part, stamp)
        except OSError:
            pass  # a read-only install: Numba caches in the user's directory then


drop_stale_cache()
threads.configure()
