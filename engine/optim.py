"""Optimizers that update a network's parameters in place from its grads.

Each follows PyTorch's update rule of the same name, so that the two can be
compared step by step. State such as momentum is kept per parameter, keyed
by the layer's name and the parameter's key.
"""

import numpy as np

from engine.steps import Step, record, sup

OPTIMIZERS = ("sgd", "momentum", "adam")


class Optimizer:
    """Base class: `step(network)` updates every parameter from its grad."""

    name = ""

    def __init__(self, lr: float):
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning rate must be a positive number, got {lr}")
        self.lr = lr
        self.t = 0  # number of steps taken
        self.state: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    def step(self, network, steps: list[Step] | None = None) -> None:
        self.t += 1
        for layer, key in network.parameters():
            param, grad = layer.params[key], layer.grads[key]
            before = param.copy() if steps is not None else None
            update = self._update(grad, (layer.name, key))
            param -= update
            if steps is not None:
                self._record(steps, layer, key, before, grad, update)

    def _update(self, grad: np.ndarray, key: tuple[str, str]) -> np.ndarray:
        """Return the amount to subtract from the parameter at `key`."""
        raise NotImplementedError

    def _record(self, steps, layer, key, before, grad, update):
        s = sup(layer.index)
        inputs = {key: before, f"d{key}": grad.copy(), "alpha": np.asarray(self.lr)}
        state = self.state.get((layer.name, key), {})
        inputs.update({name: value.copy() for name, value in state.items()})
        record(steps, layer.name, "update",
               self.formula.format(p=key, s=s),
               inputs, {key: layer.params[key].copy(), "update": update},
               layer.index)


class SGD(Optimizer):
    """Plain gradient descent: `W := W - alpha dW`."""

    name = "SGD"
    formula = r"{p}{s} := {p}{s} - \alpha\, d{p}{s}"

    def _update(self, grad, key):
        return self.lr * grad


class Momentum(Optimizer):
    """Gradient descent with momentum, PyTorch's form:
    `v := mu v + dW`, then `W := W - alpha v`, with `v = dW` on step 1."""

    name = "SGD with momentum"
    formula = (r"v_{{d{p}}} := \mu\, v_{{d{p}}} + d{p}{s},\quad "
               r"{p}{s} := {p}{s} - \alpha\, v_{{d{p}}}")

    def __init__(self, lr: float, mu: float = 0.9):
        super().__init__(lr)
        if not 0 <= mu < 1:
            raise ValueError(f"momentum must be in [0, 1), got {mu}")
        self.mu = mu

    def _update(self, grad, key):
        state = self.state.setdefault(key, {})
        if "v" in state:
            state["v"] = self.mu * state["v"] + grad
        else:
            state["v"] = grad.copy()
        return self.lr * state["v"]


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction, as in PyTorch:
    `m := b1 m + (1 - b1) dW`, `v := b2 v + (1 - b2) dW^2`, then
    `W := W - alpha m_hat / (sqrt(v_hat) + eps)`."""

    name = "Adam"
    formula = (r"m := \beta_1 m + (1-\beta_1)\, d{p}{s},\quad "
               r"v := \beta_2 v + (1-\beta_2)\, (d{p}{s})^2,\quad "
               r"{p}{s} := {p}{s} - \alpha \frac{{\hat m}}"
               r"{{\sqrt{{\hat v}} + \epsilon}}")

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, grad, key):
        state = self.state.setdefault(key, {})
        b1, b2 = self.beta1, self.beta2
        state["m"] = b1 * state.get("m", 0) + (1 - b1) * grad
        state["v"] = b2 * state.get("v", 0) + (1 - b2) * grad * grad
        m_hat = state["m"] / (1 - b1**self.t)
        v_hat = state["v"] / (1 - b2**self.t)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def make_optimizer(name: str, lr: float) -> Optimizer:
    """Build an optimizer from its key in `OPTIMIZERS`."""
    classes = {"sgd": SGD, "momentum": Momentum, "adam": Adam}
    if name not in classes:
        raise ValueError(
            f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    return classes[name](lr)
