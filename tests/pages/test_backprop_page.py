"""Tests of the backpropagation page, run through Streamlit's AppTest."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.backprop import walk_training_step
from engine.losses import MeanSquaredError
from engine.network import build_mlp

PAGE = Path(__file__).resolve().parents[2] / "pages" / "2_Backpropagation.py"
X = np.array([[0.5, -1.0]])
Y = np.array([[1.0]])
N_POSITIONS = 15  # J, dA[3], four steps for each of 3 layers, the update


@pytest.fixture
def app() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=30).run()


def position(app: AppTest) -> int:
    return app.session_state["bp_position"]


def progress_text(app: AppTest) -> str:
    return app.get("progress")[0].proto.text


def click(app: AppTest, key: str, times: int = 1) -> None:
    for _ in range(times):
        app.button(key=key).click().run()


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
