"""The Tiny VGG page's figures: what each one draws from the engine's arrays."""

import numpy as np
import pytest

from engine.shapes import CLASSES
from figures.tinyvgg import (
    BAR_COLOUR,
    NEGATIVE_COLOUR,
    TOP_COLOUR,
    confusion_figure,
    dense_figure,
    feature_maps_figure,
    input_figure,
    kernel_figure,
    loss_figure,
    probability_figure,
    rgb_kernel_figure,
)


def test_input_figure_pixels():
    image = np.zeros((3, 4, 5), np.float32)
    image[0, 1, 2] = 1.0
    image[2, 3, 4] = 0.5
    z = np.asarray(input_figure(image).data[0].z)
    assert z.shape == (4, 5, 3)
    assert z[1, 2].tolist() == [255, 0, 0]
    assert z[3, 4].tolist() == [0, 0, 128]


def test_input_figure_rejects_channels_last():
    with pytest.raises(ValueError, match="shape"):
        input_figure(np.zeros((32, 32, 3)))


def test_probability_figure_marks_top_class():
    probabilities = np.array([0.1, 0.05, 0.6, 0.1, 0.1, 0.05])
    bar = probability_figure(probabilities, CLASSES).data[0]
    assert list(bar.y) == list(CLASSES)
    assert bar.marker.color[2] == TOP_COLOUR
    assert [c for k, c in enumerate(bar.marker.color) if k != 2] == [BAR_COLOUR] * 5
    assert bar.text[2] == "60.0%"


def test_probability_figure_rejects_wrong_length():
    with pytest.raises(ValueError, match="6 probabilities"):
        probability_figure(np.ones(5) / 5, CLASSES)


@pytest.mark.parametrize("channels, rows", [(8, 1), (16, 2)])
def test_feature_maps_rows_of_eight(channels, rows):
    maps = np.random.default_rng(0).random((channels, 8, 8))
    z = np.asarray(feature_maps_figure(maps).data[0].z)
    assert z.shape == (rows * 9 - 1, 8 * 9 - 1)  # 8x8 tiles, 1-cell gaps


def test_kernel_figure_layout_and_scale():
    W = np.random.default_rng(0).standard_normal((4, 3, 3, 3), dtype=np.float32)
    heatmap = kernel_figure(W).data[0]
    z = np.asarray(heatmap.z, dtype=float)
    assert z.shape == (3 * 4 - 1, 4 * 4 - 1)
    assert heatmap.zmax == pytest.approx(np.abs(W).max())
    assert heatmap.zmin == -heatmap.zmax
    # Input channel 1 of filter 2 starts at row 1 * 4 and column 2 * 4.
    assert np.array_equal(z[4:7, 8:11], W[2, 1])
    filter_index, channel = np.asarray(heatmap.customdata)[4, 8]
    assert (filter_index, channel) == (2, 1)


def test_kernel_figure_rejects_dense_weights():
    with pytest.raises(ValueError, match="F, C, kh, kw"):
        kernel_figure(np.zeros((6, 64)))


def test_rgb_kernels_grey_at_zero():
    W = np.zeros((2, 3, 3, 3))
    W[0, 0, 1, 1] = 1.0  # the largest weight: full red in the centre
    strip = np.asarray(rgb_kernel_figure(W).data[0].z)
    assert strip.shape == (3, 2 * 4 - 1, 3)
    assert strip[1, 1].tolist() == [255, 128, 128]
    assert strip[0, 0].tolist() == [128, 128, 128]
    assert strip[0, 3].tolist() == [255, 255, 255]  # the gap


def test_rgb_kernels_reject_grey_input():
    with pytest.raises(ValueError, match="F, 3, kh, kw"):
        rgb_kernel_figure(np.zeros((8, 8, 3, 3)))


def test_dense_figure_colours_sign():
    bar = dense_figure(np.array([-1.0, 0.0, 2.0]), "fc2", ["a", "b", "c"]).data[0]
    assert list(bar.x) == ["a", "b", "c"]
    assert list(bar.marker.color) == [NEGATIVE_COLOUR, TOP_COLOUR, TOP_COLOUR]


def test_loss_figure_positions():
    figure = loss_figure([3.0, 2.0, 1.5, 1.0], [2.5, 1.25], batches_per_epoch=2,
                         total_epochs=5)
    batches, epochs = figure.data
    assert np.asarray(batches.x).tolist() == [0.5, 1.0, 1.5, 2.0]
    assert np.asarray(epochs.x).tolist() == [1, 2]
    assert list(figure.layout.xaxis.range) == [0, 5]


def test_loss_figure_marks_uniform_guess():
    figure = loss_figure([1.9], [], batches_per_epoch=4, total_epochs=1,
                         n_classes=6)
    line = figure.layout.shapes[0]
    assert line.y0 == line.y1 == pytest.approx(np.log(6))


def test_confusion_figure_counts():
    confusion = np.arange(36).reshape(6, 6)
    heatmap = confusion_figure(confusion, CLASSES).data[0]
    assert np.array_equal(np.asarray(heatmap.z), confusion)
    assert list(heatmap.x) == list(CLASSES)
    assert list(heatmap.y) == list(CLASSES)
