"""Fully connected layer and elementwise activations.

Every layer follows one contract. `forward(X)` returns the output and keeps
what the backward pass needs; `backward(dout)` takes the gradient of the cost
with respect to the output, stores the gradients of the layer's parameters
in `grads` under the same keys as `params`, and returns the gradient with
respect to the input. Arrays are batch-first: a row is one example.
"""

import numpy as np

from engine.steps import Step, record, sup


class Layer:
    """Base class: a named layer with parameters and their gradients.

    `index` is the layer number `l` written in formulas as `^{[l]}`; a dense
    layer and the activation after it share one number.
    """

    def __init__(self, name: str, index: int | None = None):
        self.name = name
        self.index = index
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        # False freezes the parameters: the backward pass then computes only
        # the gradient of the input, as saliency maps need.
        self.param_grads = True

    def forward(self, X: np.ndarray, steps: list[Step] | None = None):
        raise NotImplementedError

    def backward(self, dout: np.ndarray, steps: list[Step] | None = None):
        raise NotImplementedError

    # Whether the layer's output is still referenced after forward returns,
    # by the layer's cache or as a view of its input. Only an output that
    # nothing references may be overwritten by the next layer.
    keeps_output = True

    def forward_into(self, X: np.ndarray) -> np.ndarray:
        """Return `forward(X)`, free to overwrite `X` with the result.

        Sequential calls it with outputs that its own layers made and
        nothing else holds. Layers whose result fits in `X` override it to
        save an array.
        """
        return self.forward(X)

    def backward_into(self, dout: np.ndarray) -> np.ndarray:
        """Return `backward(dout)`, free to overwrite `dout` with the result.

        Sequential calls it with the gradients that its own layers made and
        nothing else holds. Layers whose result fits in `dout` override it
        to save an array.
        """
        return self.backward(dout)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Return the output shape for an input shape, batch axis included."""
        return input_shape

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def clear_cache(self) -> None:
        """Drop what the forward pass kept for the backward pass."""
        for name in ("X", "A_prev", "A"):
            self.__dict__.pop(name, None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Dense(Layer):
    """Fully connected layer: `Z = W A_prev + b` for each example.

    Shapes: `W` is `(n_out, n_in)` as in PyTorch, `b` is `(n_out,)`; the
    input `A_prev` is `(N, n_in)` and the output `Z` is `(N, n_out)`, so the
    batch computes `Z = A_prev W^T + b`.
    """

    keeps_output = False  # Z is a new array, and the cache keeps only A_prev

    def __init__(self, W: np.ndarray, b: np.ndarray, name: str = "dense",
                 index: int | None = None):
        super().__init__(name, index)
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise ValueError(
                f"{name}: W must be (n_out, n_in) and b (n_out,), "
                f"got W {W.shape} and b {b.shape}")
        self.params = {"W": W, "b": b}
        # A first layer's input is data, and training never uses its gradient,
        # so the trainer turns this off to skip one matrix product per step.
        self.input_grad = True

    def output_shape(self, input_shape):
        return (input_shape[0], self.params["W"].shape[0])

    def forward(self, X, steps=None):
        W, b = self.params["W"], self.params["b"]
        if X.ndim != 2 or X.shape[1] != W.shape[1]:
            raise ValueError(
                f"{self.name}: expected input (N, {W.shape[1]}), got {X.shape}")
        if self.param_grads:
            self.A_prev = X
        # np.dot rather than @: for 2D arrays it always reaches BLAS, while
        # matmul takes a slow loop for products with an inner size of 1.
        Z = np.dot(X, W.T)
        Z += b
        if steps is not None:
            l = self.index
            formula = (f"Z{sup(l)} = W{sup(l)} "
                       f"A{sup(None if l is None else l - 1)} + b{sup(l)}")
            record(steps, self.name, "linear", formula,
                   {"W": W, "A_prev": X, "b": b}, {"Z": Z}, l)
        return Z

    def backward(self, dZ, steps=None):
        W = self.params["W"]
        dA_prev = None
        if self.param_grads:
            self._parameter_gradients(dZ)
        if self.input_grad:
            dA_prev = np.dot(dZ, W)  # (N, n_out) @ (n_out, n_in) -> (N, n_in)
        if steps is not None and self.param_grads:
            self._record_backward(steps, dZ, dA_prev)
        return dA_prev

    def _parameter_gradients(self, dZ: np.ndarray) -> None:
        dW = np.dot(dZ.T, self.A_prev)  # (n_out, N) @ (N, n_in) -> (n_out, n_in)
        # The bias is shared by every example, so its gradient sums dZ over
        # the batch; a product with ones is several times faster than
        # dZ.sum(axis=0) for the narrow layers of the toy networks.
        db = np.dot(np.ones(len(dZ), dZ.dtype), dZ)
        self.grads = {"W": dW, "b": db}

    def _record_backward(self, steps, dZ, dA_prev):
        dW, db = self.grads["W"], self.grads["b"]
        l = self.index
        prev = None if l is None else l - 1
        s, p = sup(l), sup(prev)
        W, A_prev = self.params["W"], self.A_prev
        record(steps, self.name, "dW", f"dW{s} = dZ{s} A{sup(prev, True)}",
               {"dZ": dZ, "A_prev": A_prev}, {"dW": dW}, l,
               rf"\frac{{\partial J}}{{\partial W{s}}} = "
               rf"\frac{{\partial J}}{{\partial Z{s}}}"
               rf"\frac{{\partial Z{s}}}{{\partial W{s}}}")
        record(steps, self.name, "db", rf"db{s} = \sum_{{i}} dZ{s}_{{i}}",
               {"dZ": dZ}, {"db": db}, l,
               rf"\frac{{\partial J}}{{\partial b{s}}} = "
               rf"\frac{{\partial J}}{{\partial Z{s}}} \cdot 1")
        if dA_prev is None:
            return
        record(steps, self.name, "dA_prev", f"dA{p} = W{sup(l, True)} dZ{s}",
               {"W": W, "dZ": dZ}, {"dA_prev": dA_prev}, l,
               rf"\frac{{\partial J}}{{\partial A{p}}} = "
               rf"\left(\frac{{\partial Z{s}}}{{\partial A{p}}}\right)^T"
               rf"\frac{{\partial J}}{{\partial Z{s}}}")


class Activation(Layer):
    """Elementwise `A = g(Z)`; subclasses give `g`, `g'` and their LaTeX."""

    title = ""
    latex = ""
    derivative_latex = ""

    def __init__(self, name: str | None = None, index: int | None = None):
        super().__init__(name or self.title.lower(), index)

    @staticmethod
    def g(Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def g_prime(A: np.ndarray) -> np.ndarray:
        """Return g'(Z) from `A = g(Z)`.

        A alone fixes g'(Z) for every activation here, so the layer keeps
        A only and the layer before can free Z: about half the activation
        memory of a VGG16 backward pass.
        """
        raise NotImplementedError

    def forward(self, Z, steps=None):
        A = self.g(Z)
        self.A = A
        if steps is not None:
            s = sup(self.index)
            record(steps, self.name, "activation", f"A{s} = g{s}(Z{s})",
                   {"Z": Z}, {"A": A}, self.index)
        return A

    def backward(self, dA, steps=None):
        local = self.g_prime(self.A)
        dZ = dA * local
        if steps is not None:
            s = sup(self.index)
            # g^{[l]}' would be a double superscript, so the prime goes inside.
            g_prime = "g'" if self.index is None else f"g^{{[{self.index}]\\prime}}"
            record(steps, self.name, "dZ", f"dZ{s} = dA{s} \\odot {g_prime}(Z{s})",
                   {"dA": dA, "g'(Z)": local}, {"dZ": dZ}, self.index,
                   rf"\frac{{\partial J}}{{\partial Z{s}}} = "
                   rf"\frac{{\partial J}}{{\partial A{s}}} \odot "
                   rf"\frac{{\partial A{s}}}{{\partial Z{s}}}")
        return dZ


class ReLU(Activation):
    title = "ReLU"
    latex = r"g(z) = \max(0, z)"
    derivative_latex = r"g'(z) = 1 \text{ if } z > 0 \text{ else } 0"

    @staticmethod
    def g(Z):
        return np.maximum(Z, 0)

    @staticmethod
    def g_prime(A):
        # A > 0 exactly where Z > 0. At z = 0 the derivative is taken as 0,
        # as PyTorch does.
        return (A > 0).astype(A.dtype)

    def backward(self, dA, steps=None):
        if steps is not None:
            return super().backward(dA, steps)
        # The same dA * g'(Z), without first making g'(Z) as floats: one
        # array fewer on VGG16's largest layers.
        return np.multiply(dA, self.A > 0)

    def forward_into(self, Z):
        self.A = np.maximum(Z, 0, out=Z)
        return self.A

    def backward_into(self, dA):
        return np.multiply(dA, self.A > 0, out=dA)


class Sigmoid(Activation):
    title = "Sigmoid"
    latex = r"g(z) = \sigma(z) = \frac{1}{1 + e^{-z}}"
    derivative_latex = r"g'(z) = \sigma(z)\,(1 - \sigma(z))"

    @staticmethod
    def g(Z):
        return sigmoid(Z)

    @staticmethod
    def g_prime(A):
        return A * (1 - A)


class Tanh(Activation):
    title = "tanh"
    latex = r"g(z) = \tanh(z)"
    derivative_latex = r"g'(z) = 1 - \tanh^2(z)"

    @staticmethod
    def g(Z):
        return np.tanh(Z)

    @staticmethod
    def g_prime(A):
        return 1 - A**2


class Identity(Activation):
    title = "Linear"
    latex = r"g(z) = z"
    derivative_latex = r"g'(z) = 1"

    @staticmethod
    def g(Z):
        return Z

    @staticmethod
    def g_prime(A):
        return np.ones_like(A)

    def backward(self, dA, steps=None):
        if steps is None:
            return dA  # g'(Z) = 1, so dZ = dA
        return super().backward(dA, steps)


ACTIVATIONS: dict[str, type[Activation]] = {
    "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "linear": Identity,
}


def activation(key: str, index: int | None = None) -> Activation:
    """Build an activation layer from its key in `ACTIVATIONS`."""
    if key not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {key!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key](name=f"{key}{'' if index is None else index}",
                            index=index)


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """Return 1 / (1 + e^-z) without overflow or underflow for any z.

    Only e^{-|z|} is ever computed, so nothing overflows. Values of |z| past
    the cutoff are clipped first: beyond it the sigmoid already rounds to 0
    or 1, and e^{-|z|} would underflow, which `np.errstate(all="raise")`
    turns into an error.
    """
    cutoff = 700.0 if Z.dtype == np.float64 else 80.0
    Zc = np.clip(Z, -cutoff, cutoff)
    e = np.exp(-np.abs(Zc))
    return np.where(Zc >= 0, 1 / (1 + e), e / (1 + e))
