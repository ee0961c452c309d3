"""VGG networks built from their configuration, with paper-style layer names.

Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale
Image Recognition" (2014): stacks of 3x3 convolutions with padding 1, each
followed by ReLU, separated by 2x2 max pooling, then three dense layers.
"""

from dataclasses import dataclass

import numpy as np

from engine.conv import Conv2D, Flatten, MaxPool2D
from engine.layers import Dense, Layer, ReLU
from engine.network import Sequential

POOL = "M"

# Channel counts of each 3x3 convolution; POOL marks a 2x2 max pooling.
CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL,
              512, 512, POOL],
    "vgg13": [64, 64, POOL, 128, 128, POOL, 256, 256, POOL, 512, 512, POOL,
              512, 512, POOL],
    "vgg16": [64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL,
              512, 512, 512, POOL, 512, 512, 512, POOL],
    "vgg19": [64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL,
              512, 512, 512, 512, POOL, 512, 512, 512, 512, POOL],
}

INPUT_SIZE = 224
FEATURE_SIZE = 7  # 224 halved by five poolings
HIDDEN = 4096
N_CLASSES = 1000


@dataclass(frozen=True)
class LayerSpec:
    """One layer to build: its name, kind and shape of parameters."""

    name: str
    kind: str  # "conv", "relu", "pool", "flatten" or "dense"
    shape: tuple[int, ...] = ()  # W's shape for conv and dense layers


def layer_specs(config: str = "vgg16") -> list[LayerSpec]:
    """List the layers of a VGG configuration with their paper names.

    Convolutions are `conv{block}_{i}` with `relu{block}_{i}` after them,
    poolings `pool{block}`, then `fc6`, `relu6`, `fc7`, `relu7`, `fc8`.
    The dropout layers of training are left out: at inference they pass
    their input through unchanged.
    """
    if config not in CONFIGS:
        raise ValueError(
            f"unknown VGG configuration {config!r}; expected one of "
            f"{sorted(CONFIGS)}")
    specs: list[LayerSpec] = []
    block, i, C = 1, 1, 3
    for item in CONFIGS[config]:
        if item == POOL:
            specs.append(LayerSpec(f"pool{block}", "pool"))
            block, i = block + 1, 1
            continue
        specs.append(LayerSpec(f"conv{block}_{i}", "conv", (item, C, 3, 3)))
        specs.append(LayerSpec(f"relu{block}_{i}", "relu"))
        C, i = item, i + 1
    # torchvision pools to 7x7 adaptively here, a no-op for 224x224 input.
    specs.append(LayerSpec("flatten", "flatten"))
    n_in = C * FEATURE_SIZE * FEATURE_SIZE
    for name, n_out in (("6", HIDDEN), ("7", HIDDEN), ("8", N_CLASSES)):
        specs.append(LayerSpec(f"fc{name}", "dense", (n_out, n_in)))
        if name != "8":
            specs.append(LayerSpec(f"relu{name}", "relu"))
        n_in = n_out
    return specs


def he_weights(specs: list[LayerSpec],
               seed: int = 0) -> dict[str, np.ndarray]:
    """Draw He-initialised float32 weights and zero biases for every layer.

    Keys follow `"{layer}.weight"` and `"{layer}.bias"`. Standard deviation
    `sqrt(2 / fan_in)`, with `fan_in = C kh kw` for a convolution.
    """
    rng = np.random.default_rng(seed)
    weights = {}
    for spec in specs:
        if not spec.shape:
            continue
        fan_in = int(np.prod(spec.shape[1:]))
        W = rng.standard_normal(spec.shape, dtype=np.float32)
        W *= np.float32(np.sqrt(2.0 / fan_in))
        weights[f"{spec.name}.weight"] = W
        weights[f"{spec.name}.bias"] = np.zeros(spec.shape[0], np.float32)
    return weights


def build_vgg(config: str = "vgg16",
              weights: dict[str, np.ndarray] | None = None,
              seed: int = 0) -> Sequential:
    """Build a VGG network; without `weights`, He-initialised at random."""
    specs = layer_specs(config)
    if weights is None:
        weights = he_weights(specs, seed)
    layers: list[Layer] = []
    for spec in specs:
        W = weights.get(f"{spec.name}.weight")
        b = weights.get(f"{spec.name}.bias")
        if spec.kind == "conv":
            layers.append(Conv2D(W, b, stride=1, padding=1, name=spec.name))
        elif spec.kind == "dense":
            layers.append(Dense(W, b, name=spec.name))
        elif spec.kind == "relu":
            layers.append(ReLU(name=spec.name))
        elif spec.kind == "pool":
            layers.append(MaxPool2D(2, 2, name=spec.name))
        else:
            layers.append(Flatten(name=spec.name))
    return Sequential(layers)


@dataclass(frozen=True)
class TableRow:
    """One row of the architecture table; `macs` counts multiply-adds."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    n_params: int
    macs: int


def architecture_table(network: Sequential,
                       input_shape: tuple[int, int, int, int] = (
                           1, 3, INPUT_SIZE, INPUT_SIZE)) -> list[TableRow]:
    """List every layer's output shape and parameter count, without running.

    Shapes include the batch axis: `(N, C, H, W)` or `(N, features)`.
    """
    rows, shape = [], input_shape
    for layer in network.layers:
        shape = layer.output_shape(shape)
        rows.append(TableRow(layer.name, type(layer).__name__, shape,
                             layer.n_params, _macs(layer, shape)))
    return rows


def _macs(layer: Layer, output_shape: tuple[int, ...]) -> int:
    """Count the multiply-adds of a conv or dense layer, else 0."""
    if isinstance(layer, (Conv2D, Dense)):
        W = layer.params["W"]
        # Every output element costs one multiply-add per weight of its filter.
        return int(np.prod(output_shape)) * int(np.prod(W.shape[1:]))
    return 0
