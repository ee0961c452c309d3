"""Forward propagation: one example through a small network, layer by layer."""

import numpy as np
import streamlit as st

import allocator
import ui

from engine.network import build_mlp, collapse_linear
from figures.activation import activation_figure, input_grid, output_surface_figure
from figures.latex import (
    activation_equation,
    collapse_equations,
    linear_equation,
    number,
)
from figures.network import layer_titles, network_figure

GRID_POINTS = 81  # per side of the output picture


st.set_page_config(page_title="Forward propagation", layout="wide")
allocator.start_trimming()
st.title("Forward propagation")
st.markdown(
    "A network turns an input into a prediction one layer at a time. Each layer "
    "takes the previous layer's activations $A^{[l-1]}$, forms the weighted sums "
    "$Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]}$ and passes them through its "
    "activation function, $A^{[l]} = g^{[l]}(Z^{[l]})$. The input is "
    "$A^{[0]} = x$. Move the inputs and watch every number follow."
)

sizes, hidden, output, seed, digits = ui.toy_network_controls("fp")
network = build_mlp(sizes, hidden=hidden, output=output, seed=seed)
L = len(sizes) - 1

# The example: one row of inputs.
st.header("The network")
columns = st.columns(ui.N_INPUTS)
x = np.array([[
    column.slider(f"Input $x_{j + 1}$", *ui.INPUT_RANGE, ui.DEFAULT_INPUTS[j], 0.1,
                  key=f"fp_x{j + 1}", persist_state="session")
    for j, column in enumerate(columns)
]])
steps = []
A_out = network.forward(x, steps)

st.markdown(
    "Each circle is a neuron, filled with its activation and coloured by its "
    "sign: blue is positive, red negative, white zero. Each line is a weight, "
    "blue or red by its sign and thicker the larger it is. Hover over a neuron "
    "or the middle of a line for its exact value. Look at how the thick lines "
    "carry the input's colour forward."
)
st.plotly_chart(
    network_figure(steps, layer_titles(network), digits=digits),
    key="fp_network", config={"displayModeBar": False},
)

# Layer by layer: the two formulas of each layer, then its activation plot.
st.header("Layer by layer")
st.markdown(
    f"Each row below is one layer, numbers rounded to {digits} significant "
    "digits (the computation itself is in float64). Vectors of the example are "
    "written as columns. The plot on the right draws the layer's activation "
    "function $g$ and marks each neuron at $(z, g(z))$: where a point sits on "
    "the curve decides how much of $z$ gets through."
)
for l in range(1, L + 1):
    linear, act = steps[2 * l - 2], steps[2 * l - 1]
    activation = type(network[act.layer])
    name = "Output layer" if l == L else f"Hidden layer {l}"
    st.subheader(f"{name}: {activation.title}")
    left, right = st.columns([3, 2], vertical_alignment="center")
    left.latex(linear_equation(linear, digits))
    left.latex(activation_equation(act, activation, digits))
    left.caption(f"${activation.latex}$")
    right.plotly_chart(
        activation_figure(activation, linear.outputs["Z"][0], act.outputs["A"][0], l),
        key=f"fp_activation_{l}", config={"displayModeBar": False},
    )

# Without a non-linear activation the layers collapse into one.
st.header("Why the non-linearity matters")
st.markdown(
    "Composing affine maps gives an affine map: $W^{[2]}(W^{[1]} x + b^{[1]}) + "
    "b^{[2]} = (W^{[2]} W^{[1]}) x + (W^{[2]} b^{[1]} + b^{[2]})$. So if the "
    "hidden activations are skipped, every dense layer of this network folds "
    "into one matrix $\\widetilde{W}$ and one bias $\\widetilde{b}$. Below is "
    "that single layer for the current weights, with the output activation "
    "applied to it."
)
collapse = collapse_linear(network, x)
st.latex(collapse_equations(collapse, x, type(network.layers[-1]), L, digits))
a_net, a_single = A_out.item(), collapse.A.item()
gap = abs(a_single - a_net)
if collapse.exact:
    agreement = "bit for bit" if gap == 0 else f"up to float64 rounding ({gap:.1e})"
    st.success(
        f"Same output: the network gives {a_net:.6g} and the single layer gives "
        f"{a_single:.6g}, equal {agreement}. With a linear hidden activation, "
        "extra layers add no power: the whole network is one layer."
    )
elif np.isclose(a_net, a_single, rtol=1e-12, atol=0):
    st.info(
        f"The outputs agree at this input ({a_net:.6g}) because every hidden "
        f"neuron sits where {ui.activation_title(hidden)} is the identity "
        "($z > 0$ for ReLU), so near this input the network is one affine map. "
        "The pictures below show where it bends; move the inputs there."
    )
else:
    st.info(
        f"Different outputs: the network gives {a_net:.6g}, the collapsed layer "
        f"{a_single:.6g}. The {ui.activation_title(hidden)} activation between the "
        "layers is what stops them folding into one. Switch the hidden "
        "activation to Linear to see them agree."
    )

st.markdown(
    "The two pictures colour the output for every input $(x_1, x_2)$ in the "
    "slider range; the white dot is the current input. A single layer followed "
    "by an output activation only depends on one direction of the input, "
    "$\\widetilde{W} x$, so its colour bands are always straight and parallel. "
    "With a non-linear hidden activation the network can bend them."
)
axis, grid = input_grid(*ui.INPUT_RANGE, GRID_POINTS)
surface = output_surface_figure(
    axis,
    network.forward(grid).reshape(GRID_POINTS, GRID_POINTS),
    collapse_linear(network, grid).A.reshape(GRID_POINTS, GRID_POINTS),
    x[0],
)
st.plotly_chart(surface, key="fp_surface", config={"displayModeBar": False})
st.caption(
    f"Output of the network at the current input: ${number(a_net, digits)}$. "
    "Weights: He initialisation from the seed in the sidebar, biases 0.1."
)
