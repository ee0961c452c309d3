"""The small fully connected networks, their collapse and one training step."""

import numpy as np
import pytest

from engine.backprop import walk_training_step
from engine.losses import BinaryCrossEntropy, MeanSquaredError
from engine.network import build_mlp, collapse_linear

X = np.array([[0.5, -1.0]])
Y = np.array([[1.0]])


def test_build_mlp_shapes():
    net = build_mlp([2, 3, 2, 1])
    shapes = [net[f"dense{l}"].params["W"].shape for l in (1, 2, 3)]
    assert shapes == [(3, 2), (2, 3), (1, 2)]
    assert net.forward(X).shape == (1, 1)


@pytest.mark.parametrize("sizes", [[2], [2, 0, 1], []])
def test_build_mlp_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes must list"):
        build_mlp(sizes)


def test_linear_network_collapses_exactly():
    net = build_mlp([2, 3, 2, 1], hidden="linear", output="sigmoid", seed=3)
    collapse = collapse_linear(net, X)
    assert collapse.exact
    assert collapse.W.shape == (1, 2)
    np.testing.assert_allclose(collapse.A, net.forward(X), rtol=1e-14)


def test_relu_network_does_not_collapse():
    net = build_mlp([2, 3, 2, 1], hidden="relu", seed=0)
    collapse = collapse_linear(net, X)
    assert not collapse.exact
    assert not np.allclose(collapse.A, net.forward(X))


@pytest.mark.parametrize("loss", [MeanSquaredError(3), BinaryCrossEntropy(3)])
@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid", "linear"])
def test_training_step_lowers_cost(loss, hidden):
    net = build_mlp([2, 3, 2, 1], hidden=hidden, seed=0)
    walk = walk_training_step(net, loss, X, Y, lr=0.1)
    assert walk.cost_after < walk.cost_before
    for key, check in walk.checks.items():
        assert check.relative_error < 1e-7, key


def test_training_step_leaves_network_unchanged():
    net = build_mlp([2, 3, 2, 1], seed=0)
    W = net["dense1"].params["W"].copy()
    walk_training_step(net, MeanSquaredError(3), X, Y, lr=0.1)
    np.testing.assert_array_equal(net["dense1"].params["W"], W)


def test_backward_steps_in_order():
    walk = walk_training_step(build_mlp([2, 3, 1], seed=0),
                              MeanSquaredError(2), X, Y, lr=0.1)
    ops = [(s.layer, s.op) for s in walk.backward if s.op != "update"]
    assert ops == [
        ("cost", "cost"), ("cost", "dA"),
        ("sigmoid2", "dZ"), ("dense2", "dW"), ("dense2", "db"),
        ("dense2", "dA_prev"),
        ("relu1", "dZ"), ("dense1", "dW"), ("dense1", "db"),
        ("dense1", "dA_prev"),
    ]


def test_loss_rejects_broadcasting_shapes():
    with pytest.raises(ValueError, match="same shape"):
        MeanSquaredError().forward(np.zeros((4, 1)), np.zeros(4))


def test_recorded_steps_keep_values_before_update():
    walk = walk_training_step(build_mlp([2, 3, 1], seed=0),
                              MeanSquaredError(2), X, Y, lr=0.5)
    step = next(s for s in walk.backward if s.op == "dA_prev"
                and s.layer == "dense2")
    np.testing.assert_allclose(step.inputs["dZ"] @ step.inputs["W"],
                               step.outputs["dA_prev"])
    first = next(s for s in walk.forward if s.layer == "dense1")
    np.testing.assert_allclose(
        first.inputs["A_prev"] @ first.inputs["W"].T + first.inputs["b"],
        first.outputs["Z"])


@pytest.mark.parametrize("output", ["relu", "linear"])
def test_backward_leaves_caller_gradient_alone(output):
    net = build_mlp([2, 4, 3, 2], hidden="relu", output=output, seed=1)
    batch = np.random.default_rng(0).standard_normal((5, 2))
    dout = np.random.default_rng(1).standard_normal((5, 2))
    before = dout.copy()
    net.forward(batch)
    fast = net.backward(dout)
    np.testing.assert_array_equal(dout, before)
    net.forward(batch)
    recorded = net.backward(dout, steps=[])
    np.testing.assert_allclose(fast, recorded, rtol=1e-15)


def _conv_network():
    from engine.conv import Conv2D, Flatten, MaxPool2D
    from engine.layers import Dense, ReLU
    from engine.network import Sequential

    rng = np.random.default_rng(3)
    return Sequential([
        Conv2D(rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4), 1, 1),
        ReLU(), MaxPool2D(2), ReLU(), Flatten("flatten"),
        Dense(rng.standard_normal((3, 36)), rng.standard_normal(3)), ReLU(),
    ])


def test_in_place_layers_match_recorded_pass():
    net = _conv_network()
    batch = np.random.default_rng(4).standard_normal((2, 2, 6, 6))
    before = batch.copy()
    dout = np.ones((2, 3))
    fast = net.forward(batch), net.backward(dout)
    np.testing.assert_array_equal(batch, before)
    recorded = net.forward(batch, steps=[]), net.backward(dout, steps=[])
    for ours, expected in zip(fast, recorded):
        np.testing.assert_allclose(ours, expected, rtol=1e-15)
    np.testing.assert_array_equal(dout, np.ones((2, 3)))
