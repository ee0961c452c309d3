"""Feature maps of a convolutional network and the input window behind each value.

`conv_feature_maps` keeps the outputs of every convolution and max pooling
of one forward pass. `receptive_field` gives the input window that one value
of a layer depends on, so a page can mark that window on the photo.
"""

from dataclasses import dataclass

import numpy as np

from engine.conv import Conv2D, Flatten, MaxPool2D
from engine.network import Sequential
from engine.steps import Step

# The step ops whose outputs are kept, with each op's output key. ReLU outputs
# are left out because `max(0, Z)` of a stored convolution output recomputes them.
KEPT_OUTPUTS = {"conv": "Z", "maxpool": "A"}


def conv_feature_maps(network: Sequential,
                      X: np.ndarray) -> dict[str, np.ndarray]:
    """Run `network` on one image and return each conv and pool output.

    X: `(1, C, H, W)`. Returns `{layer name: (C_out, H_out, W_out)}` in layer
    order, with convolutions before their ReLU (`Z`, which can be negative)
    and poolings after it. Every array is a contiguous float32 copy marked
    read-only, so callers can share it between threads and sessions.
    """
    if X.ndim != 4 or X.shape[0] != 1:
        raise ValueError(f"expected one image of shape (1, C, H, W), got {X.shape}")
    steps: list[Step] = []
    network.forward(X, steps)
    maps = {}
    for step in steps:
        key = KEPT_OUTPUTS.get(step.op)
        if key is None:
            continue
        # Conv outputs are views of channels-last memory: copy to (C, H, W).
        feature_map = np.ascontiguousarray(step.outputs[key][0], dtype=np.float32)
        feature_map.flags.writeable = False
        maps[step.layer] = feature_map
    return maps


@dataclass(frozen=True)
class ReceptiveField:
    """The input window that one output value of a layer depends on.

    Output index `i` (along rows or columns) depends on input indices
    `start + i * jump` to `start + i * jump + size - 1`. `start` is negative
    when the window of the first value reaches into the zero padding.
    """

    size: int
    jump: int
    start: int

    def window(self, index: int, limit: int) -> tuple[int, int]:
        """Return the first and last input index for output `index`.

        Both ends are clipped to `[0, limit - 1]`, the part of the window that
        lies on the image rather than on the zero padding.
        """
        first = self.start + index * self.jump
        last = first + self.size - 1
        return max(first, 0), min(last, limit - 1)


def receptive_field(network: Sequential, layer_name: str) -> ReceptiveField:
    """Compute the receptive field of `layer_name` along one spatial axis.

    Each layer with kernel `k`, stride `s` and padding `p` grows the window
    by `(k - 1) jump`, moves its start by `-p jump`, then multiplies the jump
    by `s`. Elementwise layers such as ReLU change nothing. Square kernels
    and equal strides are assumed, as in VGG, so rows and columns match.
    Raises `ValueError` for layers after a `Flatten`, whose values depend
    on the whole input.
    """
    size, jump, start = 1, 1, 0
    for layer in network.layers:
        if isinstance(layer, Flatten):
            raise ValueError(
                f"no conv, pool or ReLU layer named {layer_name!r} before "
                f"{layer.name!r}; values after a flatten depend on the whole input")
        if isinstance(layer, Conv2D):
            kernel = layer.params["W"].shape[2]
            stride, padding = layer.stride, layer.padding
        elif isinstance(layer, MaxPool2D):
            kernel, stride, padding = layer.kernel, layer.stride, 0
        else:
            kernel, stride, padding = 1, 1, 0
        size += (kernel - 1) * jump
        start -= padding * jump
        jump *= stride
        if layer.name == layer_name:
            return ReceptiveField(size, jump, start)
    raise KeyError(f"no layer named {layer_name!r}")
