"""Sections of the VGG16 page: the photo's preprocessing, the predictions, the
architecture table and the time of each layer."""

import streamlit as st

from engine.images import (
    CAFFE_MEAN_BGR,
    CROP,
    IMAGENET_MEAN,
    IMAGENET_STD,
    RESIZE_TO,
    center_crop_offsets,
    enlargement_note,
)
from engine.recipes import RECIPES, Recipe, colour_input
from figures.feature_maps import image_figure, input_channels_figure
from figures.latex import number
from figures.predictions import layer_costs, layer_time_figure, prediction_figure
from figures.vgg_table import ArchitectureRow, parameter_figure, table_records
from vgg_models import PhotoStages, VggActivations, VggModel, config_label, layer_times

TABLE_ROW_PX = 35
RED = (255, 0, 0)
MIB = 2**20
# The per-layer numbers first, so that they fit without scrolling sideways.
TABLE_COLUMNS = [
    "layer", "output shape", "parameters", "MACs", "activation memory",
    "receptive field", "jump", "operation", "weights + biases", "values per image",
]


def crop_box(height: int, width: int) -> tuple[int, int, int, int]:
    """Return `(top, left, bottom, right)` of the centre crop, inclusive."""
    top, left = center_crop_offsets(height, width, CROP)
    return top, left, top + CROP - 1, left + CROP - 1


def show_photo(stages: PhotoStages, model: VggModel) -> None:
    """Show the photo after each preprocessing stage, with channel statistics."""
    height, width = stages.original_size
    resized_height, resized_width = stages.resized.shape[:2]
    st.markdown(
        f"{config_label(model.config)} takes a fixed {CROP}×{CROP} RGB input. The "
        f"photo ({width}×{height} pixels) is resized so that its shorter side "
        f"is {RESIZE_TO} pixels ({resized_width}×{resized_height}), and the "
        f"centre {CROP}×{CROP} square, outlined in the middle, is cut out. "
        f"Hover over an image to read pixel values."
    )
    note = enlargement_note(height, width, CROP)
    if note is not None:
        st.info(note)
    original, resized, cropped = st.columns(3)
    with original:
        title = f"Original, {width}×{height}"
        st.plotly_chart(image_figure(stages.preview, title,
                                     source_step=stages.preview_step),
                        key="vgg_original_chart")
    with resized:
        box = crop_box(resized_height, resized_width)
        figure = image_figure(stages.resized, "Resized, with the centre crop",
                              box=box)
        st.plotly_chart(figure, key="vgg_resized_chart")
    with cropped:
        figure = image_figure(stages.cropped, f"The {CROP}×{CROP} input")
        st.plotly_chart(figure, key="vgg_cropped_chart")
    show_normalisation(stages, model.pretrained)


def show_normalisation(stages: PhotoStages, pretrained: bool) -> None:
    """Show the recipe's normalisation, the input channels and their statistics."""
    recipe = stages.recipe
    names = ", ".join(recipe.channels)
    reason = ("the one these weights were trained with" if pretrained else
              "chosen because random weights were trained with none")
    st.markdown(
        f"Last, each pixel value x of colour channel c is normalised with the "
        f"**{recipe.name}** recipe, {reason}. The result is "
        f"the input tensor of shape (1, 3, {CROP}, {CROP}): (N, C, H, W) with "
        f"one photo and the channels in the order {names}. Red is below zero "
        f"and blue above, on one scale for all three channels."
    )
    st.latex(recipe_latex(recipe))
    figure = input_channels_figure(stages.tensor[0], recipe.channels)
    st.plotly_chart(figure, key="vgg_input_chart")
    st.markdown(red_pixel_text(recipe))

    st.markdown(
        "The channel statistics at each stage show what the recipe does: "
        "resizing and cropping keep the values between 0 and 255, and "
        "normalising moves them around zero."
    )
    records = stats_records(stages)
    st.dataframe(
        records,
        hide_index=True,
        row_height=TABLE_ROW_PX,
        height=TABLE_ROW_PX * (len(records) + 1) + 3,  # every row and the header
        column_config={
            column: st.column_config.NumberColumn(format="%.3f")
            for column in ("mean", "std", "min", "max")
        },
        key="vgg_stats_table",
    )


def recipe_latex(recipe: Recipe) -> str:
    """Write the recipe's normalisation with its constants."""
    if recipe.name == "caffe":
        mean = ", ".join(number(m, 6) for m in CAFFE_MEAN_BGR)
        return (rf"x'_c = x_c - \mu_c \quad \text{{(BGR order, 0 to 255)}}, "
                rf"\qquad \mu = ({mean})")
    mean = ", ".join(number(m, 3) for m in IMAGENET_MEAN)
    std = ", ".join(number(s, 3) for s in IMAGENET_STD)
    return (rf"x'_c = \frac{{x_c / 255 - \mu_c}}{{\sigma_c}}, \qquad "
            rf"\mu = ({mean}), \quad \sigma = ({std})")


def red_pixel_text(recipe: Recipe) -> str:
    """Describe what each recipe makes of a pure red pixel, marking `recipe`."""
    parts = []
    for other in RECIPES.values():
        values = ", ".join(_short(v) for v in colour_input(other, RED))
        used = " (used here)" if other.name == recipe.name else ""
        parts.append(f"({values}) with the {other.name} recipe{used}, channels "
                     f"{', '.join(other.channels)}")
    return (f"For example, a pure red pixel {RED} becomes {parts[0]}; and "
            f"{parts[1]}. Given the other recipe's input, weights get values "
            f"on the wrong scale and in the wrong channel order.")


def _short(value: float) -> str:
    """Write a value with at most 4 decimals and no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def stats_records(stages: PhotoStages) -> list[dict[str, object]]:
    """Turn the channel statistics of each stage into rows for `st.dataframe`."""
    height, width = stages.original_size
    resized_height, resized_width = stages.resized.shape[:2]
    labels = {
        "original": f"original {width}×{height}",
        "resized": f"resized {resized_width}×{resized_height}",
        "cropped": f"cropped {CROP}×{CROP}",
        "normalised": "normalised (network input)",
    }
    return [
        {"stage": labels[stage], "channel": stats.channel, "mean": stats.mean,
         "std": stats.std, "min": stats.min, "max": stats.max}
        for stage, channel_stats in stages.stats.items()
        for stats in channel_stats
    ]


def show_predictions(model: VggModel, acts: VggActivations) -> None:
    """Draw the top classes, or explain why random weights have none."""
    if not model.pretrained:
        st.info(
            "With random weights the 1,000 class scores are meaningless: the "
            "top classes would change with the random seed, not with the "
            "photo. So no predictions are shown. Load pretrained weights, as "
            "the note at the top of the page explains, to see what the "
            "network recognises."
        )
        return
    best = acts.top[0]
    st.markdown(
        f"The last layer gives one score per class; softmax turns the scores "
        f"into probabilities that sum to 1. These are the {len(acts.top)} most "
        f"probable of the 1,000 ImageNet classes. The network is "
        f"{100 * best.probability:.1f}% sure of **{best.label}**. Hover over "
        f"a bar for the class number."
    )
    st.plotly_chart(prediction_figure(acts.top), key="vgg_predictions_chart")


def show_architecture(rows: list[ArchitectureRow], config: str) -> None:
    """Show the per-layer table of shapes, costs and receptive fields, with totals."""
    total = sum(row.n_params for row in rows)
    total_macs = sum(row.macs for row in rows)
    memory = sum(row.activation_bytes for row in rows)
    n_conv = sum(row.name.startswith("conv") for row in rows)
    n_dense = sum(row.name.startswith("fc") for row in rows)
    st.markdown(
        f"{config_label(config)} is {n_conv} convolutional layers of 3×3 "
        f"filters and {n_dense} dense layers ({n_conv + n_dense} layers with "
        f"weights, hence the name), with a 2×2 max pooling after each of the "
        f"five blocks. Every convolution keeps the height and width (padding "
        f"1) and is followed by ReLU, which is folded into its row: ReLU has "
        f"no parameters and keeps the shape. Every pooling halves the height "
        f"and width. A convolution with F filters over C input channels has "
        f"F·C·k·k weights and F biases, and does C·k·k multiply-accumulates "
        f"(MACs) for each of its output values. The receptive field is the "
        f"side of the input window that one value depends on, and the jump "
        f"is the distance on the input between neighbouring values."
    )

    metrics = st.columns(4)
    metrics[0].metric("Parameters in total", f"{total:,}")
    metrics[1].metric("MACs per image", f"{total_macs / 1e9:.2f} G",
                      help=f"{total_macs:,} multiply-accumulates")
    metrics[2].metric("Activation memory", f"{memory / MIB:.1f} MiB",
                      help="The float32 outputs of every row of the table for "
                      "one image, each counted once.")
    metrics[3].metric("Conv + dense layers", f"{n_conv} + {n_dense}")

    st.dataframe(
        table_records(rows),
        hide_index=True,
        row_height=TABLE_ROW_PX,
        height=TABLE_ROW_PX * (len(rows) + 1) + 3,  # every row and the header
        column_order=TABLE_COLUMNS,
        column_config=_table_columns(),
        placeholder="–",  # the jump after the flatten, which has none
        key="vgg_architecture_table",
    )

    text, chart = st.columns([1, 2])
    with text:
        st.markdown(where_the_numbers_are(rows))
    with chart:
        st.plotly_chart(parameter_figure(rows), key="vgg_parameter_chart")


def _table_columns() -> dict[str, object]:
    column = st.column_config.NumberColumn
    return {
        "values per image": column(format="localized"),
        "parameters": column(format="localized"),
        "MACs": column(format="localized",
                       help="Multiply-accumulates for one image"),
        "activation memory": column(
            format="%.2f MiB", help="The float32 output of the layer for one image"),
        "receptive field": column(
            format="%d px", help="Side of the input window one output value sees"),
        "jump": column(
            format="%d px", help="Distance on the input between neighbouring "
            "output values, none after the flatten"),
    }


def where_the_numbers_are(rows: list[ArchitectureRow]) -> str:
    total = sum(row.n_params for row in rows)
    conv_macs = sum(row.macs for row in rows if row.name.startswith("conv"))
    fc6 = next(row for row in rows if row.name == "fc6")
    first = rows[1]
    share = 100 * conv_macs / sum(row.macs for row in rows)
    return (
        f"**Where the numbers are.** fc6 alone holds {fc6.n_params:,} "
        f"parameters, {100 * fc6.n_params / total:.0f}% of the total, but the "
        f"convolutions do {share:.1f}% of the MACs, because each of "
        f"their filters is applied at every position. The first convolution, "
        f"{first.name}, produces the most values per image ({first.n_values:,}) "
        f"with only {first.n_params:,} parameters. Hover over a bar for its "
        f"share. Later networks such as ResNet average each channel of the "
        f"last maps instead (global average pooling), which needs far fewer "
        f"parameters than fc6."
    )


def show_timing(model: VggModel, stages: PhotoStages,
                rows: list[ArchitectureRow]) -> None:
    """Time each layer on request and compare its time with its MACs."""
    st.markdown(
        "MACs count the arithmetic, but memory traffic and the layout of the "
        "data decide how fast it runs. Switch on the timing to run the photo "
        "through the network once more, timing each layer, and compare each "
        "layer's share of the time with its share of the MACs."
    )
    if not st.toggle("Time each layer", key="vgg_timing"):
        return
    timings = layer_times(model, model.key, stages, stages.key)
    costs = layer_costs(timings, {row.name: row.macs for row in rows})
    seconds = sum(cost.seconds for cost in costs)
    macs = sum(cost.macs for cost in costs)
    slowest = max(costs, key=lambda cost: cost.seconds)

    metrics = st.columns(3)
    metrics[0].metric("Forward pass", f"{1000 * seconds:.0f} ms")
    metrics[1].metric("Average speed", f"{macs / seconds / 1e9:.1f} GMAC/s")
    metrics[2].metric("Slowest layer", slowest.name,
                      f"{100 * slowest.time_share:.1f}% of the time",
                      delta_color="off", delta_arrow="off")
    st.markdown(
        f"{slowest.name} takes {1000 * slowest.seconds:.0f} ms, "
        f"{100 * slowest.time_share:.1f}% of the time, for "
        f"{100 * slowest.macs_share:.1f}% of the MACs. A red bar well above its "
        f"purple neighbour marks a layer slower than its arithmetic suggests; "
        f"ReLU and pooling do no MACs but still read and write every value. "
        f"The times come from one run on this server, so they are noisy: when "
        f"the server is busy, layers with the same MACs can differ by tens of "
        f"per cent."
    )
    st.plotly_chart(layer_time_figure(costs), key="vgg_timing_chart")
