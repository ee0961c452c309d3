"""Tests of the network diagram, the activation plots and the LaTeX helpers."""

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.colors import sample_colorscale

from engine.backprop import walk_training_step
from engine.graph import random_examples, run_optimizer, walk_batch
from engine.layers import ACTIVATIONS, ReLU, Sigmoid
from engine.losses import (
    BinaryCrossEntropy,
    MeanSquaredError,
    SoftmaxCrossEntropy,
)
from engine.network import build_mlp, collapse_linear
from figures.activation import (
    activation_figure,
    curve_range,
    input_grid,
    output_surface_figure,
)
from figures.latex import (
    activation_equation,
    adam_equations,
    aligned,
    batch_cost_equation,
    batch_step_equation,
    bmatrix,
    collapse_equations,
    columns,
    cost_equation,
    example_symbol,
    examples_equation,
    linear_equation,
    momentum_equations,
    number,
    one_example,
    sgd_equations,
    step_equation,
    step_symbol,
)
from figures.network import (
    SCALE,
    Focus,
    backward_focus,
    layer_titles,
    network_figure,
    neuron_positions,
)

X = np.array([[0.5, -1.0]])
Y = np.array([[1.0]])
SIZES = [2, 3, 2, 1]


def forward_steps(sizes=SIZES, hidden="relu"):
    network = build_mlp(sizes, hidden=hidden)
    steps = []
    network.forward(X, steps)
    return network, steps


def walkthrough(loss=MeanSquaredError):
    network = build_mlp(SIZES)
    return walk_training_step(network, loss(index=3), X, Y, 0.1)


def trace(fig: go.Figure, name: str):
    (found,) = [t for t in fig.data if t.name == name]
    return found


def edge_traces(fig: go.Figure) -> list:
    return [t for t in fig.data if t.mode == "lines"]


def assert_balanced(latex: str) -> None:
    """Check that braces and environments open and close in pairs."""
    assert latex.count("{") == latex.count("}")
    assert latex.count(r"\begin{") == latex.count(r"\end{")
    assert latex.count(r"\left") == latex.count(r"\right")


# The network diagram


@pytest.mark.parametrize("sizes", [[2, 1], [2, 3, 2, 1], [2, 6, 6, 6, 1]])
def test_diagram_draws_every_neuron_and_edge(sizes):
    _, steps = forward_steps(sizes)
    fig = network_figure(steps)
    n_edges = sum(a * b for a, b in zip(sizes, sizes[1:]))
    assert isinstance(fig, go.Figure)
    assert len(trace(fig, "neurons").x) == sum(sizes)
    assert len(edge_traces(fig)) == n_edges
    assert len(trace(fig, "edge values").x) == n_edges


def test_diagram_neurons_show_activations():
    _, steps = forward_steps()
    neurons = trace(network_figure(steps), "neurons")
    expected = np.concatenate(
        [X[0]] + [s.outputs["A"][0] for s in steps if s.op == "activation"]
    )
    np.testing.assert_array_equal(neurons.marker.color, expected)


def test_diagram_colour_scales_centred_on_zero():
    network, steps = forward_steps()
    fig = network_figure(steps)
    neurons = trace(fig, "neurons").marker
    edges = trace(fig, "edge scale").marker
    largest_weight = max(
        np.abs(network[f"dense{l}"].params["W"]).max() for l in (1, 2, 3)
    )
    assert neurons.cmin == -neurons.cmax
    assert edges.cmin == -edges.cmax
    assert edges.cmax == pytest.approx(largest_weight)


def test_diagram_largest_weight_has_end_colour():
    network, steps = forward_steps()
    fig = network_figure(steps)
    weights = np.concatenate(
        [network[f"dense{l}"].params["W"].ravel() for l in (1, 2, 3)]
    )
    widest = max(edge_traces(fig), key=lambda t: t.line.width)
    end = 0.0 if weights[np.abs(weights).argmax()] < 0 else 1.0
    assert widest.line.color == sample_colorscale(SCALE, [end])[0]


def test_diagram_titles_name_activations():
    network, _ = forward_steps(hidden="tanh")
    titles = ["Input", "Hidden 1<br>tanh", "Hidden 2<br>tanh", "Output<br>Sigmoid"]
    assert layer_titles(network) == titles


def test_diagram_rejects_wrong_title_count():
    _, steps = forward_steps()
    with pytest.raises(ValueError, match="expected 4 titles"):
        network_figure(steps, ["Input"])


def test_neuron_positions_centred():
    positions = neuron_positions([3, 2])
    np.testing.assert_array_equal(positions[0], [[0, 1], [0, 0], [0, -1]])
    np.testing.assert_array_equal(positions[1], [[1, 0.5], [1, -0.5]])


def test_focus_on_dW_colours_edges_by_gradient():
    walk = walkthrough()
    step = next(s for s in walk.backward if s.op == "dW" and s.index == 2)
    fig = network_figure(walk.forward, focus=backward_focus(step))
    scale = trace(fig, "edge scale").marker
    assert scale.cmax == pytest.approx(np.abs(step.outputs["dW"]).max())
    assert scale.cmin == -scale.cmax
    grey = [t for t in edge_traces(fig) if t.name != "edge 2"]
    assert {t.line.color for t in grey} == {"rgba(150, 150, 150, 0.3)"}


def test_focus_outlines_its_layer():
    _, steps = forward_steps()
    fig = network_figure(steps, focus=Focus(layer=1))
    outline = list(trace(fig, "neurons").marker.line.color)
    assert outline.count("#f59e0b") == 3


def test_focus_on_neurons_only_draws_no_edge_scale():
    _, steps = forward_steps()
    fig = network_figure(steps, focus=Focus(layer=2))
    assert not [t for t in fig.data if t.name == "edge scale"]


@pytest.mark.parametrize(
    ("op", "index", "layer", "edges"),
    [
        ("cost", 3, 3, None),
        ("dA", 3, 3, None),
        ("dZ", 2, 2, None),
        ("dW", 2, 2, 2),
        ("db", 1, 1, None),
        ("dA_prev", 2, 1, 2),
    ],
)
def test_backward_focus_points_at_step(op, index, layer, edges):
    walk = walkthrough()
    step = next(s for s in walk.backward if s.op == op and s.index == index)
    focus = backward_focus(step)
    assert focus.layer == layer
    assert focus.edges == edges


def test_backward_focus_rejects_update():
    walk = walkthrough()
    with pytest.raises(ValueError, match="update"):
        backward_focus(walk.backward[-1])


# The activation plots


@pytest.mark.parametrize("key", sorted(ACTIVATIONS))
def test_activation_curve_follows_g(key):
    activation = ACTIVATIONS[key]
    Z = np.array([-1.5, 0.2, 2.0])
    fig = activation_figure(activation, Z, activation.g(Z), 1)
    curve, points = fig.data
    np.testing.assert_array_equal(curve.y, activation.g(np.asarray(curve.x)))
    np.testing.assert_array_equal(points.x, Z)
    np.testing.assert_array_equal(points.y, activation.g(Z))


def test_activation_derivative_adds_two_traces():
    Z = np.array([-1.0, 3.0])
    A = Sigmoid.g(Z)
    fig = activation_figure(Sigmoid, Z, A, 2, g_prime=Sigmoid.g_prime(A))
    assert len(fig.data) == 4
    np.testing.assert_array_equal(fig.data[3].y, A * (1 - A))


@pytest.mark.parametrize(
    ("Z", "expected"),
    [([0.0], (-4.0, 4.0)), ([-7.0, 1.0], (-8.0, 4.0)), ([9.5], (-4.0, 10.5))],
)
def test_curve_range_holds_every_point(Z, expected):
    assert curve_range(np.array(Z)) == expected


def test_input_grid_rows_follow_heatmap_order():
    axis, grid = input_grid(-1.0, 1.0, 3)
    np.testing.assert_array_equal(axis, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(grid[1 * 3 + 2], [axis[2], axis[1]])


def test_output_surface_shares_one_colour_range():
    axis = np.linspace(-1, 1, 4)
    fig = output_surface_figure(axis, np.zeros((4, 4)), np.ones((4, 4)), (0.0, 0.0))
    heatmaps = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heatmaps) == 2
    assert {(h.zmin, h.zmax) for h in heatmaps} == {(0.0, 1.0)}


# The LaTeX helpers


@pytest.mark.parametrize(
    ("x", "digits", "expected"),
    [
        (0.1, 4, "0.1"),
        (2 / 3, 3, "0.667"),
        (-0.123456, 4, "-0.1235"),
        (12345.6, 4, r"1.235 \times 10^{4}"),
        (1e-5, 4, r"1 \times 10^{-5}"),
        (-0.0, 4, "0"),
        (1.0, 4, "1"),
        (float("inf"), 4, r"\infty"),
        (float("-inf"), 4, r"-\infty"),
        (float("nan"), 4, r"\mathrm{NaN}"),
    ],
)
def test_number_formats(x, digits, expected):
    assert number(x, digits) == expected


@pytest.mark.parametrize(
    ("A", "expected"),
    [
        (np.float64(0.5), "0.5"),
        (np.array([1.0, -2.0]), r"\begin{bmatrix}1 \\ -2\end{bmatrix}"),
        (np.array([[1.0, 2.0]]), r"\begin{bmatrix}1 & 2\end{bmatrix}"),
        (
            np.array([[1.0, 0.25], [-3.5, 1e-7]]),
            r"\begin{bmatrix}1 & 0.25 \\ -3.5 & 1 \times 10^{-7}\end{bmatrix}",
        ),
    ],
)
def test_bmatrix_layout(A, expected):
    assert bmatrix(A) == expected


def test_bmatrix_rounds_to_digits():
    assert bmatrix(np.array([np.pi]), 2) == r"\begin{bmatrix}3.1\end{bmatrix}"


def test_bmatrix_rejects_three_dimensions():
    with pytest.raises(ValueError, match="at most 2 dimensions"):
        bmatrix(np.zeros((2, 2, 2)))


@pytest.mark.parametrize(
    ("formula", "first_row"),
    [
        ("Z = W A + b", "Z &= W A + b"),
        (r"W := W - \alpha dW", r"W &:= W - \alpha dW"),
        ("no sign", "no sign & "),
    ],
)
def test_aligned_splits_at_first_equals(formula, first_row):
    latex = aligned(formula, "1")
    assert latex == rf"\begin{{aligned}}{first_row} \\ &= 1\end{{aligned}}"


def test_one_example_rejects_batch():
    with pytest.raises(ValueError, match="one example"):
        one_example(np.zeros((2, 3)))


def test_linear_equation_substitutes_numbers():
    _, steps = forward_steps()
    latex = linear_equation(steps[0])
    W, b, Z = steps[0].inputs["W"], steps[0].inputs["b"], steps[0].outputs["Z"][0]
    assert latex.startswith(r"\begin{aligned}Z^{[1]} &= W^{[1]} A^{[0]} + b^{[1]}")
    assert f"{bmatrix(W)} {bmatrix(X[0])} + {bmatrix(b)}" in latex
    assert latex.endswith(f"&= {bmatrix(Z)}" + r"\end{aligned}")


@pytest.mark.parametrize("loss", [MeanSquaredError, BinaryCrossEntropy])
def test_every_backward_step_has_balanced_latex(loss):
    walk = walkthrough(loss)
    for step in walk.backward:
        latex = step_equation(step, loss)
        assert_balanced(latex)
        assert_balanced(step_symbol(step))


@pytest.mark.parametrize(
    ("op", "index", "symbol"),
    [("cost", 3, "J"), ("dA", 3, "dA^{[3]}"), ("dW", 2, "dW^{[2]}"),
     ("dA_prev", 1, "dA^{[0]}")],
)
def test_step_symbol(op, index, symbol):
    walk = walkthrough()
    step = next(s for s in walk.backward if s.op == op and s.index == index)
    assert step_symbol(step) == symbol


def test_dA_prev_equation_shows_W_transposed():
    walk = walkthrough()
    step = next(s for s in walk.backward if s.op == "dA_prev" and s.index == 3)
    assert bmatrix(step.inputs["W"].T) in step_equation(step, MeanSquaredError)


def test_cost_equation_rejects_other_losses():
    walk = walkthrough()
    with pytest.raises(ValueError, match="SoftmaxCrossEntropy"):
        cost_equation(walk.backward[0], SoftmaxCrossEntropy)


def test_collapse_equations_name_every_layer():
    network = build_mlp(SIZES, hidden="linear")
    latex = collapse_equations(collapse_linear(network, X), X, Sigmoid, 3)
    assert_balanced(latex)
    assert r"\widetilde{W} &= W^{[3]} W^{[2]} W^{[1]}" in latex
    assert r"W^{[3]} W^{[2]} b^{[1]} + W^{[3]} b^{[2]} + b^{[3]}" in latex


def test_relu_name_in_activation_equation():
    _, steps = forward_steps()
    assert r"\operatorname{ReLU}" in activation_equation(steps[1], ReLU)


# The LaTeX of a batch


def batch_walk(m=4, loss=MeanSquaredError):
    X_batch, Y_batch = random_examples(m, 0, -3.0, 3.0)
    return walk_batch(build_mlp(SIZES), loss(index=3), X_batch, Y_batch, 0.1)


def batch_position(batch, op, index):
    return next(i for i, s in enumerate(batch.walk.backward)
                if s.op == op and s.index == index)


def test_columns_put_examples_in_columns():
    assert columns(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])) == (
        r"\begin{bmatrix}1 & 3 & 5 \\ 2 & 4 & 6\end{bmatrix}"
    )


@pytest.mark.parametrize(
    ("op", "index", "symbol"),
    [("cost", 3, "J^{(2)}"), ("dZ", 2, "dZ^{[2](2)}"), ("dA_prev", 2, "dA^{[1](2)}")],
)
def test_example_symbol(op, index, symbol):
    batch = batch_walk()
    step = batch.walk.backward[batch_position(batch, op, index)]
    assert example_symbol(step, 2) == symbol


@pytest.mark.parametrize("m", [2, 4, 8])
@pytest.mark.parametrize("loss", [MeanSquaredError, BinaryCrossEntropy])
def test_every_batch_step_has_balanced_latex(m, loss):
    batch = batch_walk(m, loss)
    for position, step in enumerate(batch.walk.backward):
        if step.op == "update":
            break
        examples = batch.examples_at(position)
        if step.op == "cost":
            assert_balanced(batch_cost_equation(step, examples))
            continue
        assert_balanced(batch_step_equation(step))
        assert_balanced(examples_equation(step, examples, batch.combined_at(position)))


def test_batch_cost_averages_examples():
    batch = batch_walk()
    step, examples = batch.walk.backward[0], batch.examples_at(0)
    latex = batch_cost_equation(step, examples)
    for example in examples:
        assert number(example.outputs["J"]) in latex
    assert latex.endswith(f"&= {number(step.outputs['J'])}\\end{{aligned}}")


def test_batch_dW_shows_examples_and_mean():
    batch = batch_walk()
    position = batch_position(batch, "dW", 2)
    step = batch.walk.backward[position]
    latex = examples_equation(step, batch.examples_at(position),
                              batch.combined_at(position))
    for example in batch.examples_at(position):
        assert bmatrix(example.outputs["dW"]) in latex
    assert r"\frac{1}{4}" in latex
    assert latex.endswith(f"&= {bmatrix(batch.combined_at(position))}\\end{{aligned}}")
    assert bmatrix(step.outputs["dW"]) in batch_step_equation(step)


def test_batch_sum_of_eight_wraps():
    batch = batch_walk(8)
    position = batch_position(batch, "dW", 1)
    latex = examples_equation(batch.walk.backward[position],
                              batch.examples_at(position), batch.combined_at(position))
    assert r"\right." in latex
    assert r"\left." in latex


def test_batch_dZ_is_examples_over_m():
    batch = batch_walk()
    position = batch_position(batch, "dZ", 3)
    step = batch.walk.backward[position]
    latex = examples_equation(step, batch.examples_at(position),
                              batch.combined_at(position))
    own = np.concatenate([e.outputs["dZ"] for e in batch.examples_at(position)])
    assert rf"\frac{{1}}{{4}} {columns(own)}" in latex
    assert columns(step.outputs["dZ"]) in batch_step_equation(step)


# The LaTeX of the optimizers


def optimizer_run(key):
    network = build_mlp(SIZES)
    return run_optimizer(network, MeanSquaredError(3), X, Y, key, 0.1, 3)


def test_sgd_equation_is_update_equation():
    run = optimizer_run("sgd")
    update = run.updates[0][("dense1", "W")]
    latex = sgd_equations(update)["parameter"]
    assert bmatrix(update.step.outputs["W"]) in latex


@pytest.mark.parametrize("t", [0, 1, 2])
def test_momentum_equations_show_velocity(t):
    run = optimizer_run("momentum")
    update = run.updates[t][("dense2", "W")]
    blocks = momentum_equations(update, run.hyperparameters["mu"])
    assert list(blocks) == ["v", "parameter"]
    for latex in blocks.values():
        assert_balanced(latex)
    assert bmatrix(update.step.inputs["v"]) in blocks["v"]
    assert blocks["parameter"].endswith(
        f"&= {bmatrix(update.step.outputs['W'])}\\end{{aligned}}")
    if t == 0:
        assert blocks["v"].startswith(r"\begin{aligned}v_{dW} &:= dW^{[2]}")
    else:
        assert bmatrix(update.state_before["v"]) in blocks["v"]


@pytest.mark.parametrize("t", [0, 1, 2])
def test_adam_equations_show_moments(t):
    run = optimizer_run("adam")
    update = run.updates[t][("dense3", "b")]
    blocks = adam_equations(update, run.hyperparameters)
    assert list(blocks) == ["m", "v", "m_hat", "v_hat", "parameter"]
    for latex in blocks.values():
        assert_balanced(latex)
    assert bmatrix(update.corrected["m_hat"]) in blocks["m_hat"]
    assert f"1 - 0.999^{{{t + 1}}}" in blocks["v_hat"]
    assert bmatrix(update.step.outputs["update"]) in blocks["parameter"]
    assert bmatrix(update.step.outputs["b"]) in blocks["parameter"]
    assert (r"0.9 \cdot 0" in blocks["m"]) == (t == 0)
