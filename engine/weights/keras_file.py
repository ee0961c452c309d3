"""Read Keras' VGG weights from HDF5 (`.h5`) files, through h5py.

h5py is an optional extra: `pip install h5py`. The file layout is that of
Keras' `save_weights` in Keras 1 and 2: the root lists `layer_names`, and
each layer's group lists its `weight_names`, kernel before bias. A whole
saved model keeps the same layout under a `model_weights` group.
"""

import math
from pathlib import Path
from typing import Any

import numpy as np

from engine.vgg import LayerSpec
from engine.weights.checks import check_keys
from engine.weights.errors import (
    CorruptWeightsError,
    H5pyMissingError,
    WeightsMismatchError,
)
from engine.weights.names import keras_layer_names

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MODEL_WEIGHTS_GROUP = "model_weights"


def read_keras_layers(path: str | Path) -> dict[str, list[np.ndarray]]:
    """Read each layer's arrays, in `weight_names` order, by Keras layer name.

    Layers without weights (input, pooling, flatten) are left out.
    """
    h5py = _import_h5py()
    try:
        with h5py.File(Path(path), "r") as file:
            root = file.get(MODEL_WEIGHTS_GROUP, file)
            layers = {}
            for name in _string_list(root, "layer_names"):
                group = root[name]
                arrays = [np.asarray(group[weight])
                          for weight in _string_list(group, "weight_names")]
                if arrays:
                    layers[name] = arrays
    except (OSError, KeyError, TypeError) as error:
        raise CorruptWeightsError(
            f"corrupt or incomplete HDF5 file: {error}") from None
    return layers


def keras_to_torch_layout(layers: dict[str, list[np.ndarray]],
                          specs: list[LayerSpec],
                          config: str) -> dict[str, np.ndarray]:
    """Rename Keras layers to ours and transpose kernels to PyTorch's layouts.

    Convolution kernels go from Keras' `(kh, kw, in, out)` to
    `(out, in, kh, kw)`, without flipping: both frameworks compute
    cross-correlation. Dense kernels go from `(in, out)` to `(out, in)`,
    and the first one also reorders its inputs, because Keras flattens the
    last feature map as (H, W, C) and PyTorch as (C, H, W).
    """
    names = keras_layer_names(specs)
    check_keys(layers, names, config)
    by_name = {spec.name: spec for spec in specs}
    first_dense = next(spec.name for spec in specs if spec.kind == "dense")
    weights = {}
    for keras_name, arrays in layers.items():
        spec = by_name[names[keras_name]]
        kernel, bias = _kernel_and_bias(keras_name, arrays, spec, config)
        if spec.kind == "conv":
            W = kernel.transpose(3, 2, 0, 1)  # (out, in, kh, kw)
        elif spec.name == first_dense:
            W = _flatten_order_to_torch(kernel, _feature_shape(specs))
        else:
            W = kernel.T  # (out, in)
        weights[f"{spec.name}.weight"] = np.ascontiguousarray(W)
        weights[f"{spec.name}.bias"] = bias
    return weights


def _import_h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise H5pyMissingError("cannot import h5py") from None
    return h5py


def _string_list(group: Any, name: str) -> list[str]:
    # Keras splits a list too long for one HDF5 attribute into name0, name1...
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks = []
        while f"{name}{len(chunks)}" in group.attrs:
            chunks.append(group.attrs[f"{name}{len(chunks)}"])
        if not chunks:
            raise KeyError(f"attribute {name!r} of {group.name} is missing")
    return [item.decode("utf-8") if isinstance(item, bytes) else str(item)
            for chunk in chunks for item in chunk]


def _kernel_and_bias(keras_name: str, arrays: list[np.ndarray],
                     spec: LayerSpec, config: str,
                     ) -> tuple[np.ndarray, np.ndarray]:
    if len(arrays) != 2:
        raise WeightsMismatchError(
            f"Keras layer {keras_name} has {len(arrays)} weights; expected 2 "
            f"(kernel and bias)")
    kernel, bias = arrays
    if spec.kind == "conv":
        out, n_in, kh, kw = spec.shape
        expected, layout = (kh, kw, n_in, out), "(kh, kw, in, out)"
    else:
        out, n_in = spec.shape
        expected, layout = (n_in, out), "(in, out)"
    if kernel.shape != expected:
        raise WeightsMismatchError(
            f"{keras_name} kernel ({spec.name}.weight): expected shape "
            f"{expected} in Keras' layout {layout} for {config}, found "
            f"{kernel.shape}")
    if bias.shape != (out,):
        raise WeightsMismatchError(
            f"{keras_name} bias ({spec.name}.bias): expected shape {(out,)} "
            f"for {config}, found {bias.shape}")
    return kernel, bias


def _feature_shape(specs: list[LayerSpec]) -> tuple[int, int, int]:
    """Return (C, H, W) of the feature map that the first dense layer reads."""
    C = [spec.shape[0] for spec in specs if spec.kind == "conv"][-1]
    n_in = next(spec.shape[1] for spec in specs if spec.kind == "dense")
    side = math.isqrt(n_in // C)
    if C * side * side != n_in:
        raise ValueError(
            f"first dense layer reads {n_in} features, which is not "
            f"{C} channels times a square feature map")
    return C, side, side


def _flatten_order_to_torch(kernel: np.ndarray,
                            feature_shape: tuple[int, int, int]) -> np.ndarray:
    """Reorder a dense kernel's inputs from Keras' (H, W, C) flattening to
    PyTorch's (C, H, W), and transpose it to (out, in)."""
    C, H, W = feature_shape
    n_out = kernel.shape[1]
    kernel = kernel.reshape(H, W, C, n_out)
    kernel = kernel.transpose(2, 0, 1, 3)  # (C, H, W, out)
    return kernel.reshape(C * H * W, n_out).T  # (out, in)
