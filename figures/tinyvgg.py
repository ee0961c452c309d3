"""Plotly figures of the Tiny VGG page: the input image, class probabilities,
feature maps, kernels, dense activations, the loss curve and the confusion
matrix.

Every builder takes arrays from the engine and returns a `go.Figure`. None
of them runs the network. Signed values (kernels, dense outputs before
ReLU) use a diverging scale centred on zero.
"""

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from figures.feature_maps import (
    DIVERGING_SCALE,
    feature_map_grid,
    image_figure,
    mosaic,
)

BAR_COLOUR = "#94a3b8"
TOP_COLOUR = "#1f4e79"  # the predicted class and positive values
NEGATIVE_COLOUR = "#b2182b"
BATCH_COLOUR = "rgba(100, 116, 139, 0.45)"
EPOCH_COLOUR = "#c2410c"
CHANCE_COLOUR = "#64748b"
MAP_COLUMNS = 8  # feature-map tiles per row, so 16 channels make two rows
RGB_STRIP_HEIGHT_PX = 150  # eight 3x3 filters side by side fill the width
KERNEL_WIDTH_PX = 820  # expected width of a kernel grid in a wide page
KERNEL_MAX_PX = 640
TITLE_PX = 40
INPUT_HEIGHT_PX = 300


def input_figure(image: np.ndarray, title: str = "") -> go.Figure:
    """Draw a network input, float `(3, H, W)` in [0, 1], with its RGB values."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected an image of shape (3, H, W), got {image.shape}")
    rgb = np.clip(np.rint(image.transpose(1, 2, 0) * 255), 0, 255)  # (H, W, 3)
    return image_figure(rgb.astype(np.uint8), title, height=INPUT_HEIGHT_PX)


def probability_figure(probabilities: np.ndarray,
                       classes: Sequence[str]) -> go.Figure:
    """Draw the softmax output `(K,)` as horizontal bars, the top class dark."""
    if probabilities.shape != (len(classes),):
        raise ValueError(
            f"expected {len(classes)} probabilities, got shape "
            f"{probabilities.shape}")
    top = int(np.argmax(probabilities))
    colours = [TOP_COLOUR if k == top else BAR_COLOUR for k in range(len(classes))]
    figure = go.Figure(go.Bar(
        x=probabilities, y=list(classes), orientation="h",
        marker_color=colours,
        text=[f"{100 * p:.1f}%" for p in probabilities], textposition="outside",
        cliponaxis=False,
        hovertemplate="%{y}: %{x:.4f}<extra></extra>",
    ))
    figure.update_xaxes(range=[0, 1.15], tickformat=".0%",
                        title="probability (softmax of fc2)")
    figure.update_yaxes(autorange="reversed")  # first class at the top
    figure.update_layout(height=300, margin={"l": 0, "r": 10, "t": 10, "b": 0})
    return figure


def feature_maps_figure(maps: np.ndarray) -> go.Figure:
    """Draw every channel of one layer's `(C, H, W)` output as a row of tiles.

    Each tile is scaled by its own largest absolute value, as in
    `figures.feature_maps.feature_map_grid`.
    """
    channels = np.arange(maps.shape[0])
    return feature_map_grid(maps, channels, min(MAP_COLUMNS, len(channels)))


def kernel_figure(W: np.ndarray) -> go.Figure:
    """Draw conv weights `(F, C, kh, kw)` as a grid: one column per filter,
    one row per input channel, on one colour scale centred on zero.

    The shared scale keeps weights of different filters comparable.
    """
    if W.ndim != 4:
        raise ValueError(f"expected weights of shape (F, C, kh, kw), got {W.shape}")
    F, C, kh, kw = W.shape
    tiles = W.transpose(1, 0, 2, 3).reshape(C * F, kh, kw)  # row c, column f
    z = mosaic(tiles, F)
    index = np.arange(C * F, dtype=np.float32)
    filters = mosaic(np.broadcast_to((index % F)[:, None, None], tiles.shape), F)
    inputs = mosaic(np.broadcast_to((index // F)[:, None, None], tiles.shape), F)
    limit = float(np.abs(W).max()) or 1.0
    figure = go.Figure(go.Heatmap(
        z=z, customdata=np.stack([filters, inputs], axis=-1),
        colorscale=DIVERGING_SCALE, zmid=0, zmin=-limit, zmax=limit,
        hoverongaps=False,
        hovertemplate=("filter %{customdata[0]:d}, input channel "
                       "%{customdata[1]:d}<br>weight %{z:.4f}<extra></extra>"),
        colorbar={"title": {"text": "weight", "side": "right"}, "thickness": 12},
    ))
    _pixel_axes(figure)
    figure.update_xaxes(title="filter (output channel)")
    figure.update_yaxes(title="input channel")
    # Fit the grid to the page's width, but no taller than KERNEL_MAX_PX.
    height = KERNEL_WIDTH_PX * z.shape[0] / z.shape[1] + 2 * TITLE_PX
    figure.update_layout(height=int(min(height, KERNEL_MAX_PX)))
    return figure


def rgb_kernel_figure(W: np.ndarray) -> go.Figure:
    """Draw first-layer weights `(F, 3, kh, kw)` as small colour images.

    Weights are mapped to `0.5 + W / (2 max|W|)` per colour channel, so
    grey is a weight of zero and a bright red pixel a large positive weight
    on the red channel: the colour that excites the filter most there.
    """
    if W.ndim != 4 or W.shape[1] != 3:
        raise ValueError(f"expected weights of shape (F, 3, kh, kw), got {W.shape}")
    F, _, kh, kw = W.shape
    scaled = 0.5 + W / (2 * (float(np.abs(W).max()) or 1.0))  # in [0, 1]
    gap = 1
    strip = np.full((kh, F * (kw + gap) - gap, 3), 255, dtype=np.uint8)
    for f in range(F):
        left = f * (kw + gap)
        tile = np.rint(scaled[f].transpose(1, 2, 0) * 255)  # (kh, kw, 3)
        strip[:, left:left + kw] = tile.astype(np.uint8)
    figure = image_figure(strip, height=RGB_STRIP_HEIGHT_PX)
    figure.update_traces(hovertemplate=None, hoverinfo="skip")
    return figure


def dense_figure(values: np.ndarray, title: str,
                 labels: Sequence[str] | None = None) -> go.Figure:
    """Draw a dense layer's output `(K,)` as bars, negative values red.

    `labels` names the units on the x axis; without it they are numbered.
    """
    colours = np.where(values < 0, NEGATIVE_COLOUR, TOP_COLOUR)
    x = list(labels) if labels is not None else np.arange(len(values))
    figure = go.Figure(go.Bar(
        x=x, y=values, marker_color=list(colours),
        hovertemplate="%{x}<br>value %{y:.4g}<extra></extra>"))
    figure.update_xaxes(title="unit" if labels is None else None)
    figure.update_layout(title={"text": title, "font": {"size": 15}}, height=260,
                         margin={"l": 0, "r": 0, "t": TITLE_PX, "b": 0})
    return figure


def loss_figure(losses: Sequence[float], epoch_losses: Sequence[float],
                batches_per_epoch: int, total_epochs: int,
                n_classes: int | None = None) -> go.Figure:
    """Draw the cost of every batch and the mean cost of every epoch.

    The x axis is in epochs, batch `i` at `(i + 1) / batches_per_epoch`,
    and spans `total_epochs`, so the curve grows towards the right edge.
    With `n_classes`, a dashed line marks `ln(n_classes)`: the cross-entropy
    of a uniform guess, where training from random weights starts.
    """
    batch_x = (np.arange(len(losses)) + 1) / batches_per_epoch
    epoch_x = np.arange(1, len(epoch_losses) + 1)
    figure = go.Figure([
        go.Scatter(x=batch_x, y=list(losses), mode="lines", name="each batch",
                   line={"color": BATCH_COLOUR, "width": 1},
                   hovertemplate="epoch %{x:.2f}<br>cost %{y:.4f}<extra></extra>"),
        go.Scatter(x=epoch_x, y=list(epoch_losses), mode="lines+markers",
                   name="epoch mean", line={"color": EPOCH_COLOUR, "width": 3},
                   hovertemplate="epoch %{x}<br>mean cost %{y:.4f}<extra></extra>"),
    ])
    if n_classes is not None:
        figure.add_hline(y=float(np.log(n_classes)), line_dash="dash",
                         line_color=CHANCE_COLOUR,
                         annotation_text=f"uniform guess: ln {n_classes}",
                         annotation_position="top right")
    figure.update_xaxes(title="epoch", range=[0, max(total_epochs, 1)])
    figure.update_yaxes(title="cost J (cross-entropy)", rangemode="tozero")
    figure.update_layout(height=320, margin={"l": 0, "r": 0, "t": 10, "b": 0},
                         legend={"orientation": "h", "y": 1.12})
    return figure


def confusion_figure(confusion: np.ndarray, classes: Sequence[str]) -> go.Figure:
    """Draw a confusion matrix, true class by row and prediction by column."""
    figure = go.Figure(go.Heatmap(
        z=confusion, x=list(classes), y=list(classes), colorscale="Blues",
        text=confusion, texttemplate="%{text}", showscale=False,
        hovertemplate=("true %{y}, predicted %{x}<br>%{z} images"
                       "<extra></extra>")))
    figure.update_xaxes(title="predicted class", side="top")
    figure.update_yaxes(title="true class", autorange="reversed")
    figure.update_layout(height=340, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return figure


def _pixel_axes(figure: go.Figure) -> None:
    """Hide tick labels, keep cells square and put row 0 at the top."""
    figure.update_xaxes(showticklabels=False, ticks="", showgrid=False,
                        zeroline=False, constrain="domain")
    figure.update_yaxes(showticklabels=False, ticks="", showgrid=False,
                        zeroline=False, autorange="reversed", scaleanchor="x",
                        constrain="domain")
    figure.update_layout(margin={"l": 0, "r": 0, "t": 10, "b": 0},
                         plot_bgcolor="white")
