"""VGG configurations, names and parameter counts."""

import numpy as np
import pytest

from engine.vgg import config_table, layer_specs


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


@pytest.mark.parametrize("config, params, gmacs", [
    ("vgg11", 132_863_336, 7.61), ("vgg13", 133_047_848, 11.31),
    ("vgg16", 138_357_544, 15.47), ("vgg19", 143_667_240, 19.63),
])
def test_config_table_totals(config, params, gmacs):
    rows = config_table(config)
    assert sum(row.n_params for row in rows) == params
    assert sum(row.macs for row in rows) / 1e9 == pytest.approx(gmacs, abs=0.01)


def test_vgg16_table_rows():
    rows = {row.name: row for row in config_table("vgg16")}
    assert rows["conv1_1"].output_shape == (1, 64, 224, 224)
    assert rows["conv1_1"].receptive_field == 3
    assert rows["pool5"].output_shape == (1, 512, 7, 7)
    assert rows["pool5"].receptive_field == 212
    assert rows["pool5"].jump == 32
    assert rows["fc8"].output_shape == (1, 1000)
    assert rows["conv1_2"].activation_bytes == 64 * 224 * 224 * 4
