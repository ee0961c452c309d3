"""Tests of the computational-graph figure and its chain-rule LaTeX."""

import numpy as np
import plotly.graph_objects as go
import pytest

from engine.backprop import walk_training_step
from engine.graph import Graph, build_graph, node_id
from engine.losses import MeanSquaredError
from engine.network import build_mlp
from figures.graph import (
    FOCUS_COLOUR,
    MAX_LABELLED_COLUMN,
    PITCH,
    UNKNOWN_FILL,
    column,
    graph_figure,
    graph_positions,
    node_html,
    pack,
    tallest_column,
)
from figures.latex import bmatrix, chain_rule_equations, chain_rule_row, number

X = np.array([[0.5, -1.0]])
Y = np.array([[1.0]])


def graph_of(sizes=(2, 3, 2, 1)) -> Graph:
    network = build_mlp(list(sizes))
    walk = walk_training_step(network, MeanSquaredError(len(sizes) - 1), X, Y, 0.1)
    return build_graph(walk)


def trace(fig: go.Figure, name: str):
    (found,) = [t for t in fig.data if t.name == name]
    return found


def names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


def last_position(graph: Graph) -> int:
    return max(node.step for node in graph.nodes.values())


def assert_balanced(latex: str) -> None:
    assert latex.count("{") == latex.count("}")
    assert latex.count(r"\begin{") == latex.count(r"\end{")
    assert latex.count(r"\left") == latex.count(r"\right")


# Layout


@pytest.mark.parametrize(
    ("desired", "gaps", "expected"),
    [
        ([3.0, 1.0, -2.0], [1.0, 1.0], [3.0, 1.0, -2.0]),
        ([0.0, 0.0], [1.0], [0.5, -0.5]),
        ([0.0, 0.0, 0.0], [1.0, 2.0], [4 / 3, 1 / 3, -5 / 3]),
        ([1.0, 2.0], [1.0], [2.0, 1.0]),
    ],
)
def test_pack_keeps_gaps_least_squares(desired, gaps, expected):
    np.testing.assert_allclose(pack(desired, gaps), expected)


@pytest.mark.parametrize("sizes", [(2, 1), (2, 3, 2, 1), (2, 6, 6, 6, 1), (2, 1, 4, 1)])
def test_positions_keep_nodes_apart(sizes):
    graph = graph_of(sizes)
    xy = graph_positions(graph)
    assert set(xy) == set(graph.nodes)
    columns: dict[float, list[float]] = {}
    for x, y in xy.values():
        columns.setdefault(x, []).append(y)
    for ys in columns.values():
        gaps = np.diff(sorted(ys))
        assert (gaps >= PITCH - 1e-9).all()


@pytest.mark.parametrize(
    ("kind", "layer", "expected"),
    [("x", 0, 0), ("w", 1, 0), ("b", 2, 2), ("z", 2, 3), ("a", 1, 2), ("a", 3, 6),
     ("J", 3, 7)],
)
def test_column_of_each_kind(kind, layer, expected):
    graph = graph_of()
    node = next(n for n in graph.nodes.values()
                if n.kind == kind and n.layer == layer)
    assert column(node) == expected


def test_every_edge_goes_one_column_right():
    graph = graph_of()
    xy = graph_positions(graph)
    for edge in graph.edges:
        assert xy[edge.target][0] - xy[edge.source][0] == 1


def test_z_level_with_its_activation():
    graph = graph_of()
    xy = graph_positions(graph)
    for l, n in ((1, 3), (2, 2), (3, 1)):
        for j in range(n):
            assert xy[node_id("z", l, j)][1] == xy[node_id("a", l, j)][1]


@pytest.mark.parametrize(
    ("kind", "layer", "j", "k", "html"),
    [("x", 0, 1, None, "x<sub>2</sub>"),
     ("w", 2, 0, 2, "w<sub>13</sub><sup>[2]</sup>"),
     ("b", 1, 2, None, "b<sub>3</sub><sup>[1]</sup>"),
     ("J", 3, 0, None, "J")],
)
def test_node_html(kind, layer, j, k, html):
    graph = graph_of()
    assert node_html(graph.nodes[node_id(kind, layer, j, k)]) == html


# The figure


def test_figure_draws_every_node():
    graph = graph_of()
    fig = graph_figure(graph, 0)
    assert len(trace(fig, "nodes").x) == len(graph.nodes)
    assert list(trace(fig, "nodes").customdata) == list(graph.nodes)
    assert len(trace(fig, "edge values").x) == len(graph.edges)


def test_first_step_greys_all_but_cost():
    graph = graph_of()
    fills = list(trace(graph_figure(graph, 0), "nodes").marker.color)
    grey = [id for id, fill in zip(graph.nodes, fills) if fill == UNKNOWN_FILL]
    assert set(grey) == set(graph.nodes) - {"J"}


@pytest.mark.parametrize("position", range(14))
def test_numbers_fill_in_step_by_step(position):
    graph = graph_of()
    text = trace(graph_figure(graph, position), "node numbers").text
    unknown = sum("grad ?" in t for t in text)
    assert unknown == len(graph.nodes) - len(graph.known(position))


def test_last_position_shows_every_gradient():
    graph = graph_of()
    fig = graph_figure(graph, last_position(graph) + 1)
    assert UNKNOWN_FILL not in list(trace(fig, "nodes").marker.color)
    assert names(fig).count("edges passed") == 1
    assert "edges not reached" not in names(fig)
    assert "edges of this step" not in names(fig)


@pytest.mark.parametrize("position", [1, 3, 5, 7, 13])
def test_new_nodes_outlined(position):
    graph = graph_of()
    outline = list(trace(graph_figure(graph, position), "nodes").marker.line.color)
    assert outline.count(FOCUS_COLOUR) == len(graph.computed_at(position))


@pytest.mark.parametrize("position", [1, 3, 7])
def test_step_edges_carry_local_labels(position):
    graph = graph_of()
    fig = graph_figure(graph, position)
    new = {node.id for node in graph.computed_at(position)}
    edges = [edge for edge in graph.edges if edge.source in new]
    labels = [a.text for a in fig.layout.annotations if a.text.startswith("×")]
    assert len(labels) == len(edges)
    # Each step edge is one polyline of 4 points: source, arrow, target, gap.
    assert len(trace(fig, "edges of this step").x) == 4 * len(edges)


def test_too_many_local_labels_are_dropped():
    graph = graph_of((2, 6, 6, 1))
    position = next(n.step for n in graph.nodes.values()
                    if n.kind == "w" and n.layer == 2)
    fig = graph_figure(graph, position)
    assert not [a for a in fig.layout.annotations if a.text.startswith("×")]


@pytest.mark.parametrize(("sizes", "tallest"), [((2, 3, 2, 1), 11), ((2, 6, 1), 20),
                                                ((2, 6, 6, 6, 1), 48)])
def test_tallest_column_counts_nodes(sizes, tallest):
    assert tallest_column(graph_of(sizes)) == tallest


def test_default_graph_has_text():
    fig = graph_figure(graph_of(), 3)
    assert "node numbers" in names(fig)
    assert trace(fig, "nodes").mode == "markers+text"


@pytest.mark.parametrize("sizes", [(2, 6, 1), (2, 6, 6, 6, 1)])
def test_tall_graph_drops_text(sizes):
    graph = graph_of(sizes)
    assert tallest_column(graph) > MAX_LABELLED_COLUMN
    fig = graph_figure(graph, 3)
    assert "node numbers" not in names(fig)
    assert trace(fig, "nodes").mode == "markers"


def test_selected_node_outlined_black():
    graph = graph_of()
    fig = graph_figure(graph, 0, selected=node_id("w", 1, 0, 1))
    widths = list(trace(fig, "nodes").marker.line.width)
    index = list(graph.nodes).index(node_id("w", 1, 0, 1))
    assert widths[index] == max(widths)


def test_hover_writes_chain_rule():
    graph = graph_of()
    fig = graph_figure(graph, last_position(graph), digits=5)
    hover = trace(fig, "nodes").hovertext
    index = list(graph.nodes).index(node_id("w", 3, 0, 0))
    gradient = graph.nodes[node_id("w", 3, 0, 0)].gradient
    assert f"{gradient:.5g}".replace("-", "−") in hover[index]
    assert "upstream × local" in hover[index]
    assert "not reached" in trace(graph_figure(graph, 0), "nodes").hovertext[index]


def test_gradient_scale_centred_on_zero():
    graph = graph_of()
    scale = trace(graph_figure(graph, 0), "gradient scale").marker
    largest = max(abs(n.gradient) for n in graph.nodes.values() if n.kind != "J")
    assert scale.cmin == -scale.cmax
    assert scale.cmax == pytest.approx(largest)


# Chain-rule LaTeX


def test_chain_row_of_weight():
    graph = graph_of()
    w = graph.nodes[node_id("w", 3, 0, 1)]
    z = graph.nodes[node_id("z", 3, 0)]
    a = graph.nodes[node_id("a", 2, 1)]
    row = chain_rule_row(graph, w.id)
    assert row.startswith(r"dw^{[3]}_{12} &= dz^{[3]}_{1}\, a^{[2]}_{2} = ")
    assert number(z.gradient) in row
    assert number(a.value) in row
    assert row.endswith(f"= {number(w.gradient)}")


def test_chain_row_sums_two_paths():
    graph = graph_of()
    row = chain_rule_row(graph, node_id("a", 1, 0))
    assert row.count("dz^{[2]}") == 2
    # After `&=`: the symbols, the numbers, the products and the result.
    assert row.count(" = ") == 3


def test_chain_row_of_cost():
    assert chain_rule_row(graph_of(), "J") == r"\frac{\partial J}{\partial J} &= 1"


def test_chain_equations_balanced():
    graph = graph_of()
    latex = chain_rule_equations(graph, list(graph.nodes))
    assert_balanced(latex)
    assert latex.count(r" \\ ") == len(graph.nodes) - 1


def test_chain_row_local_of_activation():
    graph = graph_of()
    row = chain_rule_row(graph, node_id("z", 2, 0))
    assert r"da^{[2]}_{1}\, g^{[2]\prime}(z^{[2]}_{1})" in row
    assert bmatrix(1.0) in row  # ReLU slope 1 at a positive z
