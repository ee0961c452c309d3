"""Bad files uploaded to every page that takes files, in headless Chromium.

Each case uploads one bad file and checks that the page explains it in an
`st.error` box that names the file, shows no exception, and still works.
"""

import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import REPO_ROOT
from tests.browser.helpers import (
    ERROR_ALERT_SELECTOR,
    RERUN_TIMEOUT_MS,
    assert_no_exception,
    file_input,
    metric_value,
    open_app_page,
    screenshot,
    wait_for_app_idle,
    wait_for_plotly_chart,
)

SAMPLES = REPO_ROOT / "assets" / "samples"
# The label of the default sample, chelsea.png, in the photo pickers.
DEFAULT_SAMPLE_LABEL = "A tabby cat (Chelsea)"
DEFAULT_SAMPLE_SIZE_TEXT = "photo (451×300 pixels)"
# The first VGG16 page of the server builds the 553 MB network, 10-15 s on a
# 2-core machine.
VGG_TIMEOUT_MS = 120_000

TEXT = b"These are notes, not an image or a weights file.\n"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A PNG header that declares 13,400 x 13,400 grey pixels (179.56 million),
# more than the loader's limit of 40 million and Pillow's own limit of
# 178.96 million (2 x Image.MAX_IMAGE_PIXELS), with only 4 rows of data.
BOMB_SIDE = 13_400
BOMB_ROWS = 4
TRUNCATED_BYTES = 2_000
RANDOM_BYTES = 4_096
# An ISO media `ftyp` box with the HEIC brands of an iPhone photo.
HEIC_BYTES = (struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0"
              + b"mif1heic" + bytes(64))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """Return one PNG chunk: length, type, data and the CRC of type and data."""
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def bomb_png() -> bytes:
    """Return a PNG of 131 bytes that declares BOMB_SIDE x BOMB_SIDE pixels."""
    # Width, height, bit depth 8, colour type 0 (grey), then the default
    # compression, filter and interlace methods.
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 8, 0, 0, 0, 0)
    rows = bytes(1 + BOMB_SIDE) * BOMB_ROWS  # each row: filter byte, pixels
    return (PNG_SIGNATURE + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def truncated_jpeg() -> bytes:
    return (SAMPLES / "rocket.jpg").read_bytes()[:-TRUNCATED_BYTES]


def random_bytes() -> bytes:
    return random.Random(0).randbytes(RANDOM_BYTES)


def click_radio_option(page: Page, label: str) -> None:
    """Click the option `label` of a radio group, then wait for the rerun."""
    option = page.locator('[data-testid="stRadio"] label').filter(has_text=label)
    option.click()
    wait_for_app_idle(page, timeout=VGG_TIMEOUT_MS)


def toggle_own_weights(page: Page) -> None:
    page.locator(".st-key-vgg_weights_own label").click()
    wait_for_app_idle(page)


def choose_photo_input(page: Page) -> None:
    click_radio_option(page, "A photo")


def choose_image_upload(page: Page) -> None:
    click_radio_option(page, "Upload an image")


def do_nothing(page: Page) -> None:
    pass


def expect_chart_drawn(page: Page, key: str) -> None:
    """Wait until the Plotly chart with Streamlit key `key` has drawn its SVG."""
    chart = page.locator(f".st-key-{key} .main-svg").first
    expect(chart).to_be_visible(timeout=RERUN_TIMEOUT_MS)


def assert_sample_photo_shown(page: Page) -> None:
    """Pick the default sample photo and check that the page draws it."""
    click_radio_option(page, DEFAULT_SAMPLE_LABEL)
    size_text = page.get_by_text(DEFAULT_SAMPLE_SIZE_TEXT)
    expect(size_text).not_to_have_count(0, timeout=VGG_TIMEOUT_MS)
    wait_for_plotly_chart(page, timeout=VGG_TIMEOUT_MS)


def assert_sample_grid_shown(page: Page) -> None:
    click_radio_option(page, DEFAULT_SAMPLE_LABEL)
    expect_chart_drawn(page, "cv_photo_chart")


def assert_random_weights_kept(page: Page) -> None:
    """Turn the own weights file off and check the photo is drawn again."""
    expect(page.get_by_text("Weights in use: random He weights.")).to_have_count(1)
    toggle_own_weights(page)
    expect(page.locator(ERROR_ALERT_SELECTOR)).to_have_count(
        0, timeout=VGG_TIMEOUT_MS)
    size_text = page.get_by_text(DEFAULT_SAMPLE_SIZE_TEXT)
    expect(size_text).not_to_have_count(0, timeout=VGG_TIMEOUT_MS)
    wait_for_plotly_chart(page, timeout=VGG_TIMEOUT_MS)


def assert_training_steps(page: Page) -> None:
    """Train one epoch and check that the Epoch metric reads 1."""
    page.get_by_role("button", name="Step epoch", exact=True).click()
    epoch = metric_value(page, "Epoch")
    expect(epoch).to_have_text("1", timeout=RERUN_TIMEOUT_MS)
    wait_for_app_idle(page)
    wait_for_plotly_chart(page)


def assert_shape_classified(page: Page) -> None:
    click_radio_option(page, "Generate a shape")
    expect_chart_drawn(page, "tv_probability_chart")


@dataclass(frozen=True)
class UploadTarget:
    """A file uploader of one page, and how to reach it and check the page after."""

    url_path: str
    label: str
    prepare: Callable[[Page], None]  # makes the uploader appear
    check_usable: Callable[[Page], None]  # fails if the page stopped working


VGG_PHOTO = UploadTarget("/VGG16", "Upload a photo", do_nothing,
                         assert_sample_photo_shown)
VGG_WEIGHTS = UploadTarget("/VGG16", "Weights file", toggle_own_weights,
                           assert_random_weights_kept)
TRAINING_CSV = UploadTarget("/Training", "Your CSV file", do_nothing,
                            assert_training_steps)
TRAINING_NETWORK = UploadTarget("/Training", "Network file (JSON)", do_nothing,
                                assert_training_steps)
TINY_VGG_IMAGE = UploadTarget("/Tiny_VGG", "Upload an image", choose_image_upload,
                              assert_shape_classified)
CONVOLUTION_PHOTO = UploadTarget("/Convolution", "Upload a photo",
                                 choose_photo_input, assert_sample_grid_shown)


@pytest.mark.parametrize("target, file_name, content, message", [
    pytest.param(VGG_PHOTO, "empty.png", b"", "The file is empty",
                 id="vgg-photo-empty"),
    pytest.param(VGG_PHOTO, "notes.png", TEXT, "plain text, not an image",
                 id="vgg-photo-text"),
    pytest.param(VGG_PHOTO, "truncated.jpg", truncated_jpeg(),
                 "damaged or truncated", id="vgg-photo-truncated-jpeg"),
    pytest.param(VGG_PHOTO, "iphone.jpg", HEIC_BYTES, "This file is HEIC",
                 id="vgg-photo-heic"),
    pytest.param(VGG_PHOTO, "bomb.png", bomb_png(), "40,000,000 pixels",
                 id="vgg-photo-bomb"),
    pytest.param(VGG_WEIGHTS, "random.pth", random_bytes(),
                 "not a weights file that can be read",
                 id="vgg-weights-random"),
    pytest.param(VGG_WEIGHTS, "notes.npz", TEXT,
                 "not a weights file that can be read",
                 id="vgg-weights-text"),
    pytest.param(TRAINING_CSV, "text-cell.csv", b"x1,x2,label\n0.5,abc,1\n",
                 "line 2: x2 is not a number", id="training-csv-text-cell"),
    pytest.param(TRAINING_CSV, "label-2.csv", b"0.5,0.25,0\n0.1,0.2,2\n",
                 "the label must be 0 or 1, found '2'", id="training-csv-label-2"),
    pytest.param(TRAINING_CSV, "empty.csv", b"", "the file has no data rows",
                 id="training-csv-empty"),
    pytest.param(TRAINING_NETWORK, "network.json", TEXT,
                 "the file is not valid JSON", id="training-network-not-json"),
    pytest.param(TINY_VGG_IMAGE, "notes.png", TEXT, "plain text, not an image",
                 id="tiny-vgg-text"),
    pytest.param(CONVOLUTION_PHOTO, "notes.png", TEXT,
                 "plain text, not an image", id="convolution-photo-text"),
])
def test_bad_file_shows_message(page, app_server, artifacts_dir, tmp_path,
                                request, target, file_name, content, message):
    open_app_page(page, app_server, target.url_path)
    target.prepare(page)
    path = tmp_path / file_name
    path.write_bytes(content)

    file_input(page, target.label).set_input_files(path)
    # The page looks idle until the upload reaches the server and the rerun
    # starts, so wait for the error box first.
    error_alerts = page.locator(ERROR_ALERT_SELECTOR)
    expect(error_alerts).not_to_have_count(0, timeout=VGG_TIMEOUT_MS)
    wait_for_app_idle(page, timeout=VGG_TIMEOUT_MS)

    errors = error_alerts.all_inner_texts()
    assert len(errors) == 1, f"expected one error box, found {errors}"
    assert message in errors[0]
    assert file_name in errors[0]
    assert_no_exception(page)
    screenshot(page, artifacts_dir / f"bad-file-{request.node.callspec.id}.png")

    target.check_usable(page)
    expect(error_alerts).to_have_count(0, timeout=RERUN_TIMEOUT_MS)
    assert_no_exception(page)
