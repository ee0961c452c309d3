"""Plotly figures of a training run: costs, the decision boundary, each
hidden neuron over the input plane, gradient flow and layer histograms.

Probabilities use the diverging scale of the other figures centred on 0.5,
so the decision boundary is where red turns blue. Neuron outputs are
centred on zero. Every builder takes engine results and returns a
`go.Figure`, and none of them trains or evaluates a network.
"""

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from engine.datasets import Split
from engine.plane import PlaneOutputs
from engine.training import EpochRecord
from figures.feature_maps import mosaic, normalise_channels

DIVERGING_SCALE = "RdBu"  # plotly.py maps this to red low, blue high
# The decision boundary's background mixes RdBu with this share of white,
# so that points of either colour stand out on confident regions.
BACKGROUND_WHITE = 0.3
LAYER_SCALE = "Viridis"  # gradient-flow lines, dark for the first layer
TRAIN_COLOUR = "#1f4e79"
TEST_COLOUR = "#c2410c"
CLASS_COLOURS = ("#b2182b", "#2166ac")  # class 0 red, class 1 blue
# Lines of the gradient-flow chart are averaged down to this many points,
# so a long run sends a few kilobytes per redraw instead of megabytes.
MAX_LINE_POINTS = 600
HISTOGRAM_BINS = 30
NEURON_RESOLUTION = 20  # grid points per side of one neuron's picture
MIN_TILE_COLUMNS = 8  # narrow layers keep small tiles instead of huge ones
GRID_WIDTH_PX = 900  # width of a full row of neuron pictures
MIN_TILE_PX, MAX_TILE_PX = 48, 100  # side of one neuron's picture
TITLE_PX = 28  # room for a layer's title above its row
COLORBAR_PX = 90
ROW_PX = 150  # height of one histogram row
HISTOGRAM_COLUMNS = {
    "weights": "Weights W",
    "activations": "Activations A",
    "gradients": "Gradients dW",
}


def pale_scale(name: str, white: float, trim: float = 0.1,
               steps: int = 11) -> list[list]:
    """Return the named colour scale, lightened for use behind markers.

    The darkest `trim` of each end is left out and every colour is mixed
    with a share `white` of white.
    """
    stops = np.linspace(0, 1, steps)
    samples = list(trim + (1 - 2 * trim) * stops)
    colours = sample_colorscale(name, samples, colortype="tuple")
    return [[float(stop), "rgb({:.0f},{:.0f},{:.0f})".format(
        *(255 * ((1 - white) * channel + white) for channel in colour))]
        for stop, colour in zip(stops, colours, strict=True)]


def grid_axes(rows: int, cols: int, h_gap: float, v_gap: float
              ) -> tuple[dict, list[tuple[str, str]]]:
    """Lay out a grid of subplots in paper coordinates, row by row from the top.

    Returns the layout's axis entries (`xaxis`, `yaxis`, `xaxis2`, ...) and
    each cell's `(xaxis, yaxis)` names for its traces. This is what
    `make_subplots` does, built as plain dicts: that is several times
    faster, which counts for figures redrawn a few times a second.
    """
    width = (1 - h_gap * (cols - 1)) / cols
    height = (1 - v_gap * (rows - 1)) / rows
    layout, cells = {}, []
    for row in range(rows):
        for col in range(cols):
            suffix = "" if row == col == 0 else str(row * cols + col + 1)
            left, top = col * (width + h_gap), 1 - row * (height + v_gap)
            # Rounding can leave an edge a hair outside [0, 1], which
            # Plotly rejects.
            layout[f"xaxis{suffix}"] = {
                "domain": [max(left, 0.0), min(left + width, 1.0)],
                "anchor": f"y{suffix}"}
            layout[f"yaxis{suffix}"] = {
                "domain": [max(top - height, 0.0), min(top, 1.0)],
                "anchor": f"x{suffix}"}
            cells.append((f"x{suffix}", f"y{suffix}"))
    return layout, cells


def decade_ticks(values: np.ndarray) -> dict:
    """Return log-axis settings that label only powers of ten when `values`
    span two decades or more; narrower spans keep Plotly's 2 and 5 labels."""
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size and np.log10(positive.max() / positive.min()) >= 2:
        return {"dtick": 1}
    return {}


def _title(text: str, x: float, y: float, **options) -> dict:
    """Return a subplot title at paper coordinates `(x, y)`, centred above."""
    return {"text": text, "x": x, "y": y, "xref": "paper", "yref": "paper",
            "showarrow": False, "xanchor": "center", "yanchor": "bottom",
            "font": {"size": 14}, **options}


def history_figure(history: Sequence[EpochRecord],
                   shown_epoch: int | None = None) -> go.Figure:
    """Draw the cost and the accuracy per epoch on the training and test sets.

    The cost axis is logarithmic, because the cost shrinks by orders of
    magnitude on separable data. `shown_epoch` draws a dotted line there.
    """
    # NumPy arrays go to the browser as binary, lists value by value.
    epochs = np.array([record.epoch for record in history])
    train_loss = np.array([record.train_loss for record in history])
    test_loss = np.array([record.test_loss for record in history])
    layout, ((x_cost, y_cost), (x_accuracy, y_accuracy)) = grid_axes(1, 2, 0.12, 0)
    mode = "lines" if len(history) > 1 else "markers"
    series = [
        ("training set", TRAIN_COLOUR, "solid", train_loss,
         np.array([record.train_accuracy for record in history])),
        ("test set", TEST_COLOUR, "dash", test_loss,
         np.array([record.test_accuracy for record in history])),
    ]
    traces = []
    for name, colour, dash, loss, accuracy in series:
        line = {"color": colour, "dash": dash, "width": 2}
        traces.append(go.Scatter(
            x=epochs, y=loss, mode=mode, line=line, name=name,
            legendgroup=name, xaxis=x_cost, yaxis=y_cost,
            hovertemplate=f"epoch %{{x}}<br>{name} cost %{{y:.4g}}<extra></extra>",
        ))
        traces.append(go.Scatter(
            x=epochs, y=accuracy, mode=mode, line=line, name=name,
            legendgroup=name, showlegend=False, xaxis=x_accuracy,
            yaxis=y_accuracy,
            hovertemplate=(f"epoch %{{x}}<br>{name} accuracy "
                           "%{y:.1%}<extra></extra>"),
        ))
    for axis in ("xaxis", "xaxis2"):
        layout[axis]["title"] = {"text": "epoch"}
    layout["yaxis"].update(type="log", exponentformat="power",
                           **decade_ticks(np.concatenate([train_loss, test_loss])))
    layout["yaxis2"].update(range=[0, 1.02], tickformat=".0%")
    layout["annotations"] = [
        _title("Cost J (cross-entropy)", sum(layout["xaxis"]["domain"]) / 2, 1),
        _title("Accuracy", sum(layout["xaxis2"]["domain"]) / 2, 1),
    ]
    if shown_epoch is not None:
        layout["shapes"] = [
            {"type": "line", "x0": shown_epoch, "x1": shown_epoch, "xref": x,
             "y0": 0, "y1": 1, "yref": "paper",
             "line": {"dash": "dot", "color": "grey"}}
            for x in (x_cost, x_accuracy)]
    layout.update(height=340, margin={"t": 40, "b": 40},
                  legend={"orientation": "h", "y": -0.25})
    return go.Figure(data=traces, layout=layout)


def decision_boundary_figure(plane: PlaneOutputs, data: Split,
                             show_test: bool = True) -> go.Figure:
    """Draw P(class 1) over the plane, the 0.5 contour and the data points.

    Training points are circles and test points are triangles, both
    coloured by their label. `plane.probability` is indexed `[x2, x1]`.
    """
    figure = go.Figure()
    figure.add_trace(go.Heatmap(
        x=plane.x1, y=plane.x2, z=plane.probability,
        colorscale=pale_scale(DIVERGING_SCALE, BACKGROUND_WHITE),
        zmin=0, zmax=1, zmid=0.5, zsmooth="fast",
        colorbar={"title": {"text": "P(class 1)", "side": "right"},
                  "thickness": 12},
        hovertemplate=("x₁ %{x:.2f}, x₂ %{y:.2f}<br>"
                       "P(class 1) %{z:.3f}<extra></extra>"),
    ))
    figure.add_trace(go.Contour(
        x=plane.x1, y=plane.x2, z=plane.probability,
        contours={"start": 0.5, "end": 0.5, "size": 1, "coloring": "lines"},
        colorscale=[[0, "black"], [1, "black"]], line={"width": 2},
        showscale=False,
        name="P = 0.5", hoverinfo="skip",
    ))
    sets = [("training", "circle", data.X_train, data.y_train)]
    if show_test:
        sets.append(("test", "triangle-up", data.X_test, data.y_test))
    for name, symbol, X, y in sets:
        for label in (0, 1):
            points = X[y == label]
            figure.add_trace(go.Scatter(
                x=points[:, 0], y=points[:, 1], mode="markers",
                name=f"{name}, class {label}",
                marker={"symbol": symbol, "size": 8,
                        "color": CLASS_COLOURS[label],
                        "line": {"color": "white" if name == "training"
                                 else "black", "width": 1}},
                hovertemplate=(f"{name} point, class {label}<br>"
                               "x₁ %{x:.2f}, x₂ %{y:.2f}<extra></extra>"),
            ))
    extent = float(plane.x1[-1])
    figure.update_xaxes(title_text="x₁", range=[-extent, extent],
                        constrain="domain")
    figure.update_yaxes(title_text="x₂", range=[-extent, extent],
                        scaleanchor="x", constrain="domain")
    figure.update_layout(height=460, margin={"t": 20, "b": 40},
                         legend={"orientation": "h", "y": -0.15})
    return figure


def neuron_grid_figure(plane: PlaneOutputs) -> go.Figure:
    """Draw every hidden neuron's output over the plane, one row per layer.

    Each picture is divided by its own largest absolute value, so a neuron
    with small outputs shows its shape as clearly as a strong one. Hovering
    shows the neuron and its output before that scaling. Needs at least one
    hidden layer.
    """
    if not plane.hidden:
        raise ValueError("the network has no hidden layer to draw")
    rows = len(plane.hidden)
    columns = max(MIN_TILE_COLUMNS, *(A.shape[0] for A in plane.hidden))
    tile_px = int(np.clip(GRID_WIDTH_PX / columns, MIN_TILE_PX, MAX_TILE_PX))
    plot_height = rows * (tile_px + TITLE_PX)
    layout, cells = grid_axes(rows, 1, 0, TITLE_PX / plot_height)
    side = len(plane.x1)
    traces, titles = [], []
    for l, (A, (x, y)) in enumerate(zip(plane.hidden, cells, strict=True), 1):
        traces.append(go.Heatmap(
            z=mosaic(normalise_channels(A), columns), customdata=mosaic(A, columns),
            # One unit of x per tile and its gap, centred on the neuron's
            # number, so the hover text can name the neuron by rounding x.
            x0=1 - side / 2 / (side + 1), dx=1 / (side + 1), dy=1 / (side + 1),
            xaxis=x, yaxis=y,
            colorscale=DIVERGING_SCALE, zmin=-1, zmax=1, showscale=l == 1,
            colorbar={"title": {"text": "share of<br>neuron's peak",
                                "side": "right"}, "thickness": 12,
                      "len": min(1.0, 300 / plot_height), "y": 1,
                      "yanchor": "top"},
            hoverongaps=False,
            hovertemplate=(f"neuron %{{x:.0f}} of layer {l}<br>"
                           "a = %{customdata:.3g}<extra></extra>"),
        ))
        layout[f"xaxis{x[1:]}"]["visible"] = False
        layout[f"yaxis{y[1:]}"].update(visible=False, scaleanchor=x)
        titles.append(_title(f"Hidden layer {l}: {A.shape[0]} neurons", 0,
                             layout[f"yaxis{y[1:]}"]["domain"][1],
                             xanchor="left", font={"size": 13}))
    layout.update(annotations=titles, width=columns * tile_px + COLORBAR_PX,
                  height=plot_height + 20,
                  margin={"t": TITLE_PX, "b": 0, "l": 0, "r": COLORBAR_PX})
    return go.Figure(data=traces, layout=layout)


def thin_log_series(values: np.ndarray, max_points: int = MAX_LINE_POINTS
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Average a positive series `(T, L)` down to at most `max_points` rows.

    Rows are grouped into runs of equal length, the last one shorter when
    they do not divide T, and each run is replaced by its geometric mean,
    the right average on a log axis, placed at the run's middle. Returns
    the x positions `(n,)` (row numbers from 1) and the values `(n, L)`.
    Zeros average in as the smallest positive float32.
    """
    T = len(values)
    x = np.arange(1, T + 1, dtype=float)
    if T <= max_points:
        return x, values
    size = -(-T // max_points)  # ceiling division
    starts = np.arange(0, T, size)
    counts = np.diff(np.append(starts, T))  # (n,)
    logs = np.log(np.maximum(values, np.finfo(np.float32).tiny))
    means = np.exp(np.add.reduceat(logs, starts, axis=0) / counts[:, None])
    return np.add.reduceat(x, starts) / counts, means


def gradient_flow_figure(grad_norms: np.ndarray, iterations_per_epoch: int,
                         shown_iteration: int | None = None,
                         y_range: tuple[float, float] | None = None,
                         title: str = "") -> go.Figure:
    """Draw the norm of each dense layer's dW per iteration on a log axis.

    `grad_norms` is `(iterations, layers)`. `y_range` gives the axis limits
    as powers of ten, so that two runs can share one scale.
    """
    T, L = grad_norms.shape
    x, norms = thin_log_series(grad_norms)
    colours = sample_colorscale(LAYER_SCALE, [l / max(L - 1, 1) * 0.9
                                              for l in range(L)])
    figure = go.Figure()
    for l in range(L):
        name = "output layer" if l == L - 1 else f"layer {l + 1}"
        figure.add_trace(go.Scatter(
            x=x, y=norms[:, l], mode="lines", name=name,
            line={"color": colours[l], "width": 2},
            customdata=x / iterations_per_epoch,
            hovertemplate=(f"{name}<br>iteration %{{x:.0f}} "
                           "(epoch %{customdata:.1f})<br>"
                           "‖dW‖ %{y:.3g}<extra></extra>"),
        ))
    if shown_iteration is not None and T:
        figure.add_vline(x=shown_iteration, line={"dash": "dot", "color": "grey"})
    figure.update_xaxes(title_text="iteration (one batch each)")
    figure.update_yaxes(title_text="‖dW‖", type="log", exponentformat="power",
                        range=list(y_range) if y_range else None,
                        **decade_ticks(grad_norms))
    figure.update_layout(height=380, margin={"t": 40 if title else 20, "b": 40},
                         title={"text": title} if title else None,
                         legend={"orientation": "h", "y": -0.25})
    return figure


def shared_log_range(*grad_norms: np.ndarray) -> tuple[float, float] | None:
    """Return axis limits, as powers of ten, that fit every positive norm."""
    positive = [norms[norms > 0] for norms in grad_norms]
    positive = [values for values in positive if values.size]
    if not positive:
        return None
    low = min(float(values.min()) for values in positive)
    high = max(float(values.max()) for values in positive)
    return np.floor(np.log10(low)) - 0.2, np.ceil(np.log10(high)) + 0.2


def histogram_figure(statistics: dict[str, dict[str, np.ndarray]]
                     ) -> go.Figure:
    """Draw histograms of each dense layer's weights, activations and dW.

    `statistics` maps each dense layer's name to its flat arrays, as
    `engine.plane.layer_statistics` returns. Rows are layers, the output
    layer last, whose activations are the logits Z.
    """
    if not statistics:
        raise ValueError("expected the statistics of at least one dense layer")
    names = list(statistics)
    rows = len(names)
    layout, cells = grid_axes(rows, 3, 0.06, 0.25 / rows)
    traces = []
    for row, name in enumerate(names):
        for col, kind in enumerate(HISTOGRAM_COLUMNS):
            x, y = cells[row * 3 + col]
            traces.append(_histogram_bars(statistics[name][kind],
                                          HISTOGRAM_COLUMNS[kind], x, y))
            layout[f"xaxis{x[1:]}"].update(tickfont={"size": 10}, nticks=5,
                                           exponentformat="e")
            layout[f"yaxis{y[1:]}"]["showticklabels"] = False
    column_titles = [
        _title(text, sum(layout[f"xaxis{cells[col][0][1:]}"]["domain"]) / 2, 1)
        for col, text in enumerate(HISTOGRAM_COLUMNS.values())]
    row_names = [f"layer {l}" for l in range(1, rows)] + ["output layer"]
    for row, text in enumerate(row_names):
        layout[f"yaxis{cells[row * 3][1][1:]}"]["title"] = {"text": text}
    layout.update(annotations=column_titles,
                  height=rows * ROW_PX + 60, showlegend=False, bargap=0.05,
                  margin={"t": 40, "b": 20})
    return go.Figure(data=traces, layout=layout)


def _histogram_bars(values: np.ndarray, quantity: str, x: str, y: str) -> go.Bar:
    # Counting in NumPy sends 30 bars instead of every value to the browser.
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        finite = np.zeros(1)
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
    return go.Bar(
        x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges),
        marker={"color": TRAIN_COLOUR}, xaxis=x, yaxis=y,
        customdata=np.stack([edges[:-1], edges[1:]], axis=1),
        hovertemplate=(f"{quantity} in [%{{customdata[0]:.3g}}, "
                       "%{customdata[1]:.3g})<br>count %{y}<extra></extra>"),
    )
