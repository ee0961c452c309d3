"""Tests of the training playground's figures: traces, axes and hover data."""

import numpy as np
import plotly.graph_objects as go
import pytest

from engine.plane import evaluate_plane, layer_statistics
from engine.training import TrainConfig, Trainer
from figures.training import (
    MAX_LINE_POINTS,
    decade_ticks,
    decision_boundary_figure,
    gradient_flow_figure,
    grid_axes,
    histogram_figure,
    history_figure,
    neuron_grid_figure,
    pale_scale,
    shared_log_range,
    thin_log_series,
)


@pytest.fixture(scope="module")
def deep_trainer() -> Trainer:
    trainer = Trainer(TrainConfig(hidden=[16] * 6, activation="relu", init="he"))
    trainer.train(2)
    return trainer


@pytest.fixture(scope="module")
def trainer() -> Trainer:
    trainer = Trainer(TrainConfig(dataset="xor", hidden=[5, 3], epochs=4))
    trainer.train(4)
    return trainer


def plane(trainer: Trainer, resolution: int = 12):
    return evaluate_plane(trainer.network, trainer.config.features,
                          resolution=resolution)


def trace_types(figure: go.Figure) -> list[str]:
    return [trace.type for trace in figure.data]


@pytest.mark.parametrize("rows, cols, v_gap", [(1, 2, 0.0), (6, 1, 0.05),
                                               (7, 3, 0.25 / 7)])
def test_grid_axes_tile_the_paper(rows, cols, v_gap):
    layout, cells = grid_axes(rows, cols, 0.06, v_gap)

    assert len(cells) == rows * cols
    assert cells[0] == ("x", "y")
    assert cells[-1] == (f"x{rows * cols}", f"y{rows * cols}")
    domains = [axis["domain"] for axis in layout.values()]
    assert all(0 <= low < high <= 1 for low, high in domains)
    go.Figure(layout=layout)  # Plotly accepts every domain


def test_history_has_cost_and_accuracy_per_set(trainer):
    figure = history_figure(trainer.history)

    assert trace_types(figure) == ["scatter"] * 4
    assert [trace.name for trace in figure.data] == [
        "training set", "training set", "test set", "test set"]
    assert list(figure.data[0].x) == [0, 1, 2, 3, 4]
    assert figure.layout.yaxis.type == "log"
    assert not figure.layout.shapes


def test_history_marks_shown_epoch(trainer):
    figure = history_figure(trainer.history, shown_epoch=2)

    assert len(figure.layout.shapes) == 2  # one line on each chart
    assert {shape.x0 for shape in figure.layout.shapes} == {2}


@pytest.mark.parametrize("show_test, points", [(True, 4), (False, 2)])
def test_decision_boundary_traces(trainer, show_test, points):
    figure = decision_boundary_figure(plane(trainer), trainer.data, show_test)

    assert trace_types(figure) == ["heatmap", "contour"] + ["scatter"] * points
    heatmap = figure.data[0]
    assert (heatmap.zmin, heatmap.zmid, heatmap.zmax) == (0, 0.5, 1)
    drawn = sum(len(trace.x) for trace in figure.data[2:])
    expected = len(trainer.data.X_train)
    if show_test:
        expected += len(trainer.data.X_test)
    assert drawn == expected


def test_test_points_have_own_marker(trainer):
    figure = decision_boundary_figure(plane(trainer), trainer.data)
    symbols = {trace.name: trace.marker.symbol for trace in figure.data[2:]}

    assert symbols["training, class 0"] != symbols["test, class 0"]
    assert symbols["training, class 1"] == symbols["training, class 0"]


def test_pale_scale_mixes_in_white():
    scale = pale_scale("RdBu", 1.0, trim=0.1, steps=3)

    assert [stop for stop, _ in scale] == [0.0, 0.5, 1.0]
    assert {colour for _, colour in scale} == {"rgb(255,255,255)"}


def test_pale_scale_trims_darkest_ends():
    scale = pale_scale("RdBu", 0.0, trim=0.5, steps=2)

    assert scale[0][1] == scale[1][1]  # both ends are the middle colour


def test_neuron_grid_has_row_per_layer(trainer):
    figure = neuron_grid_figure(plane(trainer))

    assert trace_types(figure) == ["heatmap", "heatmap"]
    assert [a.text for a in figure.layout.annotations] == [
        "Hidden layer 1: 5 neurons", "Hidden layer 2: 3 neurons"]
    assert np.nanmax(np.abs(figure.data[0].z)) == pytest.approx(1.0)


def test_figures_of_deepest_network(deep_trainer):
    outputs = plane(deep_trainer)
    statistics = layer_statistics(deep_trainer.network, deep_trainer.X_train)

    assert len(neuron_grid_figure(outputs).data) == 6
    assert len(histogram_figure(statistics).data) == 21
    assert len(history_figure(deep_trainer.history, 1).data) == 4


def test_neuron_grid_hover_names_neuron(trainer):
    resolution = 12
    outputs = plane(trainer, resolution)
    heatmap = neuron_grid_figure(outputs).data[0]
    z = np.asarray(heatmap.z, dtype=float)
    columns = np.flatnonzero(~np.isnan(z[0]))
    x = heatmap.x0 + heatmap.dx * columns

    neuron = np.round(x).astype(int)
    expected = columns // (resolution + 1) + 1

    np.testing.assert_array_equal(neuron, expected)


def test_neuron_grid_hover_shows_raw_output(trainer):
    outputs = plane(trainer)
    heatmap = neuron_grid_figure(outputs).data[0]
    raw = np.asarray(heatmap.customdata, dtype=float)

    np.testing.assert_allclose(raw[:12, :12], outputs.hidden[0][0], rtol=1e-6)


def test_neuron_grid_needs_hidden_layer():
    trainer = Trainer(TrainConfig(hidden=[]))

    with pytest.raises(ValueError, match="no hidden layer"):
        neuron_grid_figure(plane(trainer))


@pytest.mark.parametrize("layers", [1, 3, 7])
def test_gradient_flow_line_per_layer(layers):
    norms = np.random.default_rng(0).uniform(1e-6, 1, (50, layers))
    figure = gradient_flow_figure(norms, iterations_per_epoch=10,
                                  shown_iteration=20)

    assert trace_types(figure) == ["scatter"] * layers
    assert figure.data[-1].name == "output layer"
    assert figure.layout.yaxis.type == "log"
    assert len(figure.layout.shapes) == 1


def test_gradient_flow_without_iterations():
    figure = gradient_flow_figure(np.zeros((0, 3)), iterations_per_epoch=5)

    assert len(figure.data) == 3
    assert all(len(trace.x) == 0 for trace in figure.data)


def test_gradient_flow_shares_axis_range():
    figure = gradient_flow_figure(np.ones((5, 2)), 5, y_range=(-8.0, 1.0))

    assert tuple(figure.layout.yaxis.range) == (-8.0, 1.0)


def test_thin_log_series_keeps_short_runs():
    values = np.arange(1, 11, dtype=float)[:, None]

    x, thinned = thin_log_series(values, max_points=20)

    np.testing.assert_array_equal(x, np.arange(1, 11))
    np.testing.assert_array_equal(thinned, values)


def test_thin_log_series_takes_geometric_means():
    values = np.tile([[1e-6, 1.0], [1e-2, 1.0]], (1000, 1))  # (2000, 2)

    x, thinned = thin_log_series(values, max_points=MAX_LINE_POINTS)

    assert len(x) <= MAX_LINE_POINTS
    assert thinned.shape == (len(x), 2)
    np.testing.assert_allclose(thinned[:, 0], 1e-4, rtol=1e-5)
    np.testing.assert_allclose(thinned[:, 1], 1.0)
    assert x[0] == pytest.approx(2.5)  # the middle of rows 1 to 4


def test_thin_log_series_keeps_last_rows():
    values = np.ones((2001, 1))
    values[-1] = 1e-3

    x, thinned = thin_log_series(values, max_points=MAX_LINE_POINTS)

    assert len(x) <= MAX_LINE_POINTS
    assert x[-1] == 2001
    assert thinned[-1, 0] == pytest.approx(1e-3)


@pytest.mark.parametrize("values, expected", [
    (np.array([1e-6, 0.0, 1.0]), {"dtick": 1}),
    (np.array([0.5, 0.9]), {}),
    (np.zeros(3), {}),
])
def test_decade_ticks_only_for_wide_spans(values, expected):
    assert decade_ticks(values) == expected


def test_shared_log_range_covers_every_norm():
    low, high = shared_log_range(np.array([[1e-7, 0.0]]), np.array([[3.0]]))

    assert low <= -7
    assert high >= np.log10(3.0)


def test_shared_log_range_without_positive_norms():
    assert shared_log_range(np.zeros((3, 2))) is None


def test_histograms_three_per_layer(trainer):
    trainer.step_batch()
    statistics = layer_statistics(trainer.network, trainer.X_train)

    figure = histogram_figure(statistics)

    assert trace_types(figure) == ["bar"] * 9
    counts = [int(np.sum(trace.y)) for trace in figure.data]
    assert counts[0] == 10  # W of the first layer is (5, 2)
    assert counts[1] == 5 * len(trainer.X_train)
    assert [a.text for a in figure.layout.annotations] == [
        "Weights W", "Activations A", "Gradients dW"]
    row_titles = [figure.layout[f"yaxis{k}"].title.text for k in ("", "4", "7")]
    assert row_titles == ["layer 1", "layer 2", "output layer"]


def test_histograms_need_a_layer():
    with pytest.raises(ValueError, match="at least one dense layer"):
        histogram_figure({})


def test_histogram_ignores_non_finite_values():
    values = np.array([1.0, np.nan, np.inf, 2.0])
    statistics = {"dense1": {"weights": values, "activations": values,
                             "gradients": np.zeros(0)}}

    figure = histogram_figure(statistics)

    assert [int(np.sum(trace.y)) for trace in figure.data] == [2, 2, 1]
