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

#: Dropout draws its uniforms this many at a time into buffers that stay in
#: L1 (32 KB of words, 32 KB of doubles), then compares and scales them.
DROPOUT_CHUNK = 4096

#: The hinge loss splits rows of at least this many classes into the runs
#: before and after the label (see _svm_span in kernels/cpu/losses.py).
SVM_SPLIT_MIN_CLASSES = 96

#: The float64 softmax (NumPy's order, NumPy's exp) works through its rows
#: in blocks of about this many elements, 1 MB, which stay in L2 (1 MB a
#: core here) between its three steps.  See kernels/cpu/losses.py.
NUMPY_ORDER_BLOCK_ELEMENTS = 1 << 17

#: float32 batchnorm sums its statistics (forward) and its column sums
#: (backward) over this many row chunks, on every thread, and adds their
#: partial sums in chunk order; the count (not the thread count) decides the
#: bits.  The partial sums take 16 * D bytes each.
BATCHNORM_STAT_CHUNKS = 16

#: Layer outputs of at least this many bytes come from fastnn.output_pool,
#: which recycles their memory instead of faulting in fresh pages (1e7
#: float32 ReLU: 2.5 ms into a new array, 1.56 ms into a recycled one).
#: Smaller ones come from np.empty, 0.2 us against the pool's 2 us.
OUTPUT_POOL_MIN_BYTES = 4 << 20

#: At most this many bytes of freed outputs wait for reuse; the oldest go
#: first.  0 turns recycling off.
OUTPUT_POOL_MAX_IDLE_BYTES = 512 << 20

# ---------------------------------------------------------------- CUDA
# Launch configuration of the @cuda.jit kernels (kernels/cuda/).

#: GEMM block tile (rows x columns of C), depth of a K step, and the
#: register block each thread computes: 16 x 16 threads of 4 x 4 outputs.
GEMM_TILE_M = 64
GEMM_TILE_N = 64
GEMM_TILE_K = 16
GEMM_THREAD_M = 4
GEMM_THREAD_N = 4

#: Threads per block of the elementwise, row-wise and reduction kernels.
CUDA_BLOCK = 256

#: Row kernels (softmax, SVM) give each row one warp while C is at most this,
#: and a whole block beyond it.
CUDA_WARP_ROW_MAX_C = 1024

#: Values each thread keeps in registers in the row kernels; a row that fits
#: (C <= threads per row * this) is read from global memory once.
CUDA_VALUES_PER_THREAD = 8

#: Upper bound on blocks of the grid-stride elementwise kernels.
CUDA_MAX_BLOCKS = 4096

#: The same settings on Numba's CUDA simulator (CI), where every GPU thread is
#: a Python thread: small enough to run quickly, and small enough that tiny
#: test inputs still cross GEMM tiles, take the block-per-row path and
#: overflow the register cache, exactly as large inputs do on a GPU.
CUDA_SIMULATOR_OVERRIDES = {
    "GEMM_TILE_M": 8,
    "GEMM_TILE_N": 8,
    "GEMM_TILE_K": 4,
    "GEMM_THREAD_M": 2,
    "GEMM_THREAD_N": 2,
    "CUDA_BLOCK": 64,
    "CUDA_WARP_ROW_MAX_C": 64,
    "CUDA_VALUES_PER_THREAD": 2,
}


def cuda_setting(name, simulator):
    """A CUDA launch setting, for the simulator or for a real GPU."""
    if simulator and name in CUDA_SIMULATOR_OVERRIDES:
        return CUDA_SIMULATOR_OVERRIDES[name]
    return globals()[name]

#: At most this many bytes of freed device outputs and temporaries wait in
#: fastnn.cuda's pool for reuse (kernels/cuda/memory.py); the oldest go
#: first.  Numba's allocator took 48 us for 4 KB and 250 us for 280 MB on
#: an H200, so a block is worth keeping at any size.  0 turns reuse off.
CUDA_POOL_MAX_IDLE_BYTES = 4 << 30
