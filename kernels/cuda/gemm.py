"""The tiled GEMM: ``op(a) @ op(b)`` with a bias and ReLU epilogue, a ReLU mask on an operand, and column sums.

Each block computes a BM x BN tile of the output, staging BK-deep slices of
both operands in shared memory; each thread accumulates a TM x TN patch in
registers.  Transposed operands are read in their stored layout, so loads
coalesce either way.

What the layers' backward passes need is folded in, so each is one launch
per product: an operand can be read masked by a pre-activation (the ReLU's
gradient, ``g * (a >= 0)``, never stored), and the blocks of the first tile
row also sum op(b)'s columns as they stage them (the bias gradient ``db``,
which needed a zero fill and an atomic column-sum kernel before: affine
backward went from 4 launches to 2).

Options are bits of one ``flags`` argument, and unused operands are given
arrays of the types the used ones have, so one compiled signature serves
every combination (numba-cuda's launch cost grows with the argument count,
and the simulator, which never type-checks, would not notice an operand of
the wrong type in a branch that does not run; tests/test_cuda_compiles.py
does).
"""

from numba import cuda

from fastnn.kernels.cuda.launch import BK, BM, BN, GEMM_THREADS, TM, TN, empty, kernel, per_dtype, stream

TRANS_A, TRANS_B, BIAS, RELU, MASK_A, MASK_B, COLUMN_SUMS = (1 << i for i in range(7))


@per_dtype
def _gemm_kernel(nb):
    @kernel
    def gemm(a, b, c, bias, post, mask, sums, flags):
        """c = op(a) @ op(b) (+ bias), post = max(c, 0) when RELU; sums = column sums of op(b) when COLUMN_SUMS.

        op(a) is (m, k): a itself, or a stored as (k, m) when TRANS_A.
        op(b) is (k, n): b itself, or b stored as (n, k) when TRANS_B.
        MASK_A (MASK_B) reads the untransposed a (b) as zero where mask < 0 or is NaN.
        """
        trans_a = (flags & TRANS_A) != 0
        trans_b = (flags & TRANS_B) != 0
        mask_a = (flags & MASK_A) != 0
        mask_b = (flags & MASK_B) != 0
        m = a.shape[1] if trans_a else a.shape[0]
        k = a.shape[0] if trans_a else a.shape[1]
        n = b.shape[0] if trans_b else b.shape[1]
        a_tile = cuda.shared.array((BK, BM), nb)
        b_tile = cuda.shared.array((BK, BN), nb)
        acc = cuda.local.array((TM, TN), nb)
        col = cuda.local.array(TN, nb)
        a_reg = cuda.local.array(TM, nb)
        b_reg = cuda.local.array(TN, nb)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * cuda.blockDim.x + tx
        threads = cuda.blockDim.x * cuda.blockDim.y
        row0 = cuda.blockIdx.y * BM
        col0 = cuda.blockIdx.x * BN
        zero = nb(0)
        # One row of threads of the first tile row sums op(b)'s columns.
        summing = (flags & COLUMN_SUMS) != 0 and cuda.blockIdx.y == 0 and ty == 0
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = 0
        for j in range(TN):
            col[j] = 0
        for k0 in range(0, k, BK):
            # Consecutive threads take consecutive addresses of the stored
            # layout, so the loads coalesce whether or not it is transposed.
            for idx in range(tid, BK * BM, threads):
                if trans_a:
                    kk, mm = idx // BM, idx % BM
                else:
                    kk, mm = idx % BK, idx // BK
                gm, gk = row0 + mm, k0 + kk
                v = zero
                if gm < m and gk < k:
                    if trans_a:
                        v = a[gk, gm]
                    else:
                        v = a[gm, gk]
                        if mask_a and not mask[gm, gk] >= zero:
                            v = zero
                a_tile[kk, mm] = v
            for idx in range(tid, BK * BN, threads):
                if trans_b:
                    kk, nn = idx % BK, idx // BK
                else:
                    kk, nn = idx // BN, idx % BN
                gn, gk = col0 + nn, k0 + kk
                v = zero
                if gn < n and gk < k:
                    if trans_b:
                        v = b[gn, gk]
                    else:
                        v = b[gk, gn]
                        if mask_b and not mask[gk, gn] >= zero:
                            v = zero
                b_tile[kk, nn] = v
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
                if summing:
                    for j in range(TN):
                        col[j] += b_reg[j]
            # Every thread must be done reading before the next K step
            # overwrites the tiles.
            cuda.syncthreads()
        add_bias = (flags & BIAS) != 0
        relu = (flags & RELU) != 0
        if summing:
            for j in range(TN):
                gn = col0 + tx * TN + j
                if gn < n:
                    sums[gn] = col[j]
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


def gemm(a, b, trans_a=False, trans_b=False, bias=None, relu=False, mask=None, mask_operand="a", column_sums=False):
    """
    ``op(a) @ op(b)`` on the GPU in one launch, with an optional fused bias
    and ReLU, a ReLU mask on an operand, and the column sums of op(b).

    Parameters
    ----------
    a : device array, shape (M, K), or (K, M) when ``trans_a``
    b : device array, shape (K, N), or (N, K) when ``trans_b``
    bias : device array of shape (N,), optional
        Added to every row of the product.
    relu : bool
        Also return ``max(c, 0)``.
    mask : device array of the shape of the operand ``mask_operand``, optional
        That operand ('a' or 'b', untransposed) is read as zero where mask
        is negative or NaN: the product of a ReLU's gradient.
    column_sums : bool
        Also return the sums of op(b)'s columns (of the masked op(b)), shape (N,).

    Returns
    -------
    c : device array, shape (M, N)
    post : device array, shape (M, N); only when ``relu``
    sums : device array, shape (N,); only when ``column_sums``
    """
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    n = b.shape[0] if trans_b else b.shape[1]
    c = empty((m, n), a.dtype)
    post = empty((m, n), a.dtype) if relu else c
    sums = empty(n, a.dtype) if column_sums else None
    flat = c.reshape(c.size)
    flags = (
        TRANS_A * trans_a
        | TRANS_B * trans_b
        | BIAS * (bias is not None)
        | RELU * relu
        | (MASK_A if mask_operand == "a" else MASK_B) * (mask is not None)
        | COLUMN_SUMS * column_sums
    )
    if c.size or column_sums:
        grid = (-(-n // BN) or 1, -(-m // BM) or 1)
        # Stand-ins of the used operands' types: c's flat view for the 1-D
        # ones, c for the 2-D ones (never read or written: their bit is off).
        _gemm_kernel(a.dtype)[grid, GEMM_THREADS, stream()](
            a, b, c, flat if bias is None else bias, post, c if mask is None else mask, flat if sums is None else sums, flags
        )
    results = (c,) + ((post,) if relu else ()) + ((sums,) if column_sums else ())
    return results if len(results) > 1 else c
