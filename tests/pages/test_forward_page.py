"""Tests of the forward propagation page, run through Streamlit's AppTest."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.network import build_mlp, collapse_linear

PAGE = Path(__file__).resolve().parents[2] / "pages" / "1_Forward_propagation.py"
DEFAULT_X = np.array([[0.5, -1.0]])


@pytest.fixture
def app() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=30).run()


def test_page_runs_without_exception(app):
    assert not app.exception
    assert app.title[0].value == "Forward propagation"


def test_page_writes_two_equations_per_layer(app):
    # Three layers of two equations each, and the collapsed layer.
    assert len(app.latex) == 3 * 2 + 1


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_depth_sets_equation_count(app, depth):
    app.sidebar.slider(key="fp_depth").set_value(depth).run()
    assert not app.exception
    assert len(app.latex) == (depth + 1) * 2 + 1


def test_default_output_matches_engine(app):
    network = build_mlp([2, 3, 2, 1])
    a = network.forward(DEFAULT_X).item()
    assert f"the network gives {a:.6g}" in app.info[0].value


def test_linear_hidden_shows_collapse_equality(app):
    app.sidebar.selectbox(key="fp_hidden").set_value("linear").run()
    network = build_mlp([2, 3, 2, 1], hidden="linear")
    a = collapse_linear(network, DEFAULT_X).A.item()
    assert not app.exception
    assert len(app.success) == 1
    assert "Same output" in app.success[0].value
    assert f"{a:.6g}" in app.success[0].value
    assert not app.info


@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid"])
def test_nonlinear_hidden_shows_different_outputs(app, hidden):
    app.sidebar.selectbox(key="fp_hidden").set_value(hidden).run()
    assert not app.success
    assert "Different outputs" in app.info[0].value


def test_active_relus_match_collapse_locally(app):
    # With x = 0 every first-layer z is its bias 0.1, and seed 1 keeps the
    # second layer positive too, so each ReLU passes its input unchanged.
    app.sidebar.number_input(key="fp_seed").set_value(1).run()
    app.slider(key="fp_x1").set_value(0.0).run()
    app.slider(key="fp_x2").set_value(0.0).run()
    assert not app.success
    assert "agree at this input" in app.info[0].value


def test_inputs_change_the_numbers(app):
    app.slider(key="fp_x1").set_value(-2.0).run()
    network = build_mlp([2, 3, 2, 1])
    a = network.forward(np.array([[-2.0, -1.0]])).item()
    assert f"the network gives {a:.6g}" in app.info[0].value


def test_hidden_size_changes_first_matrix(app):
    app.sidebar.slider(key="fp_size_1").set_value(5).run()
    first = app.latex[0].value
    assert not app.exception
    # W^{[1]} is 5 x 2 now, so its bmatrix has 4 row breaks.
    W = first.split(r"\begin{bmatrix}")[1].split(r"\end{bmatrix}")[0]
    assert W.count(r"\\") == 4


def test_digits_control_rounding(app):
    app.sidebar.slider(key="fp_digits").set_value(2).run()
    assert "0.13" in app.latex[0].value  # W^{[1]}_{11} = 0.1257... at 2 digits
    assert "0.1257" not in app.latex[0].value


def test_page_draws_every_chart(app):
    # The diagram, one activation plot per layer, and the output pictures.
    assert len(app.get("plotly_chart")) == 1 + 3 + 1
