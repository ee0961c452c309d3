"""The full gradient check: every layer, activation, loss and optimizer.

`run_checks()` is what `python -m engine gradcheck` prints and what the
tests assert on. Everything runs in float64 on small random inputs.
"""

from collections.abc import Callable

import numpy as np

from engine.conv import Conv2D, Flatten, MaxPool2D
from engine.gradcheck import check_layer, check_loss, check_optimizer_step
from engine.layers import Dense, Identity, ReLU, Sigmoid, Tanh
from engine.losses import BinaryCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy
from engine.network import build_mlp
from engine.optim import Adam, Momentum, SGD

TOLERANCE = 1e-7  # worst relative error accepted, float64 with h = 1e-6


def _random(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def _conv(kernel, stride, padding, F=2, C=3, use_winograd=None):
    return Conv2D(_random(F, C, kernel, kernel, seed=4), _random(F, seed=5),
                  stride, padding, use_winograd=use_winograd)


def _layer_cases() -> dict[str, Callable[[], tuple]]:
    # ReLU's input is shifted away from its kink at 0, where it has no
    # derivative for central differences to find.
    return {
        "dense": lambda: (Dense(_random(3, 4, seed=2), _random(3, seed=3)),
                          _random(5, 4)),
        "relu": lambda: (ReLU(), _random(4, 6) + 0.05),
        "sigmoid": lambda: (Sigmoid(), _random(4, 6) * 3),
        "tanh": lambda: (Tanh(), _random(4, 6) * 3),
        "identity": lambda: (Identity(), _random(4, 6)),
        "conv 3x3 s1 p1": lambda: (_conv(3, 1, 1), _random(2, 3, 5, 5)),
        "conv 3x3 s1 p0": lambda: (_conv(3, 1, 0), _random(1, 3, 6, 5)),
        "conv 3x3 s1 p3": lambda: (_conv(3, 1, 3), _random(1, 3, 4, 4)),
        "conv 3x3 s1 p1, 3 to 4 channels": lambda: (
            _conv(3, 1, 1, F=4), _random(1, 3, 5, 5)),
        "conv 3x3 s1 p1, Winograd": lambda: (
            _conv(3, 1, 1, F=4, use_winograd=True), _random(2, 3, 4, 6)),
        "conv 3x3 s1 p0, Winograd": lambda: (
            _conv(3, 1, 0, use_winograd=True), _random(1, 3, 6, 4)),
        "conv 3x3 s2 p0": lambda: (_conv(3, 2, 0), _random(2, 3, 6, 6)),
        "conv 3x3 s2 p1, 5 to 6 channels": lambda: (
            _conv(3, 2, 1, F=6, C=5), _random(1, 5, 5, 6)),
        "conv 2x2 s2 p1": lambda: (_conv(2, 2, 1), _random(1, 3, 5, 7)),
        "conv 4x4 s3 p2": lambda: (_conv(4, 3, 2), _random(1, 3, 7, 6)),
        "maxpool 2x2": lambda: (MaxPool2D(2), _random(2, 3, 4, 6)),
        "maxpool 2x2 odd": lambda: (MaxPool2D(2), _random(1, 2, 5, 5)),
        "maxpool 3x3 s2": lambda: (MaxPool2D(3, 2), _random(1, 2, 7, 7)),
        "flatten": lambda: (Flatten("flatten"), _random(2, 3, 2, 2)),
    }


def _loss_cases() -> dict[str, Callable[[], float]]:
    bce_A = np.linspace(0.1, 0.9, 6).reshape(3, 2)
    bce_Y = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return {
        "mse": lambda: check_loss(MeanSquaredError(), _random(4, 2),
                                  _random(4, 2, seed=7)),
        "bce": lambda: check_loss(BinaryCrossEntropy(), bce_A, bce_Y),
        "softmax cross-entropy": lambda: check_loss(
            SoftmaxCrossEntropy(), _random(5, 4) * 3, np.array([0, 3, 1, 1, 2])),
    }


def _optimizer_cases() -> dict[str, Callable[[], float]]:
    X, Y = _random(6, 2), (_random(6, 1, seed=9) > 0).astype(float)

    def check(optimizer):
        network = build_mlp([2, 4, 1], "tanh", "sigmoid", seed=0)
        return check_optimizer_step(network, BinaryCrossEntropy(), optimizer,
                                    X, Y)

    return {"sgd step": lambda: check(SGD(0.1)),
            "momentum step": lambda: check(Momentum(0.1)),
            "adam step": lambda: check(Adam(0.01))}


def _all_cases() -> dict[str, Callable[[], float]]:
    cases: dict[str, Callable[[], float]] = {}
    for name, make in _layer_cases().items():
        cases[name] = lambda make=make: max(check_layer(*make()).values())
    cases.update(_loss_cases())
    cases.update(_optimizer_cases())
    return cases


CHECK_NAMES = list(_all_cases())


def run_check(name: str) -> float:
    """Return the worst relative error of the check called `name`."""
    return _all_cases()[name]()


def run_checks() -> list[tuple[str, float]]:
    """Return `(name, worst relative error)` for every check, in order."""
    return [(name, check()) for name, check in _all_cases().items()]
