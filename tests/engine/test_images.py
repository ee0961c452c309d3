"""The image loader and ImageNet preprocessing."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.images import ImageError, load_image, preprocess_imagenet

SAMPLES = Path(__file__).resolve().parents[2] / "assets" / "samples"


def encode(image, fmt="PNG", **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png", "rocket.jpg",
                                  "astronaut.png"])
def test_samples_load_as_rgb(name):
    rgb = load_image((SAMPLES / name).read_bytes())
    assert rgb.dtype == np.uint8
    assert rgb.ndim == 3
    assert rgb.shape[2] == 3


def test_transparency_composited_on_white():
    image = Image.new("RGBA", (2, 1))
    image.putpixel((0, 0), (10, 20, 30, 0))
    image.putpixel((1, 0), (200, 0, 0, 255))
    rgb = load_image(encode(image))
    np.testing.assert_array_equal(rgb, [[[255, 255, 255], [200, 0, 0]]])


def test_palette_gives_colours():
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 0, 255])
    image.putdata([0, 1])
    np.testing.assert_array_equal(load_image(encode(image)),
                                  [[[255, 0, 0], [0, 0, 255]]])


def test_exif_orientation_applied():
    image = Image.new("RGB", (3, 2), (0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    rgb = load_image(encode(image, "JPEG", exif=exif, quality=100,
                            subsampling=0))  # 4:4:4 keeps one red pixel red
    assert rgb.shape == (3, 2, 3)
    assert rgb[0, 1, 0] > 200
    assert rgb[0, 1, 1] < 60


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"hello, world", "not an image"),
    ((SAMPLES / "rocket.jpg").read_bytes()[:-2000], "damaged"),
])
def test_bad_files_raise_image_error(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data)


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
