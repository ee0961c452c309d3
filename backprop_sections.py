"""Sections of the backpropagation page: the network diagram of a step, the
computational graph, the batch of examples and the optimizers.

Each `show_*` function draws one section from results the engine computed;
none of them does arithmetic of its own.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd
import streamlit as st

from engine.backprop import Walkthrough
from engine.explain import BATCH_EXPLANATIONS, EXPLANATIONS
from engine.gradcheck import EPSILON, relative_error
from engine.graph import (
    BatchWalkthrough,
    Graph,
    OptimizerRun,
    examples_from_table,
    random_examples,
    step_output,
)
from engine.losses import BinaryCrossEntropy, Loss
from engine.network import Sequential
from engine.steps import Step
from figures.activation import activation_figure
from figures.graph import graph_figure, has_labels
from figures.latex import (
    activation_equation,
    adam_equations,
    batch_cost_equation,
    batch_step_equation,
    chain_rule_equations,
    examples_equation,
    gradient_check_equation,
    linear_equation,
    momentum_equations,
    number,
    prediction_equation,
    sgd_equations,
    step_equation,
    update_equation,
)
from figures.network import backward_focus, layer_titles, network_figure

# Relative error below which a gradient check passes. The checks of this page
# come out near 1e-10 in float64, so anything above 1e-7 is worth a look.
GOOD_CHECK = 1e-7
# Relative difference below which a batch gradient and the mean of the
# examples' gradients count as equal: they differ only by rounding.
SAME_IN_FLOAT64 = 1e-12
MAX_CHAIN_ROWS = 8  # chain-rule rows written under the graph for one step
CHART_CONFIG = {"displayModeBar": False}


def show_check(step: Step, walk: Walkthrough, digits: int) -> None:
    """Show the central-difference estimate beside an analytic dW or db."""
    key = step.op[1:]
    check = walk.checks[(step.layer, key)]
    st.markdown("**Check by central differences** (float64, one element at a time):")
    st.latex(gradient_check_equation(check, key, step.index, digits))
    if check.relative_error < GOOD_CHECK:
        st.success(f"The two agree: relative error {check.relative_error:.1e}.")
    else:
        st.warning(
            f"Relative error {check.relative_error:.1e}, above {GOOD_CHECK:g}. This "
            f"happens when a ReLU input z lies within h = {EPSILON:g} of 0: the "
            "central difference then straddles the kink, so the estimate, not the "
            "backward pass, is off. Otherwise it points at a wrong gradient."
        )


def show_step(
    step: Step, walk: Walkthrough, network: Sequential, loss: type[Loss], digits: int
) -> None:
    """Draw the diagram and the numbers of one backward step."""
    left, right = st.columns([1, 1])
    left.plotly_chart(
        network_figure(walk.forward, layer_titles(network), backward_focus(step),
                       digits),
        key="bp_network", config=CHART_CONFIG,
    )
    if step.op == "dZ":
        act = next(s for s in walk.forward
                   if s.op == "activation" and s.index == step.index)
        left.plotly_chart(
            activation_figure(type(network[step.layer]), act.inputs["Z"][0],
                              act.outputs["A"][0], step.index,
                              g_prime=step.inputs["g'(Z)"][0]),
            key="bp_activation", config=CHART_CONFIG,
        )
    with right:
        st.markdown(EXPLANATIONS[step.op])
        st.latex(step_equation(step, loss, digits))
        if step.chain:
            st.markdown("It comes from the chain rule:")
            st.latex(step.chain)
        if step.op in ("dW", "db"):
            show_check(step, walk, digits)
        cost = walk.backward[0]
        if step.op == "dZ" and step.index == cost.index and loss is BinaryCrossEntropy:
            a, y, dZ = (number(array.item(), digits) for array in
                        (cost.inputs["A"], cost.inputs["Y"], step.outputs["dZ"]))
            st.info(
                "With a sigmoid output and cross-entropy, $g'$ cancels the "
                "denominator of $dA$, leaving $dZ^{[L]} = A^{[L]} - Y = "
                f"{a} - {y} = {dZ}$. That is why the two are paired."
            )


def _cost_message(walk: Walkthrough, after: list[Step], digits: int) -> None:
    """Say whether the update lowered the cost, and what to try if not."""
    a_before = walk.forward[-1].outputs["A"].item()
    a_after = after[-1].outputs["A"].item()
    target = walk.backward[0].inputs["Y"].item()  # the cost step's Y
    moved = (f"The prediction moved from {a_before:.{digits}g} to "
             f"{a_after:.{digits}g}; the target is {target:g}.")
    if walk.cost_after < walk.cost_before:
        st.success(f"The cost went down. {moved}")
    elif walk.cost_after == walk.cost_before:
        st.info(
            "The cost did not change: every gradient is 0, for example "
            "because no ReLU is active, so the update moved nothing."
        )
    else:
        st.warning(
            f"The cost did not go down: the step overshot. {moved} Try a "
            "smaller learning rate, for example a tenth of this one."
        )


def show_update(
    updates: list[Step], walk: Walkthrough, network: Sequential, X: np.ndarray,
    digits: int,
) -> None:
    """Draw the network after the update and compare the costs."""
    after: list[Step] = []
    walk.network_after.forward(X, after)
    left, right = st.columns([1, 1])
    left.plotly_chart(network_figure(after, layer_titles(network), digits=digits),
                      key="bp_network_after", config=CHART_CONFIG)
    with right:
        st.markdown(
            "Gradient descent moves every parameter a small step against its "
            "gradient, $W := W - \\alpha\\, dW$, and a new forward pass gives the "
            "new cost. The diagram shows the network after the update."
        )
        before, now = st.columns(2)
        before.metric("Cost before the update", f"{walk.cost_before:.{digits}g}")
        now.metric("Cost after the update", f"{walk.cost_after:.{digits}g}",
                   delta=f"{walk.cost_after - walk.cost_before:.{digits}g}",
                   delta_color="inverse")
        _cost_message(walk, after, digits)
    # One row per layer: the wide W update, then the narrow b update.
    layers: dict[str, list[Step]] = {}
    for step in updates:
        layers.setdefault(step.layer, []).append(step)
    for steps in layers.values():
        for column, step in zip(st.columns([5, 2]), steps):
            column.latex(update_equation(step, digits))


def show_forward(walk: Walkthrough, network: Sequential, digits: int) -> None:
    """Write `Z = W A + b` and `A = g(Z)` of every layer with their numbers."""
    for step in walk.forward:
        if step.op == "linear":
            st.latex(linear_equation(step, digits))
        else:
            st.latex(activation_equation(step, type(network[step.layer]), digits))


# The computational graph.


def clicked_node(event: Mapping | None, graph: Graph) -> str | None:
    """Return the id of the node the user clicked in the graph, if any.

    `event` is the selection state of `st.plotly_chart`, None before any
    click. A click on an edge or on empty space selects no node.
    """
    if event is None or not event["selection"]["points"]:
        return None
    for point in event["selection"]["points"]:
        node_id = point.get("customdata")
        if node_id in graph.nodes:
            return node_id
    return None


def show_graph(graph: Graph, position: int, digits: int) -> None:
    """Draw the computational graph after a step, and its chain-rule products."""
    st.markdown(
        "Every number of the network on this example is a node: inputs $x$, "
        "weights $w$ (squares), biases $b$ (diamonds), pre-activations $z$, "
        "activations $a$ and the cost $J$. An arrow runs from each quantity to "
        "the ones computed from it. The backward pass fills in each node's "
        "gradient $\\partial J / \\partial \\text{node}$ from the right. Grey "
        "nodes are not reached yet, nodes outlined in orange are computed at "
        "this step, and the orange numbers on the arrows are the local "
        "derivatives their gradients came through. "
        "Hover over a node or an arrow for its numbers, and click a node to "
        "write out its gradient below."
    )
    # The selection of the last click is in session state before the chart
    # is drawn, so the figure can outline the clicked node.
    clicked = clicked_node(st.session_state.get("bp_graph"), graph)
    st.plotly_chart(
        graph_figure(graph, position, digits, selected=clicked),
        key="bp_graph", config=CHART_CONFIG, on_select="rerun",
        selection_mode="points",
    )
    if not has_labels(graph):
        st.caption("This network has too many nodes to write their numbers on the "
                   "graph. Hover over a node to read them, or choose fewer neurons.")
    _show_chain_rule(graph, position, digits, clicked)


def _show_chain_rule(graph: Graph, position: int, digits: int,
                     clicked: str | None) -> None:
    """Write the gradients this step computes, then that of the clicked node."""
    st.markdown(
        "Each gradient is the sum, over the arrows leaving the node, of the "
        "upstream gradient (at the arrow's end) times the local derivative "
        r"(of the arrow). Here $dz$ is short for $\partial J / \partial z$."
    )
    new = graph.computed_at(position)
    if new:
        first_ids = [node.id for node in new[:MAX_CHAIN_ROWS]]
        st.latex(chain_rule_equations(graph, first_ids, digits))
    else:
        st.markdown("Every gradient is known. The update uses those of $w$ and $b$.")
    if len(new) > MAX_CHAIN_ROWS:
        st.caption(f"{len(new) - MAX_CHAIN_ROWS} more at this step: hover over "
                   "or click their nodes.")
    if clicked is None or clicked in {node.id for node in new}:
        return
    node = graph.nodes[clicked]
    st.markdown(f"The node you clicked, ${node.label}$:")
    if node.step > position:
        st.markdown("the backward pass has not reached it yet.")
    else:
        st.latex(chain_rule_equations(graph, [clicked], digits))


# A batch of examples.


def batch_controls(
    loss_key: str, output: str, lr: float, input_range: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the batch size, seed and example editor; return X `(m, 2)`, Y `(m, 1)`.

    The seed draws inputs in `input_range`. Returns empty arrays, after an
    error message, when an edited value is missing or not allowed.
    """
    size_column, seed_column, _ = st.columns([2, 1, 2])
    m = size_column.slider("Examples in the batch, m", 2, 8, 4, key="bp_batch_m")
    low, high = input_range
    seed = seed_column.number_input(
        "Example seed", 0, 10_000, 0, key="bp_batch_seed",
        help=f"Seed of the random generator that draws the examples: inputs in "
        f"[{low:g}, {high:g}], half the labels 1 and half 0.",
    )
    X, Y = random_examples(m, int(seed), low, high)
    with st.expander("The examples, one row each (click a cell to edit it)"):
        frame = st.data_editor(
            pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "y": Y[:, 0]}),
            key=f"bp_batch_examples_{m}_{int(seed)}", hide_index=True,
            column_config={name: st.column_config.NumberColumn(name, format="%g")
                           for name in ("x1", "x2", "y")},
        )
    try:
        return examples_from_table(frame.to_numpy(dtype=float), loss_key, output, lr)
    except ValueError as error:
        st.error(str(error))
        return np.empty((0, 2)), np.empty((0, 1))


def show_batch(batch: BatchWalkthrough, network: Sequential, position: int,
               digits: int) -> None:
    """Write step `position` of the batch and how the examples make it up."""
    walk = batch.walk
    m = len(batch.examples)
    with st.expander("The forward pass of the batch"):
        show_forward(walk, network, digits)
    step = walk.backward[position]
    if step.op == "update":
        _show_batch_update(walk, digits)
        return
    st.markdown(BATCH_EXPLANATIONS[step.op])
    examples = batch.examples_at(position)
    if step.op == "cost":
        st.latex(prediction_equation(step, digits))
        st.latex(batch_cost_equation(step, examples, digits))
        return
    st.latex(batch_step_equation(step, digits))
    combined = batch.combined_at(position)
    st.latex(examples_equation(step, examples, combined, digits))
    if step.op in ("dW", "db"):
        error = relative_error(step_output(step), combined)
        if error < SAME_IN_FLOAT64:
            st.success(
                f"The mean of the {m} examples' ${step.op}$ equals the batch's "
                f"${step.op}$: they differ by {error:.1e}, float64 rounding."
            )
        else:
            st.error(
                f"The mean of the {m} examples' ${step.op}$ differs from the "
                f"batch's by {error:.1e}, more than rounding: a bug in the engine."
            )


def _show_batch_update(walk: Walkthrough, digits: int) -> None:
    st.markdown(
        "The update uses the batch's gradients, the means over the examples, so "
        "one step moves the parameters for all of them at once. The batch cost "
        f"goes from {walk.cost_before:.{digits}g} to {walk.cost_after:.{digits}g}."
    )
    for step in walk.backward:
        if step.op == "update":
            st.latex(update_equation(step, digits))


# Optimizers.


def _parameter_label(key: tuple[str, str], network: Sequential) -> str:
    layer, name = key
    return f"${name}^{{[{network[layer].index}]}}$"


def _cost_table(runs: list[OptimizerRun], digits: int) -> pd.DataFrame:
    """Tabulate each optimizer's cost before and after each step."""
    steps = len(runs[0].costs) - 1
    headers = ["before"] + [f"after step {t}" for t in range(1, steps + 1)]
    return pd.DataFrame(
        [[f"{cost:.{digits}g}" for cost in run.costs] for run in runs],
        index=[run.name for run in runs], columns=headers,
    )


def show_optimizers(runs: list[OptimizerRun], network: Sequential,
                    digits: int) -> None:
    """Let the user pick an optimizer and a parameter; write out its steps."""
    st.header("The update rule: SGD, momentum or Adam")
    st.markdown(
        f"Gradient descent is one way to use the gradients. Each optimizer below "
        f"takes {len(runs[0].updates)} steps on this example, running the forward "
        "and backward pass again before each. Momentum keeps a velocity $v$, a "
        "running sum of past gradients, so that steps in a steady direction grow. "
        "Adam keeps running means of the gradient ($m$) and of its square ($v$), "
        "corrects their start at zero ($\\hat m$, $\\hat v$), and divides one by "
        "the square root of the other, so every parameter moves by about "
        "$\\alpha$ at first, whatever the size of its gradient."
    )
    st.table(_cost_table(runs, digits))
    keys = [run.key for run in runs]
    names = {run.key: run.name for run in runs}
    choice, parameter = st.columns([1, 2])
    key = choice.selectbox("Optimizer", keys, format_func=names.get,
                           key="bp_optimizer")
    run = runs[keys.index(key)]
    parameters = list(run.updates[0])
    chosen = parameter.radio(
        "Parameter", parameters, horizontal=True, key="bp_optimizer_parameter",
        format_func=lambda p: _parameter_label(p, network),
    )
    if key == "sgd":
        st.markdown("Step 1 is the update of the step-through above.")
    else:
        st.markdown(_optimizer_note(run))
    # One tab per step keeps the tall equations of Adam to one screen.
    tabs = st.tabs([f"Step {t}" for t in range(1, len(run.updates) + 1)],
                   key="bp_optimizer_step")
    for t, (tab, updates) in enumerate(zip(tabs, run.updates), start=1):
        tab.markdown(f"Cost before step {t}: {run.costs[t - 1]:.{digits}g}; after "
                     f"it: {run.costs[t]:.{digits}g}.")
        for latex in _optimizer_equations(run, updates[chosen], digits).values():
            tab.latex(latex)


def _optimizer_equations(run: OptimizerRun, update, digits: int) -> dict[str, str]:
    if run.key == "momentum":
        return momentum_equations(update, run.hyperparameters["mu"], digits)
    if run.key == "adam":
        return adam_equations(update, run.hyperparameters, digits)
    return sgd_equations(update, digits)


def _optimizer_note(run: OptimizerRun) -> str:
    """Say what is special about the first steps of momentum or Adam."""
    h = run.hyperparameters
    if run.key == "momentum":
        return (
            rf"Here $\mu = {number(h['mu'])}$. On step 1 the velocity is the "
            "gradient itself, as in PyTorch, so the first step equals SGD's; "
            r"later steps add $\mu$ times the previous velocity."
        )
    return (
        rf"Here $\beta_1 = {number(h['beta1'])}$, $\beta_2 = {number(h['beta2'])}$ "
        rf"and $\epsilon = {number(h['eps'])}$. On step 1, $\hat m = dW$ and "
        r"$\hat v = dW^2$, so every weight with a gradient moves by almost "
        r"exactly $\alpha$, against the sign of its gradient. ($m$ and $v$ "
        "here are Adam's running means, not the batch size or a velocity.)"
    )
