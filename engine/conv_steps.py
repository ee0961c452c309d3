"""The arithmetic of a convolution one output position at a time.

`Conv2D` computes every output at once with one matrix product. The
functions here redo single positions with slices that follow the formulas,
so a page can show each patch, product and term. They work on one example:
`X` is `(C, H, W)`, the weights are those of `Conv2D` (`W` `(F, C, kh, kw)`,
`b` `(F,)`), the output `Z` and its gradient `dZ` are `(F, H_out, W_out)`,
and a single feature map `A` for pooling is `(H, W)`.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.conv import conv_output_size
from engine.vgg import he_weights, layer_specs
from engine.weights import cached_weights_path, load_weights


def _preset(rows: list[list[float]]) -> np.ndarray:
    kernel = np.array(rows, dtype=float)
    kernel.flags.writeable = False  # shared by every session of the app
    return kernel


# 3x3 kernels as the convolution applies them: cross-correlation, no flip.
KERNEL_PRESETS: dict[str, np.ndarray] = {
    "Identity": _preset([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "Box blur": _preset(np.full((3, 3), 1 / 9).tolist()),
    "Sharpen": _preset([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "Horizontal edges": _preset([[1, 1, 1], [0, 0, 0], [-1, -1, -1]]),
    "Vertical edges": _preset([[1, 0, -1], [1, 0, -1], [1, 0, -1]]),
    "Sobel x": _preset([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel y": _preset([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
}

# ITU-R BT.601 luma weights of R, G and B, for grey versions of photos.
LUMA = np.array([0.299, 0.587, 0.114])


def pad_input(X: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the height and width of `(C, H, W)` to `(C, H + 2p, W + 2p)`."""
    if X.ndim != 3:
        raise ValueError(f"expected one example (C, H, W), got shape {X.shape}")
    p = padding
    return np.pad(X, ((0, 0), (p, p), (p, p)))


def output_positions(H: int, W: int, k: int, stride: int,
                     padding: int) -> list[tuple[int, int]]:
    """List the output positions `(i, j)` of a `k x k` window, row by row.

    Raises ValueError, from `conv_output_size`, when the kernel is larger
    than the padded input.
    """
    H_out = conv_output_size(H, k, stride, padding)
    W_out = conv_output_size(W, k, stride, padding)
    return [(i, j) for i in range(H_out) for j in range(W_out)]


def uncovered(size: int, kernel: int, stride: int, padding: int) -> int:
    """Count the last rows (or columns) of the padded input that no window reaches.

    They are left over when the stride does not divide
    `size + 2 padding - kernel`. Raises ValueError when the kernel is larger
    than the padded input.
    """
    conv_output_size(size, kernel, stride, padding)  # checks that it fits
    return (size + 2 * padding - kernel) % stride


def kernel_weights(kernel: np.ndarray, channels: int) -> np.ndarray:
    """Shape a kernel as the `W` `(1, C, kh, kw)` of a one-filter Conv2D.

    A `(kh, kw)` kernel is copied to every channel, so on an RGB input it
    filters R + G + B. A `(3, kh, kw)` RGB kernel is kept for 3 channels
    and summed over its channels for 1, because on a grey input that is
    the same as feeding the grey value to R, G and B.
    """
    if kernel.ndim == 2:
        return np.repeat(kernel[None, None], channels, axis=1)
    if kernel.ndim == 3 and channels == kernel.shape[0]:
        return kernel[None].copy()
    if kernel.ndim == 3 and channels == 1:
        return kernel.sum(axis=0)[None, None]
    raise ValueError(
        f"a kernel of shape {kernel.shape} does not fit an input of "
        f"{channels} channels. Use a 2D kernel or one channel per input channel")


@dataclass(frozen=True)
class PositionDetail:
    """The computation of one output value `Z[f, i, j]`.

    `top` and `left` locate the patch's top-left cell in the padded input.
    """

    top: int
    left: int
    patch: np.ndarray  # (C, kh, kw), cut from the padded input
    products: np.ndarray  # (C, kh, kw), W[f] * patch elementwise
    partial_sums: np.ndarray  # (C,), the sum of each channel's products
    bias: float
    total: float  # partial_sums.sum() + bias, the output value


def position_detail(X: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int,
                    padding: int, f: int, i: int, j: int) -> PositionDetail:
    """Compute output `Z[f, i, j]` of filter `f` term by term.

    `Z[f, i, j] = b[f] + sum_c sum_{u,v} W[f, c, u, v] X_pad[c, i s + u, j s + v]`.
    """
    F, C, kh, kw = W.shape
    if X.shape[0] != C:
        raise ValueError(
            f"the kernel has {C} channels but the input has {X.shape[0]}")
    H_out = conv_output_size(X.shape[1], kh, stride, padding)
    W_out = conv_output_size(X.shape[2], kw, stride, padding)
    if not (0 <= f < F and 0 <= i < H_out and 0 <= j < W_out):
        raise ValueError(
            f"position (f={f}, i={i}, j={j}) is outside the output of "
            f"{F} filters of {H_out}x{W_out}")
    top, left = i * stride, j * stride
    patch = pad_input(X, padding)[:, top:top + kh, left:left + kw]
    products = W[f] * patch
    partial_sums = products.sum(axis=(1, 2))  # (C,)
    bias = float(b[f])
    total = float(partial_sums.sum()) + bias
    return PositionDetail(top, left, patch, products, partial_sums, bias, total)


@dataclass(frozen=True)
class PoolDetail:
    """One window of max pooling and the cell that wins it.

    `top` and `left` locate the window in the pooled map. `winner` is the
    `(row, column)` inside the window of the first maximum in row-major
    order, the cell that receives the window's gradient.
    """

    top: int
    left: int
    window: np.ndarray  # (k, k)
    winner: tuple[int, int]
    value: float


def pool_detail(A: np.ndarray, i: int, j: int, kernel: int = 2,
                stride: int | None = None) -> PoolDetail:
    """Take the maximum of window `(i, j)` of one feature map `A` `(H, W)`."""
    s = kernel if stride is None else stride
    H_out = conv_output_size(A.shape[0], kernel, s, 0)
    W_out = conv_output_size(A.shape[1], kernel, s, 0)
    if not (0 <= i < H_out and 0 <= j < W_out):
        raise ValueError(
            f"window ({i}, {j}) is outside the {H_out}x{W_out} pooled output")
    top, left = i * s, j * s
    window = A[top:top + kernel, left:left + kernel]
    # argmax returns the first maximum of the row-major flattening, the
    # same tie rule as MaxPool2D.
    row, column = divmod(int(window.argmax()), kernel)
    return PoolDetail(top, left, window, (row, column), float(window[row, column]))


def computed_so_far(values: np.ndarray, count: int) -> np.ndarray:
    """Copy an output map `(H_out, W_out)`, keeping its first `count` positions.

    Positions run row by row, as `output_positions` lists them. The later
    cells become NaN, which the figures draw as not computed yet.
    """
    if not 0 <= count <= values.size:
        raise ValueError(
            f"count must be between 0 and {values.size}, the positions of a "
            f"{values.shape} map, got {count}")
    partial = values.astype(float)  # a copy, even when values is float already
    partial.flat[count:] = np.nan
    return partial


@dataclass(frozen=True)
class PoolingSoFar:
    """Max pooling of a map whose first positions alone are computed.

    `pooled` is NaN for each window that still has a cell not computed.
    `windows` maps each complete window's `(row, column)` in `pooled` to its
    detail, row by row.
    """

    pooled: np.ndarray
    windows: dict[tuple[int, int], PoolDetail]


def pooling_so_far(A: np.ndarray, count: int, kernel: int = 2,
                   stride: int | None = None) -> PoolingSoFar:
    """Max-pool the windows of `A` `(H, W)` whose cells are all computed.

    The computed cells are the first `count` positions, row by row. A
    window is complete once its bottom-right cell, the last one of the
    window in row-major order, is among them.
    """
    s = kernel if stride is None else stride
    H, W = A.shape
    pooled = np.full((conv_output_size(H, kernel, s, 0),
                      conv_output_size(W, kernel, s, 0)), np.nan)
    windows = {}
    for r, c in output_positions(H, W, kernel, s, 0):
        last = (r * s + kernel - 1) * W + c * s + kernel - 1
        if last < count:
            detail = pool_detail(A, r, c, kernel, s)
            pooled[r, c] = detail.value
            windows[(r, c)] = detail
    return PoolingSoFar(pooled, windows)


@dataclass(frozen=True)
class WeightGradientTerm:
    """One term `dZ[f, i, j] X_pad[c, row, column]` of a weight's gradient."""

    i: int  # output position whose gradient the term carries
    j: int
    row: int  # i s + u, in padded input coordinates
    column: int  # j s + v
    dz: float
    x: float
    product: float


def weight_gradient_terms(X: np.ndarray, dZ: np.ndarray, stride: int,
                          padding: int, f: int, c: int, u: int,
                          v: int) -> list[WeightGradientTerm]:
    """List the terms of `dW[f, c, u, v]`, one for each output position.

    The weight meets input `X_pad[c, i s + u, j s + v]` at output `(i, j)`,
    so `dW[f, c, u, v] = sum_{i,j} dZ[f, i, j] X_pad[c, i s + u, j s + v]`.
    """
    X_pad = pad_input(X, padding)
    _, H_out, W_out = dZ.shape
    if (H_out - 1) * stride + u >= X_pad.shape[1] or \
            (W_out - 1) * stride + v >= X_pad.shape[2]:
        raise ValueError(
            f"weight offset ({u}, {v}) with stride {stride} reaches outside "
            f"the padded input {X_pad.shape[1:]} for a {H_out}x{W_out} dZ")
    terms = []
    for i in range(H_out):
        for j in range(W_out):
            row, column = i * stride + u, j * stride + v
            dz, x = float(dZ[f, i, j]), float(X_pad[c, row, column])
            terms.append(WeightGradientTerm(i, j, row, column, dz, x, dz * x))
    return terms


@dataclass(frozen=True)
class InputGradientTerm:
    """One term `dZ[f, i, j] W[f, c, u, v]` of an input value's gradient."""

    f: int
    i: int  # output position whose window covers the input value
    j: int
    u: int  # the kernel offset that lies on the input value there
    v: int
    dz: float
    w: float
    product: float


def input_gradient_terms(W: np.ndarray, dZ: np.ndarray, stride: int,
                         padding: int, c: int, row: int,
                         column: int) -> list[InputGradientTerm]:
    """List the terms of `dX[c, row, column]`, one per window that covers it.

    `row` and `column` index the input without padding. Output `(i, j)`
    puts kernel offset `u = row + p - i s`, `v = column + p - j s` on it
    when both lie inside the kernel.
    """
    F, _, kh, kw = W.shape
    _, H_out, W_out = dZ.shape
    terms = []
    for f in range(F):
        for i in range(H_out):
            for j in range(W_out):
                u = row + padding - i * stride
                v = column + padding - j * stride
                if 0 <= u < kh and 0 <= v < kw:
                    dz, w = float(dZ[f, i, j]), float(W[f, c, u, v])
                    terms.append(InputGradientTerm(f, i, j, u, v, dz, w, dz * w))
    return terms


def term_total(terms: list[WeightGradientTerm] | list[InputGradientTerm]) -> float:
    """Add up the products of gradient terms: the gradient they make up."""
    return math.fsum(term.product for term in terms)


def kernel_copy(W: np.ndarray, dZ: np.ndarray, stride: int, padding: int,
                input_size: tuple[int, int], c: int, i: int,
                j: int) -> np.ndarray:
    """Place `sum_f dZ[f, i, j] W[f, c]` on the window of output `(i, j)`.

    Returns the padded grid `(H + 2p, W + 2p)` that is zero outside the
    window. `dX[c]` is the sum of these copies over every output position,
    with the padding cut off.
    """
    _, _, kh, kw = W.shape
    H, W_in = input_size
    copy = np.zeros((H + 2 * padding, W_in + 2 * padding))
    weighted = np.tensordot(dZ[:, i, j], W[:, c], axes=1)  # (kh, kw)
    top, left = i * stride, j * stride
    copy[top:top + kh, left:left + kw] = weighted
    return copy


def photo_grid(rgb: np.ndarray, top: int, left: int, cells: int,
               cell_pixels: int, grey: bool, decimals: int = 2) -> np.ndarray:
    """Cut a square region from a photo and average it down to a small grid.

    The region starts at pixel `(top, left)` of the RGB uint8 photo
    `(H, W, 3)` and is `cells * cell_pixels` pixels wide. Each cell is the
    mean of its `cell_pixels x cell_pixels` block, scaled to [0, 1] and
    rounded to `decimals`, so the numbers on screen are the numbers used.
    Returns `(1, cells, cells)` of luma when `grey`, else `(3, cells, cells)`.
    """
    side = cells * cell_pixels
    height, width = rgb.shape[:2]
    if top < 0 or left < 0 or top + side > height or left + side > width:
        raise ValueError(
            f"a {side}x{side} region at ({top}, {left}) does not fit in the "
            f"{height}x{width} photo")
    region = rgb[top:top + side, left:left + side].astype(float) / 255
    blocks = region.reshape(cells, cell_pixels, cells, cell_pixels, 3)
    grid = blocks.mean(axis=(1, 3))  # (cells, cells, 3)
    if grey:
        grid = (grid @ LUMA)[..., None]  # (cells, cells, 1)
    return np.round(grid.transpose(2, 0, 1), decimals)  # (C, cells, cells)


@dataclass(frozen=True)
class FirstLayerKernels:
    """The 64 kernels of VGG16's first convolution, `conv1_1`.

    `path` is the pretrained weight file they were read from, or None when
    they are He-initialised at random.
    """

    W: np.ndarray  # (64, 3, 3, 3)
    b: np.ndarray  # (64,)
    path: Path | None

    @property
    def pretrained(self) -> bool:
        return self.path is not None


def vgg16_first_kernels(cache_dir: str | Path | None = None,
                        seed: int = 0) -> FirstLayerKernels:
    """Read `conv1_1` from the cached pretrained VGG16 file, if there is one.

    Without the file (see `engine.weights.fetch_weights`), the kernels are
    drawn by `he_weights` with `seed`, the same draw as `conv1_1` of
    `build_vgg("vgg16", seed=seed)`. Reading the file loads and checks all
    553 MB of it, so callers should cache the result.
    """
    spec = layer_specs("vgg16")[0]
    path = cached_weights_path("vgg16", cache_dir)
    if path.exists():
        weights = load_weights(path, "vgg16").weights
    else:
        weights, path = he_weights([spec], seed), None
    W = weights[f"{spec.name}.weight"]
    b = weights[f"{spec.name}.bias"]
    return FirstLayerKernels(W, b, path)
