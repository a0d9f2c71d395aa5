"""The tiled GEMM: ``op(a) @ op(b)`` with the bias and ReLU fused into its epilogue.

Each block computes a BM x BN tile of the output, staging BK-deep slices of
both operands in shared memory; each thread accumulates a TM x TN patch in
registers.  Transposed operands are read in their stored layout, so loads
coalesce either way.
"""

from numba import cuda

from fastnn.kernels.cuda.launch import BK, BM, BN, GEMM_THREADS, TM, TN, per_dtype, stream

@per_dtype
def _gemm_kernel(nb):
    @cuda.jit
    def gemm(a, b, c, bias, post, m, n, k, trans_a, trans_b, add_bias, relu):
        """c = op(a) @ op(b) (+ bias), post = max(c, 0) when relu.

        op(a) is (m, k): a itself, or a stored as (k, m) when trans_a.
        op(b) is (k, n): b itself, or b stored as (n, k) when trans_b.
        """
        a_tile = cuda.shared.array((BK, BM), nb)
        b_tile = cuda.shared.array((BK, BN), nb)
        acc = cuda.local.array((TM, TN), nb)
        a_reg = cuda.local.array(TM, nb)
        b_reg = cuda.local.array(TN, nb)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * cuda.blockDim.x + tx
        threads = cuda.blockDim.x * cuda.blockDim.y
        row0 = cuda.blockIdx.y * BM
        col0 = cuda.blockIdx.x * BN
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = 0
        for k0 in range(0, k, BK):
            # Consecutive threads take consecutive addresses of the stored
            # layout, so the loads coalesce whether or not it is transposed.
            for idx in range(tid, BK * BM, threads):
                if trans_a:
                    kk, mm = idx // BM, idx % BM
                else:
                    kk, mm = idx % BK, idx // BK
                gm, gk = row0 + mm, k0 + kk
                if gm < m and gk < k:
                    a_tile[kk, mm] = a[gk, gm] if trans_a else a[gm, gk]
                else:
                    a_tile[kk, mm] = 0
            for idx in range(tid, BK * BN, threads):
                if trans_b:
                    kk, nn = idx % BK, idx // BK
                else:
                    kk, nn = idx // BN, idx % BN
                gn, gk = col0 + nn, k0 + kk
                if gn < n and gk < k:
                    b_tile[kk, nn] = b[gn, gk] if trans_b else b[gk, gn]
                else:
                    b_tile[kk, nn] = 0
            # Both tiles must be complete before any thread reads them.
            cuda.syncthreads()
            for kk in range(BK):
                for i in range(TM):
                    a_reg[i] = a_tile[kk, ty * TM + i]
                for j in range(TN):
                    b_reg[j] = b_tile[kk, tx * TN + j]
                for i in range(TM):
                    for j in range(TN):
                        acc[i, j] += a_reg[i] * b_reg[j]
            # Every thread must be done reading before the next K step
            # overwrites the tiles.
            cuda.syncthreads()
        zero = nb(0)
        for i in range(TM):
            gm = row0 + ty * TM + i
            if gm < m:
                for j in range(TN):
                    gn = col0 + tx * TN + j
                    if gn < n:
                        v = acc[i, j]
                        if add_bias:
                            v += bias[gn]
                        c[gm, gn] = v
                        if relu:
                            post[gm, gn] = v if not v <= zero else zero

    return gemm


def gemm(a, b, trans_a=False, trans_b=False, bias=None, relu=False):
    """
    ``op(a) @ op(b)`` on the GPU, with an optional fused bias and ReLU.

    Parameters
    ----------
    a : device array, shape (M, K), or (K, M) when ``trans_a``
    b : device array, shape (K, N), or (N, K) when ``trans_b``
    bias : device array of shape (N,), optional
        Added to every row of the product.
    relu : bool
        Also return ``max(c, 0)``.

    Returns
    -------
    c : device array, shape (M, N)
    post : device array, shape (M, N)
        Only when ``relu``.
    """
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    n = b.shape[0] if trans_b else b.shape[1]
    c = cuda.device_array((m, n), a.dtype)
    post = cuda.device_array((m, n), a.dtype) if relu else c
    grid = (-(-n // BN) or 1, -(-m // BM) or 1)
    _gemm_kernel(a.dtype)[grid, GEMM_THREADS, stream()](
        a, b, c, bias if bias is not None else c, post, m, n, k, trans_a, trans_b, bias is not None, relu
    )
    return (c, post) if relu else c
