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
INPUT_SIZE = 224


@dataclass(frozen=True)
class VGGConfig:
    """A VGG variant: its 3x3 convolutions' channel counts, with POOL
    marking each 2x2 max pooling, and the sizes of its dense layers."""

    channels: tuple[int | str, ...]
    hidden: int = 4096
    n_classes: int = 1000
    input_size: int = INPUT_SIZE

    @property
    def feature_size(self) -> int:
        """Side of the last feature map: the input halved by each pooling."""
        return self.input_size // 2 ** self.channels.count(POOL)


_M = POOL
CONFIGS: dict[str, VGGConfig] = {
    "vgg11": VGGConfig((64, _M, 128, _M, 256, 256, _M, 512, 512, _M,
                        512, 512, _M)),
    "vgg13": VGGConfig((64, 64, _M, 128, 128, _M, 256, 256, _M, 512, 512, _M,
                        512, 512, _M)),
    "vgg16": VGGConfig((64, 64, _M, 128, 128, _M, 256, 256, 256, _M,
                        512, 512, 512, _M, 512, 512, 512, _M)),
    "vgg19": VGGConfig((64, 64, _M, 128, 128, _M, 256, 256, 256, 256, _M,
                        512, 512, 512, 512, _M, 512, 512, 512, 512, _M)),
}


@dataclass(frozen=True)
class LayerSpec:
    """One layer to build: its name, kind and shape of parameters."""

    name: str
    kind: str  # "conv", "relu", "pool", "flatten" or "dense"
    shape: tuple[int, ...] = ()  # W's shape for conv and dense layers


def get_config(config: str | VGGConfig) -> VGGConfig:
    """Return the `VGGConfig` for a name in `CONFIGS`, or `config` itself."""
    if isinstance(config, VGGConfig):
        return config
    if config not in CONFIGS:
        raise ValueError(
            f"unknown VGG configuration {config!r}; expected one of "
            f"{sorted(CONFIGS)}")
    return CONFIGS[config]


def conv_specs(channels: tuple[int | str, ...],
               in_channels: int = 3) -> list[LayerSpec]:
    """List the 3x3 convolutions, their ReLUs and the poolings of `channels`.

    Convolutions are `conv{block}_{i}` with `relu{block}_{i}` after them,
    and each POOL ends a block as `pool{block}`.
    """
    specs: list[LayerSpec] = []
    block, i, C = 1, 1, in_channels
    for item in channels:
        if item == POOL:
            specs.append(LayerSpec(f"pool{block}", "pool"))
            block, i = block + 1, 1
            continue
        specs.append(LayerSpec(f"conv{block}_{i}", "conv", (item, C, 3, 3)))
        specs.append(LayerSpec(f"relu{block}_{i}", "relu"))
        C, i = item, i + 1
    return specs


def layer_specs(config: str | VGGConfig = "vgg16") -> list[LayerSpec]:
    """List the layers of a VGG configuration with their paper names.

    Convolutions are `conv{block}_{i}` with `relu{block}_{i}` after them,
    poolings `pool{block}`, then `fc6`, `relu6`, `fc7`, `relu7`, `fc8`.
    The dropout layers of training are left out: at inference they pass
    their input through unchanged.
    """
    config = get_config(config)
    specs = conv_specs(config.channels)
    C = [spec for spec in specs if spec.kind == "conv"][-1].shape[0]
    # torchvision pools to 7x7 adaptively here, a no-op for 224x224 input.
    specs.append(LayerSpec("flatten", "flatten"))
    n_in = C * config.feature_size ** 2
    sizes = (("6", config.hidden), ("7", config.hidden),
             ("8", config.n_classes))
    for name, n_out in sizes:
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


def build_vgg(config: str | VGGConfig = "vgg16",
              weights: dict[str, np.ndarray] | None = None,
              seed: int = 0) -> Sequential:
    """Build a VGG network; without `weights`, He-initialised at random."""
    specs = layer_specs(config)
    if weights is None:
        weights = he_weights(specs, seed)
    return build_from_specs(specs, weights)


def build_from_specs(specs: list[LayerSpec],
                     weights: dict[str, np.ndarray]) -> Sequential:
    """Build the layers of `specs`, using the arrays of `weights` as they are.

    Convolutions are 3x3 with padding 1 and poolings 2x2, as in VGG.
    """
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
    """One row of the architecture table.

    `macs` counts multiply-adds for one input; `activation_bytes` is the
    float32 size of the output; `receptive_field` is the side, in input
    pixels, of the patch one output element sees, and `jump` the distance
    in input pixels between neighbouring output elements, None once the
    output is a flat vector.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    n_params: int
    macs: int
    activation_bytes: int
    receptive_field: int
    jump: int | None


def architecture_table(network: Sequential,
                       input_shape: tuple[int, int, int, int] = (
                           1, 3, INPUT_SIZE, INPUT_SIZE)) -> list[TableRow]:
    """List every layer's shape, cost and receptive field, without running.

    Shapes include the batch axis: `(N, C, H, W)` or `(N, features)`. A
    k x k window at stride s grows the receptive field by `(k - 1) jump`
    and multiplies the jump by s; dense layers see the whole input.
    """
    rows, shape = [], input_shape
    field, jump = 1, 1
    for layer in network.layers:
        shape = layer.output_shape(shape)
        kernel, stride = _window(layer)
        field += (kernel - 1) * jump
        jump *= stride
        flat = len(shape) == 2  # flatten and dense see every input pixel
        if flat:
            field = input_shape[2]
        rows.append(TableRow(
            layer.name, type(layer).__name__, shape, layer.n_params,
            _macs(layer, shape), int(np.prod(shape)) * 4, field,
            None if flat else jump))
    return rows


def _window(layer: Layer) -> tuple[int, int]:
    """Return the window size and stride of a conv or pool layer, else 1, 1."""
    if isinstance(layer, Conv2D):
        return layer.params["W"].shape[2], layer.stride
    if isinstance(layer, MaxPool2D):
        return layer.kernel, layer.stride
    return 1, 1


def _macs(layer: Layer, output_shape: tuple[int, ...]) -> int:
    """Count the multiply-adds of a conv or dense layer, else 0."""
    if isinstance(layer, (Conv2D, Dense)):
        W = layer.params["W"]
        # Every output element costs one multiply-add per weight of its filter.
        return int(np.prod(output_shape)) * int(np.prod(W.shape[1:]))
    return 0


def config_table(config: str | VGGConfig = "vgg16") -> list[TableRow]:
    """Return the architecture table of a configuration without weights.

    The layers are built on zero-stride views of a single zero, which
    have the right shapes and take no memory.
    """
    weights = {}
    for spec in layer_specs(config):
        if spec.shape:
            zero = np.float32(0)
            weights[f"{spec.name}.weight"] = np.broadcast_to(zero, spec.shape)
            weights[f"{spec.name}.bias"] = np.broadcast_to(zero, spec.shape[:1])
    size = get_config(config).input_size
    return architecture_table(build_vgg(config, weights), (1, 3, size, size))
