"""LaTeX for the formulas of a small network, with the numbers substituted.

The engine stores one example as a row of a batch, while the formulas use
column vectors (`Z = W A_prev + b`). The helpers here write each example's
row as a column, so a batch becomes one column per example: that is layout,
not maths. Every
equation is an `aligned` block of the symbols, the numbers put in, and the
result, so that the `=` signs line up.
"""

import re
from collections.abc import Sequence

import numpy as np

from engine.backprop import GradientCheck
from engine.graph import Graph, ParameterUpdate, chain_terms, step_output
from engine.layers import Activation, Identity, ReLU, Sigmoid, Tanh
from engine.losses import BinaryCrossEntropy, Loss, MeanSquaredError
from engine.network import LinearCollapse
from engine.steps import Step, sup

DIGITS = 4  # significant digits of every number shown
G_PRIME = "g'(Z)"  # the input name of g'(Z) in a dZ step

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


def columns(A: np.ndarray, digits: int = DIGITS) -> str:
    """Write a batch `(m, n)` as an `n x m` matrix, one example per column."""
    return bmatrix(np.asarray(A).T, digits)


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
    """Write `Z = W A_prev + b` with its numbers, one example a column.

    With several examples `b` is added to every column.
    """
    W, b = step.inputs["W"], step.inputs["b"]
    A_prev = columns(step.inputs["A_prev"], digits)
    product = f"{bmatrix(W, digits)} {A_prev} + {bmatrix(b, digits)}"
    return aligned(step.formula, product, columns(step.outputs["Z"], digits))


def activation_equation(
    step: Step, activation: type[Activation], digits: int = DIGITS
) -> str:
    """Write `A = g(Z)` with the function named, one example a column."""
    s = sup(step.index)
    Z = columns(step.inputs["Z"], digits)
    applied = rf"{function_name(activation)}\left({Z}\right)"
    return aligned(rf"A{s} = g{s}(Z{s})", applied, columns(step.outputs["A"], digits))


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


# The computational graph: each gradient as its sum of chain-rule terms.


def chain_rule_row(graph: Graph, node_id: str, digits: int = DIGITS) -> str:
    """Write one node's gradient as upstream gradient times local derivative.

    The row reads `dw = dz a = (upstream) (local) = gradient`, with one term
    per quantity computed from the node, summed, and the products added up
    when there are several. It is a row of an `aligned` block.
    """
    node = graph.nodes[node_id]
    terms = chain_terms(graph, node_id)
    if not terms:
        return rf"{node.gradient_label} &= 1"
    symbols = " + ".join(
        rf"{graph.nodes[term.edge.target].gradient_label}\, {term.edge.local_label}"
        for term in terms
    )
    numbers = " + ".join(
        rf"{_term(term.upstream, digits)} \cdot {_term(term.edge.local, digits)}"
        for term in terms
    )
    parts = [symbols, numbers]
    if len(terms) > 1:
        parts.append(" + ".join(_term(term.product, digits) for term in terms))
    parts.append(number(node.gradient, digits))
    return rf"{node.gradient_label} &= " + " = ".join(parts)


def chain_rule_equations(graph: Graph, node_ids: Sequence[str],
                         digits: int = DIGITS) -> str:
    """Stack the chain-rule rows of several nodes, aligned at their `=`."""
    return (r"\begin{aligned}"
            + r" \\ ".join(chain_rule_row(graph, id, digits) for id in node_ids)
            + r"\end{aligned}")


# A batch of m examples, written with `columns`.


def prediction_equation(step: Step, digits: int = DIGITS) -> str:
    """Write the prediction and the target that a cost step compares."""
    L = sup(step.index)
    return (rf"A{L} = {columns(step.inputs['A'], digits)} \qquad "
            rf"Y = {columns(step.inputs['Y'], digits)}")


def example_symbol(step: Step, i: int | str) -> str:
    """Return the symbol of a step's result for example `i`, such as `dW^{[2](3)}`."""
    if step.op == "cost":
        return f"J^{{({i})}}"
    if step.op == "dA_prev":
        return f"dA^{{[{step.index - 1}]({i})}}"
    return f"{step.op}^{{[{step.index}]({i})}}"


def _fraction(m: int) -> str:
    return rf"\frac{{1}}{{{m}}}"


def _bracketed_sum(terms: list[str], per_row: int) -> str:
    """Write `(t1 + t2 + ...)`, starting a new aligned row every `per_row` terms.

    `\\left(` and `\\right)` must close on the row they open, so a sum that
    wraps closes each row with an invisible `\\right.` and opens the next
    with `\\left.`.
    """
    rows = [" + ".join(terms[i : i + per_row]) for i in range(0, len(terms), per_row)]
    if len(rows) == 1:
        return rf"\left({rows[0]}\right)"
    first = rf"\left({rows[0]}\right."
    middle = [rf"\left. + {row}\right." for row in rows[1:-1]]
    last = rf"\left. + {rows[-1]}\right)"
    return r" \\ &\qquad ".join([first, *middle, last])


def batch_cost_equation(step: Step, examples: Sequence[Step],
                        digits: int = DIGITS) -> str:
    """Write the batch cost as the mean of the examples' own costs."""
    m = len(examples)
    costs = [number(example.outputs["J"], digits) for example in examples]
    return aligned(
        r"J = \frac{1}{m} \sum_{i=1}^{m} J^{(i)}",
        rf"{_fraction(m)} {_bracketed_sum(costs, 8)}",
        number(step.outputs["J"], digits),
    )


def _batch_numbers(step: Step, digits: int) -> str | None:
    """Substitute the batch's arrays into a backward step, or None for dA."""
    if step.op == "dZ":
        return (rf"{columns(step.inputs['dA'], digits)} \odot "
                rf"{columns(step.inputs[G_PRIME], digits)}")
    if step.op == "dA_prev":
        W_T = bmatrix(step.inputs["W"].T, digits)
        return f"{W_T} {columns(step.inputs['dZ'], digits)}"
    if step.op == "dW":
        # A_prev is (m, n_in), which is already A^{[l-1]T} with one example a row.
        A_prev_T = bmatrix(step.inputs["A_prev"], digits)
        return f"{columns(step.inputs['dZ'], digits)} {A_prev_T}"
    if step.op == "db":
        # The sum over examples is a sum of the columns of dZ.
        return " + ".join(bmatrix(row, digits) for row in step.inputs["dZ"])
    return None


def batch_step_equation(step: Step, digits: int = DIGITS) -> str:
    """Write a backward step of the batch with its numbers, one example a column."""
    result = step_output(step)
    if step.op in ("dW", "db"):
        written = bmatrix(result, digits)  # the shape of W or b, not a batch
    else:
        written = columns(result, digits)
    numbers = _batch_numbers(step, digits)
    lines = [written] if numbers is None else [numbers, written]
    return aligned(step.formula, *lines)


def examples_equation(step: Step, examples: Sequence[Step], combined: np.ndarray,
                      digits: int = DIGITS) -> str:
    """Write the batch's result of a step from the examples' own results.

    `dW` and `db` are the mean of the examples' gradients, written as a sum
    of small matrices and its value `combined`. The gradients of `A` and
    `Z` are the examples' gradients side by side, times `1/m`.
    """
    m = len(examples)
    if step.op in ("dW", "db"):
        pieces = [bmatrix(step_output(example), digits) for example in examples]
        per_row = 4 if step.op == "dW" else 8
        return aligned(
            rf"{step_symbol(step)} = \frac{{1}}{{m}} \sum_{{i=1}}^{{m}}"
            rf" {example_symbol(step, 'i')}",
            rf"{_fraction(m)} {_bracketed_sum(pieces, per_row)}",
            bmatrix(combined, digits),
        )
    stacked = np.concatenate([step_output(example) for example in examples])
    symbols = rf"{example_symbol(step, 1)} & \cdots & {example_symbol(step, 'm')}"
    return aligned(
        rf"{step_symbol(step)} = \frac{{1}}{{m}}"
        rf" \begin{{bmatrix}}{symbols}\end{{bmatrix}}",
        rf"{_fraction(m)} {columns(stacked, digits)}",
        columns(combined, digits),
    )


# Optimizers: each update written out, with its state.


def _parameter_symbol(step: Step) -> str:
    return f"{_parameter_key(step)}{sup(step.index)}"


def _scaled_state(factor: str, update: ParameterUpdate, name: str,
                  digits: int) -> str:
    """Write `factor` times the state an update started from, 0 at step 1."""
    value = update.state_before.get(name)
    if value is None:
        return rf"{factor} \cdot 0"
    return rf"{factor}\, {bmatrix(value, digits)}"


def sgd_equations(update: ParameterUpdate, digits: int = DIGITS) -> dict[str, str]:
    """Write `W := W - alpha dW` of one SGD step with its numbers.

    Returns `{"parameter": latex}`, the shape every optimizer's equations take.
    """
    return {"parameter": update_equation(update.step, digits)}


def momentum_equations(update: ParameterUpdate, mu: float,
                       digits: int = DIGITS) -> dict[str, str]:
    """Write the velocity `v` and the parameter of one momentum step.

    On the first step the velocity starts at the gradient, as in PyTorch.
    Returns the LaTeX blocks by name: "v" and "parameter".
    """
    step = update.step
    p, key = _parameter_symbol(step), _parameter_key(step)
    v = rf"v_{{d{key}}}"
    grad = bmatrix(step.inputs[f"d{key}"], digits)
    velocity = bmatrix(step.inputs["v"], digits)
    if update.state_before:
        scaled = _scaled_state(number(mu, digits), update, "v", digits)
        equation = aligned(rf"{v} := \mu\, {v} + d{p}", rf"{scaled} + {grad}",
                           velocity)
    else:
        equation = aligned(rf"{v} := d{p}", velocity)
    alpha = _term(step.inputs["alpha"], digits)
    parameter = aligned(
        rf"{p} := {p} - \alpha\, {v}",
        rf"{bmatrix(step.inputs[key], digits)} - {alpha}\, {velocity}",
        bmatrix(step.outputs[key], digits),
    )
    return {"v": equation, "parameter": parameter}


def adam_equations(update: ParameterUpdate, hyperparameters: dict[str, float],
                   digits: int = DIGITS) -> dict[str, str]:
    """Write the moments, their bias correction and the parameter of one Adam step.

    `1 - beta` is written out, not computed, so every number shown is the
    optimizer's own. Returns the LaTeX blocks by name: "m", "v", "m_hat",
    "v_hat" and "parameter".
    """
    step, t = update.step, update.t
    p, key = _parameter_symbol(step), _parameter_key(step)
    b1, b2 = (number(hyperparameters[name], digits) for name in ("beta1", "beta2"))
    eps = number(hyperparameters["eps"], digits)
    grad = bmatrix(step.inputs[f"d{key}"], digits)
    m, v = bmatrix(step.inputs["m"], digits), bmatrix(step.inputs["v"], digits)
    m_hat = bmatrix(update.corrected["m_hat"], digits)
    v_hat = bmatrix(update.corrected["v_hat"], digits)
    alpha = _term(step.inputs["alpha"], digits)
    before = bmatrix(step.inputs[key], digits)
    return {
        "m": aligned(rf"m := \beta_1 m + (1 - \beta_1)\, d{p}",
                     rf"{_scaled_state(b1, update, 'm', digits)} + (1 - {b1})\, {grad}",
                     m),
        "v": aligned(rf"v := \beta_2 v + (1 - \beta_2)\, (d{p})^2",
                     rf"{_scaled_state(b2, update, 'v', digits)} + (1 - {b2})\, "
                     rf"{grad}^{{2}}", v),
        "m_hat": aligned(r"\hat m = \frac{m}{1 - \beta_1^{t}}",
                         rf"\frac{{1}}{{1 - {b1}^{{{t}}}}}\, {m}", m_hat),
        "v_hat": aligned(r"\hat v = \frac{v}{1 - \beta_2^{t}}",
                         rf"\frac{{1}}{{1 - {b2}^{{{t}}}}}\, {v}", v_hat),
        "parameter": aligned(
            rf"{p} := {p} - \alpha \frac{{\hat m}}{{\sqrt{{\hat v}} + \epsilon}}",
            rf"{before} - {alpha} \frac{{{m_hat}}}{{\sqrt{{{v_hat}}} + {eps}}}",
            rf"{before} - {bmatrix(step.outputs['update'], digits)}",
            bmatrix(step.outputs[key], digits),
        ),
    }
