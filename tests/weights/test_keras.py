"""Keras HDF5 weights, transposed to PyTorch's layouts.

tests/fixtures/make_weights.py writes the Keras files from TinyVGG's
PyTorch weights. It checks them with an independent channels-last forward
pass, so a match with the PyTorch weights here proves the transposes and
the reordered inputs of the first dense layer.
"""

import sys

import numpy as np
import pytest

from engine.weights import (
    H5pyMissingError,
    WeightsError,
    detect_format,
    load_weights,
)
from tests.weights.conftest import FIXTURES, TINY_SPECS

KERAS_FILES = ["tiny_keras.h5", "tiny_keras_model.h5"]


@pytest.fixture
def h5py():
    """h5py, an optional extra: tests that read HDF5 skip without it."""
    return pytest.importorskip("h5py")


@pytest.mark.parametrize("name", KERAS_FILES)
def test_keras_matches_pytorch_layout(name, tiny_expected, h5py):
    loaded = load_weights(FIXTURES / name, specs=TINY_SPECS)
    assert loaded.source == "keras-h5"
    assert list(loaded.weights) == list(tiny_expected)
    for key, array in tiny_expected.items():
        assert loaded.weights[key].flags.c_contiguous, key
        assert not loaded.weights[key].flags.writeable, key
        np.testing.assert_array_equal(loaded.weights[key], array,
                                      err_msg=key)


def test_detect_keras():
    assert detect_format(FIXTURES / "tiny_keras.h5") == "keras-h5"


def test_keras_infers_config(tiny_config, h5py):
    assert load_weights(FIXTURES / "tiny_keras.h5").config == tiny_config


def test_missing_h5py_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import raises
    with pytest.raises(H5pyMissingError, match="cannot import h5py") as error:
        load_weights(FIXTURES / "tiny_keras.h5", specs=TINY_SPECS)
    assert "pip install h5py" in error.value.advice


def copy_with(h5py, tmp_path, layer, kernel):
    """Copy tiny_keras.h5 with one layer's kernel replaced."""
    path = tmp_path / "changed.h5"
    path.write_bytes((FIXTURES / "tiny_keras.h5").read_bytes())
    with h5py.File(path, "r+") as file:
        name = f"{layer}/kernel:0"
        del file[layer][name]
        file[layer].create_dataset(name, data=kernel)
    return path


def test_wrong_kernel_shape_names_layer(tmp_path, h5py):
    path = copy_with(h5py, tmp_path, "predictions",
                     np.zeros((10, 6), np.float32))
    with pytest.raises(WeightsError) as error:
        load_weights(path, specs=TINY_SPECS)
    message = str(error.value)
    assert "predictions kernel (fc8.weight)" in message
    assert "expected shape (10, 5) in Keras' layout (in, out)" in message
    assert "found (10, 6)" in message


def test_missing_layer_named(tmp_path, h5py):
    path = tmp_path / "short.h5"
    path.write_bytes((FIXTURES / "tiny_keras.h5").read_bytes())
    with h5py.File(path, "r+") as file:
        names = [n for n in file.attrs["layer_names"] if n != b"fc2"]
        file.attrs["layer_names"] = np.array(names, dtype="S")
    with pytest.raises(WeightsError, match="missing keys fc2"):
        load_weights(path, specs=TINY_SPECS)


def test_truncated_h5(tmp_path, h5py):
    path = tmp_path / "cut.h5"
    path.write_bytes((FIXTURES / "tiny_keras.h5").read_bytes()[:4000])
    with pytest.raises(WeightsError, match="HDF5"):
        load_weights(path, specs=TINY_SPECS)
