"""Every layer, loss and optimizer step against central differences."""

import numpy as np
import pytest

from engine.checks import CHECK_NAMES, TOLERANCE, run_check
from engine.gradcheck import numerical_gradient, relative_error
from engine.layers import Tanh


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_gradient_check(name):
    error = run_check(name)
    assert error < TOLERANCE, f"{name}: worst relative error {error:.2e}"


def test_gradient_check_catches_wrong_gradient():
    layer = Tanh()
    X = np.random.default_rng(0).standard_normal((3, 3))
    layer.forward(X)
    wrong = layer.backward(np.ones((3, 3))) * 1.01
    numeric = numerical_gradient(lambda: float(np.sum(layer.forward(X))), X)
    assert relative_error(wrong, numeric) > 1e-3
