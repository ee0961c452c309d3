"""The step-by-step convolution arithmetic against Conv2D and MaxPool2D."""

from types import SimpleNamespace

import numpy as np
import pytest

import engine.conv_steps
from engine.conv import Conv2D, MaxPool2D
from engine.conv_steps import (
    KERNEL_PRESETS,
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
from engine.layers import ReLU
from engine.vgg import he_weights, layer_specs
from engine.weights import cached_weights_path

# (C, H, W, F, kernel, stride, padding): channels, input size, filters and
# the convolution's settings, including strides that leave cells uncovered.
GEOMETRIES = [
    (1, 6, 6, 1, 3, 1, 0),
    (3, 5, 5, 2, 3, 1, 1),
    (1, 7, 6, 1, 3, 2, 0),
    (2, 6, 6, 3, 2, 2, 1),
    (3, 8, 7, 2, 1, 1, 0),
    (1, 9, 9, 1, 5, 3, 2),
    (2, 4, 4, 1, 4, 1, 0),
]


def random_case(C, H, W_in, F, k, seed=0):
    """Return a random example X `(C, H, W)`, weights W, b and dZ's rng."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((C, H, W_in))
    W = rng.standard_normal((F, C, k, k))
    b = rng.standard_normal(F)
    return X, W, b, rng


def forward_and_backward(X, W, b, stride, padding, dZ=None):
    """Run Conv2D on the single example and return Z, dZ, dX and the layer."""
    layer = Conv2D(W, b, stride, padding)
    Z = layer.forward(X[None])[0]  # (F, H_out, W_out)
    if dZ is None:
        dZ = np.random.default_rng(1).standard_normal(Z.shape)
    dX = layer.backward(dZ[None])[0]  # (C, H, W)
    return Z, dZ, dX, layer


@pytest.mark.parametrize("C, H, W_in, F, k, stride, padding", GEOMETRIES)
def test_position_detail_matches_forward(C, H, W_in, F, k, stride, padding):
    X, W, b, _ = random_case(C, H, W_in, F, k)
    Z, _, _, _ = forward_and_backward(X, W, b, stride, padding)

    for f in range(F):
        for i, j in output_positions(H, W_in, k, stride, padding):
            detail = position_detail(X, W, b, stride, padding, f, i, j)
            assert detail.total == pytest.approx(Z[f, i, j], rel=1e-12, abs=1e-12)
            assert detail.partial_sums.shape == (C,)
            assert detail.partial_sums.sum() + detail.bias == pytest.approx(
                detail.total)


@pytest.mark.parametrize("C, H, W_in, F, k, stride, padding", GEOMETRIES)
def test_output_positions_cover_output(C, H, W_in, F, k, stride, padding):
    X, W, b, _ = random_case(C, H, W_in, F, k)
    Z, _, _, _ = forward_and_backward(X, W, b, stride, padding)

    positions = output_positions(H, W_in, k, stride, padding)

    H_out, W_out = Z.shape[1:]
    assert positions == [(i, j) for i in range(H_out) for j in range(W_out)]


def test_position_detail_parts():
    X = np.arange(16.0).reshape(1, 4, 4)
    W = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    b = np.array([0.5])

    detail = position_detail(X, W, b, stride=1, padding=1, f=0, i=0, j=1)

    np.testing.assert_array_equal(detail.patch, [[[0.0, 0.0], [0.0, 1.0]]])
    np.testing.assert_array_equal(detail.products, [[[0.0, 0.0], [0.0, -1.0]]])
    np.testing.assert_array_equal(detail.partial_sums, [-1.0])
    assert (detail.top, detail.left) == (0, 1)
    assert detail.total == -0.5


def test_position_detail_rejects_outside_position():
    X, W, b, _ = random_case(1, 4, 4, 1, 3)
    with pytest.raises(ValueError, match="outside the output"):
        position_detail(X, W, b, 1, 0, 0, 2, 0)


def test_position_detail_rejects_wrong_channels():
    W, b = np.ones((1, 1, 3, 3)), np.zeros(1)
    with pytest.raises(ValueError, match="kernel has 1 channels"):
        position_detail(np.zeros((3, 4, 4)), W, b, 1, 0, 0, 0, 0)


def test_output_positions_rejects_large_kernel():
    with pytest.raises(ValueError, match="larger than the padded input"):
        output_positions(4, 4, 7, 1, 1)


def test_pad_input_adds_zero_border():
    X = np.ones((2, 3, 4))

    X_pad = pad_input(X, 2)

    assert X_pad.shape == (2, 7, 8)
    assert X_pad.sum() == X.sum()
    np.testing.assert_array_equal(X_pad[:, 2:5, 2:6], X)


@pytest.mark.parametrize("C, H, W_in, F, k, stride, padding", GEOMETRIES)
def test_weight_gradient_terms_sum_to_dW(C, H, W_in, F, k, stride, padding):
    X, W, b, _ = random_case(C, H, W_in, F, k)
    _, dZ, _, layer = forward_and_backward(X, W, b, stride, padding)
    dW = layer.grads["W"]

    for f, c, u, v in np.ndindex(W.shape):
        terms = weight_gradient_terms(X, dZ, stride, padding, f, c, u, v)
        total = sum(term.product for term in terms)
        assert total == pytest.approx(dW[f, c, u, v], rel=1e-10, abs=1e-12)
        assert len(terms) == dZ.shape[1] * dZ.shape[2]


def test_weight_gradient_terms_name_their_inputs():
    X = np.arange(16.0).reshape(1, 4, 4)
    dZ = np.ones((1, 2, 2))

    terms = weight_gradient_terms(X, dZ, stride=2, padding=0, f=0, c=0, u=1, v=0)

    assert [(t.row, t.column) for t in terms] == [(1, 0), (1, 2), (3, 0), (3, 2)]
    assert [t.x for t in terms] == [4.0, 6.0, 12.0, 14.0]
    assert [(t.i, t.j) for t in terms] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_weight_gradient_terms_reject_large_offset():
    X = np.zeros((1, 4, 4))
    with pytest.raises(ValueError, match="reaches outside"):
        weight_gradient_terms(X, np.ones((1, 3, 3)), 1, 0, 0, 0, 2, 0)


@pytest.mark.parametrize("C, H, W_in, F, k, stride, padding", GEOMETRIES)
def test_input_gradient_terms_sum_to_dX(C, H, W_in, F, k, stride, padding):
    X, W, b, _ = random_case(C, H, W_in, F, k)
    _, dZ, dX, _ = forward_and_backward(X, W, b, stride, padding)

    for c, row, column in np.ndindex(X.shape):
        terms = input_gradient_terms(W, dZ, stride, padding, c, row, column)
        total = sum(term.product for term in terms)
        assert total == pytest.approx(dX[c, row, column], rel=1e-10, abs=1e-12)


def test_input_gradient_terms_of_corner():
    W = np.arange(4.0).reshape(1, 1, 2, 2)
    dZ = np.array([[[1.0, 2.0], [3.0, 4.0]]])

    terms = input_gradient_terms(W, dZ, 1, 0, c=0, row=1, column=1)

    # The centre of a 3x3 input lies under every window of a 2x2 kernel.
    assert [(t.i, t.j, t.u, t.v) for t in terms] == [
        (0, 0, 1, 1), (0, 1, 1, 0), (1, 0, 0, 1), (1, 1, 0, 0)]
    assert sum(t.product for t in terms) == 1 * 3 + 2 * 2 + 3 * 1 + 4 * 0


@pytest.mark.parametrize("C, H, W_in, F, k, stride, padding", GEOMETRIES)
def test_kernel_copies_sum_to_dX(C, H, W_in, F, k, stride, padding):
    X, W, b, _ = random_case(C, H, W_in, F, k)
    _, dZ, dX, _ = forward_and_backward(X, W, b, stride, padding)
    p = padding

    for c in range(C):
        copies = [kernel_copy(W, dZ, stride, p, (H, W_in), c, i, j)
                  for i, j in output_positions(H, W_in, k, stride, p)]
        total = np.sum(copies, axis=0)[p:p + H, p:p + W_in]
        np.testing.assert_allclose(total, dX[c], rtol=1e-10, atol=1e-12)


def test_kernel_copy_is_zero_outside_window():
    W = np.ones((1, 1, 2, 2))
    dZ = np.full((1, 2, 2), 3.0)

    copy = kernel_copy(W, dZ, 2, 0, (4, 4), c=0, i=1, j=0)

    expected = np.zeros((4, 4))
    expected[2:4, 0:2] = 3.0
    np.testing.assert_array_equal(copy, expected)


@pytest.mark.parametrize("shape, kernel, stride, seed", [
    ((4, 4), 2, None, 0),
    ((5, 7), 2, None, 1),
    ((6, 6), 3, None, 2),
    ((5, 5), 2, 1, 3),
])
def test_pool_detail_matches_maxpool(shape, kernel, stride, seed):
    # Small integers make ties, where the first maximum must win.
    A = np.random.default_rng(seed).integers(0, 3, shape).astype(float)
    layer = MaxPool2D(kernel, stride)
    out = layer.forward(A[None, None])[0, 0]
    routed = layer.backward(np.ones((1, 1, *out.shape)))[0, 0]

    winners = np.zeros(shape)
    for i, j in output_positions(*shape, kernel, stride or kernel, 0):
        detail = pool_detail(A, i, j, kernel, stride)
        assert detail.value == out[i, j]
        row, column = detail.winner
        winners[detail.top + row, detail.left + column] += 1
    np.testing.assert_array_equal(winners, routed)


@pytest.mark.parametrize("window, winner", [
    ([[1.0, 2.0], [2.0, 2.0]], (0, 1)),
    ([[0.0, 0.0], [0.0, 0.0]], (0, 0)),
    ([[-3.0, -1.0], [-2.0, -1.0]], (0, 1)),
])
def test_pool_detail_ties_go_to_first(window, winner):
    detail = pool_detail(np.array(window), 0, 0)

    assert detail.winner == winner
    assert detail.value == np.max(window)


@pytest.mark.parametrize("count", [0, 1, 5, 16])
def test_computed_so_far_blanks_later_positions(count):
    Z = np.arange(16.0).reshape(4, 4) - 8

    partial = computed_so_far(Z, count)

    for i, j in output_positions(4, 4, 1, 1, 0)[:count]:
        assert partial[i, j] == Z[i, j]
    assert np.isnan(partial).sum() == 16 - count
    assert not np.isnan(Z).any()  # the input is left as it was


def test_computed_so_far_rejects_bad_count():
    with pytest.raises(ValueError, match="between 0 and 4"):
        computed_so_far(np.zeros((2, 2)), 5)


def test_relu_so_far_matches_z_so_far():
    # The step view's A = ReLU(Z) must blank the same cells as Z.
    Z = np.random.default_rng(0).standard_normal((4, 4))
    A = ReLU().forward(Z)

    for count in range(17):
        z_shown = computed_so_far(Z, count)
        a_shown = computed_so_far(A, count)
        np.testing.assert_array_equal(np.isnan(a_shown), np.isnan(z_shown))


def test_pooling_so_far_at_first_position_is_empty():
    A = np.random.default_rng(0).standard_normal((4, 4))

    pooling = pooling_so_far(A, 1)

    assert pooling.pooled.shape == (2, 2)
    assert np.isnan(pooling.pooled).all()
    assert pooling.windows == {}


def test_pooling_so_far_fills_complete_windows():
    # Positions 0 to 5 of a 4x4 map reach (1, 1), the last cell of
    # window (0, 0) in row-major order, but no cell of the other rows.
    A = np.arange(16.0).reshape(4, 4)

    pooling = pooling_so_far(A, 6)

    assert pooling.pooled[0, 0] == 5.0
    assert np.isnan(pooling.pooled[0, 1])
    assert np.isnan(pooling.pooled[1]).all()
    assert list(pooling.windows) == [(0, 0)]
    assert pooling.windows[(0, 0)].winner == (1, 1)


def test_pooling_so_far_waits_for_bottom_right_cell():
    A = np.arange(16.0).reshape(4, 4)

    before = pooling_so_far(A, 5)  # (1, 0) computed, (1, 1) not yet

    assert np.isnan(before.pooled).all()


@pytest.mark.parametrize("shape, kernel, stride, seed", [
    ((4, 4), 2, None, 0),
    ((5, 7), 2, None, 1),
    ((6, 6), 3, None, 2),
    ((5, 5), 2, 1, 3),
])
def test_pooling_so_far_complete_matches_maxpool(shape, kernel, stride, seed):
    A = np.random.default_rng(seed).integers(0, 3, shape).astype(float)
    expected = MaxPool2D(kernel, stride).forward(A[None, None])[0, 0]

    pooling = pooling_so_far(A, A.size, kernel, stride)

    np.testing.assert_array_equal(pooling.pooled, expected)
    assert len(pooling.windows) == expected.size


def test_pool_detail_rejects_outside_window():
    with pytest.raises(ValueError, match="outside the 2x2 pooled output"):
        pool_detail(np.zeros((5, 5)), 2, 0)


@pytest.mark.parametrize("name", list(KERNEL_PRESETS))
def test_presets_are_read_only_3x3(name):
    kernel = KERNEL_PRESETS[name]

    assert kernel.shape == (3, 3)
    assert not kernel.flags.writeable


@pytest.mark.parametrize("name, total", [
    ("Identity", 1.0), ("Box blur", 1.0), ("Sharpen", 1.0),
    ("Horizontal edges", 0.0), ("Vertical edges", 0.0),
    ("Sobel x", 0.0), ("Sobel y", 0.0),
])
def test_preset_sums(name, total):
    # Kernels that sum to 1 keep flat regions, and edge kernels send them to 0.
    assert KERNEL_PRESETS[name].sum() == pytest.approx(total)


def test_sobel_x_is_positive_on_rising_edge():
    X = np.array([[[0.0, 0.0, 1.0, 1.0]] * 3])  # dark left, bright right
    W = KERNEL_PRESETS["Sobel x"][None, None]

    detail = position_detail(X, W, np.zeros(1), 1, 0, 0, 0, 0)

    assert detail.total > 0


def test_photo_grid_averages_blocks():
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[0:2, 2:4] = [255, 0, 0]  # one red 2x2 block
    rgb[0:2, 4:6] = [0, 255, 51]

    grid = photo_grid(rgb, top=0, left=2, cells=2, cell_pixels=2, grey=False)

    assert grid.shape == (3, 2, 2)
    np.testing.assert_array_equal(grid[:, 0, 0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(grid[:, 0, 1], [0.0, 1.0, 0.2])
    np.testing.assert_array_equal(grid[:, 1, :], 0.0)


def test_photo_grid_grey_uses_luma():
    rgb = np.full((4, 4, 3), [255, 255, 0], np.uint8)

    grid = photo_grid(rgb, 0, 0, cells=4, cell_pixels=1, grey=True)

    assert grid.shape == (1, 4, 4)
    np.testing.assert_allclose(grid, 0.89)  # 0.299 + 0.587 rounded


def test_photo_grid_rounds_values():
    rgb = np.full((2, 2, 3), 100, np.uint8)

    grid = photo_grid(rgb, 0, 0, cells=1, cell_pixels=2, grey=False, decimals=2)

    np.testing.assert_array_equal(grid, 0.39)  # 100 / 255 = 0.392...


def test_photo_grid_rejects_region_outside_photo():
    with pytest.raises(ValueError, match="does not fit"):
        photo_grid(np.zeros((10, 10, 3), np.uint8), 4, 0, 4, 2, grey=True)


def test_first_kernels_without_file_are_he(tmp_path):
    kernels = vgg16_first_kernels(cache_dir=tmp_path, seed=3)

    # conv1_1 is drawn first, so a draw over more layers starts the same.
    expected = he_weights(layer_specs("vgg16")[:3], seed=3)
    assert not kernels.pretrained
    assert kernels.W.shape == (64, 3, 3, 3)
    np.testing.assert_array_equal(kernels.W, expected["conv1_1.weight"])
    np.testing.assert_array_equal(kernels.b, np.zeros(64))


def test_first_kernels_read_cached_file(tmp_path, monkeypatch):
    path = cached_weights_path("vgg16", tmp_path)
    path.write_bytes(b"not read: load_weights is replaced")
    W, b = np.full((64, 3, 3, 3), 0.5), np.arange(64.0)
    loaded = {"conv1_1.weight": W, "conv1_1.bias": b}
    calls = []

    def fake_load_weights(file, config):
        calls.append((file, config))
        return SimpleNamespace(weights=loaded)

    monkeypatch.setattr(engine.conv_steps, "load_weights", fake_load_weights)
    kernels = vgg16_first_kernels(cache_dir=tmp_path)

    assert kernels.pretrained
    assert kernels.path == path
    assert calls == [(path, "vgg16")]
    np.testing.assert_array_equal(kernels.W, W)
    np.testing.assert_array_equal(kernels.b, b)


@pytest.mark.parametrize("size, kernel, stride, padding, expected", [
    (6, 3, 1, 0, 0), (6, 3, 2, 0, 1), (7, 2, 2, 0, 1), (8, 3, 3, 1, 1),
    (9, 5, 3, 2, 2), (9, 5, 2, 2, 0),
])
def test_uncovered_rows(size, kernel, stride, padding, expected):
    assert uncovered(size, kernel, stride, padding) == expected


@pytest.mark.parametrize("size, kernel, stride", [(6, 3, 2), (7, 2, 2), (8, 3, 3)])
def test_uncovered_rows_get_no_gradient(size, kernel, stride):
    X, W, b, _ = random_case(1, size, size, 1, kernel)
    _, _, dX, _ = forward_and_backward(X, W, b, stride, 0)

    rows = uncovered(size, kernel, stride, 0)

    assert rows > 0
    np.testing.assert_array_equal(dX[0, -rows:], 0)
    assert np.all(dX[0, -rows - 1, :-rows] != 0)


def test_kernel_weights_copy_2d_kernel():
    kernel = KERNEL_PRESETS["Sobel x"]

    W = kernel_weights(kernel, 3)

    assert W.shape == (1, 3, 3, 3)
    for c in range(3):
        np.testing.assert_array_equal(W[0, c], kernel)


def test_kernel_weights_keep_rgb_kernel():
    kernel = np.arange(27.0).reshape(3, 3, 3)

    W = kernel_weights(kernel, 3)

    np.testing.assert_array_equal(W[0], kernel)
    assert W.base is not kernel  # a copy, so the caller's kernel is safe


def test_kernel_weights_sum_rgb_for_grey():
    kernel = np.random.default_rng(0).standard_normal((3, 3, 3))
    grey = np.random.default_rng(1).random((1, 5, 5))

    W = kernel_weights(kernel, 1)

    # One grey channel through the summed kernel equals R = G = B = grey.
    Z_grey = Conv2D(W, np.zeros(1)).forward(grey[None])
    Z_rgb = Conv2D(kernel[None], np.zeros(1)).forward(np.repeat(grey, 3, 0)[None])
    np.testing.assert_allclose(Z_grey, Z_rgb)


def test_kernel_weights_reject_channel_mismatch():
    with pytest.raises(ValueError, match="does not fit an input of 2 channels"):
        kernel_weights(np.zeros((3, 3, 3)), 2)


def test_term_total_adds_products():
    X = np.arange(9.0).reshape(1, 3, 3)
    dZ = np.full((1, 2, 2), 0.5)

    terms = weight_gradient_terms(X, dZ, 1, 0, 0, 0, 0, 0)

    assert term_total(terms) == 0.5 * (0 + 1 + 3 + 4)
