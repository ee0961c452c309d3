"""Tests for the prediction bar chart and the per-layer time chart."""

import pytest

from engine.layer_timing import LayerTime
from engine.predict import Prediction
from figures.predictions import (
    layer_costs,
    layer_time_figure,
    prediction_figure,
)

PREDICTIONS = [
    Prediction(285, "Egyptian cat", 0.62),
    Prediction(281, "tabby", 0.21),
    Prediction(134, "crane", 0.07),
    Prediction(517, "crane", 0.05),
    Prediction(282, "tiger cat", 0.03),
]
TIMINGS = [
    LayerTime("conv1_1", 0.030),
    LayerTime("relu1_1", 0.010),
    LayerTime("pool1", 0.010),
    LayerTime("fc6", 0.050),
]
MACS = {"conv1_1": 300, "fc6": 100}


def test_prediction_figure_is_horizontal_bar():
    figure = prediction_figure(PREDICTIONS)

    assert len(figure.data) == 1
    assert figure.data[0].type == "bar"
    assert figure.data[0].orientation == "h"


def test_prediction_figure_percent_values():
    figure = prediction_figure(PREDICTIONS)

    assert list(figure.data[0].x) == pytest.approx([62, 21, 7, 5, 3])
    assert list(figure.data[0].text) == ["62.0%", "21.0%", "7.0%", "5.0%", "3.0%"]
    assert tuple(figure.layout.xaxis.range) == (0, 100)


def test_prediction_figure_keeps_repeated_names_apart():
    figure = prediction_figure(PREDICTIONS)

    assert list(figure.data[0].y) == [0, 1, 2, 3, 4]
    assert list(figure.layout.yaxis.ticktext) == [p.label for p in PREDICTIONS]


def test_prediction_figure_most_probable_on_top():
    figure = prediction_figure(PREDICTIONS)

    assert figure.layout.yaxis.autorange == "reversed"


def test_prediction_figure_hover_names_class_index():
    figure = prediction_figure(PREDICTIONS)

    assert [row[1] for row in figure.data[0].customdata] == [
        285, 281, 134, 517, 282]
    assert "class %{customdata[1]}" in figure.data[0].hovertemplate


@pytest.mark.parametrize("count", [1, 5, 10])
def test_prediction_figure_height_grows_with_bars(count):
    predictions = [Prediction(i, f"class {i}", 0.01) for i in range(count)]

    figure = prediction_figure(predictions)

    assert figure.layout.height == 60 + 44 * count


def test_prediction_figure_rejects_empty_list():
    with pytest.raises(ValueError, match="at least one prediction"):
        prediction_figure([])


def test_layer_costs_shares_sum_to_one():
    costs = layer_costs(TIMINGS, MACS)

    assert sum(cost.time_share for cost in costs) == pytest.approx(1)
    assert sum(cost.macs_share for cost in costs) == pytest.approx(1)


@pytest.mark.parametrize(
    ("name", "time_share", "macs_share", "rate"),
    [("conv1_1", 0.3, 0.75, 10_000), ("relu1_1", 0.1, 0, 0),
     ("fc6", 0.5, 0.25, 2_000)],
)
def test_layer_costs_per_layer(name, time_share, macs_share, rate):
    cost = next(cost for cost in layer_costs(TIMINGS, MACS) if cost.name == name)

    assert cost.time_share == pytest.approx(time_share)
    assert cost.macs_share == pytest.approx(macs_share)
    assert cost.macs_per_second == pytest.approx(rate)


def test_layer_costs_zero_time_has_zero_rate():
    costs = layer_costs([LayerTime("conv1_1", 0.0)], {"conv1_1": 10})

    assert costs[0].macs_per_second == 0
    assert costs[0].time_share == 0


def test_layer_time_figure_bars_per_layer():
    figure = layer_time_figure(layer_costs(TIMINGS, MACS))

    assert [trace.name for trace in figure.data] == [
        "share of the time", "share of the MACs"]
    assert all(list(trace.x) == [t.name for t in TIMINGS] for trace in figure.data)
    assert figure.layout.barmode == "group"


def test_layer_time_figure_percent_and_hover():
    figure = layer_time_figure(layer_costs(TIMINGS, MACS))
    time_bars, macs_bars = figure.data

    assert list(time_bars.y) == pytest.approx([30, 10, 10, 50])
    assert list(macs_bars.y) == pytest.approx([75, 0, 0, 25])
    assert time_bars.customdata[0][0] == pytest.approx(30)  # milliseconds
    assert time_bars.customdata[0][1] == pytest.approx(1e-5)  # GMAC/s
    assert "GMAC/s" in time_bars.hovertemplate
