"""Convolution and pooling against loop versions and hand-worked cases."""

import numpy as np
import pytest

import engine.conv
from engine.conv import Conv2D, MaxPool2D, col2im, conv_output_size, im2col
from tests.engine.loops import conv_forward_loops, maxpool_loops


@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((2, 3, 5, 5), 3, 1, 1),
    ((1, 2, 7, 6), 3, 2, 0),
    ((1, 1, 6, 6), 2, 2, 1),
    ((2, 4, 8, 5), 1, 1, 0),
    ((1, 3, 9, 9), 5, 3, 2),
])
def test_conv_forward_matches_loops(shape, kernel, stride, padding):
    rng = np.random.default_rng(0)
    X = rng.standard_normal(shape)
    W = rng.standard_normal((3, shape[1], kernel, kernel))
    b = rng.standard_normal(3)
    layer = Conv2D(W, b, stride, padding)
    expected = conv_forward_loops(X, W, b, stride, padding)
    np.testing.assert_allclose(layer.forward(X), expected, rtol=1e-12)
    assert layer.output_shape(shape) == expected.shape


def _pass(layer, X, dZ):
    """Return the forward output, dX, dW and db of `layer` on `X`."""
    Z = layer.forward(X)
    dX = layer.backward(dZ)
    return Z, dX, layer.grads["W"], layer.grads["b"]


# 1 byte gives one output row per block; 10**4 bytes gives blocks of whole
# images for the small shapes and of several rows for the larger one.
@pytest.mark.parametrize("block_bytes", [1, 10**4])
@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((3, 2, 6, 5), 3, 1, 1),
    ((2, 3, 9, 8), 3, 2, 2),
    ((1, 4, 20, 20), 3, 1, 1),
    ((2, 6, 9, 9), 3, 1, 1),  # F <= C: dX by the flipped kernels
    ((2, 6, 9, 9), 3, 2, 1),  # C > 4, stride 2: dX scattered channels-last
])
def test_blocks_match_one_block(
        monkeypatch, block_bytes, shape, kernel, stride, padding):
    rng = np.random.default_rng(2)
    X = rng.standard_normal(shape)
    W = rng.standard_normal((5, shape[1], kernel, kernel))
    b = rng.standard_normal(5)
    layer = Conv2D(W, b, stride, padding)
    dZ = rng.standard_normal(layer.output_shape(shape))
    whole = _pass(layer, X, dZ)
    monkeypatch.setattr(engine.conv, "BLOCK_BYTES", block_bytes)
    row_bytes = dZ.shape[3] * kernel**2 * shape[1] * X.itemsize
    assert len(engine.conv._row_blocks(shape[0], dZ.shape[2], row_bytes)) > 1
    blocked = _pass(layer, X, dZ)
    for ours, expected in zip(blocked, whole):
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        blocked[0], conv_forward_loops(X, W, b, stride, padding), rtol=1e-12)


def test_col2im_of_im2col_counts_overlaps():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    cols = im2col(x, 2, 2, stride=1, padding=0)
    counts = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(col2im(cols, x.shape, 1, 0), x * counts)


def test_conv_sizes_that_do_not_divide():
    layer = Conv2D(np.ones((1, 1, 3, 3)), np.zeros(1), stride=2, padding=0)
    X = np.random.default_rng(0).standard_normal((1, 1, 6, 6))
    assert layer.forward(X).shape == (1, 1, 2, 2)
    dX = layer.backward(np.ones((1, 1, 2, 2)))
    assert dX.shape == (1, 1, 6, 6)
    np.testing.assert_array_equal(dX[0, 0, -1], 0)
    np.testing.assert_array_equal(dX[0, 0, :, -1], 0)
    assert np.all(dX[0, 0, :5, :5] > 0)


@pytest.mark.parametrize("size, kernel, stride, padding, expected", [
    (224, 3, 1, 1, 224), (6, 3, 2, 0, 2), (7, 2, 2, 0, 3), (5, 5, 1, 0, 1),
])
def test_conv_output_size(size, kernel, stride, padding, expected):
    assert conv_output_size(size, kernel, stride, padding) == expected


def test_conv_output_size_rejects_large_kernel():
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv_output_size(2, 5, 1, 1)


def test_conv_rejects_wrong_channels():
    layer = Conv2D(np.ones((1, 3, 3, 3)), np.zeros(1))
    with pytest.raises(ValueError, match=r"expected input \(N, 3, H, W\)"):
        layer.forward(np.ones((1, 2, 5, 5)))


@pytest.mark.parametrize("shape, kernel, stride", [
    ((2, 3, 4, 4), 2, 2), ((1, 2, 5, 7), 2, 2), ((1, 1, 7, 7), 3, 2),
])
def test_maxpool_matches_loops(shape, kernel, stride):
    X = np.random.default_rng(1).integers(0, 4, shape).astype(float)  # ties
    layer = MaxPool2D(kernel, stride)
    expected, routed = maxpool_loops(X, kernel, stride)
    out = layer.forward(X)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(layer.backward(np.ones_like(out)), routed)


@pytest.mark.parametrize("window, expected", [
    ([[1.0, 2.0], [2.0, 2.0]], [[0.0, 1.0], [0.0, 0.0]]),
    ([[0.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]]),
])
def test_maxpool_ties_go_to_first_maximum(window, expected):
    layer = MaxPool2D(2)
    layer.forward(np.array(window)[None, None])
    dX = layer.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(dX[0, 0], expected)
