"""Empty, truncated, random and incomplete files raise WeightsError."""

import io
import zipfile

import numpy as np
import pytest

from engine.weights import (
    CorruptWeightsError,
    WeightsError,
    WeightsFormatError,
    load_weights,
)
from tests.weights.conftest import FIXTURES, TINY_SPECS

SEED = 0


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_empty_file(tmp_path):
    with pytest.raises(WeightsFormatError, match="is empty"):
        load_weights(write(tmp_path, "empty.pth", b""))


def test_random_bytes(tmp_path):
    data = np.random.default_rng(SEED).bytes(4096)
    data = b"\x13" + data[1:]  # no format starts with this byte
    with pytest.raises(WeightsFormatError, match="not a weight file"):
        load_weights(write(tmp_path, "random.pth", data))


@pytest.mark.parametrize("first_byte", [b"\x80", b"PK\x03\x04"])
def test_random_bytes_after_magic(tmp_path, first_byte):
    data = first_byte + np.random.default_rng(SEED).bytes(4096)
    with pytest.raises(WeightsError):
        load_weights(write(tmp_path, "random.pth", data), specs=TINY_SPECS)


# Cut points in tiny_legacy.pth: in the magic number, in the object pickle,
# in the storage key list and in the storage data.
@pytest.mark.parametrize("fraction", [0.001, 0.05, 0.2, 0.5, 0.99])
def test_truncated_legacy(tmp_path, fraction):
    data = (FIXTURES / "tiny_legacy.pth").read_bytes()
    path = write(tmp_path, "cut.pth", data[:int(len(data) * fraction)])
    with pytest.raises(CorruptWeightsError, match="truncated|corrupt"):
        load_weights(path, specs=TINY_SPECS)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_zip(tmp_path, fraction):
    data = (FIXTURES / "tiny_zip.pth").read_bytes()
    path = write(tmp_path, "cut.pth", data[:int(len(data) * fraction)])
    with pytest.raises(CorruptWeightsError, match="corrupt zip"):
        load_weights(path, specs=TINY_SPECS)


def rewrite_zip(source, tmp_path, drop=(), replace=None):
    """Copy a zip file without the entries ending in `drop`."""
    replace = replace or {}
    body = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(body, "w") as new:
        for info in old.infolist():
            if info.filename.endswith(tuple(drop)):
                continue
            suffix = info.filename.split("/", 1)[1]
            new.writestr(info, replace.get(suffix, old.read(info)))
    return write(tmp_path, "rewritten.pth", body.getvalue())


def test_zip_without_expected_entries(tmp_path):
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        archive.writestr("notes/readme.txt", "not weights")
    path = write(tmp_path, "other.zip", body.getvalue())
    with pytest.raises(WeightsFormatError, match="neither a PyTorch file"):
        load_weights(path)


def test_zip_missing_storage_entry(tmp_path):
    path = rewrite_zip(FIXTURES / "tiny_zip.pth", tmp_path, drop=["/data/0"])
    with pytest.raises(CorruptWeightsError, match="data/0 is missing"):
        load_weights(path, specs=TINY_SPECS)


def test_zip_short_storage_entry(tmp_path):
    path = rewrite_zip(FIXTURES / "tiny_zip.pth", tmp_path,
                       replace={"data/0": b"\x00" * 8})
    with pytest.raises(CorruptWeightsError, match="has 8 bytes; expected"):
        load_weights(path, specs=TINY_SPECS)


def test_zip_unknown_byte_order(tmp_path):
    path = rewrite_zip(FIXTURES / "tiny_zip.pth", tmp_path,
                       replace={"byteorder": b"middle"})
    with pytest.raises(CorruptWeightsError, match="byte order record"):
        load_weights(path, specs=TINY_SPECS)


def test_legacy_bad_magic_number(tmp_path):
    data = bytearray((FIXTURES / "tiny_legacy.pth").read_bytes())
    data[5] ^= 0xFF  # inside the magic number's bytes
    with pytest.raises(WeightsFormatError, match="invalid magic number"):
        load_weights(write(tmp_path, "magic.pth", bytes(data)),
                     specs=TINY_SPECS)


def test_missing_file_is_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "absent.pth")
