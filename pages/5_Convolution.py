"""Convolution: slide a kernel over a small input, one output value at a time."""

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

import allocator
import ui
from engine.conv import Conv2D, MaxPool2D, conv_output_size
from engine.conv_steps import (
    KERNEL_PRESETS,
    FirstLayerKernels,
    PoolingSoFar,
    computed_so_far,
    input_gradient_terms,
    kernel_copy,
    kernel_weights,
    output_positions,
    pad_input,
    photo_grid,
    pool_detail,
    pooling_so_far,
    position_detail,
    term_total,
    uncovered,
    vgg16_first_kernels,
    weight_gradient_terms,
)
from engine.images import ImageError, load_image
from engine.layers import ReLU
from figures.convolution import (
    CHANNEL_SCALES,
    DIVERGING_SCALE,
    GREY_SCALE,
    bias_gradient_latex,
    copies_figure,
    grid_figure,
    input_gradient_latex,
    kernel_bank_figure,
    output_size_latex,
    pool_latex,
    position_latex,
    product_figure,
    signed_range,
    value_range,
    weight_gradient_latex,
)
from figures.feature_maps import image_figure
from figures.latex import number

MAX_GRID = 10  # rows and columns of the number grid
PHOTO_CELLS = (6, 16, 8)  # smallest, largest and default side of a photo grid
DEFAULT_CELL_PIXELS = 8
DEFAULT_CORNER = (80, 140)  # top and left of the default region: the cat's eye
MAX_KERNEL = 7
MAX_STRIDE = 4
MAX_PADDING = 3
POOL = 2  # max pooling uses 2x2 windows with stride 2
PLAY_SECONDS = (0.2, 2.0, 0.7)  # fastest, slowest and default time per step
# A timer run may come a little early, so a step is due after this share of it.
PLAY_TOLERANCE = 0.8
CHANNEL_NAMES = {1: ("grey",), 3: ("R", "G", "B")}
CHECK_DIGITS = 10  # significant digits of the sums shown beside the engine's
NO_TOOLBAR = {"displayModeBar": False}
EDITOR_COLUMN_PX = 46  # ten columns of the number grid fit half a wide page
# The main area of a wide page on a 1400-pixel screen with the sidebar open.
# Grids size their cells and text for it, and on other screens they scale.
MAIN_WIDTH_PX = 940
INPUT_KERNEL_RATIOS = [3, 2]
BANK_PX = 260  # height of the grid of VGG16's 64 kernels

SOURCES = {"numbers": "Numbers you type", "photo": "A photo"}
KERNEL_SOURCES = {"preset": "Preset", "vgg": "VGG16 conv1_1", "typed": "Typed in"}
PRESET_NOTES = {
    "Identity": "copies the centre value: the output is the input.",
    "Box blur": "averages the 3×3 neighbourhood, which smooths the input.",
    "Sharpen": "keeps the centre value and adds 4 times its difference from "
               "the mean of its four neighbours, which strengthens edges.",
    "Horizontal edges": "subtracts the row below from the row above: positive "
                        "where the input gets darker downwards.",
    "Vertical edges": "subtracts the right column from the left: positive where "
                      "the input gets darker to the right.",
    "Sobel x": "subtracts the left column from the right, with the centre "
               "row weighted twice: positive where the input gets brighter "
               "to the right.",
    "Sobel y": "subtracts the row above from the row below, with the centre "
               "column weighted twice: positive where the input gets brighter "
               "downwards.",
}

# Session state of the sweep.
POSITION = "cv_position"  # index into the output positions, row by row
PLAYING = "cv_playing"
TIMER = "cv_timer"  # whether the sweep fragment was registered with run_every
FINGERPRINT = "cv_fingerprint"  # the geometry the position belongs to
LAST_STEP = "cv_last_step"  # time.monotonic() of the last step while playing


@dataclass(frozen=True)
class Sweep:
    """One convolution to step through: its input, weights and outputs.

    `X` is `(C, H, W)`, `W` `(1, C, k, k)` and `b` `(1,)`. `Z` is the
    output `(H_out, W_out)` of the single filter, and `A` is ReLU(Z).
    """

    X: np.ndarray
    W: np.ndarray
    b: np.ndarray
    stride: int
    padding: int
    Z: np.ndarray
    A: np.ndarray
    positions: list[tuple[int, int]]
    channel_names: tuple[str, ...]
    input_range: tuple[float, float]  # the ends of the input's colour scale


@st.cache_data(max_entries=4, show_spinner=False)
def decode_photo(_data: bytes, digest: str) -> np.ndarray:
    """Decode a photo once per digest. Raises ImageError for bad files."""
    return load_image(_data)


@st.cache_resource(show_spinner="Reading the kernels of VGG16's conv1_1…")
def first_kernels() -> FirstLayerKernels:
    """Read conv1_1 once per server process, from the weight file if cached."""
    return vgg16_first_kernels()


def column_px(ratios: list[int], index: int) -> int:
    """Estimate the width in pixels of column `index` of `st.columns(ratios)`."""
    return MAIN_WIDTH_PX * ratios[index] // sum(ratios)


def count(n: int, noun: str) -> str:
    """Write `n noun` with the noun in the plural unless n is 1."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def hollow_square(rows: int, columns: int) -> np.ndarray:
    """Return the default grid: a square outline of 9s on 0s, one cell in."""
    grid = np.zeros((rows, columns))
    grid[1:-1, 1:-1] = 9
    grid[2:-2, 2:-2] = 0
    return grid


def vertical_edges(size: int) -> np.ndarray:
    """Return the default typed kernel: 1 in the left columns, -1 in the right.

    At size 3 it is the "Vertical edges" preset. The middle column of an
    odd size is 0, and a 1×1 kernel is 1.
    """
    kernel = np.zeros((size, size))
    kernel[:, :size // 2] = 1
    kernel[:, size - size // 2:] = -1
    if size == 1:
        kernel[0, 0] = 1
    return kernel


def edit_grid(label: str, values: np.ndarray, key: str) -> np.ndarray:
    """Show `values` `(rows, columns)` in a data editor and return the edits.

    Empty cells count as 0, with a warning.
    """
    columns = [str(c) for c in range(values.shape[1])]
    frame = st.data_editor(
        pd.DataFrame(values, columns=columns),
        key=key,
        column_config={
            column: st.column_config.NumberColumn(column, width=EDITOR_COLUMN_PX,
                                                  format="%.4g")
            for column in columns
        },
        placeholder="0",
    )
    edited = frame.to_numpy(dtype=float)
    if np.isnan(edited).any():
        st.warning(f"{label}: empty cells count as 0.")
        edited = np.nan_to_num(edited)
    return edited


def clamped_slider(label: str, low: int, high: int, default: int, key: str,
                   help: str) -> int:
    """Draw a sidebar slider over low..high, keeping its old value in range.

    A photo of another size changes `high`, and a value beyond it moves
    to `high`. With `high == low` there is nothing to choose and no slider.
    """
    if high <= low:
        st.session_state.pop(key, None)
        return low
    # The value lives in session state only, so the slider gets no default.
    value = st.session_state.get(key, default)
    st.session_state[key] = min(max(value, low), high)
    return st.sidebar.slider(label, low, high, key=key, help=help)


def number_input_grid(column) -> np.ndarray:
    """Let the user size and edit a grid of numbers, returned as `(1, H, W)`."""
    rows = st.sidebar.slider("Rows", 3, MAX_GRID, 6, key="cv_rows",
                             persist_state="session")
    columns = st.sidebar.slider("Columns", 3, MAX_GRID, 6, key="cv_columns",
                                persist_state="session")
    with column:
        st.markdown(
            "**Input.** Type over any number and the page recomputes at once. The "
            "default is a square outline, which has edges in every direction."
        )
        X = edit_grid("Input", hollow_square(rows, columns),
                      key=f"cv_grid_{rows}x{columns}")
    return X[None]


def decode_or_explain(column, photo: tuple[str, bytes] | None,
                      cells: int) -> np.ndarray | None:
    """Decode the chosen photo, or explain in `column` why there is none."""
    if photo is None:
        column.info("Upload a photo in the sidebar, or choose one of the samples.")
        return None
    name, data = photo
    try:
        rgb = decode_photo(data, ui.image_digest(data))
    except ImageError as error:
        column.error(f"**{name}** cannot be used: {error} Choose a sample or "
                     f"upload another file in the sidebar.")
        return None
    height, width = rgb.shape[:2]
    if min(height, width) < cells:
        column.error(f"**{name}** is {width}×{height} pixels, too small for "
                     f"a grid of {cells}×{cells} cells. Choose a smaller grid "
                     f"or another photo.")
        return None
    return rgb


def photo_input_grid(column) -> np.ndarray | None:
    """Let the user pick a photo region, returned as a small grid `(C, n, n)`."""
    with st.sidebar:
        photo = ui.photo_picker("cv")
    colour = st.sidebar.radio(
        "Channels", ["grey", "rgb"], key="cv_colour",
        persist_state="session", horizontal=True,
        format_func=lambda key: {"grey": "Grey", "rgb": "RGB"}[key],
        help="Grey uses one channel of luma. RGB keeps the three colour channels.")
    low, high, default = PHOTO_CELLS
    cells = st.sidebar.slider("Grid size", low, high, default, key="cv_cells",
                              persist_state="session",
                              help="Cells on each side of the input grid.")
    rgb = decode_or_explain(column, photo, cells)
    if rgb is None:
        return None

    height, width = rgb.shape[:2]
    cell_pixels = clamped_slider(
        "Pixels per cell", 1, min(height, width) // cells, DEFAULT_CELL_PIXELS,
        "cv_cell_pixels",
        "Each cell is the mean of a square block of this many pixels a side.")
    side = cells * cell_pixels
    top = clamped_slider("Region top", 0, height - side, DEFAULT_CORNER[0],
                         "cv_top", "Row of the region's top edge, in pixels.")
    left = clamped_slider("Region left", 0, width - side, DEFAULT_CORNER[1],
                          "cv_left", "Column of the region's left edge, in pixels.")
    X = photo_grid(rgb, top, left, cells, cell_pixels, grey=colour == "grey")

    with column:
        st.markdown(
            f"**Input.** The outlined {side}×{side}-pixel region is averaged "
            f"down to {cells}×{cells} cells of {cell_pixels}×{cell_pixels} "
            f"pixels, with values from 0 (black) to 1 (full brightness), "
            f"rounded to two decimals. Move it with the sliders in the sidebar."
        )
        figure = image_figure(rgb, box=(top, left, top + side - 1, left + side - 1),
                              height=300)
        st.plotly_chart(figure, key="cv_photo_chart", config=NO_TOOLBAR)
    return X


def choose_input(column) -> np.ndarray | None:
    st.sidebar.header("Input")
    source = st.sidebar.radio("Input", list(SOURCES), key="cv_source",
                              persist_state="session",
                              format_func=SOURCES.get, label_visibility="collapsed")
    if source == "photo":
        return photo_input_grid(column)
    return number_input_grid(column)


def preset_kernel(column) -> np.ndarray:
    name = st.sidebar.selectbox("Preset", list(KERNEL_PRESETS),
                                index=list(KERNEL_PRESETS).index("Vertical edges"),
                                key="cv_preset", persist_state="session")
    kernel = KERNEL_PRESETS[name]
    with column:
        st.markdown(f"**Kernel: {name}.** It {PRESET_NOTES[name]}")
        st.plotly_chart(kernel_figure(kernel[None], ("kernel W",)),
                        key="cv_kernel_chart", config=NO_TOOLBAR)
    return kernel


def vgg_kernel(column, channels: int) -> tuple[np.ndarray, float]:
    """Let the user pick one of VGG16's 64 first-layer kernels."""
    kernels = first_kernels()
    index = st.sidebar.slider("Kernel of conv1_1", 0, len(kernels.W) - 1, 0,
                              key="cv_vgg_index", persist_state="session")
    kernel = np.asarray(kernels.W[index], dtype=float)  # (3, 3, 3)
    bias = float(kernels.b[index])
    with column:
        if kernels.pretrained:
            origin = (f"the pretrained weights in `{kernels.path}`, learned on "
                      f"ImageNet")
        else:
            origin = ("random He-initialised weights, the same draw as the VGG16 "
                      "page, because no pretrained weight file is cached. Run "
                      "`python -m engine weights fetch vgg16` to download it")
        st.markdown(
            f"**Kernel {index} of VGG16's conv1_1**, from {origin}. Each of "
            f"the 64 kernels has a 3×3 grid per colour channel. Below, each is "
            f"drawn as colours (grey is 0), the chosen one outlined."
        )
        st.plotly_chart(kernel_bank_figure(kernels.W, index, width_px=BANK_PX),
                        key="cv_bank_chart",
                        config=NO_TOOLBAR)
        st.plotly_chart(kernel_figure(kernel, CHANNEL_NAMES[3], digits=2),
                        key="cv_kernel_chart", config=NO_TOOLBAR)
        if channels == 1:
            st.caption(
                "The input is grey, so the three channels of the kernel are "
                "added into one: that is what the kernel computes on a photo "
                "whose R, G and B are all equal to the grey value.")
        st.caption(
            "VGG16 gets pixels standardised with the ImageNet mean and standard "
            "deviation. Here the kernel gets values in [0, 1], so the outputs "
            "have another scale than inside VGG16, but the same pattern.")
    return kernel, bias


def typed_kernel(column) -> np.ndarray:
    size = st.sidebar.slider("Kernel size", 1, MAX_KERNEL, 3, key="cv_kernel_size",
                             persist_state="session",
                             help="Side of the square kernel, in cells.")
    with column:
        st.markdown(f"**Kernel ({size}×{size}).** Type over any weight.")
        kernel = edit_grid("Kernel", vertical_edges(size), key=f"cv_kernel_{size}")
    return kernel


def kernel_figure(kernel: np.ndarray, titles: tuple[str, ...], digits: int = 3):
    """Draw a kernel `(C, kh, kw)` on the diverging scale, in the kernel column."""
    scales = [DIVERGING_SCALE] * len(titles)
    return grid_figure(kernel, titles, scales=scales, zrange=signed_range(kernel),
                       digits=digits, width_px=column_px(INPUT_KERNEL_RATIOS, 1))


def choose_kernel(column, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw the kernel controls and return W `(1, C, k, k)` and b `(1,)`."""
    st.sidebar.header("Kernel")
    source = st.sidebar.radio("Kernel", list(KERNEL_SOURCES), key="cv_kernel_source",
                              persist_state="session",
                              format_func=KERNEL_SOURCES.get,
                              label_visibility="collapsed")
    if source == "vgg":
        kernel, bias = vgg_kernel(column, channels)
    else:
        if source == "preset":
            kernel = preset_kernel(column)
        else:
            kernel = typed_kernel(column)
        bias = st.sidebar.number_input("Bias b", value=0.0, step=0.5, key="cv_bias",
                                       persist_state="session",
                                       help="Added to every output value.")
        if channels == 3:
            column.caption(
                "The input has three channels, so the kernel is copied to each: "
                "the output filters R + G + B.")
    return kernel_weights(kernel, channels), np.array([bias])


def geometry_controls() -> tuple[int, int]:
    st.sidebar.header("Convolution")
    stride = st.sidebar.slider("Stride s", 1, MAX_STRIDE, 1, key="cv_stride",
                               persist_state="session",
                               help="Cells the kernel moves between positions.")
    padding = st.sidebar.slider("Padding p", 0, MAX_PADDING, 0, key="cv_padding",
                                persist_state="session",
                                help="Rings of zeros added around the input.")
    return stride, padding


def show_output_size(X: np.ndarray, k: int, stride: int, padding: int) -> bool:
    """Write the output-size formula with the numbers and return whether it fits."""
    _, H, W = X.shape
    padded = (f"the input padded with {count(padding, 'ring')} of zeros"
              if padding else "the input")
    st.markdown(
        f"The {k}×{k} kernel starts at the top-left corner of {padded} and moves "
        f"{count(stride, 'cell')} at a time, first along a row, then down. The "
        f"number of positions along each side is:"
    )
    try:
        H_out = conv_output_size(H, k, stride, padding)
        W_out = conv_output_size(W, k, stride, padding)
    except ValueError:
        st.error(
            f"The {k}×{k} kernel is larger than the padded input ({H} + 2·{padding} "
            f"rows by {W} + 2·{padding} columns), so it fits nowhere and there is "
            f"no output. Choose a smaller kernel, more padding or a larger input."
        )
        return False
    st.latex(output_size_latex(H, k, stride, padding, H_out, "H"))
    if W != H:
        st.latex(output_size_latex(W, k, stride, padding, W_out, "W"))
    left_over = [(uncovered(size, k, stride, padding), noun)
                 for size, noun in ((H, "row"), (W, "column"))]
    notes = [f"the last {noun}" if n == 1 else f"the last {count(n, noun)}"
             for n, noun in left_over if n]
    if notes:
        st.info(
            f"The stride does not divide the distance the kernel can travel, "
            f"so the floor drops a partial step: {' and '.join(notes)} of the "
            f"padded input are never covered and get no gradient."
        )
    return True


def build_sweep(X: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int,
                padding: int) -> Sweep:
    """Run the convolution and ReLU of the engine on the single example."""
    Z = Conv2D(W, b, stride, padding).forward(X[None])[0, 0]  # (H_out, W_out)
    A = ReLU().forward(Z)
    positions = output_positions(X.shape[1], X.shape[2], W.shape[2], stride,
                                 padding)
    signed = bool(X.min() < 0)
    input_range = signed_range(X) if signed else (0.0, max(1.0, float(X.max())))
    return Sweep(X, W, b, stride, padding, Z, A, positions,
                 CHANNEL_NAMES.get(X.shape[0], ("grey",)), input_range)


def input_name(padding: int) -> str:
    return "X_pad" if padding else "X"


def input_scales(sweep: Sweep) -> list:
    if sweep.input_range[0] < 0:
        return [DIVERGING_SCALE] * len(sweep.channel_names)
    if len(sweep.channel_names) == 3:
        return [CHANNEL_SCALES[name] for name in sweep.channel_names]
    return [GREY_SCALE]


def move(delta: int, n: int) -> None:
    st.session_state[POSITION] = min(max(st.session_state[POSITION] + delta, 0),
                                     n - 1)


def jump(n: int) -> None:
    """Follow the position slider, which counts from 1."""
    st.session_state[POSITION] = min(st.session_state["cv_position_slider"], n) - 1


def play(n: int) -> None:
    """Start the sweep, from the first position when it is at the end."""
    if st.session_state[POSITION] >= n - 1:
        st.session_state[POSITION] = 0
    st.session_state[PLAYING] = True
    st.session_state[LAST_STEP] = time.monotonic()


def pause() -> None:
    st.session_state[PLAYING] = False


def reset() -> None:
    st.session_state[POSITION] = 0
    st.session_state[PLAYING] = False


def sweep_controls(n: int, k: int) -> None:
    """Draw Previous, Next, Play or Pause, Reset and the position slider."""
    playing = st.session_state[PLAYING]
    buttons = st.columns([1, 1, 1, 1, 4], vertical_alignment="bottom")
    buttons[0].button("Previous", key="cv_previous", on_click=move, args=(-1, n),
                      disabled=k == 0, shortcut="Left", width="stretch")
    buttons[1].button("Next", key="cv_next", on_click=move, args=(1, n),
                      disabled=k == n - 1, type="primary", shortcut="Right",
                      width="stretch")
    if playing:
        buttons[2].button("Pause", key="cv_pause", on_click=pause,
                          icon=":material/pause:", width="stretch")
    else:
        buttons[2].button("Play", key="cv_play", on_click=play, args=(n,),
                          icon=":material/play_arrow:", width="stretch",
                          disabled=n == 1)
    buttons[3].button("Reset", key="cv_reset", on_click=reset, disabled=k == 0,
                      width="stretch")
    if n > 1:
        st.session_state["cv_position_slider"] = k + 1
        buttons[4].slider("Output position", 1, n, key="cv_position_slider",
                          on_change=jump, args=(n,))


def advance(n: int, seconds: float) -> None:
    """Move to the next position if `seconds` have passed since the last move.

    Besides the timer, a button or the switch to playing reruns the sweep
    too, and those runs must not skip a position.
    """
    now = time.monotonic()
    if now - st.session_state.get(LAST_STEP, 0.0) < PLAY_TOLERANCE * seconds:
        return
    st.session_state[LAST_STEP] = now
    if st.session_state[POSITION] < n - 1:
        st.session_state[POSITION] += 1
    if st.session_state[POSITION] >= n - 1:
        st.session_state[PLAYING] = False


def step_view(sweep: Sweep, seconds: float) -> None:
    """Show the current output position, and advance it while playing.

    Runs as a fragment, every `seconds` while playing. A change between
    playing and paused reruns the whole page, which registers the fragment
    with or without its timer.
    """
    n = len(sweep.positions)
    if st.session_state[PLAYING]:
        advance(n, seconds)
    if st.session_state[TIMER] != st.session_state[PLAYING]:
        st.rerun(scope="app")

    k = min(st.session_state[POSITION], n - 1)
    i, j = sweep.positions[k]
    sweep_controls(n, k)
    st.progress((k + 1) / n, text=f"Position {k + 1} of {n}: output row {i}, "
                                  f"column {j}")
    detail = position_detail(sweep.X, sweep.W, sweep.b, sweep.stride,
                             sweep.padding, 0, i, j)
    show_patch_and_output(sweep, detail, k, i, j)
    show_arithmetic(sweep, detail, i, j)
    show_relu_and_pool(sweep, k, i, j)


def show_patch_and_output(sweep: Sweep, detail, k: int, i: int, j: int) -> None:
    kh = sweep.W.shape[2]
    s, p = sweep.stride, sweep.padding
    ratios = [3, 2]
    left, right = st.columns(ratios)
    with left:
        padded = f", padded with {count(p, 'ring')} of zeros (grey)" if p else ""
        st.markdown(
            f"**The input{padded}.** The amber square is the patch under the "
            f"kernel for output ({i}, {j}). Its top-left cell is at row "
            f"s·i = {s}·{i} = {detail.top} and column s·j = {s}·{j} = "
            f"{detail.left}. Hover a cell for its value."
        )
        X_pad = pad_input(sweep.X, p)
        titles = sweep.channel_names if X_pad.shape[0] > 1 else (input_name(p),)
        figure = grid_figure(X_pad, titles, padding=p,
                             box=(detail.top, detail.left, kh, kh),
                             scales=input_scales(sweep), zrange=sweep.input_range,
                             width_px=column_px(ratios, 0))
        st.plotly_chart(figure, key="cv_input_chart", config=NO_TOOLBAR)
    with right:
        st.markdown(
            f"**The output Z.** Each position fills one cell, and the cells after "
            f"position {k + 1} are still empty. Red is negative, blue positive."
        )
        filled = computed_so_far(sweep.Z, k + 1)
        figure = grid_figure(filled, ("Z",), box=(i, j, 1, 1),
                             scales=[DIVERGING_SCALE], zrange=signed_range(sweep.Z),
                             width_px=column_px(ratios, 1))
        st.plotly_chart(figure, key="cv_output_chart", config=NO_TOOLBAR)


def show_arithmetic(sweep: Sweep, detail, i: int, j: int) -> None:
    C = sweep.X.shape[0]
    names = sweep.channel_names
    if C > 1:
        intro = (
            f"With {C} input channels the kernel has a {sweep.W.shape[2]}×"
            f"{sweep.W.shape[3]} grid for each. Every channel's patch is "
            f"multiplied by its own grid and summed, giving one partial sum "
            f"per channel. The partial sums and the bias add up to the single "
            f"output value."
        )
    else:
        intro = ("The patch and the kernel are multiplied cell by cell, and the "
                 "products are summed with the bias.")
    st.markdown(f"**The arithmetic of output ({i}, {j}).** {intro}")
    # One channel of a small kernel fits beside the figure, but more terms
    # need the whole width.
    beside = C == 1 and sweep.W.shape[3] <= 3
    ratios = [3, 2] if beside else [4, 1]
    left, right = st.columns(ratios)
    left.plotly_chart(
        product_figure(detail.patch, sweep.W[0], detail.products,
                       detail.partial_sums, names, input_scales(sweep),
                       sweep.input_range, width_px=column_px(ratios, 0)),
        key="cv_product_chart", config=NO_TOOLBAR)
    latex = position_latex(detail, sweep.W[0], i, j, names)
    if beside:
        right.latex(latex)
    else:
        st.latex(latex)


def show_relu_and_pool(sweep: Sweep, k: int, i: int, j: int) -> None:
    """Draw A = ReLU(Z) and its max pooling as far as the sweep has reached.

    `k` is the current position, so positions 0 to k are computed.
    """
    st.markdown(
        "**ReLU, then 2×2 max pooling.** ReLU sets every negative output to 0. "
        "Max pooling then keeps the largest value of each 2×2 window (dashed), "
        "the green cell is each window's winner, the first maximum in "
        "row-major order when several are equal. The pooled map P has half "
        "the rows and columns, and an odd last row or column is dropped. "
        "Like Z, A fills in one cell per position, and a cell of P once all "
        "four cells of its window are computed."
    )
    H_out, W_out = sweep.A.shape
    if H_out < POOL or W_out < POOL:
        st.info(f"The output is {H_out}×{W_out}, smaller than one 2×2 window, so "
                f"there is nothing to pool. Use a smaller stride or kernel.")
        return

    computed = k + 1
    pooling = pooling_so_far(sweep.A, computed, POOL)
    # Every window is outlined, but only complete ones have a winner yet.
    outlines = [pool_detail(sweep.A, r, c) for r, c in
                output_positions(H_out, W_out, POOL, POOL, 0)]
    winners = [(d.top + d.winner[0], d.left + d.winner[1])
               for d in pooling.windows.values()]

    zrange = signed_range(sweep.Z)
    ratios = [5, 3, 5]
    left, middle, right = st.columns(ratios)
    left.plotly_chart(
        grid_figure(computed_so_far(sweep.A, computed), ("A = ReLU(Z)",),
                    box=(i, j, 1, 1), marks=winners,
                    windows=[(d.top, d.left, POOL, POOL) for d in outlines],
                    scales=[DIVERGING_SCALE], zrange=zrange,
                    width_px=column_px(ratios, 0)),
        key="cv_relu_chart", config=NO_TOOLBAR)
    middle.plotly_chart(
        grid_figure(pooling.pooled, ("P = maxpool(A)",),
                    scales=[DIVERGING_SCALE], zrange=zrange,
                    width_px=column_px(ratios, 1)),
        key="cv_pool_chart", config=NO_TOOLBAR)

    with right:
        st.latex(rf"\operatorname{{ReLU}}(Z[{i}, {j}]) = \max(0, "
                 rf"{number(sweep.Z[i, j])}) = {number(sweep.A[i, j])}")
        show_pool_window(pooling, i, j)


def show_pool_window(pooling: PoolingSoFar, i: int, j: int) -> None:
    """Write the pooling of the window that contains output cell (i, j)."""
    r, c = i // POOL, j // POOL
    rows, columns = pooling.pooled.shape
    if r >= rows or c >= columns:
        st.markdown(f"Cell ({i}, {j}) lies in the odd last row or column, "
                    f"which pooling drops.")
        return
    st.markdown(f"Cell ({i}, {j}) lies in the window of pooled cell ({r}, {c}):")
    detail = pooling.windows.get((r, c))
    if detail is None:
        last_row, last_column = r * POOL + POOL - 1, c * POOL + POOL - 1
        st.markdown(f"P[{r}, {c}] is computed once the window is complete, "
                    f"at output ({last_row}, {last_column}).")
        return
    st.latex(pool_latex(detail, r, c))


def sync_position(sweep: Sweep) -> None:
    """Start the sweep again when the geometry changes, and keep it in range."""
    state = st.session_state
    state.setdefault(POSITION, 0)
    state.setdefault(PLAYING, False)
    fingerprint = (sweep.X.shape, sweep.W.shape, sweep.stride, sweep.padding)
    if state.get(FINGERPRINT) != fingerprint:
        state[FINGERPRINT] = fingerprint
        state[POSITION] = 0
        state[PLAYING] = False
    state[POSITION] = min(state[POSITION], len(sweep.positions) - 1)


def show_sweep(sweep: Sweep) -> None:
    st.header("Step through the output positions")
    st.markdown(
        "Each output value is the sum of a patch of the input multiplied cell "
        "by cell by the kernel, plus the bias:"
    )
    st.latex(r"Z[i, j] = b + \sum_{c} \sum_{u=0}^{k-1} \sum_{v=0}^{k-1} "
             r"W[c, u, v]\; X_{\text{pad}}[c,\, s i + u,\, s j + v]")
    st.markdown(
        "Use **Next** and **Previous** (or the arrow keys), drag the slider, or "
        "press **Play** to watch the kernel sweep the input."
    )
    sync_position(sweep)
    seconds = st.sidebar.slider(
        "Seconds per step when playing", *PLAY_SECONDS, step=0.1, key="cv_speed",
        persist_state="session")
    st.session_state[TIMER] = st.session_state[PLAYING]
    run_every = seconds if st.session_state[PLAYING] else None
    st.fragment(step_view, run_every=run_every)(sweep, seconds)


def show_channels_hint(channels: int) -> None:
    """Point single-channel users to the RGB version of the step view."""
    if channels != 1:
        return
    st.header("Several input channels")
    st.markdown(
        "A colour photo has three channels, and a kernel for it has one grid per "
        "channel: VGG16's first layer has 64 such kernels of 3×3×3. The step "
        "view then writes out one partial sum per channel and adds them up."
    )
    st.button("Show an RGB photo with a VGG16 kernel", key="cv_rgb_example",
              on_click=rgb_example, icon=":material/palette:")


def rgb_example() -> None:
    st.session_state["cv_source"] = "photo"
    st.session_state["cv_colour"] = "rgb"
    st.session_state["cv_kernel_source"] = "vgg"


BACKWARD_INPUT = np.array([[1, 2, 0, 3],
                           [4, 1, 2, 0],
                           [0, 3, 1, 2],
                           [2, 0, 4, 1]], dtype=float)
BACKWARD_KERNELS = {2: np.array([[1.0, -1.0], [2.0, 0.0]]),
                    3: np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.0, -1.0, 1.0]])}
# Every window of this map has a tie, so the first-maximum rule shows.
POOL_INPUT = np.array([[1, 3, 2, 2],
                       [0, 3, 1, 0],
                       [4, 2, 5, 5],
                       [1, 4, 5, 0]], dtype=float)
POOL_UPSTREAM = np.array([[1.0, 2.0], [3.0, 4.0]])


@dataclass(frozen=True)
class Backward:
    """The small convolution of the backward section and its gradients.

    `X` is `(1, 4, 4)` and `W` `(1, 1, k, k)`, and `dZ` is the upstream
    gradient `(1, H_out, W_out)`. `dX`, `dW` and `db` come from
    `Conv2D.backward`, with the filter and channel axes dropped.
    """

    X: np.ndarray
    W: np.ndarray
    stride: int
    padding: int
    dZ: np.ndarray
    dX: np.ndarray
    dW: np.ndarray
    db: float


def backward_controls() -> tuple[int, int, int, str]:
    columns = st.columns(4)
    k = columns[0].radio("Kernel size", [2, 3], key="cv_bw_kernel",
                         persist_state="session", horizontal=True)
    stride = columns[1].radio("Stride", [1, 2], key="cv_bw_stride",
                              persist_state="session", horizontal=True)
    padding = columns[2].radio("Padding", [0, 1], key="cv_bw_padding",
                               persist_state="session",
                               horizontal=True)
    upstream = columns[3].radio(
        "Upstream gradient dZ", ["ones", "typed"], key="cv_bw_upstream",
        persist_state="session",
        horizontal=True, format_func={"ones": "All ones", "typed": "Typed in"}.get)
    return k, stride, padding, upstream


def run_backward(k: int, stride: int, padding: int, upstream: str) -> Backward:
    """Run the small convolution forward and backward in the engine."""
    X = BACKWARD_INPUT[None]
    W = BACKWARD_KERNELS[k][None, None]
    layer = Conv2D(W, np.zeros(1), stride, padding)
    Z = layer.forward(X[None])[0]  # (1, H_out, W_out)
    dZ = np.ones_like(Z)
    if upstream == "typed":
        st.markdown("**Upstream gradient dZ.** Type over any value.")
        H_out, W_out = Z.shape[1:]
        dZ = edit_grid("dZ", dZ[0], key=f"cv_bw_dz_{H_out}x{W_out}")[None]
    dX = layer.backward(dZ[None])[0]
    return Backward(X, W, stride, padding, dZ, dX[0], layer.grads["W"][0, 0],
                    float(layer.grads["b"][0]))


def signed_grid(values: np.ndarray, title: str, width_px: int, **outlines):
    return grid_figure(values, (title,), scales=[DIVERGING_SCALE],
                       zrange=signed_range(values), width_px=width_px, **outlines)


def show_backward_setup(bw: Backward) -> None:
    p = bw.padding
    st.markdown(
        "The example: a 4×4 input X, the kernel W below, bias 0, and the "
        "gradient dZ = ∂J/∂Z that the layer above sends back, one value per "
        "output position."
    )
    ratios = [3, 2, 2]
    columns = st.columns(ratios)
    columns[0].plotly_chart(
        grid_figure(pad_input(bw.X, p), (input_name(p),), padding=p,
                    zrange=value_range(bw.X), width_px=column_px(ratios, 0)),
        key="cv_bw_input_chart", config=NO_TOOLBAR)
    columns[1].plotly_chart(signed_grid(bw.W[0, 0], "W", column_px(ratios, 1)),
                            key="cv_bw_kernel_chart", config=NO_TOOLBAR)
    columns[2].plotly_chart(signed_grid(bw.dZ[0], "dZ", column_px(ratios, 2)),
                            key="cv_bw_dz_chart", config=NO_TOOLBAR)


def show_check(label: str, terms_total: float, engine_value: float) -> None:
    """Show the sum of the terms beside the engine's value, and whether they agree."""
    left, right = st.columns(2)
    left.metric(f"{label}: sum of the terms", f"{terms_total:.{CHECK_DIGITS}g}")
    right.metric(f"{label} from Conv2D.backward", f"{engine_value:.{CHECK_DIGITS}g}")
    if np.isclose(terms_total, engine_value, rtol=1e-9, atol=1e-12):
        st.success("The sum of the terms equals the engine's gradient.")
    else:
        st.error("The sum of the terms differs from the engine's gradient.")


def show_weight_gradient(bw: Backward) -> None:
    st.subheader("dW: one weight, summed over every position")
    k = bw.W.shape[2]
    offsets = [(u, v) for u in range(k) for v in range(k)]
    u, v = st.selectbox("Weight", offsets, key=f"cv_bw_weight_{k}", width=220,
                        format_func=lambda uv: f"W[{uv[0]}, {uv[1]}]")
    terms = weight_gradient_terms(bw.X, bw.dZ, bw.stride, bw.padding, 0, 0, u, v)
    st.markdown(
        f"The same weight W[{u}, {v}] is used at every output position, where "
        f"it multiplies the input cell {u} rows and {v} columns from the patch's "
        f"corner. So its gradient has one term per position, that position's "
        f"dZ times that input cell. The green cells are the {len(terms)} input "
        f"values it met, and the amber cell on the right is the result."
    )

    p = bw.padding
    ratios = [3, 2]
    left, right = st.columns(ratios)
    left.plotly_chart(
        grid_figure(pad_input(bw.X, p), (input_name(p),), padding=p,
                    marks=[(t.row, t.column) for t in terms],
                    zrange=value_range(bw.X), width_px=column_px(ratios, 0)),
        key="cv_bw_dw_input_chart", config=NO_TOOLBAR)
    right.plotly_chart(signed_grid(bw.dW, "dW", column_px(ratios, 1),
                                   box=(u, v, 1, 1)),
                       key="cv_bw_dw_chart", config=NO_TOOLBAR)

    total = term_total(terms)
    st.latex(weight_gradient_latex(terms, u, v, bw.stride, total))
    show_check(f"dW[{u}, {v}]", total, float(bw.dW[u, v]))

    st.markdown("The bias is added at every position with weight 1, so its "
                "gradient is the sum of dZ:")
    st.latex(bias_gradient_latex(bw.dZ[0], bw.db))


def show_kernel_copies(bw: Backward) -> None:
    """Draw the copy of the kernel that each output position adds onto dX."""
    H, W_in = bw.X.shape[1:]
    H_out, W_out = bw.dZ.shape[1:]
    p = bw.padding
    st.markdown(
        "Going back, each output position hands its gradient dZ[i, j] to the "
        "input cells of its patch through the same weights. It adds a copy of "
        "the kernel, scaled by dZ[i, j], onto its patch. Below is each copy on "
        "the padded grid, with the input inside the dotted square. dX is the "
        f"sum of all {H_out * W_out} copies, with the padding cut off."
    )
    positions = output_positions(H, W_in, bw.W.shape[2], bw.stride, p)
    copies = [kernel_copy(bw.W, bw.dZ, bw.stride, p, (H, W_in), 0, i, j)
              for i, j in positions]
    titles = [f"dZ[{i}, {j}]·W" for i, j in positions]
    st.plotly_chart(copies_figure(np.array(copies), titles, p, W_out,
                                  width_px=MAIN_WIDTH_PX),
                    key="cv_bw_copies_chart", config=NO_TOOLBAR)


def show_input_gradient(bw: Backward) -> None:
    st.subheader("dX: kernel copies added up")
    show_kernel_copies(bw)

    H, W_in = bw.X.shape[1:]
    cells = [(r, c) for r in range(H) for c in range(W_in)]
    row, column = st.selectbox("Input cell", cells, index=5, key="cv_bw_cell",
                               persist_state="session",
                               width=220,
                               format_func=lambda rc: f"X[{rc[0]}, {rc[1]}]")
    terms = input_gradient_terms(bw.W, bw.dZ, bw.stride, bw.padding, 0, row,
                                 column)
    total = term_total(terms)

    ratios = [2, 3]
    left, right = st.columns(ratios)
    left.plotly_chart(signed_grid(bw.dX, "dX", column_px(ratios, 0),
                                  box=(row, column, 1, 1)),
                      key="cv_bw_dx_chart", config=NO_TOOLBAR)
    with right:
        st.markdown(
            f"X[{row}, {column}] lies under {count(len(terms), 'window')}. Each "
            f"adds its dZ times the weight that sat on this cell, so dX[{row}, "
            f"{column}] is the sum of those products (amber in the grid of dX)."
        )
        show_check(f"dX[{row}, {column}]", total, float(bw.dX[row, column]))
    st.latex(input_gradient_latex(terms, row, column, bw.stride, bw.padding,
                                  total))


def show_pool_gradient() -> None:
    st.subheader("Max pooling: the gradient goes to the winner")
    st.markdown(
        "Max pooling passes on only the largest value of each window, so a small "
        "change to any other cell does not change its output. Only the winner "
        "gets the window's gradient, and the others get 0. When several cells "
        "tie, the engine picks the first in row-major order (left to right, then "
        "top to bottom). Every window of this example has a tie."
    )
    pool = MaxPool2D(POOL)
    P = pool.forward(POOL_INPUT[None, None])[0, 0]
    dA_prev = pool.backward(POOL_UPSTREAM[None, None])[0, 0]
    windows = [pool_detail(POOL_INPUT, r, c)
               for r, c in output_positions(*POOL_INPUT.shape, POOL, POOL, 0)]
    winners = [(d.top + d.winner[0], d.left + d.winner[1]) for d in windows]
    outlines = {"windows": [(d.top, d.left, POOL, POOL) for d in windows],
                "marks": winners}

    ratios = [3, 2, 2, 3]
    columns = st.columns(ratios)
    columns[0].plotly_chart(
        grid_figure(POOL_INPUT, ("A",), zrange=value_range(POOL_INPUT),
                    width_px=column_px(ratios, 0), **outlines),
        key="cv_pool_input_chart", config=NO_TOOLBAR)
    columns[1].plotly_chart(
        grid_figure(P, ("P = maxpool(A)",), zrange=value_range(POOL_INPUT),
                    width_px=column_px(ratios, 1)),
        key="cv_pool_output_chart", config=NO_TOOLBAR)
    columns[2].plotly_chart(
        signed_grid(POOL_UPSTREAM, "dP", column_px(ratios, 2)),
        key="cv_pool_upstream_chart", config=NO_TOOLBAR)
    columns[3].plotly_chart(
        signed_grid(dA_prev, "dA", column_px(ratios, 3), **outlines),
        key="cv_pool_dx_chart", config=NO_TOOLBAR)
    st.markdown("\n".join(winner_lines(windows)))


def winner_lines(windows: list) -> list[str]:
    """Describe, as Markdown list items, where each window's gradient goes."""
    lines = []
    for d in windows:
        r, c = d.top // POOL, d.left // POOL
        row, column = d.top + d.winner[0], d.left + d.winner[1]
        values = ", ".join(f"{x:g}" for x in d.window.ravel())
        lines.append(
            f"- Window ({r}, {c}): max({values}) = {d.value:g}, first at "
            f"A[{row}, {column}], which receives dP[{r}, {c}] = "
            f"{POOL_UPSTREAM[r, c]:g}.")
    return lines


def show_backward() -> None:
    st.header("The backward pass")
    st.markdown(
        "In training, the layer receives dZ, the gradient of the cost with "
        "respect to its output, and returns three gradients: dW and db to update "
        "its weights and bias, and dX to pass on to the layer below. Each is a "
        "sum over the output positions, because every position used the same "
        "weights. A small example shows every term."
    )
    bw = run_backward(*backward_controls())
    show_backward_setup(bw)
    show_weight_gradient(bw)
    show_input_gradient(bw)
    show_pool_gradient()


st.set_page_config(page_title="Convolution", layout="wide")
allocator.start_trimming()
st.title("Convolution")
st.markdown(
    "A convolutional layer slides a small grid of weights, the kernel, over "
    "its input. At each position it multiplies the patch under the kernel "
    "cell by cell with the weights and adds everything up, with a bias: one "
    "number of the output. Choose an input and a kernel, then step through "
    "every position, ReLU and max pooling, and finally the gradients of the "
    "backward pass. Every number on this page comes from the NumPy engine."
)

st.header("The input and the kernel")
input_column, kernel_column = st.columns(INPUT_KERNEL_RATIOS, gap="large")
X = choose_input(input_column)
if X is not None:
    W, b = choose_kernel(kernel_column, X.shape[0])
    stride, padding = geometry_controls()
    st.header("Output size")
    if show_output_size(X, W.shape[2], stride, padding):
        show_sweep(build_sweep(X, W, b, stride, padding))
    show_channels_hint(X.shape[0])
show_backward()
