"""Download the pretrained weights of a VGG configuration from the page.

The environment variable `NN_EXPLAINER_<CONFIG>_URL`, for example
`NN_EXPLAINER_VGG16_URL`, replaces torchvision's download address, for a
mirror or a test server. Its file name must still end in `-<hex>.pth`,
the start of the file's SHA-256 digest, which the download is checked
against.
"""

import os
import re
import threading
import urllib.parse
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from engine.weights import (
    TORCHVISION_URLS,
    WeightsError,
    cached_weights_path,
    fetch_weights,
)
from ui import sentence, show_error_detail
from vgg_models import config_label

DOWNLOAD_KEY = "vgg_download"
MB = 1_000_000
UNKNOWN_SIZE_STEP = 10 * MB  # progress text step when the size is unknown
# One download per configuration at a time: two would write the same file.
DOWNLOAD_LOCKS = {config: threading.Lock() for config in TORCHVISION_URLS}


def url_variable(config: str) -> str:
    """Return the environment variable that overrides a download address."""
    return f"NN_EXPLAINER_{re.sub(r'[^A-Z0-9]', '_', config.upper())}_URL"


def download_url(config: str) -> str | None:
    """Return where to download `config`'s weights, or None if nowhere."""
    return os.environ.get(url_variable(config)) or TORCHVISION_URLS.get(config)


def cached_file(config: str) -> Path | None:
    """Return the downloaded weights of `config` when they are in the cache."""
    url = download_url(config)
    if url is None:
        return None
    try:
        path = cached_weights_path(config, url=url)
    except WeightsError:
        return None  # an address without a file name; downloading reports it
    return path if path.exists() else None


def download_button(config: str) -> None:
    """Offer to download the pretrained weights of `config` when not cached."""
    url = download_url(config)
    if url is None or cached_file(config) is not None:
        return
    host = urllib.parse.urlsplit(url).netloc
    folder = cached_weights_path(config, url=url).parent
    button_slot = st.empty()  # emptied once the weights are saved
    clicked = button_slot.button(
        f"Download the pretrained {config_label(config)} weights",
        key=DOWNLOAD_KEY, icon=":material/download:",
        help=f"Downloads torchvision's ImageNet weights from {host} (over "
        f"500 MB) and keeps them in {folder} for later visits. Changing a "
        f"control stops the download; press the button again to resume it.")
    if clicked and _download(config, url):
        button_slot.empty()


def _download(config: str, url: str) -> bool:
    """Download and convert the weights with a progress bar; return success."""
    lock = DOWNLOAD_LOCKS.setdefault(config, threading.Lock())
    if not lock.acquire(blocking=False):
        st.info("Another session is downloading these weights. Reload the page "
                "when it has finished.")
        return False
    try:
        bar = st.progress(0.0, text="Connecting…")
        path = fetch_weights(config, url=url, progress=DownloadProgress(bar))
    except OSError as error:  # DownloadError is an OSError
        bar.empty()
        st.error(f"The download failed: {sentence(error)}")
        return False
    except WeightsError as error:
        bar.empty()
        st.error(f"The downloaded file cannot be used. {error.plain_message()}")
        show_error_detail(error.detail)
        return False
    finally:
        # A widget change stops the script with an exception raised from
        # the progress callback, which must release the lock too.
        lock.release()
    bar.empty()
    st.success(f"Saved the weights to {path}.")
    return True


class DownloadProgress:
    """Feed `fetch_weights`' progress to an `st.progress` bar, once per per cent."""

    def __init__(self, bar: DeltaGenerator) -> None:
        self.bar = bar
        self.reported = -1

    def __call__(self, done: int, total: int | None) -> None:
        if not total:
            # Without a length, the bar stays empty and the text counts MB.
            if done // UNKNOWN_SIZE_STEP != self.reported:
                self.reported = done // UNKNOWN_SIZE_STEP
                self.bar.progress(0.0, text=f"Downloaded {done / MB:.0f} MB")
            return
        percent = min(100, 100 * done // total)
        if percent == self.reported:
            return
        self.reported = percent
        text = f"Downloaded {done / MB:.0f} of {total / MB:.0f} MB"
        if done >= total:
            text += ": checking the file and converting it to npz…"
        self.bar.progress(percent / 100, text=text)
