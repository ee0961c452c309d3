"""torchvision and Keras parameter names, mapped to ours."""

import pytest

from engine.vgg import layer_specs
from engine.weights import expected_shapes, keras_layer_names, torchvision_names
from tests.weights.conftest import TINY_SPECS, TINY_TORCH_KEYS

# Indices of the convolutions in torchvision's `features`, one module each
# for every convolution, ReLU and pooling.
TORCHVISION_CONVS = {
    "vgg11": [0, 3, 6, 8, 11, 13, 16, 18],
    "vgg13": [0, 2, 5, 7, 10, 12, 15, 17, 20, 22],
    "vgg16": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
    "vgg19": [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34],
}


@pytest.mark.parametrize("config", sorted(TORCHVISION_CONVS))
def test_torchvision_feature_indices(config):
    names = torchvision_names(layer_specs(config))
    convs = [spec.name for spec in layer_specs(config) if spec.kind == "conv"]
    expected = {f"features.{index}.weight": f"{name}.weight"
                for index, name in zip(TORCHVISION_CONVS[config], convs,
                                           strict=True)}
    found = {key: value for key, value in names.items()
             if key.startswith("features.") and key.endswith(".weight")}
    assert found == expected


@pytest.mark.parametrize("config", sorted(TORCHVISION_CONVS))
def test_torchvision_classifier_indices(config):
    names = torchvision_names(layer_specs(config))
    assert names["classifier.0.weight"] == "fc6.weight"
    assert names["classifier.3.bias"] == "fc7.bias"
    assert names["classifier.6.weight"] == "fc8.weight"
    assert len(names) == len(expected_shapes(layer_specs(config)))


def test_vgg16_last_conv_key():
    names = torchvision_names(layer_specs("vgg16"))
    assert names["features.28.weight"] == "conv5_3.weight"
    assert names["features.28.bias"] == "conv5_3.bias"


def test_tiny_specs_torchvision_keys():
    names = torchvision_names(TINY_SPECS)
    expected = {f"{theirs}.{p}": f"{ours}.{p}"
                for ours, theirs in TINY_TORCH_KEYS.items()
                for p in ("weight", "bias")}
    assert names == expected


def test_keras_names_vgg16():
    names = keras_layer_names(layer_specs("vgg16"))
    assert names["block1_conv1"] == "conv1_1"
    assert names["block5_conv3"] == "conv5_3"
    assert names["fc1"] == "fc6"
    assert names["fc2"] == "fc7"
    assert names["predictions"] == "fc8"
    assert len(names) == 16


def test_expected_shapes_bias_follows_weight():
    shapes = expected_shapes(layer_specs("vgg16"))
    assert shapes["conv1_1.weight"] == (64, 3, 3, 3)
    assert shapes["conv1_1.bias"] == (64,)
    assert shapes["fc8.weight"] == (1000, 4096)
    assert list(shapes)[:2] == ["conv1_1.weight", "conv1_1.bias"]


def test_tiny_config_matches_tiny_specs(tiny_config):
    assert layer_specs(tiny_config) == TINY_SPECS
