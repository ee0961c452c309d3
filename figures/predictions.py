"""Charts of one forward pass of VGG: its top classes and where its time goes."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from engine.layer_timing import LayerTime
from engine.predict import Prediction

PROBABILITY_COLOUR = "#2563eb"
TIME_COLOUR = "#dc2626"
MACS_COLOUR = "#7c3aed"  # as the multiply-accumulates of the architecture chart
BAR_PX = 44  # height of one prediction bar with its gap
CHART_MARGIN_PX = 60


def prediction_figure(predictions: Sequence[Prediction]) -> go.Figure:
    """Draw the top classes as horizontal bars, the most probable on top.

    The bars sit at positions 0, 1, ... with the class names as tick
    labels, because ImageNet repeats some names (two classes are called
    "crane"), and a categorical axis would merge their bars.
    """
    if not predictions:
        raise ValueError("expected at least one prediction, got none")
    positions = list(range(len(predictions)))
    percents = [100 * p.probability for p in predictions]
    figure = go.Figure(go.Bar(
        x=percents,
        y=positions,
        orientation="h",
        marker_color=PROBABILITY_COLOUR,
        text=[f"{percent:.1f}%" for percent in percents],
        textposition="outside",
        cliponaxis=False,
        customdata=[[p.label, p.index] for p in predictions],
        hovertemplate=("%{customdata[0]} (class %{customdata[1]})<br>"
                       "probability %{x:.2f}%<extra></extra>"),
    ))
    figure.update_yaxes(tickvals=positions,
                        ticktext=[p.label for p in predictions],
                        autorange="reversed", tickfont={"size": 14})
    figure.update_xaxes(title="probability (%)", range=[0, 100])
    figure.update_layout(
        height=CHART_MARGIN_PX + BAR_PX * len(predictions),
        margin={"l": 10, "r": 40, "t": 10, "b": 50},
        showlegend=False,
    )
    return figure


@dataclass(frozen=True)
class LayerCost:
    """One layer's measured time next to its multiply-accumulates (MACs).

    Shares are fractions of the whole forward pass, between 0 and 1.
    `macs_per_second` is zero for layers without MACs.
    """

    name: str
    seconds: float
    time_share: float
    macs: int
    macs_share: float
    macs_per_second: float


def layer_costs(timings: Sequence[LayerTime],
                macs: Mapping[str, int]) -> list[LayerCost]:
    """Pair each layer's time with its MACs; layers missing from `macs` have 0."""
    total_seconds = sum(timing.seconds for timing in timings) or 1.0
    total_macs = sum(macs.get(timing.name, 0) for timing in timings) or 1
    costs = []
    for name, seconds in timings:
        layer_macs = macs.get(name, 0)
        rate = layer_macs / seconds if seconds > 0 else 0.0
        costs.append(LayerCost(name, seconds, seconds / total_seconds,
                               layer_macs, layer_macs / total_macs, rate))
    return costs


def layer_time_figure(costs: Sequence[LayerCost]) -> go.Figure:
    """Plot each layer's share of the forward time next to its share of MACs.

    A layer whose time bar is much taller than its MACs bar runs below the
    network's average speed, for example one limited by memory traffic
    rather than arithmetic. Hovering shows milliseconds and GMAC/s.
    """
    names = [cost.name for cost in costs]
    figure = go.Figure()
    figure.add_trace(go.Bar(
        x=names,
        y=[100 * cost.time_share for cost in costs],
        name="share of the time",
        marker_color=TIME_COLOUR,
        customdata=[[1000 * cost.seconds, cost.macs_per_second / 1e9]
                    for cost in costs],
        hovertemplate=("%{x}: %{customdata[0]:.1f} ms, %{y:.1f}% of the time"
                       "<br>%{customdata[1]:.1f} GMAC/s<extra></extra>"),
    ))
    figure.add_trace(go.Bar(
        x=names,
        y=[100 * cost.macs_share for cost in costs],
        name="share of the MACs",
        marker_color=MACS_COLOUR,
        customdata=[cost.macs for cost in costs],
        hovertemplate=("%{x}: %{customdata:,} MACs, %{y:.1f}% of the total"
                       "<extra></extra>"),
    ))
    figure.update_yaxes(title="% of the forward pass")
    figure.update_xaxes(tickangle=-60)
    figure.update_layout(
        barmode="group",
        bargap=0.2,
        height=420,
        legend={"orientation": "h", "y": 1.08, "x": 0},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure
