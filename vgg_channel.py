"""The close-up of one channel on the VGG16 page: its map, the receptive field of
its largest value, and that value recomputed from the layer's input."""

import numpy as np
import streamlit as st

from engine.channel_stats import rank_channels_by_mean
from engine.conv import Conv2D, MaxPool2D
from engine.features import receptive_field
from engine.images import CROP
from engine.network import Sequential
from figures.feature_maps import channel_figure, image_figure
from figures.latex import bmatrix, number
from vgg_models import PhotoStages

CHANNEL_KEY = "vgg_channel"
CHECK_DIGITS = 7  # float32 keeps about 7 significant digits


def previous_output(network: Sequential, maps: dict[str, np.ndarray],
                    tensor: np.ndarray, name: str) -> np.ndarray:
    """Return the `(C, H, W)` input of layer `name`, the output of the layer before.

    A convolution's stored output is before ReLU, so ReLU is applied here.
    `tensor` is the network input `(1, C, H, W)`, the input of the first layer.
    """
    names = [layer.name for layer in network.layers]
    for earlier in reversed(network.layers[:names.index(name)]):
        if isinstance(earlier, Conv2D):
            return np.maximum(maps[earlier.name], 0)
        if isinstance(earlier, MaxPool2D):
            return maps[earlier.name]
    return tensor[0]


def recompute_latex(network: Sequential, A_prev: np.ndarray, name: str,
                    channel: int, position: tuple[int, int], value: float) -> str:
    """Recompute one output value from the layer's input `A_prev` and write the check.

    The sum runs in float64, so the difference to the stored float32 value
    is the engine's rounding error.
    """
    layer = network[name]
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


def recompute_text(network: Sequential, name: str) -> str:
    """Explain how the check below recomputes one value of layer `name`."""
    if isinstance(network[name], MaxPool2D):
        return (
            "Here the largest value is recomputed from the definition: the "
            "maximum of its 2×2 window of the layer's input, which is the "
            "previous convolution's output after ReLU."
        )
    return (
        "The engine computes a whole layer at once, with matrix products over "
        "blocks of positions; from conv2_1 on it uses Winograd's form, which "
        "reaches the same sums with fewer multiplications. Here the largest "
        "value is recomputed on its own from the "
        "definition: the bias plus the products of the filter's weights with "
        "the window of the layer's input that it covers (index -1 is the zero "
        "padding). The check is on Z, before ReLU, which leaves a positive "
        "value unchanged. The engine works in float32 and this sum in float64, "
        "so the two agree to about 6 significant digits."
    )


@st.fragment
def show_channel(network: Sequential, stages: PhotoStages,
                 stored: dict[str, np.ndarray], name: str, maps: np.ndarray) -> None:
    """Show one channel at full size and the input window of its largest value.

    `stored` contains the feature maps as the engine returned them and `maps`
    the maps of layer `name` as drawn. A fragment, so that choosing another
    channel reruns only this part.
    """
    C = maps.shape[0]
    # The previous layer may have had more channels than this one.
    if st.session_state.get(CHANNEL_KEY, 0) > C - 1:
        st.session_state[CHANNEL_KEY] = C - 1
    strongest = int(rank_channels_by_mean(maps)[0])

    picker, button = st.columns([1, 1], vertical_alignment="bottom")
    channel = picker.number_input(f"Channel (0 to {C - 1})", min_value=0,
                                  max_value=C - 1, step=1, key=CHANNEL_KEY)
    button.button(f"Show the strongest channel ({strongest})",
                  key="vgg_strongest_button", on_click=_set_channel,
                  args=(strongest,),
                  help="The channel with the highest mean activation.")

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
        figure = image_figure(stages.cropped, "Receptive field of the largest value",
                              box=(top, left, bottom, right), height=460)
        st.plotly_chart(figure, key="vgg_field_chart")
    with map_column:
        figure = channel_figure(feature_map, f"{name}, channel {channel}",
                                highlight=(int(i), int(j)))
        st.plotly_chart(figure, key="vgg_channel_chart")

    with st.expander("Recompute the largest value from the layer's input"):
        st.markdown(recompute_text(network, name))
        A_prev = previous_output(network, stored, stages.tensor, name)
        st.latex(recompute_latex(network, A_prev, name, channel, (int(i), int(j)),
                                 float(stored[name][channel, i, j])))


def _set_channel(channel: int) -> None:
    st.session_state[CHANNEL_KEY] = channel
