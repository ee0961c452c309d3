"""Winograd's form of 3x3 convolutions against loops and direct correlation."""

import numpy as np
import pytest

import engine.winograd
from engine import winograd
from engine.conv import Conv2D
from tests.engine.loops import conv_forward_loops


@pytest.fixture
def winograd_calls(monkeypatch):
    """Count the calls of `winograd.correlate`, to prove a path used it."""
    calls = []
    correlate = winograd.correlate

    def counted(*args, **kwargs):
        calls.append(kwargs.get("flipped", False))
        return correlate(*args, **kwargs)

    monkeypatch.setattr(engine.winograd, "correlate", counted)
    return calls


def _layer_and_input(shape, F, padding, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(shape).astype(dtype)
    C = shape[1]
    W = (rng.standard_normal((F, C, 3, 3)) / np.sqrt(9 * C)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return W, b, X


@pytest.mark.parametrize("shape, F, padding", [
    ((2, 3, 6, 8), 4, 1),
    ((1, 5, 8, 6), 2, 0),
    ((1, 2, 4, 6), 3, 2),
    ((3, 4, 2, 2), 5, 1),
])
def test_forward_matches_loops(winograd_calls, shape, F, padding):
    W, b, X = _layer_and_input(shape, F, padding)
    layer = Conv2D(W, b, 1, padding, use_winograd=True)
    Z = layer.forward(X)
    assert winograd_calls == [False]
    np.testing.assert_allclose(Z, conv_forward_loops(X, W, b, 1, padding),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, F, padding", [
    ((2, 3, 6, 8), 4, 1),
    ((1, 5, 8, 6), 2, 0),
    ((1, 2, 4, 6), 3, 2),
])
def test_backward_matches_direct(winograd_calls, shape, F, padding):
    W, b, X = _layer_and_input(shape, F, padding)
    fast = Conv2D(W, b, 1, padding, use_winograd=True)
    direct = Conv2D(W, b, 1, padding, use_winograd=False)
    dZ = np.random.default_rng(1).standard_normal(fast.output_shape(shape))
    fast.forward(X)
    direct.forward(X)
    dX, dX_direct = fast.backward(dZ), direct.backward(dZ)
    assert winograd_calls == [False, True]
    np.testing.assert_allclose(dX, dX_direct, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.grads["W"], direct.grads["W"],
                               rtol=1e-12)


def test_blocks_match_one_block(monkeypatch):
    W, b, X = _layer_and_input((3, 4, 10, 6), 5, 1)
    layer = Conv2D(W, b, 1, 1, use_winograd=True)
    dZ = np.random.default_rng(1).standard_normal(layer.output_shape(X.shape))
    whole = layer.forward(X), layer.backward(dZ)
    # One tile per block gives one row of tiles per block.
    monkeypatch.setattr(engine.winograd, "TILES_PER_BLOCK", 1)
    blocked = layer.forward(X), layer.backward(dZ)
    for ours, expected in zip(blocked, whole):
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, stride, padding", [
    ((1, 2, 5, 5), 1, 1),  # 5x5 output: not whole 2x2 tiles
    ((1, 2, 8, 8), 2, 1),
    ((1, 2, 4, 4), 1, 3),
])
def test_unfit_shapes_take_direct_form(winograd_calls, shape, stride,
                                       padding):
    W, b, X = _layer_and_input(shape, 3, padding)
    layer = Conv2D(W, b, stride, padding, use_winograd=True)
    Z = layer.forward(X)
    layer.backward(np.ones_like(Z))
    assert winograd_calls == []
    np.testing.assert_allclose(
        Z, conv_forward_loops(X, W, b, stride, padding), rtol=1e-12)


def test_flipped_transform_is_turned_kernel():
    W = np.random.default_rng(3).standard_normal((4, 3, 3, 3))
    turned = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, 3, 3)
    U, U_turned = winograd.kernel_transform(W), winograd.kernel_transform(turned)
    for k in range(16):
        np.testing.assert_allclose(U[winograd.FLIP[k]].T, U_turned[k],
                                   rtol=1e-14)


def test_vgg_channel_counts_that_pay():
    assert not winograd.pays((64, 3, 3, 3))  # conv1_1
    assert not winograd.pays((64, 64, 3, 3))  # conv1_2
    assert winograd.pays((128, 64, 3, 3))  # conv2_1
    assert winograd.pays((512, 512, 3, 3))  # conv5_3


def _float32_errors(fast, direct, reference):
    """Return the worst absolute errors of two float32 results."""
    return (np.abs(fast - reference).max(),
            np.abs(direct - reference).max())


@pytest.mark.parametrize("C, F", [(128, 128), (64, 128), (256, 64)])
def test_float32_rounding_near_direct(C, F):
    W, b, X = _layer_and_input((2, C, 8, 8), F, 1, seed=4)
    dZ = np.random.default_rng(5).standard_normal((2, F, 8, 8))
    exact = Conv2D(W, b, 1, 1, use_winograd=False)
    Z, dX = exact.forward(X), exact.backward(dZ)
    results = {}
    for use in (True, False):
        layer = Conv2D(W.astype(np.float32), b.astype(np.float32), 1, 1,
                       use_winograd=use)
        results[use] = (layer.forward(X.astype(np.float32)),
                        layer.backward(dZ.astype(np.float32)))
    # Seeds 0 to 3 gave ratios from 0.4 to 1.9; 3 leaves room for others.
    fast, direct = _float32_errors(results[True][0], results[False][0], Z)
    assert fast <= 3 * direct
    fast, direct = _float32_errors(results[True][1], results[False][1], dX)
    assert fast <= 3 * direct
