"""Checks of a training step's settings, and what each backward op does.

`check_training_settings` rejects settings a step cannot use before it
runs. `EXPLANATIONS` describes in plain words what each operation of the
backward pass computes, and `BATCH_EXPLANATIONS` what it does to a batch.
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

# Descriptions of the ops of the backward pass on a batch of m examples, in
# Markdown with LaTeX. A superscript (i) marks example i on its own.
BATCH_EXPLANATIONS = {
    "cost": "With $m$ examples the cost is the mean of the examples' own costs "
    "$J^{(i)}$, the cost each of them would have alone.",
    "dA": "Because $J$ is a mean, the loss's $dA$ carries a factor $1/m$: column "
    "$i$ of $dA^{[L]}$ is $1/m$ times the $dA$ that example $i$ has alone. Every "
    "gradient below inherits that factor.",
    "dZ": "Column by column, exactly as for one example. The $1/m$ that came in "
    "with $dA$ stays, so $dZ$ is $1/m$ times the examples' own $dZ^{(i)}$ side "
    "by side.",
    "dW": "The product $dZ\\, A^{T}$ adds up one outer product per example. "
    "Because this $dZ$ already carries the $1/m$, the sum is the mean of the "
    "examples' own gradients $dW^{(i)} = dZ^{(i)} a^{(i)T}$. It is the textbook "
    "$dW = \\frac{1}{m} dZ\\, A^{T}$ with the $1/m$ moved into $dZ$.",
    "db": "A bias adds into every example, so $db$ sums the columns of $dZ$. With "
    "the $1/m$ inside $dZ$, that sum is the mean of the examples' own "
    "$db^{(i)}$.",
    "dA_prev": "Each column goes back through $W^T$ on its own, so it is still "
    "$1/m$ times the gradient that example has alone.",
}
