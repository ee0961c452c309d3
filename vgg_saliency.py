"""The "Which pixels matter" section of the VGG16 page.

Three maps explain one class score on the photo: the vanilla gradient,
Grad-CAM and occlusion sensitivity, all computed by `engine.saliency`.
"""

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from engine.conv import Conv2D
from engine.layers import ReLU
from engine.network import Sequential
from engine.predict import Prediction, class_names
from engine.saliency import (
    SaliencyMap,
    grad_cam,
    gradient_saliency,
    occlusion,
    occlusion_positions,
)
from figures.saliency import overlay_figure
from vgg_models import PhotoStages, VggActivations, VggModel

CACHE_ENTRIES = 8  # maps kept for all sessions, about 200 KB each at 224×224
OTHER_CLASS = -1  # the class box's option for a class typed in by index
PATCH_SIZES = [28, 56, 84, 112]  # occlusion patch sides, in input pixels
STRIDES = [14, 28, 56, 112]
CLASS_KEY = "vgg_sal_class"
LAYER_KEY = "vgg_sal_layer"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SaliencyRequest:
    """One map to compute: the method, the class and the method's settings."""

    method: str  # "gradient", "grad_cam" or "occlusion"
    class_index: int
    layer: str = ""  # Grad-CAM only: the ReLU after the chosen convolution
    patch: int = 0  # occlusion only
    stride: int = 0  # occlusion only


class MapCache:
    """The most recently used saliency maps, shared by every session.

    A plain store rather than a function under `st.cache_resource`, because
    occlusion reports progress to an `st.progress` bar drawn outside the
    computation, which Streamlit's cache cannot replay.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, SaliencyMap] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> SaliencyMap | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, value: SaliencyMap) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


@st.cache_resource
def map_cache() -> MapCache:
    """Return the server's one store of saliency maps."""
    return MapCache(CACHE_ENTRIES)


def grad_cam_layers(network: Sequential) -> dict[str, str]:
    """Map each conv layer followed by a ReLU to that ReLU's name.

    Grad-CAM uses the ReLU's output, so that the feature maps are
    non-negative, while the page names the layer by its convolution.
    """
    layers = network.layers
    return {
        layer.name: following.name
        for layer, following in itertools.pairwise(layers)
        if isinstance(layer, Conv2D) and isinstance(following, ReLU)
    }


def cached_map(model: VggModel, stages: PhotoStages,
               request: SaliencyRequest) -> SaliencyMap | None:
    """Return the map of `request` if it is cached, else None."""
    return map_cache().get((model.key, stages.key, request))


def compute_map(model: VggModel, stages: PhotoStages, request: SaliencyRequest,
                progress: Progress | None = None) -> SaliencyMap:
    """Return the map of `request`, computing and caching it when missing.

    Holds the model's lock, because the layers keep their inputs between
    the forward and backward passes.
    """
    key = (model.key, stages.key, request)
    found = map_cache().get(key)
    if found is not None:
        return found
    X = stages.tensor
    with model.lock:
        if request.method == "gradient":
            result = gradient_saliency(model.network, X, request.class_index)
        elif request.method == "grad_cam":
            result = grad_cam(model.network, X, request.layer, request.class_index)
        elif request.method == "occlusion":
            result = occlusion(model.network, X, request.class_index,
                               patch=request.patch, stride=request.stride,
                               progress=progress)
        else:
            raise ValueError(f"unknown saliency method {request.method!r}; "
                             f"expected gradient, grad_cam or occlusion")
    map_cache().put(key, result)
    return result


def show_saliency(model: VggModel, stages: PhotoStages | None,
                  activations: VggActivations | None) -> None:
    """Draw the section: the class, then the three maps over the photo."""
    if stages is None or activations is None:
        st.info("Saliency maps appear here once a photo is loaded.")
        return
    st.markdown(
        "Which pixels of the photo does a class score depend on? Each map "
        "below answers that in its own way for one class, drawn over the "
        "224×224 input photo: bright means the pixel matters, dark that it "
        "does not. Each map is scaled so that its largest value is 1."
    )
    if not model.pretrained:
        # An info box, because the page's one warning is the weights banner.
        st.info(
            "**These maps explain a random network's score.** With random "
            "weights, the class scores mean nothing, so the maps show how "
            "each method works, not what VGG16 learned. Load pretrained "
            "weights in the sidebar to see what the trained network looks at."
        )
    class_index = choose_class(activations, model.pretrained)
    st.markdown(f"Explaining class {class_index}, **{class_names()[class_index]}**.")
    opacity = st.slider("Map opacity", 0.0, 1.0, 0.6, 0.05, key="vgg_sal_opacity",
                        help="0 shows the photo alone, 1 the map alone.")
    gradient_column, cam_column = st.columns(2)
    with gradient_column:
        show_gradient(model, stages, class_index, opacity)
    with cam_column:
        show_grad_cam(model, stages, class_index, opacity)
    show_occlusion(model, stages, class_index, opacity)


def choose_class(activations: VggActivations, pretrained: bool) -> int:
    """Draw the class controls and return the chosen class index."""
    names = class_names()
    top = {each.index: each for each in activations.top}

    def label(index: int) -> str:
        if index == OTHER_CLASS:
            return "Another class, by its index"
        return class_label(top[index], pretrained)

    options = [*top, OTHER_CLASS]
    if st.session_state.get(CLASS_KEY) not in options:
        st.session_state.pop(CLASS_KEY, None)  # another photo or weights
    if pretrained:
        listed = f"The {len(top)} most probable classes for this photo"
    else:
        listed = (f"The {len(top)} classes that score highest by chance with "
                  f"random weights")
    choice = st.selectbox(
        "Class to explain", options, format_func=label, key=CLASS_KEY,
        help=f"{listed}, or any of the 1,000 ImageNet classes by its index.")
    if not pretrained:
        st.caption(
            f"With random weights these {len(top)} classes mean nothing: they "
            f"score highest by chance, not because the photo shows them, so "
            f"they are listed without a probability.")
    if choice != OTHER_CLASS:
        return choice
    index = int(st.number_input("Class index", min_value=0,
                                max_value=len(names) - 1, value=0, step=1,
                                key="vgg_sal_index",
                                help="An ImageNet class index, 0 to 999."))
    st.caption(f"Class {index} is **{names[index]}**.")
    return index


def class_label(prediction: Prediction, pretrained: bool) -> str:
    """Return the label of one option of the class box.

    Random weights give probabilities that mean nothing, so their options
    show only the class index and name.
    """
    if not pretrained:
        return f"Class {prediction.index}: {prediction.label}"
    return (f"{prediction.label} (class {prediction.index}, probability "
            f"{prediction.probability:.1%})")


def show_gradient(model: VggModel, stages: PhotoStages, class_index: int,
                  opacity: float) -> None:
    st.subheader("Vanilla gradient")
    st.markdown(
        "The derivative of the class score with respect to each input pixel, "
        "d score / d pixel, from one backward pass down to the input; the "
        "map keeps the largest absolute value of the three colour channels. "
        "It shows which pixels would change the score most if nudged. Look "
        "for outlines of the object: the map is usually speckled."
    )
    request = SaliencyRequest("gradient", class_index)
    with st.spinner("Computing the gradient of the score…"):
        result = compute_map(model, stages, request)
    draw_map(stages, result, opacity, "vgg_sal_gradient_chart")


def show_grad_cam(model: VggModel, stages: PhotoStages, class_index: int,
                  opacity: float) -> None:
    st.subheader("Grad-CAM")
    relus = grad_cam_layers(model.network)
    convs = list(relus)
    if st.session_state.get(LAYER_KEY) not in convs:
        st.session_state[LAYER_KEY] = convs[-1]  # the last conv, conv5_3 in VGG16
    conv = st.selectbox(
        "Layer", convs, key=LAYER_KEY,
        help="The convolution whose feature maps, after its ReLU, are "
        "weighted. Later layers give coarser maps of larger parts.")
    st.markdown(
        f"Each feature map of {conv} (after its ReLU) gets a weight: the "
        f"spatial mean of d score / d map over that map. The weighted sum of "
        f"the maps, with negative values set to zero, is resized to the photo. "
        f"Look for the regions, coarser than pixels, that raise the score."
    )
    request = SaliencyRequest("grad_cam", class_index, layer=relus[conv])
    with st.spinner(f"Computing Grad-CAM at {conv}…"):
        result = compute_map(model, stages, request)
    draw_map(stages, result, opacity, "vgg_sal_cam_chart")


def show_occlusion(model: VggModel, stages: PhotoStages, class_index: int,
                   opacity: float) -> None:
    st.subheader("Occlusion sensitivity")
    st.markdown(
        "A grey square hides one part of the photo at a time, and the "
        "network runs again on each occluded photo. The map is the drop in "
        "the class probability with each part hidden, averaged where squares "
        "overlap; a rise counts as zero. It needs no gradient but many "
        "forward passes, so it runs only when you press the button. Look for "
        "the parts without which the network no longer sees the class."
    )
    patch_column, stride_column = st.columns(2)
    patch = patch_column.select_slider(
        "Patch side (pixels)", PATCH_SIZES, value=56, key="vgg_sal_patch",
        help="Side of the grey square, in pixels of the 224×224 input.")
    stride = stride_column.select_slider(
        "Stride (pixels)", STRIDES, value=28, key="vgg_sal_stride",
        help="How far the square moves between positions, in pixels.")
    side = stages.tensor.shape[-1]
    passes = len(occlusion_positions(side, patch, stride)) ** 2
    request = SaliencyRequest("occlusion", class_index, patch=patch, stride=stride)
    if st.button(f"Run occlusion ({passes} occluded photos)", key="vgg_sal_occlude"):
        bar = st.progress(0.0, text="Occluding…")

        def report(done: int, total: int) -> None:
            bar.progress(done / total, text=f"{done} of {total} occluded photos")

        compute_map(model, stages, request, progress=report)
        bar.empty()
    result = cached_map(model, stages, request)
    if result is None:
        st.info("Press the button to compute the map for this class, patch "
                "and stride.")
        return
    draw_map(stages, result, opacity, "vgg_sal_occlusion_chart")


def draw_map(stages: PhotoStages, result: SaliencyMap, opacity: float,
             key: str) -> None:
    name = class_names()[result.class_index]
    figure = overlay_figure(stages.cropped, result.heatmap, opacity,
                            title=f"{name}: score {result.score:.2f}")
    st.plotly_chart(figure, key=key)
    if not result.heatmap.any():
        st.caption("The map is zero everywhere: the method found no pixel "
                   "that matters more than another for this score.")
