"""Streamlit helpers shared by the pages: the photo picker and the sidebar
controls of the small fully connected network."""

import hashlib
from pathlib import Path

import streamlit as st

from engine.layers import ACTIVATIONS

SAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "samples"
SAMPLE_SOURCES = SAMPLES_DIR / "SOURCES.md"
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp"]
DEFAULT_SAMPLE = "chelsea.png"
UPLOAD_CHOICE = "upload"  # the picker's option for the user's own photo
# A photo upload's limit in MB. It is lower than the server-wide
# `server.maxUploadSize`, which leaves room for VGG weight files.
MAX_PHOTO_MB = 200


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


def photo_picker(key_prefix: str) -> tuple[str, bytes] | None:
    """Let the user choose a sample photo or upload one, and return it.

    Returns `(file name, bytes)`, or None when "Your photo" is chosen and no
    file was uploaded in this session, or the last one was removed.
    Uploading a file selects it, and removing it selects the default sample
    again. The bytes are not checked: decode them with
    `engine.images.load_image`, which raises `ImageError` for bad files.
    """
    samples = sample_photos()
    choice_key, upload_key = f"{key_prefix}_photo", f"{key_prefix}_upload"
    # An uploader comes back empty after a page switch, so the last upload
    # is kept under its own key until the user removes it.
    last_upload_key = f"{key_prefix}_last_upload"
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
        persist_state="session",
        format_func=lambda name: labels.get(name, name),
        captions=["JPEG, PNG or WebP, uploaded below" if name == UPLOAD_CHOICE
                  else "" for name in options],
        label_visibility="collapsed",
    )
    upload = st.file_uploader(
        "Upload a photo",
        type=PHOTO_TYPES,
        key=upload_key,
        max_upload_size=MAX_PHOTO_MB,
        on_change=_select_upload,
        args=(choice_key, upload_key, last_upload_key),
        help="A JPEG, PNG or WebP photo. It is resized and cropped to 224×224.",
    )
    if upload is not None:
        st.session_state[last_upload_key] = (upload.name, upload.getvalue())
    if choice == UPLOAD_CHOICE:
        last_upload = st.session_state.get(last_upload_key)
        if upload is None and last_upload is not None:
            st.caption(f"{last_upload[0]}, uploaded earlier in this session.")
        return last_upload
    st.caption(sample_attribution(choice))
    return choice, samples[choice].read_bytes()


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _select_upload(choice_key: str, upload_key: str,
                   last_upload_key: str) -> None:
    """Select the uploaded photo, or the default sample when it was removed."""
    uploaded = st.session_state.get(upload_key) is not None
    st.session_state[choice_key] = UPLOAD_CHOICE if uploaded else DEFAULT_SAMPLE
    if not uploaded:
        st.session_state.pop(last_upload_key, None)


def image_digest(data: bytes) -> str:
    """Return the SHA-256 hex digest that keys the cached results of a photo."""
    return hashlib.sha256(data).hexdigest()


def sentence(message: object) -> str:
    """End a message with a full stop, as engine messages have none."""
    text = str(message)
    return text if text.endswith(".") else text + "."


def show_error_detail(detail: str) -> None:
    """Show an error's technical detail, folded away, below its plain message.

    The detail is for bug reports, so it is written as plain text, with no
    Markdown to misread underscores in names such as `_rebuild_tensor`.
    """
    if not detail:
        return
    with st.expander("Technical detail"):
        st.text(detail)


# The small fully connected network of the forward and backward pages.
N_INPUTS = 2
INPUT_RANGE = (-3.0, 3.0)
DEFAULT_INPUTS = (0.5, -1.0)
DEFAULT_HIDDEN = (3, 2, 2)  # neurons of hidden layers 1, 2 and 3
TOY_MAX_NEURONS = 6


def activation_title(key: str) -> str:
    return ACTIVATIONS[key].title


def toy_network_controls(prefix: str) -> tuple[list[int], str, str, int, int]:
    """Draw the sidebar controls of the network; return its settings.

    Returns the layer sizes, the hidden and output activation keys, the
    weight seed and the number of significant digits to show.
    """
    st.sidebar.header("Network")
    depth = st.sidebar.slider(
        "Hidden layers", 1, len(DEFAULT_HIDDEN), 2, key=f"{prefix}_depth",
        persist_state="session",
    )
    hidden_sizes = [
        st.sidebar.slider(
            f"Neurons in hidden layer {l}", 1, TOY_MAX_NEURONS, DEFAULT_HIDDEN[l - 1],
            key=f"{prefix}_size_{l}", persist_state="session",
        )
        for l in range(1, depth + 1)
    ]
    keys = list(ACTIVATIONS)
    hidden = st.sidebar.selectbox(
        "Hidden activation", keys, format_func=activation_title,
        key=f"{prefix}_hidden", persist_state="session",
    )
    output = st.sidebar.selectbox(
        "Output activation", keys, index=keys.index("sigmoid"),
        format_func=activation_title, key=f"{prefix}_output",
        persist_state="session",
    )
    seed = st.sidebar.number_input(
        "Weight seed", 0, 10_000, 0, key=f"{prefix}_seed", persist_state="session",
        help="Seed of the random generator that draws the initial weights (He).",
    )
    digits = st.sidebar.slider(
        "Significant digits shown", 2, 8, 4, key=f"{prefix}_digits",
        persist_state="session",
    )
    return [N_INPUTS, *hidden_sizes, 1], hidden, output, int(seed), digits
