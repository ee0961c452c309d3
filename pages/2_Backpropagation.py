"""Backpropagation: one training step, one operation at a time, on one example
as a computational graph and a network diagram, and on a batch of examples."""

import numpy as np
import streamlit as st

import allocator
import ui

from backprop_sections import (
    batch_controls,
    show_batch,
    show_forward,
    show_graph,
    show_optimizers,
    show_step,
    show_update,
)
from engine.backprop import walk_training_step
from engine.explain import OUTPUT_RANGES, check_training_settings
from engine.graph import build_graph, run_optimizer, walk_batch
from engine.losses import LOSSES
from engine.network import build_mlp
from engine.optim import OPTIMIZERS
from figures.latex import step_symbol

LOSS_KEYS = ("mse", "bce")
N_OPTIMIZER_STEPS = 3  # enough for momentum's and Adam's state to build up
POSITION = "bp_position"  # index of the walkthrough step on show
FINGERPRINT = "bp_fingerprint"  # the settings that position belongs to


def example_controls() -> tuple[np.ndarray, np.ndarray, str, float]:
    """Draw the controls of the training example; return X, Y, loss and rate."""
    st.sidebar.header("Training example")
    x = [
        st.sidebar.slider(f"Input $x_{j + 1}$", *ui.INPUT_RANGE,
                          ui.DEFAULT_INPUTS[j], 0.1, key=f"bp_x{j + 1}",
                          persist_state="session")
        for j in range(ui.N_INPUTS)
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


st.set_page_config(page_title="Backpropagation", layout="wide")
allocator.start_trimming()
st.title("Backpropagation")
st.markdown(
    "Training needs the gradient of the cost $J$ with respect to every weight and "
    "bias. Backpropagation gets all of them in one backward sweep: it starts at "
    "the cost and applies the chain rule layer by layer, reusing each layer's "
    "$dZ$ for the one before. Walk through it on one example, one operation at a "
    "time, as a computational graph or on the network's diagram, or on a batch "
    "of examples; then take one gradient-descent step and compare SGD with "
    "momentum and Adam."
)

sizes, hidden, output, seed, digits = ui.toy_network_controls("bp")
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
        f"that {ui.activation_title(output)} can produce, so the cost cannot reach 0."
    )

network = build_mlp(sizes, hidden=hidden, output=output, seed=seed)
loss_class = LOSSES[loss_key]
loss = loss_class(index=len(sizes) - 1)
walk = walk_training_step(network, loss, X, Y, lr)
graph = build_graph(walk)
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
    show_forward(walk, network, digits)

st.header("The backward pass, step by step")
previous, following, restart, _ = st.columns([1, 1, 1, 3])
previous.button("Previous step", key="bp_previous", on_click=move, args=(-1, n),
                disabled=k == 0, shortcut="Left")
following.button("Next step", key="bp_next", on_click=move, args=(1, n),
                 disabled=k == n - 1, type="primary", shortcut="Right")
restart.button("Reset", key="bp_reset", on_click=reset, disabled=k == 0)
labels = [r"\text{update}" if group is updates else step_symbol(group[0])
          for group in positions]
st.progress((k + 1) / n, text=f"Step {k + 1} of {n}: ${labels[k]}$")
st.markdown(" → ".join(
    rf"$\boxed{{\color{{#d97706}}{label}}}$" if i == k else f"${label}$"
    for i, label in enumerate(labels)
))

graph_tab, diagram_tab, batch_tab = st.tabs(
    ["Computational graph", "Network diagram", "A batch of examples"], key="bp_view"
)
with graph_tab:
    show_graph(graph, k, digits)
with diagram_tab:
    if positions[k] is updates:
        show_update(updates, walk, network, X, digits)
    else:
        show_step(positions[k][0], walk, network, loss_class, digits)
with batch_tab:
    st.markdown(
        "The same step on $m$ examples at once. Each array gets one column per "
        "example, and below each batch result are the examples' own results, "
        "each computed as if that example were alone."
    )
    X_batch, Y_batch = batch_controls(loss_key, output, lr, ui.INPUT_RANGE)
    if len(X_batch):
        show_batch(walk_batch(network, loss, X_batch, Y_batch, lr), network, k,
                   digits)

if positions[k] is updates:
    runs = [run_optimizer(network, loss, X, Y, key, lr, N_OPTIMIZER_STEPS)
            for key in OPTIMIZERS]
    show_optimizers(runs, network, digits)
