"""Numba kernel for data augmentation of small square images (the 8x8 digits)."""

import math

from numba import njit


@njit(cache=True)
def shift_rotate_noise(images, side, shifts, angles, noise, out):
    """
    Per image: rotate by ``angles[n]`` radians about the centre, shift by
    ``shifts[n]`` pixels (rows, columns), sample bilinearly (zero outside),
    then add ``noise[n]``.

    Parameters
    ----------
    images, out : ndarray, shape (N, side * side)
    shifts : ndarray of float, shape (N, 2)
    angles : ndarray of float, shape (N,)
    noise : ndarray, shape (N, side * side)
    """
    c = (side - 1) / 2.0
    t = images.dtype.type
    for n in range(images.shape[0]):
        cos_a = math.cos(angles[n])
        sin_a = math.sin(angles[n])
        src = images[n]
        dst = out[n]
        for i in range(side):
            for j in range(side):
                # Inverse map: where in the source does output pixel (i, j) come from?
                y = i - shifts[n, 0] - c
                x = j - shifts[n, 1] - c
                sy = cos_a * y + sin_a * x + c
                sx = -sin_a * y + cos_a * x + c
                y0 = math.floor(sy)
                x0 = math.floor(sx)
                fy = sy - y0
                fx = sx - x0
                value = 0.0
                for dy in range(2):
                    yy = y0 + dy
                    if 0 <= yy < side:
                        wy = fy if dy else 1.0 - fy
                        for dx in range(2):
                            xx = x0 + dx
                            if 0 <= xx < side:
                                wx = fx if dx else 1.0 - fx
                                value += wy * wx * src[int(yy) * side + int(xx)]
                dst[i * side + j] = t(value) + noise[n, i * side + j]
