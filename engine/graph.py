"""The computational graph of one training example, and the batch and optimizer views.

`build_graph` turns a recorded training step on one example into a graph of
scalars: every input `x_k`, weight `w_jk`, bias `b_j`, pre-activation `z_j`,
activation `a_j` and the cost `J` is a node, and an edge runs from each
quantity to every quantity computed from it, carrying the local derivative
`d target / d source`. Gradients are read from the walkthrough's arrays, never
recomputed, so the graph and the backward pass show the same numbers.

The other functions serve the batch and optimizer views of the
backpropagation page: the backward pass of each example on its own, how
those passes combine into the batch's gradients, and a few optimizer steps
with their state written out.
"""

import copy
from dataclasses import dataclass

import numpy as np

from engine.backprop import Walkthrough, walk_training_step
from engine.explain import check_training_settings
from engine.losses import Loss
from engine.network import Sequential
from engine.optim import make_optimizer
from engine.steps import Step, sup

# The output array of each backward op, by the op's name.
OUTPUT_KEYS = {
    "cost": "J", "dA": "dA", "dZ": "dZ", "dW": "dW", "db": "db",
    "dA_prev": "dA_prev",
}


@dataclass(frozen=True)
class Node:
    """One scalar of the graph with its value and its gradient `dJ/dnode`.

    `kind` is "x", "w", "b", "z", "a" or "J". `layer` is `l`, which is 0 for
    the inputs and `L` for the cost. `j` is the neuron (the row of `W`) and
    `k` the input (the column of `W`), both from 0. `label` and
    `gradient_label` are LaTeX, such as `w^{[2]}_{13}` and `dw^{[2]}_{13}`.
    `step` is the index in `Walkthrough.backward` of the step that computes
    the gradient.
    """

    id: str
    kind: str
    layer: int
    j: int
    k: int | None
    label: str
    gradient_label: str
    value: float
    gradient: float
    step: int


@dataclass(frozen=True)
class Edge:
    """An edge from a quantity to one computed from it.

    `local` is `d target / d source` at this example, and `local_label` is
    LaTeX for what it equals, such as `a^{[1]}_{2}` for `dz / dw`.
    """

    source: str
    target: str
    local: float
    local_label: str


@dataclass(frozen=True)
class ChainTerm:
    """One path of the chain rule: the target's gradient times the local one."""

    edge: Edge
    upstream: float
    product: float


@dataclass(frozen=True)
class Graph:
    """The nodes by id, in drawing order, and the edges of one example.

    `sizes` are the layer sizes, input first, so `L = len(sizes) - 1`.
    """

    nodes: dict[str, Node]
    edges: list[Edge]
    sizes: tuple[int, ...]

    def outgoing(self, node_id: str) -> list[Edge]:
        """Return the edges from `node_id` to the quantities computed from it."""
        return [edge for edge in self.edges if edge.source == node_id]

    def known(self, position: int) -> list[Node]:
        """Return the nodes whose gradient is known after backward step `position`."""
        return [node for node in self.nodes.values() if node.step <= position]

    def computed_at(self, position: int) -> list[Node]:
        """Return the nodes whose gradient backward step `position` computes."""
        return [node for node in self.nodes.values() if node.step == position]


def node_id(kind: str, layer: int, j: int = 0, k: int | None = None) -> str:
    """Return the id of a node, written like the NumPy element it reads.

    For example `W2[0,2]` is `W^{[2]}[0, 2]`, `A1[1]` is `A^{[1]}[0, 1]` of
    the single example, `x[0]` is the first input and `J` is the cost.
    """
    if kind == "J":
        return "J"
    if kind == "x":
        return f"x[{j}]"
    if kind == "w":
        return f"W{layer}[{j},{k}]"
    array = {"b": "b", "z": "Z", "a": "A"}[kind]
    return f"{array}{layer}[{j}]"


def _label(kind: str, layer: int, j: int = 0, k: int | None = None) -> str:
    """Return the LaTeX name of a scalar, such as `w^{[2]}_{13}`."""
    if kind == "J":
        return "J"
    if kind == "x":
        return f"x_{{{j + 1}}}"
    index = f"{j + 1}{k + 1}" if kind == "w" else f"{j + 1}"
    return f"{kind}{sup(layer)}_{{{index}}}"


def _gradient_label(kind: str, layer: int, j: int = 0, k: int | None = None) -> str:
    if kind == "J":
        return r"\frac{\partial J}{\partial J}"
    return f"d{_label(kind, layer, j, k)}"


def _node(kind: str, layer: int, j: int, k: int | None, value: float,
          gradient: float, step: int) -> Node:
    return Node(node_id(kind, layer, j, k), kind, layer, j, k,
                _label(kind, layer, j, k), _gradient_label(kind, layer, j, k),
                float(value), float(gradient), step)


def _step_positions(walk: Walkthrough) -> dict[tuple[str, int | None], int]:
    """Map `(op, layer index)` of each backward step to its index."""
    return {(step.op, step.index): i for i, step in enumerate(walk.backward)
            if step.op != "update"}


def _single_example(walk: Walkthrough) -> tuple[list[Step], list[Step]]:
    """Return the linear and activation steps of a one-example walkthrough."""
    linear = [step for step in walk.forward if step.op == "linear"]
    activation = [step for step in walk.forward if step.op == "activation"]
    n_examples = linear[0].inputs["A_prev"].shape[0]
    if n_examples != 1:
        raise ValueError(
            f"the graph shows one example, got a batch of {n_examples}; "
            "use walk_training_step with X of shape (1, n)")
    return linear, activation


@dataclass(frozen=True)
class _LayerArrays:
    """The values and gradients of one layer on the single example.

    Vectors are `(n,)`, `W` and `dW` are `(n_out, n_in)`. `steps` maps
    "dZ", "dW", "db" and "dA" to the index of the backward step that
    computes that gradient.
    """

    W: np.ndarray
    b: np.ndarray
    A_prev: np.ndarray
    Z: np.ndarray
    A: np.ndarray
    dW: np.ndarray
    db: np.ndarray
    dZ: np.ndarray
    g_prime: np.ndarray
    dA: np.ndarray
    steps: dict[str, int]


def _activation_gradient(walk: Walkthrough, l: int, L: int) -> tuple[np.ndarray, int]:
    """Return `dA^{[l]}` of the example and the index of the step computing it.

    It comes from the dA_prev step of layer `l + 1`, except for the output
    layer, whose gradient is the loss's dA.
    """
    for i, step in enumerate(walk.backward):
        if l == L and step.op == "dA":
            return step.outputs["dA"][0], i
        if l < L and step.op == "dA_prev" and step.index == l + 1:
            return step.outputs["dA_prev"][0], i
    raise ValueError(
        f"the walkthrough is missing the step that computes dA^[{l}]; for "
        "the inputs, keep Dense.input_grad on for layer 1")


def _layer_arrays(walk: Walkthrough, forward: Step, act: Step,
                  L: int) -> _LayerArrays:
    l = forward.index
    at = _step_positions(walk)
    dZ_step, dW_step, db_step = (walk.backward[at[(op, l)]]
                                 for op in ("dZ", "dW", "db"))
    dA, dA_step = _activation_gradient(walk, l, L)
    return _LayerArrays(
        W=forward.inputs["W"], b=forward.inputs["b"],
        A_prev=forward.inputs["A_prev"][0], Z=forward.outputs["Z"][0],
        A=act.outputs["A"][0], dW=dW_step.outputs["dW"], db=db_step.outputs["db"],
        dZ=dZ_step.outputs["dZ"][0], g_prime=dZ_step.inputs["g'(Z)"][0], dA=dA,
        steps={"dZ": at[("dZ", l)], "dW": at[("dW", l)], "db": at[("db", l)],
               "dA": dA_step},
    )


def build_graph(walk: Walkthrough) -> Graph:
    """Build the scalar graph of a one-example walkthrough.

    Values come from the forward steps and gradients from the backward
    steps. The network's weights are the ones before the update. The
    walkthrough must contain the dA_prev step of layer 1, as it does for
    networks built by `build_mlp`, because that step gives the inputs'
    gradients.
    """
    linear, activation = _single_example(walk)
    L = len(linear)
    nodes: list[Node] = []
    edges: list[Edge] = []

    x = linear[0].inputs["A_prev"][0]
    dx, x_step = _activation_gradient(walk, 0, L)
    nodes += [_node("x", 0, k, None, x[k], dx[k], x_step) for k in range(len(x))]
    previous = [node.id for node in nodes]  # the ids of A^{[l-1]}
    for forward, act in zip(linear, activation):
        layer = _layer_arrays(walk, forward, act, L)
        previous = _add_layer(nodes, edges, forward.index, layer, previous)

    J = _node("J", L, 0, None, walk.backward[0].outputs["J"], 1.0, 0)
    nodes.append(J)
    dA, _ = _activation_gradient(walk, L, L)
    for j, a in enumerate(previous):
        label = rf"\frac{{\partial J}}{{\partial {_label('a', L, j)}}}"
        edges.append(Edge(a, J.id, float(dA[j]), label))
    sizes = (len(x), *(len(step.outputs["Z"][0]) for step in linear))
    return Graph({node.id: node for node in nodes}, edges, sizes)


def _add_layer(nodes: list[Node], edges: list[Edge], l: int, layer: _LayerArrays,
               previous: list[str]) -> list[str]:
    """Add the w, b, z and a nodes of layer `l` and their edges.

    `previous` are the ids of the layer's inputs `a^{[l-1]}`. Returns the
    ids of its activations `a^{[l]}`.
    """
    steps = layer.steps
    kind = "x" if l == 1 else "a"
    inputs = [_label(kind, l - 1, k) for k in range(len(layer.A_prev))]
    activations = []
    for j in range(len(layer.Z)):
        z = _node("z", l, j, None, layer.Z[j], layer.dZ[j], steps["dZ"])
        for k in range(len(layer.A_prev)):
            w = _node("w", l, j, k, layer.W[j, k], layer.dW[j, k], steps["dW"])
            nodes.append(w)
            edges.append(Edge(w.id, z.id, float(layer.A_prev[k]), inputs[k]))
            edges.append(Edge(previous[k], z.id, float(layer.W[j, k]), w.label))
        bias = _node("b", l, j, None, layer.b[j], layer.db[j], steps["db"])
        a = _node("a", l, j, None, layer.A[j], layer.dA[j], steps["dA"])
        nodes += [bias, z, a]
        edges.append(Edge(bias.id, z.id, 1.0, "1"))
        edges.append(Edge(z.id, a.id, float(layer.g_prime[j]),
                          rf"g^{{[{l}]\prime}}({z.label})"))
        activations.append(a.id)
    return activations


def chain_terms(graph: Graph, node_id: str) -> list[ChainTerm]:
    """Return the chain-rule terms whose sum is the gradient of a node.

    Each term is the gradient of a quantity computed from the node times
    the local derivative along the edge. The cost `J` has no terms, because
    its gradient is 1 by definition.
    """
    terms = []
    for edge in graph.outgoing(node_id):
        upstream = graph.nodes[edge.target].gradient
        terms.append(ChainTerm(edge, upstream, upstream * edge.local))
    return terms


# The batch view: each example on its own, and how they make the batch.


def step_output(step: Step) -> np.ndarray:
    """Return the array a backward step computes, such as `dW` for op "dW"."""
    return step.outputs[OUTPUT_KEYS[step.op]]


def example_backward_steps(network: Sequential, loss: Loss, X: np.ndarray,
                           Y: np.ndarray) -> list[list[Step]]:
    """Record the cost and backward pass of each example on its own.

    Item `i` lists the steps of example `i` as a batch of one (`m = 1`), in
    the order of `Walkthrough.backward` without the updates. The network
    and the loss passed in are left unchanged.
    """
    network, loss = copy.deepcopy(network), copy.deepcopy(loss)
    examples = []
    for i in range(len(X)):
        steps: list[Step] = []
        A = network.forward(X[i : i + 1])
        loss.forward(A, Y[i : i + 1], steps)
        network.backward(loss.backward(steps), steps)
        examples.append(steps)
    return examples


def parameter_gradients(steps: list[Step]) -> dict[str, dict[str, np.ndarray]]:
    """Collect `{layer name: {"W": dW, "b": db}}` from recorded backward steps."""
    gradients: dict[str, dict[str, np.ndarray]] = {}
    for step in steps:
        if step.op in ("dW", "db"):
            gradients.setdefault(step.layer, {})[step.op[1:]] = step_output(step)
    return gradients


def per_example_gradients(network: Sequential, loss: Loss, X: np.ndarray,
                          Y: np.ndarray) -> list[dict[str, dict[str, np.ndarray]]]:
    """Return each example's own `{layer name: {"W": dW_i, "b": db_i}}`.

    Example `i`'s gradients are those of its cost alone, `J_i`; their mean
    over the examples is the gradient of the batch cost `J = (1/m) sum J_i`.
    """
    return [parameter_gradients(steps)
            for steps in example_backward_steps(network, loss, X, Y)]


def mean_gradients(
    gradients: list[dict[str, dict[str, np.ndarray]]],
) -> dict[str, dict[str, np.ndarray]]:
    """Return the element-wise mean of per-example gradients, layer by layer."""
    return {
        layer: {key: np.mean([example[layer][key] for example in gradients], axis=0)
                for key in keys}
        for layer, keys in gradients[0].items()
    }


def combine_examples(steps: list[Step]) -> np.ndarray:
    """Return the batch's value of one backward step from each example's own.

    `steps` contains the same step (op and layer) of every example. The costs
    and the parameter gradients `dW`, `db` are averaged. The gradients of
    `A` and `Z` are stacked, one row per example, and divided by `m`,
    because the loss's `dA` carries the `1/m` of the mean into every
    gradient below it.
    """
    ops = {step.op for step in steps}
    if len(ops) != 1:
        raise ValueError(f"expected the same op for every example, got {sorted(ops)}")
    op = ops.pop()
    values = [step_output(step) for step in steps]
    if op in ("cost", "dW", "db"):
        return np.mean(values, axis=0)
    if op in ("dA", "dZ", "dA_prev"):
        return np.concatenate(values) / len(values)
    raise ValueError(f"combine_examples takes backward ops, got {op!r}")


@dataclass(frozen=True)
class BatchWalkthrough:
    """One training step on a batch, beside each example's own backward pass.

    `walk` is the step on all `m` examples at once. `examples[i]` lists the
    backward steps of example `i` alone, in the order of `walk.backward` up
    to the updates.
    """

    walk: Walkthrough
    examples: list[list[Step]]

    def examples_at(self, position: int) -> list[Step]:
        """Return backward step `position` of every example."""
        return [steps[position] for steps in self.examples]

    def combined_at(self, position: int) -> np.ndarray:
        """Return step `position` of the batch, built from the examples' steps."""
        return combine_examples(self.examples_at(position))


def walk_batch(network: Sequential, loss: Loss, X: np.ndarray, Y: np.ndarray,
               lr: float) -> BatchWalkthrough:
    """Record one training step on the batch `X`, `Y` and each example alone."""
    walk = walk_training_step(network, loss, X, Y, lr)
    return BatchWalkthrough(walk, example_backward_steps(network, loss, X, Y))


def random_examples(m: int, seed: int, low: float,
                    high: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw `m` examples of two inputs in `[low, high]` and a label 0 or 1.

    Inputs are rounded to one decimal so that they are easy to read and to
    edit. Half the labels are 1, in random order (one fewer when `m` is
    odd), so that a batch always contains both classes when `m >= 2`.
    Returns `X` `(m, 2)` and `Y` `(m, 1)`.
    """
    if m < 1:
        raise ValueError(f"the number of examples m must be at least 1, got {m}")
    rng = np.random.default_rng(seed)
    X = np.round(rng.uniform(low, high, (m, 2)), 1)
    Y = rng.permutation(np.arange(m) % 2).astype(float)[:, None]  # (m, 1)
    return X, Y


def examples_from_table(values: np.ndarray, loss: str, output: str,
                        lr: float) -> tuple[np.ndarray, np.ndarray]:
    """Split an edited table of rows `(x1, x2, y)` into `X` `(m, 2)` and `Y` `(m, 1)`.

    Raises `ValueError`, with a message for the user, when a cell is empty
    or not a finite number, or when a target does not suit the loss (see
    `check_training_settings`).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != 3 or len(values) == 0:
        raise ValueError(
            f"The examples need one row each with x1, x2 and y, got a table of "
            f"shape {values.shape}.")
    missing = np.argwhere(~np.isfinite(values))
    if len(missing):
        row, column = missing[0]
        raise ValueError(
            f"Row {row + 1} has no number in column {('x1', 'x2', 'y')[column]}; "
            "type one in, for example 0.")
    for y in values[:, 2]:
        check_training_settings(loss, output, float(y), lr)
    return values[:, :2], values[:, 2:]


# The optimizer view: a few steps of SGD, momentum or Adam on one batch.


@dataclass(frozen=True)
class ParameterUpdate:
    """One parameter's update at step `t`, with the optimizer state around it.

    `step` is the "update" step the optimizer recorded. Its inputs are the
    parameter before, its gradient, `alpha` and the state after this update:
    `v` for momentum, `m` and `v` for Adam. Its outputs are the parameter
    after and the amount subtracted, "update". `state_before` is the state
    the update started from, empty at `t = 1`. `corrected` contains Adam's
    bias-corrected `m_hat` and `v_hat`, and is empty for the others.
    """

    t: int
    step: Step
    state_before: dict[str, np.ndarray]
    corrected: dict[str, np.ndarray]


@dataclass(frozen=True)
class OptimizerRun:
    """A few steps of one optimizer on the same examples.

    `hyperparameters` maps the optimizer's attribute names (`lr`, `mu`,
    `beta1`, `beta2`, `eps`) to their values. `costs[0]` is the cost before
    the first step and `costs[t]` the cost after step `t`. `updates[t - 1]`
    maps `(layer name, "W" or "b")` to that parameter's update at step `t`.
    """

    key: str
    name: str
    hyperparameters: dict[str, float]
    costs: list[float]
    updates: list[dict[tuple[str, str], ParameterUpdate]]


HYPERPARAMETERS = ("lr", "mu", "beta1", "beta2", "eps")


def run_optimizer(network: Sequential, loss: Loss, X: np.ndarray, Y: np.ndarray,
                  key: str, lr: float, n_steps: int) -> OptimizerRun:
    """Take `n_steps` steps of the optimizer `key` on a copy of the network.

    Each step runs the forward and backward pass on `X`, `Y` again and then
    lets `engine.optim` update every parameter, recording what it did.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    optimizer = make_optimizer(key, lr)
    network = copy.deepcopy(network)
    costs: list[float] = []
    updates = []
    for _ in range(n_steps):
        costs.append(loss.forward(network.forward(X), Y))
        network.backward(loss.backward())
        before = {name: {k: v.copy() for k, v in state.items()}
                  for name, state in optimizer.state.items()}
        steps: list[Step] = []
        optimizer.step(network, steps)
        updates.append({
            (layer.name, param): ParameterUpdate(
                optimizer.t, step, before.get((layer.name, param), {}),
                _bias_corrected(optimizer, step))
            for (layer, param), step in zip(network.parameters(), steps)
        })
    costs.append(loss.forward(network.forward(X), Y))
    hyperparameters = {name: float(getattr(optimizer, name))
                       for name in HYPERPARAMETERS if hasattr(optimizer, name)}
    return OptimizerRun(key, optimizer.name, hyperparameters, costs, updates)


def _bias_corrected(optimizer, step: Step) -> dict[str, np.ndarray]:
    """Return Adam's `m_hat` and `v_hat` after `step`, or {} for the others.

    The expressions repeat `engine.optim.Adam._update` term by term, so that
    the values match the update it applied to the last bit.
    """
    if "m" not in step.inputs:
        return {}
    t = optimizer.t
    return {"m_hat": step.inputs["m"] / (1 - optimizer.beta1**t),
            "v_hat": step.inputs["v"] / (1 - optimizer.beta2**t)}
