"""Tests for the convolution page's grids, outlines and formulas."""

import numpy as np
import plotly.graph_objects as go
import pytest

from engine.conv import Conv2D
from engine.conv_steps import (
    input_gradient_terms,
    pool_detail,
    position_detail,
    term_total,
    weight_gradient_terms,
)
from figures.convolution import (
    BOX_COLOUR,
    MARK_COLOUR,
    PADDING_TEXT,
    WINDOW_COLOUR,
    bias_gradient_latex,
    cell_size,
    cell_texts,
    copies_figure,
    decimals_for,
    font_size,
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


def shapes_of(figure: go.Figure, colour: str) -> list:
    return [shape for shape in figure.layout.shapes if shape.line.color == colour]


def heatmaps(figure: go.Figure) -> list[go.Heatmap]:
    return [trace for trace in figure.data if isinstance(trace, go.Heatmap)]


@pytest.mark.parametrize("values, expected", [
    ([9.0, -18.0, 0.0], ["9", "-18", "0"]),
    ([0.304, -0.00871, 0.471], ["0.304", "-0.009", "0.471"]),
    ([0.53, 0.2, 1.0], ["0.53", "0.20", "1.00"]),
    ([0.52, 0.5, 0.47], ["0.52", "0.50", "0.47"]),
    ([0.5, 0.25], ["0.50", "0.25"]),
    ([1 / 9, 2 / 9, 0.0], ["0.111", "0.222", "0"]),
    ([2.9999999999, 1.0], ["3", "1"]),
    ([np.nan, 4.0], ["", "4"]),
    ([-0.0001, 0.5], ["0", "0.500"]),
])
def test_cell_texts_share_decimals(values, expected):
    assert cell_texts(np.array(values)).tolist() == expected


@pytest.mark.parametrize("values, digits, decimals", [
    ([0.47, -0.1], 2, 2), ([0.47, -0.123], 3, 3), ([12.5], 3, 1),
    ([150.25], 3, 0), ([3.0, 4.0], 3, 0), ([np.nan], 3, 0),
    ([0.5, 0.25], 3, 2), ([0.52, 0.5], 3, 2), ([0.0, 0.0], 3, 0),
])
def test_decimals_for_peak(values, digits, decimals):
    assert decimals_for(np.array(values), digits) == decimals


def test_signed_range_is_symmetric():
    assert signed_range(np.array([-2.0, 5.0, np.nan])) == (-5.0, 5.0)
    assert signed_range(np.zeros(3)) == (-1.0, 1.0)


def test_value_range_widens_flat_grid():
    assert value_range(np.array([0.0, 9.0])) == (0.0, 9.0)
    assert value_range(np.full(4, 2.0)) == (1.0, 3.0)


@pytest.mark.parametrize("rows, columns, panels, width_px", [
    (6, 6, 1, 480), (16, 16, 3, 560), (22, 22, 1, 560), (3, 3, 3, 360),
])
def test_cell_size_fits_width(rows, columns, panels, width_px):
    side = cell_size(rows, columns, panels, width_px)

    assert 20 <= side <= 44
    assert side * rows <= max(400, 20 * rows)
    assert side * columns * panels <= max(width_px, 20 * columns * panels)


def test_font_size_hides_text_that_cannot_fit():
    assert font_size(44, ["9", "-18"]) > 0
    assert font_size(20, ["-0.00871"]) == 0


def test_grid_figure_outlines_patch():
    figure = grid_figure(np.arange(16.0).reshape(4, 4), ("X",), box=(1, 2, 3, 2))

    (box,) = shapes_of(figure, BOX_COLOUR)
    assert isinstance(figure, go.Figure)
    assert (box.x0, box.x1, box.y0, box.y1) == (1.5, 3.5, 0.5, 3.5)
    assert figure.layout.annotations[0].text == "X"


def test_grid_figure_marks_and_windows():
    marks = [(0, 1), (2, 2)]
    windows = [(0, 0, 2, 2), (0, 2, 2, 2)]

    figure = grid_figure(np.zeros((4, 4)), ("A",), marks=marks, windows=windows)

    assert len(shapes_of(figure, MARK_COLOUR)) == len(marks)
    dashed = shapes_of(figure, WINDOW_COLOUR)
    assert len(dashed) == len(windows)
    assert all(shape.line.dash == "dash" for shape in dashed)
    assert not shapes_of(figure, BOX_COLOUR)


def test_grid_figure_writes_values_in_cells():
    values = np.array([[1.0, -2.0], [0.5, 3.0]])

    figure = grid_figure(values, ("Z",))

    (heatmap,) = heatmaps(figure)
    assert heatmap.texttemplate == "%{text}"
    # One decimal writes 0.5 exactly, so every cell gets one.
    assert np.asarray(heatmap.text).tolist() == [["1.0", "-2.0"], ["0.5", "3.0"]]
    np.testing.assert_array_equal(heatmap.z, values)


def test_grid_figure_draws_padding_in_grey():
    X_pad = np.pad(np.ones((3, 3)), 1)

    figure = grid_figure(X_pad, ("X_pad",), padding=1)

    main, padding = heatmaps(figure)
    assert np.isnan(main.z[0][0])
    assert main.z[1][1] == 1
    assert padding.z[0][0] == 0
    assert np.isnan(padding.z[1][1])
    assert padding.textfont.color == PADDING_TEXT


def test_grid_figure_shows_missing_cells_as_empty():
    values = np.array([[1.0, np.nan], [np.nan, np.nan]])

    figure = grid_figure(values, ("Z",))

    main, empty = heatmaps(figure)
    assert np.asarray(main.text).tolist() == [["1", ""], ["", ""]]
    assert np.isnan(empty.z[0][0])
    assert empty.z[1][1] == 0


def test_grid_figure_draws_each_channel():
    figure = grid_figure(np.zeros((3, 4, 4)), ("R", "G", "B"), box=(0, 0, 2, 2))

    assert len(heatmaps(figure)) == 3
    assert len(shapes_of(figure, BOX_COLOUR)) == 3
    assert figure.layout.yaxis3.scaleanchor == "x3"
    assert figure.layout.yaxis2.showticklabels is False


def test_grid_figure_hides_text_in_tiny_cells():
    figure = grid_figure(np.full((8, 8), -0.12345), ("X",), cell_px=20, digits=4)

    assert heatmaps(figure)[0].texttemplate == ""


def test_grid_figure_rejects_wrong_titles():
    with pytest.raises(ValueError, match="expected 3 titles"):
        grid_figure(np.zeros((3, 2, 2)), ("X",))


def test_product_figure_shows_sums():
    X = np.arange(27.0).reshape(3, 3, 3) / 27
    W = np.random.default_rng(0).standard_normal((1, 3, 2, 2))
    detail = position_detail(X, W, np.zeros(1), 1, 0, 0, 1, 0)

    figure = product_figure(detail.patch, W[0], detail.products,
                            detail.partial_sums, ("R", "G", "B"))

    assert len(heatmaps(figure)) == 9
    texts = [annotation.text for annotation in figure.layout.annotations]
    assert texts.count("×") == 3
    assert texts.count("=") == 3
    sums = [text for text in texts if text.startswith("sum")]
    assert len(sums) == 3
    assert "products (G)" in texts
    np.testing.assert_allclose(heatmaps(figure)[2].z, detail.products[0])


def test_kernel_bank_outlines_chosen():
    W = np.random.default_rng(0).standard_normal((64, 3, 3, 3))

    figure = kernel_bank_figure(W, chosen=9, columns=8)

    assert isinstance(figure.data[0], go.Image)
    (box,) = shapes_of(figure, BOX_COLOUR)
    # Kernel 9 is the second tile of the second row: tiles start at 1 + 4 k.
    assert box.x0 == pytest.approx(5 - 0.8)
    assert box.y0 == pytest.approx(5 - 0.8)


def test_kernel_bank_rejects_grey_kernels():
    with pytest.raises(ValueError, match="expected RGB kernels"):
        kernel_bank_figure(np.zeros((4, 1, 3, 3)), 0)


def test_copies_figure_writes_only_windows():
    copies = np.zeros((4, 3, 3))
    copies[0, :2, :2] = [[1.0, -1.0], [2.0, 0.0]]

    figure = copies_figure(copies, ["a", "b", "c", "d"], padding=0, columns=2)

    maps = heatmaps(figure)
    assert len(maps) == 4
    assert np.asarray(maps[0].text).tolist() == [
        ["1", "-1", ""], ["2", "", ""], ["", "", ""]]
    assert maps[0].zmin == -2.0


def test_output_size_latex_substitutes_numbers():
    latex = output_size_latex(6, 3, 2, 1, 3)

    assert r"\frac{6 + 2 \cdot 1 - 3}{2}" in latex
    assert latex.endswith("= 3")


def test_position_latex_one_channel():
    X = np.array([[[0.0, 9.0, 9.0], [0.0, 9.0, 0.0], [0.0, 9.0, 0.0]]])
    W = np.array([[[[1.0, 0.0, -1.0]] * 3]])
    detail = position_detail(X, W, np.array([0.5]), 1, 0, 0, 0, 0)

    latex = position_latex(detail, W[0], 0, 0, ("grey",))

    assert r"Z[0, 0] &= \sum_{u,v} W[u, v]" in latex
    assert r"(-1) \cdot 9" in latex
    assert r"&\quad + 0.5" in latex
    assert latex.endswith(r"&= -8.5\end{aligned}")


def test_position_latex_adds_channel_sums():
    X = np.ones((3, 2, 2))
    W = np.arange(12.0).reshape(1, 3, 2, 2)
    detail = position_detail(X, W, np.array([1.0]), 1, 0, 0, 0, 0)

    latex = position_latex(detail, W[0], 0, 0, ("R", "G", "B"))

    for name, total in (("R", 6), ("G", 22), ("B", 38)):
        assert rf"s_{{\text{{{name}}}}} &= \sum" in latex
        assert rf"&= {total} \\[8pt]" in latex
    assert r"&= 6 + 22 + 38 + 1 \\ &= 67\end{aligned}" in latex


def test_pool_latex_lists_window():
    detail = pool_detail(np.array([[1.0, 3.0], [3.0, 0.0]]), 0, 0)

    assert pool_latex(detail, 0, 0) == r"P[0, 0] = \max(1, 3, 3, 0) = 3"


def test_weight_gradient_latex_lists_terms():
    X = np.arange(16.0).reshape(1, 4, 4)
    dZ = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    terms = weight_gradient_terms(X, dZ, 2, 0, 0, 0, 1, 1)

    latex = weight_gradient_latex(terms, 1, 1, 2, term_total(terms))

    assert r"X_{\text{pad}}[2i + 1, 2j + 1]" in latex
    assert r"dZ[1, 1]\, X_{\text{pad}}[3, 3]" in latex
    assert r"4 \cdot 15" in latex
    assert latex.endswith(r"&= 118\end{aligned}")  # 5 + 2*7 + 3*13 + 4*15


def test_input_gradient_latex_matches_engine():
    W = np.array([[[[1.0, -1.0], [2.0, 0.0]]]])
    X = np.arange(16.0).reshape(1, 1, 4, 4)
    layer = Conv2D(W, np.zeros(1), 1, 1)
    dZ = np.ones_like(layer.forward(X))
    dX = layer.backward(dZ)
    terms = input_gradient_terms(W, dZ[0], 1, 1, 0, 0, 0)

    latex = input_gradient_latex(terms, 0, 0, 1, 1, term_total(terms))

    assert r"W[0 + 1 - i,\ 0 + 1 - j]" in latex
    assert latex.endswith(rf"&= {dX[0, 0, 0, 0]:g}\end{{aligned}}")


def test_bias_gradient_latex_sums_dZ():
    latex = bias_gradient_latex(np.array([[1.0, -2.0], [0.5, 3.0]]), 2.5)

    assert r"1 + (-2) + 0.5 + 3" in latex
    assert latex.endswith(r"&= 2.5\end{aligned}")
