"""Property tests: any bytes end in an RGB uint8 array or in ImageError.

Hypothesis draws images of every mode that Pillow can save, in every format
that saves that mode, and random, truncated or corrupted bytes. The loader
must return a `(H, W, 3)` uint8 array or raise ImageError, nothing else.
"""

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.images import ImageError, load_image

MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16", "F", "CMYK"]
FORMATS = ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"]
LOSSLESS_FORMATS = ["PNG", "BMP", "TIFF"]
MAX_SIDE = 64
MAX_RANDOM_BYTES = 4096
PALETTE_BYTES = 256 * 3
SIGNATURES = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM",
              b"II*\x00", b"MM\x00*", b"RIFF\x00\x00\x00\x00WEBPVP8 "]
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


def encode(image, fmt):
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def saves(mode, fmt):
    try:
        encode(Image.new(mode, (1, 1)), fmt)
    except (OSError, ValueError, KeyError):
        return False
    return True


# Every (mode, format) pair that Pillow can write, found by trying.
SAVEABLE = [(mode, fmt) for mode in MODES for fmt in FORMATS if saves(mode, fmt)]


def random_image(mode, width, height, seed):
    """An image of random pixels, and a random palette for mode P."""
    rng = np.random.default_rng(seed)
    size = len(Image.new(mode, (width, height)).tobytes())
    image = Image.frombytes(mode, (width, height), rng.bytes(size))
    if mode == "P":
        image.putpalette(rng.bytes(PALETTE_BYTES))
    return image


images = st.tuples(st.sampled_from(SAVEABLE), st.integers(1, MAX_SIDE),
                   st.integers(1, MAX_SIDE), st.integers(0, 2**32 - 1))


def encoded(case):
    (mode, fmt), width, height, seed = case
    return encode(random_image(mode, width, height, seed), fmt)


def load_or_image_error(data):
    """Load `data` and check the array, or return None for ImageError."""
    try:
        rgb = load_image(data)
    except ImageError:
        return None
    assert isinstance(rgb, np.ndarray)
    assert rgb.dtype == np.uint8
    assert rgb.ndim == 3
    assert rgb.shape[2] == 3
    assert rgb.shape[0] >= 1
    assert rgb.shape[1] >= 1
    return rgb


def test_saveable_pairs_cover_every_mode():
    assert {mode for mode, _ in SAVEABLE} == set(MODES)
    assert {fmt for _, fmt in SAVEABLE} == set(FORMATS)


@PROPERTY_SETTINGS
@given(images)
def test_valid_image_loads_with_its_size(case):
    _, width, height, _ = case
    rgb = load_image(encoded(case))
    assert rgb.dtype == np.uint8
    assert rgb.shape == (height, width, 3)


@PROPERTY_SETTINGS
@given(st.sampled_from(["L", "RGB"]), st.sampled_from(LOSSLESS_FORMATS),
       st.integers(1, MAX_SIDE), st.integers(1, MAX_SIDE),
       st.integers(0, 2**32 - 1))
def test_lossless_round_trip_exact(mode, fmt, width, height, seed):
    image = random_image(mode, width, height, seed)
    expected = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(load_image(encode(image, fmt)), expected)


@PROPERTY_SETTINGS
@given(st.binary(max_size=MAX_RANDOM_BYTES))
def test_random_bytes_end_in_array_or_error(data):
    load_or_image_error(data)


@PROPERTY_SETTINGS
@given(st.sampled_from(SIGNATURES), st.binary(max_size=MAX_RANDOM_BYTES))
def test_signature_then_random_bytes(signature, rest):
    load_or_image_error(signature + rest)


@PROPERTY_SETTINGS
@given(images, st.floats(0, 1, exclude_max=True))
def test_truncated_file_ends_in_array_or_error(case, fraction):
    data = encoded(case)
    load_or_image_error(data[:int(len(data) * fraction)])


@PROPERTY_SETTINGS
@given(images, st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                  st.integers(0, 255)), min_size=1, max_size=8))
def test_corrupted_file_ends_in_array_or_error(case, edits):
    data = bytearray(encoded(case))
    for fraction, value in edits:
        data[int(len(data) * fraction)] = value
    load_or_image_error(bytes(data))
