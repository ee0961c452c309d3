"""Load VGG weights from any supported file, checked against a configuration.

Without a configuration, a PyTorch or Keras file gets the VGG configuration
whose parameter names differ least from the file's, so a file that fits
none is reported against the closest one.
"""

import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.vgg import CONFIGS, LayerSpec, layer_specs
from engine.weights.checks import (
    check_keys,
    check_shapes,
    check_values,
    to_read_only_float32,
)
from engine.weights.errors import (
    CorruptWeightsError,
    WeightsError,
    WeightsFormatError,
    WeightsMismatchError,
)
from engine.weights.keras_file import (
    HDF5_SIGNATURE,
    keras_to_torch_layout,
    read_keras_layers,
)
from engine.weights.names import expected_shapes, keras_layer_names, torchvision_names
from engine.weights.npz_file import FORMAT_KEY, read_npz, save_npz
from engine.weights.torch_file import PICKLE_FILE, ZIP_MAGIC, read_torch_file

SOURCES = {
    "torch-legacy": "PyTorch, legacy serialization (before PyTorch 1.6)",
    "torch-zip": "PyTorch, zip serialization",
    "keras-h5": "Keras HDF5",
    "npz": "NumPy npz, this project's format",
}
CUSTOM_CONFIG = "custom"  # the label of weights loaded with explicit specs
PICKLE_PROTO = 0x80  # first byte of every pickle of protocol 2 or later
HEADER_BYTES = 8


@dataclass(frozen=True)
class LoadedWeights:
    """Checked weights by our parameter names, and where they came from."""

    weights: dict[str, np.ndarray]  # read-only float32
    config: str
    specs: tuple[LayerSpec, ...]
    source: str  # a key of SOURCES: the format of the file read
    origin: str  # the format first read: for an npz file, its source's
    stored_dtypes: tuple[str, ...]  # dtypes in the file, before float32

    @property
    def n_params(self) -> int:
        return sum(array.size for array in self.weights.values())


def detect_format(path: str | Path) -> str:
    """Return the format of a weight file, a key of SOURCES, from its bytes."""
    with open(path, "rb") as file:
        header = file.read(HEADER_BYTES)
    if not header:
        raise WeightsFormatError("file is empty")
    if header.startswith(ZIP_MAGIC):
        return _zip_format(Path(path))
    if header.startswith(HDF5_SIGNATURE):
        return "keras-h5"
    if header[0] == PICKLE_PROTO:
        return "torch-legacy"
    raise WeightsFormatError(
        f"not a weight file: expected PyTorch (.pth), Keras (.h5) or npz, "
        f"but it starts with bytes {header.hex(' ')}")


def _zip_format(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as error:
        raise CorruptWeightsError(f"corrupt zip archive: {error}") from None
    if f"{FORMAT_KEY}.npy" in names:
        return "npz"
    if any(name.count("/") == 1 and name.endswith(f"/{PICKLE_FILE}")
           for name in names):
        return "torch-zip"
    raise WeightsFormatError(
        f"zip file is neither a PyTorch file (no "
        f"<folder>/{PICKLE_FILE}) nor an npz weight file (no {FORMAT_KEY}."
        f"npy); its first entries are {names[:5]}")


def load_weights(path: str | Path, config: str | None = None,
                 specs: list[LayerSpec] | None = None) -> LoadedWeights:
    """Read, check and convert the weights in a PyTorch, Keras or npz file.

    `config` names a VGG configuration. Without it, the closest one is
    inferred. `specs` replaces the configuration's layers, for networks
    that are not VGG-sized. Raises WeightsError when the file is corrupt,
    unsafe, or its keys, shapes or values do not fit. The message starts
    with the path.
    """
    try:
        return _load(path, config, specs)
    except WeightsError as error:
        raise error.in_file(path) from None


def _load(path: str | Path, config: str | None,
          specs: list[LayerSpec] | None) -> LoadedWeights:
    source = detect_format(path)
    if source == "npz":
        return _load_npz(path, config, specs)
    if source == "keras-h5":
        layers = read_keras_layers(path)
        config, specs = _resolve(config, specs, set(layers), keras_layer_names)
        weights = keras_to_torch_layout(layers, specs, config)
        return _finish(weights, config, specs, source, source)
    tensors = read_torch_file(path)
    shapes = {key: array.shape for key, array in tensors.items()}
    config, specs = _resolve(config, specs, set(tensors), torchvision_names,
                             shapes)
    names = torchvision_names(specs)
    check_keys(tensors, names, config)
    weights = {names[key]: array for key, array in tensors.items()}
    file_keys = {ours: theirs for theirs, ours in names.items()}
    return _finish(weights, config, specs, source, source, file_keys)


def convert_weights(source: str | Path, destination: str | Path,
                    config: str | None = None, *, float16: bool = False,
                    specs: list[LayerSpec] | None = None) -> LoadedWeights:
    """Load weights from `source` and save them to `destination` as npz."""
    loaded = load_weights(source, config, specs)
    save_npz(destination, loaded.weights, loaded.config, float16=float16,
             source=loaded.origin)
    return loaded


def _resolve(config: str | None, specs: list[LayerSpec] | None,
             found: set[str],
             file_names: Callable[[list[LayerSpec]], Mapping[str, str]],
             shapes: Mapping[str, tuple[int, ...]] | None = None,
             ) -> tuple[str, list[LayerSpec]]:
    """Pick the configuration whose names, then shapes, fit the file best.

    `shapes` maps the file's keys to their shapes when they are in our
    layout, which breaks ties between configurations sharing names.
    """
    if specs is not None:
        return config or CUSTOM_CONFIG, list(specs)
    if config is None:
        config = min(CONFIGS, key=lambda name: _misfit(
            layer_specs(name), found, file_names, shapes or {}))
    return config, layer_specs(config)


def _misfit(specs: list[LayerSpec], found: set[str],
            file_names: Callable[[list[LayerSpec]], Mapping[str, str]],
            shapes: Mapping[str, tuple[int, ...]]) -> tuple[int, int]:
    """Count names missing either way, then shapes that differ."""
    names = file_names(specs)
    expected = expected_shapes(specs)
    wrong_shapes = sum(1 for key, shape in shapes.items()
                       if key in names and expected[names[key]] != shape)
    return len(found ^ set(names)), wrong_shapes


def _load_npz(path: str | Path, config: str | None,
              specs: list[LayerSpec] | None) -> LoadedWeights:
    contents = read_npz(path)
    if config is not None and config != contents.config:
        raise WeightsMismatchError(
            f"file contains {contents.config} weights; {config} was requested")
    if specs is None:
        if contents.config not in CONFIGS:
            raise WeightsMismatchError(
                f"file contains weights for {contents.config!r}, which is not "
                f"one of {sorted(CONFIGS)}; pass its layer specs")
        specs = layer_specs(contents.config)
    check_keys(contents.weights, expected_shapes(specs), contents.config)
    return _finish(contents.weights, contents.config, specs, "npz",
                   contents.source)


def _finish(weights: dict[str, np.ndarray], config: str,
            specs: list[LayerSpec], source: str, origin: str,
            file_keys: Mapping[str, str] | None = None) -> LoadedWeights:
    check_shapes(weights, specs, config, file_keys)
    check_values(weights)
    stored = tuple(sorted({str(array.dtype) for array in weights.values()}))
    # Order the dict as the network's layers, whatever the file's order.
    ordered = {key: weights[key] for key in expected_shapes(specs)}
    return LoadedWeights(to_read_only_float32(ordered), config, tuple(specs),
                         source, origin, stored)
