"""Backpropagation: one training step on one example, one operation at a time."""

import numpy as np
import streamlit as st

from engine.backprop import Walkthrough, walk_training_step
from engine.explain import (
    EXPLANATIONS,
    OUTPUT_RANGES,
    check_training_settings,
)
from engine.gradcheck import EPSILON
from engine.layers import ACTIVATIONS
from engine.losses import LOSSES, BinaryCrossEntropy, Loss
from engine.network import Sequential, build_mlp
from engine.steps import Step
from figures.activation import activation_figure
from figures.latex import (
    activation_equation,
    gradient_check_equation,
    linear_equation,
    number,
    step_equation,
    step_symbol,
    update_equation,
)
from figures.network import backward_focus, layer_titles, network_figure

N_INPUTS = 2
INPUT_RANGE = (-3.0, 3.0)
DEFAULT_INPUTS = (0.5, -1.0)
DEFAULT_HIDDEN = (3, 2, 2)  # neurons of hidden layers 1, 2 and 3
MAX_NEURONS = 6
LOSS_KEYS = ("mse", "bce")
# Relative error below which a gradient check passes. The checks of this page
# come out near 1e-10 in float64, so anything above 1e-7 is worth a look.
GOOD_CHECK = 1e-7
POSITION = "bp_position"  # index of the walkthrough step on show
FINGERPRINT = "bp_fingerprint"  # the settings that position belongs to

def activation_title(key: str) -> str:
    return ACTIVATIONS[key].title


def network_controls(prefix: str) -> tuple[list[int], str, str, int, int]:
    """Draw the sidebar controls of the network; return its settings.

    Returns the layer sizes, the hidden and output activation keys, the
    weight seed and the number of significant digits to show.
    """
    st.sidebar.header("Network")
    depth = st.sidebar.slider(
        "Hidden layers", 1, len(DEFAULT_HIDDEN), 2, key=f"{prefix}_depth",
        persist_state="session",
    )
    hidden_sizes = [
        st.sidebar.slider(
            f"Neurons in hidden layer {l}", 1, MAX_NEURONS, DEFAULT_HIDDEN[l - 1],
            key=f"{prefix}_size_{l}", persist_state="session",
        )
        for l in range(1, depth + 1)
    ]
    keys = list(ACTIVATIONS)
    hidden = st.sidebar.selectbox(
        "Hidden activation", keys, format_func=activation_title,
        key=f"{prefix}_hidden", persist_state="session",
    )
    output = st.sidebar.selectbox(
        "Output activation", keys, index=keys.index("sigmoid"),
        format_func=activation_title, key=f"{prefix}_output",
        persist_state="session",
    )
    seed = st.sidebar.number_input(
        "Weight seed", 0, 10_000, 0, key=f"{prefix}_seed", persist_state="session",
        help="Seed of the random generator that draws the initial weights (He).",
    )
    digits = st.sidebar.slider(
        "Significant digits shown", 2, 8, 4, key=f"{prefix}_digits",
        persist_state="session",
    )
    return [N_INPUTS, *hidden_sizes, 1], hidden, output, int(seed), digits


def example_controls() -> tuple[np.ndarray, np.ndarray, str, float]:
    """Draw the controls of the training example; return X, Y, loss and rate."""
    st.sidebar.header("Training example")
    x = [
        st.sidebar.slider(f"Input $x_{j + 1}$", *INPUT_RANGE, DEFAULT_INPUTS[j], 0.1,
                          key=f"bp_x{j + 1}", persist_state="session")
        for j in range(N_INPUTS)
    ]
    y = st.sidebar.number_input("Target y", value=1.0, step=0.1, key="bp_y",
                                persist_state="session")
    loss = st.sidebar.selectbox("Loss", LOSS_KEYS, format_func=lambda k: LOSSES[k].name,
                                key="bp_loss", persist_state="session")
    lr = st.sidebar.number_input(
        "Learning rate α", value=0.1, step=0.05, format="%.4f", key="bp_lr",
        persist_state="session", help="Step size of the gradient-descent update.",
    )
    return np.array([x]), np.array([[y]]), loss, float(lr)


def move(delta: int, n: int) -> None:
    """Move the walkthrough position by `delta`, staying within its n steps."""
    st.session_state[POSITION] = min(max(st.session_state[POSITION] + delta, 0), n - 1)


def reset() -> None:
    st.session_state[POSITION] = 0


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
        key="bp_network", config={"displayModeBar": False},
    )
    if step.op == "dZ":
        act = next(s for s in walk.forward
                   if s.op == "activation" and s.index == step.index)
        left.plotly_chart(
            activation_figure(type(network[step.layer]), act.inputs["Z"][0],
                              act.outputs["A"][0], step.index,
                              g_prime=step.inputs["g'(Z)"][0]),
            key="bp_activation", config={"displayModeBar": False},
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


def show_update(
    updates: list[Step], walk: Walkthrough, network: Sequential, X: np.ndarray,
    digits: int,
) -> None:
    """Draw the network after the update and compare the costs."""
    after: list[Step] = []
    walk.network_after.forward(X, after)
    left, right = st.columns([1, 1])
    left.plotly_chart(network_figure(after, layer_titles(network), digits=digits),
                      key="bp_network_after", config={"displayModeBar": False})
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
    # One row per layer: the wide W update, then the narrow b update.
    layers: dict[str, list[Step]] = {}
    for step in updates:
        layers.setdefault(step.layer, []).append(step)
    for steps in layers.values():
        for column, step in zip(st.columns([5, 2]), steps):
            column.latex(update_equation(step, digits))


st.set_page_config(page_title="Backpropagation", layout="wide")
st.title("Backpropagation")
st.markdown(
    "Training needs the gradient of the cost $J$ with respect to every weight and "
    "bias. Backpropagation gets all of them in one backward sweep: it starts at "
    "the cost and applies the chain rule layer by layer, reusing each layer's "
    "$dZ$ for the one before. Walk through it on one example, one operation at a "
    "time, then take one gradient-descent step."
)

sizes, hidden, output, seed, digits = network_controls("bp")
X, Y, loss_key, lr = example_controls()
try:
    check_training_settings(loss_key, output, Y.item(), lr)
except ValueError as error:
    st.error(str(error))
    st.stop()
low, high = OUTPUT_RANGES[output]
if not low <= Y.item() <= high:
    st.warning(
        f"The target y = {Y.item():g} lies outside [{low:g}, {high:g}], the outputs "
        f"that {activation_title(output)} can produce, so the cost cannot reach 0."
    )

network = build_mlp(sizes, hidden=hidden, output=output, seed=seed)
loss_class = LOSSES[loss_key]
walk = walk_training_step(network, loss_class(index=len(sizes) - 1), X, Y, lr)
updates = [step for step in walk.backward if step.op == "update"]
positions = [[step] for step in walk.backward if step.op != "update"] + [updates]
n = len(positions)

# A new network or example starts the walkthrough again.
fingerprint = (tuple(sizes), hidden, output, seed, tuple(X[0]), Y.item(), loss_key)
if st.session_state.get(FINGERPRINT) != fingerprint:
    st.session_state[FINGERPRINT] = fingerprint
    st.session_state[POSITION] = 0
k = min(st.session_state[POSITION], n - 1)

with st.expander("The forward pass of this example"):
    for step in walk.forward:
        if step.op == "linear":
            st.latex(linear_equation(step, digits))
        else:
            st.latex(activation_equation(step, type(network[step.layer]), digits))

st.header("The backward pass, step by step")
previous, following, restart, _ = st.columns([1, 1, 1, 3])
previous.button("Previous step", key="bp_previous", on_click=move, args=(-1, n),
                disabled=k == 0, shortcut="Left")
following.button("Next step", key="bp_next", on_click=move, args=(1, n),
                 disabled=k == n - 1, type="primary", shortcut="Right")
restart.button("Reset", key="bp_reset", on_click=reset, disabled=k == 0)
labels = [rf"\text{{update}}" if group is updates else step_symbol(group[0])
          for group in positions]
st.progress((k + 1) / n, text=f"Step {k + 1} of {n}: ${labels[k]}$")
st.markdown(" → ".join(
    rf"$\boxed{{\color{{#d97706}}{label}}}$" if i == k else f"${label}$"
    for i, label in enumerate(labels)
))

if positions[k] is updates:
    show_update(updates, walk, network, X, digits)
else:
    show_step(positions[k][0], walk, network, loss_class, digits)
