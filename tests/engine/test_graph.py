"""Tests of the computational graph, the per-example gradients and the
optimizer runs of the backpropagation page (`engine.graph`)."""

import copy
from itertools import pairwise

import numpy as np
import pytest

from engine.backprop import walk_training_step
from engine.gradcheck import numerical_gradient
from engine.graph import (
    build_graph,
    chain_terms,
    combine_examples,
    example_backward_steps,
    examples_from_table,
    mean_gradients,
    node_id,
    per_example_gradients,
    random_examples,
    run_optimizer,
    step_output,
    walk_batch,
)
from engine.losses import BinaryCrossEntropy, MeanSquaredError
from engine.network import build_mlp

X = np.array([[0.5, -1.0]])
Y = np.array([[1.0]])
SIZES = [2, 3, 2, 1]
LOSSES = {"mse": MeanSquaredError, "bce": BinaryCrossEntropy}
CASES = [
    ([2, 3, 2, 1], "relu", "mse"),
    ([2, 3, 2, 1], "tanh", "bce"),
    ([2, 4, 1], "sigmoid", "mse"),
    ([2, 1], "relu", "bce"),
]


def setup(sizes=SIZES, hidden="relu", loss="mse", seed=0):
    network = build_mlp(sizes, hidden=hidden, seed=seed)
    loss = LOSSES[loss](index=len(sizes) - 1)
    walk = walk_training_step(network, loss, X, Y, 0.1)
    return network, loss, walk, build_graph(walk)


def layer_output(network, X, position):
    """Return the output of `network.layers[position]`, or X for -1."""
    out = X
    for layer in network.layers[: position + 1]:
        out = layer.forward(out)
    return out.copy()


def difference_gradient(network, loss, kind, l):
    """Return dJ/d(the array of x, z^[l] or a^[l]) by central differences."""
    network = copy.deepcopy(network)
    # build_mlp puts dense layer l at layers[2l - 2] and its activation next.
    position = {"x": -1, "z": 2 * l - 2, "a": 2 * l - 1}[kind]
    value = layer_output(network, X, position)

    def cost() -> float:
        out = value
        for layer in network.layers[position + 1 :]:
            out = layer.forward(out)
        return loss.forward(out, Y)

    return numerical_gradient(cost, value)[0]


# Building the graph


@pytest.mark.parametrize(("sizes", "hidden", "loss"), CASES)
def test_graph_counts_nodes_and_edges(sizes, hidden, loss):
    *_, graph = setup(sizes, hidden, loss)
    pairs = list(pairwise(sizes))
    n_nodes = sizes[0] + sum(n_out * (n_in + 3) for n_in, n_out in pairs) + 1
    n_edges = sum(n_out * (2 * n_in + 2) for n_in, n_out in pairs) + sizes[-1]
    assert len(graph.nodes) == n_nodes
    assert len(graph.edges) == n_edges
    assert graph.sizes == tuple(sizes)


def test_graph_values_match_forward_pass():
    _, _, walk, graph = setup()
    linear = [s for s in walk.forward if s.op == "linear"]
    activation = [s for s in walk.forward if s.op == "activation"]
    for l, (forward, act) in enumerate(zip(linear, activation), start=1):
        W, b = forward.inputs["W"], forward.inputs["b"]
        for j, k in np.ndindex(W.shape):
            assert graph.nodes[node_id("w", l, j, k)].value == W[j, k]
        for j in range(len(b)):
            assert graph.nodes[node_id("b", l, j)].value == b[j]
            assert graph.nodes[node_id("z", l, j)].value == forward.outputs["Z"][0, j]
            assert graph.nodes[node_id("a", l, j)].value == act.outputs["A"][0, j]
    assert graph.nodes["J"].value == walk.cost_before
    assert graph.nodes[node_id("x", 0, 1)].value == X[0, 1]


@pytest.mark.parametrize(("sizes", "hidden", "loss"), CASES)
def test_graph_gradients_match_walkthrough(sizes, hidden, loss):
    _, _, walk, graph = setup(sizes, hidden, loss)
    arrays = {(s.op, s.index): step_output(s) for s in walk.backward
              if s.op != "update"}
    L = len(sizes) - 1
    for node in graph.nodes.values():
        if node.kind == "w":
            expected = arrays[("dW", node.layer)][node.j, node.k]
        elif node.kind == "b":
            expected = arrays[("db", node.layer)][node.j]
        elif node.kind == "z":
            expected = arrays[("dZ", node.layer)][0, node.j]
        elif node.kind == "a" and node.layer == L:
            expected = arrays[("dA", L)][0, node.j]
        elif node.kind == "a":
            expected = arrays[("dA_prev", node.layer + 1)][0, node.j]
        elif node.kind == "x":
            expected = arrays[("dA_prev", 1)][0, node.j]
        else:
            expected = 1.0
        assert node.gradient == expected, node.id


@pytest.mark.parametrize(("sizes", "hidden", "loss"), CASES)
def test_parameter_gradients_match_differences(sizes, hidden, loss):
    _, _, walk, graph = setup(sizes, hidden, loss)
    for node in graph.nodes.values():
        if node.kind not in ("w", "b"):
            continue
        check = walk.checks[(f"dense{node.layer}", {"w": "W", "b": "b"}[node.kind])]
        index = (node.j, node.k) if node.kind == "w" else node.j
        assert node.gradient == pytest.approx(check.numerical[index], rel=1e-6,
                                              abs=1e-9), node.id


@pytest.mark.parametrize(("sizes", "hidden", "loss"), CASES)
def test_activation_gradients_match_differences(sizes, hidden, loss):
    network, loss_object, _, graph = setup(sizes, hidden, loss)
    L = len(sizes) - 1
    cases = [("x", 0)] + [(kind, l) for l in range(1, L + 1) for kind in ("z", "a")]
    for kind, l in cases:
        numeric = difference_gradient(network, loss_object, kind, l)
        for j, expected in enumerate(numeric):
            node = graph.nodes[node_id(kind, l, j)]
            assert node.gradient == pytest.approx(expected, rel=1e-6, abs=1e-9), node.id


@pytest.mark.parametrize(("sizes", "hidden", "loss"), CASES)
def test_chain_rule_sums_paths(sizes, hidden, loss):
    """Each gradient is the sum over outgoing edges of upstream times local."""
    *_, graph = setup(sizes, hidden, loss)
    for node in graph.nodes.values():
        terms = chain_terms(graph, node.id)
        if node.kind == "J":
            assert terms == []
            continue
        assert terms, node.id
        total = sum(term.upstream * term.edge.local for term in terms)
        assert total == pytest.approx(node.gradient, rel=1e-12, abs=1e-15), node.id


def test_chain_term_products():
    *_, graph = setup()
    for term in chain_terms(graph, node_id("a", 1, 0)):
        assert term.product == term.upstream * term.edge.local
        assert term.upstream == graph.nodes[term.edge.target].gradient


@pytest.mark.parametrize(
    ("kind", "local"),
    [("w", "a_prev"), ("x", "w"), ("b", "one"), ("z", "g_prime")],
)
def test_local_derivatives(kind, local):
    _, _, walk, graph = setup()
    forward = walk.forward[0]  # the linear step of layer 1
    dZ = next(s for s in walk.backward if s.op == "dZ" and s.index == 1)
    source = node_id(kind, 0 if kind == "x" else 1, 1, 0 if kind == "w" else None)
    (edge, *_) = graph.outgoing(source)
    expected = {
        "a_prev": forward.inputs["A_prev"][0, 0],
        "w": forward.inputs["W"][0, 1],
        "one": 1.0,
        "g_prime": dZ.inputs["g'(Z)"][0, 1],
    }[local]
    assert edge.local == expected


def test_steps_reveal_every_node_once():
    _, _, walk, graph = setup()
    first_update = next(i for i, s in enumerate(walk.backward) if s.op == "update")
    seen = set()
    for position in range(first_update):
        new = {node.id for node in graph.computed_at(position)}
        assert new, walk.backward[position].op
        assert not new & seen
        seen |= new
        assert {node.id for node in graph.known(position)} == seen
    assert seen == set(graph.nodes)
    assert graph.computed_at(first_update) == []


@pytest.mark.parametrize(
    ("op", "kinds"),
    [("cost", {"J"}), ("dA", {"a"}), ("dZ", {"z"}), ("dW", {"w"}), ("db", {"b"}),
     ("dA_prev", {"a", "x"})],
)
def test_step_reveals_its_kind(op, kinds):
    _, _, walk, graph = setup()
    for position, step in enumerate(walk.backward):
        if step.op == op:
            assert {node.kind for node in graph.computed_at(position)} <= kinds


def test_graph_needs_input_gradients():
    network = build_mlp(SIZES)
    network["dense1"].input_grad = False
    walk = walk_training_step(network, MeanSquaredError(3), X, Y, 0.1)
    with pytest.raises(ValueError, match=r"dA\^\[0\]"):
        build_graph(walk)


def test_graph_rejects_batch():
    network = build_mlp(SIZES)
    walk = walk_training_step(network, MeanSquaredError(3), np.zeros((2, 2)),
                              np.zeros((2, 1)), 0.1)
    with pytest.raises(ValueError, match="batch of 2"):
        build_graph(walk)


# Examples on their own, and the batch


@pytest.mark.parametrize("m", [2, 4, 8])
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_mean_of_examples_is_batch_gradient(m, loss):
    network = build_mlp(SIZES, hidden="tanh")
    X_batch, Y_batch = random_examples(m, 3, -3.0, 3.0)
    loss_object = LOSSES[loss](index=3)
    mean = mean_gradients(per_example_gradients(network, loss_object, X_batch,
                                                Y_batch))
    walk = walk_training_step(network, loss_object, X_batch, Y_batch, 0.1)
    for (layer, key), check in walk.checks.items():
        np.testing.assert_allclose(mean[layer][key], check.analytic, rtol=1e-12,
                                   atol=1e-15)


def test_per_example_gradients_are_single_walks():
    network = build_mlp(SIZES)
    X_batch, Y_batch = random_examples(3, 1, -3.0, 3.0)
    gradients = per_example_gradients(network, MeanSquaredError(3), X_batch, Y_batch)
    for i, example in enumerate(gradients):
        walk = walk_training_step(network, MeanSquaredError(3), X_batch[i : i + 1],
                                  Y_batch[i : i + 1], 0.1)
        for (layer, key), check in walk.checks.items():
            np.testing.assert_array_equal(example[layer][key], check.analytic)


def test_example_steps_leave_network_unchanged():
    network = build_mlp(SIZES)
    before = [layer.params[key].copy() for layer, key in network.parameters()]
    example_backward_steps(network, MeanSquaredError(3), *random_examples(4, 0, -3, 3))
    for (layer, key), value in zip(network.parameters(), before):
        np.testing.assert_array_equal(layer.params[key], value)
    assert all(not layer.grads for layer in network.layers)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_combined_examples_match_batch_steps(loss):
    network = build_mlp(SIZES)
    X_batch, Y_batch = random_examples(5, 2, -3.0, 3.0)
    batch = walk_batch(network, LOSSES[loss](index=3), X_batch, Y_batch, 0.1)
    for position, step in enumerate(batch.walk.backward):
        if step.op == "update":
            break
        assert {s.op for s in batch.examples_at(position)} == {step.op}
        np.testing.assert_allclose(batch.combined_at(position), step_output(step),
                                   rtol=1e-12, atol=1e-15)


def test_batch_dZ_is_examples_over_m():
    network = build_mlp(SIZES)
    X_batch, Y_batch = random_examples(4, 0, -3.0, 3.0)
    batch = walk_batch(network, MeanSquaredError(3), X_batch, Y_batch, 0.1)
    position = next(i for i, s in enumerate(batch.walk.backward) if s.op == "dZ")
    own = [step_output(s)[0] for s in batch.examples_at(position)]
    np.testing.assert_allclose(step_output(batch.walk.backward[position]),
                               np.array(own) / 4, rtol=1e-12)


def test_combine_rejects_mixed_ops():
    steps = example_backward_steps(build_mlp(SIZES), MeanSquaredError(3),
                                   *random_examples(2, 0, -3, 3))
    with pytest.raises(ValueError, match="same op"):
        combine_examples([steps[0][0], steps[1][1]])


def test_random_examples_are_seeded():
    X_batch, Y_batch = random_examples(6, 7, -3.0, 3.0)
    again, _ = random_examples(6, 7, -3.0, 3.0)
    other, _ = random_examples(6, 8, -3.0, 3.0)
    assert X_batch.shape == (6, 2)
    assert Y_batch.shape == (6, 1)
    np.testing.assert_array_equal(X_batch, again)
    assert not np.array_equal(X_batch, other)
    assert sorted(Y_batch[:, 0]) == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert X_batch.min() >= -3.0
    assert X_batch.max() <= 3.0
    np.testing.assert_array_equal(X_batch, np.round(X_batch, 1))


def test_examples_from_table_splits_columns():
    table = np.array([[0.5, -1.0, 1.0], [2.0, 0.0, 0.0]])
    X_batch, Y_batch = examples_from_table(table, "bce", "sigmoid", 0.1)
    np.testing.assert_array_equal(X_batch, table[:, :2])
    np.testing.assert_array_equal(Y_batch, [[1.0], [0.0]])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([[0.5, np.nan, 1.0]], "Row 1 has no number in column x2"),
        ([[0.5, 1.0, 1.0], [0.0, 0.0, np.inf]], "Row 2 has no number in column y"),
        ([[0.5, 1.0, 1.5]], "between 0 and 1"),
        (np.zeros((0, 3)), "one row each"),
        ([[0.5, 1.0]], "one row each"),
    ],
)
def test_examples_from_table_rejects(table, message):
    with pytest.raises(ValueError, match=message):
        examples_from_table(np.array(table), "bce", "sigmoid", 0.1)


def test_random_examples_rejects_empty_batch():
    with pytest.raises(ValueError, match="at least 1"):
        random_examples(0, 0, -3.0, 3.0)


# Optimizer runs


def test_sgd_first_step_is_walkthrough_update():
    network, loss, walk, _ = setup()
    run = run_optimizer(network, loss, X, Y, "sgd", 0.1, 3)
    updates = [s for s in walk.backward if s.op == "update"]
    assert run.costs[0] == walk.cost_before
    assert run.costs[1] == walk.cost_after
    for step, update in zip(updates, run.updates[0].values()):
        key = "W" if "W" in step.outputs else "b"
        np.testing.assert_array_equal(update.step.outputs[key], step.outputs[key])


@pytest.mark.parametrize("key", ["sgd", "momentum", "adam"])
def test_optimizer_run_records_every_step(key):
    network, loss, _, _ = setup()
    run = run_optimizer(network, loss, X, Y, key, 0.05, 3)
    assert len(run.costs) == 4
    assert len(run.updates) == 3
    assert [u.t for u in run.updates[2].values()] == [3] * 6
    assert run.hyperparameters["lr"] == 0.05
    for before, after in zip(run.updates, run.updates[1:]):
        for name, update in after.items():
            param = "W" if "W" in update.step.outputs else "b"
            np.testing.assert_array_equal(update.step.inputs[param],
                                          before[name].step.outputs[param])


def test_momentum_velocity_adds_up():
    network, loss, _, _ = setup()
    run = run_optimizer(network, loss, X, Y, "momentum", 0.1, 3)
    mu = run.hyperparameters["mu"]
    first = run.updates[0][("dense2", "W")]
    assert first.state_before == {}
    np.testing.assert_array_equal(first.step.inputs["v"], first.step.inputs["dW"])
    for t in (1, 2):
        update = run.updates[t][("dense2", "W")]
        v = mu * update.state_before["v"] + update.step.inputs["dW"]
        np.testing.assert_array_equal(update.step.inputs["v"], v)
        np.testing.assert_array_equal(update.step.outputs["W"],
                                      update.step.inputs["W"] - 0.1 * v)


def test_adam_update_uses_corrected_moments():
    network, loss, _, _ = setup()
    run = run_optimizer(network, loss, X, Y, "adam", 0.1, 3)
    h = run.hyperparameters
    for t, updates in enumerate(run.updates, start=1):
        for update in updates.values():
            step, corrected = update.step, update.corrected
            np.testing.assert_array_equal(corrected["m_hat"],
                                          step.inputs["m"] / (1 - h["beta1"]**t))
            np.testing.assert_array_equal(corrected["v_hat"],
                                          step.inputs["v"] / (1 - h["beta2"]**t))
            amount = h["lr"] * corrected["m_hat"] / (np.sqrt(corrected["v_hat"])
                                                     + h["eps"])
            np.testing.assert_array_equal(step.outputs["update"], amount)


def test_adam_state_before_is_last_state():
    network, loss, _, _ = setup()
    run = run_optimizer(network, loss, X, Y, "adam", 0.1, 2)
    first, second = (run.updates[t][("dense1", "b")] for t in (0, 1))
    assert first.state_before == {}
    np.testing.assert_array_equal(second.state_before["m"], first.step.inputs["m"])
    np.testing.assert_array_equal(second.state_before["v"], first.step.inputs["v"])


def test_optimizer_run_leaves_network_unchanged():
    network, loss, _, _ = setup()
    W = network["dense1"].params["W"].copy()
    run_optimizer(network, loss, X, Y, "adam", 0.1, 2)
    np.testing.assert_array_equal(network["dense1"].params["W"], W)


def test_optimizer_run_rejects_zero_steps():
    network, loss, _, _ = setup()
    with pytest.raises(ValueError, match="n_steps"):
        run_optimizer(network, loss, X, Y, "sgd", 0.1, 0)
