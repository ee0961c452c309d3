"""The architecture table of a VGG network and a chart of where its numbers are.

Each ReLU is folded into the row of the convolution or dense layer before
it: it has no parameters and keeps the shape, so a row of its own would add
length without information.
"""

import dataclasses
import math
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.conv import Conv2D, MaxPool2D
from engine.layers import Dense, Layer, ReLU
from engine.network import Sequential
from engine.vgg import INPUT_SIZE, architecture_table

PARAMETER_COLOUR = "#2563eb"
MACS_COLOUR = "#7c3aed"
VALUE_COLOUR = "#f59e0b"
FLOAT32_BYTES = 4
MIB = 2**20


@dataclass(frozen=True)
class ArchitectureRow:
    """One row of the table: a layer, with the ReLU after it folded in.

    `output_shape` leaves out the batch axis: `(C, H, W)` or `(features,)`.
    `n_values` is the number of output values per image, the product of the
    shape. `parameter_formula` writes the count as `F C k k + F` with
    numbers, empty for layers without parameters. `macs` counts the
    multiply-accumulates for one image, and `activation_bytes` the float32
    size of the output for one image. `receptive_field` is the side, in
    input pixels, of the window that one output value depends on. `jump`
    is the distance in input pixels between neighbouring output values,
    and None after the flatten, where each value depends on the whole
    input.
    """

    name: str
    operation: str
    output_shape: tuple[int, ...]
    n_params: int
    parameter_formula: str
    n_values: int
    macs: int
    activation_bytes: int
    receptive_field: int
    jump: int | None


def architecture_rows(network: Sequential) -> list[ArchitectureRow]:
    """List the input and the layers of `network`, ReLUs folded into the row before.

    Every number comes from `engine.vgg.architecture_table`.
    """
    input_shape = (3, INPUT_SIZE, INPUT_SIZE)
    n_inputs = math.prod(input_shape)
    rows = [ArchitectureRow("input", "normalised RGB photo", input_shape, 0, "",
                            n_inputs, 0, n_inputs * FLOAT32_BYTES, 1, 1)]
    entries = architecture_table(network)
    for layer, entry in zip(network.layers, entries, strict=True):
        if isinstance(layer, ReLU):
            previous = rows[-1]
            rows[-1] = dataclasses.replace(
                previous, operation=previous.operation + ", then ReLU")
            continue
        shape = entry.output_shape[1:]  # without the batch axis
        rows.append(ArchitectureRow(
            entry.name, _operation(layer), shape, entry.n_params,
            _parameter_formula(layer), math.prod(shape), entry.macs,
            entry.activation_bytes, entry.receptive_field, entry.jump))
    return rows


def _operation(layer: Layer) -> str:
    if isinstance(layer, Conv2D):
        F, _, kh, kw = layer.params["W"].shape
        return (f"{kh}×{kw} conv, {F} filters, "
                f"stride {layer.stride}, padding {layer.padding}")
    if isinstance(layer, MaxPool2D):
        k = layer.kernel
        return f"{k}×{k} max pool, stride {layer.stride}"
    if isinstance(layer, Dense):
        return "dense"
    return type(layer).__name__.lower()


def _parameter_formula(layer: Layer) -> str:
    """Write the parameter count as a product plus biases, in plain text."""
    if isinstance(layer, Conv2D):
        F, C, kh, kw = layer.params["W"].shape
        return f"{F}·{C}·{kh}·{kw} + {F}"
    if isinstance(layer, Dense):
        n_out, n_in = layer.params["W"].shape
        return f"{n_out}·{n_in} + {n_out}"
    return ""


def table_records(rows: list[ArchitectureRow]) -> list[dict[str, object]]:
    """Turn rows into records for `st.dataframe`, shapes written `C × H × W`.

    Activation memory is in MiB (2**20 bytes).
    """
    return [
        {
            "layer": row.name,
            "operation": row.operation,
            "output shape": " × ".join(str(size) for size in row.output_shape),
            "values per image": row.n_values,
            "parameters": row.n_params,
            "weights + biases": row.parameter_formula,
            "MACs": row.macs,
            "activation memory": row.activation_bytes / MIB,
            "receptive field": row.receptive_field,
            "jump": row.jump,
        }
        for row in rows
    ]


def parameter_figure(rows: list[ArchitectureRow]) -> go.Figure:
    """Plot each layer's parameters, MACs and output values per image.

    The three bar charts show VGG's well-known split: the dense layers hold
    most of the parameters, while the convolutions do most of the
    arithmetic and the first ones produce most of the values.
    """
    names = [row.name for row in rows]
    panels = [
        ("parameters", [row.n_params for row in rows], PARAMETER_COLOUR),
        ("MACs per image", [row.macs for row in rows], MACS_COLOUR),
        ("output values per image", [row.n_values for row in rows], VALUE_COLOUR),
    ]
    figure = make_subplots(rows=len(panels), cols=1, shared_xaxes=True,
                           vertical_spacing=0.07,
                           subplot_titles=[title for title, _, _ in panels])
    for position, (title, counts, colour) in enumerate(panels, start=1):
        total = sum(counts) or 1
        figure.add_trace(go.Bar(
            x=names, y=counts, marker_color=colour, name=title,
            customdata=[100 * count / total for count in counts],
            hovertemplate=(f"%{{x}}: %{{y:,}} {title} "
                           f"(%{{customdata:.1f}}%)<extra></extra>"),
        ), row=position, col=1)
    figure.update_layout(height=560, showlegend=False, bargap=0.15,
                         margin={"l": 10, "r": 10, "t": 30, "b": 10})
    figure.update_xaxes(tickangle=-60)
    return figure
