"""The one image loader, and ImageNet preprocessing for VGG.

The loader turns uploaded or bundled bytes into an RGB uint8 array of shape
`(H, W, 3)`, or raises `ImageError` with a message meant for the user.
"""

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # refuse larger images before decoding them
# Past this ratio of long to short side, the centre square VGG sees shows
# almost nothing of the photo, and resizing the short side to 256 would
# make a huge intermediate image.
MAX_ASPECT_RATIO = 20
RESIZE_TO = 256  # torchvision's recipe: shorter side to 256, then crop 224
CROP = 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


class ImageError(ValueError):
    """An image that cannot be used, with a message for the user."""


def load_image(data: bytes) -> np.ndarray:
    """Decode image bytes to RGB uint8 `(H, W, 3)`, upright, alpha on white.

    The EXIF orientation is applied, palettes become colours, and
    transparent pixels are composited on a white background. Raises
    `ImageError` for empty, damaged, unknown or oversized images.
    """
    if not data:
        raise ImageError("The file is empty.")
    try:
        image = _open_checked(data)
        image = ImageOps.exif_transpose(image)
        return _to_rgb(image)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(
            f"The image declares more than {MAX_PIXELS:,} pixels; "
            f"it was not decoded.") from None
    except UnidentifiedImageError:
        raise ImageError(
            "This file is not an image that Pillow can read; "
            "use a JPEG, PNG or WebP photo.") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"The image is damaged or truncated ({error}).") from None


def _open_checked(data: bytes) -> Image.Image:
    """Open the image and check its size before decoding the pixels."""
    with warnings.catch_warnings():
        # Pillow warns, then raises, at its own bomb limit; ours is lower.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"The image is {width}x{height} pixels; the limit is "
            f"{MAX_PIXELS:,} pixels. Resize it and upload it again.")
    image.load()
    return image


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to RGB, compositing transparency on white."""
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    elif image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey: keep the top 8 bits rather than clipping at 255.
        grey = np.asarray(image, dtype=np.uint32) >> 8
        image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


@dataclass(frozen=True)
class Preprocessed:
    """The stages of ImageNet preprocessing for one photo.

    `resized` and `cropped` are RGB uint8 `(H, W, 3)`; `tensor` is the
    network input, float32 `(1, 3, 224, 224)`.
    """

    resized: np.ndarray
    cropped: np.ndarray
    tensor: np.ndarray


def preprocess_imagenet(rgb: np.ndarray) -> Preprocessed:
    """Apply torchvision's VGG recipe to an RGB uint8 image.

    Resize the shorter side to 256 with antialiased bilinear filtering
    (the longer side to `int(256 * long / short)`), crop the centre
    224x224 with offsets `int(round((size - 224) / 2))`, scale to [0, 1],
    then subtract the ImageNet mean and divide by its standard deviation.
    """
    check_aspect_ratio(rgb)
    height, width = rgb.shape[:2]
    short, long = min(height, width), max(height, width)
    new_long = int(RESIZE_TO * long / short)
    size = (RESIZE_TO, new_long) if width <= height else (new_long, RESIZE_TO)
    # Pillow's bilinear resize widens its filter when shrinking: antialiased.
    resized = np.asarray(
        Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    cropped = center_crop(resized, CROP)
    scaled = cropped.astype(np.float32) / 255
    normalised = (scaled - IMAGENET_MEAN) / IMAGENET_STD
    tensor = normalised.transpose(2, 0, 1)[None]  # (1, 3, 224, 224)
    return Preprocessed(resized, cropped, np.ascontiguousarray(tensor))


def check_aspect_ratio(rgb: np.ndarray) -> None:
    """Raise `ImageError` for a photo too long and thin to crop to a square."""
    height, width = rgb.shape[:2]
    if max(height, width) > MAX_ASPECT_RATIO * min(height, width):
        raise ImageError(
            f"The image is {width}x{height} pixels: its longer side is more "
            f"than {MAX_ASPECT_RATIO} times its shorter side, so the centre "
            f"square that VGG16 sees would show almost nothing of it. Crop it "
            f"closer to a square and upload it again.")


def center_crop_offsets(height: int, width: int, size: int) -> tuple[int, int]:
    """Return `(top, left)` of the centre crop, as torchvision rounds them."""
    if height < size or width < size:
        raise ValueError(
            f"cannot crop {size}x{size} from a {width}x{height} image")
    return int(round((height - size) / 2.0)), int(round((width - size) / 2.0))


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """Crop the central `size x size` window of an `(H, W, ...)` array."""
    top, left = center_crop_offsets(*image.shape[:2], size)
    return image[top:top + size, left:left + size]


# Keras' "caffe" mode: channel means of the ImageNet training set, in BGR
# order and on the 0-255 scale, from keras.applications.imagenet_utils.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def preprocess_caffe(rgb: np.ndarray) -> Preprocessed:
    """Apply the recipe Keras' VGG16 weights were trained with.

    The same resize and centre crop as `preprocess_imagenet`, then RGB to
    BGR and the BGR mean subtracted, on the 0-255 scale with no division.
    """
    stages = preprocess_imagenet(rgb)
    bgr = stages.cropped[..., ::-1].astype(np.float32)
    tensor = (bgr - CAFFE_MEAN_BGR).transpose(2, 0, 1)[None]  # (1, 3, H, W)
    return Preprocessed(stages.resized, stages.cropped,
                        np.ascontiguousarray(tensor))
