"""Optimizers that update a network's parameters in place from its grads."""

import numpy as np

from engine.steps import Step, record, sup


class SGD:
    """Plain gradient descent: `W := W - alpha dW` for every parameter."""

    def __init__(self, lr: float):
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning rate must be a positive number, got {lr}")
        self.lr = lr

    def step(self, network, steps: list[Step] | None = None) -> None:
        for layer, key in network.parameters():
            param, grad = layer.params[key], layer.grads[key]
            before = param.copy() if steps is not None else None
            param -= self.lr * grad
            s = sup(layer.index)
            record(steps, layer.name, "update",
                   rf"{key}{s} := {key}{s} - \alpha\, d{key}{s}",
                   {key: before, f"d{key}": grad, "alpha": np.asarray(self.lr)},
                   {key: param.copy()}, layer.index)
