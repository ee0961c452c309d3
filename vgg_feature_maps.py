"""The feature-map sections of the VGG16 page: one layer, and a grid of its channels."""

import re

import numpy as np
import streamlit as st

from engine.channel_stats import rank_channels_by_mean
from engine.conv import Conv2D, MaxPool2D
from engine.features import receptive_field
from engine.network import Sequential
from figures.feature_maps import downsampling_factor, feature_map_grid, grid_columns
from figures.vgg_table import ArchitectureRow

ORDERS = {"index": "By index", "strongest": "Strongest first"}
BLOCK_NUMBER = re.compile(r"^(?:conv|pool)(\d+)")


def latex_int(value: int) -> str:
    """Write an integer with thousands separators that LaTeX does not space out."""
    return f"{value:,}".replace(",", "{,}")


def shape_text(shape: tuple[int, ...]) -> str:
    return " × ".join(str(size) for size in shape)


def map_layers(network: Sequential) -> list[str]:
    """Return the names of the conv and pool layers, whose outputs are maps."""
    return [layer.name for layer in network.layers
            if isinstance(layer, (Conv2D, MaxPool2D))]


def closest_layer(name: str | None, names: list[str]) -> str:
    """Return `name` if the network has it, else the pooling of its block.

    VGG configurations differ in their convolutions (VGG11 has no conv1_2,
    VGG19 has conv5_4) but all have pool1 to pool5, so a layer chosen in
    one configuration maps to the end of the same block in another.
    """
    if name in names:
        return name
    match = BLOCK_NUMBER.match(name or "")
    pool = f"pool{match.group(1)}" if match else None
    return pool if pool in names else names[0]


def row_and_input(rows: list[ArchitectureRow],
                  name: str) -> tuple[ArchitectureRow, ArchitectureRow]:
    """Return the table row of layer `name` and the row before it, its input."""
    names = [row.name for row in rows]
    position = names.index(name)
    return rows[position], rows[position - 1]


def conv_latex(layer: Conv2D, row: ArchitectureRow,
               input_row: ArchitectureRow) -> str:
    """Write the conv layer's formulas with its own shapes substituted."""
    F, C, k, _ = layer.params["W"].shape
    s, p = layer.stride, layer.padding
    H = input_row.output_shape[1]
    H_out = row.output_shape[1]
    step = "i" if s == 1 else f"{s}i"
    step_j = "j" if s == 1 else f"{s}j"
    return (
        r"\begin{aligned}"
        rf"Z &= W * A_{{\text{{prev}}}} + b, \qquad W \in \mathbb{{R}}^{{{F} \times "
        rf"{C} \times {k} \times {k}}},\ b \in \mathbb{{R}}^{{{F}}} \\"
        rf"Z[f, i, j] &= b_f + \sum_{{c=0}}^{{{C - 1}}} \sum_{{u=0}}^{{{k - 1}}} "
        rf"\sum_{{v=0}}^{{{k - 1}}} W[f, c, u, v]\, A_{{\text{{prev}}}}"
        rf"[c,\, {step} + u - {p},\, {step_j} + v - {p}] \\"
        rf"H_{{\text{{out}}}} &= \left\lfloor \frac{{H + 2p - k}}{{s}} \right\rfloor"
        rf" + 1 = \left\lfloor \frac{{{H} + 2 \cdot {p} - {k}}}{{{s}}} \right\rfloor"
        rf" + 1 = {H_out} \\"
        rf"\text{{parameters}} &= F C k k + F = {F} \cdot {C} \cdot {k} \cdot {k}"
        rf" + {F} = {latex_int(row.n_params)} \\"
        r"A &= \operatorname{ReLU}(Z) = \max(0, Z)"
        r"\end{aligned}"
    )


def pool_latex(layer: MaxPool2D, row: ArchitectureRow,
               input_row: ArchitectureRow) -> str:
    """Write the pooling layer's formulas with its own shapes substituted."""
    k, s = layer.kernel, layer.stride
    H = input_row.output_shape[1]
    H_out = row.output_shape[1]
    return (
        r"\begin{aligned}"
        rf"A[c, i, j] &= \max_{{0 \le u, v \le {k - 1}}} A_{{\text{{prev}}}}"
        rf"[c,\, {s}i + u,\, {s}j + v] \\"
        rf"H_{{\text{{out}}}} &= \left\lfloor \frac{{H - k}}{{s}} \right\rfloor + 1"
        rf" = \left\lfloor \frac{{{H} - {k}}}{{{s}}} \right\rfloor + 1 = {H_out} \\"
        r"\text{parameters} &= 0"
        r"\end{aligned}"
    )


def displayed_maps(raw: np.ndarray, is_conv: bool, apply_relu: bool) -> np.ndarray:
    """Return the maps to draw: ReLU of a conv output when asked, else as stored."""
    return np.maximum(raw, 0) if is_conv and apply_relu else raw


def chosen_channels(maps: np.ndarray, count: int, order: str) -> np.ndarray:
    """Return `count` channel indices: the first ones, or the highest mean first."""
    count = min(count, maps.shape[0])
    if order == "strongest":
        return rank_channels_by_mean(maps)[:count]
    return np.arange(count)


def show_layer(network: Sequential, rows: list[ArchitectureRow], name: str,
               maps: np.ndarray, is_conv: bool) -> None:
    """Explain what layer `name` computes, with its formulas and key numbers."""
    layer = network[name]
    row, input_row = row_and_input(rows, name)
    field = receptive_field(network, name)
    source = ("the normalised photo" if input_row.name == "input"
              else f"the output of {input_row.name}")
    if is_conv:
        st.markdown(
            f"**{name}** slides {row.output_shape[0]} filters of shape "
            f"{shape_text(layer.params['W'].shape[1:])} over its input "
            f"({shape_text(input_row.output_shape)}, {source}). Each filter "
            f"gives one channel: at every position it multiplies a 3×3 window of "
            f"all {input_row.output_shape[0]} input channels by its weights, sums "
            f"the products and adds its bias. ReLU then sets every negative value "
            f"to zero."
        )
        st.latex(conv_latex(layer, row, input_row))
    else:
        st.markdown(
            f"**{name}** keeps the largest value of each 2×2 window, channel by "
            f"channel, so the {input_row.output_shape[0]} channels of "
            f"{source} keep their number and halve their height and width. "
            f"Pooling has no parameters, and it makes the next layer's 3×3 "
            f"filters cover twice the distance on the photo."
        )
        st.latex(pool_latex(layer, row, input_row))

    metrics = st.columns(4)
    metrics[0].metric("Output shape", shape_text(row.output_shape))
    metrics[1].metric("Parameters", f"{row.n_params:,}")
    metrics[2].metric("Receptive field", f"{field.size}×{field.size} px",
                      help="The window of the 224×224 input that one value of "
                      "this layer depends on, padding included.")
    zeros = float(np.mean(maps <= 0)) if is_conv else float(np.mean(maps == 0))
    metrics[3].metric("Zeros after ReLU", f"{100 * zeros:.1f}%",
                      help="Share of the values of this layer that ReLU set to "
                      "zero (for a pool layer, that stayed zero after pooling).")
    pixels = "pixel" if field.jump == 1 else "pixels"
    st.caption(
        f"One value of {name} depends on a {field.size}×{field.size} window of the "
        f"224×224 input, and neighbouring values are {field.jump} input {pixels} "
        f"apart: deeper layers see larger parts of the photo."
    )


def describe_grid(name: str, shape: tuple[int, ...], shown: int, order: str,
                  relu_shown: bool) -> str:
    """Say which channels the grid shows, how they are scaled and resampled."""
    C, H, _ = shape
    strongest = order == "strongest"
    ranking = "ranked by mean activation, the highest first"
    if shown == C:
        pick = f"all {C} channels of {name}"
        pick += f", {ranking}" if strongest else ""
    elif strongest:
        pick = (f"the {shown} strongest of the {C} channels of {name}, "
                f"{ranking}")
    else:
        pick = f"the first {shown} of the {C} channels of {name}"
    stage = "after ReLU" if relu_shown else "before ReLU (Z, can be negative)"
    text = (
        f"Below are {pick}, {stage}, each a {H}×{H} map. Each tile is scaled by "
        f"its own largest absolute value, so compare the patterns inside a "
        f"tile, not the brightness of different tiles. Hover over a tile for "
        f"its channel and raw value."
    )
    if strongest:
        text += (" The mean activation of a channel is the mean of its map as "
                 "drawn here, so a channel that ReLU leaves mostly at zero ranks "
                 "low.")
    factor = downsampling_factor(H, shown)
    if factor > 1:
        side = H // factor
        text += (f" To keep the chart fast, each tile shows averages of "
                 f"{factor}×{factor} blocks ({side}×{side}); the view below "
                 f"shows every value.")
    return text


def show_grid(name: str, maps: np.ndarray, count: int, order: str,
              relu_shown: bool) -> None:
    """Draw `count` channels of `(C, H, W)` maps as one mosaic image."""
    channels = chosen_channels(maps, count, order)
    st.markdown(describe_grid(name, maps.shape, len(channels), order, relu_shown))
    if len(channels) < count:
        st.caption(f"{name} has only {maps.shape[0]} channels.")
    figure = feature_map_grid(maps, channels, grid_columns(len(channels)))
    st.plotly_chart(figure, key="vgg_grid_chart")
