"""This project's weight format: an npz file of arrays by parameter name.

Beside the arrays it stores three strings: a format marker, the VGG
configuration and the format of the file it was converted from.
"""

import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.weights.errors import (
    CorruptWeightsError,
    WeightsError,
    WeightsFormatError,
    WeightValuesError,
)

FORMAT_MARKER = "nn-explainer-weights/1"
FORMAT_KEY = "format"
CONFIG_KEY = "config"
SOURCE_KEY = "source"
METADATA_KEYS = (FORMAT_KEY, CONFIG_KEY, SOURCE_KEY)
STORED_DTYPES = (np.float16, np.float32)
FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504


@dataclass(frozen=True)
class NpzContents:
    """The arrays of an npz weight file and its metadata."""

    weights: dict[str, np.ndarray]  # float16 or float32, as stored
    config: str
    source: str


def save_npz(path: str | Path, weights: Mapping[str, np.ndarray],
             config: str, *, float16: bool = False,
             source: str = "npz") -> Path:
    """Write `weights` as float32 (or float16 on request) to an npz file.

    The file is written beside `path` and renamed into place, so an
    interrupted write never leaves a half file under the final name.
    """
    dtype = np.float16 if float16 else np.float32
    arrays = {}
    for key, array in weights.items():
        if key in METADATA_KEYS:
            raise WeightsError(
                f"parameter name {key!r} is reserved; names must differ "
                f"from {METADATA_KEYS}")
        if float16 and np.abs(array).max(initial=0) > FLOAT16_MAX:
            raise WeightsError(
                f"{key} has values beyond float16's range of "
                f"+-{FLOAT16_MAX:g}; save it as float32")
        arrays[key] = np.asarray(array, dtype)
    path = Path(path)
    partial = path.with_name(path.name + ".tmp")
    metadata = {FORMAT_KEY: np.str_(FORMAT_MARKER),
                CONFIG_KEY: np.str_(config), SOURCE_KEY: np.str_(source)}
    try:
        # An open file, not a name: np.savez would append .npz to a name.
        with open(partial, "wb") as file:
            np.savez(file, **arrays, **metadata)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


ZIP_MAGIC = b"PK\x03\x04"  # an npz file is a zip archive


def read_npz(path: str | Path) -> NpzContents:
    """Read an npz weight file written by `save_npz`.

    Raises WeightsError when the file is corrupt, lacks the format marker
    or contains arrays that are not float16 or float32.
    """
    with open(path, "rb") as file:
        head = file.read(len(ZIP_MAGIC))
    if head != ZIP_MAGIC:
        # np.load would try other formats and, for anything else, suggest
        # allow_pickle, which must never be turned on for files from users.
        raise WeightsFormatError(
            f"not an npz file: it starts with bytes {head.hex(' ') or 'none'}"
            f", where an npz file starts with {ZIP_MAGIC.hex(' ')}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            entries = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise CorruptWeightsError(
            f"corrupt npz file ({type(error).__name__})") from None
    marker = _read_string(entries, FORMAT_KEY)
    if marker != FORMAT_MARKER:
        raise WeightsFormatError(
            f"unsupported npz format marker {marker!r}; expected "
            f"{FORMAT_MARKER!r}")
    config = _read_string(entries, CONFIG_KEY)
    source = _read_string(entries, SOURCE_KEY)
    weights = {key: array for key, array in entries.items()
               if key not in METADATA_KEYS}
    for key, array in weights.items():
        if array.dtype not in STORED_DTYPES:
            raise WeightValuesError(
                f"{key} has dtype {array.dtype}; expected float16 or float32")
    return NpzContents(weights, config, source)


def _read_string(entries: Mapping[str, np.ndarray], key: str) -> str:
    if key not in entries:
        raise WeightsFormatError(
            f"npz file has no {key!r} entry, so it was not written by this "
            f"project; convert the original with `python -m engine weights "
            f"convert`")
    value = entries[key]
    if value.shape != () or value.dtype.kind != "U":
        raise WeightsFormatError(
            f"npz entry {key!r} must be a single string; found an array of "
            f"shape {value.shape} and dtype {value.dtype}")
    return str(value)
