"""Plotly figures of convolutional feature maps and of the photos they come from.

A grid of many channels is one `go.Heatmap` over a mosaic of tiles with
blank gaps between them, which draws far faster than one subplot per
channel. Non-negative maps use Viridis, a perceptually uniform scale; maps
with negative values use the diverging scale of the other figures, centred
on zero.
"""

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

SEQUENTIAL_SCALE = "Viridis"
# plotly.py maps "RdBu" to red at the low end and blue at the high end.
DIVERGING_SCALE = "RdBu"
# Heatmap cells in one grid. Each cell sends 12 bytes (z and two hover
# values as float32) before base64, so 120,000 cells is about 2 MB of JSON.
GRID_CELL_BUDGET = 120_000
# Expected width of the heatmap in a wide page, without its colour bar. The
# grid's height follows from it, and a different width leaves blank margins.
GRID_WIDTH_PX = 880
HIGHLIGHT_COLOUR = "#f59e0b"
MAX_IMAGE_SIDE = 1024  # longer photos are subsampled for display


def normalise_channels(maps: np.ndarray) -> np.ndarray:
    """Divide each channel of `(C, H, W)` by its largest absolute value.

    The result lies in [0, 1] for non-negative maps and in [-1, 1] otherwise.
    A channel that is zero everywhere stays zero instead of dividing by zero.
    """
    peak = np.abs(maps).max(axis=(1, 2), keepdims=True)  # (C, 1, 1)
    out = np.zeros(maps.shape, dtype=np.float32)
    np.divide(maps, peak, out=out, where=peak > 0)
    return out


def downsampling_factor(size: int, count: int,
                        budget: int = GRID_CELL_BUDGET) -> int:
    """Return the block size that fits `count` square tiles into `budget` cells.

    The factor is the smallest divisor of `size` for which `count` tiles of
    side `size / factor` need at most `budget` cells, so that the blocks
    cover each map exactly. It is 1 when the maps fit at full resolution.
    """
    max_side = max(1, math.isqrt(budget // max(count, 1)))
    for factor in range(1, size + 1):
        if size % factor == 0 and size // factor <= max_side:
            return factor
    return size


def block_mean(maps: np.ndarray, factor: int) -> np.ndarray:
    """Average `(C, H, W)` over `factor x factor` blocks, which must tile H and W."""
    C, H, W = maps.shape
    if H % factor or W % factor:
        raise ValueError(
            f"block size {factor} must divide the map size {H}x{W}")
    blocks = maps.reshape(C, H // factor, factor, W // factor, factor)
    return blocks.mean(axis=(2, 4))  # (C, H / factor, W / factor)


def mosaic(tiles: np.ndarray, columns: int, gap: int = 1) -> np.ndarray:
    """Lay out `(N, h, w)` tiles row by row in a grid `columns` wide.

    Returns a float32 `(rows (h + gap) - gap, columns (w + gap) - gap)`
    array with NaN in the gaps and in the empty slots of the last row, which
    a heatmap draws as blank.
    """
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    N, h, w = tiles.shape
    rows = max(1, math.ceil(N / columns))
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan,
                  dtype=np.float32)
    for k in range(N):
        top, left = (k // columns) * (h + gap), (k % columns) * (w + gap)
        out[top:top + h, left:left + w] = tiles[k]
    return out


def grid_columns(count: int) -> int:
    """Choose a grid width that keeps `count` tiles about twice as wide as tall."""
    return max(1, min(32, math.ceil(math.sqrt(2 * count))))


def is_signed(values: np.ndarray) -> bool:
    """Return whether an array has negative values, so needs a diverging scale."""
    return bool(values.size) and float(values.min()) < 0


def feature_map_grid(maps: np.ndarray, channels: Sequence[int],
                     columns: int) -> go.Figure:
    """Draw the chosen channels of `(C, H, W)` maps as one grid of tiles.

    Each tile is normalised on its own by `normalise_channels`, so a weak
    channel is as visible as a strong one. Tiles are block means when the
    maps would exceed `GRID_CELL_BUDGET` cells (see `downsampling_factor`).
    Hovering shows the channel index and the value before normalisation.
    """
    if maps.ndim != 3:
        raise ValueError(f"expected maps of shape (C, H, W), got {maps.shape}")
    chosen = maps[np.asarray(channels, dtype=int)]  # (N, H, W)
    factor = downsampling_factor(maps.shape[1], len(chosen))
    values = block_mean(chosen, factor)
    signed = is_signed(values)

    z = mosaic(normalise_channels(values), columns)
    raw = mosaic(values, columns)
    index = np.broadcast_to(np.asarray(channels, dtype=np.float32)[:, None, None],
                            values.shape)
    labels = mosaic(index, columns)
    heatmap = go.Heatmap(
        z=z,
        customdata=np.stack([labels, raw], axis=-1),  # (rows, cols, 2)
        colorscale=DIVERGING_SCALE if signed else SEQUENTIAL_SCALE,
        zmin=-1 if signed else 0,
        zmax=1,
        hoverongaps=False,
        hovertemplate=("channel %{customdata[0]:d}<br>"
                       "value %{customdata[1]:.4g}<extra></extra>"),
        colorbar={"title": {"text": "share of<br>channel peak", "side": "right"},
                  "thickness": 12},
    )
    figure = go.Figure(heatmap)
    _square_pixels(figure)
    height_px = GRID_WIDTH_PX * z.shape[0] / z.shape[1]
    figure.update_layout(height=int(min(1400, max(200, height_px + 30))))
    return figure


def channel_figure(feature_map: np.ndarray, title: str,
                   highlight: tuple[int, int] | None = None,
                   height: int = 460) -> go.Figure:
    """Draw one `(H, W)` map at full resolution with its raw values.

    `highlight` is a `(row, column)` outlined on the map, for example the
    position of the largest value. `height` is in screen pixels.
    """
    if feature_map.ndim != 2:
        raise ValueError(f"expected a map of shape (H, W), got {feature_map.shape}")
    signed = is_signed(feature_map)
    peak = float(np.abs(feature_map).max()) if feature_map.size else 0.0
    limit = peak if peak > 0 else 1.0  # an all-zero map still gets a valid scale
    heatmap = go.Heatmap(
        z=feature_map,
        colorscale=DIVERGING_SCALE if signed else SEQUENTIAL_SCALE,
        zmin=-limit if signed else 0,
        zmax=limit,
        hovertemplate=("row %{y}, column %{x}<br>"
                       "value %{z:.4g}<extra></extra>"),
        colorbar={"title": {"text": "value", "side": "right"}, "thickness": 12},
    )
    figure = go.Figure(heatmap)
    if highlight is not None:
        row, column = highlight
        figure.add_shape(type="rect", x0=column - 0.5, x1=column + 0.5,
                         y0=row - 0.5, y1=row + 0.5,
                         line={"color": HIGHLIGHT_COLOUR, "width": 3})
    _square_pixels(figure)
    figure.update_layout(title={"text": title, "font": {"size": 15}}, height=height)
    return figure


def image_figure(rgb: np.ndarray, title: str = "",
                 box: tuple[int, int, int, int] | None = None,
                 height: int = 400, source_step: int = 1) -> go.Figure:
    """Draw an RGB uint8 `(H, W, 3)` image; hovering shows each pixel's values.

    `box` is `(top, left, bottom, right)` in pixels, inclusive, outlined on
    the image, for example the centre crop or a receptive field. `height`
    is the figure's height in screen pixels, title included. An image with
    a side longer than `MAX_IMAGE_SIDE` is drawn from every n-th pixel,
    with axes still in the image's own pixel coordinates. A `source_step`
    above 1 means that `rgb` keeps only every `source_step`-th pixel of a
    larger photo, whose coordinates the axes and hover text then use.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {rgb.shape}")
    if source_step < 1:
        raise ValueError(f"source_step must be >= 1, got {source_step}")
    sampling = math.ceil(max(rgb.shape[:2]) / MAX_IMAGE_SIDE)
    step = sampling * source_step
    # Each drawn pixel stands for a step x step block, centred on that block.
    centre = (step - 1) / 2
    figure = go.Figure(go.Image(
        z=rgb[::sampling, ::sampling],
        x0=centre, y0=centre, dx=step, dy=step,
        hovertemplate=("row %{y}, column %{x}<br>"
                       "RGB %{z[0]}, %{z[1]}, %{z[2]}<extra></extra>"),
    ))
    if box is not None:
        top, left, bottom, right = box
        figure.add_shape(type="rect", x0=left - 0.5, x1=right + 0.5,
                         y0=top - 0.5, y1=bottom + 0.5,
                         line={"color": HIGHLIGHT_COLOUR, "width": 3})
    _square_pixels(figure)
    figure.update_layout(title={"text": title, "font": {"size": 15}}, height=height)
    return figure


def _square_pixels(figure: go.Figure) -> None:
    """Hide the axes, keep pixels square and put row 0 at the top."""
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x",
                        constrain="domain")
    figure.update_layout(margin={"l": 0, "r": 0, "t": 30, "b": 0})


def input_channels_figure(tensor: np.ndarray, names: Sequence[str]) -> go.Figure:
    """Draw the channels of a network input `(C, H, W)` side by side.

    `names` labels the channels in order, for example `("R", "G", "B")`.
    All panels share one diverging scale centred on zero, so a colour means
    the same value in every channel. Hovering shows each value.
    """
    if tensor.ndim != 3 or tensor.shape[0] != len(names):
        raise ValueError(
            f"expected an input of shape ({len(names)}, H, W), got {tensor.shape}")
    limit = float(np.abs(tensor).max()) or 1.0  # an all-zero input gets a scale
    figure = make_subplots(rows=1, cols=len(names), horizontal_spacing=0.02,
                           subplot_titles=[f"channel {name}" for name in names])
    panels = zip(tensor, names, strict=True)
    for position, (channel, name) in enumerate(panels, start=1):
        figure.add_trace(go.Heatmap(
            z=channel,
            coloraxis="coloraxis",
            name=name,
            hovertemplate=(f"channel {name}<br>row %{{y}}, column %{{x}}<br>"
                           f"value %{{z:.4g}}<extra></extra>"),
        ), row=1, col=position)
        anchor = "x" if position == 1 else f"x{position}"
        figure.update_xaxes(visible=False, constrain="domain", row=1, col=position)
        figure.update_yaxes(visible=False, autorange="reversed", scaleanchor=anchor,
                            constrain="domain", row=1, col=position)
    figure.update_layout(
        coloraxis={"colorscale": DIVERGING_SCALE, "cmin": -limit, "cmax": limit,
                   "colorbar": {"title": {"text": "value", "side": "right"},
                                "thickness": 12}},
        height=340,
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
    )
    return figure
