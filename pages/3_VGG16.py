"""VGG16: follow one photo through a VGG network, from its pixels to class scores."""

import streamlit as st

import allocator
import ui
import vgg_models
from engine.conv import Conv2D
from engine.images import ImageError
from figures.vgg_table import architecture_rows
from vgg_channel import show_channel
from vgg_feature_maps import (
    ORDERS,
    closest_layer,
    displayed_maps,
    map_layers,
    show_grid,
    show_layer,
)
from vgg_models import config_label
from vgg_saliency import show_saliency
from vgg_sections import show_architecture, show_photo, show_predictions, show_timing
from vgg_weights import network_sidebar, weights_banner

GRID_SIZES = [16, 32, 64, 128, 256, 512]
LAYER_KEY = "vgg_layer"


def load_photo(photo: tuple[str, bytes] | None,
               model: vgg_models.VggModel) -> vgg_models.PhotoStages | None:
    """Prepare the chosen photo for the network, or explain why there is none."""
    if photo is None:
        st.info("Upload a photo in the sidebar, or choose one of the samples.")
        return None
    name, data = photo
    try:
        return vgg_models.photo_stages(data, ui.image_digest(data),
                                       model.recipe.name,
                                       config_label(model.config))
    except ImageError as error:
        st.error(f"**{name}** cannot be used: {error} Choose a sample or upload "
                 f"another file in the sidebar.")
        return None


st.set_page_config(page_title="VGG16", layout="wide")
allocator.start_trimming()

with st.sidebar:
    st.header("Network")
    weights = network_sidebar()
model = weights.model
network = model.network
rows = architecture_rows(network)
layer_names = map_layers(network)

st.title(config_label(model.config))
weights_banner(weights)
st.markdown(
    "VGG16 (Simonyan and Zisserman, 2014) turns a 224×224 photo into 1,000 "
    "class scores with nothing but 3×3 convolutions, ReLU, 2×2 max pooling and "
    "three dense layers; VGG11, VGG13 and VGG19 differ only in the number of "
    "convolutions. Pick a network, its weights and a photo in the sidebar, and "
    "follow the photo through: its preprocessing, the classes the network "
    "predicts, what each layer costs, and what each convolution and pooling "
    "layer makes of the photo, channel by channel. Every number on this page "
    "comes from the NumPy engine running the network on your photo."
)

with st.sidebar:
    st.header("Photo")
    photo = ui.photo_picker("vgg")
    st.header("Feature maps")
    # A layer chosen in another configuration may not exist in this one.
    chosen = st.session_state.get(LAYER_KEY)
    if chosen is not None and chosen not in layer_names:
        st.session_state[LAYER_KEY] = closest_layer(chosen, layer_names)
    layer_name = st.selectbox(
        "Layer",
        layer_names,
        key=LAYER_KEY,
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
            persist_state="session",
            help="Show the convolution's output after ReLU, as the next layer "
            "sees it, or before (Z, with negative values in red).",
        )
    else:
        apply_relu = True
        st.caption("A pool layer's input has been through ReLU already.")
    count = st.select_slider("Channels in the grid", GRID_SIZES, value=32,
                             key="vgg_count", persist_state="session")
    order = st.radio("Channel order", list(ORDERS), format_func=ORDERS.get,
                     key="vgg_order", persist_state="session", horizontal=True,
                     help="Strongest first ranks the channels by their mean "
                     "activation, the mean of each map as drawn.")

st.header("1. The photo and its preprocessing")
stages = load_photo(photo, model)
activations = None
if stages is not None:
    show_photo(stages, model)
    activations = vgg_models.activations(model, model.key, stages, stages.key)

st.header("2. What the network sees in it")
if activations is None:
    st.info("Predictions appear here once a photo is loaded.")
else:
    show_predictions(model, activations)

st.header("3. The architecture")
show_architecture(rows, model.config)

st.header("4. Where the time goes")
if stages is None:
    st.info("The time of each layer can be measured once a photo is loaded.")
else:
    show_timing(model, stages, rows)

st.header(f"5. Feature maps of {layer_name}")
if activations is None:
    st.info("Feature maps appear here once a photo is loaded.")
else:
    relu_shown = apply_relu or not is_conv
    stored = activations.maps[layer_name]
    maps = displayed_maps(stored, is_conv, apply_relu)
    show_layer(network, rows, layer_name, stored, is_conv)
    show_grid(layer_name, maps, count, order, relu_shown)

    st.header(f"6. One channel of {layer_name} up close")
    show_channel(network, stages, activations.maps, layer_name, maps)

st.header("7. Which pixels matter")
show_saliency(model, stages, activations)
