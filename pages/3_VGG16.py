"""VGG16: follow one photo through the convolution and pooling layers of VGG16."""

import numpy as np
import streamlit as st

import ui
from engine.conv import Conv2D, MaxPool2D
from engine.features import receptive_field
from engine.images import (
    CROP,
    IMAGENET_MEAN,
    IMAGENET_STD,
    RESIZE_TO,
    ImageError,
    center_crop_offsets,
)
from engine.network import Sequential
from figures.feature_maps import (
    channel_figure,
    downsampling_factor,
    feature_map_grid,
    grid_columns,
    image_figure,
)
from figures.latex import bmatrix, number
from figures.vgg_table import (
    ArchitectureRow,
    architecture_rows,
    parameter_figure,
    table_records,
)

GRID_SIZES = [16, 32, 64, 128, 256, 512]
ORDERS = {"index": "By index", "strongest": "Strongest first"}
CHANNEL_KEY = "vgg_channel"
TABLE_ROW_PX = 35
CHECK_DIGITS = 7  # float32 keeps about 7 significant digits


def latex_int(value: int) -> str:
    """Write an integer with thousands separators that LaTeX does not space out."""
    return f"{value:,}".replace(",", "{,}")


def shape_text(shape: tuple[int, ...]) -> str:
    return " × ".join(str(size) for size in shape)


def map_layers(network: Sequential) -> list[str]:
    """Return the names of the conv and pool layers, whose outputs are maps."""
    return [layer.name for layer in network.layers
            if isinstance(layer, (Conv2D, MaxPool2D))]


def row_and_input(rows: list[ArchitectureRow],
                  name: str) -> tuple[ArchitectureRow, ArchitectureRow]:
    """Return the table row of layer `name` and the row before it, its input."""
    names = [row.name for row in rows]
    position = names.index(name)
    return rows[position], rows[position - 1]


def load_activations(photo: tuple[str, bytes] | None) -> ui.VggActivations | None:
    """Run VGG16 on the chosen photo, or explain why there is nothing to show."""
    if photo is None:
        st.info("Upload a photo in the sidebar, or choose one of the samples.")
        return None
    name, data = photo
    try:
        return ui.vgg16_activations(data, ui.image_digest(data))
    except ImageError as error:
        st.error(f"**{name}** cannot be used: {error} Choose a sample or upload "
                 f"another file in the sidebar.")
        return None


def crop_box(height: int, width: int) -> tuple[int, int, int, int]:
    """Return `(top, left, bottom, right)` of the centre crop, inclusive.

    """
    top, left = center_crop_offsets(height, width, CROP)
    return top, left, top + CROP - 1, left + CROP - 1


def show_photo(activations: ui.VggActivations) -> None:
    height, width = activations.original_size
    resized_height, resized_width = activations.resized.shape[:2]
    st.markdown(
        f"VGG16 takes a fixed 224×224 RGB input. The photo ({width}×{height} "
        f"pixels) is resized so that its shorter side is {RESIZE_TO} pixels "
        f"({resized_width}×{resized_height}), and the centre {CROP}×{CROP} "
        f"square, outlined on the left, is cut out. Hover over either image "
        f"to read pixel values."
    )
    left, right = st.columns(2)
    with left:
        box = crop_box(resized_height, resized_width)
        figure = image_figure(activations.resized, "Resized, with the centre crop",
                              box=box)
        st.plotly_chart(figure, key="vgg_resized_chart")
    with right:
        figure = image_figure(activations.cropped, "The 224×224 input")
        st.plotly_chart(figure, key="vgg_cropped_chart")
    st.markdown(
        "Each pixel value x of colour channel c is then scaled to [0, 1] and "
        "standardised with the mean μ and standard deviation σ of that channel "
        "over the ImageNet training photos, so the network gets values around "
        "zero. The result is the input tensor of shape (1, 3, 224, 224): "
        "(N, C, H, W) with one photo."
    )
    mean = ", ".join(number(m, 3) for m in IMAGENET_MEAN)
    std = ", ".join(number(s, 3) for s in IMAGENET_STD)
    st.latex(
        rf"x'_c = \frac{{x_c / 255 - \mu_c}}{{\sigma_c}}, \qquad "
        rf"\mu = ({mean}), \quad \sigma = ({std})"
    )


def show_architecture(rows: list[ArchitectureRow]) -> None:
    total = sum(row.n_params for row in rows)
    total_macs = sum(row.macs for row in rows)
    n_conv = sum(row.name.startswith("conv") for row in rows)
    n_dense = sum(row.name.startswith("fc") for row in rows)
    st.markdown(
        f"VGG16 is {n_conv} convolutional layers of 3×3 filters and {n_dense} "
        f"dense layers (16 layers with weights, hence the name), with a 2×2 max "
        f"pooling after each of the five blocks. Every convolution keeps the "
        f"height and width (padding 1) and is followed by ReLU, which is folded "
        f"into its row: ReLU has no parameters and keeps the shape. Every "
        f"pooling halves the height and width. A convolution with F filters "
        f"over C input channels has F·C·k·k weights and F biases, and does "
        f"C·k·k multiply-adds for each of its output values."
    )

    metrics = st.columns(4)
    metrics[0].metric("Parameters in total", f"{total:,}")
    metrics[1].metric("Multiply-adds per image", f"{total_macs / 1e9:.2f} billion")
    metrics[2].metric("Conv + dense layers", f"{n_conv} + {n_dense}")
    metrics[3].metric("Class scores out", f"{rows[-1].output_shape[0]:,}")

    counts = ["values per image", "parameters", "multiply-adds"]
    st.dataframe(
        table_records(rows),
        hide_index=True,
        row_height=TABLE_ROW_PX,
        height=TABLE_ROW_PX * (len(rows) + 1) + 3,  # every row and the header
        column_config={
            column: st.column_config.NumberColumn(format="localized")
            for column in counts
        },
        key="vgg_architecture_table",
    )

    text, chart = st.columns([1, 2])
    with text:
        st.markdown(where_the_numbers_are(rows))
    with chart:
        st.plotly_chart(parameter_figure(rows), key="vgg_parameter_chart")


def where_the_numbers_are(rows: list[ArchitectureRow]) -> str:
    total = sum(row.n_params for row in rows)
    conv_macs = sum(row.macs for row in rows if row.name.startswith("conv"))
    fc6 = next(row for row in rows if row.name == "fc6")
    first = rows[1]
    share = 100 * conv_macs / sum(row.macs for row in rows)
    return (
        f"**Where the numbers are.** fc6 alone holds {fc6.n_params:,} "
        f"parameters, {100 * fc6.n_params / total:.0f}% of the total, but the "
        f"convolutions do {share:.1f}% of the multiply-adds, because each of "
        f"their filters is applied at every position. The first convolution, "
        f"{first.name}, produces the most values per image ({first.n_values:,}) "
        f"with only {first.n_params:,} parameters. Hover over a bar for its "
        f"share. Later networks such as ResNet average each channel of the "
        f"last maps instead (global average pooling), which needs far fewer "
        f"parameters than fc6."
    )


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
    """Return `count` channel indices, the first ones or the strongest by mean."""
    count = min(count, maps.shape[0])
    if order == "strongest":
        return np.argsort(maps.mean(axis=(1, 2)))[::-1][:count]
    return np.arange(count)


def show_layer(network: Sequential, rows: list[ArchitectureRow], name: str,
               maps: np.ndarray, is_conv: bool) -> None:
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
    if shown == C:
        pick = f"all {C} channels of {name}"
        pick += ", strongest (highest mean) first" if strongest else ""
    elif strongest:
        pick = (f"the {shown} strongest (highest mean) of the {C} channels of "
                f"{name}, strongest first")
    else:
        pick = f"the first {shown} of the {C} channels of {name}"
    stage = "after ReLU" if relu_shown else "before ReLU (Z, can be negative)"
    text = (
        f"Below are {pick}, {stage}, each a {H}×{H} map. Each tile is scaled by "
        f"its own largest absolute value, so compare the patterns inside a "
        f"tile, not the brightness of different tiles. Hover over a tile for "
        f"its channel and raw value."
    )
    factor = downsampling_factor(H, shown)
    if factor > 1:
        side = H // factor
        text += (f" To keep the chart fast, each tile shows averages of "
                 f"{factor}×{factor} blocks ({side}×{side}); the view below "
                 f"shows every value.")
    return text


def show_grid(name: str, maps: np.ndarray, count: int, order: str,
              relu_shown: bool) -> None:
    channels = chosen_channels(maps, count, order)
    st.markdown(describe_grid(name, maps.shape, len(channels), order, relu_shown))
    if len(channels) < count:
        st.caption(f"{name} has only {maps.shape[0]} channels.")
    figure = feature_map_grid(maps, channels, grid_columns(len(channels)))
    st.plotly_chart(figure, key="vgg_grid_chart")


def previous_output(network: Sequential, activations: ui.VggActivations,
                    name: str) -> np.ndarray:
    """Return the `(C, H, W)` input of layer `name`, the output of the layer before.

    A convolution's stored output is before ReLU, so ReLU is applied here.
    """
    names = [layer.name for layer in network.layers]
    for earlier in reversed(network.layers[:names.index(name)]):
        if isinstance(earlier, Conv2D):
            return np.maximum(activations.maps[earlier.name], 0)
        if isinstance(earlier, MaxPool2D):
            return activations.maps[earlier.name]
    return activations.tensor[0]


def recompute_latex(network: Sequential, activations: ui.VggActivations,
                    name: str, channel: int, position: tuple[int, int],
                    value: float) -> str:
    """Recompute one output value from the layer's input and write the check.

    The sum runs in float64, so the difference to the stored float32 value
    is the engine's rounding error.
    """
    layer = network[name]
    A_prev = previous_output(network, activations, name)
    i, j = position
    if isinstance(layer, MaxPool2D):
        k, s = layer.kernel, layer.stride
        window = A_prev[channel, s * i:s * i + k, s * j:s * j + k]
        return (rf"A[{channel}, {i}, {j}] = \max {bmatrix(window)} = "
                rf"{number(window.max(), CHECK_DIGITS)} \quad "
                rf"(\text{{stored: }} {number(value, CHECK_DIGITS)})")
    W, b = layer.params["W"][channel], layer.params["b"][channel]  # (C, k, k), ()
    k, p, s = W.shape[1], layer.padding, layer.stride
    padded = np.pad(A_prev, ((0, 0), (p, p), (p, p)))  # (C, H + 2p, W + 2p)
    window = padded[:, s * i:s * i + k, s * j:s * j + k]  # (C, k, k)
    total = float(b) + float(np.sum(W.astype(np.float64) * window))
    # Rows and columns of the window in unpadded coordinates, where -1 is padding.
    rows = f"{s * i - p}..{s * i - p + k - 1}"
    columns = f"{s * j - p}..{s * j - p + k - 1}"
    return (
        r"\begin{aligned}"
        rf"Z[{channel}, {i}, {j}] &= b_{{{channel}}} + \sum W[{channel}] \odot "
        rf"A_{{\text{{prev}}}}[\,:,\ {rows},\ {columns}\,] \\"
        rf"&= {number(b, CHECK_DIGITS)} + "
        rf"{number(total - float(b), CHECK_DIGITS)} = {number(total, CHECK_DIGITS)}"
        rf" \\ \text{{stored}} &= {number(value, CHECK_DIGITS)}, \quad "
        rf"\text{{difference}} = {number(abs(total - value), 2)}"
        r"\end{aligned}"
    )


@st.fragment
def show_channel(network: Sequential, activations: ui.VggActivations, name: str,
                 maps: np.ndarray) -> None:
    """Show one channel at full size and the input window of its largest value.

    A fragment, so that choosing another channel reruns only this part.
    """
    C = maps.shape[0]
    # The previous layer may have had more channels than this one.
    if st.session_state.get(CHANNEL_KEY, 0) > C - 1:
        st.session_state[CHANNEL_KEY] = C - 1
    strongest = int(np.argmax(maps.mean(axis=(1, 2))))

    picker, button = st.columns([1, 1], vertical_alignment="bottom")
    channel = picker.number_input(f"Channel (0 to {C - 1})", min_value=0,
                                  max_value=C - 1, step=1, key=CHANNEL_KEY)
    button.button(f"Show the strongest channel ({strongest})",
                  key="vgg_strongest_button", on_click=_set_channel,
                  args=(strongest,))

    feature_map = maps[channel]
    if not np.any(feature_map):
        st.info(f"Channel {channel} of {name} is zero everywhere for this photo: "
                f"ReLU set every value to zero. Try another channel.")
        st.plotly_chart(channel_figure(feature_map, f"{name}, channel {channel}"),
                        key="vgg_channel_chart")
        return

    i, j = np.unravel_index(int(np.argmax(feature_map)), feature_map.shape)
    field = receptive_field(network, name)
    top, bottom = field.window(int(i), CROP)
    left, right = field.window(int(j), CROP)
    text = (
        f"The largest value of channel {channel} is {feature_map[i, j]:.4g}, at "
        f"row {i}, column {j} (outlined on the map). It depends only on input "
        f"rows {top} to {bottom} and columns {left} to {right}, the box on the "
        f"photo: its receptive field."
    )
    if bottom - top + 1 < field.size or right - left + 1 < field.size:
        text += (f" The rest of the {field.size}×{field.size} field lies on the "
                 f"zero padding around the photo.")
    st.markdown(text + " The map shows raw values, not normalised ones.")
    photo_column, map_column = st.columns(2)
    with photo_column:
        figure = image_figure(activations.cropped,
                              "Receptive field of the largest value",
                              box=(top, left, bottom, right), height=460)
        st.plotly_chart(figure, key="vgg_field_chart")
    with map_column:
        figure = channel_figure(feature_map, f"{name}, channel {channel}",
                                highlight=(int(i), int(j)))
        st.plotly_chart(figure, key="vgg_channel_chart")

    with st.expander("Recompute the largest value from the layer's input"):
        st.markdown(recompute_text(network, name))
        st.latex(recompute_latex(network, activations, name, channel,
                                 (int(i), int(j)),
                                 float(activations.maps[name][channel, i, j])))


def recompute_text(network: Sequential, name: str) -> str:
    """Explain how the check below recomputes one value of layer `name`."""
    if isinstance(network[name], MaxPool2D):
        return (
            "Here the largest value is recomputed from the definition: the "
            "maximum of its 2×2 window of the layer's input, which is the "
            "previous convolution's output after ReLU."
        )
    return (
        "The engine computes a whole layer with one matrix product over all "
        "positions. Here the largest value is recomputed on its own from the "
        "definition: the bias plus the products of the filter's weights with "
        "the window of the layer's input that it covers (index -1 is the zero "
        "padding). The check is on Z, before ReLU, which leaves a positive "
        "value unchanged. The engine works in float32 and this sum in float64, "
        "so the two agree to about 6 significant digits."
    )


def _set_channel(channel: int) -> None:
    st.session_state[CHANNEL_KEY] = channel


st.set_page_config(page_title="VGG16", layout="wide")
st.title("VGG16")
ui.random_weights_banner()
st.markdown(
    "VGG16 (Simonyan and Zisserman, 2014) turns a 224×224 photo into 1,000 "
    "class scores with nothing but 3×3 convolutions, ReLU, 2×2 max pooling and "
    "three dense layers. Pick a photo and a layer in the sidebar and watch "
    "what each convolution and pooling layer makes of it, channel by channel. "
    "Every number on this page comes from the NumPy engine running the "
    "network on your photo."
)

network = ui.vgg16()
rows = architecture_rows(network)
layer_names = map_layers(network)

with st.sidebar:
    st.header("Photo")
    photo = ui.photo_picker("vgg")
    st.header("Feature maps")
    layer_name = st.selectbox(
        "Layer",
        layer_names,
        key="vgg_layer",
        bind="query-params",
        help="Convolution and pooling layers, in the order the photo passes "
        "through them. The page address keeps the choice, so a link to it "
        "opens the same layer.",
    )
    is_conv = isinstance(network[layer_name], Conv2D)
    if is_conv:
        apply_relu = st.toggle(
            "Apply ReLU",
            value=True,
            key="vgg_relu",
            persist_state="page",
            help="Show the convolution's output after ReLU, as the next layer "
            "sees it, or before (Z, with negative values in red).",
        )
    else:
        apply_relu = True
        st.caption("A pool layer's input has been through ReLU already.")
    count = st.select_slider("Channels in the grid", GRID_SIZES, value=32,
                             key="vgg_count")
    order = st.radio("Channel order", list(ORDERS), format_func=ORDERS.get,
                     key="vgg_order", horizontal=True)

st.header("1. The photo")
activations = load_activations(photo)
if activations is not None:
    show_photo(activations)

st.header("2. The architecture")
show_architecture(rows)

st.header(f"3. Feature maps of {layer_name}")
if activations is None:
    st.info("Feature maps appear here once a photo is loaded.")
else:
    relu_shown = apply_relu or not is_conv
    maps = displayed_maps(activations.maps[layer_name], is_conv, apply_relu)
    show_layer(network, rows, layer_name, activations.maps[layer_name], is_conv)
    show_grid(layer_name, maps, count, order, relu_shown)

    st.header(f"4. One channel of {layer_name} up close")
    show_channel(network, activations, layer_name, maps)
