"""Layers and losses against values PyTorch computed.

The fixture comes from tests/fixtures/make_reference.py; PyTorch is needed
only to rebuild it, never to run these tests.
"""

from pathlib import Path

import numpy as np
import pytest

from engine.conv import Conv2D, MaxPool2D
from engine.layers import Dense, ReLU, Sigmoid, Tanh
from engine.losses import BinaryCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "reference.npz"
RTOL = 1e-10  # both sides compute in float64


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


def case(reference, name):
    prefix = f"{name}/"
    return {key[len(prefix):]: value for key, value in reference.items()
            if key.startswith(prefix)}


def test_dense_matches_pytorch(reference):
    c = case(reference, "dense")
    layer = Dense(c["W"], c["b"])
    np.testing.assert_allclose(layer.forward(c["X"]), c["Z"], rtol=RTOL)
    np.testing.assert_allclose(layer.backward(c["G"]), c["dX"], rtol=RTOL)
    np.testing.assert_allclose(layer.grads["W"], c["dW"], rtol=RTOL)
    np.testing.assert_allclose(layer.grads["b"], c["db"], rtol=RTOL)


@pytest.mark.parametrize("name, use_winograd", [
    ("conv_s1p1", None), ("conv_s2p0", None), ("conv_k2s2p1", None),
    ("conv_s1p1_even", False), ("conv_s1p1_even", True),
    ("conv_s1p0_even", False), ("conv_s1p0_even", True),
])
def test_conv_matches_pytorch(reference, name, use_winograd):
    c = case(reference, name)
    layer = Conv2D(c["W"], c["b"], int(c["stride"]), int(c["padding"]),
                   use_winograd=use_winograd)
    np.testing.assert_allclose(layer.forward(c["X"]), c["Z"], rtol=RTOL)
    np.testing.assert_allclose(layer.backward(c["G"]), c["dX"], rtol=RTOL,
                               atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], c["dW"], rtol=RTOL)
    np.testing.assert_allclose(layer.grads["b"], c["db"], rtol=RTOL)


def test_maxpool_matches_pytorch(reference):
    c = case(reference, "pool")
    layer = MaxPool2D(2)
    np.testing.assert_array_equal(layer.forward(c["X"]), c["A"])
    np.testing.assert_array_equal(layer.backward(c["G"]), c["dX"])


@pytest.mark.parametrize("name, layer", [
    ("relu", ReLU()), ("sigmoid", Sigmoid()), ("tanh", Tanh()),
])
def test_activation_matches_pytorch(reference, name, layer):
    c = case(reference, name)
    np.testing.assert_allclose(layer.forward(c["Z"]), c["A"], rtol=RTOL)
    np.testing.assert_allclose(layer.backward(c["G"]), c["dZ"], rtol=RTOL)


@pytest.mark.parametrize("name, loss", [
    ("mse", MeanSquaredError()), ("bce", BinaryCrossEntropy()),
    ("softmax_ce", SoftmaxCrossEntropy()),
])
def test_loss_matches_pytorch(reference, name, loss):
    c = case(reference, name)
    assert loss.forward(c["A"], c["Y"]) == pytest.approx(float(c["J"]),
                                                         rel=RTOL)
    np.testing.assert_allclose(loss.backward(), c["dA"], rtol=RTOL)
