"""Key sets, shapes and values checked against the configuration."""

import numpy as np
import pytest

from engine.vgg import layer_specs
from engine.weights import (
    WeightsError,
    WeightsMismatchError,
    WeightValuesError,
    expected_shapes,
    load_weights,
)
from engine.weights.checks import (
    check_keys,
    check_shapes,
    check_values,
    to_read_only_float32,
)
from engine.weights.npz_file import save_npz
from tests.weights.conftest import FIXTURES, TINY_SPECS


def zero_weights(config):
    """Weights of the right shapes that take no memory."""
    return {key: np.broadcast_to(np.float32(0), shape)
            for key, shape in expected_shapes(layer_specs(config)).items()}


def test_vgg16_zero_weights_pass():
    weights = zero_weights("vgg16")
    check_keys(weights, expected_shapes(layer_specs("vgg16")), "vgg16")
    check_shapes(weights, layer_specs("vgg16"), "vgg16")


def test_classifier_of_1001_outputs():
    weights = zero_weights("vgg16")
    weights["fc8.weight"] = np.broadcast_to(np.float32(0), (1001, 4096))
    with pytest.raises(WeightsMismatchError) as error:
        check_shapes(weights, layer_specs("vgg16"), "vgg16",
                     {"fc8.weight": "classifier.6.weight"})
    message = str(error.value)
    assert "fc8.weight (classifier.6.weight in the file)" in message
    assert "expected shape (1000, 4096) for vgg16" in message
    assert "found (1001, 4096)" in message


def test_shape_list_capped():
    weights = {key: np.broadcast_to(np.float32(0), (1,))
               for key in zero_weights("vgg16")}
    with pytest.raises(WeightsError, match="and 29 more shape mismatches"):
        check_shapes(weights, layer_specs("vgg16"), "vgg16")


def test_missing_keys_named():
    expected = expected_shapes(layer_specs("vgg16"))
    found = set(expected) - {"fc8.weight", "fc8.bias"}
    with pytest.raises(WeightsMismatchError,
                       match="missing keys fc8.weight, fc8.bias$"):
        check_keys(found, expected, "vgg16")


def test_unexpected_keys_named():
    expected = expected_shapes(layer_specs("vgg16"))
    found = set(expected) | {"fc9.weight"}
    with pytest.raises(WeightsError, match="unexpected keys fc9.weight"):
        check_keys(found, expected, "vgg16")


def test_long_key_list_capped():
    expected = expected_shapes(layer_specs("vgg16"))
    with pytest.raises(WeightsError, match="and 26 more"):
        check_keys(set(), expected, "vgg16")


@pytest.mark.parametrize("value, message", [
    (np.nan, "1 NaN and 0 infinite"),
    (np.inf, "0 NaN and 1 infinite"),
    (-np.inf, "0 NaN and 1 infinite"),
])
def test_non_finite_values(value, message):
    W = np.zeros((2, 3), np.float32)
    W[1, 2] = value
    with pytest.raises(WeightValuesError,
                       match=f"conv1_1.weight contains {message}"):
        check_values({"conv1_1.weight": W})


def test_integer_weights_rejected():
    with pytest.raises(WeightValuesError,
                       match="dtype int64; expected float16"):
        check_values({"fc8.bias": np.zeros(3, np.int64)})


def test_read_only_float32():
    weights = to_read_only_float32({"a": np.ones((2, 3), np.float64).T})
    assert weights["a"].dtype == np.float32
    assert weights["a"].flags.c_contiguous
    with pytest.raises(ValueError, match="read-only"):
        weights["a"][0, 0] = 2.0


def test_torch_file_wrong_classifier_names_file_key():
    specs = [*TINY_SPECS[:-1], TINY_SPECS[-1].__class__(
        "fc8", "dense", (6, 10))]
    with pytest.raises(WeightsError) as error:
        load_weights(FIXTURES / "tiny_legacy.pth", specs=specs)
    message = str(error.value)
    assert message.startswith(str(FIXTURES / "tiny_legacy.pth"))
    assert "fc8.weight (classifier.6.weight in the file)" in message
    assert "expected shape (6, 10) for custom, found (5, 10)" in message


def test_torch_file_extra_layer_named():
    specs = TINY_SPECS[:-2]  # without fc8
    with pytest.raises(WeightsError,
                       match="unexpected keys classifier.6.weight, "
                             "classifier.6.bias"):
        load_weights(FIXTURES / "tiny_zip.pth", specs=specs)


def test_torch_file_against_vgg16_lists_missing(tiny_expected):
    with pytest.raises(WeightsMismatchError) as error:
        load_weights(FIXTURES / "tiny_zip.pth", config="vgg16")
    message = str(error.value)
    assert "does not fit vgg16: missing keys features.2.weight, " in message
    assert "unexpected keys features.3.weight, features.3.bias" in message


def test_nan_in_file_rejected(tmp_path, tiny_expected):
    weights = {key: array.copy() for key, array in tiny_expected.items()}
    weights["fc7.bias"][3] = np.nan
    path = save_npz(tmp_path / "nan.npz", weights, "custom")
    with pytest.raises(WeightsError, match="fc7.bias contains 1 NaN"):
        load_weights(path, specs=TINY_SPECS)
