"""Numerical gradients by central differences, for checking backward passes."""

from collections.abc import Callable

import numpy as np

EPSILON = 1e-6  # the step h of (f(x + h) - f(x - h)) / 2h, in float64


def numerical_gradient(f: Callable[[], float], x: np.ndarray,
                       h: float = EPSILON) -> np.ndarray:
    """Return df/dx by central differences, one element of x at a time.

    `f` takes no arguments and reads `x`, which is changed in place and
    restored, so `x` must be the array `f` actually uses (float64 for the
    error to be about h^2).
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        f_plus = f()
        x[i] = original - h
        f_minus = f()
        x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Return `max |a - n| / max(|a| + |n|)`, 0 when both are all zero."""
    scale = np.max(np.abs(analytic) + np.abs(numeric))
    if scale == 0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric)) / scale)
