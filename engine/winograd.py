"""Winograd's minimal filtering F(2x2, 3x3) for 3x3 convolutions of stride 1.

A 2x2 tile of outputs reads a 4x4 tile d of the input. Direct correlation
spends 2 * 2 * 9 = 36 multiplications on it per pair of channels, and this
form spends 16. The kernel g and the tile are each taken to a 4x4
transformed space, multiplied elementwise there and summed over input
channels, which makes 16 matrix products, and the sum is taken back:

    Y = A^T [(G g G^T) * (B^T d B)] A

(A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural
Networks", arXiv:1509.09308). The transforms use only 0, 1, -1 and 1/2, so
float32 results differ from direct correlation by rounding of the same
size, which a test bounds.
"""

from functools import lru_cache

import numpy as np

from engine.blocks import blocks, scratch_array

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])

# G J = P G, where J reverses the 3 kernel taps and P swaps rows 0 and 3
# of G. So the kernel turned 180 degrees has the transform U[P a, P b].
_P = (3, 1, 2, 0)
FLIP = tuple(_P[a] * 4 + _P[b] for a in range(4) for b in range(4))

# With fewer input times output channels, C * F, the transforms cost more
# than the products they save. On 2 AVX-512 cores, VGG16's conv1_2 (64 in,
# 64 out) was slower in this form, and conv2_1 (64 in, 128 out) faster.
MIN_CHANNEL_PRODUCT = 64 * 128

# Tiles are transformed about this many at a time. Fewer make the 16
# matrix products slower, and more let the block fall out of the cache
# between the transforms and the products. In VGG16's forward pass plus
# input gradient on 2 AVX-512 cores, 256 was slower than 512, and 1024
# was within the noise of 512.
TILES_PER_BLOCK = 512


@lru_cache(maxsize=None)
def _transforms(dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """Return the 2D transforms as matrices acting on row-major tiles.

    kron(B^T, B^T) vec(d) = vec(B^T d B), so one matrix product moves
    every tile of a block at once: `(16, 16)` for the input, `(16, 9)` for
    the kernels and `(4, 16)` for the output.
    """
    return tuple(np.kron(M, M).astype(dtype) for M in (B_T, G, A_T))


def fits(kernel_shape: tuple[int, int, int, int], stride: int,
         padding: int, output_size: tuple[int, int]) -> bool:
    """Return whether this form can compute the convolution.

    kernel_shape is `(F, C, kh, kw)`. The output must split into whole
    2x2 tiles, so an odd output height or width needs the direct form, and
    so does padding above 2, whose tiles would read only zeros.
    """
    _, _, kh, kw = kernel_shape
    H_out, W_out = output_size
    return (kh == kw == 3 and stride == 1 and 0 <= padding <= 2
            and H_out > 0 and W_out > 0
            and H_out % 2 == 0 and W_out % 2 == 0)


def pays(kernel_shape: tuple[int, int, int, int]) -> bool:
    """Return whether the kernels have enough channels for this form to be
    faster than direct correlation."""
    F, C = kernel_shape[:2]
    return C * F >= MIN_CHANNEL_PRODUCT


def kernel_transform(W: np.ndarray) -> np.ndarray:
    """Return `G g G^T` for every kernel of W `(F, C, 3, 3)` as U `(16, F, C)`."""
    F, C = W.shape[:2]
    kron_G = _transforms(W.dtype)[1]
    U = kron_G @ W.reshape(F * C, 9).T  # (16, F*C)
    return U.reshape(16, F, C)


def correlate(X_nhwc: np.ndarray, U: np.ndarray, padding: int,
              b: np.ndarray | None = None,
              flipped: bool = False) -> np.ndarray:
    """Return the cross-correlation of X_nhwc `(N, H, W, C)` with the 3x3
    kernels whose transform is U, plus b, as `(N, H_out, W_out, F)`.

    U is `(16, F, C)`. With `flipped`, U is instead `(16, C, F)` and the
    kernels are turned 180 degrees with input and output channels
    swapped: the correlation that takes dZ back to dX.
    """
    N, H, W, C = X_nhwc.shape
    F = U.shape[2] if flipped else U.shape[1]
    H_out, W_out = H + 2 * padding - 2, W + 2 * padding - 2
    X_pad = _padded(X_nhwc, padding)  # (N, H_out + 2, W_out + 2, C)
    Z = np.empty((N, H_out, W_out, F), np.result_type(X_nhwc, U))
    tiles_x = W_out // 2
    for n0, n1, t0, t1 in blocks(N, H_out // 2, TILES_PER_BLOCK // tiles_x):
        rows = X_pad[n0:n1, 2 * t0:2 * t1 + 2]
        V = _input_transform(rows, t1 - t0, tiles_x)  # (16, T, C)
        M = _products(V, U, F, flipped)  # (16, T, F)
        Z_block = Z[n0:n1, 2 * t0:2 * t1]
        _output_transform(M, Z_block)
        if b is not None:
            Z_block += b  # while the block is still in the cache
    return Z


def _padded(X_nhwc: np.ndarray, padding: int) -> np.ndarray:
    """Return X_nhwc with `padding` zeros on each side of H and W, on a
    scratch buffer. Only the border is zeroed, the rest is overwritten."""
    if padding == 0:
        return X_nhwc
    N, H, W, C = X_nhwc.shape
    p = padding
    X_pad = scratch_array((N, H + 2 * p, W + 2 * p, C), X_nhwc.dtype,
                          slot="winograd padded")
    X_pad[:, :p] = 0
    X_pad[:, H + p:] = 0
    X_pad[:, p:H + p, :p] = 0
    X_pad[:, p:H + p, W + p:] = 0
    X_pad[:, p:H + p, p:W + p] = X_nhwc
    return X_pad


def _input_transform(rows: np.ndarray, tiles_y: int,
                     tiles_x: int) -> np.ndarray:
    """Return `B^T d B` of every 4x4 tile d of `rows` as `(16, T, C)`.

    rows is `(n, 2 tiles_y + 2, 2 tiles_x + 2, C)`. Tiles overlap by two
    pixels, so each of the 16 tile positions is a strided view, and T is
    `n * tiles_y * tiles_x` in row-major order of the tiles.
    """
    n, _, _, C = rows.shape
    T = n * tiles_y * tiles_x
    d = scratch_array((4, 4, n, tiles_y, tiles_x, C), rows.dtype,
                      slot="winograd a")
    for r in range(4):
        for s in range(4):
            d[r, s] = rows[:, r:r + 2 * tiles_y:2, s:s + 2 * tiles_x:2]
    V = scratch_array((16, T, C), rows.dtype, slot="winograd b")
    kron_B = _transforms(rows.dtype)[0]
    np.dot(kron_B, d.reshape(16, -1), out=V.reshape(16, -1))
    return V


def _products(V: np.ndarray, U: np.ndarray, F: int,
              flipped: bool) -> np.ndarray:
    """Return M `(16, T, F)`, M[k] = V[k] U[k]^T: the elementwise product
    in transformed space, summed over input channels."""
    M = scratch_array((16, V.shape[1], F), V.dtype, slot="winograd a")
    for k in range(16):
        if flipped:
            np.dot(V[k], U[FLIP[k]], out=M[k])
        else:
            np.dot(V[k], U[k].T, out=M[k])
    return M


def _output_transform(M: np.ndarray, Z_block: np.ndarray) -> None:
    """Write `A^T m A` of every transformed tile m of M `(16, T, F)` into
    its 2x2 place in Z_block `(n, 2 tiles_y, 2 tiles_x, F)`."""
    n, H2, W2, F = Z_block.shape
    kron_A = _transforms(M.dtype)[2]
    Y = scratch_array((4, M.shape[1] * F), M.dtype, slot="winograd b")
    np.dot(kron_A, M.reshape(16, -1), out=Y)
    Y = Y.reshape(2, 2, n, H2 // 2, W2 // 2, F)
    for i in range(2):
        for j in range(2):
            Z_block[:, i::2, j::2] = Y[i, j]
