"""The VGG networks of the VGG16 page and the photos run through them.

Every function here is cached with `st.cache_resource`, so all sessions of
the server share one copy of each network and of each photo's results, and
every shared array is read-only. A VGG16 contains 553 MB of float32 weights:
at most `RANDOM_MODELS` networks with random weights and `FILE_MODELS`
with weights from a file stay loaded, about 2.3 GB with VGG19 in each slot.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from engine.channel_stats import ChannelStats, channel_stats
from engine.conv import MaxPool2D
from engine.features import conv_feature_maps
from engine.images import load_image
from engine.layer_timing import LayerTime, time_layers
from engine.network import Sequential
from engine.predict import Prediction, top_k
from engine.pretrained import PretrainedVGG
from engine.recipes import RECIPES, Recipe, recipe_of
from engine.vgg import build_vgg

RANDOM_MODELS = 2
FILE_MODELS = 2
PHOTO_ENTRIES = 4  # photos whose results stay cached, about 60 MB each for VGG16
TOP_K = 5
PREVIEW_SIDE = 1024  # the original photo is kept at most this long for display
RANDOM_RECIPE = "torchvision"  # random weights were trained with no recipe at all
RGB = ("R", "G", "B")


@dataclass(frozen=True)
class VggModel:
    """A VGG network shared by every session, and how its inputs are prepared.

    `key` identifies the weights in the caches of photo results. Hold
    `lock` while running `network`: its layers keep their input for a
    backward pass, so two forward passes on it must not overlap.
    """

    network: Sequential
    config: str
    key: str
    pretrained: bool
    recipe: Recipe
    origin: str  # the weights file's format, "" for random weights
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False,
                                 repr=False)


def config_label(config: str) -> str:
    """Return the display name of a VGG configuration: "vgg16" is "VGG16"."""
    return config.upper()


@st.cache_resource(
    max_entries=RANDOM_MODELS,
    show_spinner="Building the network with random He weights…",
    show_time=True,
)
def random_model(config: str) -> VggModel:
    """Build a VGG configuration with He-initialised random weights (seed 0)."""
    network = build_vgg(config, seed=0)
    network.make_read_only()  # sessions share it
    return VggModel(network, config, f"random:{config}", False,
                    RECIPES[RANDOM_RECIPE], "")


@st.cache_resource(
    max_entries=FILE_MODELS,
    show_spinner="Loading the weights file and building the network…",
    show_time=True,
)
def file_model(key: str, _load: Callable[[], PretrainedVGG]) -> VggModel:
    """Build the network of a weights file once per `key`.

    `key` names the file's contents: its SHA-256 for an upload, its path
    and modification time for a file on disk. `_load` reads the file. Its
    leading underscore keeps it out of the cache key, so a caller that
    cannot read the file any more passes a `_load` that raises, and gets
    the network only while it is still cached. Nothing is cached when
    `_load` raises, for example `WeightsError` for an unusable file.
    """
    pretrained = _load()  # `load_weights` returns read-only arrays
    return VggModel(pretrained.network, pretrained.config, key, True,
                    recipe_of(pretrained.preprocess), pretrained.origin)


@dataclass(frozen=True)
class PhotoStages:
    """One photo at each stage of its preprocessing, with channel statistics.

    `preview` is the decoded photo keeping every `preview_step`-th pixel,
    `resized` and `cropped` the next stages (all RGB uint8 `(H, W, 3)`),
    and `tensor` the network input `(1, 3, 224, 224)` in the recipe's
    channel order. `stats` lists the channel statistics of each stage,
    computed on the full-size photo. Every array is read-only.
    """

    key: str  # the photo's digest and the recipe, for the caches of results
    original_size: tuple[int, int]  # (height, width) of the decoded photo
    preview: np.ndarray
    preview_step: int
    resized: np.ndarray
    cropped: np.ndarray
    tensor: np.ndarray
    recipe: Recipe
    stats: dict[str, list[ChannelStats]]


@st.cache_resource(max_entries=PHOTO_ENTRIES, show_spinner="Preparing the photo…")
def photo_stages(_image_bytes: bytes, digest: str, recipe_name: str,
                 _model_name: str) -> PhotoStages:
    """Decode a photo and preprocess it with a recipe, cached by `digest`.

    `digest` is the photo's SHA-256 (from `ui.image_digest`), so the bytes
    are hashed once. Raises `ImageError`, naming the network as
    `_model_name`, for a file that is not a usable image, and nothing is
    cached then. The name is left out of the cache key because it changes
    only that message, which is never cached.
    """
    recipe = RECIPES[recipe_name]
    rgb = load_image(_image_bytes)
    prepared = recipe.preprocess(rgb, _model_name)
    step = -(-max(rgb.shape[:2]) // PREVIEW_SIDE)  # ceiling division
    preview = np.ascontiguousarray(rgb[::step, ::step])
    channels_last = prepared.tensor[0].transpose(1, 2, 0)  # (224, 224, 3)
    stats = {
        "original": channel_stats(rgb, RGB),
        "resized": channel_stats(prepared.resized, RGB),
        "cropped": channel_stats(prepared.cropped, RGB),
        "normalised": channel_stats(channels_last, recipe.channels),
    }
    for array in (preview, prepared.resized, prepared.cropped, prepared.tensor):
        array.flags.writeable = False
    return PhotoStages(f"{digest}:{recipe_name}", rgb.shape[:2], preview, step,
                       prepared.resized, prepared.cropped, prepared.tensor,
                       recipe, stats)


@dataclass(frozen=True)
class VggActivations:
    """The feature maps of one forward pass and the classes it predicts.

    `maps` contains each conv layer's output before ReLU and each pool
    layer's output, `(C, H, W)` and read-only. `top` lists the `TOP_K`
    most probable classes, meaningful only with pretrained weights.
    """

    maps: dict[str, np.ndarray]
    top: list[Prediction]


def split_at_last_pool(network: Sequential) -> tuple[str, Sequential]:
    """Return the name of the last max pooling and the layers after it.

    The layers after it, flatten and dense, turn that pooling's output
    into the class scores.
    """
    positions = [i for i, layer in enumerate(network.layers)
                 if isinstance(layer, MaxPool2D)]
    last = positions[-1]
    return network.layers[last].name, Sequential(network.layers[last + 1:])


@st.cache_resource(
    max_entries=PHOTO_ENTRIES,
    show_spinner="Running the network on the photo…",
    show_time=True,
)
def activations(_model: VggModel, model_key: str, _stages: PhotoStages,
                photo_key: str) -> VggActivations:
    """Run the network on the photo, cached by the weights' and photo's keys.

    The class scores come from the stored output of the last pooling layer
    through the dense layers, so the convolutions run once.
    """
    last_pool, head = split_at_last_pool(_model.network)
    with _model.lock:
        maps = conv_feature_maps(_model.network, _stages.tensor)
        logits = head.predict(maps[last_pool][None])  # (1, n_classes)
    return VggActivations(maps, top_k(logits[0], TOP_K))


@st.cache_resource(
    max_entries=PHOTO_ENTRIES,
    show_spinner="Timing each layer…",
    show_time=True,
)
def layer_times(_model: VggModel, model_key: str, _stages: PhotoStages,
                photo_key: str) -> list[LayerTime]:
    """Time each layer's forward pass on the photo once, cached like `activations`."""
    with _model.lock:
        return time_layers(_model.network, _stages.tensor)
