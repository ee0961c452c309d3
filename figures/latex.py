"""LaTeX for the formulas of a small network, with the numbers substituted.

The engine stores one example as a row of a batch, while the formulas use
column vectors (`Z = W A_prev + b`). The helpers here take the row of the
single example and write it as a column: that is layout, not maths. Every
equation is an `aligned` block of the symbols, the numbers put in, and the
result, so that the `=` signs line up.
"""

import re
from collections.abc import Sequence

import numpy as np

from engine.backprop import GradientCheck
from engine.layers import Activation, Identity, ReLU, Sigmoid, Tanh
from engine.losses import BinaryCrossEntropy, Loss, MeanSquaredError
from engine.network import LinearCollapse
from engine.steps import Step, sup

DIGITS = 4  # significant digits of every number shown

FUNCTION_NAMES: dict[type[Activation], str] = {
    ReLU: r"\operatorname{ReLU}",
    Tanh: r"\tanh",
    Sigmoid: r"\sigma",
    Identity: r"\operatorname{id}",
}

# The first `=` or `:=` of a formula, where the aligned block lines up.
_EQUALS = re.compile(r"\s(:?=)\s")


def number(x: float, digits: int = DIGITS) -> str:
    """Format `x` with `digits` significant digits as LaTeX.

    Exponent notation becomes `\\times 10^{k}`, and `-0` becomes `0`.
    """
    x = float(x)
    if np.isnan(x):
        return r"\mathrm{NaN}"
    if np.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    text = f"{x:.{digits}g}"
    if text == "-0":
        return "0"
    mantissa, _, exponent = text.partition("e")
    if exponent:
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def bmatrix(A: np.ndarray | float, digits: int = DIGITS) -> str:
    """Write a scalar as a number, a 1-D array as a column, a 2-D as a matrix."""
    A = np.asarray(A, dtype=float)
    if A.ndim == 0:
        return number(A, digits)
    if A.ndim == 1:
        A = A[:, None]  # (n,) -> (n, 1), a column vector
    if A.ndim != 2:
        raise ValueError(f"bmatrix takes at most 2 dimensions, got shape {A.shape}")
    rows = [" & ".join(number(x, digits) for x in row) for row in A]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def aligned(formula: str, *lines: str) -> str:
    """Stack `formula` and the lines that continue it, aligned at `=`.

    Each continuation line starts with `=`. A formula without `=` is kept
    whole on the first line.
    """
    return stack(_rows(formula, *lines))


def stack(*blocks: list[str]) -> str:
    """Join blocks of aligned rows into one `aligned`, a gap between blocks."""
    return (
        r"\begin{aligned}"
        + r" \\[6pt] ".join(r" \\ ".join(rows) for rows in blocks)
        + r"\end{aligned}"
    )


def _rows(formula: str, *lines: str) -> list[str]:
    lhs, sign, rhs = _split_at_equals(formula)
    return [rf"{lhs} &{sign} {rhs}"] + [f"&= {line}" for line in lines]


def _split_at_equals(formula: str) -> tuple[str, str, str]:
    match = _EQUALS.search(formula)
    if match is None:
        return formula, "", ""
    return formula[: match.start()], match.group(1), formula[match.end() :]


def one_example(A: np.ndarray) -> np.ndarray:
    """Return the single example of a batch `(1, n)` as a vector `(n,)`."""
    if A.ndim != 2 or A.shape[0] != 1:
        raise ValueError(f"expected a batch of one example (1, n), got {A.shape}")
    return A[0]


def function_name(activation: type[Activation]) -> str:
    """Return the LaTeX name of an activation, `g` for one not listed."""
    return FUNCTION_NAMES.get(activation, "g")


def linear_equation(step: Step, digits: int = DIGITS) -> str:
    """Write `Z = W A_prev + b` of one example, with its numbers."""
    W, b = step.inputs["W"], step.inputs["b"]
    A_prev = one_example(step.inputs["A_prev"])
    Z = one_example(step.outputs["Z"])
    product = f"{bmatrix(W, digits)} {bmatrix(A_prev, digits)} + {bmatrix(b, digits)}"
    return aligned(step.formula, product, bmatrix(Z, digits))


def activation_equation(
    step: Step, activation: type[Activation], digits: int = DIGITS
) -> str:
    """Write `A = g(Z)` of one example, with the function named."""
    s = sup(step.index)
    Z = one_example(step.inputs["Z"])
    A = one_example(step.outputs["A"])
    applied = rf"{function_name(activation)}\left({bmatrix(Z, digits)}\right)"
    return aligned(rf"A{s} = g{s}(Z{s})", applied, bmatrix(A, digits))


def _scalar_output(step: Step) -> tuple[float, float]:
    """Return the prediction and target of one example and one output."""
    A, Y = step.inputs["A"], step.inputs["Y"]
    if A.shape != (1, 1) or Y.shape != (1, 1):
        raise ValueError(
            f"the loss equations show one example with one output, got "
            f"prediction {A.shape} and target {Y.shape}"
        )
    return A.item(), Y.item()


def _term(x: float, digits: int) -> str:
    """Format a number to follow an operator: negatives go in brackets."""
    text = number(x, digits)
    return rf"\left({text}\right)" if text.startswith("-") else text


def cost_equation(step: Step, loss: type[Loss], digits: int = DIGITS) -> str:
    """Write the cost `J` of one example (`m = 1`), with its numbers."""
    a, y = _scalar_output(step)
    A, Y = number(a, digits), _term(y, digits)
    if issubclass(loss, MeanSquaredError):
        numbers = rf"\frac{{1}}{{1}} \left({A} - {Y}\right)^2"
    elif issubclass(loss, BinaryCrossEntropy):
        numbers = (
            rf"-\frac{{1}}{{1}} \left[{Y} \log {A}"
            rf" + \left(1 - {Y}\right) \log\left(1 - {A}\right)\right]"
        )
    else:
        raise ValueError(f"no cost equation for the loss {loss.__name__}")
    J = step.outputs["J"]
    return aligned(step.formula, numbers, number(J, digits))


def loss_gradient_equation(
    step: Step, loss: type[Loss], digits: int = DIGITS
) -> str:
    """Write `dA` of the output from the loss, for one example (`m = 1`)."""
    a, y = _scalar_output(step)
    A, Y = number(a, digits), _term(y, digits)
    if issubclass(loss, MeanSquaredError):
        numbers = rf"\frac{{2}}{{1}} \left({A} - {Y}\right)"
    elif issubclass(loss, BinaryCrossEntropy):
        numbers = (
            rf"\frac{{1}}{{1}} \left(-\frac{{{Y}}}{{{A}}}"
            rf" + \frac{{1 - {Y}}}{{1 - {A}}}\right)"
        )
    else:
        raise ValueError(f"no gradient equation for the loss {loss.__name__}")
    dA = one_example(step.outputs["dA"])
    return aligned(step.formula, numbers, bmatrix(dA, digits))


def backward_equation(step: Step, digits: int = DIGITS) -> str:
    """Write a layer's `dZ`, `dW`, `db` or `dA_prev` step with its numbers."""
    op = step.op
    if op == "dZ":
        dA = one_example(step.inputs["dA"])
        local = one_example(step.inputs["g'(Z)"])
        numbers = rf"{bmatrix(dA, digits)} \odot {bmatrix(local, digits)}"
        result = one_example(step.outputs["dZ"])
    elif op == "dW":
        # dZ as a column times A_prev^T as a row: an outer product.
        dZ = one_example(step.inputs["dZ"])
        numbers = f"{bmatrix(dZ, digits)} {bmatrix(step.inputs['A_prev'], digits)}"
        result = step.outputs["dW"]
    elif op == "db":
        # With one example the sum over examples has a single term.
        numbers = bmatrix(one_example(step.inputs["dZ"]), digits)
        result = step.outputs["db"]
    elif op == "dA_prev":
        dZ = one_example(step.inputs["dZ"])
        numbers = f"{bmatrix(step.inputs['W'].T, digits)} {bmatrix(dZ, digits)}"
        result = one_example(step.outputs["dA_prev"])
    else:
        raise ValueError(
            f"backward_equation takes the ops dZ, dW, db and dA_prev, got {op!r}"
        )
    return aligned(step.formula, numbers, bmatrix(result, digits))


def _parameter_key(step: Step) -> str:
    """Return the key of the parameter an update step changes, "W" or "b"."""
    # It is the input that comes with its gradient, `d` + key.
    return next(name for name in step.inputs if f"d{name}" in step.inputs)


def update_equation(step: Step, digits: int = DIGITS) -> str:
    """Write one gradient-descent update `W := W - alpha dW` with its numbers."""
    key = _parameter_key(step)
    before, grad = step.inputs[key], step.inputs[f"d{key}"]
    alpha = _term(step.inputs["alpha"], digits)
    numbers = f"{bmatrix(before, digits)} - {alpha} {bmatrix(grad, digits)}"
    return aligned(step.formula, numbers, bmatrix(step.outputs[key], digits))


def gradient_check_equation(
    check: GradientCheck, key: str, index: int, digits: int = DIGITS
) -> str:
    """Write the central-difference estimate of `dW` or `db` and its error."""
    s = sup(index)
    estimate = (
        rf"d{key}{s}_{{\text{{numerical}}}} = \frac{{J({key}{s} + h)"
        rf" - J({key}{s} - h)}}{{2h}}"
    )
    numerical = rf"d{key}_{{\text{{num}}}}"
    error = (
        rf"\text{{relative error}} = \frac{{\max |d{key} - {numerical}|}}"
        rf"{{\max (|d{key}| + |{numerical}|)}}"
    )
    return stack(
        _rows(estimate, bmatrix(check.numerical, digits)),
        _rows(error, number(check.relative_error, 3)),
    )


def collapse_equations(
    collapse: LinearCollapse,
    x: np.ndarray,
    output: type[Activation],
    L: int,
    digits: int = DIGITS,
) -> str:
    """Write the single matrix and bias of `L` dense layers and their output.

    `x` is the one example `(1, n_in)`; `output` is the last activation.
    """
    W_tilde = _rows(
        rf"\widetilde{{W}} = {_product(range(L, 0, -1))}", bmatrix(collapse.W, digits)
    )
    b_tilde = _rows(rf"\widetilde{{b}} = {_bias_sum(L)}", bmatrix(collapse.b, digits))
    applied = (
        rf"{function_name(output)}\left({bmatrix(collapse.W, digits)} "
        rf"{bmatrix(one_example(x), digits)} + {bmatrix(collapse.b, digits)}\right)"
    )
    A_tilde = _rows(
        rf"\widetilde{{A}} = g{sup(L)}(\widetilde{{W}} A{sup(0)} + \widetilde{{b}})",
        applied,
        bmatrix(one_example(collapse.A), digits),
    )
    return stack(W_tilde, b_tilde, A_tilde)


def _product(indices: Sequence[int]) -> str:
    return " ".join(f"W{sup(l)}" for l in indices)


def _bias_sum(L: int) -> str:
    """Write the collapsed bias: the sum of W^{[L]} ... W^{[l+1]} b^{[l]}."""
    terms = [f"{_product(range(L, l, -1))} b{sup(l)}" for l in range(1, L + 1)]
    return " + ".join(term.lstrip() for term in terms)


def step_symbol(step: Step) -> str:
    """Return the LaTeX symbol a backward step computes, such as `dW^{[2]}`."""
    if step.op == "cost":
        return "J"
    if step.op == "dA_prev":
        return f"dA{sup(step.index - 1)}"
    if step.op == "update":
        return f"{_parameter_key(step)}{sup(step.index)}"
    return f"{step.op}{sup(step.index)}"


def step_equation(step: Step, loss: type[Loss], digits: int = DIGITS) -> str:
    """Write any step of the backward pass or update, with its numbers."""
    if step.op == "cost":
        return cost_equation(step, loss, digits)
    if step.op == "dA":
        return loss_gradient_equation(step, loss, digits)
    if step.op == "update":
        return update_equation(step, digits)
    return backward_equation(step, digits)
