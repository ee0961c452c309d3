"""Gradient saliency, Grad-CAM and occlusion on small networks."""

import numpy as np
import pytest

from engine.conv import Conv2D, Flatten, MaxPool2D
from engine.gradcheck import numerical_gradient, relative_error
from engine.layers import Dense, ReLU
from engine.network import Sequential
from engine.saliency import (
    grad_cam,
    gradient_saliency,
    input_gradient,
    occlusion,
    occlusion_positions,
)


def small_cnn(seed=0, dtype=np.float64):
    """conv(3->4) relu pool conv(4->4) relu pool flatten dense(16->3)."""
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.standard_normal(shape).astype(dtype) * 0.5

    return Sequential([
        Conv2D(normal(4, 3, 3, 3), normal(4), 1, 1, name="conv1"),
        ReLU(name="relu1"), MaxPool2D(2, name="pool1"),
        Conv2D(normal(4, 4, 3, 3), normal(4), 1, 1, name="conv2"),
        ReLU(name="relu2"), MaxPool2D(2, name="pool2"),
        Flatten(name="flatten"), Dense(normal(3, 16), normal(3), name="fc"),
    ])


X = np.random.default_rng(1).standard_normal((1, 3, 8, 8))


def test_input_gradient_matches_central_differences():
    network = small_cnn()
    _, dX, class_index = input_gradient(network, X.copy(), class_index=2)
    x = X.copy()
    numeric = numerical_gradient(lambda: network.forward(x)[0, 2], x)
    assert class_index == 2
    assert relative_error(dX, numeric) < 1e-7


def test_input_gradient_leaves_parameters_unfrozen():
    network = small_cnn()
    input_gradient(network, X.copy())
    assert all(layer.param_grads for layer in network.layers)


def test_gradient_saliency_defaults_to_top_class():
    network = small_cnn()
    result = gradient_saliency(network, X.copy())
    assert result.class_index == int(np.argmax(network.forward(X)[0]))
    assert result.heatmap.shape == (8, 8)
    assert result.heatmap.min() == 0.0
    assert result.heatmap.max() == 1.0


def test_grad_cam_matches_hand_computation():
    network = small_cnn()
    result = grad_cam(network, X.copy(), layer="relu2", class_index=1)
    A = Sequential(network.layers[:5]).forward(X)  # relu2's output
    head = Sequential(network.layers[5:])
    head.forward(A)
    d_logits = np.zeros((1, 3))
    d_logits[0, 1] = 1
    dA = head.backward(d_logits)
    cam = np.maximum(np.tensordot(dA[0].mean(axis=(1, 2)), A[0], axes=1), 0)
    assert result.heatmap.shape == (8, 8)
    if cam.max() > 0:
        peak = np.unravel_index(np.argmax(cam), cam.shape)
        assert result.heatmap[peak[0] * 4 + 1, peak[1] * 4 + 1] > 0.5


def test_grad_cam_unknown_layer_lists_names():
    with pytest.raises(ValueError, match="conv1"):
        grad_cam(small_cnn(), X.copy(), layer="conv9")


def region_detector():
    """A network whose class 1 score is the sum of the top-left 4x4 block."""
    W = np.zeros((2, 3 * 8 * 8))
    mask = np.zeros((3, 8, 8))
    mask[:, :4, :4] = 1
    W[1] = mask.ravel()
    return Sequential([Flatten(name="flatten"),
                       Dense(W, np.zeros(2), name="fc")])


def test_occlusion_finds_the_region():
    X_bright = np.ones((1, 3, 8, 8))
    calls = []
    result = occlusion(region_detector(), X_bright, class_index=1, patch=4,
                       stride=4, progress=lambda done, total: calls.append(
                           (done, total)))
    assert result.heatmap[:4, :4].min() == 1.0
    assert result.heatmap[4:, 4:].max() == 0.0
    assert calls[-1] == (4, 4)


@pytest.mark.parametrize("size, patch, stride, expected", [
    (224, 56, 28, [0, 28, 56, 84, 112, 140, 168]),
    (10, 4, 4, [0, 4, 6]),
    (8, 8, 3, [0]),
])
def test_occlusion_positions_cover_the_edge(size, patch, stride, expected):
    assert occlusion_positions(size, patch, stride) == expected


def test_occlusion_rejects_large_patch():
    with pytest.raises(ValueError, match="patch must be"):
        occlusion_positions(8, 9, 1)
