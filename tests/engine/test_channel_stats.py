"""Tests for engine.channel_stats and engine.recipes: what preprocessing does to
each channel, and the ranking of feature-map channels."""

import numpy as np
import pytest

from engine.channel_stats import channel_stats, rank_channels_by_mean
from engine.images import preprocess_caffe, preprocess_imagenet
from engine.recipes import RECIPES, colour_input, recipe_of


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_channel_stats_match_numpy(dtype):
    image = np.random.default_rng(0).integers(0, 256, (40, 30, 3)).astype(dtype)

    stats = channel_stats(image, ("R", "G", "B"))

    for c, summary in enumerate(stats):
        values = image[..., c].astype(np.float64)
        assert summary.mean == pytest.approx(values.mean())
        assert summary.std == pytest.approx(values.std())
        assert (summary.min, summary.max) == (values.min(), values.max())


def test_channel_stats_keep_names_in_order():
    stats = channel_stats(np.zeros((2, 2, 3), np.float32), ("B", "G", "R"))

    assert [s.channel for s in stats] == ["B", "G", "R"]


def test_channel_stats_constant_uint8_channel():
    image = np.full((5, 5, 3), 7, np.uint8)

    (red, _, _) = channel_stats(image, ("R", "G", "B"))

    assert (red.mean, red.std, red.min, red.max) == (7, 0, 7, 7)


def test_channel_stats_reject_channel_count_mismatch():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        channel_stats(np.zeros((4, 4, 4), np.uint8), ("R", "G", "B"))


def test_rank_channels_highest_mean_first():
    maps = np.zeros((4, 2, 2), np.float32)
    maps[1] = 3.0
    maps[2] = 1.0
    maps[3] = -1.0

    assert rank_channels_by_mean(maps).tolist() == [1, 2, 0, 3]


def test_rank_channels_ties_keep_index_order():
    maps = np.ones((5, 3, 3), np.float32)

    assert rank_channels_by_mean(maps).tolist() == [0, 1, 2, 3, 4]


def test_rank_channels_rejects_single_map():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        rank_channels_by_mean(np.zeros((3, 3), np.float32))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("torchvision", (2.2489083, -2.0357143, -1.8044444)),
     ("caffe", (-103.939, -116.779, 131.32))],
)
def test_red_pixel_after_each_recipe(name, expected):
    values = colour_input(RECIPES[name], (255, 0, 0))

    np.testing.assert_allclose(values, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("preprocess", "name", "channels"),
    [(preprocess_imagenet, "torchvision", ("R", "G", "B")),
     (preprocess_caffe, "caffe", ("B", "G", "R"))],
)
def test_recipe_of_preprocessing_function(preprocess, name, channels):
    recipe = recipe_of(preprocess)

    assert recipe.name == name
    assert recipe.channels == channels


def test_recipe_of_unknown_function():
    with pytest.raises(ValueError, match="unknown preprocessing function"):
        recipe_of(lambda rgb: rgb)
