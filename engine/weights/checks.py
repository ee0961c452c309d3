"""Checks that loaded weights fit a network: key set, shapes, finite values."""

from collections.abc import Iterable, Mapping

import numpy as np

from engine.vgg import LayerSpec
from engine.weights.errors import WeightsMismatchError, WeightValuesError
from engine.weights.names import expected_shapes

MAX_LISTED_KEYS = 6  # longer lists end with "and N more"
MAX_LISTED_SHAPES = 3
FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def list_keys(keys: list[str]) -> str:
    """Join keys for a message, at most MAX_LISTED_KEYS of them."""
    listed = ", ".join(keys[:MAX_LISTED_KEYS])
    if len(keys) > MAX_LISTED_KEYS:
        listed += f" and {len(keys) - MAX_LISTED_KEYS} more"
    return listed


def check_keys(found: Iterable[str], expected: Iterable[str],
               config: str) -> None:
    """Raise WeightsMismatchError unless the file's keys are exactly the expected ones.

    Both use the file's own names, so the message shows keys as the file
    spells them: missing ones in the network's order, unexpected ones in
    the file's.
    """
    found, expected = list(found), list(expected)
    found_set, expected_set = set(found), set(expected)
    missing = [key for key in expected if key not in found_set]
    unexpected = [key for key in found if key not in expected_set]
    problems = []
    if missing:
        problems.append(f"missing keys {list_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {list_keys(unexpected)}")
    if problems:
        raise WeightsMismatchError(
            f"weight file does not fit {config}: {'; '.join(problems)}")


def check_shapes(weights: Mapping[str, np.ndarray], specs: list[LayerSpec],
                 config: str, file_keys: Mapping[str, str] | None = None,
                 ) -> None:
    """Raise WeightsMismatchError unless every parameter has the shape `specs` gives.

    `file_keys` maps our names to the file's, so that a message names both.
    The key set must already have been checked.
    """
    file_keys = file_keys or {}
    problems = []
    for key, shape in expected_shapes(specs).items():
        found = tuple(weights[key].shape)
        if found != shape:
            label = key
            if file_keys.get(key, key) != key:
                label = f"{key} ({file_keys[key]} in the file)"
            problems.append(
                f"{label}: expected shape {shape} for {config}, found {found}")
    if len(problems) > MAX_LISTED_SHAPES:
        hidden = len(problems) - MAX_LISTED_SHAPES
        problems[MAX_LISTED_SHAPES:] = [f"and {hidden} more shape mismatches"]
    if problems:
        raise WeightsMismatchError("; ".join(problems))


def check_values(weights: Mapping[str, np.ndarray]) -> None:
    """Raise WeightValuesError unless every array is floating point and finite."""
    for key, array in weights.items():
        if array.dtype not in FLOAT_DTYPES:
            raise WeightValuesError(
                f"{key} has dtype {array.dtype}; expected float16, float32 "
                f"or float64")
        finite = np.isfinite(array)
        if not finite.all():
            n_nan = int(np.isnan(array).sum())
            n_inf = array.size - int(finite.sum()) - n_nan
            raise WeightValuesError(
                f"{key} contains {n_nan} NaN and {n_inf} infinite values; "
                f"weights must be finite")


def to_read_only_float32(weights: Mapping[str, np.ndarray],
                         ) -> dict[str, np.ndarray]:
    """Convert each array to float32 and mark it read-only.

    Read-only arrays let a cached set of weights be shared by every caller
    without one of them changing it for the others.
    """
    converted = {}
    for key, array in weights.items():
        array = np.require(array, np.float32, "C")
        array.flags.writeable = False
        converted[key] = array
    return converted
