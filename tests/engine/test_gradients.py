"""Every layer and loss against central differences in float64."""

import numpy as np
import pytest

from engine.conv import Conv2D, Flatten, MaxPool2D
from engine.gradcheck import numerical_gradient, relative_error
from engine.layers import Dense, Identity, ReLU, Sigmoid, Tanh
from engine.losses import BinaryCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy

TOLERANCE = 1e-7  # worst relative error accepted, float64 with h = 1e-6


def check_layer(layer, X, seed=0):
    """Return the worst relative error over dX and every parameter gradient.

    The scalar checked is `sum(out * G)` for a fixed random `G`, whose
    gradient with respect to the output is `G` itself.
    """
    rng = np.random.default_rng(seed)
    G = rng.standard_normal(layer.forward(X).shape)

    def f():
        return float(np.sum(layer.forward(X) * G))

    layer.forward(X)
    dX = layer.backward(G)
    errors = {"X": relative_error(dX, numerical_gradient(f, X))}
    for key in layer.params:
        analytic = layer.grads[key]
        errors[key] = relative_error(analytic,
                                     numerical_gradient(f, layer.params[key]))
    return errors


def random(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def dense():
    return Dense(random(3, 4, seed=2), random(3, seed=3))


def conv(stride, padding, kernel=3):
    return Conv2D(random(2, 3, kernel, kernel, seed=4), random(2, seed=5),
                  stride=stride, padding=padding)


@pytest.mark.parametrize("make_layer, X", [
    (dense, random(5, 4)),
    (ReLU, random(4, 6) + 0.05),  # away from the kink at 0
    (Sigmoid, random(4, 6) * 3),
    (Tanh, random(4, 6) * 3),
    (Identity, random(4, 6)),
    (lambda: conv(1, 1), random(2, 3, 5, 5)),
    (lambda: conv(2, 0), random(2, 3, 6, 6)),
    (lambda: conv(2, 1, kernel=2), random(1, 3, 5, 7)),
    (lambda: conv(3, 2, kernel=4), random(1, 3, 7, 6)),
    (lambda: MaxPool2D(2), random(2, 3, 4, 6)),
    (lambda: MaxPool2D(2), random(1, 2, 5, 5)),
    (lambda: MaxPool2D(3, 2), random(1, 2, 7, 7)),
    (lambda: Flatten("flatten"), random(2, 3, 2, 2)),
], ids=["dense", "relu", "sigmoid", "tanh", "identity", "conv-s1p1",
        "conv-s2p0", "conv-k2s2p1", "conv-k4s3p2", "pool2", "pool2-odd",
        "pool3s2", "flatten"])
def test_layer_gradients(make_layer, X):
    errors = check_layer(make_layer(), X)
    for name, error in errors.items():
        assert error < TOLERANCE, f"gradient of {name}: relative error {error}"


@pytest.mark.parametrize("loss, A, Y", [
    (MeanSquaredError(), random(4, 2), random(4, 2, seed=7)),
    (BinaryCrossEntropy(), np.linspace(0.1, 0.9, 6).reshape(3, 2),
     np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])),
    (SoftmaxCrossEntropy(), random(5, 4) * 3, np.array([0, 3, 1, 1, 2])),
], ids=["mse", "bce", "softmax-ce"])
def test_loss_gradients(loss, A, Y):
    loss.forward(A, Y)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(A, Y), A)
    assert relative_error(analytic, numeric) < TOLERANCE


def test_gradient_check_catches_wrong_gradient():
    layer = Tanh()
    X = random(3, 3)
    layer.forward(X)
    G = np.ones((3, 3))
    wrong = layer.backward(G) * 1.01
    numeric = numerical_gradient(lambda: float(np.sum(layer.forward(X))), X)
    assert relative_error(wrong, numeric) > 1e-3
