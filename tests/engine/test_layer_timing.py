"""Tests for engine.layer_timing: one timed forward pass, layer by layer."""

import numpy as np
import pytest

from engine.layer_timing import LayerTime, time_layers
from engine.network import build_mlp
from engine.vgg import build_vgg
from tests.fixtures.micro import MICRO


@pytest.fixture(scope="module")
def micro_network():
    return build_vgg(MICRO, seed=0)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(
        np.float32)


def test_time_layers_names_every_layer(micro_network, photo):
    timings = time_layers(micro_network, photo)

    assert [t.name for t in timings] == [layer.name for layer in micro_network.layers]
    assert all(isinstance(t, LayerTime) for t in timings)


def test_time_layers_positive_seconds(micro_network, photo):
    timings = time_layers(micro_network, photo)

    assert all(t.seconds > 0 for t in timings)
    assert sum(t.seconds for t in timings) < 60


def test_time_layers_leaves_no_cache(micro_network, photo):
    time_layers(micro_network, photo)

    cached = [layer.name for layer in micro_network.layers
            if {"X", "A_prev", "Z", "A", "argmax"} & set(vars(layer))]
    assert cached == []


def test_time_layers_runs_the_real_forward_pass(monkeypatch):
    network = build_mlp([2, 3, 1], seed=0)
    outputs = []
    last = network.layers[-1]
    forward = last.forward

    def recording_forward(X, steps=None):
        outputs.append(forward(X, steps))
        return outputs[-1]

    monkeypatch.setattr(last, "forward", recording_forward)
    X = np.array([[0.5, -1.0]])

    time_layers(network, X)

    np.testing.assert_allclose(outputs[0], network.predict(X))
