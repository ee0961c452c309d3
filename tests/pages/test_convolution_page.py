"""Tests of the convolution page, run through Streamlit's AppTest."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.conv import Conv2D

PAGE = Path(__file__).resolve().parents[2] / "pages" / "5_Convolution.py"
# The backward section's example, as the page defines it.
BACKWARD_INPUT = np.array([[1, 2, 0, 3],
                           [4, 1, 2, 0],
                           [0, 3, 1, 2],
                           [2, 0, 4, 1]], dtype=float)
BACKWARD_KERNELS = {2: np.array([[1.0, -1.0], [2.0, 0.0]]),
                    3: np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0],
                                 [0.0, -1.0, 1.0]])}
N_POSITIONS = 16  # a 3x3 kernel on the default 6x6 grid gives a 4x4 output


@pytest.fixture
def app() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=60).run()


def position(app: AppTest) -> int:
    return app.session_state["cv_position"]


def progress_text(app: AppTest) -> str:
    return app.get("progress")[0].proto.text


def output_size_latex(app: AppTest) -> str:
    return next(latex.value for latex in app.latex if "H_{\\text{out}}" in latex.value)


def chart_values(app: AppTest, key: str) -> np.ndarray:
    """Return the values of the first heatmap of the chart with key `key`.

    Cells not computed yet are NaN there, drawn by a second grey heatmap.
    """
    for chart in app.get("plotly_chart"):
        if chart.proto.id.endswith(f"-{key}"):
            z = json.loads(chart.proto.spec)["data"][0]["z"]
            if isinstance(z, list):
                return np.array(z, dtype=float)
            values = np.frombuffer(base64.b64decode(z["bdata"]), z["dtype"])
            return values.reshape([int(n) for n in z["shape"].split(",")])
    raise AssertionError(f"no Plotly chart with key {key!r} on the page")


def metric_value(app: AppTest, label: str) -> float:
    return float(next(m.value for m in app.metric if m.label == label))


def engine_gradients(k: int, stride: int, padding: int):
    """Return dW and dX of the backward example for an upstream gradient of ones."""
    W = BACKWARD_KERNELS[k][None, None]
    layer = Conv2D(W, np.zeros(1), stride, padding)
    Z = layer.forward(BACKWARD_INPUT[None, None])
    dX = layer.backward(np.ones_like(Z))
    return layer.grads["W"][0, 0], dX[0, 0]


def set_backward(app: AppTest, k: int, stride: int, padding: int) -> None:
    app.radio(key="cv_bw_kernel").set_value(k)
    app.radio(key="cv_bw_stride").set_value(stride)
    app.radio(key="cv_bw_padding").set_value(padding).run()


def test_page_loads_at_first_position(app):
    assert not app.exception
    assert app.title[0].value == "Convolution"
    assert position(app) == 0
    assert progress_text(app) == (f"Position 1 of {N_POSITIONS}: output row 0, "
                                  f"column 0")
    assert app.button(key="cv_previous").disabled
    assert not app.error


def test_next_moves_position(app):
    app.button(key="cv_next").click().run()
    app.button(key="cv_next").click().run()

    assert position(app) == 2
    assert progress_text(app).startswith(f"Position 3 of {N_POSITIONS}: "
                                         f"output row 0, column 2")
    arithmetic = [latex.value for latex in app.latex
                  if latex.value.startswith("$$\n\\begin{aligned}Z[0, 2] &=")]
    assert len(arithmetic) == 1


def test_relu_fills_in_with_z(app):
    # At the first position only Z[0, 0], and so A[0, 0], is computed.
    z = chart_values(app, "cv_output_chart")
    a = chart_values(app, "cv_relu_chart")
    assert np.isfinite(a).sum() == 1
    np.testing.assert_array_equal(np.isnan(a), np.isnan(z))
    assert np.isnan(chart_values(app, "cv_pool_chart")).all()
    assert any("once the window is complete, at output (1, 1)" in md.value
               for md in app.markdown)

    for _ in range(5):
        app.button(key="cv_next").click().run()

    z = chart_values(app, "cv_output_chart")
    a = chart_values(app, "cv_relu_chart")
    assert np.isfinite(a).sum() == 6
    np.testing.assert_array_equal(np.isnan(a), np.isnan(z))
    np.testing.assert_array_equal(a[np.isfinite(a)],
                                  np.maximum(z[np.isfinite(z)], 0))
    pooled = chart_values(app, "cv_pool_chart")
    assert np.isfinite(pooled[0, 0])  # window (0, 0) ends at position 6
    assert np.isnan(pooled).sum() == pooled.size - 1


def test_relu_complete_at_last_position(app):
    app.slider(key="cv_position_slider").set_value(N_POSITIONS).run()

    assert np.isfinite(chart_values(app, "cv_relu_chart")).all()
    assert np.isfinite(chart_values(app, "cv_pool_chart")).all()


def test_previous_and_reset(app):
    for _ in range(5):
        app.button(key="cv_next").click().run()
    app.button(key="cv_previous").click().run()
    assert position(app) == 4

    app.button(key="cv_reset").click().run()
    assert position(app) == 0


def test_last_position_disables_next(app):
    app.slider(key="cv_position_slider").set_value(N_POSITIONS).run()

    assert position(app) == N_POSITIONS - 1
    assert app.button(key="cv_next").disabled
    assert progress_text(app).startswith(f"Position {N_POSITIONS} of")


def test_play_starts_and_pause_stops(app):
    app.button(key="cv_play").click().run()

    assert not app.exception
    assert app.session_state["cv_playing"]
    assert app.button(key="cv_pause")

    app.button(key="cv_pause").click().run()
    assert not app.session_state["cv_playing"]


@pytest.mark.parametrize("stride, padding, fraction, H_out", [
    (1, 0, r"\frac{6 + 2 \cdot 0 - 3}{1}", 4),
    (2, 0, r"\frac{6 + 2 \cdot 0 - 3}{2}", 2),
    (1, 1, r"\frac{6 + 2 \cdot 1 - 3}{1}", 6),
    (3, 2, r"\frac{6 + 2 \cdot 2 - 3}{3}", 3),
])
def test_stride_and_padding_update_formula(app, stride, padding, fraction, H_out):
    app.slider(key="cv_stride").set_value(stride)
    app.slider(key="cv_padding").set_value(padding).run()

    latex = output_size_latex(app)
    assert not app.exception
    assert fraction in latex
    assert latex.endswith(f"= {H_out}\n$$")
    assert progress_text(app).startswith(f"Position 1 of {H_out * H_out}:")


def test_new_geometry_restarts_sweep(app):
    for _ in range(3):
        app.button(key="cv_next").click().run()

    app.slider(key="cv_stride").set_value(2).run()

    assert position(app) == 0


def test_uncovered_rows_are_explained(app):
    app.slider(key="cv_stride").set_value(2).run()

    assert any("never covered" in info.value for info in app.info)


def test_large_kernel_shows_message(app):
    app.sidebar.radio(key="cv_kernel_source").set_value("typed").run()
    app.sidebar.slider(key="cv_kernel_size").set_value(7).run()

    assert not app.exception
    assert len(app.error) == 1
    assert "larger than the padded input" in app.error[0].value
    assert not app.get("progress")
    assert any(header.value == "The backward pass" for header in app.header)


def test_large_kernel_fits_with_padding(app):
    app.sidebar.radio(key="cv_kernel_source").set_value("typed").run()
    app.sidebar.slider(key="cv_kernel_size").set_value(7)
    app.sidebar.slider(key="cv_padding").set_value(1).run()

    assert not app.error
    assert progress_text(app).startswith("Position 1 of 4:")


def test_tiny_output_has_no_pooling(app):
    app.slider(key="cv_stride").set_value(4).run()

    assert any("nothing to pool" in info.value for info in app.info)
    assert app.button(key="cv_next").disabled


@pytest.mark.parametrize("preset", ["Identity", "Box blur", "Sobel y"])
def test_presets_run(app, preset):
    app.selectbox(key="cv_preset").set_value(preset).run()

    assert not app.exception
    assert any(f"Kernel: {preset}." in md.value for md in app.markdown)


def test_rgb_example_writes_channel_sums(app):
    app.button(key="cv_rgb_example").click().run()

    assert not app.exception
    assert app.session_state["cv_source"] == "photo"
    arithmetic = next(latex.value for latex in app.latex
                      if "s_{\\text{R}}" in latex.value)
    for name in ("R", "G", "B"):
        assert f"s_{{\\text{{{name}}}}} &= \\sum" in arithmetic
    assert any("VGG16's conv1_1" in md.value for md in app.markdown)


def test_grey_photo_with_vgg_kernel(app):
    app.button(key="cv_rgb_example").click().run()
    app.sidebar.radio(key="cv_colour").set_value("grey").run()

    assert not app.exception
    assert any("channels of the kernel are added" in caption.value
               for caption in app.caption)


@pytest.mark.parametrize("k, stride, padding", [
    (2, 1, 0), (3, 1, 1), (2, 2, 1), (3, 2, 0),
])
def test_backward_sum_equals_engine_dW(app, k, stride, padding):
    set_backward(app, k, stride, padding)
    dW, _ = engine_gradients(k, stride, padding)

    for u, v in ((0, 0), (k - 1, k - 1)):
        app.selectbox(key=f"cv_bw_weight_{k}").set_value((u, v)).run()
        shown = metric_value(app, f"dW[{u}, {v}]: sum of the terms")
        engine = metric_value(app, f"dW[{u}, {v}] from Conv2D.backward")
        assert shown == pytest.approx(dW[u, v])
        assert engine == pytest.approx(dW[u, v])
    assert not app.exception


@pytest.mark.parametrize("k, stride, padding", [(2, 1, 0), (3, 2, 1)])
def test_backward_sum_equals_engine_dX(app, k, stride, padding):
    set_backward(app, k, stride, padding)
    _, dX = engine_gradients(k, stride, padding)

    for row, column in ((0, 0), (1, 2), (3, 3)):
        app.selectbox(key="cv_bw_cell").set_value((row, column)).run()
        shown = metric_value(app, f"dX[{row}, {column}]: sum of the terms")
        assert shown == pytest.approx(dX[row, column])
    assert not app.error


def test_pooling_routes_to_first_maximum(app):
    lines = [md.value for md in app.markdown if "Window (0, 0)" in md.value]

    assert len(lines) == 1
    # 3 appears at A[0, 1] and A[1, 1], and the first in row-major order wins.
    assert "first at A[0, 1]" in lines[0]
    assert "first at A[2, 2], which receives dP[1, 1] = 4" in lines[0]
