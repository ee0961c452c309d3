"""PyTorch files read with NumPy alone, against arrays PyTorch saved.

The fixtures come from tests/fixtures/make_weights.py; PyTorch is needed
only to rebuild them, never to run these tests.
"""

import numpy as np
import pytest

from engine.weights import detect_format, load_weights, read_torch_file
from tests.weights.conftest import FIXTURES, TINY_SPECS, read_npz

CASES = [
    ("tiny_legacy.pth", "tiny_expected.npz"),
    ("tiny_zip.pth", "tiny_expected.npz"),
    ("tensors_legacy.pth", "tensors_expected.npz"),
    ("tensors_zip.pth", "tensors_expected.npz"),
    ("old_legacy.pth", "old_expected.npz"),
    ("big_endian.pth", "big_endian_expected.npz"),
]


@pytest.mark.parametrize("name, expected_name", CASES)
def test_reader_matches_pytorch_exactly(name, expected_name):
    found = read_torch_file(FIXTURES / name)
    expected = read_npz(FIXTURES / expected_name)
    assert sorted(found) == sorted(expected)
    for key, array in expected.items():
        assert found[key].dtype == array.dtype, key
        assert found[key].shape == array.shape, key
        np.testing.assert_array_equal(found[key], array, err_msg=key)


@pytest.mark.parametrize("name", [case[0] for case in CASES])
def test_reader_arrays_read_only(name):
    for key, array in read_torch_file(FIXTURES / name).items():
        assert not array.flags.writeable, key


@pytest.mark.parametrize("key", [
    "transposed", "strided", "permuted", "expanded", "row"])
def test_strided_views_match(key):
    found = read_torch_file(FIXTURES / "tensors_legacy.pth")[key]
    expected = read_npz(FIXTURES / "tensors_expected.npz")[key]
    np.testing.assert_array_equal(found, expected)
    assert found.flags.c_contiguous


def test_bfloat16_widened_to_float32():
    found = read_torch_file(FIXTURES / "tensors_zip.pth")["bfloat16"]
    assert found.dtype == np.float32
    # bfloat16 keeps 8 bits of mantissa: the low 16 bits are zero.
    assert not (found.view(np.uint32) & 0xFFFF).any()


def test_scalar_and_empty_shapes():
    found = read_torch_file(FIXTURES / "tensors_legacy.pth")
    assert found["scalar"].shape == ()
    assert found["scalar"] == 3.5
    assert found["empty"].shape == (0, 3)


@pytest.mark.parametrize("name, source", [
    ("tiny_legacy.pth", "torch-legacy"),
    ("tiny_zip.pth", "torch-zip"),
    ("old_legacy.pth", "torch-legacy"),
])
def test_detect_format(name, source):
    assert detect_format(FIXTURES / name) == source


@pytest.mark.parametrize("name", ["tiny_legacy.pth", "tiny_zip.pth"])
def test_load_renames_to_layer_names(name, tiny_expected):
    loaded = load_weights(FIXTURES / name, specs=TINY_SPECS)
    assert list(loaded.weights) == list(tiny_expected)
    for key, array in tiny_expected.items():
        assert loaded.weights[key].dtype == np.float32
        np.testing.assert_array_equal(loaded.weights[key], array)
        assert not loaded.weights[key].flags.writeable


def test_load_reports_source_and_count():
    loaded = load_weights(FIXTURES / "tiny_zip.pth", specs=TINY_SPECS)
    assert loaded.source == "torch-zip"
    assert loaded.origin == "torch-zip"
    assert loaded.config == "custom"
    assert loaded.stored_dtypes == ("float32",)
    assert loaded.n_params == 1079


def test_load_infers_config(tiny_config):
    loaded = load_weights(FIXTURES / "tiny_legacy.pth")
    assert loaded.config == tiny_config


def test_load_converts_float16_to_float32(tiny_expected):
    loaded = load_weights(FIXTURES / "tiny_half_zip.pth", specs=TINY_SPECS)
    assert loaded.stored_dtypes == ("float16",)
    for key, array in tiny_expected.items():
        assert loaded.weights[key].dtype == np.float32
        np.testing.assert_array_equal(
            loaded.weights[key], array.astype(np.float16).astype(np.float32))
