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


def check_layer(layer, X: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Return the relative error of dX and of every parameter gradient.

    The scalar checked is `sum(out * G)` for a fixed random `G`, whose
    gradient with respect to the layer's output is `G` itself.
    """
    rng = np.random.default_rng(seed)
    G = rng.standard_normal(layer.forward(X).shape)

    def f() -> float:
        return float(np.sum(layer.forward(X) * G))

    layer.forward(X)
    dX = layer.backward(G)
    errors = {"X": relative_error(dX, numerical_gradient(f, X))}
    for key in layer.params:
        numeric = numerical_gradient(f, layer.params[key])
        errors[key] = relative_error(layer.grads[key], numeric)
    return errors


def check_loss(loss, A: np.ndarray, Y: np.ndarray) -> float:
    """Return the relative error of the loss's dA against central differences."""
    loss.forward(A, Y)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(A, Y), A)
    return relative_error(analytic, numeric)


def check_optimizer_step(network, loss, optimizer, X: np.ndarray,
                         Y: np.ndarray, h: float = EPSILON) -> float:
    """Check that an optimizer's step moves the cost as its gradients predict.

    For the update `u` the optimizer applies, the directional derivative
    `grad J . u` from the backward pass is compared with the central
    difference `(J(p + h u) - J(p - h u)) / 2h`. The network is left with
    its original parameters.
    """
    def cost() -> float:
        return loss.forward(network.forward(X), Y)

    cost()
    network.backward(loss.backward())
    before = [layer.params[key].copy() for layer, key in network.parameters()]
    grads = [layer.grads[key].copy() for layer, key in network.parameters()]
    optimizer.step(network)
    updates = [b - layer.params[key] for (layer, key), b
               in zip(network.parameters(), before)]
    analytic = sum(float(np.sum(g * u)) for g, u in zip(grads, updates))

    def shifted_cost(sign: float) -> float:
        for (layer, key), b, u in zip(network.parameters(), before, updates):
            layer.params[key][...] = b + sign * h * u
        return cost()

    numeric = (shifted_cost(1) - shifted_cost(-1)) / (2 * h)
    for (layer, key), b in zip(network.parameters(), before):
        layer.params[key][...] = b
    return relative_error(np.array(analytic), np.array(numeric))
