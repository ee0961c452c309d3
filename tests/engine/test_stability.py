"""Softmax, cross-entropy and sigmoid at extreme inputs, with every
floating-point warning turned into an error."""

import numpy as np
import pytest

from engine.layers import Dense, sigmoid
from engine.losses import SoftmaxCrossEntropy, softmax


@pytest.fixture(autouse=True)
def raise_on_float_errors():
    with np.errstate(all="raise"):
        yield


@pytest.mark.parametrize("logits, expected", [
    ([1000.0, 1000.0], [0.5, 0.5]),
    ([1.0, -10.0, 1000.0], [0.0, 0.0, 1.0]),
    ([-1000.0, -1000.0], [0.5, 0.5]),
])
def test_softmax_extreme_logits(logits, expected):
    np.testing.assert_array_equal(softmax(np.array([logits])), [expected])


def test_softmax_shift_invariant():
    P = softmax(np.array([[0.0, 1.0, 2.0], [100.0, 101.0, 102.0]]))
    np.testing.assert_allclose(P[0], P[1], rtol=1e-15)


def test_cross_entropy_large_logit_gap():
    loss = SoftmaxCrossEntropy()
    J = loss.forward(np.array([[0.0, 1000.0]]), np.array([0]))
    assert J == 1000.0
    np.testing.assert_array_equal(loss.backward(), [[-1.0, 1.0]])


def test_cross_entropy_equal_logits():
    J = SoftmaxCrossEntropy().forward(np.array([[0.0, 0.0]]), np.array([1]))
    assert J == pytest.approx(0.693147, abs=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_extremes(dtype):
    z = np.array([-1e4, -800.0, 0.0, 800.0, 1e4], dtype=dtype)
    # Clipping |z| at the cutoff leaves e^-cutoff, below 1e-30, not 0.
    np.testing.assert_allclose(sigmoid(z), [0.0, 0.0, 0.5, 1.0, 1.0],
                               rtol=0, atol=1e-30)


def test_dense_bias_gradient_sums_batch():
    layer = Dense(np.zeros((3, 5)), np.zeros(3))
    layer.forward(np.ones((4, 5)))
    layer.backward(np.arange(12.0).reshape(4, 3))
    assert layer.grads["b"].shape == (3,)
    np.testing.assert_array_equal(layer.grads["b"], [18.0, 22.0, 26.0])
