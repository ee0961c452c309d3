"""2D convolution, max pooling and flatten over `(N, C, H, W)` arrays.

The convolution works in a channels-last layout inside: for a block of
output rows at a time, it gathers the input patches into a buffer ordered
`(N, rows, W_out, kh, kw, C)` with one contiguous copy per kernel offset,
then does one matrix product. Its output is an `(N, C, H, W)` view of
channels-last memory, so the next convolution gets its channels-last input
without a copy.
"""

import numpy as np

from engine import winograd
from engine.blocks import blocks, scratch_array
from engine.layers import Layer
from engine.steps import record


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Return `floor((size + 2 padding - kernel) / stride) + 1`.

    When the stride does not divide `size + 2 padding - kernel`, the last
    rows or columns of the input are never covered by a window.
    """
    span = size + 2 * padding - kernel
    if span < 0:
        raise ValueError(
            f"kernel {kernel} is larger than the padded input "
            f"{size} + 2 * {padding}")
    return span // stride + 1


# Patches are gathered a block of output positions at a time into one
# buffer per thread, reused from call to call. Blocks of about 8 MB were the
# fastest on 2 AVX-512 cores, likely because a block stays in cache between
# the copy and the matrix product. Gathering all of conv1_2's patches at
# once (116 MB) took longer than its matrix product.
BLOCK_BYTES = 8 * 2**20


def _row_blocks(N: int, H_out: int, row_bytes: int):
    """Return the blocks `(n0, n1, h0, h1)` of about BLOCK_BYTES of patches,
    `row_bytes` being the patches of one output row."""
    return blocks(N, H_out, BLOCK_BYTES // row_bytes)


def _valid(first: int, count: int, stride: int, offset: int,
           size: int) -> tuple[int, int]:
    """Return `[lo, hi)`: the outputs `t` in `[0, count)` whose input
    index `(first + t) * stride + offset` falls inside `[0, size)`.

    The others read the zero padding.
    """
    lo = max(0, -(offset // stride) - first)
    hi = min(count, (size - 1 - offset) // stride + 1 - first)
    return lo, max(lo, hi)


def _every(start: int, count: int, step: int) -> slice:
    """Return the slice of `count` indices from `start`, `step` apart."""
    if count == 0:
        return slice(0, 0)  # a negative stop would wrap around
    return slice(start, start + step * (count - 1) + 1, step)


def _patch_windows(X_shape, cols_shape, h0, stride, padding):
    """Yield, for each kernel offset `(i, j)`, the block of the patch
    buffer it fills and the matching input region, skipping padding.

    X_shape is `(N, H, W, C)` and cols_shape `(N, rows, W_out, kh, kw, C)`
    for output rows `h0` to `h0 + rows`. Yields `(i, j, rows, cols, src)`,
    where `rows` and `cols` are slices of the buffer's row and column axes
    and `src` the index of the input that fills them.
    """
    _, H, W, _ = X_shape
    _, n_rows, W_out, kh, kw, _ = cols_shape
    s = stride
    for i in range(kh):
        r_lo, r_hi = _valid(h0, n_rows, s, i - padding, H)
        r0 = (h0 + r_lo) * s + i - padding
        for j in range(kw):
            c_lo, c_hi = _valid(0, W_out, s, j - padding, W)
            c0 = c_lo * s + j - padding
            src = (slice(None), _every(r0, r_hi - r_lo, s),
                   _every(c0, c_hi - c_lo, s))
            yield i, j, slice(r_lo, r_hi), slice(c_lo, c_hi), src


def _fill_patches(X_nhwc: np.ndarray, cols: np.ndarray, h0: int,
                  stride: int, padding: int) -> None:
    """Fill `cols` `(N, rows, W_out, kh, kw, C)` with the patches of output
    rows `h0` to `h0 + rows`, one contiguous copy per kernel offset."""
    windows = _patch_windows(X_nhwc.shape, cols.shape, h0, stride, padding)
    for i, j, rows, cs, src in windows:
        target = cols[:, :, :, i, j, :]
        _zero_outside(target, rows, cs)
        target[:, rows, cs] = X_nhwc[src]


def _zero_outside(target: np.ndarray, rows: slice, cs: slice) -> None:
    """Zero what lies outside `target[:, rows, cs]`: the padding."""
    n_rows, n_cols = target.shape[1:3]
    if rows.start > 0:
        target[:, :rows.start] = 0
    if rows.stop < n_rows:
        target[:, rows.stop:] = 0
    if cs.start > 0:
        target[:, rows, :cs.start] = 0
    if cs.stop < n_cols:
        target[:, rows, cs.stop:] = 0


def _add_patches(dcols: np.ndarray, dX_nhwc: np.ndarray, h0: int,
                 stride: int, padding: int) -> None:
    """Add each patch gradient of `dcols` onto `dX_nhwc`: the adjoint of
    `_fill_patches`. Gradients that fall on the padding are dropped."""
    windows = _patch_windows(dX_nhwc.shape, dcols.shape, h0, stride, padding)
    for i, j, rows, cs, src in windows:
        dX_nhwc[src] += dcols[:, rows, cs, i, j, :]


def im2col(X: np.ndarray, kh: int, kw: int, stride: int,
           padding: int) -> np.ndarray:
    """Gather the input patches of a convolution into one buffer.

    X: `(N, C, H, W)`. Returns `(N, H_out, W_out, kh, kw, C)`, where
    `[n, i, j]` is the patch whose top-left corner is at `(i s, j s)` of the
    padded input.
    """
    N, C, H, W = X.shape
    H_out = conv_output_size(H, kh, stride, padding)
    W_out = conv_output_size(W, kw, stride, padding)
    cols = np.empty((N, H_out, W_out, kh, kw, C), dtype=X.dtype)
    _fill_patches(X.transpose(0, 2, 3, 1), cols, 0, stride, padding)
    return cols


def col2im(dcols: np.ndarray, input_shape: tuple[int, int, int, int],
           stride: int, padding: int) -> np.ndarray:
    """Scatter-add patch gradients back onto the input: the adjoint of im2col.

    dcols: `(N, H_out, W_out, kh, kw, C)`. Returns `(N, C, H, W)`. A pixel
    covered by several windows receives the sum of their gradients.
    """
    N, C, H, W = input_shape
    dX = np.zeros((N, H, W, C), dtype=dcols.dtype)
    _add_patches(dcols, dX, 0, stride, padding)
    return dX.transpose(0, 3, 1, 2)


def _patch_blocks(X_nhwc: np.ndarray, kh: int, kw: int, stride: int,
                  padding: int):
    """Yield `(n0, n1, h0, h1, cols)` for each block of output rows.

    X_nhwc is `(N, H, W, C)`, and `cols` is `(n1 - n0, h1 - h0, W_out, kh, kw, C)`
    on the thread's scratch buffer, valid until the next block.
    """
    N, H, W, C = X_nhwc.shape
    H_out = conv_output_size(H, kh, stride, padding)
    W_out = conv_output_size(W, kw, stride, padding)
    row_bytes = W_out * kh * kw * C * X_nhwc.itemsize
    for n0, n1, h0, h1 in _row_blocks(N, H_out, row_bytes):
        shape = (n1 - n0, h1 - h0, W_out, kh, kw, C)
        cols = scratch_array(shape, X_nhwc.dtype)
        _fill_patches(X_nhwc[n0:n1], cols, h0, stride, padding)
        yield n0, n1, h0, h1, cols


def _correlate(X_nhwc: np.ndarray, W_mat: np.ndarray, kh: int, kw: int,
               stride: int, padding: int,
               b: np.ndarray | None = None) -> np.ndarray:
    """Return the cross-correlation of X_nhwc `(N, H, W, C)` with the
    kernels of W_mat `(F, kh*kw*C)`, plus b, as `(N, H_out, W_out, F)`."""
    N, H, W, _ = X_nhwc.shape
    F = W_mat.shape[0]
    H_out = conv_output_size(H, kh, stride, padding)
    W_out = conv_output_size(W, kw, stride, padding)
    Z = np.empty((N, H_out, W_out, F), np.result_type(X_nhwc, W_mat))
    for n0, n1, h0, h1, cols in _patch_blocks(X_nhwc, kh, kw, stride,
                                              padding):
        Z_block = Z[n0:n1, h0:h1].reshape(-1, F)  # a view
        np.dot(cols.reshape(len(Z_block), -1), W_mat.T, out=Z_block)
        if b is not None:
            Z_block += b  # while the block is still in the cache
    return Z


def _matrix(W: np.ndarray) -> np.ndarray:
    """Return W `(F, C, kh, kw)` as `(F, kh*kw*C)`, in the order of the
    patch buffer."""
    return W.transpose(0, 2, 3, 1).reshape(W.shape[0], -1)


def _flipped_matrix(W: np.ndarray) -> np.ndarray:
    """Return the `(C, kh*kw*F)` matrix of the kernels of W turned 180
    degrees, with input and output channels swapped."""
    return _matrix(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


# Inputs with at most this many channels (grey, RGB, RGBA images) get
# their gradient a channel plane at a time. In VGG16 and Tiny VGG only the
# first layer has so few, and its input gradient never reaches a weight,
# so this order of sums leaves trained weights unchanged bit for bit.
PLANE_MAX_CHANNELS = 4

KERNEL_FORMS = {"matrix": _matrix, "flipped matrix": _flipped_matrix,
                "winograd": winograd.kernel_transform}


class Conv2D(Layer):
    """2D convolution (cross-correlation, as in PyTorch), any kernel size.

    Shapes: `W` is `(F, C, kh, kw)`, `b` is `(F,)`; input `(N, C, H, W)`,
    output `(N, F, H_out, W_out)` with
    `H_out = floor((H + 2 padding - kh) / stride) + 1`, and likewise W_out.
    Patches are gathered a block of output rows at a time, never all at
    once. So dW gathers them a second time instead of keeping kh*kw copies
    of the input. 3x3 kernels of stride 1 with many channels take
    Winograd's form instead (engine/winograd.py), for Z and for dX.
    """

    keeps_output = False  # Z is a new array, and the cache keeps only X

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1,
                 padding: int = 0, name: str = "conv",
                 index: int | None = None,
                 use_winograd: bool | None = None):
        super().__init__(name, index)
        if W.ndim != 4 or b.shape != (W.shape[0],):
            raise ValueError(
                f"{name}: W must be (F, C, kh, kw) and b (F,), "
                f"got W {W.shape} and b {b.shape}")
        if stride < 1 or padding < 0:
            raise ValueError(
                f"{name}: stride must be >= 1 and padding >= 0, "
                f"got stride {stride} and padding {padding}")
        self.params = {"W": W, "b": b}
        self.stride, self.padding = stride, padding
        # None takes Winograd's form where it fits and pays, True wherever
        # it fits (so tests can check it on few channels), False never.
        self.use_winograd = use_winograd
        # Training never uses the gradient of a first layer's input data, but
        # saliency maps need it, so it is on by default.
        self.input_grad = True

    def output_shape(self, input_shape):
        N, _, H, W = input_shape
        F, _, kh, kw = self.params["W"].shape
        s, p = self.stride, self.padding
        return (N, F, conv_output_size(H, kh, s, p),
                conv_output_size(W, kw, s, p))

    def forward(self, X, steps=None):
        W, b = self.params["W"], self.params["b"]
        F, C, kh, kw = W.shape
        if X.ndim != 4 or X.shape[1] != C:
            raise ValueError(
                f"{self.name}: expected input (N, {C}, H, W), got {X.shape}")
        self.input_shape = X.shape
        if self.param_grads:
            self.X = X
        X_nhwc = X.transpose(0, 2, 3, 1)  # (N, H, W, C), a view
        output_size = self.output_shape(X.shape)[2:]
        if self._uses_winograd(W.shape, self.padding, output_size):
            Z = winograd.correlate(X_nhwc, self._kernels("winograd"),
                                   self.padding, b)
        else:
            Z = _correlate(X_nhwc, self._kernels("matrix"), kh, kw,
                           self.stride, self.padding, b)
        Z = Z.transpose(0, 3, 1, 2)  # (N, F, H, W), a view
        record(steps, self.name, "conv", r"Z = W * X + b",
               {"X": X, "W": W, "b": b}, {"Z": Z}, self.index)
        return Z

    def backward(self, dZ, steps=None):
        W = self.params["W"]
        F, C, kh, kw = W.shape
        dZ_nhwc = dZ.transpose(0, 2, 3, 1)  # (N, H, W, F)
        if self.param_grads:
            self._parameter_gradients(dZ_nhwc, steps)
        if not self.input_grad:
            return None

        # With stride 1, dX is dZ padded by kh - 1 - p and correlated with
        # the kernels turned 180 degrees, channels swapped.
        p = self.padding
        input_size = self.input_shape[2:]
        flippable = self.stride == 1 and kh == kw and p < kh
        if flippable and self._uses_winograd((C, F, kh, kw), kh - 1 - p,
                                             input_size):
            dX = winograd.correlate(dZ_nhwc, self._kernels("winograd"),
                                    kh - 1 - p, flipped=True)
        elif flippable and F <= C:
            # The flipped patches contain F channels where scattered ones
            # contain C, so this is the faster way when F <= C.
            dX = _correlate(dZ_nhwc, self._kernels("flipped matrix"),
                            kh, kw, 1, kh - 1 - p)
        elif C <= PLANE_MAX_CHANNELS:
            dX = self._plane_input_gradient(dZ_nhwc)  # (N, H, W, C) view
        else:
            dX = self._scatter_input_gradient(dZ_nhwc)
        dX = dX.transpose(0, 3, 1, 2)  # (N, C, H, W), a view
        record(steps, self.name, "dA_prev", r"dX = W *^T dZ",
               {"dZ": dZ, "W": W}, {"dA_prev": dX}, self.index)
        return dX

    def _uses_winograd(self, kernel_shape, padding, output_size) -> bool:
        """Return whether a correlation with this layer's stride takes
        Winograd's form, as `self.use_winograd` sets."""
        if self.use_winograd is False or not winograd.fits(
                kernel_shape, self.stride, padding, output_size):
            return False
        return self.use_winograd or winograd.pays(kernel_shape)

    def _scatter_input_gradient(self, dZ_nhwc: np.ndarray) -> np.ndarray:
        """Return dX `(N, H, W, C)` by adding each patch gradient
        `dZ W_mat` onto the input pixels it came from."""
        F, C, kh, kw = self.params["W"].shape
        W_mat = self._kernels("matrix")  # (F, kh*kw*C)
        N, _, H, W = self.input_shape
        dX = np.zeros((N, H, W, C), np.result_type(dZ_nhwc, W_mat))
        row_bytes = dZ_nhwc.shape[2] * kh * kw * C * dX.itemsize
        for n0, n1, h0, h1 in _row_blocks(N, dZ_nhwc.shape[1], row_bytes):
            dZ_block = dZ_nhwc[n0:n1, h0:h1]
            shape = (*dZ_block.shape[:3], kh, kw, C)
            dcols = scratch_array(shape, dX.dtype)
            np.dot(dZ_block.reshape(-1, F), W_mat,
                   out=dcols.reshape(-1, kh * kw * C))
            _add_patches(dcols, dX[n0:n1], h0, self.stride, self.padding)
        return dX

    def _plane_input_gradient(self, dZ_nhwc: np.ndarray) -> np.ndarray:
        """Add each patch gradient onto the input a channel plane at a
        time, and return dX as an `(N, H, W, C)` view of `(N, C, H, W)`.

        With few channels, a pixel's gradients are too short to add fast
        channels-last, while each plane adds whole rows at once.
        """
        F, C, kh, kw = self.params["W"].shape
        N, _, H, W = self.input_shape
        W_mat = self.params["W"].reshape(F, C * kh * kw)
        dX = np.zeros((N, C, H, W), np.result_type(dZ_nhwc, W_mat))
        _, H_out, W_out, _ = dZ_nhwc.shape
        row_bytes = W_out * kh * kw * C * dX.itemsize
        for n0, n1, h0, h1 in _row_blocks(N, H_out, row_bytes):
            dZ_block = dZ_nhwc[n0:n1, h0:h1]
            shape = (C, kh, kw, n1 - n0, h1 - h0, W_out)
            dplanes = scratch_array(shape, dX.dtype)
            np.dot(W_mat.T, dZ_block.reshape(-1, F).T,
                   out=dplanes.reshape(C * kh * kw, -1))
            cols_shape = (1, h1 - h0, W_out, kh, kw, C)
            windows = _patch_windows((1, H, W, C), cols_shape, h0,
                                     self.stride, self.padding)
            for i, j, rows, cols, src in windows:
                dplane = dplanes[:, i, j, :, rows, cols]  # (C, n, h, w)
                dX[n0:n1, :, src[1], src[2]] += dplane.transpose(1, 0, 2, 3)
        return dX.transpose(0, 2, 3, 1)

    def _kernels(self, form: str) -> np.ndarray:
        """Return W in one of the forms of KERNEL_FORMS.

        Read-only weights, such as pretrained ones shared by every session,
        cannot change, so their forms are made once and kept.
        """
        W = self.params["W"]
        cached = self.__dict__.get("_forms")
        if cached is None or cached[0] is not W:
            cached = (W, {})
            if not W.flags.writeable:
                self._forms = cached
        if form not in cached[1]:
            cached[1][form] = KERNEL_FORMS[form](W)
        return cached[1][form]

    def _parameter_gradients(self, dZ_nhwc: np.ndarray, steps) -> None:
        """Store dW and db. dZ_nhwc is `(N, H_out, W_out, F)`."""
        F, C, kh, kw = self.params["W"].shape
        dW_mat = np.zeros((F, kh * kw * C), np.result_type(dZ_nhwc, self.X))
        patch_blocks = _patch_blocks(self.X.transpose(0, 2, 3, 1), kh, kw,
                                     self.stride, self.padding)
        for n0, n1, h0, h1, cols in patch_blocks:
            dZ_block = dZ_nhwc[n0:n1, h0:h1].reshape(-1, F)
            dW_mat += dZ_block.T @ cols.reshape(len(dZ_block), -1)
        dW = dW_mat.reshape(F, kh, kw, C).transpose(0, 3, 1, 2)
        dZ_mat = dZ_nhwc.reshape(-1, F)
        db = np.ones(len(dZ_mat), dZ_mat.dtype) @ dZ_mat
        self.grads = {"W": dW, "b": db}
        record(steps, self.name, "dW", r"dW = \sum_{positions} dZ \cdot X",
               {"X": self.X}, {"dW": dW}, self.index)
        record(steps, self.name, "db", r"db = \sum dZ", {}, {"db": db},
               self.index)


class MaxPool2D(Layer):
    """Max pooling over `k x k` windows (default 2x2, stride 2).

    Input `(N, C, H, W)`, output `(N, C, floor((H - k) / s) + 1, ...)`; an
    odd last row or column is dropped. The backward pass routes each
    window's gradient to one input: the first maximum in row-major order.
    """

    def __init__(self, kernel: int = 2, stride: int | None = None,
                 name: str = "pool", index: int | None = None):
        super().__init__(name, index)
        self.kernel = kernel
        self.stride = kernel if stride is None else stride

    def output_shape(self, input_shape):
        N, C, H, W = input_shape
        k, s = self.kernel, self.stride
        return (N, C, conv_output_size(H, k, s, 0),
                conv_output_size(W, k, s, 0))

    def forward(self, X, steps=None):
        k = self.kernel
        if X.ndim != 4:
            raise ValueError(
                f"{self.name}: expected input (N, C, H, W), got {X.shape}")
        _, _, H_out, W_out = self.output_shape(X.shape)
        # The maximum of k*k strided views: one pass over the output per
        # window offset, and no copy of the windows.
        A = None
        for view in self._window_views(X, H_out, W_out):
            A = view.copy(order="K") if A is None else np.maximum(A, view, out=A)
        self.X, self.A = X, A
        record(steps, self.name, "maxpool",
               rf"A = \max_{{{k}\times{k}}} A_{{prev}}",
               {"X": X}, {"A": A}, self.index)
        return A

    def _window_views(self, X, H_out, W_out):
        """Yield, in row-major order of the window offset, the strided view
        of X holding that element of every window, each `(N, C, H_out, W_out)`."""
        k, s = self.kernel, self.stride
        for i in range(k):
            for j in range(k):
                yield X[:, :, i:i + s * H_out:s, j:j + s * W_out:s]

    def backward(self, dA, steps=None):
        _, _, H, W = self.X.shape
        _, _, H_out, W_out = dA.shape
        k = self.kernel
        # dX and dA take the memory layout of X and A, channels-last in VGG,
        # so that the elementwise steps here and below stay fast.
        if dA.strides != self.A.strides:
            dA_in_layout = np.empty_like(self.A, dtype=dA.dtype)
            dA_in_layout[...] = dA
            dA = dA_in_layout
        if self.stride == k and H % k == 0 and W % k == 0:
            # The windows tile X exactly, so the loop writes every input.
            dX = np.empty_like(self.X, dtype=dA.dtype)
        else:
            dX = np.zeros_like(self.X, dtype=dA.dtype)
        offsets = list(zip(self._window_views(self.X, H_out, W_out),
                           self._window_views(dX, H_out, W_out)))
        # Each window passes its gradient to its first maximum in row-major
        # order, and `served` marks the windows already served.
        served = np.empty_like(self.A, dtype=bool)
        winner = np.empty_like(served)
        for k, (view, dX_view) in enumerate(offsets):
            mask = winner
            if k == 0:
                np.equal(view, self.A, out=served)
                mask = served
            elif k < len(offsets) - 1:
                np.equal(view, self.A, out=winner)
                np.greater(winner, served, out=winner)  # winner and not served
                served |= winner
            else:
                # The maximum of a window no earlier offset served is here.
                # NOTE: so is the gradient of a window whose maximum is NaN.
                np.logical_not(served, out=winner)
            if self.stride >= self.kernel:
                # Windows do not overlap: each input gets one value at most.
                np.multiply(dA, mask, out=dX_view)
            else:
                dX_view += dA * mask
        record(steps, self.name, "dA_prev",
               r"dA_{prev} = dA \text{ at each window's maximum, else } 0",
               {"dA": dA}, {"dA_prev": dX}, self.index)
        return dX


class Flatten(Layer):
    """`(N, C, H, W)` to `(N, C H W)` in C order, as `torch.flatten` does."""

    def output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:])))

    def forward(self, X, steps=None):
        self.input_shape = X.shape
        out = X.reshape(X.shape[0], -1)
        record(steps, self.name, "flatten", r"a = \mathrm{vec}(A_{prev})",
               {"X": X}, {"A": out}, self.index)
        return out

    def backward(self, dA, steps=None):
        return dA.reshape(self.input_shape)
