"""A sequential network and the small fully connected networks of the pages."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from engine.layers import Activation, Dense, Identity, Layer, activation
from engine.steps import Step

INITIALISATIONS = ("he", "xavier", "small")
SMALL_STD = 0.1  # the "plain small random" initialisation


class Sequential:
    """Layers applied in order; the backward pass runs them in reverse."""

    def __init__(self, layers: Sequence[Layer]):
        self.layers = list(layers)

    def forward(self, X: np.ndarray, steps: list[Step] | None = None):
        owned = False  # the caller's X is never overwritten
        for layer in self.layers:
            if owned and steps is None:
                X = layer.forward_into(X)
            else:
                X = layer.forward(X, steps)
            owned = not layer.keeps_output
        return X

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Run the forward pass keeping nothing for a backward pass.

        Each layer's cache is dropped as soon as the next layer has run,
        so only the current activations are alive at any time.
        """
        for layer in self.layers:
            X = layer.forward(X)
            layer.clear_cache()
        return X

    def backward(self, dout: np.ndarray, steps: list[Step] | None = None):
        caller_dout = dout
        for layer in reversed(self.layers):
            # Gradients made here, and not recorded, may be overwritten.
            owned = steps is None and not np.may_share_memory(dout, caller_dout)
            if owned:
                dout = layer.backward_into(dout)
            else:
                dout = layer.backward(dout, steps)
        return dout

    def parameters(self) -> Iterator[tuple[Layer, str]]:
        """Yield `(layer, key)` for every parameter array, in layer order."""
        for layer in self.layers:
            for key in layer.params:
                yield layer, key

    def make_read_only(self) -> None:
        """Mark every parameter array read-only.

        Networks shared between sessions need it, and convolutions then
        reorder their weights once and keep the copy.
        """
        for layer, key in self.parameters():
            layer.params[key].flags.writeable = False

    def __getitem__(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}")

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)


def init_weights(n_out: int, n_in: int, rng: np.random.Generator,
                 scheme: str = "he", dtype=np.float64) -> np.ndarray:
    """Draw a `(n_out, n_in)` weight matrix.

    He: standard deviation `sqrt(2 / n_in)`, which keeps the variance of
    ReLU activations steady through depth. Xavier (Glorot, normal form):
    `sqrt(2 / (n_in + n_out))`, the same aim for tanh and sigmoid. Small:
    `SMALL_STD` whatever the layer's size, which lets signals and gradients
    shrink from layer to layer in deep networks.
    """
    if scheme == "he":
        std = np.sqrt(2.0 / n_in)
    elif scheme == "xavier":
        std = np.sqrt(2.0 / (n_in + n_out))
    elif scheme == "small":
        std = SMALL_STD
    else:
        raise ValueError(
            f"unknown initialisation {scheme!r}; expected one of "
            f"{INITIALISATIONS}")
    return (rng.standard_normal((n_out, n_in)) * std).astype(dtype)


def build_mlp(sizes: Sequence[int], hidden: str = "relu",
              output: str = "sigmoid", seed: int = 0,
              init: str = "he", dtype=np.float64) -> Sequential:
    """Build a fully connected network with layer sizes `sizes`.

    `sizes[0]` is the number of inputs and `sizes[-1]` of outputs. Layer
    `l` (from 1) is `Dense` then the activation, both numbered `l`; hidden
    layers use `hidden` and the last layer `output`. Biases start at 0.1 so
    that small examples do not begin with every ReLU at exactly zero.
    """
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(
            f"sizes must list at least an input and an output size, each "
            f">= 1, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    L = len(sizes) - 1
    for l in range(1, L + 1):
        W = init_weights(sizes[l], sizes[l - 1], rng, init, dtype)
        b = np.full(sizes[l], 0.1, dtype)
        layers.append(Dense(W, b, name=f"dense{l}", index=l))
        layers.append(activation(hidden if l < L else output, index=l))
    return Sequential(layers)


@dataclass(frozen=True)
class LinearCollapse:
    """The single affine map `W x + b` that a network's dense layers make.

    `Z = X W^T + b` is that map applied to the batch and `A = g(Z)` adds the
    output activation. It equals the network's output exactly when every
    hidden activation is linear (`exact`).
    """

    W: np.ndarray
    b: np.ndarray
    Z: np.ndarray
    A: np.ndarray
    exact: bool


def collapse_linear(network: Sequential, X: np.ndarray) -> LinearCollapse:
    """Compose the dense layers into one `(W, b)`, skipping activations.

    With `Z1 = W1 x + b1` and `Z2 = W2 Z1 + b2`, the composition is
    `(W2 W1) x + (W2 b1 + b2)`; the loop applies that rule layer by layer.
    """
    dense = [layer for layer in network.layers if isinstance(layer, Dense)]
    acts = [layer for layer in network.layers if isinstance(layer, Activation)]
    W = np.eye(dense[0].params["W"].shape[1])
    b = np.zeros(W.shape[0])
    for layer in dense:
        W = layer.params["W"] @ W
        b = layer.params["W"] @ b + layer.params["b"]
    Z = X @ W.T + b
    A = acts[-1].g(Z)
    exact = all(isinstance(act, Identity) for act in acts[:-1])
    return LinearCollapse(W, b, Z, A, exact)
