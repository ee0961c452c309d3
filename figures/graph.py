"""The computational graph of one example, drawn left to right.

Each scalar of `engine.graph.Graph` is a marker: circles for the inputs, the
pre-activations `z` and the activations `a`, squares for weights, diamonds
for biases and a hexagon for the cost `J`. Parameters of layer `l` share a
column with that layer's inputs, so every edge runs from one column to the
next. Under each node are its value and its gradient; a node that the
backward pass has not reached yet is grey and shows `grad ?`.
"""

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from engine.graph import Graph, Node, chain_terms, node_id
from figures.network import FOCUS_COLOUR, SCALE

PITCH = 1.0  # vertical distance between neighbouring nodes of a column
GROUP_GAP = 0.45  # extra room between the parameters of different neurons
PX_PER_UNIT = 76  # figure height per unit of y, with labels
DENSE_PX_PER_UNIT = 26  # the same without labels
# A taller column makes a labelled figure over 1400 px high, so only the
# hover texts show the numbers of such a graph.
MAX_LABELLED_COLUMN = 16
LABEL_DIGITS = 3  # significant digits written on the graph; hover uses more
MAX_EDGE_LABELS = 12  # local derivatives written on the edges of one step
ARROW_AT = 0.72  # the arrowhead's place along an edge, from its source
LOCAL_AT = 0.45  # the local derivative's place along an edge, from its source
UNKNOWN_FILL = "#e5e7eb"
UNKNOWN_LINE = "#9ca3af"
KNOWN_LINE = "#374151"
EDGE_AHEAD = "rgba(156, 163, 175, 0.45)"
EDGE_DONE = "rgba(71, 85, 105, 0.75)"
SYMBOLS = {"x": "circle", "w": "square", "b": "diamond", "z": "circle",
           "a": "circle", "J": "hexagon"}
SIZES = {"x": 26, "w": 19, "b": 21, "z": 27, "a": 27, "J": 34}
KIND_NAMES = {"x": "input", "w": "weight", "b": "bias", "z": "pre-activation",
              "a": "activation", "J": "cost"}


def column(node: Node) -> int:
    """Return the column of a node: x, w and b of layer 1 are column 0.

    Layer `l` has its `z` in column `2l - 1` and its `a` in column `2l`,
    which also contains the weights and biases of layer `l + 1`. The cost
    comes last.
    """
    if node.kind in ("x", "w", "b"):
        return 2 * (node.layer - 1) if node.kind != "x" else 0
    if node.kind == "z":
        return 2 * node.layer - 1
    if node.kind == "a":
        return 2 * node.layer
    return 2 * node.layer + 1


def tallest_column(graph: Graph) -> int:
    """Return the number of nodes in the fullest column of the graph."""
    counts: dict[int, int] = {}
    for node in graph.nodes.values():
        counts[column(node)] = counts.get(column(node), 0) + 1
    return max(counts.values())


def has_labels(graph: Graph) -> bool:
    """Return whether `graph_figure` writes names and numbers on the graph."""
    return tallest_column(graph) <= MAX_LABELLED_COLUMN


def _isotonic_decreasing(values: list[float]) -> list[float]:
    """Return the non-increasing sequence closest to `values` in least squares.

    The pool-adjacent-violators algorithm: a value above the block before it
    merges into that block, which takes the mean of its members.
    """
    blocks: list[list[float]] = []  # [sum, count] of each block
    for value in values:
        blocks.append([value, 1])
        while len(blocks) > 1 and (
            blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]
        ):
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    return [total / count for total, count in blocks for _ in range(int(count))]


def pack(desired: list[float], gaps: list[float]) -> list[float]:
    """Place points top to bottom, each at least `gaps[i]` above the next.

    The points keep their order and land as close to `desired` as the gaps
    allow, in least squares. Shifting point `i` up by the sum of the gaps
    before it turns the gaps into "non-increasing", which isotonic
    regression solves.
    """
    offsets = np.concatenate([[0.0], np.cumsum(gaps)])
    shifted = _isotonic_decreasing(list(np.asarray(desired) + offsets))
    return list(np.asarray(shifted) - offsets)


@dataclass(frozen=True)
class _Item:
    """A node waiting for its place in a column, with where it would like to be."""

    desired: float
    id: str
    group: tuple[str, int]


def _mixed_column(graph: Graph, l: int, y: dict[str, float]) -> None:
    """Place the inputs of layer `l` and its parameters, grouped by neuron.

    The parameters of neuron `j` are stacked around the middle of slot `j`.
    The inputs sit level with the `z` they come from, or spread between the
    slots for layer 1. Then `pack` keeps every two nodes apart.
    """
    n_in, n_out = graph.sizes[l - 1], graph.sizes[l]
    size = n_in + 1
    slot = size * PITCH + GROUP_GAP
    centres = [((n_out - 1) / 2 - j) * slot for j in range(n_out)]
    items = []
    for j, centre in enumerate(centres):
        ids = [node_id("w", l, j, k) for k in range(n_in)] + [node_id("b", l, j)]
        items += [_Item(centre + ((size - 1) / 2 - i) * PITCH, id, ("group", j))
                  for i, id in enumerate(ids)]
    for k in range(n_in):
        if l == 1:
            top, bottom = centres[0], centres[-1]
            desired = top - (top - bottom) * (k + 1) / (n_in + 1)
            items.append(_Item(desired, node_id("x", 0, k), ("input", k)))
        else:
            items.append(_Item(y[node_id("z", l - 1, k)], node_id("a", l - 1, k),
                               ("input", k)))
    items.sort(key=lambda item: -item.desired)
    gaps = [PITCH if a.group == b.group else PITCH + GROUP_GAP
            for a, b in pairwise(items)]
    for item, value in zip(items, pack([item.desired for item in items], gaps)):
        y[item.id] = value
    group_means = []
    for j in range(n_out):
        ids = [node_id("w", l, j, k) for k in range(n_in)] + [node_id("b", l, j)]
        group_means.append(float(np.mean([y[id] for id in ids])))
    for j, value in enumerate(pack(group_means, [PITCH] * (n_out - 1))):
        y[node_id("z", l, j)] = value


def graph_positions(graph: Graph) -> dict[str, tuple[float, float]]:
    """Return `(x, y)` of every node: its column and its height in it."""
    L = len(graph.sizes) - 1
    y: dict[str, float] = {}
    for l in range(1, L + 1):
        _mixed_column(graph, l, y)
    # A z and its a sit level, so the path of the data reads straight across.
    # Each a^{[l]} below the output is placed with the next layer's
    # parameters, and its z follows it.
    for l in range(1, L):
        for j in range(graph.sizes[l]):
            y[node_id("z", l, j)] = y[node_id("a", l, j)]
    for j in range(graph.sizes[L]):
        y[node_id("a", L, j)] = y[node_id("z", L, j)]
    y["J"] = float(np.mean([y[node_id("a", L, j)] for j in range(graph.sizes[L])]))
    return {id: (float(column(node)), float(y[id])) for id, node in graph.nodes.items()}


def node_html(node: Node) -> str:
    """Return a node's name in Plotly's HTML, like `w<sub>12</sub><sup>[1]</sup>`."""
    if node.kind == "J":
        return "J"
    if node.kind == "x":
        return f"x<sub>{node.j + 1}</sub>"
    index = f"{node.j + 1}{node.k + 1}" if node.kind == "w" else f"{node.j + 1}"
    return f"{node.kind}<sub>{index}</sub><sup>[{node.layer}]</sup>"


def _format(x: float, digits: int) -> str:
    """Format a number with a true minus sign and no `-0`."""
    text = f"{float(x):.{digits}g}"
    return "0" if text == "-0" else text.replace("-", "−")


def _gradient_scale(graph: Graph) -> float:
    """Return the largest |gradient| of any node but `J`, whose gradient is 1."""
    values = [abs(node.gradient) for node in graph.nodes.values() if node.kind != "J"]
    largest = max(values, default=0.0)
    return largest if largest > 0 else 1.0


def _fill(gradient: float, m: float) -> str:
    position = (np.clip(gradient, -m, m) + m) / (2 * m)  # 0 to 1
    return sample_colorscale(SCALE, [float(position)])[0]


def _chain_text(graph: Graph, node: Node, digits: int) -> str:
    """Write a node's gradient as its chain-rule sum, for the hover text."""
    terms = chain_terms(graph, node.id)
    if not terms:
        return "∂J/∂J = 1 by definition"
    products = " + ".join(
        f"({_format(term.upstream, digits)})({_format(term.edge.local, digits)})"
        for term in terms
    )
    return (f"= Σ upstream × local = {products}<br>"
            f"= {_format(node.gradient, digits)}")


def _node_hover(graph: Graph, node: Node, known: bool, digits: int) -> str:
    head = (f"<b>{node_html(node)}</b>, {KIND_NAMES[node.kind]}<br>"
            f"value {_format(node.value, digits)}<br>")
    if not known:
        return head + "gradient not reached yet: press Next step"
    return (head + f"gradient ∂J/∂{node_html(node)} {_chain_text(graph, node, digits)}")


@dataclass(frozen=True)
class _NodeStyle:
    fill: list[str]
    line: list[str]
    width: list[float]
    size: list[float]


def _node_style(graph: Graph, position: int, selected: str | None,
                scale: float) -> _NodeStyle:
    """Colour known nodes by gradient and grey the others; outline the new ones."""
    m = _gradient_scale(graph)
    fill, line, width, size = [], [], [], []
    for node in graph.nodes.values():
        known, new = node.step <= position, node.step == position
        fill.append(_fill(node.gradient, m) if known else UNKNOWN_FILL)
        if new:
            line.append(FOCUS_COLOUR)
            width.append(4.0)
        elif known:
            line.append(KNOWN_LINE)
            width.append(1.5)
        else:
            line.append(UNKNOWN_LINE)
            width.append(1.0)
        if node.id == selected:
            line[-1], width[-1] = "#111827", 5.0
        size.append(SIZES[node.kind] * scale)
    return _NodeStyle(fill, line, width, size)


def _numbers_text(node: Node, known: bool) -> str:
    """Write the value and, in its colour, the gradient of a node."""
    value = _format(node.value, LABEL_DIGITS)
    if not known:
        return f"{value}<br><span style='color:{UNKNOWN_LINE}'>grad ?</span>"
    colour = "#b91c1c" if node.gradient < 0 else "#1d4ed8"
    if node.gradient == 0:
        colour = "#4b5563"
    gradient = _format(node.gradient, LABEL_DIGITS)
    return f"{value}<br><span style='color:{colour}'>grad {gradient}</span>"


def _node_traces(graph: Graph, xy: dict, position: int, digits: int,
                 selected: str | None, labelled: bool) -> list[go.Scatter]:
    """Draw the nodes with their names above and their numbers below."""
    nodes = list(graph.nodes.values())
    x = [xy[node.id][0] for node in nodes]
    y = [xy[node.id][1] for node in nodes]
    scale = 1.0 if labelled else 0.6
    style = _node_style(graph, position, selected, scale)
    known = [node.step <= position for node in nodes]
    markers = go.Scatter(
        x=x, y=y, mode="markers+text" if labelled else "markers",
        marker={"symbol": [SYMBOLS[node.kind] for node in nodes],
                "size": style.size, "color": style.fill, "opacity": 1.0,
                "line": {"color": style.line, "width": style.width}},
        text=[node_html(node) for node in nodes], textposition="top center",
        textfont={"size": 12, "color": "#111827"},
        hovertext=[_node_hover(graph, node, is_known, digits)
                   for node, is_known in zip(nodes, known)],
        hoverinfo="text", customdata=[node.id for node in nodes],
        showlegend=False, name="nodes",
    )
    if not labelled:
        return [markers]
    numbers = go.Scatter(
        x=x, y=y, mode="markers+text",
        marker={"size": style.size, "opacity": 0},
        text=[_numbers_text(node, k) for node, k in zip(nodes, known)],
        textposition="bottom center", textfont={"size": 11, "color": "#111827"},
        hoverinfo="skip", showlegend=False, name="node numbers",
    )
    return [numbers, markers]


def _edge_state(graph: Graph, source: str, position: int) -> str:
    """Say whether the gradient has passed an edge: "ahead", "done" or "now"."""
    step = graph.nodes[source].step
    if step == position:
        return "now"
    return "done" if step < position else "ahead"


EDGE_STYLES = {
    "ahead": ("edges not reached", EDGE_AHEAD, 1.2, 7),
    "done": ("edges passed", EDGE_DONE, 1.6, 8),
    "now": ("edges of this step", FOCUS_COLOUR, 3.2, 12),
}


def _edge_traces(graph: Graph, xy: dict, position: int) -> list[go.Scatter]:
    """Draw the edges, one trace per state, each with an arrowhead.

    An edge is the polyline source, arrowhead point, target; the arrow
    marker turns to the direction it arrives from (`angleref="previous"`).
    """
    traces = []
    for state, (name, colour, width, arrow) in EDGE_STYLES.items():
        x: list[float | None] = []
        y: list[float | None] = []
        sizes: list[float] = []
        for edge in graph.edges:
            if _edge_state(graph, edge.source, position) != state:
                continue
            (x0, y0), (x1, y1) = xy[edge.source], xy[edge.target]
            xm, ym = x0 + ARROW_AT * (x1 - x0), y0 + ARROW_AT * (y1 - y0)
            x += [x0, xm, x1, None]
            y += [y0, ym, y1, None]
            sizes += [0, arrow, 0, 0]
        if not x:
            continue
        traces.append(go.Scatter(
            x=x, y=y, mode="lines+markers", name=name, hoverinfo="skip",
            line={"color": colour, "width": width},
            marker={"symbol": "arrow", "size": sizes, "color": colour,
                    "angleref": "previous"},
            showlegend=False,
        ))
    return traces


def _edge_hover_trace(graph: Graph, xy: dict, position: int,
                      digits: int) -> go.Scatter:
    """Put an invisible marker on each edge that shows its local derivative."""
    x, y, text = [], [], []
    for edge in graph.edges:
        source, target = graph.nodes[edge.source], graph.nodes[edge.target]
        (x0, y0), (x1, y1) = xy[edge.source], xy[edge.target]
        x.append(x0 + 0.45 * (x1 - x0))
        y.append(y0 + 0.45 * (y1 - y0))
        local = (f"local ∂{node_html(target)}/∂{node_html(source)} = "
                 f"{_format(edge.local, digits)}")
        if target.step <= position:
            upstream = _format(target.gradient, digits)
            product = _format(target.gradient * edge.local, digits)
            local += (f"<br>upstream ∂J/∂{node_html(target)} = {upstream}"
                      f"<br>product = {product}")
        text.append(local)
    return go.Scatter(
        x=x, y=y, mode="markers", marker={"size": 12, "opacity": 0},
        hovertext=text, hoverinfo="text", showlegend=False, name="edge values",
    )


def _local_labels(graph: Graph, xy: dict, position: int) -> list[dict]:
    """Write the local derivative on each edge the current step uses."""
    edges = [edge for edge in graph.edges
             if _edge_state(graph, edge.source, position) == "now"]
    if len(edges) > MAX_EDGE_LABELS:
        return []
    notes = []
    for edge in edges:
        (x0, y0), (x1, y1) = xy[edge.source], xy[edge.target]
        notes.append({
            "x": x0 + LOCAL_AT * (x1 - x0), "y": y0 + LOCAL_AT * (y1 - y0),
            "text": f"×{_format(edge.local, LABEL_DIGITS)}",
            "showarrow": False, "font": {"size": 11, "color": "#92400e"},
            "bgcolor": "rgba(255, 247, 222, 0.95)", "bordercolor": FOCUS_COLOUR,
            "borderwidth": 1, "borderpad": 2,
        })
    return notes


def _column_titles(graph: Graph, top: float) -> list[dict]:
    """Name what each column holds, above its highest node."""
    L = len(graph.sizes) - 1
    titles = ["x, w<sup>[1]</sup>, b<sup>[1]</sup>"]
    for l in range(1, L + 1):
        titles.append(f"z<sup>[{l}]</sup>")
        after = f", w<sup>[{l + 1}]</sup>, b<sup>[{l + 1}]</sup>" if l < L else ""
        titles.append(f"a<sup>[{l}]</sup>{after}")
    titles.append("cost J")
    return [
        {"x": c, "y": top, "yshift": 34, "yanchor": "bottom", "showarrow": False,
         "text": f"<b>{title}</b>", "font": {"size": 13, "color": "#222"}}
        for c, title in enumerate(titles)
    ]


def _colour_bar_trace(m: float) -> go.Scatter:
    """Carry the colour bar of the gradients on a trace with no visible point."""
    return go.Scatter(
        x=[None], y=[None], mode="markers",
        marker={"color": [0.0], "colorscale": SCALE, "cmin": -m, "cmax": m,
                "showscale": True,
                "colorbar": {"title": {"text": "gradient ∂J/∂node", "side": "top"},
                             "orientation": "h", "x": 0.5, "xanchor": "center",
                             "y": -0.01, "yanchor": "top", "len": 0.4,
                             "thickness": 12}},
        hoverinfo="skip", showlegend=False, name="gradient scale",
    )


def graph_figure(graph: Graph, position: int, digits: int = 4,
                 selected: str | None = None) -> go.Figure:
    """Draw the graph as it is after backward step `position`.

    Gradients of the nodes that steps `0..position` computed are shown and
    coloured. The nodes of step `position` and the edges their gradients
    came along are orange, with each local derivative written on its edge.
    A `position` past the last backward step shows every gradient. The
    node `selected` gets a black outline. Hover texts use `digits`
    significant digits.
    """
    xy = graph_positions(graph)
    labelled = has_labels(graph)
    fig = go.Figure(_edge_traces(graph, xy, position))
    fig.add_trace(_edge_hover_trace(graph, xy, position, digits))
    for trace in _node_traces(graph, xy, position, digits, selected, labelled):
        fig.add_trace(trace)
    fig.add_trace(_colour_bar_trace(_gradient_scale(graph)))

    ys = [point[1] for point in xy.values()]
    top, bottom = max(ys), min(ys)
    unit = PX_PER_UNIT if labelled else DENSE_PX_PER_UNIT
    notes = _column_titles(graph, top)
    if labelled:
        notes += _local_labels(graph, xy, position)
    L = len(graph.sizes) - 1
    fig.update_layout(
        annotations=notes,
        height=int(unit * (top - bottom + 1.6)) + 140,
        margin={"l": 10, "r": 10, "t": 50, "b": 70},
        xaxis={"visible": False, "range": [-0.5, 2 * L + 1.5], "fixedrange": True},
        yaxis={"visible": False, "range": [bottom - 0.9, top + 0.7],
               "fixedrange": True},
        plot_bgcolor="white",
        hoverlabel={"bgcolor": "white", "align": "left"},
        dragmode=False,
    )
    return fig
