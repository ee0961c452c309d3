"""Tests for the saliency overlay figure."""

import numpy as np
import plotly.graph_objects as go
import pytest

from figures.saliency import overlay_figure

SIDE = 8


@pytest.fixture
def photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)


@pytest.fixture
def heatmap() -> np.ndarray:
    return np.linspace(0, 1, SIDE * SIDE, dtype=np.float32).reshape(SIDE, SIDE)


def test_overlay_draws_photo_then_map(photo, heatmap):
    figure = overlay_figure(photo, heatmap, 0.5, title="tabby")
    image, overlay = figure.data
    assert isinstance(image, go.Image)
    assert isinstance(overlay, go.Heatmap)
    assert np.array_equal(np.asarray(image.z), photo)
    assert np.asarray(overlay.z).shape == (SIDE, SIDE)
    assert figure.layout.title.text == "tabby"


@pytest.mark.parametrize("opacity", [0.0, 0.35, 1.0])
def test_overlay_opacity(photo, heatmap, opacity):
    overlay = overlay_figure(photo, heatmap, opacity).data[1]
    assert overlay.opacity == opacity


def test_overlay_all_zero_map_fixed_scale(photo):
    overlay = overlay_figure(photo, np.zeros((SIDE, SIDE)), 0.6).data[1]
    assert overlay.zmin == 0
    assert overlay.zmax == 1
    assert not np.asarray(overlay.z).any()


def test_overlay_scale_avoids_streamlit_placeholders(photo, heatmap):
    # Streamlit's Plotly theme replaces #000001 to #0000xx with its own
    # colours, so the lowest value would not draw black.
    overlay = overlay_figure(photo, heatmap, 0.5).data[1]
    colours = [colour for _, colour in overlay.colorscale]
    assert colours[0] == "#000000"
    assert not any(colour.startswith("#0000") for colour in colours[1:])


def test_overlay_keeps_rows_top_down(photo, heatmap):
    figure = overlay_figure(photo, heatmap, 0.5)
    assert figure.layout.yaxis.autorange == "reversed"
    assert figure.layout.yaxis.scaleanchor == "x"


@pytest.mark.parametrize(
    ("rgb_shape", "map_shape", "opacity", "message"),
    [
        ((SIDE, SIDE), (SIDE, SIDE), 0.5, "RGB image"),
        ((SIDE, SIDE, 4), (SIDE, SIDE), 0.5, "RGB image"),
        ((SIDE, SIDE, 3), (SIDE, SIDE + 1), 0.5, "heatmap of shape"),
        ((SIDE, SIDE, 3), (SIDE, SIDE), 1.5, "opacity"),
        ((SIDE, SIDE, 3), (SIDE, SIDE), -0.1, "opacity"),
    ],
)
def test_overlay_rejects_invalid_input(rgb_shape, map_shape, opacity, message):
    rgb = np.zeros(rgb_shape, dtype=np.uint8)
    with pytest.raises(ValueError, match=message):
        overlay_figure(rgb, np.zeros(map_shape), opacity)
