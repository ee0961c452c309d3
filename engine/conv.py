"""2D convolution, max pooling and flatten over `(N, C, H, W)` arrays.

The convolution works in a channels-last layout inside: it gathers every
input patch into one buffer ordered `(N, H_out, W_out, kh, kw, C)` with one
contiguous copy per kernel offset, then does a single matrix product. Its
output is an `(N, C, H, W)` view of channels-last memory, so the next
convolution gets its channels-last input without a copy.
"""

import numpy as np

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
    X_nhwc = X.transpose(0, 2, 3, 1)  # (N, H, W, C), a view
    if padding:
        p = padding
        X_nhwc = np.pad(X_nhwc, ((0, 0), (p, p), (p, p), (0, 0)))
    cols = np.empty((N, H_out, W_out, kh, kw, C), dtype=X.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = X_nhwc[
                :, i:i + stride * H_out:stride, j:j + stride * W_out:stride]
    return cols


def col2im(dcols: np.ndarray, input_shape: tuple[int, int, int, int],
           stride: int, padding: int) -> np.ndarray:
    """Scatter-add patch gradients back onto the input: the adjoint of im2col.

    dcols: `(N, H_out, W_out, kh, kw, C)`. Returns `(N, C, H, W)`. A pixel
    covered by several windows receives the sum of their gradients.
    """
    N, C, H, W = input_shape
    _, H_out, W_out, kh, kw, _ = dcols.shape
    p = padding
    dX = np.zeros((N, H + 2 * p, W + 2 * p, C), dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dX[:, i:i + stride * H_out:stride,
               j:j + stride * W_out:stride] += dcols[:, :, :, i, j, :]
    dX = dX[:, p:p + H, p:p + W]  # drop the padding
    return dX.transpose(0, 3, 1, 2)  # (N, C, H, W)


class Conv2D(Layer):
    """2D convolution (cross-correlation, as in PyTorch), any kernel size.

    Shapes: `W` is `(F, C, kh, kw)`, `b` is `(F,)`; input `(N, C, H, W)`,
    output `(N, F, H_out, W_out)` with
    `H_out = floor((H + 2 padding - kh) / stride) + 1`, and likewise W_out.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1,
                 padding: int = 0, name: str = "conv",
                 index: int | None = None):
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
        cols = im2col(X, kh, kw, self.stride, self.padding)
        if self.param_grads:
            # dW needs the patches again; keeping them costs kh*kw times
            # the input's memory and saves rebuilding them.
            self.X, self.cols = X, cols
        N, H_out, W_out = cols.shape[:3]
        W_mat = self._weight_matrix()  # (F, kh*kw*C)
        Z = np.dot(cols.reshape(N * H_out * W_out, -1), W_mat.T)  # (NHW, F)
        Z += b
        Z = Z.reshape(N, H_out, W_out, F).transpose(0, 3, 1, 2)  # (N, F, H, W)
        record(steps, self.name, "conv", r"Z = W * X + b",
               {"X": X, "W": W, "b": b}, {"Z": Z}, self.index)
        return Z

    def backward(self, dZ, steps=None):
        W = self.params["W"]
        F, C, kh, kw = W.shape
        N, _, H_out, W_out = dZ.shape
        dZ_mat = dZ.transpose(0, 2, 3, 1).reshape(-1, F)  # (NHW, F)
        if self.param_grads:
            self._parameter_gradients(dZ_mat, steps)
        if not self.input_grad:
            return None

        W_mat = self._weight_matrix()  # (F, kh*kw*C)
        dcols = np.dot(dZ_mat, W_mat).reshape(N, H_out, W_out, kh, kw, C)
        dX = col2im(dcols, self.input_shape, self.stride, self.padding)
        record(steps, self.name, "dA_prev", r"dX = W *^T dZ",
               {"dZ": dZ, "W": W}, {"dA_prev": dX}, self.index)
        return dX

    def _weight_matrix(self) -> np.ndarray:
        """Return W as `(F, kh*kw*C)`, in the order of the patch buffer.

        Read-only weights, such as pretrained ones shared by every session,
        cannot change, so their reordered copy is made once and kept.
        """
        W = self.params["W"]
        cached = self.__dict__.get("_W_mat")
        if cached is not None and cached[0] is W:
            return cached[1]
        W_mat = W.transpose(0, 2, 3, 1).reshape(W.shape[0], -1)
        if not W.flags.writeable:
            self._W_mat = (W, W_mat)
        return W_mat

    def _parameter_gradients(self, dZ_mat: np.ndarray, steps) -> None:
        """Store dW and db; dZ_mat is `(N H_out W_out, F)`."""
        F, C, kh, kw = self.params["W"].shape
        cols = self.cols.reshape(len(dZ_mat), -1)  # (NHW, kh*kw*C)
        dW = (dZ_mat.T @ cols).reshape(F, kh, kw, C).transpose(0, 3, 1, 2)
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
        _, _, H_out, W_out = dA.shape
        dX = np.zeros(self.X.shape, dtype=dA.dtype)
        dX_views = self._window_views(dX, H_out, W_out)
        # Each window passes its gradient to its first maximum in row-major
        # order; `routed` marks the windows already served.
        routed = np.zeros(dA.shape, dtype=bool)
        for view, dX_view in zip(self._window_views(self.X, H_out, W_out),
                                 dX_views):
            winner = (view == self.A) & ~routed
            dX_view += np.where(winner, dA, 0)
            routed |= winner
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
