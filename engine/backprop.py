"""One training step of a small network, recorded operation by operation."""

import copy
from dataclasses import dataclass

import numpy as np

from engine.gradcheck import numerical_gradient, relative_error
from engine.losses import Loss
from engine.network import Sequential
from engine.optim import SGD
from engine.steps import Step


@dataclass(frozen=True)
class GradientCheck:
    """An analytic gradient beside its central-difference estimate."""

    analytic: np.ndarray
    numerical: np.ndarray
    relative_error: float


@dataclass(frozen=True)
class Walkthrough:
    """The recorded forward pass, backward pass and update of one step.

    `backward` starts with the cost and ends with the updates; `checks`
    maps `(layer name, "W" or "b")` to its gradient check; `network_after`
    is a copy of the network with the update applied.
    """

    forward: list[Step]
    backward: list[Step]
    checks: dict[tuple[str, str], GradientCheck]
    cost_before: float
    cost_after: float
    network_after: Sequential


def check_gradients(network: Sequential, loss: Loss, X: np.ndarray,
                    Y: np.ndarray) -> dict[tuple[str, str], GradientCheck]:
    """Compare each parameter's stored gradient with central differences.

    Call after a backward pass on the same `X`, `Y`; the parameters must be
    float64 for the comparison to be meaningful.
    """
    def cost() -> float:
        return loss.forward(network.forward(X), Y)

    checks = {}
    for layer, key in network.parameters():
        numeric = numerical_gradient(cost, layer.params[key])
        analytic = layer.grads[key]
        checks[(layer.name, key)] = GradientCheck(
            analytic, numeric, relative_error(analytic, numeric))
    return checks


def walk_training_step(network: Sequential, loss: Loss, X: np.ndarray,
                       Y: np.ndarray, lr: float) -> Walkthrough:
    """Record forward, cost, backward and one SGD update on a copy.

    The network passed in is left unchanged.
    """
    sgd = SGD(lr)  # checks the learning rate before any work is done
    network = copy.deepcopy(network)
    forward: list[Step] = []
    backward: list[Step] = []

    A = network.forward(X, forward)
    cost_before = loss.forward(A, Y, backward)
    network.backward(loss.backward(backward), backward)
    checks = check_gradients(network, loss, X, Y)

    # The steps share the network's W and b arrays, which the update below
    # changes in place, so they keep copies of the values before it.
    forward, backward = copy.deepcopy(forward), copy.deepcopy(backward)
    sgd.step(network, backward)
    cost_after = loss.forward(network.forward(X), Y)
    return Walkthrough(forward, backward, checks, cost_before, cost_after,
                       network)
