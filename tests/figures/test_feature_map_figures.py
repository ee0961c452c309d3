"""Tests for the feature-map figures: tiles, shapes, scaling and hover values."""

import numpy as np
import plotly.graph_objects as go
import pytest

from figures.feature_maps import (
    DIVERGING_SCALE,
    GRID_CELL_BUDGET,
    block_mean,
    channel_figure,
    downsampling_factor,
    feature_map_grid,
    grid_columns,
    image_figure,
    input_channels_figure,
    mosaic,
    normalise_channels,
)


def random_maps(C: int, H: int, signed: bool = False, seed: int = 0) -> np.ndarray:
    """Return float32 `(C, H, H)` maps, non-negative unless `signed`."""
    maps = np.random.default_rng(seed).standard_normal((C, H, H)).astype(np.float32)
    return maps if signed else np.maximum(maps, 0)


def tile_channels(figure: go.Figure) -> set[int]:
    """Return the channel indices that the grid's hover data names."""
    labels = np.asarray(figure.data[0].customdata)[..., 0]
    return {int(label) for label in labels[~np.isnan(labels)]}


def test_normalise_channels_scales_each_peak_to_one():
    maps = random_maps(4, 8) * np.array([1, 10, 100, 1000], np.float32)[:, None, None]

    scaled = normalise_channels(maps)

    np.testing.assert_allclose(scaled.max(axis=(1, 2)), 1.0, rtol=1e-6)
    assert scaled.min() >= 0


def test_normalise_channels_keeps_signed_in_unit_range():
    scaled = normalise_channels(random_maps(3, 6, signed=True))

    np.testing.assert_allclose(np.abs(scaled).max(axis=(1, 2)), 1.0, rtol=1e-6)
    assert scaled.min() < 0


def test_normalise_channels_leaves_zero_channel_zero():
    maps = random_maps(3, 5)
    maps[1] = 0

    with np.errstate(all="raise"):
        scaled = normalise_channels(maps)

    assert np.all(scaled[1] == 0)
    assert np.all(np.isfinite(scaled))


@pytest.mark.parametrize(
    ("size", "count", "expected"),
    [
        (224, 16, 4),  # 56x56 tiles: the largest that fit 120,000 cells
        (224, 64, 7),  # 7 divides 224, giving 32x32 tiles
        (112, 128, 4),
        (56, 256, 4),
        (28, 512, 2),
        (14, 512, 1),
        (7, 1, 1),
    ],
)
def test_downsampling_factor_fits_budget(size, count, expected):
    factor = downsampling_factor(size, count)

    assert factor == expected
    assert size % factor == 0
    assert count * (size // factor) ** 2 <= GRID_CELL_BUDGET


def test_block_mean_averages_blocks():
    maps = np.arange(16, dtype=np.float32).reshape(1, 4, 4)

    means = block_mean(maps, 2)

    np.testing.assert_array_equal(means[0], [[2.5, 4.5], [10.5, 12.5]])


def test_block_mean_rejects_size_that_does_not_divide():
    with pytest.raises(ValueError, match="must divide"):
        block_mean(np.zeros((1, 5, 5), np.float32), 2)


@pytest.mark.parametrize(
    ("count", "columns", "expected_shape"),
    [(1, 1, (3, 3)), (4, 2, (7, 7)), (5, 4, (7, 15)), (8, 8, (3, 31))],
)
def test_mosaic_shape_with_gaps(count, columns, expected_shape):
    tiles = np.ones((count, 3, 3), np.float32)

    grid = mosaic(tiles, columns)

    assert grid.shape == expected_shape
    assert np.count_nonzero(~np.isnan(grid)) == count * 9


def test_mosaic_places_tiles_row_by_row():
    tiles = np.arange(3, dtype=np.float32)[:, None, None] * np.ones((3, 2, 2))

    grid = mosaic(tiles, columns=2, gap=1)

    assert np.all(grid[0:2, 0:2] == 0)
    assert np.all(grid[0:2, 3:5] == 1)
    assert np.all(grid[3:5, 0:2] == 2)
    assert np.all(np.isnan(grid[3:5, 3:5]))  # the empty last slot
    assert np.all(np.isnan(grid[2]))  # the gap between rows


@pytest.mark.parametrize(("count", "expected"), [(1, 2), (16, 6), (64, 12), (512, 32)])
def test_grid_columns(count, expected):
    assert grid_columns(count) == expected


@pytest.mark.parametrize(
    ("C", "H", "channels", "columns"),
    [
        (64, 224, range(16), 6),
        (64, 224, range(64), 12),
        (256, 56, [5, 200, 17], 2),
        (512, 14, range(512), 32),
        (512, 7, [511], 1),
    ],
)
def test_grid_has_one_tile_per_channel(C, H, channels, columns):
    maps = random_maps(C, H)

    figure = feature_map_grid(maps, list(channels), columns)

    assert len(figure.data) == 1
    assert tile_channels(figure) == set(channels)
    z = np.asarray(figure.data[0].z, dtype=float)
    side = H // downsampling_factor(H, len(channels))
    rows = -(-len(channels) // columns)
    assert z.shape == (rows * (side + 1) - 1, columns * (side + 1) - 1)


def test_grid_hover_shows_raw_values():
    maps = random_maps(4, 8) * 7

    figure = feature_map_grid(maps, [2], columns=1)

    raw = np.asarray(figure.data[0].customdata)[..., 1]
    np.testing.assert_allclose(raw, maps[2], rtol=1e-6)
    assert "channel %{customdata[0]:d}" in figure.data[0].hovertemplate


def test_grid_with_zero_channel_has_no_nan_tile():
    maps = random_maps(4, 8)
    maps[1] = 0

    with np.errstate(all="raise"):
        figure = feature_map_grid(maps, [0, 1, 2, 3], columns=4)

    z = np.asarray(figure.data[0].z, dtype=float)
    assert np.all(z[0:8, 9:17] == 0)  # the second tile, all zero


@pytest.mark.parametrize(
    ("signed", "zmin", "scale_start"),
    [(False, 0, "#440154"), (True, -1, "rgb(103,0,31)")],
)
def test_grid_colour_scale_follows_sign(signed, zmin, scale_start):
    maps = random_maps(4, 8, signed=signed)

    heatmap = feature_map_grid(maps, range(4), columns=2).data[0]

    assert heatmap.zmin == zmin
    assert heatmap.zmax == 1
    assert heatmap.colorscale[0][1] == scale_start


def test_grid_rejects_maps_without_channel_axis():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        feature_map_grid(np.zeros((8, 8), np.float32), [0], columns=1)


@pytest.mark.parametrize("H", [7, 56, 224])
def test_channel_figure_keeps_full_resolution(H):
    feature_map = random_maps(1, H)[0]

    heatmap = channel_figure(feature_map, "conv1_1, channel 0").data[0]

    assert np.asarray(heatmap.z).shape == (H, H)
    assert heatmap.zmax == pytest.approx(float(feature_map.max()))


def test_channel_figure_of_zero_map_has_valid_scale():
    heatmap = channel_figure(np.zeros((14, 14), np.float32), "dead channel").data[0]

    assert heatmap.zmin == 0
    assert heatmap.zmax == 1


def test_channel_figure_signed_map_is_centred():
    feature_map = random_maps(1, 14, signed=True)[0]

    heatmap = channel_figure(feature_map, "conv5_1, channel 3").data[0]

    assert heatmap.zmin == -heatmap.zmax
    assert heatmap.colorscale == go.Heatmap(colorscale=DIVERGING_SCALE).colorscale


def test_channel_figure_outlines_highlight():
    figure = channel_figure(random_maps(1, 14)[0], "pool4", highlight=(3, 5))

    (shape,) = figure.layout.shapes
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (4.5, 5.5, 2.5, 3.5)


@pytest.mark.parametrize("shape", [(224, 224, 3), (256, 384, 3)])
def test_image_figure_draws_pixels(shape):
    rgb = np.zeros(shape, np.uint8)

    figure = image_figure(rgb, "photo", box=(16, 80, 239, 303))

    assert np.asarray(figure.data[0].z).shape == shape
    (outline,) = figure.layout.shapes
    assert (outline.x0, outline.y0) == (79.5, 15.5)


def test_image_figure_subsamples_long_image():
    rgb = np.zeros((20, 4000, 3), np.uint8)

    image = image_figure(rgb).data[0]

    assert np.asarray(image.z).shape == (5, 1000, 3)
    assert image.dx == 4
    assert image.x0 == 1.5  # the centre of the first 4x4 block


def test_image_figure_rejects_grey_image():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        image_figure(np.zeros((8, 8), np.uint8))


@pytest.mark.parametrize(("source_step", "dx", "x0"), [(1, 1, 0.0), (3, 3, 1.0)])
def test_image_figure_places_preview_in_photo_pixels(source_step, dx, x0):
    preview = np.zeros((100, 150, 3), np.uint8)

    image = image_figure(preview, source_step=source_step).data[0]

    assert np.asarray(image.z).shape == (100, 150, 3)
    assert image.dx == dx
    assert image.x0 == x0


def test_image_figure_rejects_zero_source_step():
    with pytest.raises(ValueError, match="source_step"):
        image_figure(np.zeros((8, 8, 3), np.uint8), source_step=0)


def test_input_channels_figure_one_panel_per_channel():
    tensor = random_maps(3, 16, signed=True)

    figure = input_channels_figure(tensor, ("B", "G", "R"))

    assert [trace.name for trace in figure.data] == ["B", "G", "R"]
    assert [a.text for a in figure.layout.annotations] == [
        "channel B", "channel G", "channel R"]
    np.testing.assert_array_equal(np.asarray(figure.data[2].z), tensor[2])


def test_input_channels_figure_shares_centred_scale():
    tensor = random_maps(3, 16, signed=True)
    tensor[1, 0, 0] = -5.0

    figure = input_channels_figure(tensor, ("R", "G", "B"))

    assert all(trace.coloraxis == "coloraxis" for trace in figure.data)
    assert figure.layout.coloraxis.cmin == -5.0
    assert figure.layout.coloraxis.cmax == 5.0


@pytest.mark.parametrize("position", [1, 2, 3])
def test_input_channels_figure_square_pixels(position):
    figure = input_channels_figure(random_maps(3, 8, signed=True), ("R", "G", "B"))

    name = "yaxis" if position == 1 else f"yaxis{position}"
    anchor = "x" if position == 1 else f"x{position}"
    assert figure.layout[name].scaleanchor == anchor
    assert figure.layout[name].autorange == "reversed"


def test_input_channels_figure_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        input_channels_figure(np.zeros((4, 8, 8), np.float32), ("R", "G", "B"))

