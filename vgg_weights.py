"""The sidebar controls that choose which VGG network and weights the page runs.

The page runs, in this order of preference: a weights file uploaded in
this session for the chosen configuration, the pretrained weights in the
download cache (filled by the page's download button or by
`python -m engine weights fetch`), else He-initialised random weights.
"""

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from engine.pretrained import PretrainedVGG, load_pretrained
from engine.vgg import CONFIGS
from engine.weights import SOURCES, WeightsError
from ui import show_error_detail
from vgg_download import cached_file, download_button, download_url
from vgg_models import VggModel, config_label, file_model, random_model

CONFIG_KEY = "vgg_config"
OWN_FILE_KEY = "vgg_weights_own"
UPLOAD_KEY = "vgg_weights_upload"
CHECKED_KEY = "vgg_weights_checked"  # an UploadCheck of the file last checked
RECORD_KEY = "vgg_weights_file"  # an UploadRecord of the last usable upload
DEFAULT_CONFIG = "vgg16"
WEIGHT_TYPES = ["pth", "pt", "h5", "npz"]
# torchvision's VGG files are 507 MiB (vgg11) to 548 MiB (vgg19). The server
# also rejects any upload above `server.maxUploadSize` in .streamlit/config.toml.
MAX_WEIGHTS_MB = 600


@dataclass(frozen=True)
class Weights:
    """The network the page runs, and where its weights came from."""

    model: VggModel
    label: str  # "random He weights" or the weights file's name


@dataclass(frozen=True)
class UploadCheck:
    """The outcome of loading one uploaded file, by Streamlit's file id.

    `error` is None for a usable file. Otherwise it is the plain message
    for the user, and `detail` the technical one.
    """

    file_id: str
    error: str | None
    detail: str = ""


@dataclass(frozen=True)
class UploadRecord:
    """An uploaded weights file that loaded, kept while the session lasts."""

    key: str  # "sha256:<hex digest>", the file_model cache key
    file_id: str
    name: str
    config: str


def network_sidebar() -> Weights:
    """Draw the configuration, download and upload controls; return the weights.

    A newly uploaded file is loaded before the configuration box is drawn,
    so that the box can switch to the file's configuration.
    """
    config_slot = st.container()
    download_slot = st.container()
    upload = _upload_widgets()
    _check_upload(upload)
    with config_slot:
        options = list(CONFIGS)
        st.session_state.setdefault(CONFIG_KEY, DEFAULT_CONFIG)
        config = st.selectbox(
            "Configuration", options, key=CONFIG_KEY, format_func=config_label,
            help="The VGG variants of Simonyan and Zisserman: 11, 13, 16 or 19 "
            "layers with weights.")
    with download_slot:
        download_button(config)
        weights = _choose_weights(config, upload)
        st.caption(f"Weights in use: {weights.label}.")
    return weights


def _upload_widgets() -> UploadedFile | None:
    """Draw the switch for an own weights file and, when it is on, the uploader.

    The uploader is drawn only when needed, so a page without it keeps a
    single file uploader, the photo's. Switching off drops the file.
    """
    own = st.toggle("Use my own weights file", key=OWN_FILE_KEY,
                    help="Upload VGG weights saved by PyTorch (.pth), Keras "
                    "(.h5) or this app (.npz). The configuration is read "
                    "from the file.")
    if not own:
        st.session_state.pop(RECORD_KEY, None)
        st.session_state.pop(CHECKED_KEY, None)
        return None
    upload = st.file_uploader("Weights file", type=WEIGHT_TYPES, key=UPLOAD_KEY,
                              max_upload_size=MAX_WEIGHTS_MB)
    # Streamlit 1.67.0 rounds an uploader's limit to whole gigabytes once it
    # passes half a gigabyte, so its drop zone reads "1GB per file" for 600 MB.
    st.caption(f"At most {MAX_WEIGHTS_MB} MB per file. The box above rounds "
               f"this limit up to 1GB.")
    return upload


def _check_upload(upload: UploadedFile | None) -> None:
    """Load a newly uploaded file once, and show why an unusable one failed.

    A usable file becomes the session's weights file and selects its
    configuration. After an unusable one, the page keeps the weights it
    had, and the error stays on screen while the file is in the uploader.
    An empty uploader keeps the session's weights file too: Streamlit
    empties it for one run when a new file replaces the old one, and only
    the switch drops the file.
    """
    state = st.session_state
    if upload is None:
        state.pop(CHECKED_KEY, None)
        return
    checked = state.get(CHECKED_KEY)
    if checked is None or checked.file_id != upload.file_id:
        checked = _load_upload(upload)
        state[CHECKED_KEY] = checked
    if checked.error is not None:
        st.error(f"**{upload.name}** cannot be used. {checked.error} The page "
                 f"keeps the weights it had.")
        show_error_detail(checked.detail)


def _load_upload(upload: UploadedFile) -> UploadCheck:
    with st.spinner(f"Checking {upload.name}…"):
        upload.seek(0)
        key = "sha256:" + hashlib.file_digest(upload, "sha256").hexdigest()
    try:
        model = file_model(key, _upload_loader(upload))
    except WeightsError as error:
        return UploadCheck(upload.file_id, error.plain_message(), error.detail)
    st.session_state[RECORD_KEY] = UploadRecord(key, upload.file_id, upload.name,
                                                model.config)
    st.session_state[CONFIG_KEY] = model.config
    return UploadCheck(upload.file_id, None)


def _upload_loader(upload: UploadedFile) -> Callable[[], PretrainedVGG]:
    """Return a loader that reads the upload through a temporary file.

    The engine reads weights from a path. Its errors name that path,
    which is replaced by the uploaded file's name.
    """
    def load() -> PretrainedVGG:
        with tempfile.TemporaryDirectory(prefix="nn-explainer-") as folder:
            path = Path(folder) / Path(upload.name).name
            upload.seek(0)
            with open(path, "wb") as file:
                shutil.copyfileobj(upload, file)
            try:
                return load_pretrained(path)
            except WeightsError as error:
                raise error.in_file(upload.name) from None
    return load


def _not_loaded() -> PretrainedVGG:
    raise LookupError("the weights are no longer loaded")


def _choose_weights(config: str, upload: UploadedFile | None) -> Weights:
    """Return the session's upload for `config`, else cached weights, else random."""
    record = st.session_state.get(RECORD_KEY)
    if record is not None and record.config == config:
        current = upload is not None and upload.file_id == record.file_id
        try:
            model = file_model(record.key,
                               _upload_loader(upload) if current else _not_loaded)
            return Weights(model, f"your file {record.name}")
        except LookupError:
            st.session_state.pop(RECORD_KEY)
            st.info(f"{record.name} was unloaded to make room for other "
                    f"weights. Upload it again to use it.")
    path = cached_file(config)
    if path is not None:
        key = f"{path}@{path.stat().st_mtime_ns}"
        try:
            model = file_model(key, lambda: load_pretrained(path, config))
            return Weights(model, f"the downloaded ImageNet weights ({path.name})")
        except WeightsError as error:
            st.error(f"The downloaded weights in {path} cannot be used. "
                     f"{error.plain_message()} Delete that file, and the page "
                     f"offers the download again.")
            show_error_detail(error.detail)
    return Weights(random_model(config), "random He weights")


def weights_banner(weights: Weights) -> None:
    """Say plainly which weights the network runs on, and how to get real ones."""
    model = weights.model
    label = config_label(model.config)
    if model.pretrained:
        st.success(
            f"**Pretrained weights.** This {label} runs on {weights.label}, "
            f"first saved as {SOURCES.get(model.origin, model.origin)}. Photos "
            f"are prepared with the {model.recipe.name} recipe that these "
            f"weights were trained with.")
        return
    instructions = ("turn on **Use my own weights file** in the sidebar and "
                    "upload a .pth, .h5 or .npz file")
    if download_url(model.config) is not None:
        instructions = (
            f"press **Download the pretrained {label} weights** in the sidebar "
            f"(over 500 MB, kept for later visits), or {instructions}, or run "
            f"`python -m engine weights fetch {model.config}` on the server")
    st.warning(
        f"**This {label} runs on random weights.** They are He-initialised "
        f"at random, not trained on ImageNet. The feature maps show the "
        f"mechanics (edges and colours of your photo passing through random "
        f"3×3 filters, ReLU and max pooling), not learned features such as "
        f"fur or wheels, and its class predictions would be meaningless, so "
        f"none are shown. To get the trained weights, {instructions}.")
