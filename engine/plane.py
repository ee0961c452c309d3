"""A trained toy network evaluated over the input plane, for drawing.

The decision boundary and each hidden neuron's output are the network
applied to a grid of points `(x1, x2)`; histograms need every layer's
weights, activations and gradients on the training data.
"""

from dataclasses import dataclass

import numpy as np

from engine.datasets import make_features
from engine.layers import Dense, sigmoid
from engine.network import Sequential
from engine.steps import Step

EXTENT = 1.5  # the plane drawn is [-EXTENT, EXTENT] squared
RESOLUTION = 60  # grid points per side


@dataclass(frozen=True)
class PlaneOutputs:
    """Outputs over a `resolution x resolution` grid of the plane.

    `x1` and `x2` are the grid's coordinates `(R,)`; `probability` is
    P(class 1) `(R, R)` indexed `[x2, x1]`, as heatmaps expect; `hidden`
    lists each hidden layer's activations `(n_units, R, R)`.
    """

    x1: np.ndarray
    x2: np.ndarray
    probability: np.ndarray
    hidden: list[np.ndarray]


def evaluate_plane(network: Sequential, features: list[str],
                   extent: float = EXTENT,
                   resolution: int = RESOLUTION) -> PlaneOutputs:
    """Run the network on every grid point and keep each layer's output."""
    x1 = np.linspace(-extent, extent, resolution)
    x2 = np.linspace(-extent, extent, resolution)
    X1, X2 = np.meshgrid(x1, x2)  # each (R, R), indexed [x2, x1]
    points = np.stack([X1.ravel(), X2.ravel()], axis=1)
    dtype = network.layers[0].params["W"].dtype
    steps: list[Step] = []
    Z = network.forward(make_features(points, features).astype(dtype), steps)
    activations = [s.outputs["A"] for s in steps if s.op == "activation"]
    hidden = [A.T.reshape(-1, resolution, resolution) for A in activations[:-1]]
    probability = sigmoid(Z[:, 0]).reshape(resolution, resolution)
    return PlaneOutputs(x1, x2, probability, hidden)


def layer_statistics(network: Sequential, X: np.ndarray
                     ) -> dict[str, dict[str, np.ndarray]]:
    """Return, per dense layer, its weights, activations and last dW.

    Activations are those of the layer's activation function on `X`;
    gradients are what the last backward pass stored.
    """
    steps: list[Step] = []
    network.forward(X, steps)
    outputs = {s.index: s.outputs["A"] for s in steps if s.op == "activation"}
    stats = {}
    for layer in network.layers:
        if isinstance(layer, Dense):
            stats[layer.name] = {
                "weights": layer.params["W"].ravel(),
                "activations": outputs[layer.index].ravel(),
                "gradients": layer.grads.get("W", np.zeros(0)).ravel(),
            }
    return stats
