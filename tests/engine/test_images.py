"""The image loader and ImageNet preprocessing."""

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from engine.images import (
    FIRST_FRAME_NOTE,
    MAX_ASPECT_RATIO,
    MAX_PIXELS,
    ImageError,
    check_aspect_ratio,
    enlargement_note,
    load_image,
    load_image_with_notes,
    preprocess_caffe,
    preprocess_imagenet,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "assets" / "samples"
PILLOW_PIXEL_LIMIT = Image.MAX_IMAGE_PIXELS  # as Pillow set it on import
BOMB_SIDE = 13_400  # 179.6 million pixels: past twice Pillow's default limit
EXIF_ORIENTATION = 0x0112
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RED, BLUE, GREEN, WHITE = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 255)


def encode(image, fmt="PNG", **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind, body):
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_file(width, height, idat, bit_depth=8):
    """A greyscale PNG with the given IDAT payload, valid or not."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def png_header_bomb(side):
    """A PNG that declares `side` x `side` grey pixels but encodes 100."""
    return png_file(side, side, zlib.compress(bytes(100)))


def gif_header_bomb(side):
    screen = struct.pack("<HHBBB", side, side, 0, 0, 0)
    frame = struct.pack("<HHHHB", 0, 0, side, side, 0)
    return b"GIF89a" + screen + b"," + frame + b"\x02\x02\x44\x01\x00;"


def bmp_header_bomb(side):
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + info + bytes(16)


def png_real_bomb(side):
    """A 1-bit PNG of `side` x `side` black pixels, all of them encoded.

    Each row is a filter byte and side / 8 zero bytes, so the file stays
    near 22 KB while Pillow needs one byte per pixel to decode it.
    """
    compressor = zlib.compressobj(9)
    row = bytes(1 + (side + 7) // 8)
    idat = b"".join(compressor.compress(row) for _ in range(side))
    return png_file(side, side, idat + compressor.flush(), bit_depth=1)


# Samples and preprocessing.


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png", "rocket.jpg",
                                  "astronaut.png"])
def test_samples_load_as_rgb(name):
    rgb, notes = load_image_with_notes((SAMPLES / name).read_bytes())
    assert rgb.dtype == np.uint8
    assert rgb.ndim == 3
    assert rgb.shape[2] == 3
    assert notes == []


def test_result_is_read_only():
    rgb = load_image(encode(Image.new("RGB", (2, 2))))
    with pytest.raises(ValueError, match="read-only"):
        rgb[0, 0, 0] = 1


def test_red_pixel_normalised():
    red = np.zeros((300, 400, 3), np.uint8)
    red[..., 0] = 255
    tensor = preprocess_imagenet(red).tensor
    assert tensor.shape == (1, 3, 224, 224)
    np.testing.assert_allclose(tensor[0, :, 0, 0],
                               [2.2489, -2.0357, -1.8044], atol=1e-4)


def test_resize_keeps_aspect_ratio():
    stages = preprocess_imagenet(np.zeros((300, 451, 3), np.uint8))
    assert stages.resized.shape == (256, int(256 * 451 / 300), 3)
    assert stages.cropped.shape == (224, 224, 3)


@pytest.mark.parametrize("height, width, allowed", [
    (10, 10 * MAX_ASPECT_RATIO, True),
    (10, 10 * MAX_ASPECT_RATIO + 1, False),
    (10 * MAX_ASPECT_RATIO + 1, 10, False),
])
def test_aspect_ratio_limit(height, width, allowed):
    rgb = np.zeros((height, width, 3), np.uint8)
    if allowed:
        check_aspect_ratio(rgb)
        return
    with pytest.raises(ImageError, match=f"{width}x{height} pixels"):
        check_aspect_ratio(rgb)


@pytest.mark.parametrize("preprocess", [preprocess_imagenet, preprocess_caffe])
def test_aspect_ratio_error_names_model(preprocess):
    strip = np.zeros((10, 10 * MAX_ASPECT_RATIO + 1, 3), np.uint8)
    with pytest.raises(ImageError, match="the centre square that VGG11 sees"):
        preprocess(strip, "VGG11")


def test_aspect_ratio_error_without_model_name():
    strip = np.zeros((10, 10 * MAX_ASPECT_RATIO + 1, 3), np.uint8)
    with pytest.raises(ImageError, match="the centre square that the network"):
        check_aspect_ratio(strip)


@pytest.mark.parametrize("height, width", [(2, 2), (100, 500), (223, 300)])
def test_enlargement_note_gives_original_size(height, width):
    note = enlargement_note(height, width)
    assert note is not None
    assert f"{width}x{height} pixels" in note
    assert "224x224" in note
    assert "enlarged" in note


@pytest.mark.parametrize("height, width", [(224, 224), (300, 451)])
def test_no_enlargement_note_for_large_photo(height, width):
    assert enlargement_note(height, width) is None


def test_enlargement_note_names_shorter_side():
    note = enlargement_note(20, 4000, 32)
    assert "4000x20 pixels, and its shorter side is smaller" in note


def test_enlargement_note_for_other_input_size():
    assert "32x32" in enlargement_note(16, 16, 32)
    assert enlargement_note(32, 40, 32) is None


def test_tiny_photo_fills_network_input():
    stages = preprocess_imagenet(np.full((2, 2, 3), 200, np.uint8))
    assert stages.resized.shape == (256, 256, 3)
    assert stages.tensor.shape == (1, 3, 224, 224)


# Orientation, palettes and transparency.


def test_exif_orientation_applied():
    image = Image.new("RGB", (3, 2), (0, 0, 0))
    image.putpixel((0, 0), RED)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # rotate 90 degrees clockwise to display
    data = encode(image, "JPEG", exif=exif, quality=100,
                  subsampling=0)  # 4:4:4 keeps one red pixel red
    rgb = load_image(data)
    assert rgb.shape == (3, 2, 3)
    assert rgb[0, 1, 0] > 200
    assert rgb[0, 1, 1] < 60
    np.testing.assert_array_equal(load_image(data), rgb)


def test_palette_gives_colours():
    image = Image.new("P", (2, 1))
    image.putpalette([*RED, *BLUE])
    image.putdata([0, 1])
    np.testing.assert_array_equal(load_image(encode(image)), [[RED, BLUE]])


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_on_white(fmt):
    image = Image.new("P", (2, 1))
    image.putpalette([*RED, *BLUE])
    image.putdata([0, 1])
    rgb = load_image(encode(image, fmt, transparency=1))
    np.testing.assert_array_equal(rgb, [[RED, WHITE]])


@pytest.mark.parametrize("mode, transparent, opaque, expected", [
    ("RGBA", (10, 20, 30, 0), (200, 0, 0, 255), (200, 0, 0)),
    ("LA", (10, 0), (100, 255), (100, 100, 100)),
])
def test_transparency_composited_on_white(mode, transparent, opaque, expected):
    image = Image.new(mode, (2, 1))
    image.putpixel((0, 0), transparent)
    image.putpixel((1, 0), opaque)
    rgb = load_image(encode(image))
    np.testing.assert_array_equal(rgb, [[WHITE, expected]])


def test_half_transparent_blends_with_white():
    image = Image.new("RGBA", (1, 1), (0, 0, 0, 128))
    rgb = load_image(encode(image))
    np.testing.assert_array_equal(rgb, [[(127, 127, 127)]])


# Grey, high-depth and CMYK modes.


def test_grey_becomes_equal_channels():
    image = Image.new("L", (2, 1))
    image.putdata([7, 250])
    np.testing.assert_array_equal(load_image(encode(image)),
                                  [[(7, 7, 7), (250, 250, 250)]])


def test_one_bit_becomes_black_and_white():
    image = Image.new("1", (2, 1))
    image.putdata([0, 1])
    np.testing.assert_array_equal(load_image(encode(image)),
                                  [[(0, 0, 0), WHITE]])


def test_sixteen_bit_png_scaled():
    values = np.array([[0, 257, 32768, 65535]], np.uint16)
    data = encode(Image.fromarray(values))
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    rgb = load_image(data)
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_sixteen_bit_transparent_value_white():
    values = np.array([[1000, 65535]], np.uint16)
    rgb = load_image(encode(Image.fromarray(values), transparency=1000))
    np.testing.assert_array_equal(rgb, [[WHITE, WHITE]])


def test_thirty_two_bit_integers_scaled_as_sixteen_bit():
    values = np.array([[-5, 0, 32768, 65535, 70000]], np.int32)
    data = encode(Image.fromarray(values), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "I"
    np.testing.assert_array_equal(load_image(data)[0, :, 0],
                                  [0, 0, 128, 255, 255])


def test_floats_scaled_with_one_as_white():
    values = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0, np.nan]], np.float32)
    data = encode(Image.fromarray(values), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "F"
    np.testing.assert_array_equal(load_image(data)[0, :, 0],
                                  [0, 0, 128, 255, 255, 0])


def test_cmyk_tiff_converted_exactly():
    image = Image.new("CMYK", (2, 1))
    image.putdata([(0, 255, 255, 0), (0, 0, 0, 255)])
    np.testing.assert_array_equal(load_image(encode(image, "TIFF")),
                                  [[RED, (0, 0, 0)]])


def test_adobe_cmyk_jpeg_converted():
    image = Image.new("CMYK", (8, 8), (0, 255, 255, 0))
    data = encode(image, "JPEG", quality=100)
    # Pillow writes CMYK JPEGs with an Adobe segment and inverted values,
    # as Photoshop does, so reading one back tests the inverted path.
    assert "adobe" in Image.open(io.BytesIO(data)).info
    rgb = load_image(data)
    np.testing.assert_allclose(rgb[4, 4], RED, atol=3)


# Animations and pages.


def animation_options(fmt):
    frames = [Image.new("RGB", (4, 3), colour) for colour in (BLUE, GREEN)]
    options = {"save_all": True, "append_images": frames}
    if fmt == "WEBP":
        options["lossless"] = True
    return options


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG", "TIFF"])
def test_animation_gives_first_frame_and_note(fmt):
    first = Image.new("RGB", (4, 3), RED)
    rgb, notes = load_image_with_notes(encode(first, fmt,
                                              **animation_options(fmt)))
    assert rgb.shape == (3, 4, 3)
    np.testing.assert_array_equal(rgb[0, 0], RED)
    assert notes == [FIRST_FRAME_NOTE]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG", "TIFF"])
def test_single_frame_has_no_note(fmt):
    _, notes = load_image_with_notes(encode(Image.new("RGB", (4, 3)), fmt))
    assert notes == []


def test_load_image_returns_array_only():
    data = encode(Image.new("RGB", (4, 3), RED), "GIF",
                  **animation_options("GIF"))
    assert isinstance(load_image(data), np.ndarray)


# Damaged files.


def photo_bytes(fmt):
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    return encode(Image.fromarray(pixels), fmt)


def flip_idat_crc(data):
    iend_length = data.index(b"IEND") - 4
    damaged = bytearray(data)
    damaged[iend_length - 1] ^= 0xFF  # the last byte of IDAT's CRC
    return bytes(damaged)


def cut_in_half(data):
    return data[:len(data) // 2]


@pytest.mark.parametrize("data", [
    pytest.param(photo_bytes("JPEG")[:-200], id="JPEG without 200 bytes"),
    pytest.param((SAMPLES / "rocket.jpg").read_bytes()[:-2000],
                 id="sample JPEG without 2000 bytes"),
    pytest.param(cut_in_half(photo_bytes("PNG")), id="PNG cut in half"),
    pytest.param(photo_bytes("PNG")[:-10], id="PNG without IEND"),
    pytest.param(flip_idat_crc(photo_bytes("PNG")), id="PNG with bad IDAT CRC"),
    pytest.param(photo_bytes("GIF")[:-200], id="GIF without 200 bytes"),
])
def test_damaged_file_reported(data):
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(data)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# Decompression bombs and the pixel cap.


@pytest.fixture
def load_calls(monkeypatch):
    """Record every ImageFile.load call, which decodes pixels."""
    calls = []
    original = ImageFile.ImageFile.load

    def recording_load(image):
        calls.append(image.size)
        return original(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    return calls


@pytest.mark.parametrize("pillow_limit", [PILLOW_PIXEL_LIMIT, None])
@pytest.mark.parametrize("bomb", [png_header_bomb, gif_header_bomb,
                                  bmp_header_bomb])
def test_bomb_rejected_before_decoding(bomb, pillow_limit, load_calls,
                                       monkeypatch):
    # With Pillow's own limit lifted, the loader's cap alone must hold.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    data = bomb(BOMB_SIDE)
    assert len(data) < 200
    with pytest.raises(ImageError, match=f"{MAX_PIXELS:,} pixels"):
        load_image(data)
    assert load_calls == []


def test_one_pixel_over_cap_rejected(load_calls):
    data = png_file(MAX_PIXELS + 1, 1, zlib.compress(bytes(100)))
    with pytest.raises(ImageError, match=f"{MAX_PIXELS + 1}x1 pixels"):
        load_image(data)
    assert load_calls == []


def test_loader_leaves_pillow_settings(recwarn):
    with pytest.raises(ImageError):
        load_image(png_header_bomb(10_000))  # past Pillow's warning limit
    with pytest.raises(ImageError):
        load_image(photo_bytes("JPEG")[:-200])
    assert Image.MAX_IMAGE_PIXELS == PILLOW_PIXEL_LIMIT
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert [str(warning.message) for warning in recwarn] == []


# Runs in a fresh process, where ru_maxrss starts low, and prints the growth
# of the peak resident memory in MB. ru_maxrss is in KiB on Linux.
MEASURE_PEAK = """
import io, resource, sys
from PIL import Image
from engine.images import ImageError, load_image
Image.MAX_IMAGE_PIXELS = None  # leave the loader's cap as the only guard
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_image(data)
except ImageError:
    pass
else:
    sys.exit("the loader decoded the bomb")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) // 1024)
"""


@pytest.fixture(scope="module")
def real_bomb_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(png_real_bomb(BOMB_SIDE))
    return path


def peak_growth_mb(path):
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", MEASURE_PEAK, str(path)],
        capture_output=True, text=True, env=environment, timeout=60,
        check=False)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB")
def test_real_bomb_keeps_memory_flat(real_bomb_path):
    assert real_bomb_path.stat().st_size < 50_000
    # The file really is a bomb: Pillow refuses to even open it.
    with pytest.raises(Image.DecompressionBombError):
        Image.open(real_bomb_path)
    assert peak_growth_mb(real_bomb_path) < 50


# Files that are not images, judged by content.


def ftyp_box(major, *compatible):
    brands = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands


@pytest.mark.parametrize("data, message", [
    (b"", "The file is empty."),
    (ftyp_box(b"heic", b"mif1", b"heic") + bytes(64), "This file is HEIC"),
    (ftyp_box(b"mif1", b"mif1", b"heic") + bytes(64), "This file is HEIC"),
    (ftyp_box(b"avif", b"mif1", b"avif") + bytes(64), "This file is AVIF"),
    (ftyp_box(b"isom", b"isom", b"mp41") + bytes(64), "video"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
    (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "ZIP archive"),
    (b"\n  <!DOCTYPE html>\n<html><body>", "web page"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG drawing"),
    (b'<?xml version="1.0"?>\n<svg width="10"/>', "SVG drawing"),
    (b"hello, world", "plain text, not an image that Pillow can read"),
    # Past the 4096 bytes examined, with a character cut at that point.
    (("a" + "\u00e9" * 3000).encode(), "plain text"),
    (b"GIF89a but truncated", "starts like a GIF image but is damaged"),
    (PNG_SIGNATURE + b"\x00\x00", "starts like a PNG image but is damaged"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "damaged"),
    (b"RIFF\x10\x00\x00\x00WEBPXXXX", "starts like a WebP image"),
    (bytes(range(256)), "not an image that Pillow can read"),
])
def test_unreadable_file_named(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data)


def test_heic_message_in_full():
    heic = ftyp_box(b"heic", b"mif1", b"heic") + bytes(64)
    with pytest.raises(ImageError) as error:
        load_image(heic)
    assert str(error.value) == ("This file is HEIC (an iPhone photo format), "
                                "which cannot be read; export it as JPEG or "
                                "PNG.")
