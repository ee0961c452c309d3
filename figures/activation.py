"""Plots of an activation function's effect: its curve, and the output without it.

The first plot draws `g` with one layer's neurons marked on it. The second
compares the output of a network over its input plane with the output of
the single layer its dense layers collapse into when `g` is left out.
"""

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.layers import Activation

# The curve spans at least [-4, 4]: the kink of ReLU and most of the bend of
# tanh and sigmoid (tanh is within 0.001 of its limits at |z| = 4, sigmoid at 8).
HALF_WIDTH = 4.0
MARGIN = 1.0  # extra room beyond the outermost pre-activation
CURVE_POINTS = 401
CURVE_COLOUR = "#1f4e79"
DERIVATIVE_COLOUR = "#c2410c"


def curve_range(Z: np.ndarray) -> tuple[float, float]:
    """Return the span of `z` to draw: `[-4, 4]`, widened to hold every `Z`."""
    low = min(-HALF_WIDTH, float(np.min(Z)) - MARGIN)
    high = max(HALF_WIDTH, float(np.max(Z)) + MARGIN)
    return low, high


def activation_figure(
    activation: type[Activation],
    Z: np.ndarray,
    A: np.ndarray,
    index: int,
    g_prime: np.ndarray | None = None,
) -> go.Figure:
    """Draw `g` of layer `index` with the points `(Z_j, A_j)` of its neurons.

    `Z` and `A` are the pre-activations and activations of one example, each
    `(n,)`. With `g_prime` (the step's `g'(Z)`, `(n,)`), the derivative is
    drawn too, dashed, with the points `(Z_j, g'(Z_j))`: the factor that the
    backward pass multiplies `dA` by.
    """
    z = np.linspace(*curve_range(Z), CURVE_POINTS)
    g = activation.g(z)
    labels = [f"z<sub>{j + 1}</sub><sup>[{index}]</sup>" for j in range(len(Z))]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=z,
            y=g,
            mode="lines",
            line={"color": CURVE_COLOUR, "width": 3},
            name="g(z)",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=Z,
            y=A,
            mode="markers+text",
            marker={"size": 12, "color": CURVE_COLOUR, "line": {"color": "white",
                                                                "width": 2}},
            text=labels,
            textposition="top left",
            name="neurons (z, a)",
            hovertemplate="z = %{x:.4g}<br>a = g(z) = %{y:.4g}<extra></extra>",
        )
    )
    if g_prime is not None:
        _add_derivative(fig, activation, z, g, Z, g_prime)
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title={"text": f"{activation.title} in layer {index}", "x": 0.02},
        xaxis={"title": {"text": "z (pre-activation)"}, "zeroline": True},
        yaxis={"title": {"text": "g(z)" if g_prime is None else "g(z) and g′(z)"},
               "zeroline": True},
        legend={"orientation": "h", "y": -0.25},
        plot_bgcolor="white",
    )
    fig.update_xaxes(gridcolor="#eee", zerolinecolor="#999")
    fig.update_yaxes(gridcolor="#eee", zerolinecolor="#999")
    return fig


def _add_derivative(
    fig: go.Figure,
    activation: type[Activation],
    z: np.ndarray,
    g: np.ndarray,
    Z: np.ndarray,
    g_prime: np.ndarray,
) -> None:
    """Add the dashed curve of `g'` and the neurons' points on it."""
    fig.add_trace(
        go.Scatter(
            x=z,
            y=activation.g_prime(g),
            mode="lines",
            line={"color": DERIVATIVE_COLOUR, "width": 2, "dash": "dash"},
            name="g′(z)",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=Z,
            y=g_prime,
            mode="markers",
            marker={"size": 11, "color": DERIVATIVE_COLOUR, "symbol": "diamond"},
            name="neurons (z, g′(z))",
            hovertemplate="z = %{x:.4g}<br>g′(z) = %{y:.4g}<extra></extra>",
        )
    )


def input_grid(low: float, high: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the axis values and the `(n * n, 2)` batch of a square grid.

    Row `i * n + j` of the batch is the point `(axis[j], axis[i])`, so the
    outputs reshaped to `(n, n)` are indexed `[x2, x1]`, as heatmaps expect.
    """
    axis = np.linspace(low, high, n)
    x1, x2 = np.meshgrid(axis, axis)  # each (n, n); x1 varies along a row
    return axis, np.column_stack([x1.ravel(), x2.ravel()])


def output_surface_figure(
    axis: np.ndarray,
    network_output: np.ndarray,
    collapsed_output: np.ndarray,
    point: Sequence[float],
) -> go.Figure:
    """Show the outputs of the network and of its collapsed layer over the inputs.

    Both outputs are `(n, n)` arrays indexed `[x2, x1]` over `axis`, drawn on
    one colour scale; `point` marks the current input `(x1, x2)`.
    """
    low = float(min(network_output.min(), collapsed_output.min()))
    high = float(max(network_output.max(), collapsed_output.max()))
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.1,
        subplot_titles=("The network", "The single collapsed layer"),
    )
    for col, output in enumerate((network_output, collapsed_output), start=1):
        fig.add_trace(
            go.Heatmap(
                x=axis, y=axis, z=output, zmin=low, zmax=high, colorscale="Viridis",
                showscale=col == 1, colorbar={"title": {"text": "output"}},
                hovertemplate="x₁ = %{x:.2f}<br>x₂ = %{y:.2f}<br>"
                "output = %{z:.4g}<extra></extra>",
                name="network" if col == 1 else "collapsed layer",
            ),
            row=1, col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=[point[0]], y=[point[1]], mode="markers", showlegend=False,
                marker={"size": 13, "color": "white",
                        "line": {"color": "black", "width": 2}},
                hovertemplate="current input<extra></extra>", name="current input",
            ),
            row=1, col=col,
        )
        fig.update_xaxes(title_text="x₁", range=[axis[0], axis[-1]],
                         constrain="domain", row=1, col=col)
        fig.update_yaxes(title_text="x₂", range=[axis[0], axis[-1]],
                         scaleanchor=f"x{col}", row=1, col=col)
    fig.update_layout(height=400, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
