"""Tiny VGG: a small trained network classifies a shape, layer by layer."""

import numpy as np
import streamlit as st

import allocator
from engine.features import receptive_field
from engine.images import ImageError, enlargement_note, load_image
from engine.network import Sequential
from engine.shapes import (
    CLASSES,
    DEFAULT_SIZE,
    MAX_NOISE,
    MAX_RADIUS,
    MIN_RADIUS,
    draw_shape,
    make_shapes,
)
from engine.tinyvgg import (
    TEST_SEED,
    Evaluation,
    TinyVGG,
    TinyVGGTrainer,
    TrainSettings,
    build_tinyvgg,
    copy_network,
    evaluate,
    layer_outputs,
    load_tinyvgg,
    predict_proba,
    prepare_image,
    weights_digest,
)
from engine.vgg import architecture_table
from figures.tinyvgg import (
    confusion_figure,
    dense_figure,
    feature_maps_figure,
    input_figure,
    kernel_figure,
    loss_figure,
    probability_figure,
    rgb_kernel_figure,
)

TEST_IMAGES = 600
EVALUATION_ENTRIES = 20  # networks whose test accuracy stays cached
# While training, each redraw trains for up to CHUNK_SECONDS after drawing.
CHUNK_SECONDS = 0.4
REDRAW_SECONDS = 0.5
TRAIN_IMAGE_CHOICES = [120, 300, 600, 1200, 3000, 6000]
LEARNING_RATES = [0.0005, 0.001, 0.002, 0.004, 0.008, 0.016]
TABLE_ROW_PX = 35
MAX_EPOCHS = 10
PHOTO_TYPES = ["png", "jpg", "jpeg", "webp"]
SOURCES = {"generate": "Generate a shape", "upload": "Upload an image"}
STARTS = {"random": "Random weights", "current": "The weights on show"}

# Session state.
NETWORK = "tv_network"  # the network on show, never the one being trained
ORIGIN = "tv_origin"  # a phrase saying where the weights on show come from
TRAINER = "tv_trainer"  # the run in progress or the last one
TRAINING = "tv_training"  # whether the run is going on
RUN_START = "tv_run_start"  # the "Start from" choice of the current run


@st.cache_resource(show_spinner="Loading the Tiny VGG weights…")
def shipped_model() -> TinyVGG:
    """Read the shipped weights once per server process.

    Sessions share this object, so its network is never run, only copied.
    """
    return load_tinyvgg()


@st.cache_resource(show_spinner="Measuring the accuracy on fresh images…",
                   max_entries=EVALUATION_ENTRIES)
def fresh_image_evaluation(_network: Sequential, digest: str) -> Evaluation:
    """Evaluate a network on the test images, cached by its `weights_digest`.

    The leading underscore keeps `_network` out of the cache key, so every
    session showing the shipped weights shares one result.
    """
    X, y = fresh_images(TEST_IMAGES, TEST_SEED)
    return evaluate(_network, X, y)


@st.cache_resource(show_spinner="Drawing the test images…")
def fresh_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_shapes(n, seed)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def shipped_origin(model: TinyVGG) -> str:
    s = model.settings
    return (f"the shipped weights, trained for {s.epochs} epochs on "
            f"{s.n_train:,} images (seed {s.seed})")


def init_state(model: TinyVGG) -> None:
    if NETWORK not in st.session_state:
        st.session_state[NETWORK] = copy_network(model.network, model.config)
        st.session_state[ORIGIN] = shipped_origin(model)
    st.session_state.setdefault(TRAINING, False)


def hex_to_rgb(colour: str) -> tuple[float, float, float]:
    """Turn `#rrggbb` from `st.color_picker` into RGB in [0, 1]."""
    value = colour.lstrip("#")
    return tuple(int(value[i:i + 2], 16) / 255 for i in (0, 2, 4))


def input_controls() -> np.ndarray | None:
    """Draw the sidebar's input controls and return the input `(1, 3, H, W)`."""
    source = st.radio("Input", list(SOURCES), format_func=SOURCES.get,
                      key="tv_source",
                      persist_state="session", label_visibility="collapsed")
    if source == "upload":
        return uploaded_input()
    name = st.selectbox("Shape", CLASSES, key="tv_shape", persist_state="session")
    radius = st.slider("Size (radius, share of the side)", 0.1, 0.5, 0.35, 0.01,
                       key="tv_radius", persist_state="session",
                       help=f"The training images had radii from {MIN_RADIUS} "
                       f"to {MAX_RADIUS} of the side.")
    angle = st.slider("Rotation (degrees)", 0, 359, 20, key="tv_angle",
                      persist_state="session")
    left, right = st.columns(2)
    colour = left.color_picker("Shape colour", "#FFCC1A", key="tv_colour",
                               persist_state="session")
    background = right.color_picker("Background", "#1A1A4D", key="tv_background",
                                    persist_state="session")
    noise = st.slider("Noise (standard deviation)", 0.0, 0.5, 0.05, 0.01,
                      key="tv_noise", persist_state="session",
                      help="Gaussian noise added to every pixel, on the 0 to 1 "
                      f"scale. The training images had at most {MAX_NOISE}.")
    image = draw_shape(name, radius, angle, hex_to_rgb(colour),
                       hex_to_rgb(background), noise)
    return image[None]  # (1, 3, H, W)


def uploaded_input() -> np.ndarray | None:
    upload = st.file_uploader("Upload an image", type=PHOTO_TYPES, key="tv_upload",
                              help="Its centre square is resized to 32×32 pixels.")
    if upload is None:
        st.info("Upload a PNG, JPEG or WebP image, for example a photo of a "
                "shape drawn on paper.")
        return None
    try:
        rgb = load_image(upload.getvalue())
    except ImageError as error:
        st.error(f"**{upload.name}** cannot be used: {error}")
        return None
    note = enlargement_note(*rgb.shape[:2], DEFAULT_SIZE)
    if note is not None:
        st.info(note)
    return prepare_image(rgb, DEFAULT_SIZE)


def show_prediction(network: Sequential, X: np.ndarray) -> None:
    probabilities = predict_proba(network, X)[0]
    top = int(np.argmax(probabilities))
    left, right = st.columns([2, 3])
    with left:
        st.markdown(
            "This is the 32×32 image the network sees, with pixel values in "
            "[0, 1]. Hover over it to read them.")
        st.plotly_chart(input_figure(X[0]), key="tv_input_chart")
    with right:
        st.markdown(
            f"The network says **{CLASSES[top]}** with a probability of "
            f"{100 * probabilities[top]:.1f}%. The bars are the softmax of the "
            f"six outputs of the last layer, fc2, so they add up to 100%. Look "
            f"at how sure it stays as you make the shape smaller, noisier or "
            f"closer in colour to the background.")
        st.plotly_chart(probability_figure(probabilities, CLASSES),
                        key="tv_probability_chart")
    st.caption(f"Weights on show: {st.session_state[ORIGIN]}.")


def show_architecture(network: Sequential) -> None:
    rows = architecture_table(network, (1, 3, 32, 32))
    total = sum(row.n_params for row in rows)
    st.markdown(
        f"Tiny VGG follows the recipe of VGG16 at a small scale: two blocks of "
        f"two 3×3 convolutions with padding 1, each followed by ReLU, then a "
        f"2×2 max pooling that halves the height and width. A dense layer of "
        f"64 units and the output layer fc2 with one unit per class follow. "
        f"It has {total:,} parameters, most of them in fc1, which connects "
        f"every value of the last 16×8×8 maps to each of its 64 units.")
    records = [{"layer": row.name, "type": row.kind,
                "output shape": " × ".join(map(str, row.output_shape[1:])),
                "parameters": row.n_params, "multiply-adds": row.macs}
               for row in rows]
    st.dataframe(
        records, hide_index=True, row_height=TABLE_ROW_PX,
        height=TABLE_ROW_PX * (len(records) + 1) + 3,  # every row and the header
        column_config={column: st.column_config.NumberColumn(format="localized")
                       for column in ("parameters", "multiply-adds")},
        key="tv_architecture_table")


def show_conv_layer(network: Sequential, outputs: dict, name: str,
                    first: bool) -> None:
    W = network[name].params["W"]
    F, C = W.shape[:2]
    relu = name.replace("conv", "relu")
    field = receptive_field(network, name).size
    st.markdown(
        f"**{name}** has {F} filters of shape {C}×3×3. Each filter slides over "
        f"all {C} input channels and gives one map, shown below after ReLU "
        f"({relu}): bright where the filter's pattern is present, dark where "
        f"ReLU cut a negative sum to zero. Each tile is scaled by its own "
        f"largest value. One value of {name} depends on a {field}×{field} "
        f"window of the input image.")
    st.plotly_chart(feature_maps_figure(outputs[relu]), key=f"tv_maps_{name}")
    if first:
        st.markdown(
            "The filters of the first layer work on the colour channels, so "
            "each can be drawn as a tiny 3×3 colour image, in the order of the "
            "maps above: grey is a weight of zero, and a strong colour is the "
            "colour that raises the filter's output most at that pixel.")
        st.plotly_chart(rgb_kernel_figure(W), key=f"tv_rgb_kernels_{name}")
    st.markdown(
        f"Below are all {F}×{C} kernels of {name}, one column per filter and "
        f"one row per input channel, on one colour scale: blue weights add "
        f"that input, red ones subtract it. Hover for the values.")
    st.plotly_chart(kernel_figure(W), key=f"tv_kernels_{name}")


def show_pool_layer(network: Sequential, outputs: dict, name: str) -> None:
    C, H, W = outputs[name].shape
    field = receptive_field(network, name).size
    st.markdown(
        f"**{name}** keeps the largest value of each 2×2 window, channel by "
        f"channel, so its {C} maps are half as high and wide ({H}×{W}). It "
        f"has no parameters. One value of {name} depends on a "
        f"{field}×{field} window of the input image.")
    st.plotly_chart(feature_maps_figure(outputs[name]), key=f"tv_maps_{name}")


def show_dense_layers(outputs: dict) -> None:
    n_in = outputs["flatten"].size
    st.markdown(
        f"**fc1** takes the {n_in:,} values of pool2 as one vector and gives "
        f"{outputs['fc1'].size} values, shown after ReLU. Each is a weighted "
        f"sum of all {n_in:,}, so it can respond to a feature in one part of "
        f"the image and not in another.")
    st.plotly_chart(dense_figure(outputs["relu_fc1"], "fc1 after ReLU"),
                    key="tv_fc1_chart")
    st.markdown(
        "**fc2** turns those values into one score (logit) per class. The "
        "softmax of these scores is the bar chart at the top of the page.")
    figure = dense_figure(outputs["fc2"], "fc2, one logit per class", CLASSES)
    st.plotly_chart(figure, key="tv_fc2_chart")


def show_layers(network: Sequential, X: np.ndarray) -> None:
    outputs = layer_outputs(network, X)
    map_names = [name for name in outputs if name.startswith(("conv", "pool"))]
    first_conv = map_names[0]
    tabs = st.tabs([*map_names, "fc1 and fc2"])
    for tab, name in zip(tabs, map_names):
        with tab:
            if name.startswith("conv"):
                show_conv_layer(network, outputs, name, name == first_conv)
            else:
                show_pool_layer(network, outputs, name)
    with tabs[-1]:
        show_dense_layers(outputs)


def show_evaluation(network: Sequential) -> None:
    result = fresh_image_evaluation(network, weights_digest(network))
    st.markdown(
        f"On {TEST_IMAGES} freshly drawn images that were never used in "
        f"training, the network on show classifies {100 * result.accuracy:.1f}% "
        f"right. The matrix counts the images of each true class (rows) by "
        f"the class the network chose (columns): the diagonal is right, and "
        f"the cells off it show which shapes it mixes up.")
    st.plotly_chart(confusion_figure(result.confusion, CLASSES),
                    key="tv_confusion_chart")


def start_training() -> None:
    """Build a trainer from the training widgets' values.

    The values are read from the session state, not passed as arguments,
    because arguments are bound when the button is drawn and would miss a
    change made together with the click.
    """
    state = st.session_state
    settings = TrainSettings(seed=state["tv_train_seed"], epochs=state["tv_epochs"],
                             n_train=state["tv_train_images"], lr=state["tv_lr"])
    X, y = make_shapes(settings.n_train, settings.seed)
    start = state["tv_start"]
    if start == "random":
        network = build_tinyvgg(seed=settings.seed)
    else:
        network = copy_network(st.session_state[NETWORK])
    st.session_state[TRAINER] = TinyVGGTrainer(network, X, y, settings)
    st.session_state[RUN_START] = STARTS[start].lower()
    st.session_state[TRAINING] = True


def stop_training() -> None:
    st.session_state[TRAINING] = False
    # A click that arrives after "Restore" finds no run, which is harmless.
    trainer = st.session_state.get(TRAINER)
    if trainer is not None:
        trainer.drop_images()


def restore_shipped() -> None:
    model = shipped_model()
    st.session_state[NETWORK] = copy_network(model.network, model.config)
    st.session_state[ORIGIN] = shipped_origin(model)
    st.session_state[TRAINING] = False
    st.session_state.pop(TRAINER, None)


def training_controls() -> None:
    training = st.session_state[TRAINING]
    columns = st.columns(5)
    columns[0].radio("Start from", list(STARTS), format_func=STARTS.get,
                     key="tv_start", persist_state="session", disabled=training)
    columns[1].slider("Epochs", 1, MAX_EPOCHS, 3, key="tv_epochs",
                      persist_state="session",
                      disabled=training)
    columns[2].select_slider("Training images", TRAIN_IMAGE_CHOICES, value=3000,
                             key="tv_train_images",
                             persist_state="session", disabled=training)
    columns[3].select_slider("Learning rate α", LEARNING_RATES,
                             value=TrainSettings().lr, key="tv_lr",
                             persist_state="session",
                             disabled=training,
                             help="The starting rate of Adam. It falls along a "
                             "cosine to 0 at the end of the run.")
    columns[4].number_input("Seed", 0, 9999, 1, key="tv_train_seed",
                            persist_state="session",
                            disabled=training,
                            help="Draws the training images, the random "
                            "weights and the order of the batches.")
    row = st.container(horizontal=True)
    row.button("Train", key="tv_train", icon=":material/play_arrow:",
               type="primary", disabled=training, on_click=start_training)
    row.button("Stop", key="tv_stop", icon=":material/stop:",
               disabled=not training, on_click=stop_training)
    row.button("Restore the shipped weights", key="tv_restore",
               icon=":material/restart_alt:", on_click=restore_shipped)


def live_training() -> None:
    """Draw the run's progress and cost, then train a chunk while training.

    Runs as a fragment, every REDRAW_SECONDS while training. The network on
    show is replaced only when an epoch ends, with a copy, so stopping or
    leaving mid-epoch keeps the last finished epoch on show.
    """
    trainer: TinyVGGTrainer | None = st.session_state.get(TRAINER)
    if trainer is None:
        st.caption("The cost curve appears here once you press Train.")
        return
    settings = trainer.settings
    total = settings.epochs * trainer.batches_per_epoch
    epoch_now = min(trainer.epoch + 1, settings.epochs)
    status = (f"Epoch {epoch_now} of {settings.epochs}, batch "
              f"{trainer.iteration:,} of {total:,}")
    st.progress(trainer.iteration / total, text=status)
    st.plotly_chart(loss_figure(trainer.losses, trainer.epoch_losses,
                                trainer.batches_per_epoch, settings.epochs,
                                n_classes=len(CLASSES)),
                    key="tv_loss_chart")
    if not st.session_state[TRAINING]:
        if not trainer.done:
            st.caption(stopped_text(trainer.epoch))
        return

    if trainer.step_for(CHUNK_SECONDS):
        finish_epoch(trainer)
        st.rerun(scope="app")


def stopped_text(finished_epochs: int) -> str:
    if finished_epochs == 0:
        return ("Stopped during epoch 1, before any epoch finished, so the "
                "network on show is still the one from before this run.")
    return (f"Stopped during epoch {finished_epochs + 1}. The network on show "
            f"keeps the weights from the end of epoch {finished_epochs}.")


def finish_epoch(trainer: TinyVGGTrainer) -> None:
    """Show a copy of the trained network and stop after the last epoch."""
    settings = trainer.settings
    st.session_state[NETWORK] = copy_network(trainer.network)
    st.session_state[ORIGIN] = (
        f"your run from {st.session_state[RUN_START]}, after epoch "
        f"{trainer.epoch} of {settings.epochs} on {settings.n_train:,} images "
        f"(seed {settings.seed})")
    if trainer.done:
        st.session_state[TRAINING] = False
        trainer.drop_images()


st.set_page_config(page_title="Tiny VGG", layout="wide")
allocator.start_trimming()
st.title("Tiny VGG")
st.markdown(
    "A VGG-style network small enough to train on this computer: four 3×3 "
    "convolutions, two max poolings and two dense layers, trained to tell "
    "six shapes apart (circle, square, triangle, cross, ring and stripes) in "
    "32×32 colour images. Draw a shape in the sidebar or upload an image, "
    "see what the network predicts and what every layer computes on the "
    "way, then retrain it yourself and watch the cost fall.")

model = shipped_model()
init_state(model)
network = st.session_state[NETWORK]

with st.sidebar:
    st.header("Input")
    X = input_controls()

st.header("1. The prediction")
if X is None:
    st.info("The prediction and the layers appear here once an image is loaded.")
else:
    show_prediction(network, X)

st.header("2. The architecture")
show_architecture(network)

st.header("3. Every layer on this image")
if X is None:
    st.info("The feature maps and kernels appear here once an image is loaded.")
else:
    st.markdown(
        "Pick a layer. The convolutions show their feature maps and the "
        "kernels that made them. Each layer sees a larger window of the image "
        "than the one before, so the first maps follow edges and areas of "
        "colour, and the later ones pick out pieces of the outline.")
    show_layers(network, X)

st.header("4. Accuracy on fresh images")
show_evaluation(network)

st.header("5. Retrain it")
st.markdown(
    "Train a copy of the network with Adam on freshly drawn images and watch "
    "the cost (the mean cross-entropy of each batch) fall. The network on the "
    "page is replaced at the end of every epoch, so stopping half-way keeps "
    "the last finished epoch. From random weights, the cost first stays near "
    "ln 6 ≈ 1.79, the dashed line: the cost of giving each of the six "
    "classes the same probability. It takes a few dozen batches or more "
    "before the filters pick up the outlines and the cost falls. With the "
    "defaults, 3 epochs on 3,000 images, seeds 1 to 3 ended at 63% to 70% "
    "right; the shipped network had 10 epochs on 6,000 images.")
training_controls()
redraw_every = REDRAW_SECONDS if st.session_state[TRAINING] else None
st.fragment(live_training, run_every=redraw_every)()
