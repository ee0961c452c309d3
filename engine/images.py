"""The one image loader, and ImageNet preprocessing for VGG.

The loader turns uploaded, bundled or command-line bytes into a read-only
RGB uint8 array of shape `(H, W, 3)`, or raises `ImageError` with a message
meant for the user. `load_image_with_notes` also returns notes for the user
about changes that did not prevent loading, such as using only the first
frame of an animation.
"""

import codecs
import io
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Loading peaks at about 8 bytes per pixel: Pillow keeps most modes at 4
# bytes per pixel, rotation copies that once, and the RGB result adds 3.
# Measured as the growth of ru_maxrss while loading a 7300x5475 JPEG (7.3,
# rotated 8.1) and an RGBA PNG (8.8), on Linux x86-64 with Pillow 13. So
# this cap bounds one load near 350 MB. It admits 12 MP phone photos and
# 24-36 MP camera photos at full size, but 48-50 MP full-resolution phone
# photos must be resized first.
MAX_PIXELS = 40_000_000
# The formats that Image.open may try. Leaving out Pillow's rarer decoders
# (PSD, EPS, FLI, ...) keeps their parsers away from uploaded bytes. AVIF is
# left out too, because Pillow 13's AVIF plugin raises RuntimeError for
# damaged files, which the loader cannot distinguish from a bug.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
# Pillow's JPEG plugin opens a camera JPEG that carries a second picture (a
# preview or the other half of a stereo pair) as MPO, whose extra frames are
# not an animation.
MULTI_PICTURE_FORMATS = ("MPO",)
FIRST_FRAME_NOTE = ("The file contains several frames (an animation or "
                    "several pages); only the first frame is used.")
# Side of the square tiles converted at a time: 1024 x 1024 float64 grey
# temporaries take 8 MB.
TILE_SIZE = 1024
SIXTEEN_BIT_MAX = 65535
EIGHT_BIT_MAX = 255
# The exceptions Pillow raises for input that it cannot decode. Its fuzzing
# test (test_fuzz_images) accepts OSError, SyntaxError, ValueError and
# NotImplementedError. Image.open takes SyntaxError, IndexError, TypeError
# and struct.error from a plugin to mean that the plugin cannot parse the
# file. seek raises EOFError when frames that a header declares are missing.
# With Pillow 13, a truncated GIF raised IndexError from is_animated, and a
# damaged TIFF raised TypeError from load.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, NotImplementedError,
                 IndexError, TypeError, struct.error, EOFError)

# The value that is white in each grey mode of more than 8 bits. Values
# outside [0, white] are clipped. NOTE: files state no range for 32-bit
# integers (I) or floats (F), so I is read on the 16-bit scale and F with
# 1.0 as white, and a file that uses another range comes out too dark or
# clipped.
HIGH_DEPTH_SCALES = {
    "I;16": SIXTEEN_BIT_MAX, "I;16L": SIXTEEN_BIT_MAX,
    "I;16B": SIXTEEN_BIT_MAX, "I;16N": SIXTEEN_BIT_MAX,
    "I": SIXTEEN_BIT_MAX, "F": 1.0,
}
# Leading bytes of the accepted formats, for files that Pillow could not
# open although they start like one of them.
IMAGE_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF", b"GIF89a": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
}
RIFF_SIGNATURE = b"RIFF"  # a WebP file is a RIFF file of form WEBP
RIFF_FORM = slice(8, 12)
WEBP_FORM = b"WEBP"
BMP_SIGNATURE = b"BM"  # two letters that text can start with: checked last
# ISO base media files (HEIF, AVIF, MP4, QuickTime) start with an `ftyp`
# box: a 4-byte size, `ftyp`, the major brand, a version, then more brands.
FTYP_TYPE = slice(4, 8)
FTYP_BOX = b"ftyp"
FTYP_MAJOR_BRAND = slice(8, 12)
FTYP_COMPATIBLE_START = 16
BRAND_SIZE = 4
AVIF_BRANDS = {b"avif", b"avis"}
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis",
               b"hevm", b"hevs", b"mif1", b"msf1"}
VIDEO_BRANDS = {b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"qt  ",
                b"M4V ", b"3gp4", b"3gp5", b"3g2a"}
PDF_SIGNATURE = b"%PDF-"
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # an archive, an empty one
SVG_TAG = "<svg"
XML_DECLARATION = "<?xml"
HTML_STARTS = ("<!doctype html", "<html")
SNIFF_BYTES = 4096  # how much of a file is examined to name its format
TEXT_WHITESPACE = "\t\n\r\f"
UTF8_BOM = "\ufeff"
UNREADABLE = ("This file is not an image that Pillow can read; use a JPEG, "
              "PNG or WebP photo.")

# Past this ratio of long to short side, the centre square VGG sees shows
# almost nothing of the photo, and resizing the short side to 256 would
# make a huge intermediate image.
MAX_ASPECT_RATIO = 20
RESIZE_TO = 256  # torchvision's recipe: shorter side to 256, then crop 224
CROP = 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
# The network's name in messages whose caller gives none.
DEFAULT_MODEL_NAME = "the network"

# One load at a time keeps the memory bound of MAX_PIXELS per process, not
# per upload, and stops two loads from interleaving their catch_warnings
# blocks, which swap process-wide state.
_DECODE_LOCK = threading.Lock()


class ImageError(ValueError):
    """An image that cannot be used, with a message for the user."""


def load_image(data: bytes) -> np.ndarray:
    """Decode image bytes to read-only RGB uint8 `(H, W, 3)`, upright.

    It calls `load_image_with_notes` and drops the notes.
    """
    rgb, _ = load_image_with_notes(data)
    return rgb


def load_image_with_notes(data: bytes) -> tuple[np.ndarray, list[str]]:
    """Decode image bytes to read-only RGB uint8 `(H, W, 3)` and notes.

    The EXIF orientation is applied, palettes become colours, transparent
    pixels are composited on white, and grey, 16-bit, 32-bit and CMYK
    images are converted to RGB. An animation or multi-page file gives its
    first frame and a note saying so. The notes are sentences for the user,
    and the list is empty when nothing needs saying. The format is judged
    from the bytes, never from a file name. Raises `ImageError` for empty,
    damaged, unreadable or oversized images.
    """
    if not data:
        raise ImageError("The file is empty.")
    with _DECODE_LOCK, warnings.catch_warnings(), _pillow_errors_reported(data):
        # Problems reach the user as ImageError or notes, so Pillow's
        # warnings (decompression bomb, corrupt EXIF) would only print.
        warnings.filterwarnings("ignore", module=r"PIL\.")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        _verify(data)
        with _open_checked(data) as image:
            notes = _first_frame_notes(image)
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            rgb = _convert(image)
    rgb.flags.writeable = False
    return rgb, notes


@contextmanager
def _pillow_errors_reported(data: bytes) -> Iterator[None]:
    """Turn Pillow's exceptions for bad input into `ImageError` messages."""
    try:
        yield
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(
            f"The image has more than {MAX_PIXELS:,} pixels, the limit, so "
            f"it was not decoded. Resize it and upload it again.") from None
    except UnidentifiedImageError:
        raise ImageError(_describe_unreadable(data)) from None
    except DECODE_ERRORS as error:
        raise ImageError(
            f"The image is damaged or truncated, so it cannot be decoded "
            f"({error}).") from None


def _verify(data: bytes) -> None:
    """Check a PNG's chunk CRCs and its final IEND chunk, which load() skips.

    For the other formats Pillow's verify() does nothing. It leaves the
    image unusable, so the caller opens the bytes again to decode them.
    """
    with _open_checked(data) as image:
        image.verify()


def _open_checked(data: bytes) -> Image.Image:
    """Open the image and check its pixel count, before any pixel decoding.

    Image.open reads only the header, so a small file that declares a huge
    image is rejected before memory is allocated for its pixels.
    """
    image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageError(
            f"The image is {width}x{height} pixels, more than the limit of "
            f"{MAX_PIXELS:,} pixels, so it was not decoded. Resize it and "
            f"upload it again.")
    return image


def _first_frame_notes(image: Image.Image) -> list[str]:
    """Return a note if the image has frames after the first.

    Image.open leaves the image at its first frame, and is_animated seeks
    back to the frame it started from, so load() decodes the first frame.
    """
    if not getattr(image, "is_animated", False):
        return []
    if image.format in MULTI_PICTURE_FORMATS:
        return []
    return [FIRST_FRAME_NOTE]


def _convert(image: Image.Image) -> np.ndarray:
    """Convert a decoded image of any mode to an RGB uint8 array.

    The conversion runs tile by tile into one preallocated array, so its
    temporaries stay small next to the decoded image, whatever the mode.
    """
    width, height = image.size
    rgb = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, TILE_SIZE):
        for left in range(0, width, TILE_SIZE):
            box = (left, top, min(left + TILE_SIZE, width),
                   min(top + TILE_SIZE, height))
            tile = image.crop(box)  # keeps the palette and the info
            rgb[box[1]:box[3], box[0]:box[2]] = _tile_to_rgb(tile)
    return rgb


def _tile_to_rgb(tile: Image.Image) -> np.ndarray:
    """Convert one tile of any mode to RGB uint8 `(h, w, 3)`."""
    if tile.mode in HIGH_DEPTH_SCALES:
        return _high_depth_grey_to_rgb(tile)
    try:
        if tile.has_transparency_data:
            return _composite_on_white(np.asarray(tile.convert("RGBA")))
        return np.asarray(tile.convert("RGB"))
    except ValueError as error:
        raise ImageError(
            f"The image uses the colour mode {tile.mode}, which cannot be "
            f"converted to RGB ({error}).") from None


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Blend `(h, w, 4)` RGBA uint8 over white, rounding to nearest."""
    alpha = rgba[..., 3:].astype(np.uint32)
    colour = rgba[..., :3].astype(np.uint32)
    blended = colour * alpha + EIGHT_BIT_MAX * (EIGHT_BIT_MAX - alpha)
    return ((blended + EIGHT_BIT_MAX // 2) // EIGHT_BIT_MAX).astype(np.uint8)


def _high_depth_grey_to_rgb(tile: Image.Image) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float grey to RGB uint8.

    Pillow's own conversion to L clips these values at 255 instead of
    scaling them, so 16-bit white would become the same as 8-bit 255.
    """
    # Damaged float files can hold signaling NaNs, which raise "invalid
    # value" when cast. nan_to_num maps every NaN to 0 below.
    with np.errstate(invalid="ignore"):
        values = np.asarray(tile).astype(np.float64)
    white = HIGH_DEPTH_SCALES[tile.mode]
    scaled = np.nan_to_num(values, nan=0.0) * (EIGHT_BIT_MAX / white)
    grey = np.rint(np.clip(scaled, 0, EIGHT_BIT_MAX)).astype(np.uint8)
    # A PNG tRNS chunk marks one grey value as transparent: show it white.
    transparent = tile.info.get("transparency")
    if isinstance(transparent, int):
        grey[values == transparent] = EIGHT_BIT_MAX
    return np.repeat(grey[..., None], 3, axis=2)  # (h, w, 3)


def _describe_unreadable(data: bytes) -> str:
    """Name what a file that Pillow cannot open contains, from its bytes."""
    head = data[:SNIFF_BYTES]
    for signature, name in IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            return _damaged(name)
    if head.startswith(RIFF_SIGNATURE) and head[RIFF_FORM] == WEBP_FORM:
        return _damaged("WebP")
    if head[FTYP_TYPE] == FTYP_BOX:
        return _describe_iso_media(head)
    if head.startswith(PDF_SIGNATURE):
        return ("This file is a PDF document, not an image; export the page "
                "as JPEG or PNG.")
    if head.startswith(ZIP_SIGNATURES):
        return ("This file is a ZIP archive, not an image; extract the photo "
                "from it and upload that.")
    text = _as_text(head)
    if text is not None:
        return _describe_text(text)
    if head.startswith(BMP_SIGNATURE):
        return _damaged("BMP")
    return UNREADABLE


def _damaged(name: str) -> str:
    return (f"This file starts like a {name} image but is damaged or "
            f"truncated, so it cannot be decoded.")


def _describe_iso_media(head: bytes) -> str:
    """Name an ISO base media file from the brands in its `ftyp` box."""
    box_size = int.from_bytes(head[:4], "big")
    compatible = head[FTYP_COMPATIBLE_START:min(box_size, len(head))]
    brands = {head[FTYP_MAJOR_BRAND]} | {
        compatible[start:start + BRAND_SIZE]
        for start in range(0, len(compatible), BRAND_SIZE)}
    if brands & AVIF_BRANDS:
        return ("This file is AVIF, which cannot be read; export it as JPEG "
                "or PNG.")
    if brands & HEIF_BRANDS:
        return ("This file is HEIC (an iPhone photo format), which cannot be "
                "read; export it as JPEG or PNG.")
    if brands & VIDEO_BRANDS:
        return ("This file is a video (MP4 or QuickTime), not an image; "
                "upload a still photo as JPEG or PNG.")
    return UNREADABLE


def _as_text(head: bytes) -> str | None:
    """Return `head` decoded as UTF-8 text, or None if it is binary."""
    # An incremental decoder keeps a character cut at the end of the sample
    # for later instead of raising, so only invalid bytes mean binary.
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(head).removeprefix(UTF8_BOM)
    except UnicodeDecodeError:
        return None
    if not all(char.isprintable() or char in TEXT_WHITESPACE for char in text):
        return None
    return text


def _describe_text(text: str) -> str:
    """Name a text file: SVG, HTML or plain text."""
    start = text.lstrip().lower()
    if start.startswith(SVG_TAG) or (start.startswith(XML_DECLARATION)
                                     and SVG_TAG in start):
        return ("This file is an SVG drawing (vector graphics), which cannot "
                "be read; export it as PNG.")
    if start.startswith(HTML_STARTS):
        return ("This file is a web page (HTML), not an image; save the image "
                "itself from the page and upload that.")
    return ("This file is plain text, not an image that Pillow can read; use "
            "a JPEG, PNG or WebP photo.")


@dataclass(frozen=True)
class Preprocessed:
    """The stages of ImageNet preprocessing for one photo.

    `resized` and `cropped` are RGB uint8 `(H, W, 3)`; `tensor` is the
    network input, float32 `(1, 3, 224, 224)`.
    """

    resized: np.ndarray
    cropped: np.ndarray
    tensor: np.ndarray


def preprocess_imagenet(rgb: np.ndarray,
                        model_name: str = DEFAULT_MODEL_NAME) -> Preprocessed:
    """Apply torchvision's VGG recipe to an RGB uint8 image.

    Resize the shorter side to 256 with antialiased bilinear filtering
    (the longer side to `int(256 * long / short)`), crop the centre
    224x224 with offsets `int(round((size - 224) / 2))`, scale to [0, 1],
    then subtract the ImageNet mean and divide by its standard deviation.
    `model_name` names the network in the `ImageError` for a photo too
    long and thin to crop.
    """
    check_aspect_ratio(rgb, model_name)
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


def enlargement_note(height: int, width: int, input_side: int = CROP) -> str | None:
    """Return a note for the user when a photo is smaller than the network input.

    Such a photo is enlarged to fill the `input_side` square input, which
    adds no detail, so the network sees a blurred photo. Returns None when
    both sides are at least `input_side` pixels.
    """
    if min(height, width) >= input_side:
        return None
    return (f"The photo is {width}x{height} pixels, and its shorter side is "
            f"smaller than the network's {input_side}x{input_side} input, so "
            f"it was enlarged to fill that input. Enlarging adds no detail, "
            f"so the network sees a blurred photo. Use a larger photo for a "
            f"sharper input.")


def is_strip(height: int, width: int) -> bool:
    """Return whether one side is more than MAX_ASPECT_RATIO times the other."""
    return max(height, width) > MAX_ASPECT_RATIO * min(height, width)


def check_aspect_ratio(rgb: np.ndarray,
                       model_name: str = DEFAULT_MODEL_NAME) -> None:
    """Raise `ImageError` for a photo too long and thin to crop to a square.

    The message names the network as `model_name`, such as "VGG11".
    """
    height, width = rgb.shape[:2]
    if is_strip(height, width):
        raise ImageError(
            f"The image is {width}x{height} pixels: its longer side is more "
            f"than {MAX_ASPECT_RATIO} times its shorter side, so the centre "
            f"square that {model_name} sees would show almost nothing of it. "
            f"Crop it closer to a square and upload it again.")


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


def preprocess_caffe(rgb: np.ndarray,
                     model_name: str = DEFAULT_MODEL_NAME) -> Preprocessed:
    """Apply the recipe Keras' VGG16 weights were trained with.

    The same resize and centre crop as `preprocess_imagenet`, then RGB to
    BGR and the BGR mean subtracted, on the 0-255 scale with no division.
    """
    stages = preprocess_imagenet(rgb, model_name)
    bgr = stages.cropped[..., ::-1].astype(np.float32)
    tensor = (bgr - CAFFE_MEAN_BGR).transpose(2, 0, 1)[None]  # (1, 3, H, W)
    return Preprocessed(stages.resized, stages.cropped,
                        np.ascontiguousarray(tensor))
