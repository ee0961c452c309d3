"""Streamlit helpers shared by the pages: sample photos, the photo picker and VGG16.

The VGG16 network and its feature maps are cached per server process with
`st.cache_resource`, so every page and every session shares one copy of
the 553 MB of weights and of each photo's activations.
"""

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from engine.features import conv_feature_maps
from engine.images import load_image, preprocess_imagenet
from engine.network import Sequential
from engine.vgg import build_vgg

SAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "samples"
SAMPLE_SOURCES = SAMPLES_DIR / "SOURCES.md"
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp"]
DEFAULT_SAMPLE = "chelsea.png"
UPLOAD_CHOICE = "upload"  # the picker's option for the user's own photo
FEATURE_MAP_ENTRIES = 4  # photos whose activations stay cached, about 60 MB each
# Resizing the shorter side to 256 pixels makes a 1000:1 strip 256,000 pixels
# long, hundreds of MB, while the centre crop keeps almost none of it.

# Layers keep their last input for the backward pass, and MaxPool2D reads
# its argmax back from `self`, so two sessions must not run the shared
# network at the same time.
FORWARD_LOCK = threading.Lock()


def sample_photos() -> dict[str, Path]:
    """Return the bundled sample photos by file name, in alphabetical order."""
    return {
        path.name: path
        for path in sorted(SAMPLES_DIR.iterdir())
        if path.suffix.lower().lstrip(".") in PHOTO_TYPES
    }


def sample_credits() -> dict[str, tuple[str, str]]:
    """Read `(subject, licence)` for each sample from the table in SOURCES.md."""
    names = sample_photos()
    credits = {}
    for line in SAMPLE_SOURCES.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in names:
            file_name, subject, _, licence = cells
            credits[file_name] = (subject, licence)
    return credits


def sample_attribution(name: str | None = None) -> str:
    """Return the credit line for sample `name`, or for all samples when None."""
    source = "scikit-image 0.26.0 sample data (`skimage/data/`)"
    credit = sample_credits().get(name) if name else None
    if credit is None:
        return (f"Sample photos from the {source}; see `assets/samples/SOURCES.md` "
                f"for each photo's licence.")
    subject, licence = credit
    return f"Photo: {subject}. Licence: {licence}. From the {source}."


def random_weights_banner() -> None:
    """Warn that VGG16 runs with random weights, so it shows no learned features."""
    st.warning(
        "**These are random weights.** This VGG16 is He-initialised at random "
        "because loading the weights trained on ImageNet is not supported yet. "
        "The feature maps show the mechanics (edges and colours of your photo "
        "passing through random 3×3 filters, ReLU and max pooling), not learned "
        "features such as fur or wheels, and the network makes no class "
        "predictions."
    )


def photo_picker(key_prefix: str) -> tuple[str, bytes] | None:
    """Let the user choose a sample photo or upload one, and return it.

    Returns `(file name, bytes)`, or None when "Your photo" is chosen and no
    file is uploaded. Uploading a file selects it, and removing it selects
    the default sample again. The bytes are not checked: decode them with
    `engine.images.load_image`, which raises `ImageError` for bad files.
    """
    samples = sample_photos()
    choice_key, upload_key = f"{key_prefix}_photo", f"{key_prefix}_upload"
    # The default sample comes first, then the others in alphabetical order.
    options = sorted(samples, key=lambda name: name != DEFAULT_SAMPLE)
    options.append(UPLOAD_CHOICE)
    st.session_state.setdefault(choice_key, DEFAULT_SAMPLE)
    labels = {name: _sentence_case(subject)
              for name, (subject, _) in sample_credits().items()}
    labels[UPLOAD_CHOICE] = "Your photo"
    choice = st.radio(
        "Photo",
        options,
        key=choice_key,
        format_func=lambda name: labels.get(name, name),
        captions=["JPEG, PNG or WebP, uploaded below" if name == UPLOAD_CHOICE
                  else "" for name in options],
        label_visibility="collapsed",
    )
    upload = st.file_uploader(
        "Upload a photo",
        type=PHOTO_TYPES,
        key=upload_key,
        on_change=_select_upload,
        args=(choice_key, upload_key),
        help="A JPEG, PNG or WebP photo. It is resized and cropped to 224×224.",
    )
    if choice == UPLOAD_CHOICE:
        if upload is None:
            return None
        return upload.name, upload.getvalue()
    st.caption(sample_attribution(choice))
    return choice, samples[choice].read_bytes()


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _select_upload(choice_key: str, upload_key: str) -> None:
    """Select the uploaded photo, or the default sample when it was removed."""
    uploaded = st.session_state.get(upload_key) is not None
    st.session_state[choice_key] = UPLOAD_CHOICE if uploaded else DEFAULT_SAMPLE


def image_digest(data: bytes) -> str:
    """Return the SHA-256 hex digest that keys the cached activations of a photo."""
    return hashlib.sha256(data).hexdigest()


@st.cache_resource(
    show_spinner="Building VGG16 with random weights "
    "(138 million parameters, about 550 MB)…",
    show_time=True,
)
def vgg16() -> Sequential:
    """Build VGG16 with He-initialised random weights once per server process.

    Sessions share the network, so hold `FORWARD_LOCK` while running it.
    """
    return build_vgg("vgg16", seed=0)


@dataclass(frozen=True)
class VggActivations:
    """One photo prepared for VGG16 and the feature maps of its forward pass.

    `resized` is the photo with its shorter side at 256 pixels, `cropped` its
    centre 224×224 crop (both RGB uint8 `(H, W, 3)`), and `tensor` the
    normalised input `(1, 3, 224, 224)`. `maps` contains each conv layer's
    output before ReLU and each pool layer's output as `(C, H, W)`. Every
    array is read-only because the cache shares it between sessions.
    """

    original_size: tuple[int, int]  # (height, width) of the decoded photo
    resized: np.ndarray
    cropped: np.ndarray
    tensor: np.ndarray
    maps: dict[str, np.ndarray]


@st.cache_resource(
    max_entries=FEATURE_MAP_ENTRIES,
    show_spinner="Running VGG16 on the photo…",
    show_time=True,
)
def vgg16_activations(_image_bytes: bytes, digest: str) -> VggActivations:
    """Decode a photo and run VGG16 on it, cached by the photo's `digest`.

    The leading underscore keeps `_image_bytes` out of the cache key, which
    is `digest` alone (from `image_digest`), so the bytes are hashed once.
    Raises `ImageError` for a file that is not a usable image; nothing is
    cached then.
    """
    rgb = load_image(_image_bytes)
    prepared = preprocess_imagenet(rgb)
    network = vgg16()
    with FORWARD_LOCK:
        maps = conv_feature_maps(network, prepared.tensor)
    for array in (prepared.resized, prepared.cropped, prepared.tensor):
        array.flags.writeable = False
    return VggActivations(rgb.shape[:2], prepared.resized, prepared.cropped,
                          prepared.tensor, maps)
