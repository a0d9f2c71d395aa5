"""Tunables for the CPU kernels, in one place.

The thresholds decide when a kernel takes its parallel (``prange``) path.
Starting Numba's thread pool costs 2-3 microseconds per call, so arrays
below these sizes run serially; above them the work is split into chunks
of roughly ``CHUNK_ELEMENTS`` so each thread streams a cache-friendly span.
"""

#: Elementwise kernels (ReLU forward/backward) go parallel at this many elements.
PARALLEL_MIN_ELEMENTS = 1 << 17

#: Row-wise kernels (losses, bias epilogues, ``db`` reduction) go parallel
#: once ``rows * cols`` reaches this many elements.
PARALLEL_MIN_ROW_ELEMENTS = 1 << 16

#: Target number of elements handled by one parallel chunk.
CHUNK_ELEMENTS = 1 << 14
