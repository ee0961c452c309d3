"""Time each layer of one forward pass, to show where a network spends its time."""

import time
from typing import NamedTuple

import numpy as np

from engine.network import Sequential


class LayerTime(NamedTuple):
    """A layer's name and the wall-clock seconds of its forward pass."""

    name: str
    seconds: float


def time_layers(network: Sequential, X: np.ndarray) -> list[LayerTime]:
    """Run `network` on `X` once, timing each layer with `time.perf_counter`.

    Returns one `LayerTime` per layer, in layer order. Each layer's cache
    is dropped as soon as it has run, as in `Sequential.predict`. One run
    is one sample: the times move with the machine's load and BLAS
    threads, so compare layers within a run rather than across runs.
    Layers keep their input while they run, so two calls must not share
    a network at the same time.
    """
    timings = []
    for layer in network.layers:
        start = time.perf_counter()
        X = layer.forward(X)
        timings.append(LayerTime(layer.name, time.perf_counter() - start))
        layer.clear_cache()
    return timings
