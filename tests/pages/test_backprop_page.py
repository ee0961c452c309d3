"""Tests of the backpropagation page, run through Streamlit's AppTest."""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from backprop_sections import clicked_node
from engine.backprop import walk_training_step
from engine.graph import (
    build_graph,
    mean_gradients,
    node_id,
    per_example_gradients,
    random_examples,
    run_optimizer,
)
from engine.losses import MeanSquaredError
from engine.network import build_mlp
from figures.latex import bmatrix, chain_rule_row

PAGE = Path(__file__).resolve().parents[2] / "pages" / "2_Backpropagation.py"
X = np.array([[0.5, -1.0]])
Y = np.array([[1.0]])
N_POSITIONS = 15  # J, dA[3], four steps for each of 3 layers, the update
N_NODES = 35  # x 2; w, b, z, a of layers of 3, 2 and 1 neurons; J


@pytest.fixture
def app() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=60).run()


def position(app: AppTest) -> int:
    return app.session_state["bp_position"]


def progress_text(app: AppTest) -> str:
    return app.get("progress")[0].proto.text


def click(app: AppTest, key: str, times: int = 1) -> None:
    for _ in range(times):
        app.button(key=key).click().run()


def default_walk():
    return walk_training_step(build_mlp([2, 3, 2, 1]), MeanSquaredError(3), X, Y, 0.1)


def latex(app: AppTest) -> str:
    return "\n".join(element.value for element in app.latex)


def graph_trace(app: AppTest, name: str) -> dict:
    """Return a trace of the computational graph's figure, by its name."""
    (chart,) = [c for c in app.get("plotly_chart") if "bp_graph" in c.proto.id]
    (found,) = [t for t in json.loads(chart.proto.spec)["data"] if t["name"] == name]
    return found


def unknown_gradients(app: AppTest) -> int:
    return sum("grad ?" in text for text in graph_trace(app, "node numbers")["text"])


def test_page_starts_at_the_cost(app):
    assert not app.exception
    assert app.title[0].value == "Backpropagation"
    assert position(app) == 0
    assert progress_text(app) == f"Step 1 of {N_POSITIONS}: $J$"
    assert app.button(key="bp_previous").disabled


def test_next_step_moves_forward(app):
    click(app, "bp_next", 3)
    assert position(app) == 3
    assert progress_text(app) == f"Step 4 of {N_POSITIONS}: $dW^{{[3]}}$"


def test_previous_step_moves_back(app):
    click(app, "bp_next", 4)
    click(app, "bp_previous")
    assert position(app) == 3
    assert progress_text(app).startswith(f"Step 4 of {N_POSITIONS}")


def test_reset_returns_to_start(app):
    click(app, "bp_next", 5)
    click(app, "bp_reset")
    assert position(app) == 0
    assert progress_text(app).startswith(f"Step 1 of {N_POSITIONS}")


def test_last_step_lowers_the_cost(app):
    click(app, "bp_next", N_POSITIONS - 1)
    walk = walk_training_step(build_mlp([2, 3, 2, 1]), MeanSquaredError(3), X, Y, 0.1)
    before, after = (float(metric.value) for metric in app.metric)
    assert not app.exception
    assert app.button(key="bp_next").disabled
    last = rf"Step {N_POSITIONS} of {N_POSITIONS}: $\text{{update}}$"
    assert progress_text(app) == last
    assert after < before
    assert before == pytest.approx(walk.cost_before, rel=1e-3)
    assert after == pytest.approx(walk.cost_after, rel=1e-3)
    assert "The cost went down" in app.success[0].value


def test_overshooting_step_suggests_smaller_rate(app):
    app.sidebar.selectbox(key="bp_output").set_value("linear").run()
    app.sidebar.number_input(key="bp_lr").set_value(5.0).run()
    click(app, "bp_next", N_POSITIONS - 1)
    before, after = (float(metric.value) for metric in app.metric)
    assert after > before
    assert "smaller learning rate" in app.warning[0].value


def test_hidden_size_change_resets_position(app):
    click(app, "bp_next", 6)
    app.sidebar.slider(key="bp_size_1").set_value(4).run()
    assert position(app) == 0
    assert progress_text(app).startswith(f"Step 1 of {N_POSITIONS}")


def test_depth_change_resets_and_counts_steps(app):
    click(app, "bp_next", 2)
    app.sidebar.slider(key="bp_depth").set_value(1).run()
    assert position(app) == 0
    assert progress_text(app).startswith("Step 1 of 11")


def test_example_change_resets_position(app):
    click(app, "bp_next", 2)
    app.sidebar.slider(key="bp_x1").set_value(1.0).run()
    assert position(app) == 0


def test_learning_rate_change_keeps_position(app):
    click(app, "bp_next", 2)
    app.sidebar.number_input(key="bp_lr").set_value(0.2).run()
    assert position(app) == 2


@pytest.mark.parametrize("lr", [0.0, -0.5])
def test_invalid_learning_rate_shows_error(app, lr):
    app.sidebar.number_input(key="bp_lr").set_value(lr).run()
    assert not app.exception
    assert "learning rate" in app.error[0].value


def test_cross_entropy_needs_sigmoid_output(app):
    app.sidebar.selectbox(key="bp_loss").set_value("bce").run()
    app.sidebar.selectbox(key="bp_output").set_value("tanh").run()
    assert not app.exception
    assert "needs the Sigmoid output" in app.error[0].value


def test_cross_entropy_needs_target_in_unit_interval(app):
    app.sidebar.selectbox(key="bp_loss").set_value("bce").run()
    app.sidebar.number_input(key="bp_y").set_value(1.5).run()
    assert "between 0 and 1" in app.error[0].value


def test_unreachable_target_warns(app):
    app.sidebar.number_input(key="bp_y").set_value(2.0).run()
    assert not app.error
    assert "cannot reach 0" in app.warning[0].value


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_gradient_checks_agree(app, loss):
    app.sidebar.selectbox(key="bp_loss").set_value(loss).run()
    click(app, "bp_next", 3)  # dW of the output layer
    assert "The two agree" in app.success[0].value
    click(app, "bp_next")  # db of the output layer
    assert "The two agree" in app.success[0].value


def test_cross_entropy_note_on_output_dZ(app):
    app.sidebar.selectbox(key="bp_loss").set_value("bce").run()
    click(app, "bp_next", 2)
    assert "A^{[L]} - Y" in app.info[0].value


def test_every_position_renders(app):
    for _ in range(N_POSITIONS - 1):
        assert not app.exception
        click(app, "bp_next")
    assert not app.exception


def test_walkthrough_keeps_weights_before_update():
    """The shown dA_prev must equal W.T @ dZ with the W shown beside it."""
    network = build_mlp([2, 3, 2, 1])
    walk = walk_training_step(network, MeanSquaredError(3), X, Y, 0.5)
    for step in walk.backward:
        if step.op == "dA_prev":
            product = step.inputs["dZ"] @ step.inputs["W"]
            np.testing.assert_allclose(product, step.outputs["dA_prev"], rtol=1e-15)
    np.testing.assert_array_equal(walk.forward[0].inputs["W"],
                                  network["dense1"].params["W"])


# The computational graph


def test_graph_draws_every_node(app):
    assert not app.exception
    assert [tab.label for tab in app.tabs][:3] == [
        "Computational graph", "Network diagram", "A batch of examples"]
    assert len(graph_trace(app, "nodes")["x"]) == N_NODES
    assert unknown_gradients(app) == N_NODES - 1  # only dJ/dJ = 1 at the start


def test_graph_fills_gradients_on_next(app):
    graph = build_graph(default_walk())
    for position in range(N_POSITIONS):
        assert unknown_gradients(app) == N_NODES - len(graph.known(position))
        if position < N_POSITIONS - 1:
            click(app, "bp_next")
    assert unknown_gradients(app) == 0


def test_graph_writes_step_chain_rule(app):
    click(app, "bp_next", 3)  # dW of the output layer
    graph = build_graph(default_walk())
    page_latex = latex(app)
    for k in range(2):
        assert chain_rule_row(graph, node_id("w", 3, 0, k)) in page_latex


def test_graph_previous_step_hides_gradient(app):
    click(app, "bp_next", 4)
    click(app, "bp_previous", 2)
    assert position(app) == 2
    assert unknown_gradients(app) == N_NODES - 3  # J, then a and z of the output


@pytest.mark.parametrize(
    ("points", "expected"),
    [([], None), ([{"customdata": "W1[0,1]"}], "W1[0,1]"),
     ([{"point_index": 3}, {"customdata": "J"}], "J"),
     ([{"customdata": "not a node"}], None)],
)
def test_clicked_node_reads_selection(points, expected):
    graph = build_graph(default_walk())
    event = {"selection": {"points": points}}
    assert clicked_node(event, graph) == expected


def test_clicked_node_without_event():
    assert clicked_node(None, build_graph(default_walk())) is None


# The batch of examples


def batch_gradients(m: int, seed: int = 0):
    X_batch, Y_batch = random_examples(m, seed, -3.0, 3.0)
    network, loss = build_mlp([2, 3, 2, 1]), MeanSquaredError(3)
    walk = walk_training_step(network, loss, X_batch, Y_batch, 0.1)
    mean = mean_gradients(per_example_gradients(network, loss, X_batch, Y_batch))
    return walk, mean


def test_batch_mean_equals_dW(app):
    app.slider(key="bp_batch_m").set_value(4).run()
    click(app, "bp_next", 3)  # dW of the output layer
    walk, mean = batch_gradients(4)
    page_latex = latex(app)
    assert not app.exception
    assert bmatrix(walk.checks[("dense3", "W")].analytic) in page_latex
    assert bmatrix(mean["dense3"]["W"]) in page_latex
    assert r"\frac{1}{4}" in page_latex
    assert any("equals the batch's $dW$" in s.value for s in app.success)


@pytest.mark.parametrize("m", [2, 8])
def test_batch_size_changes_mean(app, m):
    app.slider(key="bp_batch_m").set_value(m).run()
    click(app, "bp_next", 4)  # db of the output layer
    _, mean = batch_gradients(m)
    assert bmatrix(mean["dense3"]["b"]) in latex(app)
    assert rf"\frac{{1}}{{{m}}}" in latex(app)


def test_batch_seed_changes_examples(app):
    click(app, "bp_next", 3)
    before = latex(app)
    app.number_input(key="bp_batch_seed").set_value(5).run()
    _, mean = batch_gradients(4, seed=5)
    assert latex(app) != before
    assert bmatrix(mean["dense3"]["W"]) in latex(app)


def test_batch_step_keeps_position(app):
    click(app, "bp_next", 2)
    app.slider(key="bp_batch_m").set_value(6).run()
    assert position(app) == 2


def test_every_batch_position_renders(app):
    app.slider(key="bp_batch_m").set_value(3).run()
    for _ in range(N_POSITIONS - 1):
        click(app, "bp_next")
        assert not app.exception
    assert not app.error


# The optimizers


def test_optimizers_only_on_last_step(app):
    assert "bp_optimizer" not in [s.key for s in app.selectbox]
    click(app, "bp_next", N_POSITIONS - 1)
    assert "bp_optimizer" in [s.key for s in app.selectbox]


@pytest.mark.parametrize("key", ["sgd", "momentum", "adam"])
def test_optimizer_shows_engine_updates(app, key):
    click(app, "bp_next", N_POSITIONS - 1)
    app.selectbox(key="bp_optimizer").set_value(key).run()
    app.radio(key="bp_optimizer_parameter").set_value(("dense3", "W")).run()
    network = build_mlp([2, 3, 2, 1])
    run = run_optimizer(network, MeanSquaredError(3), X, Y, key, 0.1, 3)
    page_latex = latex(app)
    assert not app.exception
    for updates in run.updates:
        step = updates[("dense3", "W")].step
        assert bmatrix(step.outputs["W"]) in page_latex
        assert bmatrix(step.inputs["dW"]) in page_latex
    if key == "adam":
        v_hat = run.updates[2][("dense3", "W")].corrected["v_hat"]
        assert bmatrix(v_hat) in page_latex


def test_optimizer_table_lists_costs(app):
    click(app, "bp_next", N_POSITIONS - 1)
    (table,) = app.table
    frame = table.value
    network = build_mlp([2, 3, 2, 1])
    adam = run_optimizer(network, MeanSquaredError(3), X, Y, "adam", 0.1, 3)
    assert list(frame.index) == ["SGD", "SGD with momentum", "Adam"]
    assert frame.loc["Adam"].tolist() == [f"{c:.4g}" for c in adam.costs]
