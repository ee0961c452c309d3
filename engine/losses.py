"""Costs: mean squared error, binary cross-entropy, softmax cross-entropy.

Each loss has `forward(A, Y) -> J`, the cost averaged over the batch, and
`backward() -> dA`, the gradient of `J` with respect to `A`. The `1/m` of
the average therefore lives in `dA`, and the layers below sum over the batch.
"""

import numpy as np

from engine.layers import sigmoid
from engine.steps import Step, record, sup


def _check_same_shape(name: str, A: np.ndarray, Y: np.ndarray) -> None:
    # An (N,) target against an (N, 1) prediction would broadcast to (N, N).
    if A.shape != Y.shape:
        raise ValueError(
            f"{name}: prediction {A.shape} and target {Y.shape} must have "
            f"the same shape")


class Loss:
    """Base class; `index` is the output layer's number `L` for formulas."""

    name = ""
    latex = ""
    chain = ""

    def __init__(self, index: int | None = None):
        self.index = index

    def forward(self, A: np.ndarray, Y: np.ndarray,
                steps: list[Step] | None = None) -> float:
        self.A, self.Y = A, Y
        J = self._cost(A, Y)
        record(steps, "cost", "cost", self.latex.format(L=sup(self.index)),
               {"A": A, "Y": Y}, {"J": np.asarray(J)}, self.index)
        return J

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Return dJ/dA without computing J, which training steps skip."""
        _check_same_shape(self.name, A, Y)
        return self._gradient(A, Y)

    def backward(self, steps: list[Step] | None = None) -> np.ndarray:
        dA = self._gradient(self.A, self.Y)
        s = sup(self.index)
        record(steps, "cost", "dA", self.gradient_latex.format(L=s),
               {"A": self.A, "Y": self.Y}, {"dA": dA}, self.index,
               rf"dA{s} = \frac{{\partial J}}{{\partial A{s}}}")
        return dA


class MeanSquaredError(Loss):
    """`J = (1/n) sum (A - Y)^2` over all n elements, as PyTorch's MSELoss."""

    name = "Mean squared error"
    latex = r"J = \frac{{1}}{{m}} \sum_{{i=1}}^{{m}} (A{L}_i - Y_i)^2"
    gradient_latex = r"dA{L} = \frac{{2}}{{m}} (A{L} - Y)"

    def _cost(self, A, Y):
        _check_same_shape(self.name, A, Y)
        return float(np.mean((A - Y) ** 2))

    def _gradient(self, A, Y):
        return 2 * (A - Y) / A.size


class BinaryCrossEntropy(Loss):
    """`J = -(1/m) sum [Y log A + (1 - Y) log(1 - A)]` on probabilities A.

    A is clipped to `[EPS, 1 - EPS]` so that a saturated sigmoid gives a
    large finite cost instead of `log(0)`; the gradient uses the same clip.
    """

    EPS = 1e-12
    name = "Binary cross-entropy"
    latex = (r"J = -\frac{{1}}{{m}} \sum_{{i=1}}^{{m}} \left[Y_i \log A{L}_i"
             r" + (1 - Y_i) \log(1 - A{L}_i)\right]")
    gradient_latex = (r"dA{L} = \frac{{1}}{{m}} \left(-\frac{{Y}}{{A{L}}}"
                      r" + \frac{{1 - Y}}{{1 - A{L}}}\right)")

    def _cost(self, A, Y):
        _check_same_shape(self.name, A, Y)
        P = np.clip(A, self.EPS, 1 - self.EPS)
        return float(-np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P)))

    def _gradient(self, A, Y):
        P = np.clip(A, self.EPS, 1 - self.EPS)
        return (-Y / P + (1 - Y) / (1 - P)) / A.size


class BinaryCrossEntropyWithLogits(Loss):
    """Binary cross-entropy on logits `Z`, the sigmoid folded in.

    `J = (1/n) sum [max(Z, 0) - Z Y + log(1 + e^{-|Z|})]` equals the
    cross-entropy of `sigmoid(Z)` without ever rounding it to 0 or 1, so
    the cost grows with the logits and becomes infinite only when they do.
    The gradient is `(sigmoid(Z) - Y) / n`.
    """

    name = "Binary cross-entropy on logits"
    latex = (r"J = -\frac{{1}}{{m}} \sum_{{i=1}}^{{m}} \left[Y_i \log "
             r"\sigma(Z{L}_i) + (1 - Y_i) \log(1 - \sigma(Z{L}_i))\right]")
    gradient_latex = r"dZ{L} = \frac{{1}}{{m}} (\sigma(Z{L}) - Y)"

    def _cost(self, Z, Y):
        _check_same_shape(self.name, Z, Y)
        softplus = np.log1p(np.exp(-np.abs(Z)))
        return float(np.mean(np.maximum(Z, 0) - Z * Y + softplus))

    def _gradient(self, Z, Y):
        return (sigmoid(Z) - Y) / Z.size


def _shifted_exp(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return `Z - max(Z)` along the last axis and its exponential.

    Shifting by the row maximum keeps every exponent at or below 0, so
    nothing overflows. Exponents far below zero are set to exactly 0
    instead of computed, because `exp` would underflow there.
    """
    shifted = Z - Z.max(axis=-1, keepdims=True)
    floor = np.log(np.finfo(Z.dtype).tiny) + 1  # about -707 for float64
    e = np.where(shifted < floor, 0.0, np.exp(np.maximum(shifted, floor)))
    return shifted, e


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Return `log softmax(Z)` along the last axis, stable for any logits."""
    shifted, e = _shifted_exp(Z)
    return shifted - np.log(e.sum(axis=-1, keepdims=True))


def softmax(Z: np.ndarray) -> np.ndarray:
    """Return softmax along the last axis; rows sum to 1, no overflow."""
    _, e = _shifted_exp(Z)
    return e / e.sum(axis=-1, keepdims=True)


class SoftmaxCrossEntropy(Loss):
    """Softmax of logits `Z` `(N, K)` and cross-entropy with labels `(N,)`.

    `J = -(1/N) sum_i log softmax(Z_i)[y_i]`, with gradient
    `(softmax(Z) - onehot(y)) / N`.
    """

    name = "Softmax cross-entropy"
    latex = (r"J = -\frac{{1}}{{m}} \sum_{{i=1}}^{{m}}"
             r" \log \mathrm{{softmax}}(Z{L}_i)_{{y_i}}")
    gradient_latex = r"dZ{L} = \frac{{1}}{{m}} (\mathrm{{softmax}}(Z{L}) - Y)"

    def _cost(self, Z, y):
        if Z.ndim != 2 or y.shape != (Z.shape[0],):
            raise ValueError(
                f"{self.name}: expected logits (N, K) and labels (N,), "
                f"got {Z.shape} and {y.shape}")
        if y.min() < 0 or y.max() >= Z.shape[1]:
            raise ValueError(
                f"{self.name}: labels must be in [0, {Z.shape[1] - 1}], "
                f"got {y.min()}..{y.max()}")
        picked = log_softmax(Z)[np.arange(len(y)), y]
        return float(-picked.mean())

    def _gradient(self, Z, y):
        dZ = softmax(Z)
        dZ[np.arange(len(y)), y] -= 1
        return dZ / len(y)


LOSSES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "bce": BinaryCrossEntropy,
    "bce_logits": BinaryCrossEntropyWithLogits,
    "softmax_ce": SoftmaxCrossEntropy,
}
