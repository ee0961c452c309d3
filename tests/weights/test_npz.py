"""This project's npz format: round trips, float16, markers and configs."""

import numpy as np
import pytest

from engine.weights import (
    WeightsError,
    convert_weights,
    detect_format,
    load_weights,
    read_npz,
    save_npz,
)
from tests.weights.conftest import FIXTURES, TINY_SPECS


@pytest.mark.parametrize("name", [
    "tiny_legacy.pth", "tiny_zip.pth", "tiny_keras.h5"])
def test_convert_round_trip_exact(tmp_path, name, tiny_expected):
    if name.endswith(".h5"):
        pytest.importorskip("h5py")
    destination = tmp_path / "tiny.npz"
    convert_weights(FIXTURES / name, destination, "tiny", specs=TINY_SPECS)
    loaded = load_weights(destination, specs=TINY_SPECS)
    assert detect_format(destination) == "npz"
    assert loaded.config == "tiny"
    assert loaded.origin == detect_format(FIXTURES / name)
    for key, array in tiny_expected.items():
        np.testing.assert_array_equal(loaded.weights[key], array)


def test_float16_loads_as_float32(tmp_path, tiny_expected):
    destination = tmp_path / "half.npz"
    convert_weights(FIXTURES / "tiny_zip.pth", destination, specs=TINY_SPECS,
                    float16=True)
    stored = read_npz(destination)
    assert {array.dtype for array in stored.weights.values()} == {
        np.dtype(np.float16)}
    loaded = load_weights(destination, specs=TINY_SPECS)
    assert loaded.stored_dtypes == ("float16",)
    for key, array in tiny_expected.items():
        assert loaded.weights[key].dtype == np.float32
        assert not loaded.weights[key].flags.writeable
        np.testing.assert_array_equal(
            loaded.weights[key], array.astype(np.float16).astype(np.float32))


def test_float16_overflow_rejected(tmp_path):
    weights = {"fc8.weight": np.array([1e5], np.float32)}
    with pytest.raises(WeightsError, match="beyond float16's range"):
        save_npz(tmp_path / "big.npz", weights, "custom", float16=True)
    assert not (tmp_path / "big.npz").exists()


def test_save_keeps_exact_name(tmp_path):
    path = save_npz(tmp_path / "weights.bin", {"a.weight": np.ones(2)}, "x")
    assert path == tmp_path / "weights.bin"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin"]


def test_reserved_name_rejected(tmp_path):
    with pytest.raises(WeightsError, match="'config' is reserved"):
        save_npz(tmp_path / "w.npz", {"config": np.ones(2)}, "x")


def test_plain_npz_rejected(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, **{"conv1_1.weight": np.ones(1)})
    with pytest.raises(WeightsError, match="nor an npz weight file"):
        load_weights(path)


def test_npz_marker_not_string(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, format=np.ones(1))
    with pytest.raises(WeightsError, match="'format' must be a single string"):
        load_weights(path)


def test_npz_marker_missing_lists_fix(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, **{"format": np.str_("nn-explainer-weights/1"),
                      "conv1_1.weight": np.ones(1)})
    with pytest.raises(WeightsError, match="no 'config' entry.*convert"):
        load_weights(path)


def test_npz_wrong_marker(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, format=np.str_("someone-else/2"))
    with pytest.raises(WeightsError, match="unsupported npz format marker"):
        load_weights(path)


def test_npz_object_array_rejected(tmp_path):
    path = tmp_path / "w.npz"
    with open(path, "wb") as file:
        np.savez(file, format=np.str_("nn-explainer-weights/1"),
                 config=np.str_("custom"), source=np.str_("npz"),
                 bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(WeightsError, match="corrupt npz file"):
        load_weights(path, specs=TINY_SPECS)


def test_npz_integer_array_rejected(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, format=np.str_("nn-explainer-weights/1"),
             config=np.str_("custom"), source=np.str_("npz"),
             bad=np.zeros(3, np.int32))
    with pytest.raises(WeightsError, match="bad has dtype int32"):
        load_weights(path, specs=TINY_SPECS)


def test_npz_config_mismatch(tmp_path):
    path = tmp_path / "tiny.npz"
    convert_weights(FIXTURES / "tiny_zip.pth", path, "tiny", specs=TINY_SPECS)
    with pytest.raises(WeightsError, match="contains tiny weights; vgg16 was"):
        load_weights(path, config="vgg16")


def test_npz_unknown_config_needs_specs(tmp_path):
    path = tmp_path / "tiny.npz"
    convert_weights(FIXTURES / "tiny_zip.pth", path, "tiny", specs=TINY_SPECS)
    with pytest.raises(WeightsError, match="'tiny', which is not one of"):
        load_weights(path)


def test_npz_truncated(tmp_path):
    path = tmp_path / "tiny.npz"
    convert_weights(FIXTURES / "tiny_zip.pth", path, specs=TINY_SPECS)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(WeightsError, match="corrupt"):
        load_weights(path, specs=TINY_SPECS)
