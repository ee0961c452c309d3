"""VGG configurations, names and parameter counts."""

import numpy as np
import pytest

from engine.vgg import layer_specs


def count_params(config):
    return sum(int(np.prod(s.shape)) + s.shape[0]
               for s in layer_specs(config) if s.shape)


@pytest.mark.parametrize("config, expected", [
    ("vgg11", 132_863_336), ("vgg13", 133_047_848),
    ("vgg16", 138_357_544), ("vgg19", 143_667_240),
])
def test_parameter_counts(config, expected):
    assert count_params(config) == expected


def test_vgg16_layer_names():
    names = [s.name for s in layer_specs("vgg16")]
    convs = [n for n in names if n.startswith("conv")]
    assert convs[0] == "conv1_1"
    assert convs[-1] == "conv5_3"
    assert len(convs) == 13
    assert [n for n in names if n.startswith("pool")] == [
        f"pool{i}" for i in range(1, 6)]
    assert names[-5:] == ["fc6", "relu6", "fc7", "relu7", "fc8"]


def test_unknown_config_lists_choices():
    with pytest.raises(ValueError, match="vgg11"):
        layer_specs("vgg17")
