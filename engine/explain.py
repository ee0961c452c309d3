"""Checks of a training step's settings, and what each backward op does.

`check_training_settings` rejects settings a step cannot use before it
runs; `EXPLANATIONS` says in plain words what each operation of the
backward pass computes.
"""

import numpy as np

from engine.layers import ACTIVATIONS

# The values each output activation can produce, by its key in ACTIVATIONS.
OUTPUT_RANGES = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "relu": (0.0, np.inf),
    "linear": (-np.inf, np.inf),
}

# Plain descriptions of the ops of the backward pass, in Markdown with LaTeX.
EXPLANATIONS = {
    "cost": "The forward pass gave the prediction $A^{[L]}$; the cost $J$ measures "
    "how far it is from the target $Y$. Backpropagation finds how $J$ changes with "
    "every weight and bias, starting here and moving back one layer at a time.",
    "dA": "How the cost changes when the prediction moves a little. Its sign says "
    "which way the output should go: negative means a larger output lowers $J$.",
    "dZ": "The gradient passes back through the activation: $dA$ is multiplied, "
    "neuron by neuron, by the slope $g'(Z)$ where the neuron sits on its curve "
    "(the plot under the diagram). Where the slope is near 0, as for a saturated "
    "sigmoid or a ReLU with $z < 0$, almost no gradient gets through.",
    "dW": "The gradient of each weight is the $dZ$ of the neuron it feeds times "
    "the activation that flows along it: an outer product. A weight whose input "
    "was 0 gets no gradient and will not change.",
    "db": "A bias adds straight into $Z$ ($\\partial Z / \\partial b = 1$), so its "
    "gradient is $dZ$, summed over the examples of the batch (here one).",
    "dA_prev": "The gradient flows back along the same edges in reverse: each "
    "neuron of the previous layer collects the $dZ$ of the neurons it feeds, "
    "weighted by the edges. That layer's activation uses it next.",
}


def check_training_settings(loss: str, output: str, y: float, lr: float) -> None:
    """Raise `ValueError`, with a message for the user, for unusable settings.

    `loss` is a key of `engine.losses.LOSSES`, `output` a key of
    `ACTIVATIONS`, `y` the target of the single output and `lr` the
    learning rate.
    """
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(
            f"The learning rate α must be a positive number, got {lr:g}. Try 0.1."
        )
    if not np.isfinite(y):
        raise ValueError(f"The target y must be a finite number, got {y:g}.")
    if loss == "bce" and output != "sigmoid":
        raise ValueError(
            "Binary cross-entropy takes a probability, so it needs the Sigmoid "
            f"output activation, not {ACTIVATIONS[output].title}."
        )
    if loss == "bce" and not 0 <= y <= 1:
        raise ValueError(
            f"Binary cross-entropy needs a target y between 0 and 1, got {y:g}."
        )
