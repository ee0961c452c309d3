"""Plotly figures of small grids for the convolution page, numbers in each cell.

Every grid is a `go.Heatmap` with row 0 at the top and square cells, axes
labelled with row and column indices. Outlines mark what a step works on:
`box` (amber) is the current patch or output cell, `marks` (green) are
cells picked out by the step, such as the winners of max pooling, and
`windows` (thin, dashed) are the pooling windows. Signed values use the
diverging scale centred on zero, red for negative and blue for positive.
"""

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.conv_steps import (
    InputGradientTerm,
    PoolDetail,
    PositionDetail,
    WeightGradientTerm,
)
from figures.latex import number

# plotly.py 7.1 expands "RdBu" to a list from red (low) to blue (high).
DIVERGING_SCALE = "RdBu"
GREY_SCALE = [[0.0, "#000000"], [1.0, "#ffffff"]]
CHANNEL_SCALES = {
    "R": [[0.0, "#000000"], [1.0, "#ff2020"]],
    "G": [[0.0, "#000000"], [1.0, "#20d020"]],
    "B": [[0.0, "#000000"], [1.0, "#3060ff"]],
}
PADDING_SCALE = [[0.0, "#ececec"], [1.0, "#ececec"]]
PADDING_TEXT = "#9a9a9a"
BOX_COLOUR = "#f59e0b"
MARK_COLOUR = "#16a34a"
WINDOW_COLOUR = "#6b7280"
DIGITS = 3  # significant digits written in a cell
MAX_FONT = 14
MIN_FONT = 7  # below this, cells show no text and hovering gives the values
# A grid's height aims at this many pixels, within the cell sizes below.
GRID_HEIGHT_PX = 380
MIN_CELL_PX, MAX_CELL_PX = 20, 44
# Width a grid chart gets unless the caller says otherwise: about half the
# main area of a wide page on a 1400-pixel screen with the sidebar open.
CHART_WIDTH_PX = 480
PANEL_GAP_PX = 24
SIGN_GAP_PX = 50  # room for × and = between the panels of product_figure
SUM_LABEL_PX = 90  # room for the sum to the right of product_figure
TITLE_PX = 40  # room above the grid for the panel titles
AXIS_PX = 24  # room for the tick labels
TITLE_SHIFT_PX = 24  # lifts a panel title above the tick labels on top
EMPTY_SCALE = [[0.0, "#f1f3f5"], [1.0, "#f1f3f5"]]  # cells without a value

Box = tuple[int, int, int, int]  # (top, left, height, width) in cells


def cell_text(x: float, digits: int = DIGITS) -> str:
    """Write `x` with `digits` significant digits, without an exponent.

    Rounding noise below 1e-12 is written as 0, and so is `-0`. NaN, a
    cell not computed yet, is left blank.
    """
    if np.isnan(x):
        return ""
    if abs(x) < 1e-12:
        return "0"
    text = np.format_float_positional(x, precision=digits, unique=False,
                                      fractional=False, trim="-")
    return "0" if text == "-0" else text


def decimals_for(values: np.ndarray, digits: int = DIGITS) -> int:
    """Choose one number of decimals for a grid: `digits` significant for its peak.

    Fewer decimals are used when they write every value exactly, so whole
    numbers get none and photo values rounded to 0.01 get two. NaN values
    are ignored.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0 or not np.any(finite):
        return 0
    peak = float(np.abs(finite).max())
    most = max(0, digits - 1 - int(np.floor(np.log10(peak))))
    for decimals in range(most):
        if np.allclose(finite, np.round(finite, decimals), rtol=0, atol=1e-9):
            return decimals
    return most


def cell_texts(values: np.ndarray, digits: int = DIGITS) -> np.ndarray:
    """Write every value of a grid with the same number of decimals.

    Sharing the decimals keeps a grid's columns of numbers aligned and
    short. NaN, a cell not computed yet, is left blank, and a value that
    rounds to zero is written as 0.
    """
    decimals = decimals_for(values, digits)
    texts = np.empty(values.shape, dtype=object)
    for index, x in np.ndenumerate(values):
        if np.isnan(x):
            texts[index] = ""
        elif round(float(x), decimals) == 0:
            texts[index] = "0"
        else:
            texts[index] = f"{x:.{decimals}f}"
    return texts


def signed_range(*arrays: np.ndarray) -> tuple[float, float]:
    """Return `(-m, m)` with `m` the largest absolute value, 1 for all zeros.

    NaN values are ignored.
    """
    peak = max((float(np.nanmax(np.abs(a), initial=0.0)) for a in arrays),
               default=0.0)
    limit = peak if peak > 0 else 1.0
    return -limit, limit


def value_range(*arrays: np.ndarray) -> tuple[float, float]:
    """Return the smallest and largest values, widened when they are equal.

    NaN values are ignored.
    """
    low = min(float(np.nanmin(a)) for a in arrays)
    high = max(float(np.nanmax(a)) for a in arrays)
    return (low, high) if high > low else (low - 1, high + 1)


def cell_size(rows: int, columns: int, panels: int = 1,
              width_px: int = CHART_WIDTH_PX) -> int:
    """Choose the side of a cell in pixels, so a grid is about GRID_HEIGHT_PX tall.

    The cells of all panels side by side must also fit the chart's
    expected width `width_px`, less the axis labels and the gaps.
    """
    side = GRID_HEIGHT_PX // max(rows, 1)
    usable = width_px - AXIS_PX - PANEL_GAP_PX * (panels - 1)
    side = min(side, usable // max(columns * panels, 1))
    return int(np.clip(side, MIN_CELL_PX, MAX_CELL_PX))


def font_size(cell_px: int, texts: Sequence[str]) -> int:
    """Return a font size at which the longest text fits a cell, or 0 if none."""
    longest = max((len(text) for text in texts), default=1)
    # A digit of the default sans-serif font is about 0.6 em wide.
    size = int(0.85 * cell_px / (0.6 * max(longest, 2)))
    size = min(size, MAX_FONT)
    return size if size >= MIN_FONT else 0


def grid_figure(values: np.ndarray, titles: Sequence[str] = ("",), *,
                padding: int = 0, box: Box | None = None,
                marks: Sequence[tuple[int, int]] = (),
                windows: Sequence[Box] = (), scales: Sequence | None = None,
                zrange: tuple[float, float] | None = None,
                digits: int = DIGITS, cell_px: int | None = None,
                width_px: int = CHART_WIDTH_PX) -> go.Figure:
    """Draw one grid `(H, W)` or several channels `(C, H, W)` side by side.

    `padding` is the width of the border of `values` that is zero padding,
    drawn in light grey. `box`, `marks` and `windows` are outlined on
    every channel, in the grid's own coordinates (padding included).
    `scales` gives a colour scale per channel (grey when None), and
    `zrange` the values at the two ends of the scales. Cells are `cell_px`
    pixels a side, or sized to fit `width_px`, the chart's expected width.
    """
    grids = values[None] if values.ndim == 2 else values
    if grids.ndim != 3:
        raise ValueError(f"expected (H, W) or (C, H, W), got shape {values.shape}")
    C, H, W = grids.shape
    if len(titles) != C:
        raise ValueError(f"expected {C} titles, got {len(titles)}")
    scales = list(scales) if scales is not None else [GREY_SCALE] * C
    zmin, zmax = zrange if zrange is not None else value_range(grids)
    texts = cell_texts(grids, digits)
    cell_px = cell_px or cell_size(H, W, C, width_px)
    font = font_size(cell_px, texts.ravel())

    figure = make_subplots(1, C, subplot_titles=list(titles),
                           horizontal_spacing=0.04 if C > 1 else 0.0)
    for c in range(C):
        _add_grid(figure, grids[c], texts[c], c + 1, padding, scales[c],
                  (zmin, zmax), font)
        for window in windows:
            _outline(figure, c + 1, window, WINDOW_COLOUR, 1.5, "dash",
                     inset=0.03)
        for row, column in marks:
            _outline(figure, c + 1, (row, column, 1, 1), MARK_COLOUR, 3,
                     inset=0.08)
        if box is not None:
            _outline(figure, c + 1, box, BOX_COLOUR, 4, inset=0.0)
    _grid_axes(figure, H, W, font, C)
    figure.update_layout(height=H * cell_px + TITLE_PX + AXIS_PX)
    # The titles sit above the column indices, which are on top.
    figure.update_annotations(font_size=14, yshift=TITLE_SHIFT_PX)
    return figure


def _heatmap(z: np.ndarray, text: np.ndarray | None, font: int, scale,
             zrange: tuple[float, float], hover: str,
             text_colour: str | None = None) -> go.Heatmap:
    """Build one grid's heatmap, its values written in the cells when `font`."""
    return go.Heatmap(
        z=z, text=None if text is None else text.tolist(),
        texttemplate="%{text}" if font and text is not None else "",
        textfont={"size": font or MIN_FONT, "color": text_colour},
        colorscale=scale, zmin=zrange[0], zmax=zrange[1], showscale=False,
        hoverongaps=False, xgap=1, ygap=1,
        hovertemplate=f"{hover}<extra></extra>")


def _add_grid(figure: go.Figure, grid: np.ndarray, text: np.ndarray,
              column: int, padding: int, scale, zrange: tuple[float, float],
              font: int) -> None:
    """Add the heatmap of one channel, then its empty cells and padding in grey."""
    H, W = grid.shape
    inside = np.zeros((H, W), dtype=bool)
    inside[padding:H - padding, padding:W - padding] = True
    where = "row %{y}, column %{x}<br>"
    figure.add_trace(_heatmap(np.where(inside, grid, np.nan), text, font, scale,
                              zrange, where + "value %{z:.4g}"),
                     row=1, col=column)
    missing = np.isnan(grid)
    if missing.any():
        figure.add_trace(_heatmap(np.where(missing, 0.0, np.nan), None, font,
                                  EMPTY_SCALE, (0.0, 1.0),
                                  where + "not computed yet"),
                         row=1, col=column)
    if padding:
        figure.add_trace(_heatmap(np.where(inside, np.nan, 0.0), text, font,
                                  PADDING_SCALE, (0.0, 1.0),
                                  where + "zero padding", PADDING_TEXT),
                         row=1, col=column)


def _outline(figure: go.Figure, column: int, box: Box, colour: str,
             width: float, dash: str = "solid", inset: float = 0.0) -> None:
    top, left, height, box_width = box
    figure.add_shape(
        type="rect", x0=left - 0.5 + inset, x1=left + box_width - 0.5 - inset,
        y0=top - 0.5 + inset, y1=top + height - 0.5 - inset,
        line={"color": colour, "width": width, "dash": dash},
        row=1, col=column)


def _grid_axes(figure: go.Figure, H: int, W: int, font: int,
               panels: int) -> None:
    """Put row 0 at the top, keep cells square and label every index."""
    tick_font = max(9, min(font, 12))
    figure.update_xaxes(tickmode="linear", tick0=0, dtick=1 if W <= 16 else 2,
                        side="top", showgrid=False, zeroline=False,
                        tickfont={"size": tick_font}, constrain="domain",
                        range=[-0.5, W - 0.5])
    figure.update_yaxes(tickmode="linear", tick0=0, dtick=1 if H <= 16 else 2,
                        showgrid=False, zeroline=False, autorange=False,
                        range=[H - 0.5, -0.5], tickfont={"size": tick_font},
                        constrain="domain")
    # Row indices on the first panel only: later panels' would overlap the
    # panel to their left.
    for column in range(2, panels + 1):
        figure.update_yaxes(showticklabels=False, ticks="", col=column)
    _square_cells(figure, panels)
    figure.update_layout(margin={"l": 30, "r": 10, "t": TITLE_PX + AXIS_PX - 8,
                                 "b": 4},
                         plot_bgcolor="rgba(0, 0, 0, 0)")


def _square_cells(figure: go.Figure, panels: int) -> None:
    """Tie each panel's y axis to its own x axis, so that cells stay square."""
    for index in range(1, panels + 1):
        suffix = "" if index == 1 else str(index)
        figure.layout[f"yaxis{suffix}"].scaleanchor = f"x{suffix}"


def product_figure(patch: np.ndarray, kernel: np.ndarray, products: np.ndarray,
                   partial_sums: np.ndarray, channel_names: Sequence[str],
                   scales: Sequence | None = None,
                   patch_range: tuple[float, float] = (0.0, 1.0),
                   digits: int = DIGITS,
                   width_px: int = CHART_WIDTH_PX) -> go.Figure:
    """Draw patch × kernel = products, one row per channel, with each row's sum.

    All three are `(C, kh, kw)`. The patch uses the input's colour `scales`
    over `patch_range`, and the kernel and the products use the diverging
    scale.
    Cells are sized to fit `width_px`, the chart's expected width.
    """
    C, kh, kw = patch.shape
    scales = list(scales) if scales is not None else [GREY_SCALE] * C
    titles = []
    for name in channel_names:
        suffix = f" ({name})" if C > 1 else ""
        titles += [f"patch{suffix}", f"kernel{suffix}", f"products{suffix}"]
    figure = make_subplots(C, 3, subplot_titles=titles, horizontal_spacing=0.09,
                           vertical_spacing=0.12 if C > 1 else 0.0)
    figure.update_annotations(font_size=14, yshift=TITLE_SHIFT_PX)
    panels = [cell_texts(grid, digits) for grid in (patch, kernel, products)]
    usable = width_px - SUM_LABEL_PX - 2 * SIGN_GAP_PX
    cell_px = int(np.clip(min(300 // max(kh, 1), usable // (3 * kw)), 16, 56))
    font = font_size(cell_px, np.concatenate([t.ravel() for t in panels]))
    grids = (patch, kernel, products)
    ranges = [patch_range, signed_range(kernel), signed_range(products)]
    for c in range(C):
        for k, (grid, text, zrange) in enumerate(zip(grids, panels, ranges)):
            scale = scales[c] if k == 0 else DIVERGING_SCALE
            figure.add_trace(_heatmap(grid[c], text[c], font, scale, zrange,
                                      "u %{y}, v %{x}<br>value %{z:.4g}"),
                             row=c + 1, col=k + 1)
        _row_signs(figure, c, partial_sums[c], digits)
    _product_axes(figure, kh, kw, C)
    figure.update_layout(height=C * (kh * cell_px + 60) + 30,
                         margin={"l": 10, "r": SUM_LABEL_PX, "t": 50, "b": 10})
    return figure


def _row_signs(figure: go.Figure, c: int, total: float, digits: int) -> None:
    """Write × and = between the panels of row `c`, and the row's sum after it."""
    axis = 3 * c  # index of the row's first x axis, less one
    domains = [figure.layout[f"xaxis{axis + k if axis + k > 1 else ''}"].domain
               for k in (1, 2, 3)]
    y_domain = figure.layout[f"yaxis{axis + 1 if axis + 1 > 1 else ''}"].domain
    y = (y_domain[0] + y_domain[1]) / 2
    signs = [("×", (domains[0][1] + domains[1][0]) / 2),
             ("=", (domains[1][1] + domains[2][0]) / 2)]
    for sign, x in signs:
        figure.add_annotation(text=sign, x=x, y=y, xref="paper", yref="paper",
                              showarrow=False, font={"size": 22})
    figure.add_annotation(text=f"sum<br><b>{cell_text(total, digits + 1)}</b>",
                          x=domains[2][1] + 0.01, y=y, xref="paper",
                          yref="paper", xanchor="left", showarrow=False,
                          font={"size": 14})


def _product_axes(figure: go.Figure, kh: int, kw: int, rows: int) -> None:
    figure.update_xaxes(tickmode="linear", tick0=0, dtick=1, side="top",
                        showgrid=False, zeroline=False, range=[-0.5, kw - 0.5],
                        constrain="domain", tickfont={"size": 10})
    figure.update_yaxes(tickmode="linear", tick0=0, dtick=1, showgrid=False,
                        zeroline=False, range=[kh - 0.5, -0.5],
                        constrain="domain", tickfont={"size": 10})
    # Only the patch shows row indices: the signs sit where the others' would.
    figure.update_yaxes(showticklabels=False, ticks="", col=2)
    figure.update_yaxes(showticklabels=False, ticks="", col=3)
    _square_cells(figure, 3 * rows)


def kernel_bank_figure(W: np.ndarray, chosen: int, columns: int = 8,
                       width_px: int = 360) -> go.Figure:
    """Draw every RGB kernel of `W` `(F, 3, kh, kw)` as a small colour tile.

    Each kernel is scaled on its own to [0, 255] around 128, so mid-grey
    is zero. The `chosen` kernel is outlined, and hovering names each index.
    `width_px` is the chart's expected width, which sets its height.
    """
    F, C, kh, kw = W.shape
    if C != 3:
        raise ValueError(f"expected RGB kernels (F, 3, kh, kw), got {W.shape}")
    peak = np.abs(W).max(axis=(1, 2, 3), keepdims=True)  # (F, 1, 1, 1)
    scaled = np.divide(W, peak, out=np.zeros(W.shape), where=peak > 0)
    tiles = (128 + 127 * scaled).astype(np.uint8).transpose(0, 2, 3, 1)
    gap = 1
    rows = -(-F // columns)
    image = np.full((rows * (kh + gap) + gap, columns * (kw + gap) + gap, 3),
                    255, np.uint8)
    index = np.full(image.shape[:2], -1)
    for f in range(F):
        top = gap + (f // columns) * (kh + gap)
        left = gap + (f % columns) * (kw + gap)
        image[top:top + kh, left:left + kw] = tiles[f]
        index[top:top + kh, left:left + kw] = f
    figure = go.Figure(go.Image(
        z=image, customdata=index[..., None],
        hovertemplate="kernel %{customdata[0]}<extra></extra>"))
    top = gap + (chosen // columns) * (kh + gap)
    left = gap + (chosen % columns) * (kw + gap)
    figure.add_shape(type="rect", x0=left - 0.5 - 0.3, x1=left + kw - 0.5 + 0.3,
                     y0=top - 0.5 - 0.3, y1=top + kh - 0.5 + 0.3,
                     line={"color": BOX_COLOUR, "width": 3})
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, scaleanchor="x", constrain="domain")
    figure.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0},
                         height=int(width_px * image.shape[0] / image.shape[1]))
    return figure


def copies_figure(copies: np.ndarray, titles: Sequence[str], padding: int,
                  columns: int, digits: int = DIGITS,
                  width_px: int = 2 * CHART_WIDTH_PX) -> go.Figure:
    """Draw kernel copies `(n, H_pad, W_pad)` as small grids, `columns` a row.

    All copies share one diverging scale, so their sizes compare, and only
    each copy's window is written out. A dotted square marks the input
    inside the padding. `width_px` is the chart's expected width.
    """
    n, H, W = copies.shape
    rows = -(-n // columns)
    figure = make_subplots(rows, columns, subplot_titles=list(titles),
                           horizontal_spacing=0.03, vertical_spacing=0.25 / rows)
    zrange = signed_range(copies)
    texts = cell_texts(copies, digits)
    texts[copies == 0] = ""  # only the window of each copy is written
    cell_px = int(np.clip(width_px // (columns * W), 14, 40))
    font = font_size(cell_px, texts.ravel())
    for k in range(n):
        figure.add_trace(_heatmap(copies[k], texts[k], font, DIVERGING_SCALE,
                                  zrange, "row %{y}, column %{x}<br>"
                                  "value %{z:.4g}"),
                         row=k // columns + 1, col=k % columns + 1)
        if padding:
            figure.add_shape(
                type="rect", x0=padding - 0.5, x1=W - padding - 0.5,
                y0=padding - 0.5, y1=H - padding - 0.5,
                line={"color": WINDOW_COLOUR, "width": 1, "dash": "dot"},
                row=k // columns + 1, col=k % columns + 1)
    figure.update_xaxes(showticklabels=False, ticks="", showgrid=False,
                        zeroline=False, range=[-0.5, W - 0.5], constrain="domain")
    figure.update_yaxes(showticklabels=False, ticks="", showgrid=False,
                        zeroline=False, range=[H - 0.5, -0.5], constrain="domain")
    _square_cells(figure, rows * columns)
    figure.update_layout(height=rows * (H * cell_px + 30) + 20,
                         margin={"l": 4, "r": 4, "t": 30, "b": 4})
    figure.update_annotations(font_size=12)
    return figure


def output_size_latex(size: int, kernel: int, stride: int, padding: int,
                      result: int, symbol: str = "H") -> str:
    """Write `H_out = floor((H + 2p - k) / s) + 1` with the numbers put in."""
    return (
        rf"{symbol}_{{\text{{out}}}} = \left\lfloor \frac{{{symbol} + 2p - k}}{{s}}"
        rf" \right\rfloor + 1 = \left\lfloor \frac{{{size} + 2 \cdot {padding}"
        rf" - {kernel}}}{{{stride}}} \right\rfloor + 1 = {result}"
    )


def _factor(x: float, digits: int) -> str:
    """Write a factor of a product, in brackets when it is negative."""
    text = number(x, digits)
    return f"({text})" if text.startswith("-") else text


def _product_rows(kernel: np.ndarray, patch: np.ndarray, digits: int) -> list[str]:
    """Write `w x + w x + ...`, one line per kernel row."""
    rows = []
    for w_row, x_row in zip(kernel, patch):
        rows.append(" + ".join(rf"{_factor(w, digits)} \cdot {_factor(x, digits)}"
                               for w, x in zip(w_row, x_row)))
    return rows


def position_latex(detail: PositionDetail, kernel: np.ndarray, i: int, j: int,
                   channel_names: Sequence[str], digits: int = 4) -> str:
    """Write the sum that gives output `Z[i, j]`, term by term.

    `kernel` is the filter's `W[f]`, `(C, kh, kw)`. With one channel the
    products are summed directly. With several, each channel's partial sum
    `s_c` is written out first, and then the sums are added to the bias.
    """
    C = kernel.shape[0]
    where = f"{detail.top} + u, {detail.left} + v"
    blocks = []
    for c in range(C):
        rows = _product_rows(kernel[c], detail.patch[c], digits)
        body = r" \\ &\quad + ".join(rows)
        if C == 1:
            blocks.append(
                rf"Z[{i}, {j}] &= \sum_{{u,v}} W[u, v]\, X_{{\text{{pad}}}}[{where}]"
                rf" + b \\ &= {body} \\ &\quad + {_factor(detail.bias, digits)}"
                rf" \\ &= {number(detail.total, digits)}")
            continue
        name = rf"\text{{{channel_names[c]}}}"
        blocks.append(
            rf"s_{{{name}}} &= \sum_{{u,v}} W[{name}, u, v]\, "
            rf"X_{{\text{{pad}}}}[{name}, {where}] \\ &= {body} \\ "
            rf"&= {number(detail.partial_sums[c], digits)}")
    if C > 1:
        names = " + ".join(rf"s_{{\text{{{name}}}}}" for name in channel_names)
        sums = " + ".join(_factor(x, digits) for x in detail.partial_sums)
        blocks.append(
            rf"Z[{i}, {j}] &= {names} + b \\ &= {sums} + "
            rf"{_factor(detail.bias, digits)} \\ &= {number(detail.total, digits)}")
    return r"\begin{aligned}" + r" \\[8pt] ".join(blocks) + r"\end{aligned}"


def pool_latex(detail: PoolDetail, i: int, j: int, digits: int = 4) -> str:
    """Write `P[i, j] = max(window) = value` for one pooling window."""
    values = ", ".join(number(x, digits) for x in detail.window.ravel())
    return (rf"P[{i}, {j}] = \max({values}) = {number(detail.value, digits)}")


def _offset(stride: int, index: str) -> str:
    return index if stride == 1 else f"{stride}{index}"


def weight_gradient_latex(terms: Sequence[WeightGradientTerm], u: int, v: int,
                          stride: int, total: float, digits: int = 4) -> str:
    """Write `dW[u, v]` as the sum of its terms, one per output position."""
    symbols = [rf"dZ[{t.i}, {t.j}]\, X_{{\text{{pad}}}}[{t.row}, {t.column}]"
               for t in terms]
    numbers = [rf"{_factor(t.dz, digits)} \cdot {_factor(t.x, digits)}"
               for t in terms]
    head = (rf"dW[{u}, {v}] &= \sum_{{i,j}} dZ[i, j]\, X_{{\text{{pad}}}}"
            rf"[{_offset(stride, 'i')} + {u}, {_offset(stride, 'j')} + {v}]")
    return _sum_lines(head, symbols, numbers, total, digits)


def input_gradient_latex(terms: Sequence[InputGradientTerm], row: int,
                         column: int, stride: int, padding: int, total: float,
                         digits: int = 4) -> str:
    """Write `dX[row, column]` as the sum of its terms, one per covering window.

    Output `(i, j)` put weight `W[row + p - s i, column + p - s j]` on this
    input value, for the windows where that offset lies inside the kernel.
    """
    shift = f" + {padding}" if padding else ""
    symbols = [rf"dZ[{t.i}, {t.j}]\, W[{t.u}, {t.v}]" for t in terms]
    numbers = [rf"{_factor(t.dz, digits)} \cdot {_factor(t.w, digits)}"
               for t in terms]
    head = (rf"dX[{row}, {column}] &= \sum_{{i,j}} dZ[i, j]\, "
            rf"W[{row}{shift} - {_offset(stride, 'i')},\ "
            rf"{column}{shift} - {_offset(stride, 'j')}]")
    return _sum_lines(head, symbols, numbers, total, digits)


def bias_gradient_latex(dZ: np.ndarray, total: float, digits: int = 4) -> str:
    """Write `db = sum of dZ` with the values of `dZ` `(H_out, W_out)`."""
    numbers = [_factor(x, digits) for x in dZ.ravel()]
    return _sum_lines(r"db &= \sum_{i,j} dZ[i, j]", [], numbers, total, digits)


def _sum_lines(head: str, symbols: Sequence[str], numbers: Sequence[str],
               total: float, digits: int, per_line: int = 4) -> str:
    """Stack `head = symbols = numbers = total`, `per_line` terms a line."""
    lines = [head]
    for parts in (symbols, numbers):
        if not parts:
            continue
        rows = [" + ".join(parts[k:k + per_line])
                for k in range(0, len(parts), per_line)]
        lines.append("&= " + r" \\ &\quad + ".join(rows))
    lines.append(f"&= {number(total, digits)}")
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"
