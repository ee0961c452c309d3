"""Slow, plainly correct loop versions of the fast kernels, for tests."""

import numpy as np


def conv_forward_loops(X, W, b, stride, padding):
    """Cross-correlate X `(N, C, H, W)` with W `(F, C, kh, kw)`, one output
    element at a time."""
    N, C, H, W_in = X.shape
    F, _, kh, kw = W.shape
    p = padding
    Xp = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p)))
    H_out = (H + 2 * p - kh) // stride + 1
    W_out = (W_in + 2 * p - kw) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    r, c = i * stride, j * stride
                    patch = Xp[n, :, r:r + kh, c:c + kw]
                    out[n, f, i, j] = np.sum(patch * W[f]) + b[f]
    return out


def maxpool_loops(X, k, stride):
    """Max pool X `(N, C, H, W)`; returns the output and, per window, the
    row-major position of its first maximum."""
    N, C, H, W = X.shape
    H_out, W_out = (H - k) // stride + 1, (W - k) // stride + 1
    out = np.zeros((N, C, H_out, W_out))
    dX_ones = np.zeros_like(X)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    r, s = i * stride, j * stride
                    window = X[n, c, r:r + k, s:s + k]
                    out[n, c, i, j] = window.max()
                    a, b = divmod(int(np.argmax(window)), k)
                    dX_ones[n, c, r + a, s + b] += 1
    return out, dX_ones
