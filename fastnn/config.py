"""Tunables for the CPU kernels, in one place.

The thresholds decide when a kernel takes its parallel (``prange``) path.
A parallel launch costs about 2 microseconds here (OpenMP layer with the
short spin below), so inputs smaller than these run serially; above them
the work is split into chunks of about ``CHUNK_ELEMENTS`` elements.
"""

#: Elementwise kernels (ReLU forward/backward) go parallel at this many elements.
PARALLEL_MIN_ELEMENTS = 1 << 16

#: Row-wise kernels (losses, ``db`` reduction) go parallel once ``rows * cols``
#: reaches this many elements.
PARALLEL_MIN_ROW_ELEMENTS = 1 << 14

#: Target number of elements handled by one parallel chunk.
CHUNK_ELEMENTS = 1 << 14

#: libgomp's busy-wait after a parallel region, in spins (its default is
#: 300,000).  Short enough not to starve the BLAS threads that run next,
#: long enough that back-to-back launches stay cheap.  See fastnn.threads.
GOMP_SPINCOUNT = 1000

#: Softmax works through its rows in blocks of about this many elements, kept
#: in L1 while the block's exponentials are taken in one vectorised loop.
SOFTMAX_BLOCK_ELEMENTS = 2048
