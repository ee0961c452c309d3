"""The diagram of a small fully connected network, for one example.

Signed values share one diverging scale centred on zero: red is negative,
white zero, blue positive. Neurons are coloured by their activation and
edges by their weight, and an edge grows wider with the weight's size.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from engine.layers import Activation
from engine.network import Sequential
from engine.steps import Step

# plotly.py 7.1 expands this name to a list from red (low) to blue (high).
SCALE = "RdBu"
NEURON_SIZE = 48  # marker diameter in pixels, room for a 5-character value
NEURON_DIGITS = 3  # significant digits written inside a neuron
MAX_EDGE_WIDTH = 7.0
FADED = 0.45  # opacity of the neurons a focus does not point at
FADED_EDGE = "rgba(150, 150, 150, 0.3)"
FOCUS_COLOUR = "#f59e0b"
FOCUS_FILL = "#fff7de"
FOCUS_TEXT = "#b45309"
MAX_EDGE_LABELS = 12  # more labels than this on one layer overlap


@dataclass(frozen=True)
class Focus:
    """The part of the diagram that one step of a pass works on.

    `layer` is the layer whose neurons are outlined. When `values` is given,
    they are written inside those neurons, under the column tag `symbol`.
    `edges` is the layer whose incoming edges stay in colour while the
    others turn grey. Those edges are coloured by `edge_values` (shaped like
    that layer's `W`, for example `dW`) when given, else by the weights.
    Symbols use Plotly's subset of HTML, for example `dZ<sup>[2]</sup>`.
    """

    layer: int | None = None
    symbol: str = ""
    values: np.ndarray | None = None
    edges: int | None = None
    edge_symbol: str = "w"
    edge_values: np.ndarray | None = None


@dataclass(frozen=True)
class _Forward:
    """The weights and the values of one example, layer by layer."""

    W: list[np.ndarray]  # W[l - 1] is W^{[l]}, (n_l, n_{l-1})
    Z: list[np.ndarray]  # Z[l - 1] is Z^{[l]}, (n_l,)
    A: list[np.ndarray]  # A[l] is A^{[l]}, (n_l,); A[0] is the input


def _unpack(steps: Sequence[Step]) -> _Forward:
    """Collect the weights and the single example's values from forward steps."""
    linear = [step for step in steps if step.op == "linear"]
    activation = [step for step in steps if step.op == "activation"]
    if not linear or len(linear) != len(activation):
        raise ValueError(
            "expected the forward steps of dense layers, each followed by an "
            f"activation, got the ops {[step.op for step in steps]}"
        )
    A_0 = linear[0].inputs["A_prev"][0]
    return _Forward(
        W=[step.inputs["W"] for step in linear],
        Z=[step.outputs["Z"][0] for step in linear],
        A=[A_0] + [step.outputs["A"][0] for step in activation],
    )


def layer_titles(network: Sequential) -> list[str]:
    """Return a column title per layer, input first, naming each activation.

    Each title has two lines, `<br>` between them, so that narrow columns
    do not run into each other.
    """
    activations = [layer for layer in network.layers if isinstance(layer, Activation)]
    hidden = [f"Hidden {l}<br>{a.title}" for l, a in enumerate(activations[:-1], 1)]
    return ["Input", *hidden, f"Output<br>{activations[-1].title}"]


def neuron_positions(sizes: Sequence[int]) -> list[np.ndarray]:
    """Return the `(n_l, 2)` coordinates of each layer's neurons.

    Layer `l` sits at `x = l`; its neurons are one unit apart, centred on
    `y = 0`, with the first at the top.
    """
    return [
        np.column_stack([np.full(n, l), (n - 1) / 2 - np.arange(n)])
        for l, n in enumerate(sizes)
    ]


def neuron_name(l: int, j: int, L: int) -> str:
    """Return the HTML name of neuron `j` (from 0) of layer `l` of `L`."""
    if l == 0:
        return f"x<sub>{j + 1}</sub>"
    name = f"a<sub>{j + 1}</sub><sup>[{l}]</sup>"
    return f"ŷ = {name}" if l == L and j == 0 else name


def _format(x: float, digits: int) -> str:
    """Format a number for a label, with a true minus sign and no `-0`."""
    text = f"{float(x):.{digits}g}"
    return "0" if text == "-0" else text.replace("-", "−")


def _largest(arrays: Sequence[np.ndarray]) -> float:
    """Return the largest absolute value, or 1 when all are zero or none given."""
    largest = max((float(np.max(np.abs(a))) for a in arrays), default=0.0)
    return largest if largest > 0 else 1.0


@dataclass(frozen=True)
class _Edges:
    """The values that colour each layer's edges, and the layers in colour."""

    values: list[np.ndarray]  # per layer, shaped like W
    symbols: list[str]  # per layer, the HTML name of the values
    lit: list[int]  # the layers drawn in colour, the others grey
    m: float  # the largest absolute value drawn in colour


def _edge_colouring(W: Sequence[np.ndarray], focus: Focus | None) -> _Edges:
    L = len(W)
    values = list(W)
    symbols = [f"w<sup>[{l}]</sup>" for l in range(1, L + 1)]
    lit = list(range(1, L + 1))
    if focus is not None:
        lit = [] if focus.edges is None else [focus.edges]
    if focus is not None and focus.edges is not None and focus.edge_values is not None:
        values[focus.edges - 1] = focus.edge_values
        symbols[focus.edges - 1] = focus.edge_symbol
    return _Edges(values, symbols, lit, _largest([values[l - 1] for l in lit]))


def _edge_traces(edges: _Edges, positions: list[np.ndarray]) -> list[go.Scatter]:
    """Draw each edge as a line: coloured on the lit layers, else faded grey.

    `values[l - 1][j, k]` belongs to the edge from neuron `k` of layer `l - 1`
    to neuron `j` of layer `l`.
    """
    traces = []
    for l, V in enumerate(edges.values, start=1):
        for j, k in np.ndindex(V.shape):
            colour, width = FADED_EDGE, 1.5
            if l in edges.lit:
                position = (V[j, k] + edges.m) / (2 * edges.m)  # 0 to 1
                colour = sample_colorscale(SCALE, [position])[0]
                width = 1 + (MAX_EDGE_WIDTH - 1) * abs(V[j, k]) / edges.m
            start, end = positions[l - 1][k], positions[l][j]
            traces.append(go.Scatter(
                x=[start[0], end[0]], y=[start[1], end[1]], mode="lines",
                line={"color": colour, "width": width}, hoverinfo="skip",
                showlegend=False, name=f"edge {l}",
            ))
    return traces


def _edge_hover_trace(
    edges: _Edges, positions: list[np.ndarray], digits: int
) -> go.Scatter:
    """Put an invisible marker at the middle of each edge that shows its value."""
    x, y, text = [], [], []
    L = len(edges.values)
    for l, V in enumerate(edges.values, start=1):
        for j, k in np.ndindex(V.shape):
            middle = (positions[l - 1][k] + positions[l][j]) / 2
            x.append(middle[0])
            y.append(middle[1])
            text.append(
                f"{edges.symbols[l - 1]}<sub>{j + 1}{k + 1}</sub> = "
                f"{_format(V[j, k], digits)}<br>"
                f"from {neuron_name(l - 1, k, L)} to {neuron_name(l, j, L)}"
            )
    return go.Scatter(
        x=x, y=y, mode="markers", marker={"size": 14, "opacity": 0},
        hovertext=text, hoverinfo="text", showlegend=False, name="edge values",
    )


def _colorbar(title: str, x: float) -> dict:
    """Place a colour bar under the diagram, centred at `x` of its width."""
    return {
        "title": {"text": title, "side": "top"}, "orientation": "h", "x": x,
        "xanchor": "center", "y": -0.02, "yanchor": "top", "len": 0.42,
        "thickness": 12,
    }


def _neuron_trace(
    forward: _Forward, positions: list[np.ndarray], focus: Focus | None, digits: int
) -> go.Scatter:
    """Draw the neurons, filled by activation and labelled with its value."""
    A = np.concatenate(forward.A)
    m = _largest([A])
    xy = np.concatenate(positions)
    L = len(forward.W)
    layer = np.concatenate([np.full(len(A_l), l) for l, A_l in enumerate(forward.A)])
    focused = (layer == focus.layer) if focus is not None else np.zeros(len(A), bool)
    faded = (~focused) if focus is not None else np.zeros(len(A), bool)
    hover = []
    for l, A_l in enumerate(forward.A):
        for j, a in enumerate(A_l):
            z = "" if l == 0 else f"z = {_format(forward.Z[l - 1][j], digits)}<br>"
            hover.append(f"{neuron_name(l, j, L)}<br>{z}a = {_format(a, digits)}")
    dark = (np.abs(A) > 0.6 * m) & ~faded  # white text only on a strong fill
    return go.Scatter(
        x=xy[:, 0], y=xy[:, 1], mode="markers+text",
        marker={
            "size": NEURON_SIZE, "color": A, "colorscale": SCALE, "cmin": -m,
            "cmax": m, "opacity": np.where(faded, FADED, 1.0),
            "line": {"color": np.where(focused, FOCUS_COLOUR, "#555"),
                     "width": np.where(focused, 4, 1.5)},
            "showscale": True, "colorbar": _colorbar("activation a", 0.23),
        },
        text=[_format(a, NEURON_DIGITS) for a in A],
        textfont={"color": np.where(dark, "white", "black"), "size": 12},
        hovertext=hover, hoverinfo="text", showlegend=False, name="neurons",
    )


def _focus_trace(
    positions: list[np.ndarray], focus: Focus, L: int, digits: int
) -> go.Scatter:
    """Cover the focused neurons with their values, such as their `dZ`.

    The values go inside the neurons, where they fit however many columns
    the diagram has; the hover text gives them with `digits` digits.
    """
    xy = positions[focus.layer]
    hover = [
        f"{focus.symbol}<sub>{j + 1}</sub> = {_format(v, digits)}<br>"
        f"at {neuron_name(focus.layer, j, L)}"
        for j, v in enumerate(focus.values)
    ]
    return go.Scatter(
        x=xy[:, 0], y=xy[:, 1], mode="markers+text",
        marker={"size": NEURON_SIZE, "color": FOCUS_FILL,
                "line": {"color": FOCUS_COLOUR, "width": 4}},
        text=[f"<b>{_format(v, NEURON_DIGITS)}</b>" for v in focus.values],
        textfont={"size": 11, "color": "#222"},
        hovertext=hover, hoverinfo="text", showlegend=False, name="focus",
    )


def _edge_scale_trace(m: float, title: str) -> go.Scatter:
    """Carry the colour bar of the edges on a trace with no visible point."""
    return go.Scatter(
        x=[None], y=[None], mode="markers",
        marker={"color": [0.0], "colorscale": SCALE, "cmin": -m, "cmax": m,
                "showscale": True, "colorbar": _colorbar(title, 0.77)},
        hoverinfo="skip", showlegend=False, name="edge scale",
    )


def _annotations(
    forward: _Forward, positions: list[np.ndarray], titles: Sequence[str],
    focus: Focus | None, digits: int,
) -> list[dict]:
    """Title every column, name every neuron, and name what the focus shows."""
    L = len(forward.W)
    top = max(float(xy[0, 1]) for xy in positions)
    notes = [
        {"x": l, "y": top + 0.62, "yanchor": "bottom", "showarrow": False,
         "text": "<br>".join(f"<b>{line}</b>" for line in title.split("<br>")),
         "font": {"size": 13, "color": "#222"}}
        for l, title in enumerate(titles)
    ]
    notes += [
        {"x": x, "y": y, "yshift": -NEURON_SIZE / 2 - 10, "showarrow": False,
         "text": neuron_name(l, j, L), "font": {"size": 12, "color": "#333"}}
        for l, xy in enumerate(positions)
        for j, (x, y) in enumerate(xy)
    ]
    if focus is None:
        return notes
    if focus.layer is not None and focus.values is not None:
        x, y = positions[focus.layer][0]
        notes.append(
            {"x": x, "y": y, "yshift": NEURON_SIZE / 2 + 2, "yanchor": "bottom",
             "showarrow": False, "text": f"<b>{focus.symbol}</b>",
             "font": {"size": 13, "color": FOCUS_TEXT}}
        )
    if focus.edges is not None and focus.edge_values is not None:
        notes += _edge_labels(positions, focus.edges, focus.edge_values, digits)
    return notes


def _edge_labels(
    positions: list[np.ndarray], l: int, V: np.ndarray, digits: int
) -> list[dict]:
    """Write each value on its edge, a little nearer layer `l - 1`.

    Off the middle, because edges that cross tend to cross there.
    """
    if V.size > MAX_EDGE_LABELS:
        return []
    notes = []
    for j, k in np.ndindex(V.shape):
        x, y = 0.55 * positions[l - 1][k] + 0.45 * positions[l][j]
        notes.append({"x": x, "y": y, "text": _format(V[j, k], digits),
                      "showarrow": False, "font": {"size": 12, "color": "#222"},
                      "bgcolor": "rgba(255, 255, 255, 0.9)"})
    return notes


def network_figure(
    steps: Sequence[Step],
    titles: Sequence[str] | None = None,
    focus: Focus | None = None,
    digits: int = 4,
) -> go.Figure:
    """Draw the network of the forward `steps` of one example.

    `steps` are the `linear` and `activation` steps that `Sequential.forward`
    records; `titles` head the columns, input first. A `focus` outlines the
    neurons and edges that one step of a pass works on and fades the rest.
    Labels and hover texts show `digits` significant digits.
    """
    forward = _unpack(steps)
    sizes = [len(A_l) for A_l in forward.A]
    L = len(forward.W)
    titles = titles or ["Input"] + [f"Layer {l}" for l in range(1, L + 1)]
    if len(titles) != L + 1:
        raise ValueError(f"expected {L + 1} titles, one per column, got {len(titles)}")
    positions = neuron_positions(sizes)
    edges = _edge_colouring(forward.W, focus)

    fig = go.Figure(_edge_traces(edges, positions))
    fig.add_trace(_edge_hover_trace(edges, positions, digits))
    fig.add_trace(_neuron_trace(forward, positions, focus, digits))
    if focus is not None and focus.layer is not None and focus.values is not None:
        fig.add_trace(_focus_trace(positions, focus, L, digits))
    if edges.lit:
        title = "weight w" if focus is None else edges.symbols[edges.lit[0] - 1]
        fig.add_trace(_edge_scale_trace(edges.m, title))

    half = max(sizes) / 2
    fig.update_layout(
        annotations=_annotations(forward, positions, titles, focus, digits),
        height=200 + 80 * max(sizes),
        margin={"l": 10, "r": 10, "t": 10, "b": 70},
        xaxis={"visible": False, "range": [-0.45, L + 0.45]},
        yaxis={"visible": False, "range": [-half - 0.05, half + 0.95]},
        plot_bgcolor="white",
        hoverlabel={"bgcolor": "white"},
    )
    return fig


def backward_focus(step: Step) -> Focus:
    """Return what the diagram points at for one step of the backward pass.

    The cost outlines the output layer. `dA`, `dZ` and `db` write their
    values into the neurons of their layer. `dW` colours the edges into its
    layer by the gradient and writes `dZ` into the neurons, because row `j`
    of `dW` is `dZ_j` times the activations below. `dA_prev` writes into the
    previous layer and keeps the edges it flows back along in colour.
    """
    l, op = step.index, step.op
    if op == "cost":
        return Focus(layer=l)
    if op in ("dA", "dZ"):
        return Focus(l, f"{op}<sup>[{l}]</sup>", step.outputs[op][0])
    if op == "db":
        return Focus(l, f"db<sup>[{l}]</sup>", step.outputs["db"])
    if op == "dW":
        return Focus(
            l, f"dZ<sup>[{l}]</sup>", step.inputs["dZ"][0], edges=l,
            edge_symbol=f"dW<sup>[{l}]</sup>", edge_values=step.outputs["dW"],
        )
    if op == "dA_prev":
        return Focus(
            l - 1, f"dA<sup>[{l - 1}]</sup>", step.outputs["dA_prev"][0], edges=l
        )
    raise ValueError(
        f"backward_focus takes the ops cost, dA, dZ, dW, db and dA_prev, got {op!r}"
    )

