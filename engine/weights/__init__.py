"""Pretrained VGG weights: read PyTorch, Keras and npz files, download them.

PyTorch files are read without PyTorch, by an unpickler that accepts only
tensors. Every loader checks the key set, every shape and every value
against the VGG configuration and returns read-only float32 arrays named
as in `engine.vgg` (`conv1_1.weight`, ..., `fc8.bias`).
"""

from engine.weights.download import (
                                     TORCHVISION_URLS,
                                     ProgressCallback,
                                     cached_weights_path,
                                     default_cache_dir,
                                     download,
                                     fetch_weights,
                                     sha256_prefix,
)
from engine.weights.errors import (
    CorruptWeightsError,
    DownloadError,
    H5pyMissingError,
    UnsafeWeightsError,
    WeightsError,
    WeightsFormatError,
    WeightsMismatchError,
    WeightValuesError,
)
from engine.weights.load import (
                                     SOURCES,
                                     LoadedWeights,
                                     convert_weights,
                                     detect_format,
                                     load_weights,
)
from engine.weights.names import expected_shapes, keras_layer_names, torchvision_names
from engine.weights.npz_file import read_npz, save_npz
from engine.weights.torch_file import read_torch_file

__all__ = [
    "SOURCES", "TORCHVISION_URLS", "CorruptWeightsError", "DownloadError",
    "H5pyMissingError", "LoadedWeights", "ProgressCallback",
    "UnsafeWeightsError", "WeightValuesError", "WeightsError",
    "WeightsFormatError", "WeightsMismatchError", "cached_weights_path",
    "convert_weights", "default_cache_dir", "detect_format", "download",
    "expected_shapes", "fetch_weights", "keras_layer_names", "load_weights",
    "read_npz", "read_torch_file", "save_npz", "sha256_prefix",
    "torchvision_names",
]
