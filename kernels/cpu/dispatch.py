"""When a CPU kernel runs in parallel: the size thresholds and chunking.

``parallel=True`` costs 2-3 us per call here, so inputs below the
thresholds of :mod:`fastnn.config` run the serial span function directly;
the thresholds are read at call time, so editing them takes effect.  A
forked child never runs parallel (:func:`fastnn.threads.parallel_allowed`).
"""

from fastnn import config, threads


def num_chunks(total, chunk):
    return max(1, -(-total // chunk))


def rows_per_chunk(num_cols):
    return max(1, config.CHUNK_ELEMENTS // max(1, num_cols))


def is_large_rows(matrix):
    return matrix.size >= config.PARALLEL_MIN_ROW_ELEMENTS and matrix.shape[0] > 1 and threads.parallel_allowed()


def is_large(array):
    return array.size >= config.PARALLEL_MIN_ELEMENTS and threads.parallel_allowed()

